"""R14: void an invoice by a credit note, in one transaction with everything the void changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from . import corrections, store
from .dates import now_iso
from .documents import Actor, InvoiceDoc, InvoiceType, RecordStatus, Voided
from .errors import NotFound
from .service import business_date, with_retry

if TYPE_CHECKING:  # the request model only as a type
    from .inputs import VoidIn


def void_invoice(invoice_id: str, body: VoidIn, token: str | None = None, *, by: Actor) -> Voided:
    """Issue the credit note voiding ``invoice_id`` (by ``by``, R20) and apply its effects (R14).

    The credit note, its journal entry, the balances, the original's void fields (both copies), the
    job and the record or shipment are one TransactWriteItems conditioned on the job's version, the
    counter and the original not being voided yet: a void racing a final invoice or a deposit on the
    same job re-reads and decides again. With ``token``, a resend after the void committed (cache
    expired, lost response) gets the same credit note back.
    """

    def attempt() -> Voided:
        read = store.read_voidable(invoice_id)
        original, snap = read.invoice, read.snapshot
        if token and read.void_token == token and original.get("voided_by_invoice_id"):
            return {"credit_note": store.get_invoice(str(original["voided_by_invoice_id"])), "invoice": original}
        if snap.job is None or read.entry is None:  # cannot happen: written with the invoice
            raise NotFound(f"the job or journal entry of invoice {invoice_id} not found")
        job = snap.job
        now = now_iso()
        voiding = corrections.apply_void(
            job, original, read.entry, read.record, (snap.counter or 0) + 1,
            body.void_date or business_date(), body.reason, now, by=by,
        )  # fmt: skip
        change = store.Change(
            job,
            issued=voiding.credit_note,
            counter_read=snap.counter,
            void=store.Void(
                invoice_id,
                voiding.marks,
                token,
                voiding.shipment_id,
                invoice=cast(InvoiceDoc, {**original, **voiding.marks}),
            ),
            actor=by,
        )
        if read.record is not None and original["type"] == InvoiceType.DEPOSIT:
            change.records = [read.record]
            change.previous_status = {read.record.record_id: RecordStatus.INVOICED}
        store.commit(change)
        voided = {**original, **voiding.marks}
        return {"credit_note": voiding.credit_note.invoice, "invoice": voided}  # type: ignore[typeddict-item]

    return with_retry(attempt)
