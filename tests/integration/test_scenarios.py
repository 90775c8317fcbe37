"""The scenarios of docs/rules.md through the real handlers, for orders and for projects."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local.fixtures import job_line, order_body


@pytest.mark.parametrize("segment,kind", [("orders", "order"), ("projects", "project")])
def test_percent_deposit_then_final_invoice(client, segment, kind):
    r = client.post(f"/{segment}", order_body("JOB-1"))
    assert r.status == 201, r.body
    job = r.json()
    assert job["kind"] == kind and job["total"] == "1000.00"

    body = {"invoice_date": "2026-12-01", "title": "Milestone 1", "item_description": "25% deposit", "percent": "25"}
    r = client.post(f"/{segment}/JOB-1/progress-billings", body)
    assert r.status == 201, r.body
    out = r.json()
    rec, inv = out["record"], out["invoice"]
    assert rec["status"] == "invoiced" and rec["amount"] == "250.00" and rec["percent"] == "25"
    assert inv["type"] == "deposit" and inv["total"] == "250.00" and inv["invoice_date"] == "2026-12-01"
    assert [ln["code"] for ln in inv["lines"]] == ["DEPOSIT"]
    assert inv["lines"][0]["description"] == "25% deposit"
    assert inv["lines"][0]["percent"] == "25"
    assert rec["invoice_id"] == inv["invoice_id"]

    r = client.post(f"/{segment}/JOB-1/final-invoice", {"invoice_date": "2026-12-31"})
    assert r.status == 201, r.body
    final = r.json()["invoice"]
    assert final["type"] == "final" and final["total"] == "750.00"
    deposit_lines = [ln for ln in final["lines"] if ln["code"] == "DEPOSIT"]
    assert [(ln["amount"], ln["reverses_invoice_id"]) for ln in deposit_lines] == [("-250.00", inv["invoice_id"])]

    job = client.get(f"/{segment}/JOB-1").json()
    assert job["status"] == "finalized"
    assert job["billing"]["deposit_balance"] == "0.00" and job["billing"]["remaining"] == "0.00"


def test_order_25_percent_deposit_posts_ar_and_customer_deposits(client):
    assert (
        client.post(
            "/orders",
            order_body(
                lines=[
                    job_line(quantity="100"),
                ]
            ),
        ).status
        == 201
    )
    r = client.post("/orders/SO-1001/progress-billings", {"invoice_date": "2026-12-01", "percent": "25"})
    inv = r.json()["invoice"]
    assert inv["total"] == "2500.00"
    assert len(inv["lines"]) == 1 and inv["lines"][0]["code"] == "DEPOSIT" and inv["lines"][0]["amount"] == "2500.00"
    ledger = client.get("/orders/SO-1001/ledger").json()["items"]
    assert len(ledger) == 1
    entry = ledger[0]
    assert entry["invoice_id"] == inv["invoice_id"] and entry["date"] == "2026-12-01"
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("1200", "2500.00", "0.00"),
        ("2400", "0.00", "2500.00"),
    }


def test_final_after_two_deposits_reverses_them_and_clears_customer_deposits(client):
    client.post(
        "/orders",
        order_body(
            lines=[
                job_line(quantity="60"),
                {
                    "line_id": "2",
                    "item_code": "GADGET",
                    "description": "Gadget",
                    "quantity": "8",
                    "unit_price": "500.00",
                },
            ]
        ),
    )
    d1 = client.post("/orders/SO-1001/progress-billings", {"amount": "2500.00", "title": "M1"}).json()["invoice"]
    d2 = client.post("/orders/SO-1001/progress-billings", {"amount": "1000.00", "title": "M2"}).json()["invoice"]
    final = client.post("/orders/SO-1001/final-invoice").json()["invoice"]
    assert final["total"] == "6500.00"
    deposits = [ln for ln in final["lines"] if ln["code"] == "DEPOSIT"]
    assert [(ln["amount"], ln["reverses_invoice_id"]) for ln in deposits] == [
        ("-2500.00", d1["invoice_id"]),
        ("-1000.00", d2["invoice_id"]),
    ]
    assert all(d["reverses_invoice_id"] in d["description"] for d in deposits)
    revenue = sum(Decimal(ln["amount"]) for ln in final["lines"] if ln["code"] != "DEPOSIT")
    assert revenue == Decimal("10000.00")
    assert sum(Decimal(ln["amount"]) for ln in final["lines"]) == Decimal(final["total"])
    assert final["billing"] == {
        **final["billing"],
        "job_total": "10000.00",
        "billed_before": "3500.00",
        "this_invoice": "6500.00",
        "billed_to_date": "10000.00",
        "remaining": "0.00",
    }

    tb = client.get("/ledger/trial-balance").json()
    by_account = {a["account"]: a for a in tb["accounts"]}
    assert by_account["2400"]["balance"] == "0.00"
    assert by_account["1200"]["balance"] == "10000.00"
    assert by_account["4000"]["balance"] == "-10000.00"
    assert tb["totals"] == [{"currency": "USD", "debit": "13500.00", "credit": "13500.00", "balanced": True}]


def test_jpy_rounds_to_whole_yen(client):
    client.post(
        "/projects",
        order_body(
            "PRJ-JP",
            "JPY",
            [{"line_id": "1", "item_code": "WORK", "description": "Work", "quantity": "1", "unit_price": "100000"}],
        ),
    )
    inv = client.post("/projects/PRJ-JP/progress-billings", {"percent": "33.3333"}).json()["invoice"]
    assert inv["total"] == "33333" and inv["lines"][0]["amount"] == "33333"
    inv = client.post("/projects/PRJ-JP/progress-billings", {"percent": "0.0005"}).json()["invoice"]
    assert inv["total"] == "1"  # 0.5 yen rounds half-up


def test_three_thirds_leave_a_final_of_one_cent(client):
    client.post(
        "/orders",
        order_body(
            lines=[{"line_id": "1", "item_code": "X", "description": "X", "quantity": "1", "unit_price": "100.00"}]
        ),
    )
    for _ in range(3):
        r = client.post("/orders/SO-1001/progress-billings", {"percent": "33.3333"})
        assert r.json()["invoice"]["total"] == "33.33"
    final = client.post("/orders/SO-1001/final-invoice").json()["invoice"]
    assert final["total"] == "0.01"
    assert len([ln for ln in final["lines"] if ln["code"] == "DEPOSIT"]) == 3


@pytest.mark.parametrize("segment", ["orders", "projects"])
def test_a_deposit_is_reversed_on_the_account_it_was_posted_to_after_the_account_moves(client, segment):
    """R7, as an accountant would try it: a 1,000.00 deposit on 2400, Customer Deposits moved to 2450
    in the settings, then the final invoice: no account is left with a stray balance."""
    job = f"/{segment}/J-MOVE"
    assert client.post(f"/{segment}", order_body("J-MOVE")).status == 201
    assert client.post(f"{job}/progress-billings", {"amount": "1000.00"}).status == 201
    moved = client.put("/settings", {"accounts": {"customer_deposits": "2450"}})
    assert moved.status == 200, moved.body
    final = client.post(f"{job}/final-invoice").json()["invoice"]
    entry = next(e for e in client.get(f"{job}/ledger").json()["items"] if e["invoice_id"] == final["invoice_id"])
    assert {ln["account"]: ln["debit"] for ln in entry["lines"] if ln["debit"] != "0.00"} == {"2400": "1000.00"}
    balances = {a["account"]: a["balance"] for a in client.get("/ledger/trial-balance").json()["accounts"]}
    assert balances["2400"] == "0.00" and balances.get("2450", "0.00") == "0.00"
    assert (balances["1200"], balances["4000"]) == ("1000.00", "-1000.00")
