"""R18 registers: the invoice register, the journal (JSON or CSV) and the automation's runs.

Reads only, through the indexes (``store.list_invoices``, ``store.list_entries``, ``store.list_runs``);
what is pure here is the date range check, the CSV and the choice between JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from . import store
from .dates import is_date
from .documents import EntryPage, InvoicePage, InvoiceStatus, InvoiceType, JournalEntryDoc, RunPage
from .errors import ValidationFailed

CSV_COLUMNS = ("entry_id", "date", "invoice_id", "kind", "job_id", "account", "account_name", "currency", "debit",
               "credit")  # fmt: skip
CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"


def span(first: str | None, last: str | None) -> store.Span:
    """``from`` and ``to`` as a range, both included; 422 naming the field that is not a date, or
    ``from`` when it is after ``to``."""
    for name, value in (("from", first), ("to", last)):
        if value is not None and not is_date(value):
            raise ValidationFailed.field(name, "must be a date YYYY-MM-DD")
    if first is not None and last is not None and first > last:
        raise ValidationFailed.field("from", f"must not be after to ({last})")
    return store.Span(first, last)


def invoice_register(
    first: str | None,
    last: str | None,
    invoice_type: InvoiceType | None,
    status: InvoiceStatus | None,
    customer_id: str | None,
    limit: int,
    next_token: str | None,
) -> InvoicePage:
    """A page of the invoices across jobs, by invoice date then number."""
    items, token = store.list_invoices(
        span(first, last),
        limit,
        next_token,
        invoice_type=invoice_type.value if invoice_type else None,
        status=status.value if status else None,
        customer_id=customer_id,
    )
    return {"items": items, "next_token": token}


def journal(first: str | None, last: str | None, limit: int, next_token: str | None) -> EntryPage:
    """A page of the journal entries across jobs, by date then entry id."""
    items, token = store.list_entries(span(first, last), limit, next_token)
    return {"items": items, "next_token": token}


def journal_csv(entries: list[JournalEntryDoc]) -> str:
    """One row per entry line under the header ``CSV_COLUMNS`` (RFC 4180: CRLF, quoted as needed);
    amounts exactly as the JSON has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        for line in e["lines"]:
            writer.writerow(
                [e["entry_id"], e["date"], e["invoice_id"], e["kind"], e["job_id"], line["account"],
                 _text(line["account_name"]), e["currency"], line["debit"], line["credit"]]
            )  # fmt: skip
    return out.getvalue()


def _text(value: str) -> str:
    """A free text (an account's name, from the settings) that a spreadsheet would run as a formula
    (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first) gets a leading ``'``."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def wants_csv(fmt: str | None, accept: str | None) -> bool:
    """CSV when ``format=csv``; without ``format``, when the ``Accept`` header prefers ``text/csv`` to
    ``application/json`` (higher quality; on a tie, the one named first; wildcards count for both but
    never make CSV win). Anything else, an absent or unparseable header included: JSON."""
    if fmt is not None:
        return fmt == "csv"
    csv_q, json_q = _quality(accept or "", CSV_TYPE), _quality(accept or "", JSON_TYPE)
    if csv_q[0] != json_q[0]:
        return csv_q[0] > json_q[0] and csv_q[1] < _WILDCARD
    return csv_q[0] > 0 and csv_q[1] < json_q[1]


_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")
_WILDCARD = 10_000  # the position given to a match by */* or type/*: after any media type named


def _quality(accept: str, media: str) -> tuple[Decimal, int]:
    """The quality the ``Accept`` header gives ``media`` (its most specific match: RFC 9110) and the
    position of the range that named it exactly (``_WILDCARD`` + position for a wildcard match)."""
    kind = media.split("/", maxsplit=1)[0]
    best: tuple[int, Decimal, int] = (-1, Decimal(0), _WILDCARD * 2)  # (specificity, q, position)
    for position, part in enumerate(accept.split(",")):
        rng, *params = (p.strip().lower() for p in part.split(";"))
        q = Decimal(1)
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":  # RFC 9110 qvalue: 0 to 1, three decimals at most; else: not acceptable
                q = Decimal(value.strip()) if _QVALUE.fullmatch(value.strip()) else Decimal(0)
        if rng == media:
            match = (2, q, position)
        elif rng == f"{kind}/*":
            match = (1, q, _WILDCARD + position)
        elif rng == "*/*":
            match = (0, q, _WILDCARD + position)
        else:
            continue
        if match[0] > best[0]:
            best = match
    return best[1], best[2]


def automation_runs(limit: int, next_token: str | None) -> RunPage:
    """A page of the automation's runs, newest first."""
    items, token = store.list_runs(limit, next_token)
    return {"items": items, "next_token": token}
