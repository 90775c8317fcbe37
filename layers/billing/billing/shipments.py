"""Shipment messages from the warehouse (R8): each recorded once, invoiced when the rules say so.

Outcomes of one message:
- a recorded shipment: ``invoiced``, ``not_invoiced`` (reason ``auto_invoice_off``, ``job_finalized``
  or ``progress_billing``) or ``rejected`` (reason ``unknown_order``, ``unknown_line``,
  ``over_shipment``, ``invalid``), all acknowledged;
- ``duplicate``: the shipment id was already recorded (SQS redelivery), acknowledged, nothing changes;
- ``unparseable``: not JSON, or no usable ``shipment_id``: logged with the SQS message id and
  acknowledged (retrying cannot make it valid; the log and the ``Shipments_unparseable`` metric are
  where operators find it);
- any other exception propagates: the batch reports that message as failed, SQS redelivers it, and
  after ``maxReceiveCount`` it lands in the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import books, store
from .documents import JobStatus, Kind, MessageOutcome, ShipmentDoc, ShipmentReason, ShipmentStatus
from .errors import RecordExists, ValidationFailed
from .inputs import Date, Id, Quantity
from .money import QUANTITY_DECIMALS, parse_decimal
from .observability import logger
from .service import now_iso, with_retry


class ShippedLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    line_id: Id
    quantity: Quantity


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    shipment_id: Id
    order_id: Id
    ship_date: Date
    lines: Annotated[list[ShippedLineIn], Field(min_length=1, max_length=200)]


@dataclass
class Outcome:
    status: MessageOutcome
    reason: ShipmentReason | None = None
    invoice_id: str | None = None


def _doc(
    msg: dict[str, Any],
    message_id: str,
    status: ShipmentStatus,
    reason: ShipmentReason | None,
    invoice_id: str | None = None,
    detail: str | None = None,
) -> ShipmentDoc:
    return {
        "shipment_id": msg.get("shipment_id"),
        "order_id": msg.get("order_id") if isinstance(msg.get("order_id"), str) else None,
        "ship_date": msg.get("ship_date") if isinstance(msg.get("ship_date"), str) else None,
        "lines": lines if isinstance(lines := msg.get("lines"), list) else [],
        "status": status,
        "reason": reason,
        "detail": detail,
        "invoice_id": invoice_id,
        "message_id": message_id,
        "recorded_at": now_iso(),
    }


def _reject(msg: dict[str, Any], message_id: str, reason: ShipmentReason, detail: str, order_known: bool) -> Outcome:
    doc = _doc(msg, message_id, ShipmentStatus.REJECTED, reason, detail=detail)
    if not store.put_rejected_shipment(doc, Kind.ORDER if order_known else None):
        return Outcome(MessageOutcome.DUPLICATE)
    logger.warning(
        "shipment rejected",
        extra={"shipment_id": doc["shipment_id"], "reason": reason, "detail": detail, "message_id": message_id},
    )
    return Outcome(MessageOutcome.REJECTED, reason)


def process(body: str, message_id: str) -> Outcome:
    """Handle one SQS message body. Raises only for transient failures (to be retried by SQS)."""
    try:
        msg = json.loads(body)
    except (json.JSONDecodeError, TypeError):
        msg = None
    sid = msg.get("shipment_id") if isinstance(msg, dict) else None
    if not isinstance(msg, dict) or not isinstance(sid, str) or not 1 <= len(sid) <= 64:
        logger.error(
            "unparseable shipment message acknowledged", extra={"message_id": message_id, "body": str(body)[:500]}
        )
        return Outcome(MessageOutcome.UNPARSEABLE)
    try:
        shipment = ShipmentIn.model_validate(msg)
    except ValidationError as e:
        detail = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors())
        order_known = isinstance(msg.get("order_id"), str) and _order_exists(msg["order_id"])
        return _reject(msg, message_id, ShipmentReason.INVALID, detail, order_known)
    return with_retry(lambda: _record(shipment, msg, message_id))


def _order_exists(order_id: str) -> bool:
    try:
        store.get_job(Kind.ORDER, order_id)
    except Exception:  # NotFound, or an id that cannot be a key
        return False
    return True


def _record(shipment: ShipmentIn, msg: dict[str, Any], message_id: str) -> Outcome:
    snap = store.read_for_change(Kind.ORDER, shipment.order_id, shipment_id=shipment.shipment_id)
    if snap.shipment_recorded:
        return Outcome(MessageOutcome.DUPLICATE)
    job = snap.job
    if job is None:
        return _reject(msg, message_id, ShipmentReason.UNKNOWN_ORDER, f"order {shipment.order_id} not found", False)
    lines = [books.ShippedLine(ln.line_id, parse_decimal(ln.quantity, QUANTITY_DECIMALS)) for ln in shipment.lines]
    try:
        books.check_shipment(job, lines)
    except ValidationFailed as e:
        why = (
            ShipmentReason.UNKNOWN_LINE
            if e.details and e.details[0]["field"].endswith("line_id")
            else ShipmentReason.OVER_SHIPMENT
        )
        return _reject(msg, message_id, why, e.message, True)
    books.record_shipped(job, lines)
    now = now_iso()
    change = store.Change(job)
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
            job, shipment.shipment_id, shipment.ship_date, lines, (snap.counter or 0) + 1, snap.settings, now
        )
        change.counter_read = snap.counter
        status, reason = ShipmentStatus.INVOICED, None
    invoice_id = change.issued.invoice_id if change.issued else None
    change.shipment = _doc(shipment.model_dump(), message_id, status, reason, invoice_id)
    try:
        store.commit(change)
    except RecordExists:  # the shipment guard: recorded meanwhile by a concurrent delivery
        return Outcome(MessageOutcome.DUPLICATE)
    logger.info(
        "shipment recorded",
        extra={"shipment_id": shipment.shipment_id, "status": status, "reason": reason, "invoice_id": invoice_id},
    )
    return Outcome(MessageOutcome(status), reason, invoice_id)
