"""R14 (void by credit note) and R15 (change orders), through the handlers, for orders and projects:
the Done-when scenarios of issue 10, each checked on the invoices, the job and the trial balance, and
how R6 and R7 count after a correction.

The helpers here are shared with ``test_voids.py`` (every refusal of R14, the credit note's shape,
retries) and ``test_change_orders.py`` (R15)."""

from __future__ import annotations

from typing import Any

import pytest

from local.fixtures import ADMIN, job_line, order_body, run_automation, ship, shipment_message
from tests.conftest import dynamodb

# R20: who the admin caller is, as documents name their author
ADMIN_ACTOR = {"sub": ADMIN["sub"], "username": ADMIN["cognito:username"]}


@pytest.fixture(params=["orders", "projects"])
def job(request, client):
    """A 10,000.00 job: ten lines of 1,000.00."""
    body = order_body("J-1", lines=[job_line("1", "10", "1000.00")])
    assert client.post(f"/{request.param}", body).status == 201
    return f"/{request.param}/J-1"


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.json()["error"]["code"]) == (status, code), response.body
    body: dict[str, Any] = response.json()
    return body


def fields(response: Any) -> list[str]:
    """The fields a 422 VALIDATION_ERROR names."""
    return [d["field"] for d in refused(response, 422, "VALIDATION_ERROR")["error"]["details"]]


def balances(client: Any) -> dict[str, str]:
    return {a["account"]: a["balance"] for a in client.get("/ledger/trial-balance").json()["accounts"]}


def deposit(client: Any, job: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"{job}/progress-billings", body)
    assert r.status == 201, r.body
    invoice: dict[str, Any] = r.json()["invoice"]
    return invoice


def final(client: Any, job: str, **kw: Any) -> dict[str, Any]:
    r = client.post(f"{job}/final-invoice", **kw)
    assert r.status == 201, r.body
    invoice: dict[str, Any] = r.json()["invoice"]
    return invoice


def void(client: Any, invoice_id: str, reason: str = "wrong amount", void_date: str = "2026-12-15", **kw: Any) -> Any:
    return client.post(f"/invoices/{invoice_id}/void", {"reason": reason, "void_date": void_date}, **kw)


def voided(client: Any, invoice_id: str, **kw: Any) -> dict[str, Any]:
    """Void ``invoice_id``; the credit note."""
    r = void(client, invoice_id, **kw)
    assert r.status == 201, r.body
    credit: dict[str, Any] = r.json()["credit_note"]
    return credit


def change(client: Any, job: str, lines: list[dict[str, Any]], reason: str = "scope change", **kw: Any) -> Any:
    return client.post(f"{job}/change-orders", {"reason": reason, "date": "2026-12-02", "lines": lines}, **kw)


def invoices(client: Any, job: str) -> dict[str, dict[str, Any]]:
    return {i["invoice_id"]: i for i in client.get(f"{job}/invoices").json()["items"]}


def entries(client: Any, job: str) -> dict[str, dict[str, Any]]:
    """The job's journal entries by the invoice that made each."""
    return {e["invoice_id"]: e for e in client.get(f"{job}/ledger").json()["items"]}


def postings(entry: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]}


def forget_idempotency_cache() -> None:
    """As if the Powertools idempotency records had expired (or never been completed)."""
    import os

    ddb = dynamodb()
    table = os.environ["IDEMPOTENCY_TABLE_NAME"]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={"id": item["id"]})


# ---- the Done-when scenarios ---------------------------------------------------------------------


def test_void_of_a_full_deposit_frees_the_job_and_the_final_reverses_only_live_deposits(client, job):
    first = deposit(client, job, percent="100")
    assert client.post(f"{job}/progress-billings", {"amount": "1.00"}).json()["error"]["code"] == "OVERBILLING"
    r = void(client, first["invoice_id"])
    assert r.status == 201, r.body
    credit, original = r.json()["credit_note"], r.json()["invoice"]
    assert (credit["type"], credit["total"], credit["voids_invoice_id"]) == (
        "credit_note",
        "-10000.00",
        first["invoice_id"],
    )
    assert (original["status"], original["voided_by_invoice_id"]) == ("voided", credit["invoice_id"])
    assert client.get(f"/invoices/{first['invoice_id']}").json()["status"] == "voided"
    record = client.get(f"{job}/progress-billings").json()["items"][0]
    assert (record["status"], record["credit_note_id"]) == ("voided", credit["invoice_id"])
    assert client.get(job).json()["billing"]["deposits_billed"] == "0.00"
    second = deposit(client, job, percent="40")
    closing = final(client, job)
    assert [ln.get("reverses_invoice_id") for ln in closing["lines"] if ln["code"] == "DEPOSIT"] == [
        second["invoice_id"]
    ]
    assert closing["total"] == "6000.00"
    assert balances(client) == {"1200": "10000.00", "2400": "0.00", "4000": "-10000.00"}


def test_void_of_a_final_reopens_the_job_and_a_second_final_closes_it(client, job):
    deposit(client, job, percent="30")
    first = final(client, job)
    r = void(client, first["invoice_id"])
    assert r.status == 201, r.body
    reopened = client.get(job).json()
    assert (reopened["status"], reopened["reopen_count"], reopened["billing"]["deposit_balance"]) == (
        "open",
        1,
        "3000.00",
    )
    assert balances(client)["2400"] == "-3000.00"
    deposit(client, job, percent="10")
    second = final(client, job)
    assert second["total"] == "6000.00"
    tb = balances(client)
    assert (tb["2400"], tb["4000"]) == ("0.00", "-10000.00")
    entry = entries(client, job)
    original = postings(entry[first["invoice_id"]])
    swapped = {(a, c, d) for a, d, c in postings(entry[r.json()["credit_note"]["invoice_id"]])}
    assert original == swapped


def test_a_change_order_adding_scope_moves_later_percent_records_and_the_final(client, job):
    r = client.post(
        f"{job}/change-orders",
        {
            "reason": "extra work",
            "date": "2026-12-02",
            "lines": [
                {"line_id": "2", "item_code": "EXTRA", "description": "Extra", "quantity": "1", "unit_price": "3200.00"}
            ],
        },
    )
    assert r.status == 201, r.body
    co = r.json()["change_order"]
    assert (co["change_order_id"], co["total_before"], co["total_after"]) == ("CO-1", "10000.00", "13200.00")
    assert r.json()["job"]["total"] == "13200.00"
    assert deposit(client, job, percent="10")["total"] == "1320.00"
    closing = final(client, job)
    assert closing["billing"]["revenue_recognized"] == "13200.00"
    assert client.get(f"{job}/change-orders").json()["items"][0]["change_order_id"] == "CO-1"


def test_void_of_a_shipment_invoice_makes_the_final_bill_that_revenue(client):
    client.put("/settings", {"auto_invoice_on_shipment": True})
    assert client.post("/orders", order_body("SO-9")).status == 201
    out = ship(shipment_message("SH-1", "SO-9", lines=[{"line_id": "1", "quantity": "4"}]))
    invoice = client.get("/orders/SO-9/invoices").json()["items"][0]
    assert invoice["total"] == "400.00", out
    r = void(client, invoice["invoice_id"])
    assert r.status == 201, r.body
    assert client.get("/orders/SO-9/shipments").json()["items"][0]["status"] == "invoice_voided"
    closing = final(client, "/orders/SO-9")
    assert closing["billing"]["revenue_recognized"] == "1000.00"
    assert balances(client)["4000"] == "-1000.00"


# ---- R7 amended: Customer Deposits moved mid-job --------------------------------------------------


def move_customer_deposits(client: Any, account: str) -> None:
    r = client.put("/settings", {"accounts": {"customer_deposits": account}})
    assert r.status == 200, r.body
    assert r.json()["accounts"]["customer_deposits"] == account


def test_a_deposit_voided_after_customer_deposits_moved_is_reversed_on_its_own_account(client, job):
    held = deposit(client, job, amount="1000.00")
    move_customer_deposits(client, "2450")
    credit = voided(client, held["invoice_id"])
    entry = entries(client, job)[credit["invoice_id"]]
    assert postings(entry) == {("2400", "1000.00", "0.00"), ("1200", "0.00", "1000.00")}
    assert set(balances(client).values()) == {"0.00"}  # no account keeps a stray balance
    assert "2450" not in balances(client)
    # a deposit after the move is held on 2450, and its void reverses it there
    later = deposit(client, job, amount="500.00")
    assert ("2450", "0.00", "500.00") in postings(entries(client, job)[later["invoice_id"]])
    again = voided(client, later["invoice_id"])
    assert ("2450", "500.00", "0.00") in postings(entries(client, job)[again["invoice_id"]])
    assert set(balances(client).values()) == {"0.00"}


def test_a_final_voided_after_customer_deposits_moved_leaves_no_stray_balance(client, job):
    deposit(client, job, amount="1000.00")
    move_customer_deposits(client, "2450")
    first = final(client, job)
    assert postings(entries(client, job)[first["invoice_id"]]) == {
        ("2400", "1000.00", "0.00"), ("1200", "9000.00", "0.00"), ("4000", "0.00", "10000.00")}  # fmt: skip
    credit = voided(client, first["invoice_id"])
    assert postings(entries(client, job)[credit["invoice_id"]]) == {
        ("2400", "0.00", "1000.00"), ("1200", "0.00", "9000.00"), ("4000", "10000.00", "0.00")}  # fmt: skip
    # reopened: the deposit is held again where it was posted, nothing lands on the new account
    tb = balances(client)
    assert (tb["1200"], tb["2400"], tb["4000"], tb.get("2450", "0.00")) == ("1000.00", "-1000.00", "0.00", "0.00")
    later = deposit(client, job, amount="500.00")  # posted on today's account, 2450
    second = final(client, job)
    assert [ln["amount"] for ln in second["lines"] if ln["code"] == "DEPOSIT"] == ["-1000.00", "-500.00"]
    assert postings(entries(client, job)[second["invoice_id"]]) == {
        ("2400", "1000.00", "0.00"), ("2450", "500.00", "0.00"), ("1200", "8500.00", "0.00"),
        ("4000", "0.00", "10000.00")}  # fmt: skip
    tb = balances(client)
    assert (tb["1200"], tb["2400"], tb["2450"], tb["4000"]) == ("10000.00", "0.00", "0.00", "-10000.00")
    assert later["invoice_id"] in {ln.get("reverses_invoice_id") for ln in second["lines"]}


# ---- R6 and R7 after a correction ----------------------------------------------------------------


def test_after_a_deposit_void_the_whole_job_can_be_billed_again(client, job):
    first = deposit(client, job, amount="6000.00")
    refused(client.post(f"{job}/progress-billings", {"amount": "4000.01"}), 422, "OVERBILLING")
    voided(client, first["invoice_id"])
    refused(client.post(f"{job}/progress-billings", {"amount": "10000.01"}), 422, "OVERBILLING")
    assert deposit(client, job, amount="10000.00")["total"] == "10000.00"
    billing = client.get(job).json()["billing"]
    assert (billing["deposits_billed"], billing["remaining"], billing["percent_billed"]) == (
        "10000.00", "0.00", "100.00")  # fmt: skip
    closing = final(client, job)
    assert [ln["amount"] for ln in closing["lines"] if ln["code"] == "DEPOSIT"] == ["-10000.00"]


def test_after_a_shipment_void_r6_counts_that_shipment_unbilled(client):
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    assert client.post("/orders", order_body("SO-9")).status == 201  # 10 x 100.00
    order = "/orders/SO-9"
    assert ship(shipment_message("SH-1", "SO-9", lines=[{"line_id": "1", "quantity": "4"}])) == {
        "batchItemFailures": []
    }
    (shipment,) = invoices(client, order).values()
    refused(client.post(f"{order}/progress-billings", {"amount": "600.01"}), 422, "OVERBILLING")
    voided(client, shipment["invoice_id"])
    billing = client.get(order).json()["billing"]
    assert (billing["shipments_billed"], billing["remaining"]) == ("0.00", "1000.00")
    assert deposit(client, order, amount="1000.00")["total"] == "1000.00"
    closing = final(client, order)  # the shipped but unbilled widgets are billed by the final
    assert [(ln["code"], ln["quantity"], ln["amount"]) for ln in closing["lines"]] == [
        ("WIDGET", "10", "1000.00"), ("DEPOSIT", "1", "-1000.00")]  # fmt: skip
    assert balances(client) == {"1200": "1000.00", "2400": "0.00", "4000": "-1000.00"}


def test_a_change_order_raising_the_total_keeps_earlier_percent_amounts_and_moves_later_ones(client, job):
    earlier = deposit(client, job, percent="10")
    scheduled = client.post(
        f"{job}/progress-billings", {"percent": "10", "schedule": True, "invoice_date": "2027-01-15"}
    ).json()["record"]
    assert scheduled["amount"] == "1000.00"
    extra = {"line_id": "2", "item_code": "EXTRA", "description": "Extra", "quantity": "1", "unit_price": "10000.00"}
    assert change(client, job, [extra]).status == 201
    records = {r["record_id"]: r for r in client.get(f"{job}/progress-billings").json()["items"]}
    assert records[earlier["record_id"]]["amount"] == "1000.00"  # R1: fixed when created
    assert records[scheduled["record_id"]]["amount"] == "1000.00"
    assert client.get(f"/invoices/{earlier['invoice_id']}").json()["total"] == "1000.00"
    later = deposit(client, job, percent="10")
    assert later["total"] == "2000.00"  # 10% of the new 20,000.00
    billing = client.get(job).json()["billing"]
    assert (billing["deposits_billed"], billing["percent_billed"], billing["remaining"]) == (
        "3000.00", "15.00", "17000.00")  # fmt: skip
    assert run_automation({"business_date": "2027-01-15"})["invoiced"] == 1
    assert invoices(client, job)[earlier["invoice_id"]]["total"] == "1000.00"
    due = [i for i in invoices(client, job).values() if i.get("record_id") == scheduled["record_id"]]
    assert [i["total"] for i in due] == ["1000.00"]  # invoiced at the amount it was scheduled for
    closing = final(client, job)
    assert (closing["billing"]["revenue_recognized"], closing["total"]) == ("20000.00", "16000.00")


def test_a_final_after_a_change_order_bills_the_changed_lines(client, job):
    body = {"line_id": "2", "item_code": "GADGET", "description": "Gadget", "quantity": "5", "unit_price": "200.00"}
    assert change(client, job, [body]).status == 201
    deposit(client, job, amount="600.00")
    reduced = change(client, job, [{"line_id": "1", "quantity": "6"}, {"line_id": "2", "quantity": "0"}])
    assert reduced.status == 201, reduced.body
    assert reduced.json()["job"]["total"] == "6000.00"
    assert client.get(job).json()["billing"]["percent_billed"] == "10.00"
    closing = final(client, job)
    assert [(ln.get("line_id"), ln["quantity"], ln["amount"]) for ln in closing["lines"]] == [
        ("1", "6", "6000.00"), (None, "1", "-600.00")]  # fmt: skip  # the removed line is not billed
    assert (closing["total"], closing["billing"]["revenue_recognized"]) == ("5400.00", "6000.00")
    assert balances(client) == {"1200": "6000.00", "2400": "0.00", "4000": "-6000.00"}


def test_a_change_order_refused_for_what_is_billed_fits_once_the_deposit_is_voided(client, job):
    held = deposit(client, job, amount="8000.00")
    refused(change(client, job, [{"line_id": "1", "quantity": "5"}]), 422, "OVERBILLING")
    voided(client, held["invoice_id"])
    r = change(client, job, [{"line_id": "1", "quantity": "5"}])
    assert r.status == 201, r.body
    assert (r.json()["job"]["total"], r.json()["change_order"]["change_order_id"]) == ("5000.00", "CO-1")
    assert final(client, job)["total"] == "5000.00"
