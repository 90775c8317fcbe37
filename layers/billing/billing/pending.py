"""Changes to a scheduled record before it is invoiced: cancel it (R12), edit it (R21), or put a
failed one back in the schedule (R21). Each is one transaction of the job and the record, conditioned
on the job's version and the record's status, so a record the automation invoices meanwhile is never
changed after the fact (the loser re-reads and gets 409 ``NOT_PENDING``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import books, store
from .dates import now_iso
from .documents import Actor, Kind, RecordDoc, RecordStatus
from .errors import NotFound, NotPending
from .model import Job, Record
from .service import business_date, open_job, record_amount, with_retry

if TYPE_CHECKING:  # the request model only as a type: the other functions never load it
    from .inputs import RecordPatchIn


def _change(kind: Kind, job_id: str, record_id: str, was: RecordStatus, verb: str,
            apply: Callable[[Job, Record], None], by: Actor) -> RecordDoc:  # fmt: skip
    """Read the job and the record, check the record is ``was``, ``apply`` the change to both, commit."""

    def attempt() -> RecordDoc:
        job, rec = store.read_job_and_record(kind, job_id, record_id)
        if job is None:
            raise NotFound(f"{kind} {job_id} not found")
        if rec is None:
            raise NotFound(f"progress billing record {record_id} not found on {kind} {job_id}")
        if rec.status != was:
            raise NotPending(f"record {record_id} is {rec.status}; only a {was} record can be {verb}")
        apply(job, rec)
        rec.updated_at = now_iso()
        store.commit(store.Change(job, records=[rec], previous_status={record_id: was}, actor=by))
        return rec.to_api()

    return with_retry(attempt)


def cancel_record(kind: Kind, job_id: str, record_id: str, *, by: Actor) -> RecordDoc:
    """R12: a pending record is cancelled; its amount stops counting against the job (R6)."""

    def cancel(job: Job, rec: Record) -> None:
        job.pending.pop(rec.record_id, None)
        rec.status = RecordStatus.CANCELLED

    return _change(kind, job_id, record_id, RecordStatus.PENDING, "cancelled", cancel, by)


def edit_record(kind: Kind, job_id: str, record_id: str, body: RecordPatchIn, *, by: Actor) -> RecordDoc:
    """R21: change a pending record's date, texts, amount or percent; R1 and R6 are checked again (a
    percent is turned into its amount of the job's total as it is now)."""

    def edit(job: Job, rec: Record) -> None:
        open_job(job, job.kind, job.id)
        if body.amount is not None or body.percent is not None:
            amount, percent = record_amount(job, body.amount, body.percent)
            books.check_can_bill(job, amount, already_pending=job.pending.get(rec.record_id, amount))
            rec.amount, rec.percent = amount, percent
            job.pending[rec.record_id] = amount
        if "invoice_date" in body.model_fields_set:
            rec.invoice_date = body.invoice_date or business_date()
        for text in ("title", "description", "item_description"):
            value = getattr(body, text)
            if value is not None:
                setattr(rec, text, value)

    return _change(kind, job_id, record_id, RecordStatus.PENDING, "edited", edit, by)


def retry_record(kind: Kind, job_id: str, record_id: str, *, by: Actor) -> RecordDoc:
    """R21: a failed record goes back in the schedule if it now fits (R6: 422 ``OVERBILLING`` if not),
    with the amount fixed when it was created (R1); the next run invoices it if its date has come."""

    def retry(job: Job, rec: Record) -> None:
        open_job(job, job.kind, job.id)
        books.schedule(job, rec.record_id, rec.amount)
        rec.status, rec.failure_reason = RecordStatus.PENDING, None

    return _change(kind, job_id, record_id, RecordStatus.FAILED, "retried", retry, by)
