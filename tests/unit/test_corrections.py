"""billing.corrections with billing.books, property-based (hypothesis): random jobs and random histories
of deposits, shipments, voids (R14), change orders (R15) and finals (R7, voided and issued again), with
no AWS; lines taxed at random (R16: a few codes, one of them at two rates as if changed mid-job, a zero
rate, untaxed lines) and tax on deposits turned on and off at random. Whatever happens, the books stay
whole:

- every journal entry balances (R9), and a credit note's entry is its original's with debit and credit
  swapped, on the same accounts (R14);
- once the job is finalized, every Customer Deposits account it used is at zero, Revenue is minus the
  job total and Accounts Receivable the job total: the credit notes cancel their originals exactly;
- lifetime revenue equals the final job total to the cent, line by line (R7, R15);
- lifetime tax per code and rate (every invoice's tax, credit notes included) equals the tax on the
  final job's net for it, to the cent; each tax account ends at minus that, and while the job is open
  holds exactly the tax of its live invoices (R16); a credit note's tax is its original's negated;
- deposits billed never exceed the total (R6), after every step;
- a refused deposit, shipment, void or change order raises the rule's error and leaves the job (and
  the record) exactly as it was.

The service reads the job, calls these functions and commits what they return in one transaction; a
refusal is answered before anything is written, so "unchanged" here is what the stored job relies on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing.books import (
    Issued,
    ShippedLine,
    apply_deposit,
    apply_final,
    apply_shipment_invoice,
    check_can_bill,
    check_shipment,
    record_shipped,
)
from billing.corrections import LineChange, apply_change_order, apply_void
from billing.documents import Actor, InvoiceStatus, InvoiceType, JobStatus, Kind, RecordStatus
from billing.errors import AlreadyVoided, BillingError, JobFinalized, NotVoidable, Overbilling, ValidationFailed
from billing.limits import MAX_AMOUNT
from billing.model import DEFAULT_ACCOUNT_NAMES, DEFAULT_ACCOUNTS, Job, JobLine, Record, Settings
from billing.money import ZERO, line_amount, percent_of, quantize
from billing.tax import UNTAXED, Rate, Tax, summed, tax_of

D = Decimal
AR, REV = DEFAULT_ACCOUNTS["receivable"], DEFAULT_ACCOUNTS["revenue"]
DEPOSIT_ACCOUNTS = ("2400", "2450")  # an admin may move Customer Deposits mid-job (R7)
AT = "2026-12-01T06:00:00Z"
DATE = "2026-12-01"
BY: Actor = {"sub": "u-1", "username": "alice"}
EXAMPLES = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# R16: the rates a line may have captured: untaxed, a standard rate (and the same code at the rate it
# had before a change of the settings, on the same account), a reduced rate, a zero rate, four decimals
RATES = [
    UNTAXED, UNTAXED,
    Rate("VAT20", "VAT 20%", D(20), "2200"), Rate("VAT20", "VAT 20%", D("17.5"), "2200"),
    Rate("VAT7", "VAT 7%", D(7), "2207"), Rate("ZERO", "Zero rated", D(0), "2290"),
    Rate("GST", "GST 9.975%", D("9.975"), "2210"),
]  # fmt: skip
TAX_ACCOUNTS = sorted({r.account for r in RATES if r.taxed})
# the settings' codes: each code's name and account, at its rate now (VAT20's older 17.5 only on lines)
TAX_CODES: dict[str, Any] = {r.code: {"name": r.name, "rate": format(r.rate, "f"), "account": r.account}
                             for r in reversed(RATES) if r.taxed}  # fmt: skip

# ---- random jobs ----------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["USD", "USD", "JPY", "KWD"])
# Quantities up to 4 decimals (R10) but mostly whole; unit prices up to 4 decimals, mostly 2.
QUANTITIES = st.builds(lambda n, scale: D(n).scaleb(-scale), st.integers(1, 400), st.sampled_from([0, 0, 0, 1, 2]))
PRICES = st.builds(lambda n, scale: D(n).scaleb(-scale), st.integers(1, 500_000), st.sampled_from([0, 2, 2, 2, 4]))


@st.composite
def jobs(draw: Any) -> Job:
    currency = draw(CURRENCIES)
    kind = draw(st.sampled_from([Kind.ORDER, Kind.PROJECT]))
    lines = []
    for i in range(draw(st.integers(1, 5))):
        qty, price, rate = draw(QUANTITIES), draw(PRICES), draw(st.sampled_from(RATES))
        lines.append(
            JobLine(
                str(i + 1), f"ITEM-{i + 1}", f"Line {i + 1}", qty, price, line_amount(qty, price, currency), tax=rate
            )
        )
    total = sum((ln.amount for ln in lines), ZERO)
    if total <= 0:  # registration refuses a zero job (every line rounds to nothing): make one cent count
        lines[0] = JobLine("1", "ITEM-1", "Line 1", D(1), D(1), line_amount(D(1), D(1), currency), tax=lines[0].tax)
        total = sum((ln.amount for ln in lines), ZERO)
    job = Job(kind, "J-1", "C-7", "Acme", currency, lines, total)
    job.captured([ln.tax for ln in lines])  # as service.register_job does (R16)
    return job


# One step of a history. Choices among what exists at that moment are drawn as plain integers and
# taken modulo the candidates, so the history shrinks well.
# A change order names existing lines (what changes: quantity as a percent of today's, 0 removing
# the line's scope; price; description; its tax code not sent, repeated, or another: refused) or adds
# lines (sometimes without a field a new line needs), each with a rate drawn from RATES.
CHANGE_LINE = st.tuples(
    st.just("line"),
    st.integers(0, 9),
    st.one_of(st.none(), st.integers(0, 250)),
    st.one_of(st.none(), PRICES),
    st.booleans(),
    st.sampled_from(["unsent"] * 6 + ["same", "other"]),
)
NEW_LINE = st.tuples(
    st.just("new"),
    st.integers(0, 9),
    st.one_of(st.none(), st.integers(0, 20), st.integers(1, 20)),
    st.one_of(st.none(), PRICES, PRICES),
    st.booleans(),
    st.integers(0, len(RATES) - 1),
)
CHANGE_ORDER = st.tuples(
    st.just("change_order"), st.lists(st.one_of(CHANGE_LINE, CHANGE_LINE, NEW_LINE), min_size=1, max_size=3)
)
SHIP = st.tuples(st.just("ship"), st.lists(st.tuples(st.integers(0, 9), st.integers(1, 110)), min_size=1, max_size=3))
STEPS = st.one_of(
    st.tuples(st.just("deposit_amount"), st.integers(1, 1200)),  # per mille of the job total (can over-bill)
    st.tuples(st.just("deposit_percent"), st.integers(1, 1_000_000)),  # 0.0001 .. 100 %
    SHIP,
    SHIP,
    st.tuples(st.just("void"), st.integers(0, 10_000)),  # any invoice: credit notes and voided ones too
    st.tuples(st.just("void_live"), st.integers(0, 10_000)),  # a live invoice
    st.tuples(st.just("void_live"), st.integers(0, 10_000)),
    CHANGE_ORDER,
    CHANGE_ORDER,
    st.tuples(st.just("schedule"), st.integers(1, 600)),  # a scheduled record, per mille of the total
    st.tuples(st.just("run"), st.integers(0, 100)),  # the automation invoices a pending record
    st.tuples(st.just("final"), st.just(0)),
    st.tuples(st.just("move_deposits_account"), st.just(0)),
    st.tuples(st.just("toggle_tax_on_deposits"), st.just(0)),  # R16: an admin turns it on or off
)
HISTORIES = st.lists(STEPS, min_size=2, max_size=24)


# ---- the books a history writes -------------------------------------------------------------------


@dataclass
class Books:
    """What the service would have stored: every invoice (as it reads now: voids mark the original),
    every journal entry, the records, the settings, and the invoice counter."""

    job: Job
    settings: Settings = field(default_factory=lambda: Settings(tax_codes=dict(TAX_CODES)))
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # by invoice id
    postings: list[tuple[str, Decimal]] = field(default_factory=list)  # (account, debit - credit)
    records: dict[str, Record] = field(default_factory=dict)
    counter: int = 0
    shipments: int = 0
    change_orders: list[dict[str, Any]] = field(default_factory=list)

    @property
    def c(self) -> str:
        return self.job.currency

    def q(self, value: Decimal) -> Decimal:
        return quantize(value, self.c)

    def issue(self, issued: Issued) -> None:
        """Keep what an applied change issued (the job already changed): its entry balances, and its
        billing block tells the job's story (billed to date, remaining)."""
        assert_balanced(issued)
        billing = issued.invoice["billing"]
        assert (D(billing["billed_to_date"]), D(billing["remaining"])) == (
            self.job.billed,
            self.job.total - self.job.billed,
        )
        assert D(billing["job_total"]) == self.job.total
        self.invoices[issued.invoice_id] = dict(issued.invoice)
        self.entries[issued.invoice_id] = dict(issued.entry)
        self.postings += [(p.account, p.debit - p.credit) for p in issued.postings]

    def live(self, type_: InvoiceType) -> list[dict[str, Any]]:
        return [i for i in self.invoices.values() if i["type"] == type_ and i["status"] == InvoiceStatus.ISSUED]

    def net(self, account: str) -> Decimal:
        return sum((amount for a, amount in self.postings if a == account), ZERO)

    def live_tax(self, *types: InvoiceType) -> list[Tax]:
        """The tax of the live invoices of ``types`` (all but credit notes if none), per rate."""
        kinds = types or (InvoiceType.DEPOSIT, InvoiceType.SHIPMENT, InvoiceType.FINAL)
        return summed(Tax.from_dict(t) for k in kinds for i in self.live(k) for t in i["tax"])


def expected_tax(b: Books) -> dict[Rate, Decimal]:
    """R16: the tax on the job's net per rate, rounded once per rate."""
    return {r: tax_of(net, r.rate, b.c) for r, net in b.job.net_per_rate(b.settings).items() if r.taxed}


def shown(tax: list[Tax]) -> list[tuple[str, Decimal, str, Decimal, Decimal]]:
    """Taxes per rate as they can be compared: code, rate, account, base, amount."""
    return sorted((t.rate.code, t.rate.rate, t.rate.account, t.base, t.amount) for t in tax if t.base or t.amount)


def gross(invoice: Mapping[str, Any]) -> Decimal:
    """An invoice's total is its subtotal (net) plus its tax (R16)."""
    total = D(invoice["subtotal"]) + sum((D(t["amount"]) for t in invoice["tax"]), ZERO)
    assert D(invoice["total"]) == total, invoice
    return total


def frozen(b: Books) -> Any:
    """Everything a refused change must leave as it was: the job (status and stored state) and the records."""
    return b.job.status, b.job.state(), {k: r.to_api() for k, r in b.records.items()}


def assert_balanced(issued: Issued) -> None:
    entry, c = issued.entry, issued.invoice["currency"]
    debit = sum((D(ln["debit"]) for ln in entry["lines"]), ZERO)
    credit = sum((D(ln["credit"]) for ln in entry["lines"]), ZERO)
    assert debit == credit == D(entry["total_debit"]) == D(entry["total_credit"]), entry
    assert sum((p.debit for p in issued.postings), ZERO) == sum((p.credit for p in issued.postings), ZERO)
    assert [(p.account, quantize(p.debit, c), quantize(p.credit, c)) for p in issued.postings] == [
        (ln["account"], D(ln["debit"]), D(ln["credit"])) for ln in entry["lines"]
    ], "the entry written is the postings applied to the balances"
    assert entry["invoice_id"] == issued.invoice["invoice_id"]


def assert_job_matches_its_invoices(b: Books) -> None:
    """The job's running figures are its live invoices' (what the final will reverse and bill), and R6."""
    job = b.job
    live_deposits = b.live(InvoiceType.DEPOSIT)
    assert [d.invoice_id for d in job.deposits] == [i["invoice_id"] for i in live_deposits]
    assert job.deposits_billed == sum((D(i["subtotal"]) for i in live_deposits), ZERO)
    assert job.shipments_billed == sum((D(i["subtotal"]) for i in b.live(InvoiceType.SHIPMENT)), ZERO)
    # R16: the tax the job keeps is its live invoices' (what the final reverses, and counts as charged)
    assert shown(job.deposit_tax) == shown(b.live_tax(InvoiceType.DEPOSIT))
    assert shown(job.shipment_tax) == shown(b.live_tax(InvoiceType.SHIPMENT))
    assert job.deposits_billed + job.pending_amount <= job.total, "R6: deposits (and scheduled) over-bill"
    assert job.total == sum((ln.amount for ln in job.lines), ZERO)
    for ln in job.lines:
        billed = [il for i in b.live(InvoiceType.SHIPMENT) for il in i["lines"] if il.get("line_id") == ln.line_id]
        assert ln.billed_quantity == sum((D(il["quantity"]) for il in billed), ZERO)
        assert ln.billed_amount == sum((D(il["amount"]) for il in billed), ZERO)
        assert ln.billed_quantity <= ln.shipped_quantity <= ln.quantity
    # the ledger holds what the job says: deposits held until a final reverses them, receivable billed
    billing = job.billing()
    assert sum((b.net(a) for a in DEPOSIT_ACCOUNTS), ZERO) == -D(billing["deposit_balance"])
    assert job.billed == D(billing["billed_to_date"])
    live_tax = b.live_tax()
    assert b.net(AR) == job.billed + sum((t.amount for t in live_tax), ZERO), "the customer owes net + tax"
    for account in TAX_ACCOUNTS:  # each tax account holds the tax of the live invoices, no more
        assert b.net(account) == -sum((t.amount for t in live_tax if t.rate.account == account), ZERO)
    recognized = job.total if job.status == JobStatus.FINALIZED else job.shipments_billed
    assert b.net(REV) == -recognized
    finals = b.live(InvoiceType.FINAL)
    if job.status == JobStatus.FINALIZED:
        assert [i["invoice_id"] for i in finals] == [job.final_invoice_id]
    else:
        assert finals == [] and job.final_invoice_id is None


# ---- each step, as the service would take it ------------------------------------------------------


def deposit(b: Books, amount: Decimal, percent: Decimal | None) -> None:
    job = b.job
    if job.status != JobStatus.OPEN or amount <= 0:  # 409 JOB_FINALIZED / 422 before the books (service)
        return
    rec = Record(
        f"PB-{len(b.records) + 1}", job.kind, job.id, DATE, "Milestone", "", "", amount, percent, b.c,
        RecordStatus.PENDING, False, AT, created_by=BY,
    )  # fmt: skip
    before = frozen(b)
    fits = job.deposits_billed + job.shipments_billed + job.pending_amount + amount <= job.total
    try:
        issued = apply_deposit(job, rec, b.counter + 1, b.settings, AT, BY)
    except Overbilling:
        assert not fits, "R6 refused a deposit that fits"
        assert frozen(b) == before, "a refused deposit changed the job"
        event("deposit refused: OVERBILLING")
        return
    assert fits, f"R6: {amount} over-bills {job.total}"
    b.counter += 1
    b.records[rec.record_id] = rec
    b.issue(issued)
    check_deposit_tax(b, issued.invoice, amount)
    event("deposit")


def check_deposit_tax(b: Books, invoice: Mapping[str, Any], amount: Decimal) -> None:
    """R16: a deposit's net is ``amount``; with tax on deposits, each taxed part is taxed at its rate and
    the parts are within the amount (the untaxed lines take the rest), else there is no tax."""
    assert D(invoice["subtotal"]) == amount
    gross(invoice)
    tax = [Tax.from_dict(t) for t in invoice["tax"]]
    if not b.settings.tax_on_deposits:
        assert tax == []
        return
    assert all(t.amount == tax_of(t.base, t.rate.rate, b.c) and t.base > 0 for t in tax)
    assert sum((t.base for t in tax), ZERO) <= amount
    weights = b.job.net_per_rate(b.settings, unbilled=True)  # what is left to bill of each rate
    if weights.get(UNTAXED, ZERO) <= 0:
        assert sum((t.base for t in tax), ZERO) == amount
    event("deposit taxed" if tax else "deposit untaxed")


def schedule(b: Books, amount: Decimal) -> None:
    """R4/R6: a scheduled record counts as committed until it is invoiced (or the final cancels it)."""
    job = b.job
    if job.status != JobStatus.OPEN or amount <= 0:
        return
    before = frozen(b)
    try:
        check_can_bill(job, amount)
    except Overbilling:
        assert frozen(b) == before
        event("schedule refused: OVERBILLING")
        return
    rec = Record(
        f"PB-{len(b.records) + 1}", job.kind, job.id, DATE, "Scheduled", "", "", amount, None, b.c,
        RecordStatus.PENDING, True, AT, created_by=BY,
    )  # fmt: skip
    b.records[rec.record_id] = rec
    job.pending[rec.record_id] = amount
    event("scheduled")


def run(b: Books, pick: int) -> None:
    """R4/R6 at run time (``service.invoice_due_record``): invoiced, or failed if it would now over-bill."""
    job = b.job
    if job.status != JobStatus.OPEN or not job.pending:
        return
    rec = b.records[sorted(job.pending)[pick % len(job.pending)]]
    before = frozen(b)
    try:
        issued = apply_deposit(job, rec, b.counter + 1, b.settings, AT)
    except Overbilling:  # a shipment invoice billed meanwhile (R6): the record fails, visibly
        assert frozen(b) == before
        job.pending.pop(rec.record_id)
        rec.status = RecordStatus.FAILED
        event("run: failed")
        return
    b.counter += 1
    b.issue(issued)
    check_deposit_tax(b, issued.invoice, rec.amount)
    assert rec.status == RecordStatus.INVOICED and rec.record_id not in job.pending
    event("run: invoiced")


def ship(b: Books, picks: list[tuple[int, int]]) -> None:
    job = b.job
    if job.kind != Kind.ORDER:
        return
    lines = []
    for index, share in picks:
        ln = job.lines[index % len(job.lines)]
        unshipped = ln.quantity - ln.shipped_quantity
        qty = (max(unshipped, D(1)) * share / 100).quantize(D("0.01"), rounding=ROUND_UP)
        lines.append(ShippedLine(ln.line_id, qty))
    before = frozen(b)
    try:
        check_shipment(job, lines)
    except ValidationFailed:  # more than the unshipped quantity: rejected (R8), nothing recorded
        assert frozen(b) == before
        event("shipment rejected")
        return
    b.shipments += 1
    record_shipped(job, lines)
    if job.status != JobStatus.OPEN or job.deposits:  # R8: not invoiced (job_finalized, progress_billing)
        event("shipment not invoiced")
        return
    issued = apply_shipment_invoice(job, f"SH-{b.shipments}", DATE, lines, b.counter + 1, b.settings, AT, by=BY)
    b.counter += 1
    b.issue(issued)
    # R16: taxed per rate on its lines, rounded once per rate
    bases: dict[Rate, Decimal] = defaultdict(lambda: ZERO)
    for il in issued.invoice["lines"]:
        billed = job.line(il["line_id"])
        assert billed is not None
        bases[billed.tax] += D(il["amount"])
    assert shown([Tax.from_dict(t) for t in issued.invoice["tax"]]) == shown(
        [Tax(job.resolved(r, b.settings), v, tax_of(v, r.rate, b.c)) for r, v in bases.items() if r.taxed]
    )
    gross(issued.invoice)
    event("shipment invoiced")


def final(b: Books) -> None:
    job = b.job
    if job.status != JobStatus.OPEN:  # 409 JOB_FINALIZED (service)
        return
    live = [i["invoice_id"] for i in b.live(InvoiceType.DEPOSIT)]
    pending = sorted(job.pending)
    due = job.total - job.shipments_billed - job.deposits_billed
    issued = apply_final(job, b.counter + 1, b.settings, DATE, "", "", AT, by=BY)
    b.counter += 1
    b.issue(issued)
    inv = issued.invoice
    # R7: one negative DEPOSIT line per live deposit, never one for a voided deposit
    assert [ln["reverses_invoice_id"] for ln in inv["lines"] if ln["code"] == "DEPOSIT"] == live
    assert D(inv["subtotal"]) == due
    # R16: its own tax (the job's tax per rate less what live shipments charged), less the deposits' tax
    own = {r: v - sum((t.amount for t in b.live_tax(InvoiceType.SHIPMENT) if t.rate == r), ZERO)
           for r, v in expected_tax(b).items()}  # fmt: skip
    reversed_ = sum((t.amount for t in b.live_tax(InvoiceType.DEPOSIT)), ZERO)
    assert gross(inv) == due + sum(own.values(), ZERO) - reversed_, "balance due = gross revenue - gross deposits"
    assert (job.status, job.pending) == (JobStatus.FINALIZED, {})
    assert inv["cancelled_record_ids"] == pending
    for record_id in pending:  # R7: its pending records become cancelled
        b.records[record_id].status = RecordStatus.CANCELLED
    event("final")


def void(b: Books, invoice_id: str) -> None:
    job = b.job
    original = b.invoices[invoice_id]
    record = b.records.get(original.get("record_id", "")) if original["type"] == InvoiceType.DEPOSIT else None
    expected: type[BillingError] | None = None
    if original["type"] == InvoiceType.CREDIT_NOTE:
        expected = NotVoidable
    elif original["status"] == InvoiceStatus.VOIDED:
        expected = AlreadyVoided
    elif original["type"] != InvoiceType.FINAL and job.status == JobStatus.FINALIZED:
        expected = JobFinalized
    before = frozen(b)
    entry = b.entries[invoice_id]
    try:
        voiding = apply_void(job, original, entry, record, b.counter + 1, DATE, "wrong", AT, by=BY)  # type: ignore[arg-type]
    except (NotVoidable, AlreadyVoided, JobFinalized) as e:
        assert type(e) is expected, (original["type"], original["status"], job.status, e)
        assert frozen(b) == before, f"a refused void ({type(e).__name__}) changed the job"
        event(f"void refused: {type(e).__name__}")
        return
    assert expected is None, f"{original['type']} voided where {expected} was due"
    b.counter += 1
    credit = voiding.credit_note
    b.issue(credit)
    b.invoices[invoice_id] = {**original, **voiding.marks}  # what the store writes on the original
    cn = credit.invoice
    assert (cn["type"], cn["voids_invoice_id"]) == (InvoiceType.CREDIT_NOTE, invoice_id)
    assert D(cn["total"]) == -D(original["total"]) and D(cn["subtotal"]) == -D(original["subtotal"])
    # R16: the tax reversed exactly, code by code, on the accounts the original posted it to
    assert cn["tax"] == [
        {**t, "base": str(ZERO - D(t["base"])), "amount": str(ZERO - D(t["amount"]))} for t in original["tax"]
    ]
    assert [D(ln["amount"]) for ln in cn["lines"]] == [-D(ln["amount"]) for ln in original["lines"]]
    # R14: exactly the original entry, debit and credit swapped, on the same accounts
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in credit.entry["lines"]] == [
        (ln["account"], ln["credit"], ln["debit"]) for ln in entry["lines"]
    ]
    if original["type"] == InvoiceType.DEPOSIT:
        assert record is not None and record.status == RecordStatus.VOIDED
        assert record.credit_note_id == cn["invoice_id"]
    elif original["type"] == InvoiceType.FINAL:
        assert job.status == JobStatus.OPEN and job.final_billed == 0
    event(f"void {original['type']}")


def co_verdict(job: Job, changes: list[LineChange]) -> str | None:
    """R15 worked out independently: None (applies), ``invalid`` (422 naming a field) or ``overbilling``."""
    amounts = {ln.line_id: ln.amount for ln in job.lines}
    changed = False
    for ch in changes:
        ln = job.line(ch.line_id)
        if ln is None:
            if ch.quantity is None or ch.unit_price is None or ch.item_code is None or ch.quantity <= 0:
                return "invalid"
            amounts[ch.line_id] = line_amount(ch.quantity, ch.unit_price, job.currency)
            changed = True
            continue
        qty = ln.quantity if ch.quantity is None else ch.quantity
        price = ln.unit_price if ch.unit_price is None else ch.unit_price
        desc = ln.description if ch.description is None else ch.description
        if ch.tax_code is not None and ch.tax_code != ln.tax.code:  # R16: a line's tax code cannot change
            return "invalid"
        if qty < ln.shipped_quantity or (price != ln.unit_price and ln.billed_quantity > 0):
            return "invalid"
        if (qty, price, desc) != (ln.quantity, ln.unit_price, ln.description):
            amounts[ch.line_id] = line_amount(qty, price, job.currency)
            if ln.billed_quantity > 0 and qty == ln.billed_quantity:  # all of it billed: what was billed
                amounts[ch.line_id] = ln.billed_amount
            elif amounts[ch.line_id] < ln.billed_amount:  # below what shipment invoices billed of it
                return "invalid"
            changed = True
        if amounts[ch.line_id] >= MAX_AMOUNT:
            return "invalid"
    total = sum(amounts.values(), ZERO)
    if not changed or total <= 0 or total >= MAX_AMOUNT:
        return "invalid"
    if total < job.deposits_billed + job.shipments_billed + job.pending_amount:
        return "overbilling"
    return None


def change_order(b: Books, picks: list[tuple[str, int, int | None, Decimal | None, bool, Any]]) -> None:
    job = b.job
    if job.status != JobStatus.OPEN:  # 409 JOB_FINALIZED (service.open_job)
        return
    changes, seen = [], set()
    for what, index, share, price, describe, tax in picks:
        if what == "line":
            ln = job.lines[index % len(job.lines)]
            qty = None if share is None else (ln.quantity * share / 100).quantize(D("0.01"), rounding=ROUND_UP)
            code = {"unsent": None, "same": ln.tax.code or None, "other": "VAT7" if ln.tax.code != "VAT7" else "GST"}
            ch = LineChange(ln.line_id, None, f"changed {index}" if describe else None, qty, price, code[tax])
        else:  # a new line (R15): item code, quantity and price needed; its rate as the settings have it now
            qty = None if share is None else D(share)
            rate = RATES[tax]
            ch = LineChange(
                f"N{job.change_order_count + 1}-{index}", "EXTRA", "Extra" if describe else None, qty, price,
                rate.code or None, rate,
            )  # fmt: skip
        if ch.line_id not in seen:  # the request model refuses repeated line ids (422)
            seen.add(ch.line_id)
            changes.append(ch)
    verdict = co_verdict(job, changes)
    before, total_before, count = frozen(b), job.total, job.change_order_count
    untouched_rates = {ln.line_id: ln.tax for ln in job.lines}
    try:
        doc = apply_change_order(job, changes, DATE, "scope", AT, by=BY)
    except (ValidationFailed, Overbilling) as e:
        got = "overbilling" if isinstance(e, Overbilling) else "invalid"
        assert got == verdict, (verdict, e.message, changes)
        assert frozen(b) == before, f"a refused change order ({got}) changed the job"
        event(f"change order refused: {got}")
        return
    assert verdict is None, (verdict, changes)
    job.captured([ch.tax for ch in changes])  # as change_orders.create_change_order does (R16)
    assert doc["change_order_id"] == f"CO-{count + 1}" and job.change_order_count == count + 1
    assert (D(doc["total_before"]), D(doc["total_after"])) == (total_before, job.total)
    assert job.total >= job.deposits_billed + job.shipments_billed + job.pending_amount
    for ln in job.lines:
        assert ln.quantity >= ln.shipped_quantity
        assert ln.amount >= ln.billed_amount or ln.line_id not in seen, "a line below what shipments billed"
    for ch in changes:  # each named line is as the change order says (what it leaves out is kept)
        named = job.line(ch.line_id)
        assert named is not None
        if named.billed_quantity > 0 and named.quantity == named.billed_quantity:
            assert named.amount == named.billed_amount  # all of it billed by shipments: its amount (R7)
        else:
            assert named.amount == line_amount(named.quantity, named.unit_price, b.c)
        for name in ("quantity", "unit_price", "description"):
            if getattr(ch, name) is not None:
                assert getattr(named, name) == getattr(ch, name), (name, ch)
        assert named.tax == (ch.tax if ch.item_code is not None else untouched_rates[ch.line_id]), "R16: captured"
    b.change_orders.append(dict(doc))
    event("change order")


def move_deposits_account(b: Books) -> None:
    now = b.settings.accounts["customer_deposits"]
    code = DEPOSIT_ACCOUNTS[1] if now == DEPOSIT_ACCOUNTS[0] else DEPOSIT_ACCOUNTS[0]
    b.settings = replace(
        b.settings,
        accounts={**DEFAULT_ACCOUNTS, "customer_deposits": code},
        account_names={**DEFAULT_ACCOUNT_NAMES, "customer_deposits": f"Customer Deposits {code}"},
    )


def take(b: Books, step: tuple[Any, ...]) -> None:
    what, arg = step
    job = b.job
    if what == "deposit_amount":
        deposit(b, b.q(job.total * arg / 1000), None)
    elif what == "deposit_percent":
        percent = D(arg).scaleb(-4)
        deposit(b, percent_of(job.total, percent, b.c), percent)
    elif what == "schedule":
        schedule(b, b.q(job.total * arg / 1000))
    elif what == "run":
        run(b, arg)
    elif what == "ship":
        ship(b, arg)
    elif what in ("void", "void_live"):
        pool = list(b.invoices.values())
        if what == "void_live":  # most voids are of a live invoice; "void" also tries refused ones
            pool = [i for i in pool if i["type"] != InvoiceType.CREDIT_NOTE and i["status"] == InvoiceStatus.ISSUED]
        if pool:
            void(b, pool[arg % len(pool)]["invoice_id"])
    elif what == "change_order":
        change_order(b, arg)
    elif what == "final":
        final(b)
    elif what == "toggle_tax_on_deposits":
        b.settings = replace(b.settings, tax_on_deposits=not b.settings.tax_on_deposits)
    else:
        move_deposits_account(b)
    assert_job_matches_its_invoices(b)


def assert_the_books_are_closed(b: Books) -> None:
    """The job is finalized: every deposit held is reversed, revenue is the job total, to the cent."""
    job = b.job
    assert job.status == JobStatus.FINALIZED
    for account in DEPOSIT_ACCOUNTS:
        assert b.net(account) == 0, f"Customer Deposits {account} left at {b.net(account)}"
    assert b.net(REV) == -job.total, "lifetime revenue is the job total"
    # R16: lifetime tax per code and rate, credit notes included, is the tax on the job's net for it
    expected = expected_tax(b)
    lifetime: dict[Rate, Decimal] = defaultdict(lambda: ZERO)
    for inv in b.invoices.values():
        for t in inv["tax"]:
            lifetime[Tax.from_dict(t).rate] += D(t["amount"])
    assert {r: v for r, v in lifetime.items() if v != 0} == {r: v for r, v in expected.items() if v != 0}
    for account in TAX_ACCOUNTS:
        owed = sum((v for r, v in expected.items() if r.account == account), ZERO)
        assert b.net(account) == -owed, f"tax account {account} at {b.net(account)}, not {-owed}"
    tax = sum(expected.values(), ZERO)
    assert b.net(AR) == job.total + tax, "the customer is billed the job total and its tax, net of credit notes"
    assert sum((amount for _, amount in b.postings), ZERO) == 0
    # R7 line by line: what every invoice (credit notes included) billed of a line is its amount
    per_line: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for inv in b.invoices.values():
        for ln in inv["lines"]:
            if ln.get("line_id") is not None and ln["code"] != "DEPOSIT":
                per_line[ln["line_id"]] += D(ln["amount"])
    assert set(per_line) <= {ln.line_id for ln in job.lines}
    assert {ln.line_id: per_line[ln.line_id] for ln in job.lines} == {ln.line_id: ln.amount for ln in job.lines}
    # each credit note cancels its original exactly, account by account
    for inv in b.invoices.values():
        if inv["type"] == InvoiceType.CREDIT_NOTE:
            original = b.entries[inv["voids_invoice_id"]]
            mine = b.entries[inv["invoice_id"]]
            assert sorted((ln["account"], ln["debit"], ln["credit"]) for ln in mine["lines"]) == sorted(
                (ln["account"], ln["credit"], ln["debit"]) for ln in original["lines"]
            )
    numbers = [i["number"] for i in b.invoices.values()]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) == b.counter  # R13


@EXAMPLES
@given(job=jobs(), history=HISTORIES, reissue=st.lists(STEPS, max_size=8), again=st.booleans(), taxed=st.booleans())
def test_random_histories_of_corrections_keep_the_books_whole(
    job: Job, history: list[tuple[Any, ...]], reissue: list[tuple[Any, ...]], again: bool, taxed: bool
) -> None:
    """Any history, then the final (and, sometimes, its void, more billing and a second final): every
    step keeps the job and the ledger telling the same story, and the closed books are exact, tax
    included (``taxed``: tax on deposits at the start; histories turn it on and off)."""
    b = Books(job, Settings(tax_on_deposits=taxed))
    for step in history:
        take(b, step)
    final(b)
    assert_job_matches_its_invoices(b)
    assert_the_books_are_closed(b)
    if again:  # the final is voided, billing continues, and a later final closes the job again
        assert b.job.final_invoice_id is not None
        void(b, b.job.final_invoice_id)
        assert b.job.status == JobStatus.OPEN
        # R14: deposits are held again in Customer Deposits until the next final
        assert sum((b.net(a) for a in DEPOSIT_ACCOUNTS), ZERO) == -b.job.deposits_billed
        for step in reissue:
            take(b, step)
        final(b)
        assert_job_matches_its_invoices(b)
        assert_the_books_are_closed(b)
        assert b.job.reopen_count >= 1


@EXAMPLES
@given(job=jobs(), history=HISTORIES, picks=CHANGE_ORDER)
def test_a_change_order_applies_whole_or_not_at_all(
    job: Job, history: list[tuple[Any, ...]], picks: tuple[Any, ...]
) -> None:
    """R15 against an independent reading of the rule: a change order is refused exactly when the rule
    says so (with the rule's error) and then changes nothing; applied, it changes only the lines it
    names, and the lines it names become exactly what it says."""
    b = Books(job)
    for step in history:
        take(b, step)
    if b.job.status == JobStatus.FINALIZED:
        void(b, str(b.job.final_invoice_id))
    untouched = {ln.line_id: ln.to_dict(b.c) for ln in b.job.lines}
    count = b.job.change_order_count
    change_order(b, picks[1])
    if b.job.change_order_count == count:
        return  # refused: checked unchanged in change_order
    doc = b.change_orders[-1]
    named = {ln["line_id"] for ln in doc["lines_after"]}
    assert {ln["line_id"] for ln in doc["lines_before"]} <= named
    after = {ln.line_id: ln.to_dict(b.c) for ln in b.job.lines}
    assert {k: v for k, v in after.items() if k not in named} == {k: v for k, v in untouched.items() if k not in named}
    assert [after[ln["line_id"]] for ln in doc["lines_after"]] == doc["lines_after"]
    assert [untouched[ln["line_id"]] for ln in doc["lines_before"]] == doc["lines_before"]
