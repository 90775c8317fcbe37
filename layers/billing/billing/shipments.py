"""Shipment messages from the warehouse (R8): each recorded once, invoiced when the rules say so.

Outcomes of one message (docs/shipments.md):
- a recorded shipment: ``invoiced``, ``not_invoiced`` (reason ``auto_invoice_off``, ``job_finalized``
  or ``progress_billing``) or ``rejected`` (reason ``unknown_order``, ``unknown_line``,
  ``over_shipment``, ``invalid``), all acknowledged. A rejected shipment is stored as a *sanitized*
  copy of what could be read (``_Read``): the known fields only, bounded strings only, at most
  ``LINES_PER_SHIPMENT`` lines of ``{line_id, quantity}``; everything else is summarized in
  ``detail``. Nothing a message says can make that write fail (no floats, NaN, nesting, empty keys);
- ``duplicate``: the shipment id was already recorded with the same content (SQS redelivery),
  acknowledged, nothing changes;
- ``conflict``: the shipment id was already recorded with different content (order, date or lines):
  the conflicting message is recorded once beside the shipment's guard, logged as a warning with
  both contents and acknowledged; the shipment itself is not changed;
- ``unparseable``: not a JSON object, over ``MAX_BODY_BYTES``, nested too deep to read, or no usable
  ``shipment_id``: logged with the SQS message id and acknowledged (retrying cannot make it valid;
  the log and the ``Shipments_unparseable`` metric are where operators find it);
- any other exception propagates: the batch reports that message as failed, SQS redelivers it, and
  after ``maxReceiveCount`` it lands in the DLQ. Only transient failures (or a bug) get there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from . import books, store
from .dates import now_iso
from .documents import (
    SHIPMENTS_ACTOR,
    JobStatus,
    Kind,
    MessageOutcome,
    ShipmentDoc,
    ShipmentReason,
    ShipmentStatus,
)
from .errors import NotFound, RecordExists, ValidationFailed
from .inputs import Date, Id, Quantity
from .limits import ID_MAX, ID_PATTERN, LINES_PER_SHIPMENT
from .money import QUANTITY_DECIMALS, parse_decimal
from .observability import logger
from .service import with_retry
from .structs import field, struct
from .validate import Field, Model, ValidationError

MAX_BODY_BYTES = 256 * 1024  # SQS's own maximum: a larger body cannot be a warehouse message
DETAIL_MAX = 2000  # characters of ``detail`` (validation errors, what the sanitized copy leaves out)
ERRORS_LISTED = 10  # validation errors spelled out in ``detail``; the rest are counted
LOG_BODY_MAX = 500  # characters of an unparseable body in its log line
# Longest string kept per field of the sanitized copy: a valid value always fits (ids 64, a date 10,
# a quantity 32), so a valid message's copy is the message itself.
_FIELD_MAX = {"order_id": ID_MAX, "ship_date": 32, "line_id": ID_MAX, "quantity": 32}
_ID = re.compile(ID_PATTERN)


class ShippedLineIn(Model):
    line_id: Id
    quantity: Quantity


class ShipmentIn(Model):
    shipment_id: Id
    order_id: Id
    ship_date: Date
    lines: Annotated[list[ShippedLineIn], Field(min_length=1, max_length=LINES_PER_SHIPMENT)]


@struct
class Outcome:
    status: MessageOutcome
    reason: ShipmentReason | None = None
    invoice_id: str | None = None


# ---- reading a body ------------------------------------------------------------------------------


class Unreadable(ValueError):
    """A body that cannot be read as a shipment at all (the ``unparseable`` outcome)."""


class _Refused:
    """A JSON value refused as a number: NaN, Infinity, -Infinity, or one that overflows (a float
    beyond ±1.8e308, an integer of more than 38 digits, DynamoDB's precision). It makes its field
    invalid; it is never a float."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<{_text(self.text, 24)}>"


def _parse(body: Any) -> tuple[dict[str, Any], list[str]]:
    """A body as a JSON object, and the JSON numbers that were refused (as ``_Refused`` values)."""
    if not isinstance(body, str):
        raise Unreadable("the body is not a string")
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise Unreadable(f"the body is {size} bytes, over {MAX_BODY_BYTES}")
    refused: list[str] = []

    def refuse(text: str) -> _Refused:
        refused.append(_text(text, 24))
        return _Refused(text)

    def number(text: str) -> Decimal | _Refused:
        # Decimal only (R10); refused when DynamoDB could not keep it (38 digits, 1E-130 to 1E+126)
        value = Decimal(text)
        digits = len(value.as_tuple().digits)
        out_of_range = value != 0 and not -130 <= value.adjusted() < 126
        return refuse(text) if digits > 38 or out_of_range else value

    def integer(text: str) -> int | _Refused:
        return refuse(text) if len(text.lstrip("-")) > 38 else int(text)

    try:
        msg = json.loads(body, parse_constant=refuse, parse_float=number, parse_int=integer)
    except RecursionError:
        raise Unreadable("the body is nested too deep to read") from None
    except ValueError as e:  # JSONDecodeError included
        raise Unreadable(f"not JSON: {_text(str(e), 200)}") from None
    if not isinstance(msg, dict):
        raise Unreadable(f"not a JSON object but {_kind(msg)}")
    return msg, refused


def _text(value: str, limit: int) -> str:
    """``value`` as DynamoDB and the logs can take it: lone surrogates escaped, at most ``limit``
    characters (a longer one keeps its start and a hash of the whole, so that two differ)."""
    s = value.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(s) <= limit:
        return s
    digest = hashlib.sha256(s.encode()).hexdigest()[:8]
    return f"{s[: limit - 9]}…{digest}"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


def _value(value: Any, limit: int) -> str:
    """A field's value in the sanitized copy: the string itself (bounded), else a placeholder in
    angle brackets (which no valid id, date or quantity contains)."""
    if isinstance(value, str):
        return _text(value, limit)
    if isinstance(value, _Refused):
        return _text(repr(value), limit)
    if isinstance(value, bool) or value is None:
        return f"<{json.dumps(value)}>"
    if isinstance(value, int | Decimal):
        return _text(f"<number {value}>", limit)
    return "<array>" if isinstance(value, list) else "<object>" if isinstance(value, dict) else "<missing>"


def _lines_copy(lines: Any) -> tuple[list[dict[str, str]], int]:
    """The first ``LINES_PER_SHIPMENT`` line objects as ``{line_id, quantity}`` strings, and how many
    entries were left out (not objects, or beyond the limit)."""
    if not isinstance(lines, list):
        return [], 0
    out: list[dict[str, str]] = []
    for ln in lines[:LINES_PER_SHIPMENT]:
        if isinstance(ln, dict):
            out.append({k: _value(ln[k], _FIELD_MAX[k]) if k in ln else "<missing>" for k in ("line_id", "quantity")})
    return out, len(lines) - len(out)


@struct
class _Read:
    """What could be read of a message, sanitized: what a shipment doc is built from."""

    shipment_id: str
    order_id: str | None
    ship_date: str | None
    lines: list[dict[str, str]]
    problems: list[str] = field(default_factory=list)  # for ``detail``: what the copy leaves out

    def content(self, detail: str | None) -> dict[str, Any]:
        """What two deliveries of one shipment id are compared on: order, date, lines and, for an
        invalid message, what made it invalid (the copy alone may not show it)."""
        return {"order_id": self.order_id, "ship_date": self.ship_date, "lines": self.lines, "invalid": detail}


def _read(msg: dict[str, Any], refused: list[str]) -> _Read:
    sid = msg.get("shipment_id")
    if not isinstance(sid, str) or not 1 <= len(sid) <= ID_MAX or _text(sid, ID_MAX) != sid:
        raise Unreadable(f"no usable shipment_id (a string of 1-{ID_MAX} characters)")
    top = {k: None if msg.get(k) is None else _value(msg[k], _FIELD_MAX[k]) for k in ("order_id", "ship_date")}
    lines, left_out = _lines_copy(msg.get("lines"))
    problems = []
    if refused:
        problems.append(f"not JSON numbers this service reads: {', '.join(refused[:5])}")
    if left_out:
        problems.append(f"{left_out} line entries not kept (not objects, or beyond {LINES_PER_SHIPMENT})")
    return _Read(sid, top["order_id"], top["ship_date"], lines, problems)


def _invalid_detail(e: ValidationError, problems: list[str]) -> str:
    errors = e.errors()
    said = [f"{'.'.join(_text(str(p), 64) for p in err['loc'])}: {_text(err['msg'], 200)}" for err in errors]
    if len(said) > ERRORS_LISTED:
        said = [*said[:ERRORS_LISTED], f"(+{len(said) - ERRORS_LISTED} more errors)"]
    return _text("; ".join(problems + said), DETAIL_MAX)


# ---- processing ----------------------------------------------------------------------------------


class BatchFailed(Exception):
    """Every message of a batch failed: the invocation fails (Lambda's error metric and alarms see it)
    and SQS redelivers them all."""


def process_batch(event: dict[str, Any], counted: Callable[[MessageOutcome], None]) -> dict[str, Any]:
    """An SQS batch, each message on its own (``process``), as a partial batch response: a message that
    raised is reported in ``batchItemFailures`` and redelivered by SQS (after ``maxReceiveCount``, the
    DLQ); the others are acknowledged. ``counted`` hears each processed message's outcome. When every
    message failed, ``BatchFailed`` is raised instead (the semantics of Powertools' ``BatchProcessor``,
    which this replaces: it and the event classes it imports cost the cold start a seventh of the floor)."""
    records = event.get("Records") or []
    failures = []
    for record in records:
        message_id = str(record.get("messageId"))
        try:
            outcome = process(record["body"], message_id)
        except Exception:  # transient, or a bug: reported for this message only; SQS redelivers it
            logger.exception("shipment message failed; SQS will redeliver it", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
            continue
        counted(outcome.status)
    if records and len(failures) == len(records):
        raise BatchFailed(f"all {len(records)} messages of the batch failed; SQS redelivers them")
    return {"batchItemFailures": failures}


def process(body: str, message_id: str) -> Outcome:
    """Handle one SQS message body. Raises only for transient failures (to be retried by SQS) or a
    bug: nothing the body says can make it raise."""
    try:
        msg, refused = _parse(body)
        read = _read(msg, refused)
    except Unreadable as e:
        logger.error(
            "unparseable shipment message acknowledged",
            extra={
                "message_id": message_id,
                "why": str(e),
                "body": _text(body if isinstance(body, str) else repr(body), LOG_BODY_MAX),
            },
        )
        return Outcome(MessageOutcome.UNPARSEABLE)
    try:
        shipment = ShipmentIn.model_validate(msg)
    except ValidationError as e:
        detail = _invalid_detail(e, read.problems)
        return with_retry(lambda: _reject(read, message_id, ShipmentReason.INVALID, detail, _order_exists(read)))
    return with_retry(lambda: _record(shipment, read, message_id))


def _order_exists(read: _Read) -> bool:
    """Whether the message names an existing order (its rejected copy is then listed under it)."""
    if read.order_id is None or not _ID.match(read.order_id) or len(read.order_id) > ID_MAX:
        return False
    try:
        store.get_job(Kind.ORDER, read.order_id)
    except NotFound:
        return False
    return True  # any other failure is transient: it propagates and SQS retries


def _doc(
    read: _Read,
    message_id: str,
    status: ShipmentStatus,
    reason: ShipmentReason | None,
    invoice_id: str | None = None,
    detail: str | None = None,
) -> ShipmentDoc:
    return {
        "shipment_id": read.shipment_id,
        "order_id": read.order_id,
        "ship_date": read.ship_date,
        "lines": read.lines,
        "status": status,
        "reason": reason,
        "detail": detail,
        "invoice_id": invoice_id,
        "message_id": message_id,
        "recorded_at": now_iso(),
    }


def _reject(read: _Read, message_id: str, reason: ShipmentReason, detail: str, order_known: bool) -> Outcome:
    doc = _doc(read, message_id, ShipmentStatus.REJECTED, reason, detail=detail)
    if not store.put_rejected_shipment(doc, Kind.ORDER if order_known else None):
        return _already_recorded(read, message_id, detail if reason == ShipmentReason.INVALID else None)
    logger.warning(
        "shipment rejected",
        extra={"shipment_id": read.shipment_id, "reason": reason, "detail": detail, "message_id": message_id},
    )
    return Outcome(MessageOutcome.REJECTED, reason)


def _recorded_content(doc: ShipmentDoc) -> dict[str, Any]:
    """A stored shipment's ``_Read.content``, sanitized again (idempotent) to compare like with like."""
    lines, _ = _lines_copy(doc.get("lines"))
    read = _Read(str(doc.get("shipment_id")), doc.get("order_id"), doc.get("ship_date"), lines)
    return read.content(doc.get("detail") if doc.get("reason") == ShipmentReason.INVALID else None)


def _summary(content: dict[str, Any]) -> str:
    lines = ", ".join(f"{ln['line_id']}x{ln['quantity']}" for ln in content["lines"])
    invalid = f", invalid: {content['invalid']}" if content["invalid"] else ""
    return _text(f"order {content['order_id']}, {content['ship_date']}, lines [{lines}]{invalid}", 500)


def _already_recorded(read: _Read, message_id: str, invalid: str | None) -> Outcome:
    """The shipment id is recorded: the same content is a redelivery (``duplicate``), different
    content a ``conflict``, recorded once and logged, the shipment itself unchanged."""
    recorded = store.get_shipment(read.shipment_id)
    received = read.content(invalid)
    if recorded is None or _recorded_content(recorded) == received:
        return Outcome(MessageOutcome.DUPLICATE)
    digest = hashlib.sha256(json.dumps(received, sort_keys=True).encode()).hexdigest()[:16]
    conflict: dict[str, Any] = {
        "shipment_id": read.shipment_id,
        "content_hash": digest,
        "message_id": message_id,
        "received_at": now_iso(),
        "received": received,
        "recorded": {**_recorded_content(recorded), "status": recorded.get("status"), "reason": recorded.get("reason")},
        "recorded_message_id": recorded.get("message_id"),
    }
    if not store.put_shipment_conflict(read.shipment_id, digest, conflict):
        logger.info(
            "conflicting shipment redelivered, already recorded",
            extra={"shipment_id": read.shipment_id, "content_hash": digest, "message_id": message_id},
        )
        return Outcome(MessageOutcome.DUPLICATE)
    logger.warning(
        "shipment id already recorded with different content: conflict recorded, shipment unchanged",
        extra={
            "shipment_id": read.shipment_id,
            "content_hash": digest,
            "message_id": message_id,
            "received": _summary(received),
            "recorded": _summary(conflict["recorded"]),
            "recorded_message_id": recorded.get("message_id"),
        },
    )
    return Outcome(MessageOutcome.CONFLICT)


def _record(shipment: ShipmentIn, read: _Read, message_id: str) -> Outcome:
    snap = store.read_for_change(Kind.ORDER, shipment.order_id, shipment_id=shipment.shipment_id)
    if snap.shipment_recorded:
        return _already_recorded(read, message_id, None)
    job = snap.job
    if job is None:
        return _reject(read, message_id, ShipmentReason.UNKNOWN_ORDER, f"order {shipment.order_id} not found", False)
    lines = [books.ShippedLine(ln.line_id, parse_decimal(ln.quantity, QUANTITY_DECIMALS)) for ln in shipment.lines]
    try:
        books.check_shipment(job, lines)
    except ValidationFailed as e:
        why = (
            ShipmentReason.UNKNOWN_LINE
            if e.details and e.details[0]["field"].endswith("line_id")
            else ShipmentReason.OVER_SHIPMENT
        )
        return _reject(read, message_id, why, e.message, True)
    books.record_shipped(job, lines)
    now = now_iso()
    change = store.Change(job, actor=SHIPMENTS_ACTOR)
    reason: ShipmentReason | None
    status = ShipmentStatus.NOT_INVOICED
    if not snap.settings.auto_invoice_on_shipment:
        reason = ShipmentReason.AUTO_INVOICE_OFF
    elif job.status == JobStatus.FINALIZED:
        reason = ShipmentReason.JOB_FINALIZED
    elif job.deposits:
        reason = ShipmentReason.PROGRESS_BILLING
    else:
        change.issued = books.apply_shipment_invoice(
            job,
            shipment.shipment_id,
            shipment.ship_date,
            lines,
            (snap.counter or 0) + 1,
            snap.settings,
            now,
            by=SHIPMENTS_ACTOR,
        )
        change.counter_read = snap.counter
        status, reason = ShipmentStatus.INVOICED, None
    invoice_id = change.issued.invoice_id if change.issued else None
    change.shipment = _doc(read, message_id, status, reason, invoice_id)
    try:
        store.commit(change)
    except RecordExists:  # the shipment guard: recorded meanwhile by a concurrent delivery
        return _already_recorded(read, message_id, None)
    logger.info(
        "shipment recorded",
        extra={"shipment_id": shipment.shipment_id, "status": status, "reason": reason, "invoice_id": invoice_id},
    )
    return Outcome(MessageOutcome(status), reason, invoice_id)
