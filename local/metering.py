"""The one botocore interceptor: every DynamoDB call made through botocore (which pynamodb, boto3
and Powertools all use) passes through the handlers installed with ``intercept``, innermost last.

On it: ``meter`` (count calls and items read, and break the k-th call for the crash tests),
``serialized`` (make each call atomic across threads, as a real request is), and whatever a test or
the benchmark needs to observe or inject (cancelled transactions, timings).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient

# handler(operation, params, proceed) -> response; ``proceed()`` makes the call (or the next handler's).
Handler = Callable[[str, dict[str, Any], Callable[[], Any]], Any]

_handlers: list[Handler] = []
_install_lock = threading.Lock()
_original: Any = None


def _intercepted(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
    if self.meta.service_model.service_name != "dynamodb" or not _handlers:
        return _original(self, operation, params)
    chain = list(_handlers)

    def step(i: int) -> Any:
        if i == len(chain):
            return _original(self, operation, params)
        return chain[i](operation, params, lambda: step(i + 1))

    return step(0)


def _install() -> None:
    global _original
    with _install_lock:
        if _original is None:
            _original = BaseClient._make_api_call  # type: ignore[attr-defined]
            BaseClient._make_api_call = _intercepted  # type: ignore[attr-defined]


@contextmanager
def intercept(handler: Handler) -> Iterator[None]:
    """Run every DynamoDB call through ``handler`` while the block runs (any thread)."""
    _install()
    _handlers.append(handler)
    try:
        yield
    finally:
        _handlers.remove(handler)


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


def items_read(operation: str, response: dict[str, Any]) -> int:
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
    """Count the DynamoDB calls made in the block; with ``fail_at=k``, the k-th raises instead."""
    m = Meter(fail_at=fail_at)

    def counted(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        with m.lock:
            index = len(m.calls) + 1
            call = Call(operation, 0, str(params.get("TableName", "")))
            m.calls.append(call)
        if m.fail_at == index:
            raise InjectedFailure(f"injected failure of DynamoDB call {index} ({operation})")
        response = proceed()
        call.items_read = items_read(operation, response)
        return response

    with intercept(counted):
        yield m


@contextmanager
def serialized() -> Iterator[None]:
    """Each DynamoDB call atomic across threads, as each request is on the real service (moto's
    in-memory tables are not thread-safe); threads still interleave between calls."""
    lock = threading.Lock()

    def locked(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        with lock:
            return proceed()

    with intercept(locked):
        yield
