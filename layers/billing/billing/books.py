"""Invoices and journal entries, computed from plain values (R2, R3, R6, R7, R8, R9, R13).

Each ``apply_*`` function checks a rule, applies the change to the in-memory ``Job`` it is given and
returns the invoice and journal entry to write. Nothing here touches AWS: ``service`` loads the job,
calls one of these, and hands the result to ``store`` to write in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from . import tax as tx
from .documents import (
    Actor,
    BillingBlock,
    EntryLine,
    InvoiceDoc,
    InvoiceLine,
    InvoiceStatus,
    InvoiceType,
    JobStatus,
    JournalEntryDoc,
    RecordStatus,
    TaxLine,
)
from .errors import Overbilling, ValidationFailed
from .limits import DEPOSITS_PER_JOB, PENDING_PER_JOB
from .model import DepositRef, Job, Record, Settings, dec
from .money import ZERO, fmt, line_amount
from .structs import field, struct


def invoice_number(n: int) -> str:
    """R13: ``INV-`` and at least six digits; the counter makes it unique and increasing."""
    return f"INV-{n:06d}"


def entry_number(n: int) -> str:
    return f"JE-{n:06d}"


@struct(frozen=True)
class Posting:
    account: str
    account_name: str
    currency: str
    debit: Decimal
    credit: Decimal


@struct
class Issued:
    """What one invoice adds to the books: the invoice, its journal entry, the balance changes."""

    invoice: InvoiceDoc
    entry: JournalEntryDoc
    postings: list[Posting] = field(default_factory=list)

    @property
    def invoice_id(self) -> str:
        return str(self.invoice["invoice_id"])


Account = tuple[str, str]  # code, name


def _postings(currency: str, lines: Iterable[tuple[Account, Decimal, Decimal]]) -> list[Posting]:
    """One posting per account code (its debits and credits netted into one side, under the first
    name given for it): a transaction may write each balance item once."""
    totals: dict[str, Decimal] = {}
    names: dict[str, str] = {}
    for (code, name), debit, credit in lines:
        totals[code] = totals.get(code, ZERO) + debit - credit
        names.setdefault(code, name)
    out = [
        Posting(code, names[code], currency, net if net > 0 else ZERO, -net if net < 0 else ZERO)
        for code, net in totals.items()
        if net != 0
    ]
    debit = sum((p.debit for p in out), ZERO)
    credit = sum((p.credit for p in out), ZERO)
    if debit != credit:  # R9: an unbalanced entry is a bug, never written
        raise AssertionError(f"unbalanced journal entry: debit {debit} != credit {credit}")
    return out


def entry_doc(n: int, date: str, invoice: InvoiceDoc, postings: list[Posting]) -> JournalEntryDoc:
    """The journal entry of ``invoice`` (its job named in it, R18: the journal export lists entries across jobs)."""
    currency = invoice["currency"]
    lines: list[EntryLine] = [
        {
            "account": p.account,
            "account_name": p.account_name,
            "debit": fmt(p.debit, currency),
            "credit": fmt(p.credit, currency),
        }
        for p in postings
    ]
    return {
        "entry_id": entry_number(n),
        "date": date,
        "invoice_id": invoice["invoice_id"],
        "kind": invoice["kind"],
        "job_id": invoice["job_id"],
        "currency": currency,
        "lines": lines,
        "total_debit": fmt(sum((p.debit for p in postings), ZERO), currency),
        "total_credit": fmt(sum((p.credit for p in postings), ZERO), currency),
    }


def billing_block(job: Job, billed_before: Decimal, this_invoice: Decimal) -> BillingBlock:
    c = job.currency
    return {
        "job_total": fmt(job.total, c),
        "billed_before": fmt(billed_before, c),
        "this_invoice": fmt(this_invoice, c),
        "billed_to_date": fmt(billed_before + this_invoice, c),
        "remaining": fmt(job.total - billed_before - this_invoice, c),
    }


def invoice_doc(
    n: int,
    type_: InvoiceType,
    job: Job,
    date: str,
    title: str,
    description: str,
    lines: list[InvoiceLine],
    subtotal: Decimal,
    tax: list[TaxLine],
    billing: BillingBlock,
    issued_at: str,
    by: Actor,
) -> InvoiceDoc:
    """An invoice: ``subtotal`` is net of tax; ``total`` = subtotal + tax (R16)."""
    number = invoice_number(n)
    total = subtotal + sum((dec(t["amount"]) for t in tax), ZERO)
    return {
        "invoice_id": number,
        "number": number,
        "type": type_,
        "status": InvoiceStatus.ISSUED,
        "kind": job.kind,
        "job_id": job.id,
        "customer_id": job.customer_id,
        "customer_name": job.customer_name,
        "invoice_date": date,
        "title": title,
        "description": description,
        "currency": job.currency,
        "lines": lines,
        "subtotal": fmt(subtotal, job.currency),
        "tax": tax,
        "total": fmt(total, job.currency),
        "journal_entry_id": entry_number(n),
        "billing": billing,
        "issued_at": issued_at,
        "created_by": by,
    }


def _credited(tax: list[tx.Tax]) -> list[tuple[Account, Decimal, Decimal]]:
    """R16: each rate's tax credited to its account (named after the tax code)."""
    return [((t.rate.account, t.rate.name), ZERO, t.amount) for t in tax]


def _held_on(job: Job, deposit: DepositRef, settings: Settings) -> Account:
    """The account ``deposit`` is held on: the one it was posted to (deposits posted before the account
    was kept with them are taken to be on today's Customer Deposits account)."""
    if not deposit.account:
        return settings.account("customer_deposits")
    return deposit.account, job.deposit_accounts.get(deposit.account, deposit.account)


def check_can_bill(job: Job, amount: Decimal, *, already_pending: Decimal = ZERO) -> None:
    """R6: deposits + shipments billed + pending scheduled + the new amount must not exceed the total.

    ``already_pending`` is the part of ``amount`` already counted in the job's pending total (a
    scheduled record being invoiced), so it is not counted twice.
    """
    committed = job.deposits_billed + job.shipments_billed + job.pending_amount - already_pending
    if committed + amount > job.total:
        available = job.total - committed
        raise Overbilling(
            f"{fmt(amount, job.currency)} would over-bill {job.kind} {job.id}: total "
            f"{fmt(job.total, job.currency)}, already billed or scheduled {fmt(committed, job.currency)}, "
            f"available {fmt(max(available, ZERO), job.currency)}",
            [
                {
                    "field": "amount",
                    "job_total": fmt(job.total, job.currency),
                    "committed": fmt(committed, job.currency),
                    "available": fmt(max(available, ZERO), job.currency),
                }
            ],
        )


def schedule(job: Job, record_id: str, amount: Decimal) -> None:
    """R4/R6/R19: hold ``amount`` on the job for a pending record, if it fits (R6) and the job may hold
    one more pending record (the final invoice cancels them all in its one transaction)."""
    check_can_bill(job, amount)
    if len(job.pending) >= PENDING_PER_JOB:
        raise ValidationFailed.field("schedule", f"a job can have at most {PENDING_PER_JOB} pending scheduled records")
    job.pending[record_id] = amount


def apply_deposit(
    job: Job, record: Record, n: int, settings: Settings, issued_at: str, by: Actor | None = None
) -> Issued:
    """R2/R3: the record's deposit invoice, Dr Accounts Receivable / Cr Customer Deposits.

    ``by`` (R20) is the invoice's author: the record's creator unless given (the automation passes
    its own actor for a scheduled record; the record keeps its creator).
    """
    check_can_bill(job, record.amount, already_pending=job.pending.get(record.record_id, ZERO))
    if len(job.deposits) >= DEPOSITS_PER_JOB:  # R19: the job item (and its final invoice) must fit
        raise ValidationFailed(
            f"{job.kind} {job.id} has the most deposit invoices a job can have ({DEPOSITS_PER_JOB})",
            [
                {
                    "field": "amount",
                    "message": f"at most {DEPOSITS_PER_JOB} deposit invoices per job",
                    "limit": DEPOSITS_PER_JOB,
                }
            ],
        )
    c = job.currency
    billed_before = job.deposits_billed + job.shipments_billed
    line: InvoiceLine = {
        "code": "DEPOSIT",
        "description": record.item_description or record.title or "Deposit",
        "quantity": "1",
        "unit_price": fmt(record.amount, c),
        "amount": fmt(record.amount, c),
        "percent": format(record.percent, "f") if record.percent is not None else None,
    }
    # R16: with tax on deposits, the net is allocated over the job's rates (in proportion to what is
    # left to bill of each: shipment invoices billed the rest) and each part taxed
    weights = job.net_per_rate(settings, unbilled=True)
    tax = tx.deposit_taxes(record.amount, weights, c) if settings.tax_on_deposits else []
    invoice = invoice_doc(
        n,
        InvoiceType.DEPOSIT,
        job,
        record.invoice_date,
        record.title,
        record.description,
        [line],
        record.amount,
        [t.line(c) for t in tax],
        billing_block(job, billed_before, record.amount),
        issued_at,
        by if by is not None else record.created_by,
    )
    invoice["record_id"] = record.record_id
    held = settings.account("customer_deposits")
    gross = record.amount + tx.total(tax)
    postings = _postings(
        c, [(settings.account("receivable"), gross, ZERO), (held, ZERO, record.amount), *_credited(tax)]
    )
    entry = entry_doc(n, record.invoice_date, invoice, postings)
    # apply
    job.pending.pop(record.record_id, None)
    job.deposits.append(
        DepositRef(invoice["invoice_id"], record.amount, record.invoice_date, record.record_id, held[0])
    )
    job.deposit_tax = tx.summed([*job.deposit_tax, *tax], per_account=True)
    job.deposit_accounts[held[0]] = held[1]
    record.status, record.invoice_id, record.failure_reason = RecordStatus.INVOICED, invoice["invoice_id"], None
    record.updated_at = issued_at
    return Issued(invoice, entry, postings)


def apply_final(
    job: Job,
    n: int,
    settings: Settings,
    invoice_date: str,
    title: str,
    description: str,
    issued_at: str,
    *,
    by: Actor,
) -> Issued:
    """R7: revenue not yet billed by shipment invoices, less every deposit; closes the job."""
    c = job.currency
    lines: list[InvoiceLine] = []
    revenue = ZERO
    for ln in job.lines:
        remaining = ln.amount - ln.billed_amount
        if remaining == 0:
            continue
        revenue += remaining
        lines.append(
            {
                "code": ln.item_code,
                "description": ln.description,
                "line_id": ln.line_id,
                "quantity": format(ln.quantity - ln.billed_quantity, "f"),
                "unit_price": format(ln.unit_price, "f"),
                "amount": fmt(remaining, c),
            }
        )
    deposits = job.deposits_billed
    for d in job.deposits:
        lines.append(
            {
                "code": "DEPOSIT",
                "description": f"Less deposit invoice {d.invoice_id} of {d.invoice_date}",
                "quantity": "1",
                "unit_price": fmt(-d.amount, c),
                "amount": fmt(-d.amount, c),
                "reverses_invoice_id": d.invoice_id,
            }
        )
    due = revenue - deposits  # = job total - shipments billed - deposits billed (net of tax)
    # R16: its own tax per rate (the job's tax less what shipments charged), less each deposit's tax
    own = tx.final_taxes(job.net_per_rate(settings), job.shipment_tax, c)
    reversed_tax = job.deposit_tax
    shown = tx.summed([*own, *(t.negated() for t in reversed_tax)], per_account=True)  # as posted: by account
    billed_before = deposits + job.shipments_billed
    billing = billing_block(job, billed_before, due)
    billing["revenue_recognized"] = fmt(revenue, c)
    billing["deposits_reversed"] = fmt(deposits, c)
    invoice = invoice_doc(
        n,
        InvoiceType.FINAL,
        job,
        invoice_date,
        title or f"Final invoice {job.id}",
        description,
        lines,
        due,
        [t.line(c) for t in shown],
        billing,
        issued_at,
        by,
    )
    invoice["cancelled_record_ids"] = sorted(job.pending)
    # R7: each deposit reversed on the account it was posted to, whatever the settings say now
    reversals = [(_held_on(job, d, settings), d.amount, ZERO) for d in job.deposits]
    reversals += [((t.rate.account, t.rate.name), t.amount, ZERO) for t in reversed_tax]
    due_gross = due + tx.total(own) - tx.total(reversed_tax)
    postings = _postings(
        c,
        [
            *reversals,
            (settings.account("receivable"), due_gross, ZERO),
            (settings.account("revenue"), ZERO, revenue),
            *_credited(own),
        ],
    )
    entry = entry_doc(n, invoice_date, invoice, postings)
    # apply
    job.status = JobStatus.FINALIZED
    job.final_invoice_id = invoice["invoice_id"]
    job.final_billed = due
    job.finalized_at = issued_at
    job.pending = {}
    return Issued(invoice, entry, postings)


@struct(frozen=True)
class ShippedLine:
    line_id: str
    quantity: Decimal


def check_shipment(job: Job, lines: list[ShippedLine]) -> None:
    """R8: every line exists on the order and ships no more than its unshipped quantity."""
    seen: dict[str, Decimal] = {}
    for i, s in enumerate(lines):
        ln = job.line(s.line_id)
        if ln is None:
            raise ValidationFailed.field(f"lines[{i}].line_id", f"order {job.id} has no line {s.line_id!r}")
        seen[s.line_id] = seen.get(s.line_id, ZERO) + s.quantity
        unshipped = ln.quantity - ln.shipped_quantity
        if seen[s.line_id] > unshipped:
            raise ValidationFailed.field(
                f"lines[{i}].quantity",
                f"ships {format(seen[s.line_id], 'f')} of line {s.line_id} but only "
                f"{format(unshipped, 'f')} is unshipped",
            )


def record_shipped(job: Job, lines: list[ShippedLine]) -> None:
    for s in lines:
        ln = job.line(s.line_id)
        assert ln is not None  # checked by check_shipment
        ln.shipped_quantity += s.quantity
    job.shipment_count += 1


def apply_shipment_invoice(
    job: Job,
    shipment_id: str,
    ship_date: str,
    lines: list[ShippedLine],
    n: int,
    settings: Settings,
    issued_at: str,
    *,
    by: Actor,
) -> Issued:
    """R8: bill the shipped quantities at the order's unit prices: Dr Accounts Receivable / Cr Revenue.

    The last shipment of a line bills exactly what is left of the line's amount, so rounding per
    shipment never makes lifetime revenue differ from the line amount.
    """
    c = job.currency
    out: list[InvoiceLine] = []
    rated: list[tuple[tx.Rate, Decimal]] = []
    total = ZERO
    for s in lines:
        ln = job.line(s.line_id)
        assert ln is not None
        if ln.billed_quantity + s.quantity >= ln.quantity:
            amount = ln.amount - ln.billed_amount
        else:
            amount = line_amount(s.quantity, ln.unit_price, c)
        ln.billed_quantity += s.quantity
        ln.billed_amount += amount
        total += amount
        rated.append((job.resolved(ln.tax, settings), amount))
        out.append(
            {
                "code": ln.item_code,
                "description": ln.description,
                "line_id": ln.line_id,
                "quantity": format(s.quantity, "f"),
                "unit_price": format(ln.unit_price, "f"),
                "amount": fmt(amount, c),
            }
        )
    billed_before = job.deposits_billed + job.shipments_billed
    tax = tx.taxes(tx.net_per_rate(rated), c)  # R16: per rate on its lines
    invoice = invoice_doc(
        n,
        InvoiceType.SHIPMENT,
        job,
        ship_date,
        f"Shipment {shipment_id}",
        f"Order {job.id} shipment",
        out,
        total,
        [t.line(c) for t in tax],
        billing_block(job, billed_before, total),
        issued_at,
        by,
    )
    invoice["shipment_id"] = shipment_id
    gross = total + tx.total(tax)
    postings = _postings(
        c,
        [(settings.account("receivable"), gross, ZERO), (settings.account("revenue"), ZERO, total), *_credited(tax)],
    )
    entry = entry_doc(n, ship_date, invoice, postings)
    job.shipments_billed += total
    job.shipment_tax = tx.summed([*job.shipment_tax, *tax], per_account=True)
    return Issued(invoice, entry, postings)
