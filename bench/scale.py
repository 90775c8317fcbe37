"""The automation at scale (docs/benchmarks.md, section 3): the auto-generate function's handler
(``local.fixtures.run_automation``, a context with a day to spare) on a table of thousands of jobs with
history, in in-process moto. Seeding goes around the API (far too slow for 20,000 jobs), not around the
store: ``billing.store.commit``'s transactions are caught and their puts written straight into moto's table;
ledger balances and the invoice counter (updates in a transaction) are written once at the end.

``python -m bench.scale --jobs N --due D1,D2 --out F``: one fresh process per table, so its peak
memory is its own; run k invoices the records due on ``DUE_DATES[k]``, on the same table.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .env import use_environment

DUE_DATES = ("2026-11-15", "2026-12-01")  # one business date per run
NOT_YET_DUE = "2027-06-01"
HISTORY_DATES = ("2026-09-01", "2026-10-01")
NOW = "2026-11-01T09:00:00.000Z"
# every job's lines (id, item, description, quantity, unit price, amount) and total
LINES = (
    ("1", "WIDGET", "Widget", "10", "100.00", "1000.00"),
    ("2", "SERVICE", "Installation", "1", "500.00", "500.00"),
)
TOTAL = Decimal("1500.00")


def fast_moto() -> None:
    """Patch moto in this process. Its ``TransactWriteItems`` deep-copies every table it touches to roll
    back: copy only the items the transaction names. Its items re-measure themselves per attribute set:
    measure once, and precisely only when the item's JSON (longer than its size) is over 400 KB."""
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.models.utilities import bytesize

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_bench", False):
        return
    original = backend.transact_write_items

    class _CopyWithoutTables:  # the ``copy`` module as moto's backend sees it: a table's copy is itself
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    models.copy = _CopyWithoutTables()  # type: ignore[attr-defined,assignment]

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.get_table(op["TableName"])
            attrs = op.get("Key") or op["Item"]
            hash_key = dynamo_type.DynamoType(attrs[table.hash_key_attr])
            range_key = dynamo_type.DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(saved):
                if before is None:
                    if table.get_item(hash_key, range_key) is not None:
                        table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = before
                else:
                    table.items[hash_key] = before
            raise

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        values = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        if (
            len(json.dumps(attrs, default=str)) > 405000
            and sum(bytesize(key) + value.size() for key, value in values.items()) > 405000
        ):
            raise ItemSizeTooLarge
        self.attrs = dynamo_type.LimitedSizeDict()
        dict.update(self.attrs, values)

    transact_write_items._bench = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    dynamo_type.Item.__init__ = item_init  # type: ignore[method-assign]


@dataclass
class Seeder:
    """Collects the items of the store's transactions and writes them into moto's table."""

    counter: int = 0
    balances: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    buffer: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    items: int = 0

    def catch(self, operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        """A ``local.metering.intercept`` handler: a transaction's puts are kept, not sent."""
        if operation != "TransactWriteItems":
            return proceed()
        for op in params["TransactItems"]:
            if "Put" in op:
                it = op["Put"]["Item"]
                self.buffer[(it["pk"]["S"], it["sk"]["S"])] = it  # a later put of a key wins
        return {}

    def commit(self, job: Any, records: list[Any], issued: Any = None, new_job: bool = False) -> None:
        """``store.commit`` of new records and an invoice, but its balance updates (ADD) are added up instead."""
        from billing import store

        postings = []
        if issued is not None:
            postings, issued.postings = issued.postings, []
        ids = {r.record_id for r in records}
        store.commit(store.Change(job, new_job=new_job, records=records, new_record_ids=ids, issued=issued))
        for p in postings:
            bal = self.balances.setdefault((p.currency, p.account), [p.account_name, Decimal(0), Decimal(0)])
            bal[1] += p.debit
            bal[2] += p.credit

    def flush(self) -> None:
        """Into moto's table as its ``BatchWriteItem`` puts each item, without a request to parse."""
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from billing.config import config

        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][config().region]
        for item in self.buffer.values():
            backend.put_item(config().table_name, item)
        self.items += len(self.buffer)
        self.buffer.clear()

    def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def finish(self) -> None:
        from billing.store.items import COUNTER_KEY, BalanceItem, CounterItem, balance_key

        for (currency, account), (name, debit, credit) in self.balances.items():
            key = balance_key(currency, account)
            self.buffer[key] = BalanceItem(
                *key, account=account, account_name=name, currency=currency, debit=debit, credit=credit
            ).serialize()
        self.buffer[COUNTER_KEY] = CounterItem(*COUNTER_KEY, value=self.counter).serialize()
        self.flush()


def _record(job: Any, record_id: str, date: str, amount: str = "100.00", scheduled: bool = True) -> Any:
    from billing.documents import RecordStatus
    from billing.model import Record

    return Record(
        record_id=record_id,
        kind=job.kind,
        job_id=job.id,
        invoice_date=date,
        title=f"Milestone {record_id}",
        description="Progress billing",
        item_description="Milestone deposit",
        amount=Decimal(amount),
        percent=None,
        currency=job.currency,
        status=RecordStatus.PENDING,
        scheduled=scheduled,
        created_at=NOW,
        updated_at=NOW,
    )


def seed(jobs: int, due: list[int]) -> dict[str, Any]:
    """``jobs`` jobs, each with two deposit invoices (records, invoices, entries); every tenth
    finalized; every fourth open one with a record pending but not yet due; and ``due[k]`` open jobs
    with a record due on ``DUE_DATES[k]``. Needs the tables in in-process moto."""
    from billing import books, store
    from billing.documents import AUTOMATION_ACTOR
    from billing.model import Job, JobLine, Settings
    from local.metering import intercept

    settings = Settings(auto_invoice_on_shipment=False)
    store.put_settings(settings)
    s = Seeder()
    open_jobs = [i for i in range(jobs) if i % 10 != 9]
    if sum(due) > len(open_jobs):
        raise ValueError("more due records than open jobs")
    it = iter(open_jobs)
    due_on = {next(it): DUE_DATES[k] for k, n in enumerate(due) for _ in range(n)}
    started = time.perf_counter()
    with intercept(s.catch):
        for i in range(jobs):
            lines = [JobLine(a, b, c, Decimal(q), Decimal(p), Decimal(t)) for a, b, c, q, p, t in LINES]
            kind: Any = "order" if i % 2 == 0 else "project"
            job_id, customer = f"J{i:06d}", i % 997
            job = Job(kind, job_id, f"C-{customer}", f"Customer {customer}", "USD", lines, TOTAL, created_at=NOW)
            for h, date in enumerate(HISTORY_DATES):
                rec = _record(job, f"PB-{job_id}-{h}", date, "150.00", scheduled=False)
                s.commit(job, [rec], books.apply_deposit(job, rec, s.next_number(), settings, NOW), new_job=h == 0)
            pending = [_record(job, f"PB-{job_id}-due", due_on[i])] if i in due_on else []
            if i % 10 == 9:
                s.commit(
                    job,
                    [],
                    books.apply_final(
                        job, s.next_number(), settings, "2026-10-15", "Final", "", NOW, by=AUTOMATION_ACTOR
                    ),
                )
            elif i % 4 == 0:
                pending.append(_record(job, f"PB-{job_id}-later", NOT_YET_DUE))
            for rec in pending:
                job.pending[rec.record_id] = rec.amount
            if pending:
                s.commit(job, pending)
            s.flush()
    s.finish()
    return {
        "jobs": jobs,
        "items": s.items,
        "invoices_in_history": s.counter,
        "due": {DUE_DATES[k]: n for k, n in enumerate(due)},
        "pending_not_yet_due": sum(1 for i in open_jobs if i % 4 == 0 and i not in due_on),
        "seconds": time.perf_counter() - started,
    }


def maxrss_mb() -> float:
    """This process's peak RSS: Linux's ``VmHWM``, which starts anew at ``exec``. ``ru_maxrss`` does not: a
    child spawned by a process that once held more (``subprocess`` uses ``vfork``) reads the parent's peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return int(status.split("VmHWM:")[1].split()[0]) / 1024  # kB


def run_once(date: str) -> dict[str, Any]:
    """One run of the automation for ``date``: what it invoiced, its calls, items read and time, also the
    time inside DynamoDB calls (botocore's client side and moto)."""
    from local.fixtures import run_automation, scheduled_event
    from local.metering import intercept, meter

    in_calls = 0.0

    def timed(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        nonlocal in_calls
        start = time.perf_counter()
        try:
            return proceed()
        finally:
            in_calls += time.perf_counter() - start

    with meter() as m, intercept(timed):
        start = time.perf_counter()
        result = run_automation(scheduled_event(f"{date}T06:00:00Z"), timeout_ms=24 * 3600 * 1000)
        wall = time.perf_counter() - start
    n = result["invoiced"]
    return {
        "business_date": date,
        "result": result,
        "invoiced": n,
        "seconds": wall,
        "invoiced_per_second": n / wall if wall else None,
        "calls": m.count,
        "items_read": m.items_read,
        "calls_by_operation": dict(sorted(Counter(m.operations()).items())),
        "calls_per_record": m.count / n if n else None,
        "items_read_per_record": m.items_read / n if n else None,
        "ms_per_record": {
            "total": wall / n * 1000,
            "in DynamoDB calls (botocore + moto)": in_calls / n * 1000,
            "service (billing, pynamodb, Powertools)": (wall - in_calls) / n * 1000,
        }
        if n
        else None,
        "maxrss_mb": maxrss_mb(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--due", required=True, help="comma-separated due-record counts, one run each")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    due = [int(x) for x in args.due.split(",")]
    from moto import mock_aws

    fast_moto()
    started = time.perf_counter()
    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):  # Powertools' metrics
        use_environment()
        seeded = seed(args.jobs, due)
        rss_seeded = maxrss_mb()
        runs = [run_once(DUE_DATES[k]) for k in range(len(due))]
    for k, r in enumerate(runs):
        if r["invoiced"] != due[k] or not r["result"]["complete"]:
            raise SystemExit(f"run {k} invoiced {r['invoiced']} of {due[k]}: {r['result']}")
    out = {"jobs": args.jobs, "seed": seeded, "maxrss_mb_after_seed": rss_seeded, "runs": runs}
    out["seconds"] = time.perf_counter() - started
    Path(args.out).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
