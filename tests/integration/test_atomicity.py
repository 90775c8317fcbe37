"""Nothing lost, nothing doubled: retries (R11), crashes at every DynamoDB call, round trips."""

from __future__ import annotations

import os

import boto3
import pytest

from local.fixtures import CLERK, order_body
from local.metering import meter
from tests.conftest import table_snapshot


@pytest.fixture
def order(client):
    assert client.post("/orders", order_body()).status == 201  # total 1000.00
    return "/orders/SO-1001"


def _invoices(client, path):
    return client.get(f"{path}/invoices").json()["items"]


def _forget_idempotency_cache():
    """As if the Powertools idempotency records had expired (or never been completed)."""
    ddb = boto3.client("dynamodb")
    table = os.environ["IDEMPOTENCY_TABLE_NAME"]
    for item in ddb.scan(TableName=table)["Items"]:
        ddb.delete_item(TableName=table, Key={"id": item["id"]})


def test_same_key_returns_the_first_response_and_changes_nothing(client, order):
    h = {"Idempotency-Key": "k-1"}
    first = client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers=h)
    assert first.status == 201
    before = table_snapshot()
    again = client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers=h)
    assert (again.status, again.json()) == (201, first.json())
    assert table_snapshot() == before
    assert len(_invoices(client, order)) == 1


def test_idempotency_records_keep_the_ids_the_first_release_wrote(client, order):
    """A deployment that moves code must not orphan the stored keys of the last 24 hours: the record
    id is ``<function name>.billing.http.idempotent.<locals>.once#<hash>``, whatever the module path."""
    client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers={"Idempotency-Key": "pin-1"})
    items = boto3.client("dynamodb").scan(TableName=os.environ["IDEMPOTENCY_TABLE_NAME"])["Items"]
    assert [i["id"]["S"].split("#")[0] for i in items] == ["test-func.billing.http.idempotent.<locals>.once"]


def test_same_key_with_another_body_is_409(client, order):
    h = {"Idempotency-Key": "k-2"}
    client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers=h)
    before = table_snapshot()
    r = client.post(f"{order}/progress-billings", {"amount": "200.00"}, headers=h)
    assert r.status == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert table_snapshot() == before


def test_keys_are_per_caller_and_distinct_keys_bill_separately(client, order):
    client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers={"Idempotency-Key": "a"})
    client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers={"Idempotency-Key": "b"})
    client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers={"Idempotency-Key": "a"}, claims=CLERK)
    assert len(_invoices(client, order)) == 3


def test_a_failed_request_is_not_remembered(client, order):
    h = {"Idempotency-Key": "k-3"}
    r = client.post(f"{order}/progress-billings", {"amount": "5000.00"}, headers=h)
    assert r.json()["error"]["code"] == "OVERBILLING"
    # the client fixes nothing and resends: still refused, not a cached success
    assert client.post(f"{order}/progress-billings", {"amount": "5000.00"}, headers=h).status == 422


def test_resend_after_the_cache_is_gone_still_bills_once(client, order):
    """A crash between the commit and the idempotency record's completion, or an expired cache."""
    h = {"Idempotency-Key": "k-4"}
    rec = client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers=h).json()
    sched = client.post(
        f"{order}/progress-billings",
        {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-01"},
        headers={"Idempotency-Key": "k-5"},
    ).json()
    job = client.post("/projects", order_body("PRJ-9"), headers={"Idempotency-Key": "k-6"}).json()
    final = client.post("/projects/PRJ-9/final-invoice", headers={"Idempotency-Key": "k-7"}).json()
    _forget_idempotency_cache()
    before = table_snapshot()
    assert client.post(f"{order}/progress-billings", {"amount": "100.00"}, headers=h).json() == rec
    assert (
        client.post(
            f"{order}/progress-billings",
            {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-01"},
            headers={"Idempotency-Key": "k-5"},
        ).json()
        == sched
    )
    again = client.post("/projects", order_body("PRJ-9"), headers={"Idempotency-Key": "k-6"}).json()
    assert again["id"] == job["id"] and again["created_at"] == job["created_at"]
    assert client.post("/projects/PRJ-9/final-invoice", headers={"Idempotency-Key": "k-7"}).json() == final
    assert [i for i in table_snapshot() if not i["pk"]["S"].startswith("JOB#project")] == [
        i for i in before if not i["pk"]["S"].startswith("JOB#project")
    ]
    # without the key, a resend is a new request and is refused as such
    assert client.post("/projects", order_body("PRJ-9")).status == 409
    assert client.post("/projects/PRJ-9/final-invoice").status == 409


def _signature(before, after):
    """The kinds of item a change wrote: (pk prefix, sk prefix) of every item added or changed."""
    old = {(i["pk"]["S"], i["sk"]["S"]): i for i in before}
    changed = [(i["pk"]["S"], i["sk"]["S"]) for i in after if old.get((i["pk"]["S"], i["sk"]["S"])) != i]
    return sorted((pk.split("#")[0], sk.split("#")[0] + ("#" if "#" in sk else "")) for pk, sk in changed)


@pytest.mark.parametrize("use_key", [False, True])
@pytest.mark.parametrize("operation", ["create-now", "schedule", "final"])
def test_failing_any_dynamodb_call_leaves_all_or_nothing(client, operation, use_key):
    """Break the k-th DynamoDB call, for every k: the table then holds the whole change or none of it,
    and resending the request afterwards completes it exactly once."""
    outcomes = []
    k = 0
    while True:
        k += 1
        job = f"/orders/SO-{k}"
        client.post("/orders", order_body(f"SO-{k}"))
        client.post(f"{job}/progress-billings", {"amount": "100.00"})  # something to reverse
        path, body = {
            "create-now": (f"{job}/progress-billings", {"amount": "250.00"}),
            "schedule": (f"{job}/progress-billings", {"amount": "250.00", "schedule": True}),
            "final": (f"{job}/final-invoice", None),
        }[operation]
        headers = {"Idempotency-Key": f"crash-{k}"} if use_key else None
        before = table_snapshot()
        with meter(fail_at=k) as m:
            r = client.post(path, body, headers=headers)
        signature = _signature(before, table_snapshot())
        if m.count < k:  # finished before call k: every call has now been broken once
            assert r.status == 201
            complete = signature
            break
        assert r.status == 500 and r.json()["error"]["code"] == "INTERNAL_ERROR", (k, r.body)
        outcomes.append((k, m.calls[k - 1].operation, signature))
        # the client resends (once the Powertools record of the broken attempt has expired)
        _forget_idempotency_cache()
        assert client.post(path, body, headers=headers).status in (201, 409)
        billing = client.get(job).json()
        invoices = _invoices(client, job)
        if operation == "create-now":
            assert (billing["billing"]["deposits_billed"], len(invoices)) == ("350.00", 2), (k, use_key)
        elif operation == "schedule":
            assert billing["billing"]["pending_scheduled"] == "250.00", (k, use_key)
        else:
            assert billing["status"] == "finalized" and len(invoices) == 2, (k, use_key)
    assert k > 2
    assert complete, "a successful change writes something"
    for k_, operation_name, signature in outcomes:
        assert signature in ([], complete), f"breaking call {k_} ({operation_name}) left a partial write"
    # without a key a resend after a lost response is a new request; with one it is exactly once
    if use_key:
        assert any(sig == complete for _, _, sig in outcomes)  # some failures came after the commit
    tb = client.get("/ledger/trial-balance").json()
    assert all(t["balanced"] for t in tb["totals"])


@pytest.mark.parametrize("operation", ["edit", "cancel", "retry"])
def test_failing_any_dynamodb_call_of_a_pending_change_leaves_all_or_nothing(client, operation):
    """R21/R12 the same way: break the k-th DynamoDB call of an edit, a cancel or a retry, for every k;
    the job and the record then both show the change or neither does, and a resend completes it."""
    from tests.integration.test_pending import failed_record

    outcomes = []
    k = 0
    while True:
        k += 1
        if operation == "retry":
            job, rec, other = failed_record(client, f"SO-R{k}")
            assert client.delete(f"{job}/progress-billings/{other['record_id']}").status == 200  # room to retry
            method, url, body = "POST", f"{job}/progress-billings/{rec['record_id']}/retry", None
        else:
            job = f"/orders/SO-P{k}"
            assert client.post("/orders", order_body(f"SO-P{k}")).status == 201
            r = client.post(f"{job}/progress-billings", {"amount": "300.00", "schedule": True})
            rec = r.json()["record"]
            url = f"{job}/progress-billings/{rec['record_id']}"
            method, body = ("PATCH", {"amount": "450.00"}) if operation == "edit" else ("DELETE", None)
        before = table_snapshot()
        with meter(fail_at=k) as m:
            r = client.request(method, url, body)
        signature = _signature(before, table_snapshot())
        if m.count < k:
            assert r.status == 200, r.body
            complete = signature
            break
        assert r.status == 500 and r.json()["error"]["code"] == "INTERNAL_ERROR", (k, r.body)
        outcomes.append((k, m.calls[k - 1].operation, signature))
        assert client.request(method, url, body).status == 200  # the client resends: it completes
    assert k > 2
    assert complete, "a successful change writes something"
    for k_, operation_name, signature in outcomes:
        assert signature in ([], complete), f"breaking call {k_} ({operation_name}) left a partial write"


def test_round_trips_of_create_now_and_final(client, order):
    """After warm-up: create-now and final read once (BatchGetItem) and write once (transaction)."""
    client.post(f"{order}/progress-billings", {"amount": "1.00"})  # warm-up
    with meter() as create:
        client.post(f"{order}/progress-billings", {"amount": "100.00"})
    with meter() as create_keyed:
        client.post(f"{order}/progress-billings", {"percent": "10"}, headers={"Idempotency-Key": "rt-1"})
    with meter() as final:
        client.post(f"{order}/final-invoice", headers={"Idempotency-Key": "rt-2"})
    assert create.operations() == ["BatchGetItem", "TransactWriteItems"]
    assert create_keyed.count <= 4 and final.count <= 4
    assert [op for op in final.operations() if op in ("BatchGetItem", "TransactWriteItems")] == [
        "BatchGetItem",
        "TransactWriteItems",
    ]
    print(
        f"\nround trips: create-now {create.count} ({create.operations()}), "
        f"create-now with Idempotency-Key {create_keyed.count} ({create_keyed.operations()}), "
        f"final with Idempotency-Key {final.count} ({final.operations()})"
    )
