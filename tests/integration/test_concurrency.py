"""Concurrent requests (R6, R7, R9, R11, R13): many threads at once, each request handled as its own
Lambda invocation through the real handlers (``Client`` is safe to share between threads).

The point is the second test pass (``BILLING_TEST_BACKEND=ddblocal``): DynamoDB Local serves the
threads' requests in parallel and evaluates each transaction's conditions atomically with its writes,
as DynamoDB does. On moto, which is not thread-safe, the same tests run with ``atomic_calls`` (each
call made atomic, as a real request is): the threads still interleave between the read and the
conditional write, so the service's optimistic concurrency (job version and invoice counter
conditions, re-read and retry) is exercised on both backends.

Neither engine cancels a transaction with ``TransactionConflict`` (DynamoDB does when two
transactions touch one item at once; DynamoDB Local applies them one at a time, measured), so that
outcome is injected, in DynamoDB's own error shape, by the last tests here.

Each test prints what the engine did (``pytest -s``): transactions committed, or cancelled and why.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from billing import service
from tests.conftest import BACKEND, Client, dynamodb, order_body, table_snapshot

pytestmark = pytest.mark.usefixtures("atomic_calls")


def run_concurrently(n: int, request: Callable[[int], Any], timeout: float = 120) -> list[Any]:
    """Call ``request(i)`` for i in 0..n-1, each on its own thread, all released at once."""
    start = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            start.wait()
            results[i] = request(i)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(i,), name=f"request-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a request did not finish"
    if errors:
        raise errors[0]
    return results


@dataclass
class Transactions:
    """What the engine did with the TransactWriteItems calls made meanwhile."""

    outcomes: Counter[str] = field(default_factory=Counter)
    per_thread: Counter[str] = field(default_factory=Counter)  # TransactWriteItems per request thread
    reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            self.per_thread[threading.current_thread().name] += 1

    def summary(self) -> str:
        total = sum(self.outcomes.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items(), key=lambda kv: -kv[1]))
        most = max(self.per_thread.values(), default=0)
        return (f"[{BACKEND}] {total} TransactWriteItems ({parts}); {self.reads} BatchGetItem; "
                f"at most {most} transactions for one request")


@contextmanager
def transactions() -> Iterator[Transactions]:
    """Classify every TransactWriteItems: committed, or cancelled and why (per-item reason codes)."""
    t = Transactions()
    original = BaseClient._make_api_call

    def observed(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name != "dynamodb" or operation not in ("TransactWriteItems",
                                                                                     "BatchGetItem"):
            return original(self, operation, params)
        if operation == "BatchGetItem":
            with t.lock:
                t.reads += 1
            return original(self, operation, params)
        try:
            response = original(self, operation, params)
        except ClientError as e:
            codes = {r.get("Code") for r in e.response.get("CancellationReasons", []) if r.get("Code") != "None"}
            t.add(f"{e.response['Error']['Code']}: {'+'.join(sorted(c for c in codes if c)) or '-'}")
            raise
        t.add("committed")
        return response

    BaseClient._make_api_call = observed
    try:
        yield t
    finally:
        BaseClient._make_api_call = original
        print(f"\n{t.summary()}")


def codes(responses: list[Any]) -> Counter[tuple[int, str | None]]:
    return Counter((r.status, (r.json().get("error") or {}).get("code") if r.status >= 400 else None)
                   for r in responses)


def assert_books_balance(client: Client) -> dict[str, dict[str, Decimal]]:
    """The trial balance is balanced; returns {account: {debit, credit}} (USD; zeros if unused)."""
    tb = client.get("/ledger/trial-balance").json()
    assert all(t["balanced"] for t in tb["totals"]), tb
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"debit": Decimal(0), "credit": Decimal(0)})
    for a in tb["accounts"]:
        if a["currency"] == "USD":
            out[a["account"]] = {"debit": Decimal(a["debit"]), "credit": Decimal(a["credit"])}
    return out


def test_the_backend_is_the_one_named(client):
    """On ``ddblocal`` the tables live in DynamoDB Local (moto's DynamoDB is empty): no silent fallback."""
    import os

    import boto3

    assert client.post("/orders", order_body()).status == 201
    local_tables = dynamodb().list_tables()["TableNames"]
    assert os.environ["TABLE_NAME"] in local_tables
    if BACKEND == "ddblocal":
        endpoint = os.environ["DYNAMODB_ENDPOINT_URL"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert boto3.client("dynamodb").meta.endpoint_url == endpoint  # AWS_ENDPOINT_URL_DYNAMODB
        moto_tables = boto3.client("dynamodb", endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        assert moto_tables.list_tables()["TableNames"] == []
    else:
        assert "DYNAMODB_ENDPOINT_URL" not in os.environ


def test_concurrent_requests_to_different_functions_each_get_their_own_answer(client):
    """The harness: requests from threads, through different functions at once, are not mixed up."""
    for j in range(6):
        assert client.post("/orders", order_body(f"SO-{j}")).status == 201

    def request(i: int) -> bool:
        j = i % 6
        if i % 2:
            r = client.post(f"/orders/SO-{j}/progress-billings", {"amount": f"{i + 1}.00"})
            return r.status == 201 and r.json()["invoice"]["total"] == f"{i + 1}.00" \
                and r.json()["record"]["job_id"] == f"SO-{j}"
        r = client.get(f"/orders/SO-{j}")
        return r.status == 200 and r.json()["id"] == f"SO-{j}"

    for _ in range(3):
        assert all(run_concurrently(12, request))


def test_concurrent_deposits_on_one_job_never_overbill_and_lose_nothing(client):
    """20 x 100.00 at once on a 1000.00 order: exactly 10 accepted, 10 refused, all 10 invoiced."""
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00
    order = "/orders/SO-1001"
    with transactions():
        responses = run_concurrently(20, lambda i: client.post(
            f"{order}/progress-billings", {"amount": "100.00", "title": f"deposit {i}"}))
    assert codes(responses) == {(201, None): 10, (422, "OVERBILLING"): 10}, [r.body for r in responses]

    job = client.get(order).json()
    assert (job["billing"]["deposits_billed"], job["billing"]["remaining"]) == ("1000.00", "0.00")
    invoices = client.get(f"{order}/invoices").json()["items"]
    assert len(invoices) == 10
    assert len({i["number"] for i in invoices}) == 10
    accepted = [r.json() for r in responses if r.status == 201]
    # nothing accepted is lost: each 201's invoice and record are stored as answered
    assert {a["invoice"]["invoice_id"] for a in accepted} == {i["invoice_id"] for i in invoices}
    for a in accepted:
        assert client.get(f"/invoices/{a['invoice']['invoice_id']}").json() == a["invoice"]
    records = client.get(f"{order}/progress-billings").json()["items"]
    assert sorted((r["status"], r["invoice_id"]) for r in records) == \
        sorted(("invoiced", a["invoice"]["invoice_id"]) for a in accepted)
    # the billing block of each invoice tells a consistent story: 100.00 more each time
    assert sorted(Decimal(i["billing"]["billed_to_date"]) for i in invoices) == [100 * k for k in range(1, 11)]
    books = assert_books_balance(client)
    assert books["1200"]["debit"] == books["2400"]["credit"] == Decimal("1000.00")


# Every invoice in the stack takes the next number from one counter item, so concurrent invoices on
# different jobs contend on it (and on the ledger's balance items): one commits per round, the others
# re-read and retry (service.with_retry, MAX_ATTEMPTS, then 503 BUSY). Measured on DynamoDB
# Local in this harness, the unluckiest request needs: 12 invoices at once, 6-7 transactions; 20 at
# once, 8-10 (the whole budget), and 21 requests on three jobs got a 503 BUSY once in about 60 runs.
# Hence at most 12 contending invoices per test here (the lone job of the 20-thread test is full
# after 10 invoices and the other requests are refused, not retried: 5-8 transactions).
JOBS_AT_ONCE = 12


def test_concurrent_create_now_on_different_jobs_numbers_invoices_without_gaps(client):
    """One deposit on each of several jobs at once: all succeed, numbered INV-000001..n, no gap or
    repeat, in issue order, and the ledger's balances are the sum of the invoices."""
    n = JOBS_AT_ONCE
    for j in range(n):
        assert client.post("/orders" if j % 2 else "/projects", order_body(f"J-{j}")).status == 201
    paths = [f"/orders/J-{j}" if j % 2 else f"/projects/J-{j}" for j in range(n)]
    with transactions():
        responses = run_concurrently(n, lambda j: client.post(f"{paths[j]}/progress-billings",
                                                              {"amount": f"{j + 1}.25"}))
    assert codes(responses) == {(201, None): n}, [r.body for r in responses if r.status != 201]

    invoices = [i for p in paths for i in client.get(f"{p}/invoices").json()["items"]]
    assert sorted(i["number"] for i in invoices) == [f"INV-{k:06d}" for k in range(1, n + 1)]
    assert {i["invoice_id"] for i in invoices} == {r.json()["invoice"]["invoice_id"] for r in responses}
    for j, p in enumerate(paths):
        assert client.get(p).json()["billing"]["deposits_billed"] == f"{j + 1}.25"
    # R13: numbers increase in issue order
    by_number = sorted(invoices, key=lambda i: i["number"])
    assert [i["issued_at"] for i in by_number] == sorted(i["issued_at"] for i in invoices)
    total = sum(Decimal(i["total"]) for i in invoices)
    assert total == sum(Decimal(f"{j}.25") for j in range(1, n + 1))
    books = assert_books_balance(client)
    assert books["1200"]["debit"] == books["2400"]["credit"] == total


def test_a_final_invoice_racing_deposits_reverses_exactly_the_accepted_ones(client):
    """Per job, a final invoice and five deposits at once (two jobs side by side): the job ends
    finalized, every deposit that got 201 is reversed on the final, every other one got 409."""
    jobs = [f"/orders/R-{j}" for j in range(2)]
    for p in jobs:
        assert client.post("/orders", order_body(p.rsplit("/", 1)[1])).status == 201
    plan = [(p, "final" if k == 2 else "deposit") for p in jobs for k in range(6)]

    def request(i: int) -> Any:
        path, what = plan[i]
        if what == "final":
            return client.post(f"{path}/final-invoice", {"title": "Final"})
        return client.post(f"{path}/progress-billings", {"amount": "50.00"})

    with transactions():
        responses = run_concurrently(len(plan), request)

    report = []
    for p in jobs:
        mine = [(what, r) for (path, what), r in zip(plan, responses, strict=True) if path == p]
        (final,) = [r for what, r in mine if what == "final"]
        assert final.status == 201, final.body
        deposits = [r for what, r in mine if what == "deposit"]
        assert set(codes(deposits)) <= {(201, None), (409, "JOB_FINALIZED")}, [r.body for r in deposits]
        accepted = {r.json()["invoice"]["invoice_id"] for r in deposits if r.status == 201}
        report.append(f"{p}: {len(accepted)} deposits before the final, {len(deposits) - len(accepted)} after")

        job = client.get(p).json()
        assert job["status"] == "finalized"
        inv = final.json()["invoice"]
        reversed_ = [ln["reverses_invoice_id"] for ln in inv["lines"] if ln["code"] == "DEPOSIT"]
        assert sorted(reversed_) == sorted(accepted)
        assert all(Decimal(ln["amount"]) == Decimal("-50.00") for ln in inv["lines"] if ln["code"] == "DEPOSIT")
        assert Decimal(inv["total"]) == Decimal("1000.00") - 50 * len(accepted)
        stored = client.get(f"{p}/invoices").json()["items"]
        assert sorted(i["invoice_id"] for i in stored) == sorted([*accepted, inv["invoice_id"]])
        # a deposit now is refused
        late = client.post(f"{p}/progress-billings", {"amount": "1.00"})
        assert (late.status, late.json()["error"]["code"]) == (409, "JOB_FINALIZED")
    print("\n" + "; ".join(report))
    books = assert_books_balance(client)
    assert books["2400"]["debit"] == books["2400"]["credit"]  # every deposit reversed
    assert books["4000"]["credit"] == Decimal("1000.00") * len(jobs)
    numbers = [i["number"] for p in jobs for i in client.get(f"{p}/invoices").json()["items"]]
    assert len(numbers) == len(set(numbers))


@pytest.mark.parametrize("path_body", [("progress-billings", {"amount": "250.00"}),
                                       ("final-invoice", {"title": "Final"})], ids=["deposit", "final"])
def test_one_idempotency_key_sent_by_many_threads_at_once_bills_once(client, path_body):
    """R11 under concurrency: one invoice; each answer is the first response or 409 'in progress'."""
    path, body = path_body
    assert client.post("/orders", order_body()).status == 201
    url = f"/orders/SO-1001/{path}"
    headers = {"Idempotency-Key": "same-key-for-all"}
    with transactions():
        responses = run_concurrently(8, lambda i: client.post(url, body, headers=headers))
    print(f"\n{path}: {dict(codes(responses))}")
    ok = [r for r in responses if r.status == 201]
    assert ok, [r.body for r in responses]
    assert all(r.json() == ok[0].json() for r in ok), "every 201 is the same, first, response"
    for r in responses:
        if r.status != 201:
            assert (r.status, r.json()["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT"), r.body
            assert "in progress" in r.json()["error"]["message"]
    invoices = client.get("/orders/SO-1001/invoices").json()["items"]
    assert [i["invoice_id"] for i in invoices] == [ok[0].json()["invoice"]["invoice_id"]]
    # once the first has completed, a resend replays it
    again = client.post(url, body, headers=headers)
    assert (again.status, again.json()) == (201, ok[0].json())
    assert_books_balance(client)


def _cancel_transactions(count: int, reason: str = "TransactionConflict") -> Any:
    """Cancel the next ``count`` TransactWriteItems as DynamoDB does when another transaction is
    writing one of the items at that moment (the request never reaches the table)."""
    original = BaseClient._make_api_call
    seen = []

    def cancelling(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb" and operation == "TransactWriteItems":
            seen.append(operation)
            if len(seen) <= count:
                reasons = [{"Code": "None"}] * len(params["TransactItems"])
                reasons[-1] = {"Code": reason, "Message": "Transaction is ongoing for the item"}
                raise ClientError({
                    "Error": {"Code": "TransactionCanceledException",
                              "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                                         f"reasons [{', '.join(r['Code'] for r in reasons)}]"},
                    "CancellationReasons": reasons}, operation)
        return original(self, operation, params)

    return cancelling, seen


@pytest.mark.parametrize("path_body", [("progress-billings", {"amount": "250.00"}),
                                       ("final-invoice", None)], ids=["deposit", "final"])
def test_a_transaction_conflict_is_retried(client, monkeypatch, path_body):
    path, body = path_body
    assert client.post("/orders", order_body()).status == 201
    cancelling, seen = _cancel_transactions(3)
    monkeypatch.setattr(BaseClient, "_make_api_call", cancelling)
    r = client.post(f"/orders/SO-1001/{path}", body)
    monkeypatch.undo()
    assert r.status == 201, r.body
    assert len(seen) == 4  # three cancelled, the fourth committed
    invoices = client.get("/orders/SO-1001/invoices").json()["items"]
    assert [i["invoice_id"] for i in invoices] == [r.json()["invoice"]["invoice_id"]] == ["INV-000001"]
    assert_books_balance(client)


def test_conflicts_past_the_retry_budget_are_503_busy_and_change_nothing(client, monkeypatch):
    assert client.post("/orders", order_body()).status == 201
    before = table_snapshot()
    cancelling, seen = _cancel_transactions(service.MAX_ATTEMPTS)
    monkeypatch.setattr(BaseClient, "_make_api_call", cancelling)
    monkeypatch.setattr(service.time, "sleep", lambda s: None)  # the backoff, not what is tested
    r = client.post("/orders/SO-1001/progress-billings", {"amount": "250.00"})
    monkeypatch.undo()
    assert (r.status, r.json()["error"]["code"], r.headers.get("retry-after")) == (503, "BUSY", "1")
    assert len(seen) == service.MAX_ATTEMPTS
    assert table_snapshot() == before
    # and the client's retry then succeeds
    assert client.post("/orders/SO-1001/progress-billings", {"amount": "250.00"}).status == 201
