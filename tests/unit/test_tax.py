"""R16 tax as pure functions: the allocation of deposits by largest remainder, and the invariant the
contract promises: lifetime tax per code equals the tax on the job's net for that code, to the cent,
for any mix of codes and any sequence of percent and amount deposits, shipments and a final."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.books import Issued, ShippedLine, apply_deposit, apply_final, apply_shipment_invoice, record_shipped
from billing.documents import Actor, Kind, RecordStatus
from billing.errors import Overbilling
from billing.model import Job, JobLine, Record, Settings
from billing.money import line_amount, percent_of
from billing.tax import UNTAXED, Rate, allocate, tax_of

D = Decimal
BY: Actor = {"sub": "u-1", "username": "alice"}
AT = "2026-12-01T06:00:00Z"
RATES = [UNTAXED, Rate("VAT20", "VAT 20%", D(20), "2200"), Rate("VAT7", "VAT 7%", D(7), "2207"),
         Rate("ZERO", "Zero rated", D(0), "2290"), Rate("GST", "GST 9.975%", D("9.975"), "2210")]  # fmt: skip


@given(
    st.integers(0, 10**9).map(lambda cents: D(cents).scaleb(-2)),
    st.lists(st.integers(0, 10**6).map(D), min_size=1, max_size=6),
)
def test_allocation_sums_to_the_amount_and_each_part_is_within_a_cent_of_its_share(amount, weights):
    keyed = {f"k{i}": w for i, w in enumerate(weights)}
    parts = allocate(amount, keyed, "USD")
    whole = sum(weights)
    if whole == 0:
        assert parts == {}
        return
    assert sum(parts.values()) == amount
    for k, part in parts.items():
        exact = amount * keyed[k] / whole
        assert abs(part - exact) < D("0.01")
    assert all(keyed[k] > 0 for k in parts)


def test_allocation_gives_the_leftover_cents_to_the_largest_remainders():
    # 100.00 over three equal weights: 33.33 each and one cent left, to the first (ties: in order)
    assert allocate(D("100.00"), {"a": D(1), "b": D(1), "c": D(1)}, "USD") == {
        "a": D("33.34"), "b": D("33.33"), "c": D("33.33")}  # fmt: skip
    # 700 JPY over 3: 233, 233, 234 would be wrong; the remainders are equal, so the first gets it
    assert sum(allocate(D(700), {"a": D(1), "b": D(1), "c": D(1)}, "JPY").values()) == D(700)


lines_strategy = st.lists(
    st.tuples(st.sampled_from(RATES), st.integers(1, 50), st.integers(1, 500_000)),  # rate, qty, price cents
    min_size=1,
    max_size=5,
)
step = st.one_of(
    st.tuples(st.just("percent"), st.integers(1, 60)),
    st.tuples(st.just("amount"), st.integers(1, 10**7)),
    st.tuples(st.just("ship"), st.integers(0, 4)),
)


def _job(lines: list[tuple[Rate, int, int]]) -> Job:
    built = [
        JobLine(str(i), "ITEM", "", D(q), D(p).scaleb(-2), line_amount(D(q), D(p).scaleb(-2), "USD"), tax=r)
        for i, (r, q, p) in enumerate(lines)
    ]
    return Job(Kind.ORDER, "SO-1", "C-1", "Acme", "USD", built, sum((ln.amount for ln in built), D(0)))


@settings(max_examples=150, deadline=None)
@given(lines_strategy, st.lists(step, max_size=8), st.booleans())
def test_lifetime_tax_per_code_is_the_tax_on_the_job_net_and_every_entry_balances(lines, steps, on_deposits):
    codes = {r.code: {"name": r.name, "rate": format(r.rate, "f"), "account": r.account} for r in RATES if r.taxed}
    conf = Settings(tax_on_deposits=on_deposits, tax_codes=codes)  # type: ignore[arg-type]
    job = _job(lines)
    issued: list[Issued] = []
    n = 0
    for what, value in steps:
        n += 1
        if what == "ship":
            ln = job.lines[value % len(job.lines)]
            unshipped = ln.quantity - ln.shipped_quantity
            if unshipped <= 0 or job.deposits:  # R8: shipments bill only without deposits
                continue
            shipped = [ShippedLine(ln.line_id, min(unshipped, D(1 + value)))]
            record_shipped(job, shipped)
            issued.append(apply_shipment_invoice(job, f"SH-{n}", "2026-12-01", shipped, n, conf, AT, by=BY))
            continue
        amount = percent_of(job.total, D(value), "USD") if what == "percent" else D(value).scaleb(-2)
        if amount <= 0:
            continue
        rec = Record(f"PB-{n}", Kind.ORDER, job.id, "2026-12-01", "", "", "", amount, None, "USD",
                     RecordStatus.PENDING, False, AT)  # fmt: skip
        try:
            issued.append(apply_deposit(job, rec, n, conf, AT, by=BY))
        except Overbilling:
            continue
    issued.append(apply_final(job, n + 1, conf, "2026-12-31", "", "", AT, by=BY))

    lifetime: dict[str, Decimal] = {}
    balances: dict[str, Decimal] = {}
    for inv in issued:
        for t in inv.invoice["tax"]:
            lifetime[t["code"]] = lifetime.get(t["code"], D(0)) + D(t["amount"])
        assert D(inv.invoice["total"]) == D(inv.invoice["subtotal"]) + sum(D(t["amount"]) for t in inv.invoice["tax"])
        assert sum(p.debit for p in inv.postings) == sum(p.credit for p in inv.postings)
        for p in inv.postings:
            balances[p.account] = balances.get(p.account, D(0)) + p.debit - p.credit
    net: dict[Rate, Decimal] = {}
    for ln in job.lines:
        net[ln.tax] = net.get(ln.tax, D(0)) + ln.amount
    expected = {r.code: tax_of(v, r.rate, "USD") for r, v in net.items() if r.taxed}
    assert {k: v for k, v in lifetime.items() if v != 0} == {k: v for k, v in expected.items() if v != 0}
    assert balances.get("2400", D(0)) == 0  # every deposit reversed
    assert balances["4000"] == -job.total  # lifetime revenue is the job total
    for r in {ln.tax for ln in job.lines if ln.tax.taxed}:
        assert balances.get(r.account, D(0)) == -expected[r.code]
    gross = job.total + sum(expected.values())
    assert balances["1200"] == gross.quantize(D("0.01"), rounding=ROUND_HALF_UP)  # the customer owes the gross
