"""R21 (and R12): a scheduled record can be edited while it is pending, and a failed one put back in
the schedule when it fits again; every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from local.fixtures import order_body, run_automation, ship, shipment_message
from tests.conftest import table_snapshot


@pytest.fixture(params=["orders", "projects"])
def job(request, client):
    path = f"/{request.param}/J-1"
    assert client.post(f"/{request.param}", order_body("J-1")).status == 201  # 10 x 100.00
    return path


def schedule(client: Any, job: str, amount: str, date: str = "2027-01-15") -> dict[str, Any]:
    r = client.post(f"{job}/progress-billings", {"amount": amount, "schedule": True, "invoice_date": date})
    assert r.status == 201, r.body
    record: dict[str, Any] = r.json()["record"]
    return record


def refused(response: Any, status: int, code: str) -> None:
    assert (response.status, response.json()["error"]["code"]) == (status, code), response.body


def test_editing_a_pending_record_changes_it_and_what_it_holds_of_the_job(client, job):
    rec = schedule(client, job, "300.00")
    url = f"{job}/progress-billings/{rec['record_id']}"
    r = client.request("PATCH", url, {"amount": "450.00", "title": "Milestone 2", "invoice_date": "2027-02-01"})
    assert r.status == 200, r.body
    edited = r.json()
    assert (edited["amount"], edited["title"], edited["invoice_date"], edited["status"]) == (
        "450.00", "Milestone 2", "2027-02-01", "pending")  # fmt: skip
    assert edited["description"] == rec["description"]  # fields not sent keep their value
    assert client.get(job).json()["billing"]["pending_scheduled"] == "450.00"
    by_percent = client.request("PATCH", url, {"percent": "12.5"}).json()
    assert (by_percent["amount"], by_percent["percent"]) == ("125.00", "12.5")  # R1 against today's total
    # the schedule follows the new date: nothing on the old one, invoiced on the new one
    assert run_automation({"business_date": "2027-01-31"})["invoiced"] == 0
    assert run_automation({"business_date": "2027-02-01"})["invoiced"] == 1
    assert client.get(f"{job}/invoices").json()["items"][0]["total"] == "125.00"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": "1000.01"}, 422, "OVERBILLING"),
        ({"amount": "1.00", "percent": "1"}, 422, "VALIDATION_ERROR"),
        ({}, 422, "VALIDATION_ERROR"),
        ({"amount": 5}, 422, "VALIDATION_ERROR"),
        ({"status": "invoiced"}, 422, "VALIDATION_ERROR"),
        ({"invoice_date": "2027-02-30"}, 422, "VALIDATION_ERROR"),
    ],
)
def test_an_edit_that_breaks_a_rule_is_refused_and_changes_nothing(client, job, body, status, code):
    rec = schedule(client, job, "300.00")
    before = table_snapshot()
    refused(client.request("PATCH", f"{job}/progress-billings/{rec['record_id']}", body), status, code)
    assert table_snapshot() == before


def test_only_a_pending_record_can_be_edited(client, job):
    invoiced = client.post(f"{job}/progress-billings", {"amount": "100.00"}).json()["record"]
    cancelled = schedule(client, job, "50.00")
    assert client.delete(f"{job}/progress-billings/{cancelled['record_id']}").status == 200
    before = table_snapshot()
    for rec in (invoiced, cancelled):
        refused(client.request("PATCH", f"{job}/progress-billings/{rec['record_id']}", {"title": "x"}),
                409, "NOT_PENDING")  # fmt: skip
    refused(client.request("PATCH", f"{job}/progress-billings/PB-NONE", {"title": "x"}), 404, "NOT_FOUND")
    assert table_snapshot() == before


def failed_record(client: Any, order_id: str = "SO-F") -> tuple[str, dict[str, Any], dict[str, Any]]:
    """An order whose scheduled record failed at run time: A (400.00, due 2026-12-01) and B (300.00,
    later) were scheduled, then 4 of the 10 widgets shipped and were invoiced (auto-invoice on, no
    deposit yet): 400.00 shipped + 700.00 scheduled is more than 1,000.00, so A fails when due."""
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    assert client.post("/orders", order_body(order_id)).status == 201
    job = f"/orders/{order_id}"
    a = schedule(client, job, "400.00", "2026-12-01")
    b = schedule(client, job, "300.00", "2027-03-01")
    shipped = ship(shipment_message(f"SH-{order_id}", order_id, [{"line_id": "1", "quantity": "4"}]))
    assert shipped == {"batchItemFailures": []}
    assert run_automation({"business_date": "2026-12-01"})["failed"] >= 1
    failed = client.get(job).json()
    assert failed["billing"]["shipments_billed"] == "400.00"
    return job, a, b


def test_a_failed_record_is_retried_when_it_fits_again(client):
    job, a, b = failed_record(client)
    url = f"{job}/progress-billings/{a['record_id']}/retry"
    before = table_snapshot()
    refused(client.post(url), 422, "OVERBILLING")  # 400 shipped + 300 scheduled + 400 > 1,000
    assert table_snapshot() == before
    assert client.delete(f"{job}/progress-billings/{b['record_id']}").status == 200
    retried = client.post(url)
    assert retried.status == 200, retried.body
    assert (retried.json()["status"], retried.json()["failure_reason"]) == ("pending", None)
    assert client.get(job).json()["billing"]["pending_scheduled"] == "400.00"
    assert run_automation({"business_date": "2026-12-02"})["invoiced"] == 1  # its date has passed: caught up
    refused(client.post(url), 409, "NOT_PENDING")  # invoiced now: nothing to retry


def test_only_a_failed_record_of_an_open_job_can_be_retried(client):
    job, a, b = failed_record(client)
    refused(client.post(f"{job}/progress-billings/{b['record_id']}/retry"), 409, "NOT_PENDING")  # pending
    assert client.post(f"{job}/final-invoice").status == 201
    before = table_snapshot()
    refused(client.post(f"{job}/progress-billings/{a['record_id']}/retry"), 409, "JOB_FINALIZED")
    assert table_snapshot() == before
