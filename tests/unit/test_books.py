"""billing.books: invoices and journal entries computed from plain model objects (R2, R3, R6-R9, R13).

No AWS: jobs, records and settings are built from ``billing.model`` directly. Expected amounts are
worked out by hand in the comments next to them.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from billing.books import (
    ShippedLine,
    apply_deposit,
    apply_final,
    apply_shipment_invoice,
    check_can_bill,
    check_shipment,
    invoice_number,
    record_shipped,
)
from billing.documents import Actor, JobStatus, JournalEntryDoc, Kind, RecordStatus
from billing.errors import Overbilling, ValidationFailed
from billing.model import (
    DepositRef,
    Job,
    JobLine,
    Record,
    Settings,
)
from billing.money import fmt, percent_of, quantize

D = Decimal
AR, DEP, REV = "1200", "2400", "4000"
ISSUED_AT = "2026-12-01T06:00:00Z"
BY: Actor = {"sub": "u-1", "username": "alice"}


# --- builders --------------------------------------------------------------------------------------


def jl(
    line_id: str, qty: str, price: str, amount: str, item_code: str = "WIDGET", description: str = "Widget"
) -> JobLine:
    return JobLine(line_id, item_code, description, D(qty), D(price), D(amount))


def make_job(
    lines: list[JobLine] | None = None,
    *,
    currency: str = "USD",
    total: str | None = None,
    deposits: list[tuple[str, str]] | None = None,
    pending: dict[str, str] | None = None,
    shipments_billed: str = "0",
    job_id: str = "SO-1",
    kind: Kind = Kind.ORDER,
) -> Job:
    """A job; ``total`` defaults to the sum of the line amounts (which is what a job's total is)."""
    lines = lines if lines is not None else [jl("1", "10", "100.00", "1000.00")]
    job_total = D(total) if total is not None else sum((ln.amount for ln in lines), D(0))
    return Job(
        kind=kind,
        id=job_id,
        customer_id="C-7",
        customer_name="Acme",
        currency=currency,
        lines=lines,
        total=job_total,
        deposits=[DepositRef(inv, D(amt), "2026-11-01", f"R-{inv}") for inv, amt in (deposits or [])],
        pending={k: D(v) for k, v in (pending or {}).items()},
        shipments_billed=D(shipments_billed),
    )


def make_record(
    amount: str,
    *,
    record_id: str = "R-1",
    percent: str | None = None,
    title: str = "Milestone 1",
    item_description: str = "Design phase",
    description: str = "Design work",
    invoice_date: str = "2026-12-01",
    currency: str = "USD",
    status: RecordStatus = RecordStatus.INVOICED,
    scheduled: bool = False,
) -> Record:
    return Record(
        record_id=record_id,
        kind=Kind.ORDER,
        job_id="SO-1",
        invoice_date=invoice_date,
        title=title,
        description=description,
        item_description=item_description,
        amount=D(amount),
        percent=D(percent) if percent is not None else None,
        currency=currency,
        status=status,
        scheduled=scheduled,
        created_at="2026-11-30T00:00:00Z",
    )


def nets(entry: JournalEntryDoc) -> dict[str, Decimal]:
    """Debit minus credit per account code, read from the journal entry as written (strings)."""
    out: dict[str, Decimal] = {}
    for ln in entry["lines"]:
        out[ln["account"]] = out.get(ln["account"], D(0)) + D(ln["debit"]) - D(ln["credit"])
    return out


def sides(entry: JournalEntryDoc) -> dict[str, tuple[str, str]]:
    """account -> (debit, credit) as written."""
    return {ln["account"]: (ln["debit"], ln["credit"]) for ln in entry["lines"]}


def assert_balanced(entry: JournalEntryDoc) -> None:
    debit = sum((D(ln["debit"]) for ln in entry["lines"]), D(0))
    credit = sum((D(ln["credit"]) for ln in entry["lines"]), D(0))
    assert debit == credit, entry
    assert D(entry["total_debit"]) == debit
    assert D(entry["total_credit"]) == credit


# --- R13 numbering ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "INV-000001"),
        (42, "INV-000042"),
        (999999, "INV-999999"),
        (1000000, "INV-1000000"),
        (12345678, "INV-12345678"),
    ],
)
def test_invoice_number_has_at_least_six_digits(n: int, expected: str) -> None:
    assert invoice_number(n) == expected


def test_invoice_numbers_increase_with_the_counter_past_six_digits() -> None:
    numbers = [invoice_number(n) for n in (1, 2, 999998, 999999, 1000000, 1000001)]
    assert len(set(numbers)) == len(numbers)
    digits = [int(x.removeprefix("INV-")) for x in numbers]
    assert digits == sorted(digits)
    assert all(x.startswith("INV-") and len(x) >= 10 for x in numbers)


def test_invoice_and_its_entry_share_the_counter() -> None:
    job = make_job()
    issued = apply_deposit(job, make_record("100.00"), 7, Settings(), ISSUED_AT)
    assert issued.invoice["invoice_id"] == issued.invoice["number"] == "INV-000007"
    assert issued.invoice_id == "INV-000007"
    assert issued.invoice["journal_entry_id"] == issued.entry["entry_id"] == "JE-000007"
    assert issued.entry["invoice_id"] == "INV-000007"


# --- R2/R3 deposit invoice -------------------------------------------------------------------------


def test_deposit_invoice_has_one_deposit_line() -> None:
    job = make_job([jl("1", "10", "1000.00", "10000.00")])
    rec = make_record("2500.00", title="Milestone 1", item_description="Design phase")
    inv = apply_deposit(job, rec, 1, Settings(), ISSUED_AT).invoice

    assert inv["type"] == "deposit"
    assert (inv["kind"], inv["job_id"], inv["currency"]) == ("order", "SO-1", "USD")
    assert inv["invoice_date"] == "2026-12-01"
    assert (inv["title"], inv["description"]) == ("Milestone 1", "Design work")
    assert inv["record_id"] == "R-1"
    assert inv["total"] == "2500.00"
    assert len(inv["lines"]) == 1
    (line,) = inv["lines"]
    assert line["code"] == "DEPOSIT"
    assert line["description"] == "Design phase"
    assert line["amount"] == "2500.00"
    assert line["percent"] is None  # an amount-based record


def test_deposit_line_description_falls_back_to_title() -> None:
    job = make_job()
    inv = apply_deposit(
        job, make_record("100.00", title="Mobilisation", item_description=""), 1, Settings(), ISSUED_AT
    ).invoice
    assert inv["lines"][0]["description"] == "Mobilisation"


def test_percent_record_puts_its_percent_on_the_line() -> None:
    job = make_job([jl("1", "10", "100.00", "1000.00")])
    amount = percent_of(job.total, D("25"), "USD")  # 1000.00 x 25 / 100 = 250.00
    assert amount == D("250.00")
    inv = apply_deposit(job, make_record(str(amount), percent="25"), 1, Settings(), ISSUED_AT).invoice
    assert inv["lines"][0]["percent"] == "25"
    assert inv["lines"][0]["amount"] == "250.00"
    assert inv["total"] == "250.00"


def test_deposit_posts_dr_receivable_cr_customer_deposits() -> None:
    job = make_job([jl("1", "10", "1000.00", "10000.00")])
    issued = apply_deposit(job, make_record("2500.00", invoice_date="2026-12-03"), 1, Settings(), ISSUED_AT)
    entry = issued.entry
    assert entry["date"] == "2026-12-03"  # posted on the invoice date, not the issue time
    assert entry["currency"] == "USD"
    assert sides(entry) == {AR: ("2500.00", "0.00"), DEP: ("0.00", "2500.00")}
    names = {ln["account"]: ln["account_name"] for ln in entry["lines"]}
    assert names == {AR: "Accounts Receivable", DEP: "Customer Deposits"}
    assert_balanced(entry)
    assert (entry["total_debit"], entry["total_credit"]) == ("2500.00", "2500.00")
    # the postings handed to the store say the same thing as the entry
    assert {(p.account, p.debit, p.credit) for p in issued.postings} == {
        (AR, D("2500.00"), D(0)),
        (DEP, D(0), D("2500.00")),
    }


def test_deposit_billing_block_counts_earlier_deposits_and_shipments() -> None:
    # total 10000.00; already 1000.00 deposited and 500.00 billed by shipments
    job = make_job(
        [jl("1", "10", "1000.00", "10000.00")], deposits=[("INV-000001", "1000.00")], shipments_billed="500.00"
    )
    inv = apply_deposit(job, make_record("2500.00"), 3, Settings(), ISSUED_AT).invoice
    assert inv["billing"] == {
        "job_total": "10000.00",
        "billed_before": "1500.00",  # 1000 + 500
        "this_invoice": "2500.00",
        "billed_to_date": "4000.00",  # 1500 + 2500
        "remaining": "6000.00",  # 10000 - 4000
    }


def test_deposit_updates_job_and_record() -> None:
    job = make_job()
    rec = make_record("300.00", status=RecordStatus.PENDING)
    rec.failure_reason = "earlier failure"
    issued = apply_deposit(job, rec, 5, Settings(), ISSUED_AT)
    assert rec.status == RecordStatus.INVOICED
    assert rec.invoice_id == "INV-000005"
    assert rec.failure_reason is None
    assert rec.updated_at == ISSUED_AT
    assert job.deposits == [DepositRef("INV-000005", D("300.00"), "2026-12-01", "R-1", DEP)]
    assert job.deposit_accounts == {DEP: "Customer Deposits"}  # R7: where it is held, for its reversal
    assert job.deposits_billed == D("300.00")
    assert issued.invoice["record_id"] == "R-1"
    assert job.billing()["deposit_balance"] == "300.00"
    assert job.billing()["remaining"] == "700.00"  # 1000 - 300


def test_scheduled_record_leaves_pending_when_invoiced() -> None:
    # total 1000.00: 400.00 deposited, R-2 (600.00) scheduled: exactly the remainder
    job = make_job(deposits=[("INV-000001", "400.00")], pending={"R-2": "600.00"})
    rec = make_record("600.00", record_id="R-2", status=RecordStatus.PENDING, scheduled=True)
    apply_deposit(job, rec, 2, Settings(), ISSUED_AT)  # must not count R-2 twice
    assert job.pending == {}
    assert job.deposits_billed == D("1000.00")
    assert rec.status == RecordStatus.INVOICED


def test_overbilling_deposit_changes_nothing() -> None:
    job = make_job(deposits=[("INV-000001", "900.00")])
    rec = make_record("100.01", status=RecordStatus.PENDING)
    with pytest.raises(Overbilling):
        apply_deposit(job, rec, 2, Settings(), ISSUED_AT)
    assert job.deposits_billed == D("900.00")
    assert len(job.deposits) == 1
    assert rec.status == RecordStatus.PENDING
    assert rec.invoice_id is None


def test_deposit_in_jpy_and_kwd_uses_their_minor_units() -> None:
    jpy = make_job([jl("1", "1", "100000", "100000")], currency="JPY")
    amount = percent_of(jpy.total, D("33.3333"), "JPY")  # 33333.3 -> 33333
    issued = apply_deposit(jpy, make_record(str(amount), percent="33.3333", currency="JPY"), 1, Settings(), ISSUED_AT)
    assert issued.invoice["total"] == "33333"
    assert sides(issued.entry) == {AR: ("33333", "0"), DEP: ("0", "33333")}

    kwd = make_job([jl("1", "1", "100.000", "100.000")], currency="KWD")
    amount = percent_of(kwd.total, D("33.3333"), "KWD")  # 33.33333 -> 33.333
    issued = apply_deposit(kwd, make_record(str(amount), currency="KWD"), 1, Settings(), ISSUED_AT)
    assert issued.invoice["total"] == "33.333"
    assert issued.invoice["billing"]["remaining"] == "66.667"  # 100.000 - 33.333


# --- R6 over-billing -------------------------------------------------------------------------------


def over_job() -> Job:
    # total 1000.00 = deposits 400.00 + shipments 300.00 + pending 200.00 + 100.00 free
    return make_job(deposits=[("INV-000001", "400.00")], shipments_billed="300.00", pending={"R-9": "200.00"})


def test_billing_exactly_the_remaining_amount_is_allowed() -> None:
    check_can_bill(over_job(), D("100.00"))  # 400 + 300 + 200 + 100 = 1000 = total


def test_one_cent_over_the_total_is_overbilling() -> None:
    with pytest.raises(Overbilling) as info:
        check_can_bill(over_job(), D("100.01"))
    err = info.value
    assert (err.status, err.code) == (422, "OVERBILLING")
    assert err.details == [{"field": "amount", "job_total": "1000.00", "committed": "900.00", "available": "100.00"}]


@pytest.mark.parametrize("which", ["deposits", "shipments", "pending"])
def test_each_kind_of_commitment_counts_against_the_total(which: str) -> None:
    # 600.00 committed one way, then 400.00 fits and 400.01 does not
    kw: Any = {
        "deposits": {"deposits": [("INV-000001", "600.00")]},
        "shipments": {"shipments_billed": "600.00"},
        "pending": {"pending": {"R-5": "600.00"}},
    }[which]
    check_can_bill(make_job(**kw), D("400.00"))
    with pytest.raises(Overbilling):
        check_can_bill(make_job(**kw), D("400.01"))


def test_already_pending_amount_is_not_counted_twice() -> None:
    # 700 deposited + 300 pending (the record being invoiced) = 1000
    job = make_job(deposits=[("INV-000001", "700.00")], pending={"R-2": "300.00"})
    check_can_bill(job, D("300.00"), already_pending=D("300.00"))
    # without telling it the amount is already pending, it would be counted twice: 700 + 300 + 300 > 1000
    with pytest.raises(Overbilling):
        check_can_bill(job, D("300.00"))


def test_pending_record_fails_when_a_shipment_took_its_room() -> None:
    # R6 at run time: 300 pending was fine when scheduled, then a 800.00 shipment was invoiced
    job = make_job(pending={"R-2": "300.00"}, shipments_billed="800.00")
    with pytest.raises(Overbilling) as info:
        check_can_bill(job, D("300.00"), already_pending=D("300.00"))
    assert info.value.details[0]["available"] == "200.00"  # 1000 - 800


def test_available_never_reported_negative() -> None:
    job = make_job(deposits=[("INV-000001", "1000.00")], shipments_billed="50.00")  # already over
    with pytest.raises(Overbilling) as info:
        check_can_bill(job, D("1.00"))
    assert info.value.details[0]["available"] == "0.00"


def test_overbilling_in_jpy() -> None:
    job = make_job([jl("1", "1", "10000", "10000")], currency="JPY", deposits=[("INV-000001", "9999")])
    check_can_bill(job, D("1"))
    with pytest.raises(Overbilling):
        check_can_bill(job, D("2"))


# --- R7 final invoice ------------------------------------------------------------------------------


def final_job() -> Job:
    """Total 2000.00: line A 10 x 100.00 = 1000.00 (3 shipped and invoiced: 300.00), line B 4 x 250.00 =
    1000.00; deposits INV-000002 500.00 and INV-000003 200.00; one record R-7 still pending (100.00)."""
    a = jl("A", "10", "100.00", "1000.00", item_code="WIDGET", description="Widget")
    a.shipped_quantity, a.billed_quantity, a.billed_amount = D("3"), D("3"), D("300.00")
    b = jl("B", "4", "250.00", "1000.00", item_code="GADGET", description="Gadget")
    job = make_job(
        [a, b],
        deposits=[("INV-000002", "500.00"), ("INV-000003", "200.00")],
        shipments_billed="300.00",
        pending={"R-7": "100.00"},
    )
    job.deposits[0].invoice_date, job.deposits[1].invoice_date = "2026-10-01", "2026-11-01"
    return job


def test_final_revenue_lines_are_what_shipments_did_not_bill() -> None:
    inv = apply_final(final_job(), 9, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice
    revenue = [ln for ln in inv["lines"] if ln["code"] != "DEPOSIT"]
    assert [(ln["code"], ln["line_id"], ln["quantity"], ln["amount"]) for ln in revenue] == [
        ("WIDGET", "A", "7", "700.00"),  # 1000.00 - 300.00 shipped and billed; 10 - 3 units
        ("GADGET", "B", "4", "1000.00"),
    ]


def test_final_reverses_each_deposit_with_a_negative_line() -> None:
    inv = apply_final(final_job(), 9, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice
    reversals = [ln for ln in inv["lines"] if ln["code"] == "DEPOSIT"]
    assert [(ln["reverses_invoice_id"], ln["amount"]) for ln in reversals] == [
        ("INV-000002", "-500.00"),
        ("INV-000003", "-200.00"),
    ]
    assert "INV-000002" in reversals[0]["description"]


def test_final_total_is_job_total_less_shipments_and_deposits() -> None:
    inv = apply_final(final_job(), 9, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice
    # 2000.00 - 300.00 shipments - 700.00 deposits = 1000.00
    assert inv["type"] == "final"
    assert inv["total"] == "1000.00"
    assert sum(D(ln["amount"]) for ln in inv["lines"]) == D("1000.00")  # the lines add up to the total
    assert inv["billing"]["job_total"] == "2000.00"
    assert inv["billing"]["billed_before"] == "1000.00"  # 300 + 700
    assert inv["billing"]["this_invoice"] == "1000.00"
    assert inv["billing"]["billed_to_date"] == "2000.00"
    assert inv["billing"]["remaining"] == "0.00"


def test_final_posting_clears_deposits_and_recognises_revenue() -> None:
    issued = apply_final(final_job(), 9, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    entry = issued.entry
    assert entry["date"] == "2026-12-15"
    # Dr 2400 700.00 (deposits) + Dr 1200 1000.00 (due) / Cr 4000 1700.00 (2000 - 300 shipments)
    assert sides(entry) == {DEP: ("700.00", "0.00"), AR: ("1000.00", "0.00"), REV: ("0.00", "1700.00")}
    assert_balanced(entry)


def test_final_closes_the_job_and_cancels_pending_records() -> None:
    job = final_job()
    job.pending["R-3"] = D("50.00")
    inv = apply_final(job, 9, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice
    assert job.status == JobStatus.FINALIZED
    assert job.final_invoice_id == "INV-000009"
    assert job.finalized_at == ISSUED_AT
    assert job.pending == {}
    assert job.pending_amount == D(0)
    assert inv["cancelled_record_ids"] == ["R-3", "R-7"]
    assert job.final_billed == D("1000.00")
    billing = job.billing()
    assert billing["billed_to_date"] == "2000.00"  # 700 deposits + 300 shipments + 1000 final
    assert billing["remaining"] == "0.00"
    assert billing["deposit_balance"] == "0.00"  # deposits no longer held as a liability
    assert billing["percent_billed"] == "100.00"


def test_final_title_defaults_and_can_be_given() -> None:
    assert (
        apply_final(make_job(), 1, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice["title"]
        == "Final invoice SO-1"
    )
    inv = apply_final(make_job(), 1, Settings(), "2026-12-15", "Closing", "All done", ISSUED_AT, by=BY).invoice
    assert (inv["title"], inv["description"], inv["invoice_date"]) == ("Closing", "All done", "2026-12-15")


def test_final_with_no_deposits_bills_the_whole_job() -> None:
    issued = apply_final(make_job(), 1, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert issued.invoice["total"] == "1000.00"
    assert [ln["code"] for ln in issued.invoice["lines"]] == ["WIDGET"]
    assert sides(issued.entry) == {AR: ("1000.00", "0.00"), REV: ("0.00", "1000.00")}


def test_job_fully_covered_by_deposits_gives_a_zero_final() -> None:
    job = make_job(deposits=[("INV-000001", "600.00"), ("INV-000002", "400.00")])
    issued = apply_final(job, 3, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert issued.invoice["total"] == "0.00"
    # Dr 2400 1000.00 / Cr 4000 1000.00; nothing left to receive
    n = nets(issued.entry)
    assert n[DEP] == D("1000.00")
    assert n[REV] == D("-1000.00")
    assert n.get(AR, D(0)) == D(0)
    assert_balanced(issued.entry)
    assert job.status == JobStatus.FINALIZED
    assert job.billing()["remaining"] == "0.00"


def test_negative_balance_due_posts_as_a_credit_to_receivable() -> None:
    # not reachable through R6, but R7 says how it must post: 1000 total, 1200 deposited -> -200 due
    job = make_job(deposits=[("INV-000001", "1200.00")])
    issued = apply_final(job, 2, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert issued.invoice["total"] == "-200.00"
    assert sides(issued.entry) == {DEP: ("1200.00", "0.00"), AR: ("0.00", "200.00"), REV: ("0.00", "1000.00")}
    assert_balanced(issued.entry)


def test_fully_shipped_line_is_left_off_the_final() -> None:
    a = jl("A", "2", "50.00", "100.00")
    a.shipped_quantity, a.billed_quantity, a.billed_amount = D("2"), D("2"), D("100.00")
    b = jl("B", "1", "30.00", "30.00", item_code="BOLT")
    job = make_job([a, b], shipments_billed="100.00")
    inv = apply_final(job, 4, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY).invoice
    assert [ln["line_id"] for ln in inv["lines"]] == ["B"]
    assert inv["total"] == "30.00"  # 130.00 - 100.00


def test_three_third_deposits_leave_one_cent_for_the_final() -> None:
    job = make_job([jl("1", "1", "100.00", "100.00")])
    for i in range(3):
        amount = percent_of(job.total, D("33.3333"), "USD")
        assert amount == D("33.33")  # 100.00 x 33.3333% = 33.3333 -> 33.33
        apply_deposit(
            job, make_record(str(amount), record_id=f"R-{i}", percent="33.3333"), i + 1, Settings(), ISSUED_AT
        )
    assert job.deposits_billed == D("99.99")
    issued = apply_final(job, 4, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert issued.invoice["total"] == "0.01"  # 100.00 - 3 x 33.33
    # Dr 2400 99.99 + Dr 1200 0.01 / Cr 4000 100.00
    assert sides(issued.entry) == {DEP: ("99.99", "0.00"), AR: ("0.01", "0.00"), REV: ("0.00", "100.00")}


# --- R8 shipments ----------------------------------------------------------------------------------


def test_shipment_invoice_bills_shipped_quantity_at_unit_price() -> None:
    job = make_job([jl("1", "10", "12.50", "125.00"), jl("2", "5", "3.00", "15.00", item_code="BOLT")])
    lines = [ShippedLine("1", D("4")), ShippedLine("2", D("1"))]
    check_shipment(job, lines)
    record_shipped(job, lines)
    issued = apply_shipment_invoice(job, "SH-1", "2026-11-27", lines, 3, Settings(), ISSUED_AT, by=BY)
    inv = issued.invoice
    assert inv["type"] == "shipment"
    assert inv["shipment_id"] == "SH-1"
    assert inv["invoice_date"] == "2026-11-27"
    assert [(ln["line_id"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in inv["lines"]] == [
        ("1", "4", "12.50", "50.00"),  # 4 x 12.50
        ("2", "1", "3.00", "3.00"),
    ]
    assert inv["total"] == "53.00"
    assert sides(issued.entry) == {AR: ("53.00", "0.00"), REV: ("0.00", "53.00")}
    assert issued.entry["date"] == "2026-11-27"
    assert inv["billing"] == {
        "job_total": "140.00",
        "billed_before": "0.00",
        "this_invoice": "53.00",
        "billed_to_date": "53.00",
        "remaining": "87.00",
    }
    assert job.shipments_billed == D("53.00")
    line1 = job.line("1")
    assert line1 is not None
    assert (line1.shipped_quantity, line1.billed_quantity, line1.billed_amount) == (D("4"), D("4"), D("50.00"))
    assert job.shipment_count == 1


def test_last_shipment_bills_exactly_the_rest_of_the_line() -> None:
    # 3 x 33.3333 = 99.9999 -> line amount 100.00; each unit alone is 33.3333 -> 33.33
    job = make_job([jl("1", "3", "33.3333", "100.00")])
    amounts = []
    for i in range(3):
        lines = [ShippedLine("1", D("1"))]
        check_shipment(job, lines)
        record_shipped(job, lines)
        amounts.append(
            apply_shipment_invoice(job, f"SH-{i}", "2026-11-27", lines, i + 1, Settings(), ISSUED_AT, by=BY).invoice[
                "total"
            ]
        )
    assert amounts == ["33.33", "33.33", "33.34"]  # the last one takes 100.00 - 66.66
    assert job.shipments_billed == D("100.00")
    # nothing is left for the final invoice to recognise
    final = apply_final(job, 4, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert final.invoice["total"] == "0.00"
    assert [ln for ln in final.invoice["lines"] if ln["code"] != "DEPOSIT"] == []


def test_partial_shipments_then_final_recognise_exactly_the_line_amount() -> None:
    # 7 x 0.1429 = 1.0003 -> 1.00; ship 2 (0.2858 -> 0.29), then final bills 1.00 - 0.29 = 0.71
    job = make_job([jl("1", "7", "0.1429", "1.00")])
    lines = [ShippedLine("1", D("2"))]
    record_shipped(job, lines)
    ship = apply_shipment_invoice(job, "SH-1", "2026-11-27", lines, 1, Settings(), ISSUED_AT, by=BY)
    assert ship.invoice["total"] == "0.29"
    final = apply_final(job, 2, Settings(), "2026-12-15", "", "", ISSUED_AT, by=BY)
    assert final.invoice["total"] == "0.71"
    assert final.invoice["lines"][0]["quantity"] == "5"
    revenue = -nets(ship.entry)[REV] - nets(final.entry)[REV]
    assert revenue == D("1.00")


def test_check_shipment_rejects_unknown_line() -> None:
    job = make_job()
    with pytest.raises(ValidationFailed) as info:
        check_shipment(job, [ShippedLine("1", D("1")), ShippedLine("99", D("1"))])
    assert info.value.status == 422
    assert info.value.details[0]["field"] == "lines[1].line_id"


def test_check_shipment_rejects_over_shipment() -> None:
    job = make_job()  # line 1: quantity 10
    check_shipment(job, [ShippedLine("1", D("10"))])  # exactly the unshipped quantity is fine
    with pytest.raises(ValidationFailed) as info:
        check_shipment(job, [ShippedLine("1", D("10.0001"))])
    assert info.value.details[0]["field"] == "lines[0].quantity"


def test_check_shipment_adds_up_repeats_of_a_line_in_one_message() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_shipment(make_job(), [ShippedLine("1", D("6")), ShippedLine("1", D("5"))])  # 11 > 10
    assert info.value.details[0]["field"] == "lines[1].quantity"


def test_check_shipment_counts_earlier_shipments() -> None:
    job = make_job()
    record_shipped(job, [ShippedLine("1", D("8"))])
    check_shipment(job, [ShippedLine("1", D("2"))])
    with pytest.raises(ValidationFailed):
        check_shipment(job, [ShippedLine("1", D("3"))])  # only 2 unshipped


# --- settings: custom accounts ---------------------------------------------------------------------


def test_custom_account_codes_and_names_are_used_in_every_posting() -> None:
    settings = Settings(
        accounts={"receivable": "11000", "customer_deposits": "21500", "revenue": "40100"},
        account_names={"receivable": "Debtors", "customer_deposits": "Advances", "revenue": "Sales"},
    )
    job = make_job([jl("1", "10", "100.00", "1000.00"), jl("2", "1", "200.00", "200.00")])
    ship_lines = [ShippedLine("2", D("1"))]
    record_shipped(job, ship_lines)
    ship = apply_shipment_invoice(job, "SH-1", "2026-11-27", ship_lines, 1, settings, ISSUED_AT, by=BY)
    dep = apply_deposit(job, make_record("400.00"), 2, settings, ISSUED_AT)
    final = apply_final(job, 3, settings, "2026-12-15", "", "", ISSUED_AT, by=BY)

    assert sides(ship.entry) == {"11000": ("200.00", "0.00"), "40100": ("0.00", "200.00")}
    assert sides(dep.entry) == {"11000": ("400.00", "0.00"), "21500": ("0.00", "400.00")}
    # 1200 total - 200 shipped - 400 deposit = 600 due; revenue 1000
    assert sides(final.entry) == {
        "21500": ("400.00", "0.00"),
        "11000": ("600.00", "0.00"),
        "40100": ("0.00", "1000.00"),
    }
    names = {ln["account"]: ln["account_name"] for e in (ship.entry, dep.entry, final.entry) for ln in e["lines"]}
    assert names == {"11000": "Debtors", "21500": "Advances", "40100": "Sales"}
    assert all(p.account in {"11000", "21500", "40100"} for i in (ship, dep, final) for p in i.postings)


# --- R9 property: random jobs always balance -------------------------------------------------------

CURRENCIES = ["USD", "JPY", "KWD"]


def random_job(rng: random.Random, currency: str) -> Job:
    lines = []
    for i in range(rng.randint(1, 4)):
        qty = D(rng.randint(1, 50)) if rng.random() < 0.7 else D(rng.randint(1, 50_000)).scaleb(-3)
        price = D(rng.randint(0, 10_000_000)).scaleb(-4)
        amount = quantize(qty * price, currency)
        lines.append(JobLine(str(i + 1), f"ITEM{i}", f"Item {i}", qty, price, amount))
    return make_job(lines, currency=currency, job_id=f"J-{rng.randint(1, 10**6)}")


@pytest.mark.parametrize("seed", range(300))
def test_random_deposit_sequences_balance_and_clear_customer_deposits(seed: int) -> None:
    rng = random.Random(seed)
    currency = rng.choice(CURRENCIES)
    job = random_job(rng, currency)
    settings = Settings()
    n = 0
    entries: list[JournalEntryDoc] = []
    shipped = D(0)

    # sometimes a shipment invoice first (a deposit afterwards is allowed; the reverse is not, R8)
    if rng.random() < 0.3:
        ship = [
            ShippedLine(
                ln.line_id, ln.quantity if rng.random() < 0.5 else quantize(ln.quantity * D(rng.random()), "KWD")
            )
            for ln in job.lines
        ]
        ship = [s for s in ship if s.quantity > 0]
        if ship:
            check_shipment(job, ship)
            record_shipped(job, ship)
            n += 1
            issued = apply_shipment_invoice(job, "SH-1", "2026-11-01", ship, n, settings, ISSUED_AT, by=BY)
            shipped = D(issued.invoice["total"])
            entries.append(issued.entry)

    deposited = D(0)
    for k in range(rng.randint(0, 6)):
        if rng.random() < 0.5:
            percent = D(rng.randint(1, 1_000_000)).scaleb(-4)  # 0.0001 .. 100.0000
            amount = percent_of(job.total, percent, currency)
        else:
            percent = None
            amount = quantize(job.total * D(rng.random()), currency)
        if amount <= 0:
            continue
        scheduled = rng.random() < 0.3
        rec = make_record(
            str(amount),
            record_id=f"R-{k}",
            percent=None if percent is None else str(percent),
            currency=currency,
            status=RecordStatus.PENDING if scheduled else RecordStatus.INVOICED,
            scheduled=scheduled,
        )
        if scheduled and deposited + shipped + job.pending_amount + amount <= job.total:
            job.pending[rec.record_id] = amount
        fits = deposited + shipped + amount <= job.total
        n += 1
        if not fits:
            with pytest.raises(Overbilling):
                apply_deposit(job, rec, n, settings, ISSUED_AT)
            job.pending.pop(rec.record_id, None)
            continue
        issued = apply_deposit(job, rec, n, settings, ISSUED_AT)
        deposited += amount
        assert issued.invoice["total"] == fmt(amount, currency)
        entries.append(issued.entry)
        assert nets(issued.entry) == {AR: amount, DEP: -amount}

    assert job.deposits_billed == deposited
    assert deposited + shipped <= job.total  # R6 held throughout
    n += 1
    final = apply_final(job, n, settings, "2026-12-31", "", "", ISSUED_AT, by=BY)
    entries.append(final.entry)
    assert D(final.invoice["total"]) == job.total - shipped - deposited
    assert D(final.invoice["total"]) >= 0

    for e in entries:
        assert_balanced(e)
        assert e["currency"] == currency
    totals: dict[str, Decimal] = {}
    for e in entries:
        for acct, v in nets(e).items():
            totals[acct] = totals.get(acct, D(0)) + v
    # Customer Deposits nets to zero; lifetime revenue and receivable both equal the job total
    assert totals.get(DEP, D(0)) == 0
    assert -totals.get(REV, D(0)) == job.total
    assert totals.get(AR, D(0)) == job.total
    assert job.status == JobStatus.FINALIZED
    assert job.billing()["remaining"] == fmt(D(0), currency)


def test_each_deposit_is_reversed_on_the_account_it_was_posted_to():
    """R7: Customer Deposits moves from 2400 to 2450 mid-job; the final invoice debits each deposit on
    its own account, so neither is left with a stray balance."""
    job = make_job()
    before = Settings()
    first = apply_deposit(
        job, make_record("300.00", record_id="R-1", status=RecordStatus.PENDING), 1, before, ISSUED_AT
    )
    names = {"receivable": "AR", "customer_deposits": "Deposits held", "revenue": "Revenue"}
    moved = Settings(accounts={"receivable": AR, "customer_deposits": "2450", "revenue": REV}, account_names=names)
    second = apply_deposit(
        job, make_record("200.00", record_id="R-2", status=RecordStatus.PENDING), 2, moved, ISSUED_AT
    )
    final = apply_final(job, 3, moved, "2026-12-31", "Final", "", ISSUED_AT, by=BY)
    held: dict[str, D] = {}
    for issued in (first, second, final):
        assert_balanced(issued.entry)
        for account, net in nets(issued.entry).items():
            held[account] = held.get(account, D(0)) + net
    assert held[DEP] == 0 and held["2450"] == 0
    assert sides(final.entry)[DEP] == ("300.00", "0.00") and sides(final.entry)["2450"] == ("200.00", "0.00")
    names = {ln["account"]: ln["account_name"] for ln in final.entry["lines"]}
    assert (names[DEP], names["2450"]) == ("Customer Deposits", "Deposits held")


def test_a_deposit_stored_before_its_account_was_kept_is_reversed_on_todays_account():
    job = make_job(deposits=[("INV-000001", "300.00")])  # DepositRef without an account: older data
    final = apply_final(job, 2, Settings(), "2026-12-31", "Final", "", ISSUED_AT, by=BY)
    assert sides(final.entry)[DEP] == ("300.00", "0.00")
