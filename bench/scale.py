"""The automation at scale: a table of thousands of jobs with history, and hundreds or thousands of
due records, on in-process moto, through ``billing.automation.run`` (the real code path, a fake
Lambda context with plenty of time).

Seeding goes around the API (far too slow for 20,000 jobs) but not around the store: each job's
history is decided by ``billing.books`` and turned into items by ``billing.store.commit`` itself;
its ``TransactWriteItems`` request is captured instead of sent, and the items it would have put are
written in batches of 25, straight into moto's table (what moto's ``BatchWriteItem`` does with each
item). The shape of every item is therefore the store's, and cannot drift. Ledger balances and the
invoice counter (updates in a transaction) are written once at the end with the totals.

Run in a fresh process per scale (``python -m bench.scale --jobs N --due D1,D2 --out F``), so its peak
memory is its own. Each run invoices the records due on one business date; the first (smaller)
batch runs before the second, on the same table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .env import apply_environment, create_tables, ensure_import_path, service_environment

DUE_DATES = ("2026-11-15", "2026-12-01")  # one business date per batch of due records
NOT_YET_DUE = "2027-06-01"
HISTORY_DATES = ("2026-09-01", "2026-10-01")
NOW = "2026-11-01T09:00:00.000Z"


@dataclass
class Timers:
    """Where the time of a run goes: inside DynamoDB calls (botocore + moto), and moto alone."""

    in_calls: float = 0.0
    in_moto: float = 0.0
    calls: int = 0


@contextlib.contextmanager
def timed_calls() -> Iterator[Timers]:
    from botocore.client import BaseClient
    from moto.core.botocore_stubber import BotocoreStubber

    t = Timers()
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]
    original_stub = BotocoreStubber.__call__

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        start = time.perf_counter()
        try:
            return original_call(self, operation, params)
        finally:
            t.in_calls += time.perf_counter() - start
            t.calls += 1

    def stub(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original_stub(self, event_name, request, **kwargs)
        finally:
            t.in_moto += time.perf_counter() - start

    BaseClient._make_api_call = call  # type: ignore[attr-defined]
    BotocoreStubber.__call__ = stub  # type: ignore[method-assign]
    try:
        yield t
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[attr-defined]
        BotocoreStubber.__call__ = original_stub  # type: ignore[method-assign]


# ---- seeding ------------------------------------------------------------------------------------


@dataclass
class Seeder:
    """Builds the store's items for jobs with history and writes them in batches."""

    client: Any
    table: str
    counter: int = 0
    balances: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    buffer: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    items: int = 0
    batch_calls: int = 0

    def capture(self, change: Any) -> None:
        """``store.commit(change)``, with its transaction's puts collected instead of sent.

        Intercepted where pynamodb hands the request to botocore, so no botocore client is involved.
        """
        from pynamodb.connection.base import Connection

        from billing import store

        original = Connection._make_api_call

        def intercept(connection: Any, operation: str, params: dict[str, Any]) -> Any:
            if operation != "TransactWriteItems":
                return original(connection, operation, params)
            for op in params["TransactItems"]:
                if "Put" in op:
                    it = op["Put"]["Item"]
                    self.buffer[(it["pk"]["S"], it["sk"]["S"])] = it  # a later put of a key wins
            return {}

        # Balances are updates (ADD), written once at the end from the totals: leave them out.
        postings = change.issued.postings if change.issued is not None else []
        if change.issued is not None:
            change.issued.postings = []
        Connection._make_api_call = intercept  # type: ignore[method-assign,assignment]
        try:
            store.commit(change)
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]
            if change.issued is not None:
                change.issued.postings = postings
        if change.issued is not None:
            for p in postings:
                bal = self.balances.setdefault((p.currency, p.account), [p.account_name, Decimal(0), Decimal(0)])
                bal[1] += p.debit
                bal[2] += p.credit

    def flush(self, force: bool = False) -> None:
        """Write the buffered items, 25 at a time (a BatchWriteItem's worth)."""
        backend = _moto_backend(self.table)
        while len(self.buffer) >= 25 or (force and self.buffer):
            keys = list(self.buffer)[:25]
            items = [self.buffer.pop(k) for k in keys]
            if backend is not None:
                for item in items:
                    backend.put_item(self.table, item)
                self.batch_calls += 1
            else:
                pending: dict[str, Any] = {self.table: [{"PutRequest": {"Item": it}} for it in items]}
                while pending:
                    out = self.client.batch_write_item(RequestItems=pending)
                    self.batch_calls += 1
                    pending = out.get("UnprocessedItems") or {}
            self.items += len(items)

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def finish(self) -> None:
        from billing import store

        for (currency, account), (name, debit, credit) in self.balances.items():
            item = store.BalanceItem("LEDGER", f"BAL#{currency}#{account}", account=account, account_name=name,
                                     currency=currency, debit=debit, credit=credit)
            self.buffer[("LEDGER", f"BAL#{currency}#{account}")] = item.serialize()
        counter = store.CounterItem(*store.COUNTER_KEY, value=self.counter)
        self.buffer[store.COUNTER_KEY] = counter.serialize()
        self.flush(force=True)


def _moto_backend(table: str) -> Any:
    """In-process moto's DynamoDB backend holding ``table``, or None (then the items go through
    ``BatchWriteItem``). moto's BatchWriteItem puts each item with ``put_item``; calling that
    directly skips serializing 25-item requests only for moto to parse them back, which is most of
    the seeding time at 20,000 jobs."""
    try:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from billing.config import config
    except ImportError:
        return None
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][config().region]
    return backend if table in backend.tables else None


def _record(job: Any, record_id: str, date: str, amount: Decimal, scheduled: bool) -> Any:
    from billing.model import PENDING, Record

    return Record(record_id=record_id, kind=job.kind, job_id=job.id, invoice_date=date, title=f"Milestone {record_id}",
                  description="Progress billing", item_description="Milestone deposit", amount=amount, percent=None,
                  currency=job.currency, status=PENDING, scheduled=scheduled, created_at=NOW, updated_at=NOW)


def seed(jobs: int, due: list[int]) -> dict[str, Any]:
    """``jobs`` jobs, each with two deposit invoices (records, invoices, entries); every tenth
    finalized; every fourth open one with a record pending but not yet due; and ``due[k]`` open jobs
    with a record due on ``DUE_DATES[k]``."""
    import boto3

    from billing import books, store
    from billing.config import config
    from billing.model import OPEN, Job, JobLine, Settings

    settings = Settings(auto_invoice_on_shipment=False)
    store.put_settings(settings)
    from botocore.config import Config

    # no client-side validation of 25-item batches: the items come from the store itself
    s = Seeder(boto3.client("dynamodb", config=Config(parameter_validation=False)), config().table_name)
    due_on: dict[int, str] = {}
    open_jobs = [i for i in range(jobs) if i % 10 != 9]
    if sum(due) > len(open_jobs):
        raise ValueError("more due records than open jobs")
    it = iter(open_jobs)
    for k, n in enumerate(due):
        for _ in range(n):
            due_on[next(it)] = DUE_DATES[k]
    started = time.perf_counter()
    for i in range(jobs):
        kind = "order" if i % 2 == 0 else "project"
        lines = [JobLine("1", "WIDGET", "Widget", Decimal(10), Decimal("100.00"), Decimal("1000.00")),
                 JobLine("2", "SERVICE", "Installation", Decimal(1), Decimal("500.00"), Decimal("500.00"))]
        job = Job(kind=kind, id=f"J{i:06d}", customer_id=f"C-{i % 997}", customer_name=f"Customer {i % 997}",
                  currency="USD", lines=lines, total=Decimal("1500.00"), status=OPEN, created_at=NOW)
        for h, date in enumerate(HISTORY_DATES):
            rec = _record(job, f"PB-J{i:06d}-{h}", date, Decimal("150.00"), scheduled=False)
            issued = books.apply_deposit(job, rec, s.next_number(), settings, NOW)
            s.capture(store.Change(job, new_job=h == 0, records=[rec], new_record_ids={rec.record_id},
                                   issued=issued))
        pending = []
        if i in due_on:
            pending.append(_record(job, f"PB-J{i:06d}-due", due_on[i], Decimal("100.00"), scheduled=True))
        if i % 10 == 9:
            issued = books.apply_final(job, s.next_number(), settings, "2026-10-15", "Final", "", NOW)
            s.capture(store.Change(job, issued=issued))
        elif i % 4 == 0:
            pending.append(_record(job, f"PB-J{i:06d}-later", NOT_YET_DUE, Decimal("100.00"), scheduled=True))
        for rec in pending:
            job.pending[rec.record_id] = rec.amount
        if pending:
            s.capture(store.Change(job, records=pending, new_record_ids={r.record_id for r in pending}))
        s.flush()
    s.finish()
    return {"jobs": jobs, "items": s.items, "batch_write_calls": s.batch_calls, "invoices_in_history": s.counter,
            "due": {DUE_DATES[k]: n for k, n in enumerate(due)},
            "pending_not_yet_due": sum(1 for i in open_jobs if i % 4 == 0 and i not in due_on),
            "seconds": time.perf_counter() - started}


# ---- runs ---------------------------------------------------------------------------------------


def maxrss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return float(kb) / 1024


def run_once(date: str) -> dict[str, Any]:
    from billing import automation
    from local.gateway import LambdaContext
    from local.metering import meter

    context = LambdaContext(function_name="AutoGenerateFunction", timeout_ms=24 * 3600 * 1000)
    before_rss = maxrss_mb()
    with meter() as m, timed_calls() as t:
        cpu0, start = time.process_time(), time.perf_counter()
        result = automation.run({"detail-type": "Scheduled Event", "time": f"{date}T06:00:00Z"}, context)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    n = result["invoiced"]
    ops = m.operations()
    return {
        "business_date": date, "result": result, "invoiced": n, "seconds": wall, "cpu_seconds": cpu,
        "invoiced_per_second": n / wall if wall else None,
        "calls": m.count, "items_read": m.items_read,
        "calls_by_operation": {op: ops.count(op) for op in sorted(set(ops))},
        "calls_per_record": m.count / n if n else None,
        "items_read_per_record": m.items_read / n if n else None,
        "ms_per_record": {
            "total": wall / n * 1000,
            "service (billing + pynamodb + Powertools)": (wall - t.in_calls) / n * 1000,
            "botocore (client side)": (t.in_calls - t.in_moto) / n * 1000,
            "moto (the stand-in for DynamoDB)": t.in_moto / n * 1000,
        } if n else None,
        "maxrss_mb_before": before_rss, "maxrss_mb_after": maxrss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--due", required=True, help="comma-separated due-record counts, one run each")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    due = [int(x) for x in args.due.split(",")]
    ensure_import_path()
    apply_environment(service_environment(None, log_level="WARNING"))
    from moto import mock_aws

    from .sandbox import fast_moto

    fast_moto()
    started = time.perf_counter()
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        create_tables()
        seeded = seed(args.jobs, due)
        rss_seeded = maxrss_mb()
        runs = [run_once(DUE_DATES[k]) for k in range(len(due))]
    for k, r in enumerate(runs):
        if r["invoiced"] != due[k] or not r["result"]["complete"]:
            raise SystemExit(f"run {k} invoiced {r['invoiced']} of {due[k]}: {r['result']}")
    out = {"jobs": args.jobs, "seed": seeded, "maxrss_mb_after_seed": rss_seeded, "runs": runs,
           "seconds": time.perf_counter() - started,
           "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
