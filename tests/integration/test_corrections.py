"""R14 (void by credit note) and R15 (change orders), through the handlers, for orders and projects:
the Done-when scenarios of issue 10, each checked on the invoices, the job and the trial balance."""

from __future__ import annotations

from typing import Any

import pytest

from local.fixtures import job_line, order_body, ship, shipment_message


@pytest.fixture(params=["orders", "projects"])
def job(request, client):
    """A 10,000.00 job: ten lines of 1,000.00."""
    body = order_body("J-1", lines=[job_line("1", "10", "1000.00")])
    assert client.post(f"/{request.param}", body).status == 201
    return f"/{request.param}/J-1"


def balances(client: Any) -> dict[str, str]:
    return {a["account"]: a["balance"] for a in client.get("/ledger/trial-balance").json()["accounts"]}


def deposit(client: Any, job: str, **body: str) -> dict[str, Any]:
    r = client.post(f"{job}/progress-billings", body)
    assert r.status == 201, r.body
    invoice: dict[str, Any] = r.json()["invoice"]
    return invoice


def final(client: Any, job: str) -> dict[str, Any]:
    r = client.post(f"{job}/final-invoice")
    assert r.status == 201, r.body
    invoice: dict[str, Any] = r.json()["invoice"]
    return invoice


def void(client: Any, invoice_id: str, reason: str = "wrong amount", **kw: Any) -> Any:
    return client.post(f"/invoices/{invoice_id}/void", {"reason": reason, "void_date": "2026-12-15"}, **kw)


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
    entry = {e["invoice_id"]: e for e in client.get(f"{job}/ledger").json()["items"]}
    original = {(ln["account"], ln["debit"], ln["credit"]) for ln in entry[first["invoice_id"]]["lines"]}
    swapped = {
        (ln["account"], ln["credit"], ln["debit"]) for ln in entry[r.json()["credit_note"]["invoice_id"]]["lines"]
    }
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
