"""Shared fixtures: an AWS-free environment, moto tables built from template.yaml, and an HTTP
client that routes requests through the real handlers exactly as API Gateway would."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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

ADMIN = {"sub": "u-admin", "cognito:username": "alice", "cognito:groups": "[billing-admins clerks]"}
CLERK = {"sub": "u-clerk", "cognito:username": "bob", "cognito:groups": "[clerks]"}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def aws() -> Iterator[None]:
    """A fresh moto account with the template's tables."""
    from moto import mock_aws

    with mock_aws():
        import boto3

        from local import cfn

        cfn.create_tables(boto3.client("dynamodb"), {
            "BillingTable": os.environ["TABLE_NAME"],
            "IdempotencyTable": os.environ["IDEMPOTENCY_TABLE_NAME"],
        })
        yield


@pytest.fixture
def atomic_calls() -> Iterator[None]:
    """Make each moto call atomic across threads, as each DynamoDB request is on the real service.

    moto's in-memory tables are not thread-safe; with this, threads still interleave between
    calls (read here, write there), which is what the optimistic concurrency control must handle.
    DynamoDB Local (the second test pass) needs no such help.
    """
    import threading

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


class Client:
    """HTTP-like access to the stack: each call goes through the template's route table."""

    def __init__(self, claims: dict[str, Any] | None = ADMIN) -> None:
        self.claims = claims

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
    import boto3

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": os.environ["TABLE_NAME"], "ConsistentRead": True}
    ddb = boto3.client("dynamodb")
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
