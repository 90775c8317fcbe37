"""Calendar dates as the contract writes them (``YYYY-MM-DD``), without pydantic: the automation
needs the check too, and must not pay for importing the request models."""

from __future__ import annotations

import datetime as dt
import re

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def now_iso() -> str:
    """Now in UTC, as every timestamp of the service is written (milliseconds, ``Z``)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_date(value: str) -> bool:
    """A real calendar date written exactly ``YYYY-MM-DD``."""
    try:
        return bool(_DATE.fullmatch(value)) and dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False
