"""The one set of fixtures: callers' claims, job and shipment bodies, a Lambda context, and helpers
that invoke the automation and the shipments function in-process as EventBridge and SQS would.

Shared by ``tests/``, ``bench/``, ``events/generate.py`` and the local runner, so that an identity,
an order or a context is written once.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from . import cfn

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Callers as the Cognito JWT authorizer hands them to a function (``cognito:groups`` as HTTP APIs send it).
ADMIN: dict[str, str] = {"sub": "u-admin", "cognito:username": "alice", "cognito:groups": "[billing-admins clerks]"}
CLERK: dict[str, str] = {"sub": "u-clerk", "cognito:username": "bob", "cognito:groups": "[billing-clerks]"}
# Signed in, in no billing group: may only read (R20).
READER: dict[str, str] = {"sub": "u-reader", "cognito:username": "carol", "cognito:groups": "[]"}
# The local runner's caller when a loopback request carries no Authorization header.
LOCAL_ADMIN: dict[str, str] = {
    "sub": "local-admin",
    "cognito:username": "local-admin",
    "cognito:groups": "[billing-admins]",
}
LOCAL_USER_GROUPS = "[billing-clerks]"  # the groups of ``X-Local-User: <name>`` on the local runner


def job_line(
    line_id: str = "1",
    quantity: str = "10",
    unit_price: str = "100.00",
    item_code: str = "WIDGET",
    description: str = "Widget",
) -> dict[str, str]:
    """One line of a job registration body: by default ten widgets at 100.00."""
    return {"line_id": line_id, "item_code": item_code, "description": description, "quantity": quantity,
            "unit_price": unit_price}  # fmt: skip


def order_body(
    job_id: str = "SO-1001", currency: str = "USD", lines: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """A job registration body: by default ten widgets at 100.00 (a 1,000.00 order)."""
    return {
        "id": job_id,
        "customer_id": "C-7",
        "customer_name": "Acme",
        "currency": currency,
        "lines": lines or [job_line()],
    }


def shipment_message(
    shipment_id: str, order_id: str = "SO-1001", lines: Any = None, ship_date: str = "2026-11-27"
) -> str:
    """A warehouse shipment message (the SQS body), by default two of line 1."""
    return json.dumps(
        {
            "shipment_id": shipment_id,
            "order_id": order_id,
            "ship_date": ship_date,
            "lines": lines if lines is not None else [{"line_id": "1", "quantity": "2"}],
        }
    )


class FunctionContext(LambdaContext):
    """Powertools' Lambda context with a running clock: the remaining time counts down from the
    function's timeout, as Lambda's does (the automation stops early on it)."""

    def __init__(self, function_name: str, timeout_ms: int) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self._memory_limit_in_mb = 512
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(function: str, timeout_ms: int | None = None) -> FunctionContext:
    """A context for one invocation of the template's function ``function`` (its logical id), with the
    template's timeout unless ``timeout_ms`` is given."""
    if timeout_ms is None:
        timeout_ms = int(cfn.function_property(function, "Timeout") or 3) * 1000
    return FunctionContext(function, timeout_ms)


def invoke_function(function: str, event: dict[str, Any], timeout_ms: int | None = None) -> Any:
    """Call the template's function ``function`` in this process with ``event``."""
    module = cfn.load_handler_module(cfn.function_code_uri(function))
    return module.lambda_handler(event, lambda_context(function, timeout_ms))


def scheduled_event(time_: str, rule: str = "AutoGenerateSchedule") -> dict[str, Any]:
    """The event an EventBridge scheduled rule sends at ``time_`` (ISO 8601, UTC)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time_,
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def run_automation(event: dict[str, Any], timeout_ms: int | None = None) -> dict[str, Any]:
    """Invoke the auto-generate function in-process, as EventBridge would."""
    result: dict[str, Any] = invoke_function("AutoGenerateFunction", event, timeout_ms)
    return result


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {k: str(v) for k, v in (m.get("Attributes") or {}).items()},
                "messageAttributes": m.get("MessageAttributes") or {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3] if queue_arn.count(":") >= 3 else REGION,
            }
            for m in messages
        ]
    }


def ship(*bodies: str) -> dict[str, Any]:
    """Invoke the shipments function with one SQS batch (message ids m-0, m-1...)."""
    messages = [{"MessageId": f"m-{i}", "ReceiptHandle": f"rh-{i}", "Body": b} for i, b in enumerate(bodies)]
    result: dict[str, Any] = invoke_function(
        "ProcessShipmentsFunction", sqs_event(messages, f"arn:aws:sqs:{REGION}:{ACCOUNT}:ShipmentQueue")
    )
    return result
