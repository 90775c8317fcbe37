"""The Auto-Generate Progress Billing Invoices automation (R4, R5, R6 at run time)."""

from __future__ import annotations

import threading

import pytest

from billing import config as billing_config
from local.fixtures import lambda_context, order_body, run_automation, scheduled_event, ship
from local.metering import meter


@pytest.fixture
def order(client):
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00 = 1000.00
    return "/orders/SO-1001"


def schedule(client, path, date, amount="100.00"):
    r = client.post(
        f"{path}/progress-billings", {"invoice_date": date, "amount": amount, "schedule": True, "title": f"Due {date}"}
    )
    assert r.status == 201, r.body
    return r.json()["record"]


def statuses(client, path):
    return {r["invoice_date"]: r["status"] for r in client.get(f"{path}/progress-billings").json()["items"]}


def test_run_invoices_due_records_and_catches_up_missed_days(client, order):
    for date in ("2026-11-28", "2026-11-29", "2026-12-01", "2026-12-02"):
        schedule(client, order, date)
    result = run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    assert result["business_date"] == "2026-12-01"
    assert (result["invoiced"], result["failed"], result["skipped"], result["complete"]) == (3, 0, 0, True)
    assert statuses(client, order) == {
        "2026-11-28": "invoiced",
        "2026-11-29": "invoiced",
        "2026-12-01": "invoiced",
        "2026-12-02": "pending",
    }
    invoices = client.get(f"{order}/invoices").json()["items"]
    # each deposit invoice is dated with its record's invoice_date, not the run date
    assert sorted(i["invoice_date"] for i in invoices) == ["2026-11-28", "2026-11-29", "2026-12-01"]
    records = client.get(f"{order}/progress-billings").json()["items"]
    assert {r["invoice_id"] for r in records if r["status"] == "invoiced"} == {i["invoice_id"] for i in invoices}
    job = client.get(order).json()["billing"]
    assert (job["deposits_billed"], job["pending_scheduled"]) == ("300.00", "100.00")


def test_a_second_firing_changes_nothing(client, order):
    schedule(client, order, "2026-12-01")
    assert run_automation(scheduled_event("2026-12-01T06:00:00Z"))["invoiced"] == 1
    again = run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    assert (again["invoiced"], again["failed"]) == (0, 0)
    assert len(client.get(f"{order}/invoices").json()["items"]) == 1


def test_business_date_is_the_event_time_in_the_business_timezone(client, order, monkeypatch):
    monkeypatch.setenv("BUSINESS_TIMEZONE", "America/Los_Angeles")
    billing_config.reset()
    try:
        schedule(client, order, "2026-12-01")
        schedule(client, order, "2026-12-02")
        # 03:00Z on Dec 2 is still Dec 1 in Los Angeles
        result = run_automation(scheduled_event("2026-12-02T03:00:00Z"))
        assert result["business_date"] == "2026-12-01"
        assert statuses(client, order) == {"2026-12-01": "invoiced", "2026-12-02": "pending"}
        assert run_automation(scheduled_event("2026-12-02T08:00:00Z"))["business_date"] == "2026-12-02"
        assert statuses(client, order)["2026-12-02"] == "invoiced"
    finally:
        monkeypatch.delenv("BUSINESS_TIMEZONE")
        billing_config.reset()


def test_business_date_override_for_backfills(client, order):
    schedule(client, order, "2026-11-15")
    schedule(client, order, "2026-11-20")
    result = run_automation({"time": "2026-12-31T06:00:00Z", "business_date": "2026-11-16"})
    assert result["business_date"] == "2026-11-16" and result["invoiced"] == 1
    assert statuses(client, order) == {"2026-11-15": "invoiced", "2026-11-20": "pending"}


@pytest.mark.parametrize("event", [{"business_date": "2026-13-01"}, {"business_date": 20261201}, {"time": "yesterday"}])
def test_a_malformed_event_fails_loudly_and_invoices_nothing(client, order, event):
    schedule(client, order, "2026-11-01")
    with pytest.raises(Exception, match=r"business_date|time"):
        run_automation(event)
    assert statuses(client, order) == {"2026-11-01": "pending"}


def test_record_that_would_overbill_at_run_time_fails_visibly(client, order):
    client.put("/settings", {"auto_invoice_on_shipment": True})
    schedule(client, order, "2026-12-01", "600.00")
    # the warehouse ships half the order before the run: a shipment invoice of 500.00
    assert ship(
        '{"shipment_id":"SH-1","order_id":"SO-1001","ship_date":"2026-11-30","lines":[{"line_id":"1","quantity":"5"}]}'
    ) == {"batchItemFailures": []}
    result = run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    assert (result["invoiced"], result["failed"]) == (0, 1)
    rec = client.get(f"{order}/progress-billings").json()["items"][0]
    assert rec["status"] == "failed" and rec["invoice_id"] is None
    assert "over-bill" in rec["failure_reason"] and "600.00" in rec["failure_reason"]
    billing = client.get(order).json()["billing"]
    assert (billing["pending_scheduled"], billing["deposits_billed"], billing["shipments_billed"]) == (
        "0.00",
        "0.00",
        "500.00",
    )
    # a failed record is no longer due: the next run leaves it alone
    assert run_automation(scheduled_event("2026-12-02T06:00:00Z"))["failed"] == 0


def test_records_of_finalized_jobs_are_never_invoiced(client, order):
    rec = schedule(client, order, "2026-12-01")
    client.post(f"{order}/final-invoice")
    assert run_automation(scheduled_event("2026-12-05T06:00:00Z"))["invoiced"] == 0
    assert client.get(f"{order}/progress-billings").json()["items"][0]["status"] == "cancelled"
    assert [i["type"] for i in client.get(f"{order}/invoices").json()["items"]] == ["final"]
    assert rec["status"] == "pending"


def test_concurrent_runs_invoice_each_record_once(client, atomic_calls):
    paths = []
    for j in range(3):
        client.post("/orders", order_body(f"SO-{j}"))
        paths.append(f"/orders/SO-{j}")
        for day in range(1, 5):
            schedule(client, paths[-1], f"2026-11-0{day}", "50.00")
    results, errors = [], []

    def go():
        try:
            results.append(run_automation(scheduled_event("2026-12-01T06:00:00Z")))
        except Exception as e:  # surfaced by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r["invoiced"] for r in results) == 12
    for path in paths:
        invoices = client.get(f"{path}/invoices").json()["items"]
        assert len(invoices) == 4
        assert client.get(path).json()["billing"]["deposits_billed"] == "200.00"
    numbers = [i["number"] for p in paths for i in client.get(f"{p}/invoices").json()["items"]]
    assert len(set(numbers)) == 12


def test_run_stops_before_the_timeout_and_continues(client, order, monkeypatch):
    from billing import automation

    for day in range(1, 6):
        schedule(client, order, f"2026-11-0{day}", "10.00")
    continued = []
    monkeypatch.setattr(automation, "_continue", lambda ctx, payload: continued.append(payload))
    # a Lambda with 20.5 s left and a 20 s safety margin: time for very little
    clock = iter([25_000, 24_000] + [0] * 100)
    ctx = lambda_context("AutoGenerateFunction")
    ctx.get_remaining_time_in_millis = lambda: next(clock)  # type: ignore[method-assign]
    result = automation.run(scheduled_event("2026-12-01T06:00:00Z"), ctx, continue_with=automation._continue)
    assert (result["invoiced"], result["complete"], result["continued"]) == (2, False, True)
    assert continued == [{"business_date": "2026-12-01", "continuation": 1}]
    assert list(statuses(client, order).values()).count("pending") == 3
    # the continuation (or the next run) finishes the job, nothing invoiced twice
    rest = run_automation(continued[0])
    assert (rest["invoiced"], rest["complete"], rest["continuation"]) == (3, True, 1)
    assert len(client.get(f"{order}/invoices").json()["items"]) == 5


def test_automation_cost_grows_with_due_records_not_with_the_table(client):
    """40 jobs of history, 5 due records: no Scan, a few calls and items per due record."""
    for j in range(40):
        path = f"/orders/H-{j}"
        client.post("/orders", order_body(f"H-{j}"))
        client.post(f"{path}/progress-billings", {"amount": "100.00", "invoice_date": "2026-10-01"})
        if j % 2:
            client.post(f"{path}/final-invoice")
        else:
            schedule(client, path, "2027-06-01")  # pending, not yet due
    for j in range(5):
        schedule(client, f"/orders/H-{j * 2}", "2026-11-30", "10.00")
    run_automation(scheduled_event("2026-11-01T06:00:00Z"))  # warm-up: nothing due yet
    with meter() as m:
        result = run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    assert result["invoiced"] == 5
    ops = m.operations()
    assert "Scan" not in ops
    assert ops.count("Query") == 1
    assert ops.count("BatchGetItem") == 5 and ops.count("TransactWriteItems") == 5
    assert m.items_read <= 5 + 5 * 3  # the due records, then job + counter + settings for each
    print(
        f"\nautomation, 40 jobs, 5 due: {m.count} DynamoDB calls ({ops.count('Query')} Query, "
        f"{ops.count('BatchGetItem')} BatchGetItem, {ops.count('TransactWriteItems')} TransactWriteItems), "
        f"{m.items_read} items read"
    )
