"""DynamoDB round trips of each operation, counted with ``local.metering.meter`` (every call through
botocore: pynamodb's and Powertools' alike), against the fewest the operation can make.

Everything runs in this process against in-process moto, through the real handlers (HTTP requests
via ``local.gateway``, the SQS and EventBridge handlers with their events), after a warm-up of the
same operation on another job. The table holds a settings item, so reads that want the settings
find one.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .env import apply_environment, create_tables, service_environment

CLAIMS = {"sub": "u-bench", "cognito:username": "bench", "cognito:groups": "[billing-admins]"}
IDEMPOTENCY_CALLS = 2  # Powertools: a conditional PutItem (in progress), then an UpdateItem (completed)


@dataclass(frozen=True)
class Floor:
    """The fewest DynamoDB calls (and items read) an operation can make, and why."""

    calls: int
    items_read: int
    why: str


@dataclass(frozen=True)
class Measured:
    calls: int
    items_read: int
    operations: tuple[str, ...]


def verdict(measured: Measured, floor: Floor) -> str:
    """``at floor`` when neither calls nor items read exceed the floor, else what is over."""
    over = []
    if measured.calls > floor.calls:
        over.append(f"+{measured.calls - floor.calls} calls")
    if measured.items_read > floor.items_read:
        over.append(f"+{measured.items_read - floor.items_read} items")
    return "at floor" if not over else "above floor (" + ", ".join(over) + ")"


def with_idempotency_key(floor: Floor) -> Floor:
    return Floor(floor.calls + IDEMPOTENCY_CALLS, floor.items_read,
                 floor.why + "; plus Powertools' conditional put of the key and its update to completed")


BOOKS_READ = ("one BatchGetItem reads the job, the invoice counter and the settings (everything the "
              "decision needs); one TransactWriteItems writes it all at once (R9)")
FLOORS: dict[str, Floor] = {
    "register job": Floor(1, 0, "one conditional write (the id must not exist yet); nothing to read first"),
    "create now (amount)": Floor(2, 3, BOOKS_READ),
    "create now (percent)": Floor(2, 3, BOOKS_READ),
    "schedule": Floor(2, 1, "one read of the job (R6 needs its totals and version), one transaction "
                            "(record + job's pending amount); no invoice, so no counter or settings"),
    "cancel": Floor(2, 2, "one BatchGetItem of the job and the record (the response is the record; a "
                          "transaction cannot return it), one transaction (record + job)"),
    "final invoice (5 deposits)": Floor(2, 3, BOOKS_READ + "; the job item carries its deposits, so no "
                                                           "invoice is read"),
    "shipment message": Floor(2, 3, "one BatchGetItem reads the order, counter, settings and the shipment's "
                                    "guard (absent: a new shipment); one transaction records (and invoices) it"),
    "automation, one due record": Floor(3, 4, "one Query of the sparse PendingByDate index (shared by up to "
                                              "1 MB of due records), then per record one BatchGetItem (job, "
                                              "counter, settings) and one transaction"),
    "get job": Floor(1, 1, "one GetItem: the job item carries its billing summary"),
    "trial balance": Floor(1, 3, "one Query of the LEDGER partition: one running balance per account "
                                 "and currency (3 here), never the journal entries"),
    "create now, resent with the same Idempotency-Key": Floor(
        1, 0, "Powertools' conditional put fails and returns the stored response: nothing else is read"),
}
KEYED = ("register job", "create now (amount)", "create now (percent)", "schedule", "final invoice (5 deposits)")


def _body(job_id: str) -> str:
    return json.dumps({"id": job_id, "customer_id": "C-1", "customer_name": "Bench Co", "currency": "USD",
                       "lines": [{"line_id": "1", "item_code": "WIDGET", "description": "Widget", "quantity": "10",
                                  "unit_price": "100.00"}]})


def _http(method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    from local.gateway import invoke

    text = body if isinstance(body, str) or body is None else json.dumps(body)
    r = invoke(method, path, body=text, claims=CLAIMS, headers={"Idempotency-Key": key} if key else None)
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {r.body}")
    return r.json()


def _ship(shipment_id: str, order_id: str) -> None:
    from local import cfn
    from local.gateway import context_for
    from local.sqs import sqs_event

    body = json.dumps({"shipment_id": shipment_id, "order_id": order_id, "ship_date": "2026-11-27",
                       "lines": [{"line_id": "1", "quantity": "2"}]})
    module = cfn.load_handler_module(cfn.function_code_uri("ProcessShipmentsFunction"))
    out = module.lambda_handler(sqs_event([{"MessageId": shipment_id, "ReceiptHandle": "rh", "Body": body}],
                                          "arn:aws:sqs:us-east-1:123456789012:ShipmentQueue"),
                                context_for("ProcessShipmentsFunction"))
    if out.get("batchItemFailures"):
        raise RuntimeError(f"shipment {shipment_id} failed: {out}")


def _automation(date: str) -> dict[str, Any]:
    from local import cfn
    from local.gateway import context_for

    module = cfn.load_handler_module(cfn.function_code_uri("AutoGenerateFunction"))
    result: dict[str, Any] = module.lambda_handler({"detail-type": "Scheduled Event", "time": f"{date}T06:00:00Z"},
                                                   context_for("AutoGenerateFunction"))
    return result


def count(action: Callable[[], Any]) -> Measured:
    from local.metering import meter

    with meter() as m:
        action()
    return Measured(m.count, m.items_read, tuple(m.operations()))


def _operations(n: int) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Per operation: (set-up, the measured action) on fresh jobs, ``n`` distinguishing rounds."""
    state: dict[str, Any] = {}

    def job(name: str, deposits: int = 0, scheduled: str | None = None) -> str:
        job_id = f"RT-{name}-{n}"
        _http("POST", "/orders", _body(job_id))
        for _ in range(deposits):
            _http("POST", f"/orders/{job_id}/progress-billings", {"amount": "10.00"})
        if scheduled:
            state[name] = _http("POST", f"/orders/{job_id}/progress-billings",
                                {"amount": "10.00", "invoice_date": scheduled, "schedule": True})["record"]
        return f"/orders/{job_id}"

    paths: dict[str, str] = {}

    def setup(name: str, **kw: Any) -> Callable[[], None]:
        def run() -> None:
            paths[name] = job(name, **kw)
        return run

    due = f"2026-0{n + 1}-01"  # each round's automation finds exactly its own record due
    return {
        "register job": (lambda: None, lambda: _http("POST", "/orders", _body(f"RT-reg-{n}"))),
        "create now (amount)": (setup("amount"), lambda: _http(
            "POST", f"{paths['amount']}/progress-billings", {"amount": "100.00"})),
        "create now (percent)": (setup("percent"), lambda: _http(
            "POST", f"{paths['percent']}/progress-billings", {"percent": "12.5"})),
        "schedule": (setup("schedule"), lambda: _http(
            "POST", f"{paths['schedule']}/progress-billings", {"amount": "100.00", "invoice_date": "2027-06-01",
                                                               "schedule": True})),
        "cancel": (setup("cancel", scheduled="2027-06-01"), lambda: _http(
            "DELETE", f"{paths['cancel']}/progress-billings/{state['cancel']['record_id']}")),
        "final invoice (5 deposits)": (setup("final", deposits=5), lambda: _http(
            "POST", f"{paths['final']}/final-invoice")),
        "shipment message": (setup("ship"), lambda: _ship(f"SH-RT-{n}", paths["ship"].rsplit("/", 1)[1])),
        "automation, one due record": (setup("auto", scheduled=due), lambda: _automation(due)),
        "get job": (setup("get"), lambda: _http("GET", paths["get"])),
        "trial balance": (lambda: None, lambda: _http("GET", "/ledger/trial-balance")),
    }


def idempotency_key(name: str, n: int) -> str:
    """A valid Idempotency-Key (visible ASCII, no spaces) per operation and round."""
    return "bench-" + "-".join(w.strip("(),") for w in name.split()) + f"-{n}"


def _keyed(name: str, n: int, key: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    setup, action = _operations(n)[name]
    if name == "register job":
        return setup, lambda: _http("POST", "/orders", _body(f"RT-regk-{n}"), key=key)
    from local import gateway

    original = gateway.invoke

    def keyed() -> Any:
        def invoke(method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
                   body: str | None = None, claims: dict[str, Any] | None = None) -> Any:
            return original(method, path, query, {**(headers or {}), "Idempotency-Key": key}, body, claims)

        gateway.invoke = invoke  # type: ignore[assignment]
        try:
            return action()
        finally:
            gateway.invoke = original

    return setup, keyed


def measure() -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):  # Powertools' metrics and logs
        return _measure()


def _measure() -> dict[str, Any]:
    from moto import mock_aws

    from .sandbox import fast_moto

    apply_environment(service_environment(None, log_level="WARNING"))
    fast_moto()
    with mock_aws():
        create_tables()
        _http("PUT", "/settings", {"auto_invoice_on_shipment": True})
        _http("POST", "/orders", _body("RT-history"))
        _http("POST", "/orders/RT-history/progress-billings", {"amount": "10.00"})  # balances exist
        rows: list[dict[str, Any]] = []
        for n, measured_round in ((0, False), (1, True)):  # round 0 warms every operation up
            for name, (setup, action) in _operations(n).items():
                setup()
                got = count(action)
                if measured_round:
                    rows.append(_row(name, got, FLOORS[name], keyed=False))
            for name in KEYED:
                setup, action = _keyed(name, n + 10, idempotency_key(name, n))
                setup()
                got = count(action)
                if measured_round:
                    rows.append(_row(name, got, with_idempotency_key(FLOORS[name]), keyed=True))
            # a resend of a keyed create-now: answered from the idempotency table
            setup, action = _keyed("create now (amount)", n + 20, f"bench-resend-{n}")
            setup()
            action()
            got = count(action)
            if measured_round:
                rows.append(_row("create now, resent with the same Idempotency-Key", got,
                                 FLOORS["create now, resent with the same Idempotency-Key"], keyed=True))
    return {"operations": rows}


def _row(name: str, got: Measured, floor: Floor, keyed: bool) -> dict[str, Any]:
    return {"operation": name, "idempotency_key": keyed, "calls": got.calls, "items_read": got.items_read,
            "dynamodb_operations": list(got.operations), "floor_calls": floor.calls,
            "floor_items_read": floor.items_read, "floor_why": floor.why, "verdict": verdict(got, floor)}
