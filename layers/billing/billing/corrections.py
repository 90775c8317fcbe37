"""Corrections, computed from plain values like ``books``: a credit note that voids an invoice (R14)
and a change order that changes a job's lines (R15).

Each ``apply_*`` function checks the rule, applies the change to the in-memory ``Job`` (and record) it
is given and returns what to write; ``voids`` and ``change_orders`` read the state and write it in one
transaction. Nothing here touches AWS.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .books import Issued, Posting, billing_block, entry_doc, invoice_doc
from .documents import (
    Actor,
    ChangeOrderDoc,
    InvoiceDoc,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    JobLineDoc,
    JobStatus,
    JournalEntryDoc,
    RecordStatus,
)
from .errors import AlreadyVoided, Conflict, JobFinalized, NotVoidable, Overbilling, ValidationFailed
from .limits import LINES_PER_JOB, MAX_AMOUNT, TAX_RATES_PER_JOB, TOKENS_KEPT
from .model import Job, JobLine, Record, dec
from .money import ZERO, fmt, line_amount
from .structs import struct
from .tax import UNTAXED, Rate, Tax, summed

# ---- R14: void by credit note --------------------------------------------------------------------


@struct
class Voiding:
    """What a void writes besides the credit note: the fields the original gains, and what it frees."""

    credit_note: Issued
    marks: dict[str, Any]  # status, voided_by_invoice_id, void_reason, voided_at, voided_by
    shipment_id: str | None = None  # a shipment invoice's shipment: it shows ``invoice_voided``


def check_voidable(job: Job, original: InvoiceDoc) -> None:
    """R14's refusals, in this order: a credit note, an invoice already voided, a deposit or shipment
    invoice of a finalized job (its final invoice reversed it: void the final first)."""
    number = original["invoice_id"]
    if original["type"] == InvoiceType.CREDIT_NOTE:
        raise NotVoidable(f"{number} is a credit note: a credit note cannot be voided")
    if original.get("status") == InvoiceStatus.VOIDED:
        raise AlreadyVoided(f"{number} is already voided by {original.get('voided_by_invoice_id')}")
    if original["type"] != InvoiceType.FINAL and job.status == JobStatus.FINALIZED:
        raise JobFinalized(
            f"{job.kind} {job.id} is finalized: void its final invoice {job.final_invoice_id} before {number}"
        )


def _negated(value: str) -> str:
    """A decimal string with its sign swapped, keeping its decimals (``0 - x``: never ``-0``)."""
    return format(ZERO - Decimal(value), "f")


def credit_lines(original: InvoiceDoc) -> list[InvoiceLine]:
    """The original's lines negated (quantity and amount; the unit price stays), each naming its line."""
    out: list[InvoiceLine] = []
    for i, line in enumerate(original["lines"], start=1):
        copy: InvoiceLine = {**line, "quantity": _negated(line["quantity"]), "amount": _negated(line["amount"])}
        copy.pop("reverses_invoice_id", None)  # a final's deposit line: the credit note reverses the final, not it
        copy["reverses_line"] = i
        out.append(copy)
    return out


def swapped(entry: JournalEntryDoc) -> list[Posting]:
    """The original entry with debits and credits swapped, on the same accounts (R14)."""
    c = entry["currency"]
    return [Posting(ln["account"], ln["account_name"], c, dec(ln["credit"]), dec(ln["debit"])) for ln in entry["lines"]]


def apply_void(
    job: Job,
    original: InvoiceDoc,
    entry: JournalEntryDoc,
    record: Record | None,
    n: int,
    void_date: str,
    reason: str,
    issued_at: str,
    *,
    by: Actor,
) -> Voiding:
    """R14: the credit note for ``original`` (number ``n``) and its effects on the job and record.

    - a deposit invoice: leaves the job's deposits (R6 room is freed; the final never reverses it)
      and its record becomes ``voided``;
    - a shipment invoice: its quantities and revenue become unbilled again (the final bills them);
    - a final invoice: the job is open again, its deposits held again; the records it cancelled stay so.
    """
    check_voidable(job, original)
    if void_date < original["invoice_date"]:
        raise ValidationFailed.field(
            "void_date", f"{void_date} is before {original['invoice_id']}'s date {original['invoice_date']}"
        )
    if not agrees(job, original, record):
        raise Conflict(f"{job.kind} {job.id} changed while {original['invoice_id']} was read")
    c = job.currency
    subtotal = ZERO - dec(original.get("subtotal", original["total"]))  # issued before R16: no tax
    tax = [Tax.from_dict(t).negated() for t in original.get("tax", [])]  # R16: tax reversed exactly
    billing = billing_block(job, job.billed, subtotal)
    for key in ("revenue_recognized", "deposits_reversed"):
        if key in original["billing"]:
            billing[key] = _negated(original["billing"][key])  # type: ignore[literal-required]
    invoice = invoice_doc(
        n,
        InvoiceType.CREDIT_NOTE,
        job,
        void_date,
        f"Credit note for {original['invoice_id']}",
        f"Voids {original['type']} invoice {original['invoice_id']} of {original['invoice_date']}: {reason}",
        credit_lines(original),
        subtotal,
        [t.line(c) for t in tax],
        billing,
        issued_at,
        by,
    )
    invoice["voids_invoice_id"] = original["invoice_id"]
    invoice["voids_invoice_type"] = original["type"]
    invoice["reason"] = reason
    for ref in ("record_id", "shipment_id"):
        if ref in original:
            invoice[ref] = original[ref]  # type: ignore[literal-required]
    postings = swapped(entry)
    credit_note = Issued(invoice, entry_doc(n, void_date, invoice, postings), postings)
    if sum((p.debit for p in postings), ZERO) != sum((p.credit for p in postings), ZERO):
        raise AssertionError(f"unbalanced entry {entry['entry_id']}")  # R9: never written
    voiding = Voiding(
        credit_note,
        {
            "status": InvoiceStatus.VOIDED,
            "voided_by_invoice_id": invoice["invoice_id"],
            "void_reason": reason,
            "voided_at": issued_at,
            "voided_by": by,
        },
    )
    kind = original["type"]
    if kind == InvoiceType.DEPOSIT:
        _void_deposit(job, original, record, invoice["invoice_id"], issued_at)
        job.deposit_tax = summed([*job.deposit_tax, *tax], per_account=True)  # no longer held (R16)
    elif kind == InvoiceType.SHIPMENT:
        _void_shipment(job, original, tax)
        voiding.shipment_id = original.get("shipment_id")
    else:
        _reopen(job, original, issued_at)
    return voiding


def agrees(job: Job, original: InvoiceDoc, record: Record | None) -> bool:
    """Whether the job (and record) read agree with the invoice read before them, which is not voided:
    a void that committed between the two reads leaves them disagreeing (read again)."""
    number = original["invoice_id"]
    if original["type"] == InvoiceType.DEPOSIT:
        live = any(d.invoice_id == number for d in job.deposits)
        return live and record is not None and record.status == RecordStatus.INVOICED
    if original["type"] == InvoiceType.FINAL:
        return job.final_invoice_id == number
    return True


def _void_deposit(job: Job, original: InvoiceDoc, record: Record | None, credit_note_id: str, at: str) -> None:
    assert record is not None  # checked by ``agrees``
    job.deposits = [d for d in job.deposits if d.invoice_id != original["invoice_id"]]
    record.status, record.credit_note_id, record.updated_at = RecordStatus.VOIDED, credit_note_id, at


def _void_shipment(job: Job, original: InvoiceDoc, tax: list[Tax]) -> None:
    for line in original["lines"]:
        ln = job.line(line.get("line_id", ""))
        if ln is None:
            raise AssertionError(f"{original['invoice_id']} bills a line {job.id} does not have")
        ln.billed_quantity -= Decimal(line["quantity"])
        ln.billed_amount -= Decimal(line["amount"])
    job.shipments_billed -= dec(original.get("subtotal", original["total"]))
    job.shipment_tax = summed([*job.shipment_tax, *tax], per_account=True)


def _reopen(job: Job, original: InvoiceDoc, at: str) -> None:
    if job.final_token:  # a late resend of the request that issued it gets that invoice, not a new final
        job.voided_final_tokens[job.final_token] = original["invoice_id"]
        job.voided_final_tokens = dict(list(job.voided_final_tokens.items())[-TOKENS_KEPT:])
    job.status, job.final_invoice_id, job.final_billed, job.finalized_at = JobStatus.OPEN, None, ZERO, None
    job.final_token = None
    job.reopen_count += 1
    job.reopened_at = at


# ---- R15: change orders --------------------------------------------------------------------------


@struct(frozen=True)
class LineChange:
    """One entry of a change order: an existing ``line_id`` (what is given changes), or a new line."""

    line_id: str
    item_code: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    tax_code: str | None = None  # R16: as sent
    tax: Rate = UNTAXED  # R16: a new line's rate, as the settings have ``tax_code`` now


def check_line(i: int, line: JobLine) -> None:
    """R19: a line's amount is below the limit (422 naming ``lines[i]``)."""
    if line.amount >= MAX_AMOUNT:
        raise ValidationFailed.field(f"lines[{i}]", f"quantity x unit_price must be less than {MAX_AMOUNT:,f}")


def job_total(lines: list[JobLine], currency: str) -> Decimal:
    """The sum of the lines, which must be above zero and below the limit, on at most
    ``TAX_RATES_PER_JOB`` tax rates (R16, R19: the job item keeps its tax per rate; 422 naming ``lines``)."""
    rates = {ln.tax for ln in lines if ln.tax.taxed}
    if len(rates) > TAX_RATES_PER_JOB:
        raise ValidationFailed.field("lines", f"a job's lines can use at most {TAX_RATES_PER_JOB} tax rates")
    total = sum((ln.amount for ln in lines), ZERO)
    if total <= 0:
        raise ValidationFailed.field("lines", f"the job total must be greater than {fmt(ZERO, currency)}")
    if total >= MAX_AMOUNT:
        raise ValidationFailed.field("lines", f"the job total must be less than {MAX_AMOUNT:,f} (docs/limits.md)")
    return total


def change_order_number(n: int) -> str:
    return f"CO-{n}"


def _changed(job: Job, i: int, ch: LineChange, ln: JobLine) -> JobLine | None:
    """``ln`` as ``ch`` changes it (None: it changes nothing), or 422 naming the field."""
    c = job.currency
    where = f"lines[{i}]"
    if ch.item_code is not None and ch.item_code != ln.item_code:
        raise ValidationFailed.field(
            f"{where}.item_code", f"line {ln.line_id} is {ln.item_code!r}; its item code cannot change"
        )
    if ch.tax_code is not None and ch.tax_code != ln.tax.code:  # R16: its tax goes with what it billed
        raise ValidationFailed.field(
            f"{where}.tax_code", f"line {ln.line_id} is taxed {ln.tax.code or 'none'!r}; its tax code cannot change"
        )
    quantity = ln.quantity if ch.quantity is None else ch.quantity
    price = ln.unit_price if ch.unit_price is None else ch.unit_price
    description = ln.description if ch.description is None else ch.description
    if quantity < ln.shipped_quantity:
        raise ValidationFailed.field(
            f"{where}.quantity",
            f"{format(quantity, 'f')} is below the {format(ln.shipped_quantity, 'f')} of line {ln.line_id} "
            "already shipped",
        )
    if price != ln.unit_price and ln.billed_quantity > 0:
        raise ValidationFailed.field(
            f"{where}.unit_price",
            f"shipment invoices already billed line {ln.line_id} at {format(ln.unit_price, 'f')}: "
            "its price cannot change",
        )
    if (quantity, price, description) == (ln.quantity, ln.unit_price, ln.description):
        return None
    amount = line_amount(quantity, price, c)
    if ln.billed_quantity > 0 and quantity == ln.billed_quantity:
        amount = ln.billed_amount  # all of it billed by shipments (each rounded): that is its amount (R7)
    elif amount < ln.billed_amount:
        raise ValidationFailed.field(
            f"{where}.quantity",
            f"line {ln.line_id} would be below the {fmt(ln.billed_amount, c)} shipment invoices billed",
        )
    return JobLine(
        ln.line_id, ln.item_code, description, quantity, price, amount,
        ln.shipped_quantity, ln.billed_quantity, ln.billed_amount, ln.tax,
    )  # fmt: skip


def _added(job: Job, i: int, ch: LineChange) -> JobLine:
    where = f"lines[{i}]"
    for name in ("item_code", "quantity", "unit_price"):
        if getattr(ch, name) is None:
            raise ValidationFailed.field(
                f"{where}.{name}", f"{job.kind} {job.id} has no line {ch.line_id!r}: a new line needs {name}"
            )
    assert ch.item_code is not None and ch.quantity is not None and ch.unit_price is not None
    if ch.quantity <= 0:
        raise ValidationFailed.field(f"{where}.quantity", "a new line needs a quantity greater than 0")
    amount = line_amount(ch.quantity, ch.unit_price, job.currency)
    return JobLine(ch.line_id, ch.item_code, ch.description or "", ch.quantity, ch.unit_price, amount, tax=ch.tax)


def apply_change_order(
    job: Job, changes: list[LineChange], date: str, reason: str, created_at: str, *, by: Actor
) -> ChangeOrderDoc:
    """R15: the job's lines as ``changes`` set them, and the change order that records it.

    Refused (422, nothing changed): a quantity below what was shipped, a price change on a line that
    shipment invoices billed, a total that is not above zero or not below the limit, and a total below
    what is billed or scheduled (``OVERBILLING``). No invoice, no posting.
    """
    c = job.currency
    before: list[JobLineDoc] = []
    after: list[JobLineDoc] = []
    lines = list(job.lines)
    for i, ch in enumerate(changes):
        ln = job.line(ch.line_id)
        if ln is None:
            new = _added(job, i, ch)
            lines.append(new)
        else:
            changed = _changed(job, i, ch, ln)
            if changed is None:
                continue
            before.append(ln.to_dict(c))
            new = changed
            lines[lines.index(ln)] = new
        check_line(i, new)
        after.append(new.to_dict(c))
    if not after:
        raise ValidationFailed.field("lines", "the change order changes nothing")
    if len(lines) > LINES_PER_JOB:
        raise ValidationFailed.field("lines", f"a job can have at most {LINES_PER_JOB} lines")
    total = job_total(lines, c)
    committed = job.deposits_billed + job.shipments_billed + job.pending_amount
    if total < committed:
        raise Overbilling(
            f"the new total {fmt(total, c)} of {job.kind} {job.id} is below the {fmt(committed, c)} already "
            "billed or scheduled: void or cancel first",
            [{"field": "lines", "job_total": fmt(total, c), "committed": fmt(committed, c)}],
        )
    job.change_order_count += 1
    doc: ChangeOrderDoc = {
        "change_order_id": change_order_number(job.change_order_count),
        "kind": job.kind,
        "job_id": job.id,
        "date": date,
        "reason": reason,
        "lines_before": before,
        "lines_after": after,
        "total_before": fmt(job.total, c),
        "total_after": fmt(total, c),
        "created_at": created_at,
        "created_by": by,
    }
    job.lines, job.total = lines, total
    return doc
