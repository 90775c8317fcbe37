"""R17: the publisher's logic, from a DynamoDB stream batch of outbox items to EventBridge entries.

No AWS client here: ``publish`` is given EventBridge's ``PutEvents`` (functions/publish_events). The
stream's records are handled in order. A record whose events cannot all be put is reported as the
batch's first failure (``batchItemFailures``): Lambda retries from it (so nothing after it is lost),
bisects the batch on repeated failures, and after its retries sends it to the on-failure queue
(alarmed). A record retried that way puts again what it already put: consumers dedupe on
``event_id`` (delivery is at least once), which is the same on every delivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from .events import SOURCE
from .observability import logger

ENTRIES_MAX = 10  # entries per PutEvents call
REQUEST_MAX = 240_000  # bytes of one PutEvents call's entries (EventBridge: 256 KB, envelope included)
ATTEMPTS = 3  # PutEvents tries per chunk, for the entries it reported failed (throttling, mostly)
TIME_MARGIN_MS = 10_000  # stop taking records with less time left than this

PutEvents = Callable[..., dict[str, Any]]


def entries(record: dict[str, Any], bus: str) -> list[dict[str, Any]]:
    """The EventBridge entries of one stream record of an outbox item (``KeyError``/``ValueError``:
    not one; the publisher's filter criteria let only outbox inserts through)."""
    events = json.loads(record["dynamodb"]["NewImage"]["events"]["S"])
    return [
        {
            "Source": SOURCE,
            "DetailType": e["type"],
            "Detail": json.dumps(e["detail"], separators=(",", ":"), ensure_ascii=False),
            "Time": e["detail"]["occurred_at"],
            "EventBusName": bus,
        }
        for e in events
    ]


def _key(keys: dict[str, Any]) -> str:
    """``pk / sk`` of a stream record's item (DynamoDB JSON), for the log."""
    return " / ".join(str((keys.get(k) or {}).get("S", "?")) for k in ("pk", "sk"))


def _size(entry: dict[str, Any]) -> int:
    return sum(len(str(entry[k]).encode()) for k in ("Source", "DetailType", "Detail", "Time"))


def chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """``items`` in order, in calls of at most ENTRIES_MAX entries and REQUEST_MAX bytes."""
    chunk: list[dict[str, Any]] = []
    used = 0
    for entry in items:
        n = _size(entry)
        if chunk and (len(chunk) == ENTRIES_MAX or used + n > REQUEST_MAX):
            yield chunk
            chunk, used = [], 0
        chunk.append(entry)
        used += n
    if chunk:
        yield chunk


def put_all(put_events: PutEvents, items: list[dict[str, Any]], pause: float = 0.2) -> list[str]:
    """Put ``items``; returns the error of each entry still failed after ATTEMPTS (empty: all put)."""
    for chunk in chunks(items):
        todo = chunk
        for attempt in range(ATTEMPTS):
            answer = put_events(Entries=todo)
            if not answer.get("FailedEntryCount"):
                break
            results = answer["Entries"]
            todo = [e for e, r in zip(todo, results, strict=True) if r.get("ErrorCode")]
            errors = [f"{r['ErrorCode']}: {r.get('ErrorMessage', '')}" for r in results if r.get("ErrorCode")]
            if attempt + 1 < ATTEMPTS:
                time.sleep(pause * (attempt + 1))
        else:
            return errors
    return []


def publish(
    event: dict[str, Any], put_events: PutEvents, bus: str, remaining_ms: Callable[[], int] | None = None
) -> dict[str, Any]:
    """Lambda's answer to a stream batch: the first record not fully published, if any.

    ``remaining_ms``: the invocation's time left; under TIME_MARGIN_MS the rest of the batch is
    handed back (reported from the next record) rather than cut off by the timeout."""
    published = 0
    for record in event.get("Records", []):
        sequence_number = record["dynamodb"]["SequenceNumber"]
        if remaining_ms is not None and remaining_ms() < TIME_MARGIN_MS:
            logger.info("time is short: the rest of the batch is retried", extra={"records": published})
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
        try:
            errors = put_all(put_events, entries(record, bus))
        except (KeyError, ValueError, TypeError) as e:  # not an outbox item: it would fail every time
            errors = [f"unreadable stream record: {e!r}"]
        except Exception as e:  # EventBridge unreachable, throttled, ...: Lambda retries from here
            errors = [repr(e)]
        if errors:
            keys = record.get("dynamodb", {}).get("Keys", {})  # the outbox item: its events can be put again
            logger.warning(
                "events not published",
                extra={"sequence_number": sequence_number, "outbox": _key(keys), "errors": errors[:5]},
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
        published += 1
    logger.info("events published", extra={"records": published})
    return {"batchItemFailures": []}
