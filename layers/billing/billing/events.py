"""R17: the events a change to a job publishes, derived from what that change writes (pure).

``store.commit`` calls ``derive`` with the change it is about to write and stores the result as ONE
outbox item in the same transaction (``store.items.OutboxItem``), so an event exists exactly when its
change committed: a crash cannot lose one, a rejected request writes none. The table's stream feeds
that item to the publisher (functions/publish_events), which puts each event on the bus as it is.

Each event has the job's next ``sequence`` (1, 2, 3... per job, kept in the job item, which every
change writes under its version, so there are no gaps and no two changes share a number) and an
``event_id`` derived from the job and the sequence: the same on every redelivery. docs/events.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .documents import Actor, InvoiceType, RecordStatus
from .model import Job, Record
from .structs import field, struct

SOURCE = "progress-billing"
# EventBridge takes at most 256 KB per entry (and per PutEvents call) and an item at most 400 KB:
# a document that would make its event larger is sent as a summary (``truncated``; GET it in full).
DETAIL_MAX = 200_000  # bytes of one event's JSON detail
OUTBOX_MAX = 250_000  # bytes of all the events of one change (one outbox item: 400 KB at most)
_NAMESPACE = uuid.UUID("5b0d7d3e-61a4-4c57-9a52-8f4f2e7c1d10")  # event ids: uuid5 of kind/job/sequence
SUMMARY_FIELD_MAX = 160  # bytes of a field a summary keeps (an id is at most 64 characters)


class EventType(StrEnum):
    JOB_REGISTERED = "JobRegistered"
    PROGRESS_BILLING_SCHEDULED = "ProgressBillingScheduled"
    PROGRESS_BILLING_CANCELLED = "ProgressBillingCancelled"
    PROGRESS_BILLING_FAILED = "ProgressBillingFailed"
    INVOICE_ISSUED = "InvoiceIssued"
    INVOICE_VOIDED = "InvoiceVoided"
    CHANGE_ORDER_APPLIED = "ChangeOrderApplied"
    SHIPMENT_RECORDED = "ShipmentRecorded"
    JOB_FINALIZED = "JobFinalized"
    JOB_REOPENED = "JobReopened"


# The document each event type carries, by name (PRODUCT.md "event").
DOCUMENT = {
    EventType.JOB_REGISTERED: "job",
    EventType.PROGRESS_BILLING_SCHEDULED: "record",
    EventType.PROGRESS_BILLING_CANCELLED: "record",
    EventType.PROGRESS_BILLING_FAILED: "record",
    EventType.INVOICE_ISSUED: "invoice",
    EventType.INVOICE_VOIDED: "invoice",
    EventType.CHANGE_ORDER_APPLIED: "change_order",
    EventType.SHIPMENT_RECORDED: "shipment",
    EventType.JOB_FINALIZED: "job",
    EventType.JOB_REOPENED: "job",
}

_RECORD_EVENTS = {
    RecordStatus.PENDING: EventType.PROGRESS_BILLING_SCHEDULED,  # scheduled, edited (R21) or retried (R21)
    RecordStatus.FAILED: EventType.PROGRESS_BILLING_FAILED,
    RecordStatus.CANCELLED: EventType.PROGRESS_BILLING_CANCELLED,
}  # invoiced and voided records: the InvoiceIssued / InvoiceVoided event of their invoice says it


@struct
class Happened:
    """What one change did, as ``store.commit`` writes it: the input of ``derive``."""

    job: Job  # after the change
    actor: Actor
    at: str  # when it committed (ISO 8601, UTC)
    new_job: bool = False
    records: list[Record] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # pending records a final invoice cancelled
    cancelled_at: str = ""  # when (their ``updated_at``)
    invoice: Mapping[str, Any] | None = None  # the invoice issued (a credit note for a void)
    voided: Mapping[str, Any] | None = None  # R14: the invoice it voided, with its void fields
    change_order: Mapping[str, Any] | None = None
    shipment: Mapping[str, Any] | None = None


def event_id(kind: str, job_id: str, sequence: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{kind}/{job_id}/{sequence}"))


def derive(h: Happened) -> list[dict[str, Any]]:
    """The events of one change, in order, numbered after the job's last; advances the job's count.

    Each is ``{"type": <detail-type>, "detail": {...}}``. The order within a change: what was
    recorded, the invoice, the invoice it voids, the records it cancelled, the job's new state.
    """
    job = h.job
    found: list[tuple[EventType, Mapping[str, Any]]] = []
    if h.new_job:
        found.append((EventType.JOB_REGISTERED, job.to_api()))
    if h.shipment is not None:
        found.append((EventType.SHIPMENT_RECORDED, h.shipment))
    if h.change_order is not None:
        found.append((EventType.CHANGE_ORDER_APPLIED, h.change_order))
    for rec in h.records:
        if rec.status in _RECORD_EVENTS:
            found.append((_RECORD_EVENTS[rec.status], rec.to_api()))
    if h.invoice is not None:
        found.append((EventType.INVOICE_ISSUED, h.invoice))
    if h.voided is not None:
        found.append((EventType.INVOICE_VOIDED, h.voided))
    for record_id in h.cancelled:  # the job keeps no more than this of a pending record
        found.append((EventType.PROGRESS_BILLING_CANCELLED, _cancelled_by_final(job, record_id, h)))
    if h.invoice is not None and h.invoice.get("type") == InvoiceType.FINAL:
        found.append((EventType.JOB_FINALIZED, job.to_api()))
    if h.voided is not None and h.voided.get("type") == InvoiceType.FINAL:
        found.append((EventType.JOB_REOPENED, job.to_api()))
    events = []
    for kind_of_event, doc in found:
        job.event_count += 1
        detail = {
            "event_id": event_id(job.kind, job.id, job.event_count),
            "kind": str(job.kind),
            "job_id": job.id,
            "sequence": job.event_count,
            "occurred_at": h.at,
            "actor": dict(h.actor),
            DOCUMENT[kind_of_event]: _plain(doc),
        }
        events.append({"type": str(kind_of_event), "detail": detail})
    return _fitted(events)


def _cancelled_by_final(job: Job, record_id: str, h: Happened) -> dict[str, Any]:
    """A pending record the final invoice cancelled, as the change knows it: the job holds its id
    (reading every such record would cost the final a round trip); GET the record for the rest."""
    return {
        "record_id": record_id,
        "kind": str(job.kind),
        "job_id": job.id,
        "status": str(RecordStatus.CANCELLED),
        "updated_at": h.cancelled_at or h.at,
        "cancelled_by_invoice_id": h.invoice["invoice_id"] if h.invoice else None,
        "partial": True,
    }


def size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _fitted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summarise the largest documents until each event and the whole change fit (DETAIL_MAX, OUTBOX_MAX)."""
    sizes = [size(e["detail"]) for e in events]
    while events and (max(sizes) > DETAIL_MAX or sum(sizes) > OUTBOX_MAX):
        i = max(range(len(events)), key=sizes.__getitem__)
        detail = events[i]["detail"]
        name = DOCUMENT[EventType(events[i]["type"])]
        if detail[name].get("truncated"):
            break  # cannot happen: every summary is a few hundred bytes
        detail[name] = summary(detail[name])
        sizes[i] = size(detail)
    return events


def summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A document with only its short fields (ids, status, dates, amounts), marked ``truncated``:
    the consumer GETs the whole of it. A few hundred bytes, so any change's events fit."""
    out = {k: v for k, v in doc.items() if size(v) <= SUMMARY_FIELD_MAX}
    out["truncated"] = True
    return out


def _plain(doc: Mapping[str, Any]) -> Any:
    """A document as JSON holds it (``StrEnum`` values as plain strings)."""
    return json.loads(json.dumps(doc))
