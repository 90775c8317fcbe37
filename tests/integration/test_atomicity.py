"""Nothing lost, nothing doubled: retries (R11), crashes at every DynamoDB call, round trips."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from local.fixtures import CLERK, order_body, ship, shipment_message
from local.metering import InjectedFailure, intercept, meter
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
    print(f"\n{operation} (key: {use_key}): {[(k_, op, 'all' if sig else 'none') for k_, op, sig in outcomes]}")
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


def _void_target(client, operation: str, k: int) -> tuple[str, str]:
    """A fresh order SO-V<k> with the invoice ``operation`` voids: (the order's path, the invoice id)."""
    job = f"/orders/SO-V{k}"
    assert client.post("/orders", order_body(f"SO-V{k}")).status == 201  # total 1000.00
    if operation == "void-shipment":
        ship(shipment_message(f"SH-V{k}", f"SO-V{k}", lines=[{"line_id": "1", "quantity": "4"}]))
        (invoice,) = _invoices(client, job)
        assert (invoice["type"], invoice["total"]) == ("shipment", "400.00")
        return job, invoice["invoice_id"]
    r = client.post(f"{job}/progress-billings", {"amount": "250.00"})
    assert r.status == 201, r.body
    if operation == "void-deposit":
        return job, r.json()["invoice"]["invoice_id"]
    r = client.post(f"{job}/final-invoice")
    assert r.status == 201, r.body
    return job, r.json()["invoice"]["invoice_id"]


def _correction(client, operation: str, k: int) -> tuple[str, str, str, dict[str, Any]]:
    """A fresh order SO-V<k> ready for ``operation``: (its path, the invoice to void or "", the
    request's path and body). A change order takes line 1 from 10 to 12 (total 1200.00)."""
    if operation == "change-order":
        job = f"/orders/SO-V{k}"
        assert client.post("/orders", order_body(f"SO-V{k}")).status == 201
        assert client.post(f"{job}/progress-billings", {"amount": "250.00"}).status == 201
        return job, "", f"{job}/change-orders", {"reason": "two more", "lines": [{"line_id": "1", "quantity": "12"}]}
    job, target = _void_target(client, operation, k)
    return job, target, f"/invoices/{target}/void", {"reason": "billed in error", "void_date": "2026-12-15"}


def _assert_found_again(operation: str, target: str, again, use_key: bool) -> None:
    """A resend of a correction that committed: with its Idempotency-Key, the first answer again (the
    same credit note or change order); without one it is a new request, refused as such."""
    if use_key:
        assert again.status == 201, again.body
        if operation == "change-order":
            assert again.json()["change_order"]["change_order_id"] == "CO-1"
        else:
            assert again.json()["credit_note"]["voids_invoice_id"] == target
    elif operation == "change-order":  # the lines already say so
        assert (again.status, again.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), again.body
    else:
        assert (again.status, again.json()["error"]["code"]) == (409, "ALREADY_VOIDED"), again.body


def _assert_corrected_once(client, operation: str, job: str, target: str) -> None:
    """What the whole change shows, once: one credit note voiding ``target`` and its effect on the job
    (R14), or the one change order CO-1 (R15)."""
    state = client.get(job).json()
    if operation == "change-order":
        assert [co["change_order_id"] for co in client.get(f"{job}/change-orders").json()["items"]] == ["CO-1"]
        assert (state["total"], state["lines"][0]["quantity"], state["change_order_count"]) == ("1200.00", "12", 1)
        return
    invoices = {i["invoice_id"]: i for i in _invoices(client, job)}
    credits = [i for i in invoices.values() if i["type"] == "credit_note"]
    assert [c["voids_invoice_id"] for c in credits] == [target], "exactly one credit note"
    (credit,) = credits
    original = invoices[target]
    assert (original["status"], original["voided_by_invoice_id"]) == ("voided", credit["invoice_id"])
    assert client.get(f"/invoices/{target}").json()["status"] == "voided"  # both copies
    assert credit["total"] == f"-{original['total']}"
    entries = {e["invoice_id"]: e for e in client.get(f"{job}/ledger").json()["items"]}
    assert sorted((ln["account"], ln["credit"], ln["debit"]) for ln in entries[target]["lines"]) == sorted(
        (ln["account"], ln["debit"], ln["credit"]) for ln in entries[credit["invoice_id"]]["lines"]
    )
    billing = state["billing"]
    if operation == "void-deposit":
        (record,) = client.get(f"{job}/progress-billings").json()["items"]
        assert (record["status"], record["credit_note_id"]) == ("voided", credit["invoice_id"])
        assert (state["status"], billing["deposits_billed"], billing["deposit_balance"]) == ("open", "0.00", "0.00")
    elif operation == "void-shipment":
        (shipment,) = client.get(f"{job}/shipments").json()["items"]
        assert shipment["status"] == "invoice_voided"
        assert (state["status"], billing["shipments_billed"]) == ("open", "0.00")
    else:
        assert (state["status"], state["reopen_count"], billing["deposit_balance"]) == ("open", 1, "250.00")


@pytest.mark.parametrize("use_key", [False, True])
@pytest.mark.parametrize("operation", ["void-deposit", "void-shipment", "void-final", "change-order"])
def test_failing_any_dynamodb_call_of_a_correction_leaves_all_or_nothing(client, operation, use_key):
    """R14/R15 the same way: break the k-th DynamoDB call of a void (of each kind of invoice) or of a
    change order, for every k: the table then holds the whole correction (credit note, its entry, the
    balances, both copies of the voided invoice, the job, the record or shipment; or the job and its
    change order) or none of it. Resending afterwards completes it exactly once: one credit note, one
    change order, and a resend after a commit whose answer was lost changes nothing more."""
    if operation == "void-shipment":
        assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    outcomes = []
    k = 0
    while True:
        k += 1
        job, target, path, body = _correction(client, operation, k)
        headers = {"Idempotency-Key": f"fix-{k}"} if use_key else None
        before = table_snapshot()
        with meter(fail_at=k) as m:
            r = client.post(path, body, headers=headers)
        crashed = table_snapshot()
        signature = _signature(before, crashed)
        if m.count < k:  # finished before call k: every call has now been broken once
            assert r.status == 201, r.body
            complete = signature
            _assert_corrected_once(client, operation, job, target)
            break
        assert r.status == 500 and r.json()["error"]["code"] == "INTERNAL_ERROR", (k, r.body)
        # the client resends (once the Powertools record of the broken attempt has expired)
        _forget_idempotency_cache()
        again = client.post(path, body, headers=headers)
        resent = table_snapshot()
        if signature == []:  # nothing was written: the resend makes the whole change
            assert again.status == 201, (k, again.body)
        else:  # it committed and the answer was lost: the resend finds it and writes nothing more
            _assert_found_again(operation, target, again, use_key)
            assert resent == crashed, f"the resend after breaking call {k} wrote again"
        outcomes.append((k, m.calls[k - 1].operation, signature, _signature(before, resent)))
        _assert_corrected_once(client, operation, job, target)
    assert k > 2
    assert complete, "a successful correction writes something"
    for k_, operation_name, signature, after_resend in outcomes:
        assert signature in ([], complete), f"breaking call {k_} ({operation_name}) left a partial write"
        assert after_resend == complete, f"the resend after breaking call {k_} ({operation_name}) is not whole"
    if use_key:
        assert any(sig == complete for _, _, sig, _ in outcomes)  # some failures came after the commit
    print(f"\n{operation} (key: {use_key}): {[(k_, op, 'all' if sig else 'none') for k_, op, sig, _ in outcomes]}")
    tb = client.get("/ledger/trial-balance").json()
    assert all(t["balanced"] for t in tb["totals"])


def _commit_answer_lost(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
    """The transaction commits, and its answer never reaches the function (a timeout, a crash)."""
    response = proceed()
    if operation == "TransactWriteItems":
        raise InjectedFailure("the answer of a committed TransactWriteItems was lost")
    return response


@pytest.mark.parametrize("use_key", [False, True])
@pytest.mark.parametrize("operation", ["void-deposit", "void-shipment", "void-final", "change-order"])
def test_a_correction_whose_commit_answer_is_lost_is_whole_and_applied_once(client, operation, use_key):
    """The one case the loop above cannot reach without a key: the transaction committed but the
    function never heard back (500). The whole correction is stored, and the client's resend, with its
    key or without one, neither voids twice nor applies the change order twice."""
    if operation == "void-shipment":
        assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    job, target, path, body = _correction(client, operation, 1)
    before = table_snapshot()
    twin = {"Idempotency-Key": "twin-1"} if use_key else None
    assert client.post(path, body, headers=twin).status == 201  # what a whole correction writes, on a twin
    complete = _signature(before, table_snapshot())
    job, target, path, body = _correction(client, operation, 2)
    headers = {"Idempotency-Key": "lost-1"} if use_key else None
    before = table_snapshot()
    with intercept(_commit_answer_lost):
        r = client.post(path, body, headers=headers)
    assert (r.status, r.json()["error"]["code"]) == (500, "INTERNAL_ERROR"), r.body
    committed = table_snapshot()
    assert _signature(before, committed) == complete, "the committed correction is whole"
    _assert_corrected_once(client, operation, job, target)
    _forget_idempotency_cache()
    _assert_found_again(operation, target, client.post(path, body, headers=headers), use_key)
    assert table_snapshot() == committed
    _assert_corrected_once(client, operation, job, target)
