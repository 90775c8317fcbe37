"""What each request costs in DynamoDB: the round trips and items read of every operation, at its
floor (docs/benchmarks.md measures time; the counts are asserted here).

The floors: a change to the books reads once (one BatchGetItem of the job, the invoice counter and
the settings: everything the decision needs) and writes once (one TransactWriteItems, R9); a read
is one GetItem or one Query of exactly what it answers with. An ``Idempotency-Key`` adds
Powertools' conditional put of the key and its update to completed; a resend with the same key is
answered from that put alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from local.fixtures import order_body, run_automation, ship, shipment_message
from local.metering import meter

ORDER = "/orders/SO-1001"
READ_AND_TRANSACT = ["BatchGetItem", "TransactWriteItems"]
KEY_PUT, KEY_DONE = "PutItem", "UpdateItem"  # Powertools' idempotency record: in progress, then completed


@pytest.fixture
def books(client):
    """A stack whose counter and settings exist (so the books read finds all three items)."""
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    assert client.post("/orders", order_body("SO-0")).status == 201
    assert client.post("/orders/SO-0/progress-billings", {"amount": "1.00"}).status == 201
    assert client.post("/orders", order_body()).status == 201
    return client


def measured(action: Callable[[], Any]) -> tuple[list[str], int]:
    with meter() as m:
        action()
    return m.operations(), m.items_read


def ok(response: Any) -> Any:
    assert response.status < 300, response.body
    return response.json()


@pytest.mark.parametrize("key", [None, "rt-1"], ids=["plain", "with Idempotency-Key"])
@pytest.mark.parametrize(
    ("name", "body", "floor"),
    [
        ("create now (amount)", {"amount": "100.00"}, (READ_AND_TRANSACT, 3)),
        ("create now (percent)", {"percent": "10"}, (READ_AND_TRANSACT, 3)),
        ("schedule", {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-01"}, (READ_AND_TRANSACT, 1)),
    ],
)
def test_a_progress_billing_reads_once_and_writes_once(books, key, name, body, floor):
    headers = {"Idempotency-Key": key} if key else None
    operations, items = measured(lambda: ok(books.post(f"{ORDER}/progress-billings", body, headers=headers)))
    calls, read = floor
    assert (operations, items) == ([KEY_PUT, *calls, KEY_DONE] if key else calls, read), name


def test_registering_a_job_is_one_conditional_write(books):
    assert measured(lambda: ok(books.post("/orders", order_body("SO-2")))) == (["TransactWriteItems"], 0)
    keyed = measured(lambda: ok(books.post("/orders", order_body("SO-3"), headers={"Idempotency-Key": "rt-2"})))
    assert keyed == ([KEY_PUT, "TransactWriteItems", KEY_DONE], 0)


def test_a_resend_with_the_same_key_is_answered_by_the_idempotency_put_alone(books):
    headers = {"Idempotency-Key": "rt-3"}
    first = ok(books.post(f"{ORDER}/progress-billings", {"amount": "100.00"}, headers=headers))
    operations, items = measured(
        lambda: ok(books.post(f"{ORDER}/progress-billings", {"amount": "100.00"}, headers=headers)) == first
    )
    assert (operations, items) == ([KEY_PUT], 0)


def test_cancel_reads_the_job_and_the_record_together(books):
    rec = ok(books.post(f"{ORDER}/progress-billings", {"amount": "50.00", "schedule": True}))["record"]
    cost = measured(lambda: ok(books.delete(f"{ORDER}/progress-billings/{rec['record_id']}")))
    assert cost == (READ_AND_TRANSACT, 2)


def test_the_final_invoice_reads_no_deposit_invoice(books):
    for _ in range(5):
        ok(books.post(f"{ORDER}/progress-billings", {"amount": "10.00"}))
    assert measured(lambda: ok(books.post(f"{ORDER}/final-invoice"))) == (READ_AND_TRANSACT, 3)


def test_a_shipment_reads_order_counter_settings_and_guard_in_one_call(books):
    assert ok(books.post("/orders", order_body("SO-S"))) is not None
    cost = measured(lambda: ship(shipment_message("SH-RT", "SO-S")))
    assert cost == (READ_AND_TRANSACT, 3)  # the guard is absent: a new shipment


def test_the_automation_costs_one_query_then_a_read_and_a_write_per_due_record(books):
    """... and, once per run, the put of the run's own item (R18: GET /automation/runs)."""
    ok(books.post(f"{ORDER}/progress-billings", {"amount": "50.00", "schedule": True, "invoice_date": "2026-12-01"}))
    operations, items = measured(lambda: run_automation({"business_date": "2026-12-01"}))
    assert (operations, items) == (["Query", *READ_AND_TRANSACT, "PutItem"], 1 + 3)


@pytest.mark.parametrize(
    ("path", "query", "floor"),
    [
        ("/invoices", "from=2030-01-01&to=2030-01-31", (["Query"], 2)),  # one month: its partition alone
        ("/invoices", "customer_id=C-7", (["Query"], 3)),  # the customer's partition
        ("/invoices", "", (["Query"] * 3, 2 + 3)),  # the 2 months that have invoices, then each of them
        ("/ledger/entries", "from=2030-01-01&to=2030-01-31", (["Query"], 2)),
        ("/automation/runs", "", (["Query"], 0)),
    ],
)
def test_a_register_page_is_one_query_per_month_it_reads(books, path, query, floor):
    """R18: through the indexes; the INVOICE# copy and the JE# entry carry their keys, so no write has
    a round trip more (the counts above are unchanged)."""
    for day in ("01", "02"):
        ok(books.post(f"{ORDER}/progress-billings", {"amount": "10.00", "invoice_date": f"2030-01-{day}"}))
    assert measured(lambda: ok(books.get(path, query=query))) == floor
