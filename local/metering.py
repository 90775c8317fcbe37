"""Count (and, for tests, break) DynamoDB calls made through botocore, which pynamodb, boto3 and
Powertools all use. Used by the atomicity tests and by the benchmark."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass
class Call:
    operation: str
    items_read: int
    table: str


@dataclass
class Meter:
    calls: list[Call] = field(default_factory=list)
    fail_at: int | None = None  # 1-based index of the DynamoDB call to break
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.calls)

    @property
    def items_read(self) -> int:
        return sum(c.items_read for c in self.calls)

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]


class InjectedFailure(Exception):
    """Raised in place of the k-th DynamoDB call: the request never reaches the table."""


def _items_read(operation: str, response: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(response.get("Count", 0))
    if operation == "GetItem":
        return 1 if "Item" in response else 0
    if operation == "BatchGetItem":
        return sum(len(v) for v in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in response.get("Responses", []) if r.get("Item"))
    return 0


@contextmanager
def meter(fail_at: int | None = None) -> Iterator[Meter]:
    m = Meter(fail_at=fail_at)
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name != "dynamodb":
            return original(self, operation_name, api_params)
        with m.lock:
            index = len(m.calls) + 1
            call = Call(operation_name, 0, str(api_params.get("TableName", "")))
            m.calls.append(call)
        if m.fail_at == index:
            raise InjectedFailure(f"injected failure of DynamoDB call {index} ({operation_name})")
        response = original(self, operation_name, api_params)
        call.items_read = _items_read(operation_name, response)
        return response

    BaseClient._make_api_call = counted  # type: ignore[attr-defined]
    try:
        yield m
    finally:
        BaseClient._make_api_call = original  # type: ignore[attr-defined]
