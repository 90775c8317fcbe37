"""Concurrent requests (R6, R7, R9, R11, R13): many at once, each in its own Lambda execution
environment, through the real handlers, racing on the same tables.

In AWS each concurrent invocation runs in its own execution environment, one request at a time, so
that is how they run here: each request in its own worker PROCESS (``ExecutionEnvironments``), with
the test's tables and endpoint, all released at once by a barrier, calling ``local.gateway.invoke``
and sending back the ``HttpResult``. Nothing of Powertools is patched: its resolvers keep the
request being resolved in process-wide state, which is right for one invocation per process.

The workers come from a ``forkserver``, not a plain ``fork`` of the test process: a forked child
would inherit the test process's open keep-alive connections to the engine (the service's cached
clients, used by the test a moment before), one TCP stream then shared by sibling processes whose
requests and responses interleave, and would be forked from a process with threads running
(xdist's). The fork server has imported the code (this module, and ``warm_environment``: the
functions' init phase) but never made a request, so each worker starts like a fresh, initialised
execution environment with its own clients, in milliseconds. The test's environment (table names,
endpoint: ``Sandbox.env``) reaches it through the pool's initializer.

Processes share tables only through a real engine: these HTTP-level tests are ``ddblocal`` (the
second pass), where every worker talks to the same DynamoDB Local engine, which serves requests in
parallel and evaluates each transaction's conditions atomically with its writes, as DynamoDB does.
On moto (in memory, per process) the same optimistic-concurrency paths (job version and invoice
counter conditions, re-read and retry, the idempotency token) are raced by calling the service's
functions (``service.create_record``, ``create_final``, which touch no resolver) from threads, each
DynamoDB call made atomic (``atomic_calls``: ``local.metering.serialized``, as a real request is):
the threads still interleave between the read and the conditional write; the same checks follow
each race in both forms (the service form is moto's only: on DynamoDB Local the HTTP form covers it).

Neither engine cancels a transaction with ``TransactionConflict`` (DynamoDB does when two
transactions touch one item at once; DynamoDB Local applies them one at a time, measured), so that
outcome is injected, in DynamoDB's own error shape, by the last tests here (``local.metering``).

Each test prints what the engine did (``pytest -s``): transactions committed, or cancelled and why.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing import forkserver
from typing import Any

import pytest
from botocore.exceptions import ClientError

from billing import service
from billing.documents import Actor, Kind
from billing.errors import BillingError
from local import cfn
from local.fixtures import ADMIN, order_body, ship, shipment_message
from local.gateway import HttpResult, invoke
from local.metering import Handler, intercept
from local.sandbox import Sandbox
from tests.conftest import BACKEND, Client, dynamodb, table_snapshot

ddblocal = pytest.mark.ddblocal  # processes share tables only through a real engine
# The service's own functions from threads: moto's form of each race (on DynamoDB Local, the HTTP form
# covers it, through the real handlers; running both there would only lengthen the second pass).
moto_only = pytest.mark.skipif(BACKEND == "ddblocal", reason="on DynamoDB Local the HTTP form of this race runs")

# ---- what the engine did --------------------------------------------------------------------------


@dataclass
class Transactions:
    """What the engine did with the TransactWriteItems calls made meanwhile."""

    outcomes: Counter[str] = field(default_factory=Counter)
    per_request: Counter[str] = field(default_factory=Counter)  # TransactWriteItems per request
    reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: str, outcome: str) -> None:
        with self.lock:
            if outcome == READ:
                self.reads += 1
            else:
                self.outcomes[outcome] += 1
                self.per_request[request] += 1

    def summary(self) -> str:
        total = sum(self.outcomes.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items(), key=lambda kv: -kv[1]))
        most = max(self.per_request.values(), default=0)
        return (
            f"[{BACKEND}] {total} TransactWriteItems ({parts}); {self.reads} BatchGetItem; "
            f"at most {most} transactions for one request"
        )


READ = "BatchGetItem"
BY: Actor = {"sub": ADMIN["sub"], "username": ADMIN["cognito:username"]}  # R20: the service-level callers


def observer(record: Callable[[str], None]) -> Handler:
    """An interceptor classifying every TransactWriteItems: committed, or cancelled and why
    (per-item reason codes); and counting BatchGetItem."""

    def observed(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        if operation == READ:
            record(READ)
            return proceed()
        if operation != "TransactWriteItems":
            return proceed()
        try:
            response = proceed()
        except ClientError as e:
            codes = {r.get("Code") for r in e.response.get("CancellationReasons", []) if r.get("Code") != "None"}
            record(f"{e.response['Error']['Code']}: {'+'.join(sorted(c for c in codes if c)) or '-'}")
            raise
        record("committed")
        return response

    return observed


@contextmanager
def transactions() -> Iterator[Transactions]:
    """Observe the calls made in this process meanwhile (any thread; a request is a thread)."""
    t = Transactions()
    try:
        with intercept(observer(lambda outcome: t.add(threading.current_thread().name, outcome))):
            yield t
    finally:
        print(f"\n{t.summary()}")


# ---- many execution environments at once: worker processes --------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] | None = None


_start: Any = None  # in a worker: the barrier that releases the requests at once


def _enter(env: dict[str, str], start: Any) -> None:
    """A worker's initializer: the test's tables and endpoint, and its functions loaded."""
    global _start
    from billing import config

    # The environment's tables and endpoint; no moto here: a request makes DynamoDB calls only, all to
    # the engine, and any other AWS client would get an endpoint that refuses it at once.
    os.environ.update({**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    config.reset()
    for route in cfn.http_routes():  # loaded by the fork server already (warm_environment): a no-op
        cfn.load_handler_module(route.code_uri)
    _start = start


def _handle(request: Request) -> tuple[HttpResult, list[str]]:
    """In a worker: wait for the others, then one request as API Gateway would send it."""
    seen: list[str] = []
    _start.wait(timeout=60)
    with intercept(observer(seen.append)):
        result = invoke(
            request.method,
            request.path,
            headers=request.headers,
            claims=ADMIN,
            body=None if request.body is None else json.dumps(request.body),
        )
    return result, seen


def fork_server() -> Any:
    """The ``forkserver`` context, its server started with this module and the functions' init phase
    imported (``warm_environment``): each environment forked from it starts warm but unconnected."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, f"{__package__}.warm_environment"])
    # The server imports those with the environment's PYTHONPATH, not this process's sys.path (which
    # only its children get): hand it over while it starts (once per process).
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    return context


class ExecutionEnvironments:
    """``n`` worker processes, each an execution environment serving one request at a time."""

    def __init__(self, n: int, box: Sandbox) -> None:
        context = fork_server()
        self.n = n
        self.pool = ProcessPoolExecutor(
            n, mp_context=context, initializer=_enter, initargs=(box.env, context.Barrier(n))
        )

    def run(
        self, requests: list[Request], observed: Transactions | None = None, timeout: float = 120
    ) -> list[HttpResult]:
        """Send ``n`` requests at once, one per environment; their results in order."""
        assert len(requests) == self.n, "one request per environment: the barrier waits for all"
        results = []
        for i, (result, seen) in enumerate(self.pool.map(_handle, requests, timeout=timeout)):
            if observed is not None:
                for outcome in seen:
                    observed.add(f"request-{i}", outcome)
            results.append(result)
        return results

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


@pytest.fixture
def environments(aws: Sandbox) -> Iterator[Callable[[int], ExecutionEnvironments]]:
    """``environments(n)``: n execution environments on this test's tables (shut down afterwards)."""
    made: list[ExecutionEnvironments] = []

    def make(n: int) -> ExecutionEnvironments:
        made.append(ExecutionEnvironments(n, aws))
        return made[-1]

    yield make
    for envs in made:
        envs.close()


def send_at_once(environments: Callable[[int], ExecutionEnvironments], requests: list[Request]) -> list[HttpResult]:
    """Each request in its own execution environment, all at once; prints what the engine did."""
    t = Transactions()
    try:
        return environments(len(requests)).run(requests, t)
    finally:
        print(f"\n{t.summary()}")


# ---- many threads at once, calling the service (no HTTP) ------------------------------------------


def run_concurrently(n: int, call: Callable[[int], Any], timeout: float = 120) -> list[Any]:
    """Call ``call(i)`` for i in 0..n-1, each on its own thread, all released at once."""
    start = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            start.wait()
            results[i] = call(i)
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


ORDER, PROJECT = Kind.ORDER, Kind.PROJECT


@dataclass(frozen=True)
class Answer:
    """A service call's answer as the HTTP layer would send it: 201 and the result, or the error's
    status and body (``status``, ``body`` and ``json()``, as an ``HttpResult``)."""

    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def answer(call: Callable[[], Any]) -> Answer:
    try:
        return Answer(201, json.dumps(call()))
    except BillingError as e:
        return Answer(e.status, json.dumps(e.body()))


def deposit(kind: Kind, job_id: str, body: dict[str, Any], token: str | None = None) -> Answer:
    """``POST /{kind}s/{job_id}/progress-billings``, in the service."""
    from billing.inputs import RecordIn

    return answer(lambda: service.create_record(kind, job_id, RecordIn.model_validate(body), token, by=BY))


def final(kind: Kind, job_id: str, body: dict[str, Any], token: str | None = None) -> Answer:
    """``POST /{kind}s/{job_id}/final-invoice``, in the service."""
    from billing.inputs import FinalIn

    return answer(lambda: service.create_final(kind, job_id, FinalIn.model_validate(body), token, by=BY))


def codes(responses: list[Any]) -> Counter[tuple[int, str | None]]:
    return Counter(
        (r.status, (r.json().get("error") or {}).get("code") if r.status >= 400 else None) for r in responses
    )


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


@ddblocal
def test_concurrent_requests_to_different_functions_each_get_their_own_answer(client, environments):
    """The harness: requests at once, through different functions, each get their own answer."""
    for j in range(6):
        assert client.post("/orders", order_body(f"SO-{j}")).status == 201

    def request(i: int) -> Request:
        j = i % 6
        if i % 2:
            return Request("POST", f"/orders/SO-{j}/progress-billings", {"amount": f"{i + 1}.00"})
        return Request("GET", f"/orders/SO-{j}")

    def answered(i: int, r: HttpResult) -> bool:
        j = i % 6
        if i % 2:
            return (
                r.status == 201
                and r.json()["invoice"]["total"] == f"{i + 1}.00"
                and r.json()["record"]["job_id"] == f"SO-{j}"
            )
        return r.status == 200 and r.json()["id"] == f"SO-{j}"

    envs = environments(12)
    for _ in range(3):  # the same environments each time, warm, as Lambda reuses them
        assert all(answered(i, r) for i, r in enumerate(envs.run([request(i) for i in range(12)])))


# Each race below runs twice: HTTP requests, each in its own execution environment (DynamoDB Local
# only), and the service's own functions from threads (both backends); the same checks follow.


def deposits_on_one_job(client: Client, responses: list[Any]) -> None:
    """20 x 100.00 at once on a 1000.00 order: exactly 10 accepted, 10 refused, all 10 invoiced."""
    order = "/orders/SO-1001"
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
    assert sorted((r["status"], r["invoice_id"]) for r in records) == sorted(
        ("invoiced", a["invoice"]["invoice_id"]) for a in accepted
    )
    # the billing block of each invoice tells a consistent story: 100.00 more each time
    assert sorted(Decimal(i["billing"]["billed_to_date"]) for i in invoices) == [100 * k for k in range(1, 11)]
    books = assert_books_balance(client)
    assert books["1200"]["debit"] == books["2400"]["credit"] == Decimal("1000.00")


@ddblocal
def test_concurrent_deposits_on_one_job_never_overbill_and_lose_nothing(client, environments):
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00
    deposits_on_one_job(
        client,
        send_at_once(
            environments,
            [
                Request("POST", "/orders/SO-1001/progress-billings", {"amount": "100.00", "title": f"deposit {i}"})
                for i in range(20)
            ],
        ),
    )


@moto_only
def test_service_deposits_at_once_on_one_job_never_overbill_and_lose_nothing(client, atomic_calls):
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00
    with transactions():
        responses = run_concurrently(
            20, lambda i: deposit(ORDER, "SO-1001", {"amount": "100.00", "title": f"deposit {i}"})
        )
    deposits_on_one_job(client, responses)


# Every invoice in the stack takes the next number from one counter item, so concurrent invoices on
# different jobs contend on it (and on the ledger's balance items): one commits per round, the others
# re-read and retry (service.with_retry, MAX_ATTEMPTS, then 503 BUSY). Measured on DynamoDB
# Local with requests from threads, the unluckiest request needs: 12 invoices at once, 6-7
# transactions; 20 at once, 8-10, and 21 requests on three jobs got a 503 BUSY once in about 60 runs
# (with a budget of 10 attempts then).
# Hence at most 12 contending invoices per test here (the lone job of the 20-request test is full
# after 10 invoices and the other requests are refused, not retried: 5-8 transactions).
JOBS_AT_ONCE = 12
PATHS = [f"/orders/J-{j}" if j % 2 else f"/projects/J-{j}" for j in range(JOBS_AT_ONCE)]


def register_jobs_j(client: Client) -> None:
    for j, path in enumerate(PATHS):
        assert client.post(path.rsplit("/", 1)[0], order_body(f"J-{j}")).status == 201


def invoices_on_different_jobs(client: Client, responses: list[Any]) -> None:
    """One deposit on each of several jobs at once: all succeed, numbered INV-000001..n, no gap or
    repeat, in issue order, and the ledger's balances are the sum of the invoices."""
    n, paths = JOBS_AT_ONCE, PATHS
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


@ddblocal
def test_concurrent_create_now_on_different_jobs_numbers_invoices_without_gaps(client, environments):
    register_jobs_j(client)
    invoices_on_different_jobs(
        client,
        send_at_once(
            environments,
            [Request("POST", f"{p}/progress-billings", {"amount": f"{j + 1}.25"}) for j, p in enumerate(PATHS)],
        ),
    )


@moto_only
def test_service_create_now_on_different_jobs_numbers_invoices_without_gaps(client, atomic_calls):
    register_jobs_j(client)
    with transactions():
        responses = run_concurrently(
            JOBS_AT_ONCE,
            lambda j: deposit(
                PROJECT if PATHS[j].startswith("/projects") else ORDER, f"J-{j}", {"amount": f"{j + 1}.25"}
            ),
        )
    invoices_on_different_jobs(client, responses)


RACING = [(f"/orders/R-{j}", "final" if k == 2 else "deposit") for j in range(2) for k in range(6)]


def register_jobs_r(client: Client) -> None:
    for j in range(2):
        assert client.post("/orders", order_body(f"R-{j}")).status == 201


def final_racing_deposits(client: Client, responses: list[Any]) -> None:
    """Per job, a final invoice and five deposits at once (two jobs side by side): the job ends
    finalized, every deposit that got 201 is reversed on the final, every other one got 409."""
    jobs, plan = sorted({p for p, _ in RACING}), RACING
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


@ddblocal
def test_a_final_invoice_racing_deposits_reverses_exactly_the_accepted_ones(client, environments):
    register_jobs_r(client)
    final_racing_deposits(
        client,
        send_at_once(
            environments,
            [
                Request("POST", f"{path}/final-invoice", {"title": "Final"})
                if what == "final"
                else Request("POST", f"{path}/progress-billings", {"amount": "50.00"})
                for path, what in RACING
            ],
        ),
    )


@moto_only
def test_service_final_invoice_racing_deposits_reverses_exactly_the_accepted_ones(client, atomic_calls):
    register_jobs_r(client)

    def call(i: int) -> Answer:
        path, what = RACING[i]
        job_id = path.rsplit("/", 1)[1]
        return (
            final(ORDER, job_id, {"title": "Final"}) if what == "final" else deposit(ORDER, job_id, {"amount": "50.00"})
        )

    with transactions():
        responses = run_concurrently(len(RACING), call)
    final_racing_deposits(client, responses)


ONCE = [("progress-billings", {"amount": "250.00"}), ("final-invoice", {"title": "Final"})]


def billed_once(
    client: Client, path: str, responses: list[Any], resend: Callable[[], Any], *, in_progress: bool = True
) -> None:
    """R11 under concurrency: one invoice; each answer is the first response or, where Powertools'
    idempotency record answers (``in_progress``), 409 'in progress'."""
    print(f"\n{path}: {dict(codes(responses))}")
    ok = [r for r in responses if r.status == 201]
    assert ok, [r.body for r in responses]
    assert all(r.json() == ok[0].json() for r in ok), "every 201 is the same, first, response"
    if not in_progress:
        assert len(ok) == len(responses), [r.body for r in responses]
    for r in responses:
        if r.status != 201:
            assert (r.status, r.json()["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT"), r.body
            assert "in progress" in r.json()["error"]["message"]
    invoices = client.get("/orders/SO-1001/invoices").json()["items"]
    assert [i["invoice_id"] for i in invoices] == [ok[0].json()["invoice"]["invoice_id"]]
    # once the first has completed, a resend replays it
    again = resend()
    assert (again.status, again.json()) == (201, ok[0].json())
    assert_books_balance(client)


@pytest.mark.parametrize("path_body", ONCE, ids=["deposit", "final"])
@ddblocal
def test_one_idempotency_key_sent_by_many_requests_at_once_bills_once(client, environments, path_body):
    path, body = path_body
    assert client.post("/orders", order_body()).status == 201
    url = f"/orders/SO-1001/{path}"
    headers = {"Idempotency-Key": "same-key-for-all"}
    responses = send_at_once(environments, [Request("POST", url, body, headers) for _ in range(8)])
    billed_once(client, path, responses, lambda: client.post(url, body, headers=headers))


@moto_only
@pytest.mark.parametrize("path_body", ONCE, ids=["deposit", "final"])
def test_service_one_idempotency_token_from_many_threads_at_once_bills_once(client, atomic_calls, path_body):
    """The service's own guard (the token derived from the Idempotency-Key, written into the change):
    every call answers with the one invoice. Powertools' idempotency record, in front of it in the
    HTTP functions, is raced by the HTTP form of this test, on DynamoDB Local only (pass 2)."""
    path, body = path_body
    assert client.post("/orders", order_body()).status == 201
    token = hashlib.sha256(b"same-key-for-all").hexdigest()
    create = deposit if path == "progress-billings" else final
    with transactions():
        responses = run_concurrently(8, lambda i: create(ORDER, "SO-1001", body, token))
    billed_once(client, path, responses, lambda: create(ORDER, "SO-1001", body, token), in_progress=False)


def _cancel_transactions(count: int, reason: str = "TransactionConflict") -> tuple[Handler, list[str]]:
    """An interceptor cancelling the next ``count`` TransactWriteItems as DynamoDB does when another
    transaction is writing one of the items at that moment (the request never reaches the table)."""
    seen: list[str] = []

    def cancelling(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        if operation == "TransactWriteItems":
            seen.append(operation)
            if len(seen) <= count:
                reasons: list[Any] = [{"Code": "None"}] * len(params["TransactItems"])
                reasons[-1] = {"Code": reason, "Message": "Transaction is ongoing for the item"}
                raise ClientError(
                    {
                        "Error": {
                            "Code": "TransactionCanceledException",
                            "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                            f"reasons [{', '.join(r['Code'] for r in reasons)}]",
                        },
                        "CancellationReasons": reasons,
                    },
                    operation,
                )
        return proceed()

    return cancelling, seen


@pytest.mark.parametrize(
    "path_body", [("progress-billings", {"amount": "250.00"}), ("final-invoice", None)], ids=["deposit", "final"]
)
def test_a_transaction_conflict_is_retried(client, path_body):
    path, body = path_body
    assert client.post("/orders", order_body()).status == 201
    cancelling, seen = _cancel_transactions(3)
    with intercept(cancelling):
        r = client.post(f"/orders/SO-1001/{path}", body)
    assert r.status == 201, r.body
    assert len(seen) == 4  # three cancelled, the fourth committed
    invoices = client.get("/orders/SO-1001/invoices").json()["items"]
    assert [i["invoice_id"] for i in invoices] == [r.json()["invoice"]["invoice_id"]] == ["INV-000001"]
    assert_books_balance(client)


def test_conflicts_past_the_retry_budget_are_503_busy_and_change_nothing(client, monkeypatch):
    assert client.post("/orders", order_body()).status == 201
    before = table_snapshot()
    cancelling, seen = _cancel_transactions(service.MAX_ATTEMPTS)
    with intercept(cancelling), monkeypatch.context() as m:
        m.setattr("billing.service.time.sleep", lambda s: None)  # the backoff, not what is tested
        r = client.post("/orders/SO-1001/progress-billings", {"amount": "250.00"})
    assert (r.status, r.json()["error"]["code"], r.headers.get("retry-after")) == (503, "BUSY", "1")
    assert len(seen) == service.MAX_ATTEMPTS
    assert table_snapshot() == before
    # and the client's retry then succeeds
    assert client.post("/orders/SO-1001/progress-billings", {"amount": "250.00"}).status == 201


# ---- corrections racing the books (R14, R15) -------------------------------------------------------
# Each race is set up in this process, then its requests are sent at once: over HTTP, each in its own
# execution environment (DynamoDB Local), or to the service's own functions from threads (moto). The
# same check follows both forms, and then the books are checked whole (``assert_books_consistent``).


def void(invoice_id: str, body: dict[str, Any], token: str | None = None) -> Answer:
    """``POST /invoices/{invoice_id}/void``, in the service."""
    from billing import voids
    from billing.inputs import VoidIn

    return answer(lambda: voids.void_invoice(invoice_id, VoidIn.model_validate(body), token, by=BY))


def change_order(kind: Kind, job_id: str, body: dict[str, Any], token: str | None = None) -> Answer:
    """``POST /{kind}s/{job_id}/change-orders``, in the service."""
    from billing import change_orders
    from billing.inputs import ChangeOrderIn

    return answer(
        lambda: change_orders.create_change_order(kind, job_id, ChangeOrderIn.model_validate(body), token, by=BY)
    )


def served(request: Request) -> Answer:
    """A ``Request`` answered by the service function its route calls (what the HTTP form sends)."""
    parts = request.path.strip("/").split("/")
    if parts[0] == "invoices":
        return void(parts[1], request.body)
    kind, job_id, what = (ORDER if parts[0] == "orders" else PROJECT), parts[1], parts[2]
    if what == "progress-billings":
        return deposit(kind, job_id, request.body)
    if what == "final-invoice":
        return final(kind, job_id, request.body or {})
    assert what == "change-orders", request
    return change_order(kind, job_id, request.body)


def posted(client: Client, path: str, body: Any = None) -> dict[str, Any]:
    r = client.post(path, body)
    assert r.status == 201, r.body
    result: dict[str, Any] = r.json()
    return result


def job_nets(client: Client, path: str) -> dict[str, Decimal]:
    """Debit minus credit per account over the job's journal entries."""
    nets: dict[str, Decimal] = defaultdict(Decimal)
    for entry in client.get(f"{path}/ledger").json()["items"]:
        for ln in entry["lines"]:
            nets[ln["account"]] += Decimal(ln["debit"]) - Decimal(ln["credit"])
    return nets


def assert_books_consistent(client: Client, paths: list[str]) -> None:
    """The books after a race, whoever won: each journal entry balances, each invoice has exactly its
    entry, the trial balance of every account is the sum of the entries (nothing posted twice or
    lost), and no invoice number is used twice (R9, R13)."""
    entries = [e for p in paths for e in client.get(f"{p}/ledger").json()["items"]]
    invoices = [i for p in paths for i in client.get(f"{p}/invoices").json()["items"]]
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for e in entries:
        debit = sum((Decimal(ln["debit"]) for ln in e["lines"]), Decimal(0))
        credit = sum((Decimal(ln["credit"]) for ln in e["lines"]), Decimal(0))
        assert debit == credit, e
        for ln in e["lines"]:
            sums[ln["account"]][0] += Decimal(ln["debit"])
            sums[ln["account"]][1] += Decimal(ln["credit"])
    numbers = [i["number"] for i in invoices]
    assert len(numbers) == len(set(numbers)), f"an invoice number used twice: {sorted(numbers)}"
    assert sorted(i["journal_entry_id"] for i in invoices) == sorted(e["entry_id"] for e in entries)
    assert sorted(i["invoice_id"] for i in invoices) == sorted(e["invoice_id"] for e in entries)
    books = assert_books_balance(client)
    assert {a: [v["debit"], v["credit"]] for a, v in books.items()} == {a: v for a, v in sums.items()}


def _number(invoice: dict[str, Any]) -> int:
    return int(invoice["number"].removeprefix("INV-"))


# 1. A void of a deposit racing the final invoice of its job, on three jobs side by side.
VOID_VS_FINAL_JOBS = [f"/orders/VF-{j}" for j in range(3)]


def void_deposit_racing_final(client: Client) -> list[Request]:
    requests = []
    for p in VOID_VS_FINAL_JOBS:
        assert client.post("/orders", order_body(p.rsplit("/", 1)[1])).status == 201  # 1000.00
        first = posted(client, f"{p}/progress-billings", {"amount": "100.00"})["invoice"]
        posted(client, f"{p}/progress-billings", {"amount": "200.00"})
        requests += [
            Request("POST", f"/invoices/{first['invoice_id']}/void", {"reason": "wrong", "void_date": "2026-12-15"}),
            Request("POST", f"{p}/final-invoice", {"title": "Final"}),
        ]
    return requests


def check_void_deposit_racing_final(client: Client, requests: list[Request], responses: list[Any]) -> None:
    """Either the final won (the void is 409 JOB_FINALIZED and the final reverses both deposits) or the
    void won (one credit note, issued before the final, which reverses only the other deposit); in
    every case the job is closed exactly: Customer Deposits 0, revenue the job total."""
    report = []
    for j, p in enumerate(VOID_VS_FINAL_JOBS):
        voided, closing = responses[2 * j], responses[2 * j + 1]
        assert closing.status == 201, closing.body
        inv = closing.json()["invoice"]
        reversed_ = [ln["reverses_invoice_id"] for ln in inv["lines"] if ln["code"] == "DEPOSIT"]
        invoices = {i["invoice_id"]: i for i in client.get(f"{p}/invoices").json()["items"]}
        first, second = sorted((i for i in invoices.values() if i["type"] == "deposit"), key=_number)
        credits = [i for i in invoices.values() if i["type"] == "credit_note"]
        if voided.status == 201:
            report.append(f"{p}: the void won")
            (credit,) = credits
            assert voided.json()["credit_note"]["invoice_id"] == credit["invoice_id"]
            assert (first["status"], credit["voids_invoice_id"]) == ("voided", first["invoice_id"])
            assert reversed_ == [second["invoice_id"]] and inv["total"] == "800.00"
            assert _number(credit) < _number(inv), "the credit note was issued before the final"
        else:
            report.append(f"{p}: the final won")
            assert (voided.status, voided.json()["error"]["code"]) == (409, "JOB_FINALIZED"), voided.body
            assert credits == [] and first["status"] == "issued"
            assert sorted(reversed_) == sorted([first["invoice_id"], second["invoice_id"]])
            assert inv["total"] == "700.00"
        job = client.get(p).json()
        assert (job["status"], job["billing"]["deposit_balance"]) == ("finalized", "0.00")
        nets = job_nets(client, p)
        assert (nets["2400"], nets["4000"], nets["1200"]) == (Decimal(0), Decimal("-1000.00"), Decimal("1000.00"))
    print("\n" + "; ".join(report))
    assert_books_consistent(client, VOID_VS_FINAL_JOBS)


# 2. A void of a final invoice racing a new deposit on its job.
REOPEN_JOBS = [f"/projects/RO-{j}" for j in range(3)]


def void_final_racing_deposit(client: Client) -> list[Request]:
    requests = []
    for p in REOPEN_JOBS:
        assert client.post("/projects", order_body(p.rsplit("/", 1)[1])).status == 201  # 1000.00
        posted(client, f"{p}/progress-billings", {"amount": "100.00"})
        closing = posted(client, f"{p}/final-invoice", {"title": "Final"})["invoice"]
        requests += [
            Request("POST", f"/invoices/{closing['invoice_id']}/void", {"reason": "wrong", "void_date": "2026-12-15"}),
            Request("POST", f"{p}/progress-billings", {"amount": "200.00"}),
        ]
    return requests


def check_void_final_racing_deposit(client: Client, requests: list[Request], responses: list[Any]) -> None:
    """The void always succeeds and reopens the job; the deposit is 409 JOB_FINALIZED (it read the job
    finalized) or succeeds after the reopening. The next final reverses exactly the live deposits."""
    report = []
    for j, p in enumerate(REOPEN_JOBS):
        voided, late = responses[2 * j], responses[2 * j + 1]
        assert voided.status == 201, voided.body
        credit = voided.json()["credit_note"]
        job = client.get(p).json()
        assert (job["status"], job["reopen_count"]) == ("open", 1)
        if late.status == 201:
            report.append(f"{p}: deposit after the reopening")
            assert _number(late.json()["invoice"]) > _number(credit), "the deposit was issued after the reopening"
            assert job["billing"]["deposits_billed"] == "300.00"
        else:
            report.append(f"{p}: deposit refused")
            assert (late.status, late.json()["error"]["code"]) == (409, "JOB_FINALIZED"), late.body
            assert job["billing"]["deposits_billed"] == "100.00"
        assert job["billing"]["deposit_balance"] == job["billing"]["deposits_billed"]  # held again
        live = [i["invoice_id"] for i in client.get(f"{p}/invoices").json()["items"] if i["type"] == "deposit"]
        closing = posted(client, f"{p}/final-invoice", {"title": "Final again"})["invoice"]
        assert sorted(ln["reverses_invoice_id"] for ln in closing["lines"] if ln["code"] == "DEPOSIT") == sorted(live)
        assert Decimal(closing["total"]) == Decimal("1000.00") - Decimal(job["billing"]["deposits_billed"])
        nets = job_nets(client, p)
        assert (nets["2400"], nets["4000"], nets["1200"]) == (Decimal(0), Decimal("-1000.00"), Decimal("1000.00"))
    print("\n" + "; ".join(report))
    assert_books_consistent(client, REOPEN_JOBS)


# 3. Four voids of the same invoice at once (a deposit, a shipment invoice or a final invoice).
SAME_INVOICE = "/orders/SO-1001"


def voids_of_one_invoice(kind_of_invoice: str) -> Callable[[Client], list[Request]]:
    def setup(client: Client) -> list[Request]:
        assert client.post("/orders", order_body()).status == 201  # 1000.00
        if kind_of_invoice == "shipment":
            assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
            ship(shipment_message("SH-1", lines=[{"line_id": "1", "quantity": "4"}]))
            (target,) = client.get(f"{SAME_INVOICE}/invoices").json()["items"]
        else:
            target = posted(client, f"{SAME_INVOICE}/progress-billings", {"amount": "300.00"})["invoice"]
            if kind_of_invoice == "final":
                target = posted(client, f"{SAME_INVOICE}/final-invoice", {"title": "Final"})["invoice"]
        assert target["type"] == kind_of_invoice
        body = {"reason": "billed in error", "void_date": "2026-12-15"}
        return [Request("POST", f"/invoices/{target['invoice_id']}/void", body) for _ in range(4)]

    return setup


def check_voids_of_one_invoice(client: Client, requests: list[Request], responses: list[Any]) -> None:
    """Exactly one credit note; every other void is 409 ALREADY_VOIDED; the void's effect on the job
    happens once (the deposit leaves once, the shipment's revenue is unbilled once, the job reopens once)."""
    target = requests[0].path.split("/")[2]
    assert codes(responses) == {(201, None): 1, (409, "ALREADY_VOIDED"): 3}, [r.body for r in responses]
    (won,) = [r.json() for r in responses if r.status == 201]
    invoices = client.get(f"{SAME_INVOICE}/invoices").json()["items"]
    credits = [i for i in invoices if i["type"] == "credit_note"]
    assert [c["invoice_id"] for c in credits] == [won["credit_note"]["invoice_id"]]
    original = client.get(f"/invoices/{target}").json()
    assert (original["status"], original["voided_by_invoice_id"]) == ("voided", credits[0]["invoice_id"])
    job = client.get(SAME_INVOICE).json()
    nets = job_nets(client, SAME_INVOICE)
    if original["type"] == "deposit":
        assert (job["billing"]["deposits_billed"], nets["2400"], nets["1200"]) == ("0.00", Decimal(0), Decimal(0))
        (record,) = client.get(f"{SAME_INVOICE}/progress-billings").json()["items"]
        assert (record["status"], record["credit_note_id"]) == ("voided", credits[0]["invoice_id"])
    elif original["type"] == "shipment":
        assert (job["billing"]["shipments_billed"], nets["4000"], nets["1200"]) == ("0.00", Decimal(0), Decimal(0))
        (shipment,) = client.get(f"{SAME_INVOICE}/shipments").json()["items"]
        assert shipment["status"] == "invoice_voided"
    else:  # the final: the deposit is held again, once
        assert (job["status"], job["reopen_count"], job["billing"]["deposit_balance"]) == ("open", 1, "300.00")
        assert (nets["2400"], nets["4000"], nets["1200"]) == (Decimal("-300.00"), Decimal(0), Decimal("300.00"))
    assert_books_consistent(client, [SAME_INVOICE])


# 4. A change order reducing the total racing a deposit: together they would over-bill.
SHRINK_JOBS = [f"/orders/CD-{j}" for j in range(3)]


def shrink_racing_deposit(client: Client) -> list[Request]:
    requests = []
    for p in SHRINK_JOBS:
        assert client.post("/orders", order_body(p.rsplit("/", 1)[1])).status == 201  # 10 x 100.00
        posted(client, f"{p}/progress-billings", {"amount": "300.00"})
        requests += [
            Request("POST", f"{p}/change-orders", {"reason": "half", "lines": [{"line_id": "1", "quantity": "5"}]}),
            Request("POST", f"{p}/progress-billings", {"amount": "400.00"}),
        ]
    return requests


def check_shrink_racing_deposit(client: Client, requests: list[Request], responses: list[Any]) -> None:
    """300.00 billed: the change order (total 500.00) and the deposit (400.00) fit alone, not together.
    Exactly one succeeds, the other is 422 OVERBILLING; never over-billed afterwards (R6, R15)."""
    report = []
    for j, p in enumerate(SHRINK_JOBS):
        changed, billed = responses[2 * j], responses[2 * j + 1]
        assert sorted([changed.status, billed.status]) == [201, 422], (changed.body, billed.body)
        loser = changed if changed.status == 422 else billed
        assert loser.json()["error"]["code"] == "OVERBILLING", loser.body
        job = client.get(p).json()
        deposits = sorted(i["total"] for i in client.get(f"{p}/invoices").json()["items"])
        if changed.status == 201:
            report.append(f"{p}: the change order won")
            assert (job["total"], job["billing"]["deposits_billed"], deposits) == ("500.00", "300.00", ["300.00"])
            assert [co["change_order_id"] for co in client.get(f"{p}/change-orders").json()["items"]] == ["CO-1"]
        else:
            report.append(f"{p}: the deposit won")
            assert (job["total"], job["billing"]["deposits_billed"]) == ("1000.00", "700.00")
            assert deposits == ["300.00", "400.00"]
            assert client.get(f"{p}/change-orders").json()["items"] == []
        assert Decimal(job["billing"]["deposits_billed"]) <= Decimal(job["total"])
        nets = job_nets(client, p)
        assert -nets["2400"] == Decimal(job["billing"]["deposits_billed"])
    print("\n" + "; ".join(report))
    assert_books_consistent(client, SHRINK_JOBS)


# 5. Two change orders at once on each of three jobs: both applied, numbered CO-1 and CO-2.
TWO_CHANGES_JOBS = [f"/projects/CC-{j}" for j in range(3)]
TWO_CHANGES = [
    {"reason": "two more", "lines": [{"line_id": "1", "quantity": "12"}]},  # +200.00
    {"reason": "extra", "lines": [{"line_id": "2", "item_code": "X", "quantity": "1", "unit_price": "350.00"}]},
]


def two_change_orders(client: Client) -> list[Request]:
    for p in TWO_CHANGES_JOBS:
        assert client.post("/projects", order_body(p.rsplit("/", 1)[1])).status == 201  # 10 x 100.00
    return [Request("POST", f"{p}/change-orders", body) for p in TWO_CHANGES_JOBS for body in TWO_CHANGES]


def check_two_change_orders(client: Client, requests: list[Request], responses: list[Any]) -> None:
    """Both apply, one after the other: CO-1 and CO-2, the second's total_before the first's total_after,
    and the job has both changes (no lost update)."""
    assert codes(responses) == {(201, None): len(requests)}, [r.body for r in responses]
    for p in TWO_CHANGES_JOBS:
        made = client.get(f"{p}/change-orders").json()["items"]
        assert [co["change_order_id"] for co in made] == ["CO-1", "CO-2"]
        assert made[0]["total_before"] == "1000.00" and made[1]["total_after"] == "1550.00"
        assert made[1]["total_before"] == made[0]["total_after"] in ("1200.00", "1350.00")
        answered = sorted(
            r.json()["change_order"]["change_order_id"] for q, r in zip(requests, responses, strict=True) if p in q.path
        )
        assert answered == ["CO-1", "CO-2"]
        job = client.get(p).json()
        assert (job["total"], job["change_order_count"]) == ("1550.00", 2)
        assert [(ln["line_id"], ln["quantity"], ln["amount"]) for ln in job["lines"]] == [
            ("1", "12", "1200.00"),
            ("2", "1", "350.00"),
        ]
        assert job_nets(client, p) == {}  # a change order posts nothing
    assert_books_consistent(client, TWO_CHANGES_JOBS)


Setup = Callable[[Client], list[Request]]
Check = Callable[[Client, list[Request], list[Any]], None]
CORRECTION_RACES: dict[str, tuple[Setup, Check]] = {
    "void-deposit-vs-final": (void_deposit_racing_final, check_void_deposit_racing_final),
    "void-final-vs-deposit": (void_final_racing_deposit, check_void_final_racing_deposit),
    "two-voids-of-a-deposit": (voids_of_one_invoice("deposit"), check_voids_of_one_invoice),
    "two-voids-of-a-shipment-invoice": (voids_of_one_invoice("shipment"), check_voids_of_one_invoice),
    "two-voids-of-a-final": (voids_of_one_invoice("final"), check_voids_of_one_invoice),
    "shrinking-change-order-vs-deposit": (shrink_racing_deposit, check_shrink_racing_deposit),
    "two-change-orders": (two_change_orders, check_two_change_orders),
}


@ddblocal
@pytest.mark.parametrize("race", list(CORRECTION_RACES))
def test_corrections_racing_on_one_job_keep_the_books_whole(client, environments, race):
    setup, check = CORRECTION_RACES[race]
    requests = setup(client)
    check(client, requests, send_at_once(environments, requests))


@moto_only
@pytest.mark.parametrize("race", list(CORRECTION_RACES))
def test_service_corrections_racing_on_one_job_keep_the_books_whole(client, atomic_calls, race):
    setup, check = CORRECTION_RACES[race]
    requests = setup(client)
    with transactions():
        responses = run_concurrently(len(requests), lambda i: served(requests[i]))
    check(client, requests, responses)


# ---- a resend racing the request it repeats (R11, R14, R15) ----------------------------------------


def _first_and_its_resend(call: Callable[[], Answer]) -> tuple[Answer, Answer]:
    """The same keyed request twice, interleaved as a client's resend can be when the idempotency
    cache has expired: the resend makes its first DynamoDB call (its look for what the token already
    made: nothing yet), then the first request runs and commits, then the resend goes on."""
    looked, first_done = threading.Event(), threading.Event()
    answers: dict[str, Answer] = {}
    errors: list[BaseException] = []

    def interleave(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        resend = threading.current_thread().name == "resend"
        if resend and looked.is_set():
            assert first_done.wait(60), "the first request did not finish"
        response = proceed()
        if resend:
            looked.set()
        return response

    def run(name: str) -> None:
        try:
            if name == "first":
                assert looked.wait(60), "the resend made no DynamoDB call"
            answers[name] = call()
        except BaseException as e:  # surfaced below
            errors.append(e)
        finally:
            if name == "first":
                first_done.set()
            else:
                looked.set()

    with intercept(interleave):
        threads = [threading.Thread(target=run, args=(name,), name=name) for name in ("resend", "first")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors, errors
    return answers["first"], answers["resend"]


@pytest.mark.parametrize("what", ["void", "change-order"])
def test_service_a_resend_racing_its_first_request_gets_the_first_answer(client, what):
    """R11 for corrections: a resend with the first request's token, interleaved with it, answers with
    what the first made (the same credit note, the same change order) and applies nothing twice."""
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00
    token = hashlib.sha256(b"one-key").hexdigest()
    if what == "void":
        target = posted(client, "/orders/SO-1001/progress-billings", {"amount": "300.00"})["invoice"]["invoice_id"]
        first, resend = _first_and_its_resend(
            lambda: void(target, {"reason": "billed in error", "void_date": "2026-12-15"}, token)
        )
        assert (first.status, resend.status) == (201, 201), (first.body, resend.body)
        assert resend.json()["credit_note"] == first.json()["credit_note"]
        credits = [i for i in client.get("/orders/SO-1001/invoices").json()["items"] if i["type"] == "credit_note"]
        assert [c["invoice_id"] for c in credits] == [first.json()["credit_note"]["invoice_id"]]
    else:
        body = {"reason": "two more", "lines": [{"line_id": "1", "quantity": "12"}]}
        first, resend = _first_and_its_resend(lambda: change_order(ORDER, "SO-1001", body, token))
        assert first.status == 201, first.body
        assert resend.status == 201, resend.body
        assert resend.json()["change_order"] == first.json()["change_order"]
        made = client.get("/orders/SO-1001/change-orders").json()["items"]
        assert [co["change_order_id"] for co in made] == ["CO-1"]
    assert_books_consistent(client, ["/orders/SO-1001"])


def one_key_corrected_once(client: Client, what: str, responses: list[Any]) -> None:
    """R11 under concurrency for corrections: one credit note or one change order; every 201 is the
    first answer, every other answer is 409 'in progress' (Powertools' record of the first)."""
    print(f"\n{what}: {dict(codes(responses))}")
    ok = [r.json() for r in responses if r.status == 201]
    assert ok and all(r == ok[0] for r in ok), [r.body for r in responses]
    for r in responses:
        if r.status != 201:
            assert (r.status, r.json()["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT"), r.body
            assert "in progress" in r.json()["error"]["message"]
    if what == "void":
        credits = [i for i in client.get("/orders/SO-1001/invoices").json()["items"] if i["type"] == "credit_note"]
        assert [c["invoice_id"] for c in credits] == [ok[0]["credit_note"]["invoice_id"]]
    else:
        made = client.get("/orders/SO-1001/change-orders").json()["items"]
        assert [co["change_order_id"] for co in made] == [ok[0]["change_order"]["change_order_id"]] == ["CO-1"]
    assert_books_consistent(client, ["/orders/SO-1001"])


@ddblocal
@pytest.mark.parametrize("what", ["void", "change-order"])
def test_one_idempotency_key_sent_by_many_corrections_at_once_corrects_once(client, environments, what):
    assert client.post("/orders", order_body()).status == 201
    headers = {"Idempotency-Key": "same-key-for-all"}
    if what == "void":
        target = posted(client, "/orders/SO-1001/progress-billings", {"amount": "300.00"})["invoice"]["invoice_id"]
        request = Request("POST", f"/invoices/{target}/void", {"reason": "billed in error"}, headers)
    else:
        body = {"reason": "extra", "lines": [{"line_id": "2", "item_code": "X", "quantity": "1", "unit_price": "5.00"}]}
        request = Request("POST", "/orders/SO-1001/change-orders", body, headers)
    one_key_corrected_once(client, what, send_at_once(environments, [request] * 8))


@moto_only
def test_service_one_void_token_from_many_threads_at_once_voids_once(client, atomic_calls):
    """The service's own guard for voids (the token kept on the voided invoice): every call, however
    the threads interleave, answers with the one credit note."""
    assert client.post("/orders", order_body()).status == 201
    target = posted(client, "/orders/SO-1001/progress-billings", {"amount": "300.00"})["invoice"]["invoice_id"]
    token = hashlib.sha256(b"same-key-for-all").hexdigest()
    with transactions():
        responses = run_concurrently(8, lambda i: void(target, {"reason": "billed in error"}, token))
    assert codes(responses) == {(201, None): 8}, [r.body for r in responses]
    one_key_corrected_once(client, "void", responses)
