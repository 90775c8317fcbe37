"""The automation at scale: a table of thousands of jobs with history and hundreds or thousands of
records due, on in-process moto, through the auto-generate function's handler
(``local.fixtures.run_automation``, a context with a day to spare).

Seeding goes around the API (far too slow for 20,000 jobs) but not around the store: each job's
history is decided by ``billing.books`` and turned into items by ``billing.store.commit`` itself;
its ``TransactWriteItems`` is caught by a ``local.metering.intercept`` handler instead of sent, and
the items it would have put go straight into moto's table. Ledger balances and the invoice counter
(updates in a transaction) are written once at the end, from the totals.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .env import use_environment

DUE_DATES = ("2026-11-15", "2026-12-01")  # one business date per run
NOT_YET_DUE = "2027-06-01"
HISTORY_DATES = ("2026-09-01", "2026-10-01")
NOW = "2026-11-01T09:00:00.000Z"


# ---- moto without costs that grow with the table -------------------------------------------------


def fast_moto() -> None:
    """Patch moto in this process. (1) Its ``TransactWriteItems`` deep-copies every table it touches
    to be able to roll back (seconds per call at 200,000 items): copy only the items the transaction
    names, and put them back if it fails. (2) Its item class re-measures the whole item for every
    attribute set (quadratic in the item's size): measure once, and precisely only when the item's
    JSON (longer than its DynamoDB size) is over the 400 KB limit."""
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


# ---- seeding ------------------------------------------------------------------------------------


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

    def commit(self, change: Any) -> None:
        """``store.commit(change)`` without the balance updates (ADD), which are added up instead."""
        from billing import store

        postings = change.issued.postings if change.issued is not None else []
        if change.issued is not None:
            change.issued.postings = []
        try:
            store.commit(change)
        finally:
            if change.issued is not None:
                change.issued.postings = postings
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


def _record(job: Any, record_id: str, date: str, amount: Decimal, scheduled: bool) -> Any:
    from billing.model import Record

    fields: dict[str, Any] = {"kind": job.kind, "status": "pending"}  # RecordStatus.PENDING
    return Record(
        record_id=record_id,
        job_id=job.id,
        invoice_date=date,
        title=f"Milestone {record_id}",
        description="Progress billing",
        item_description="Milestone deposit",
        amount=amount,
        percent=None,
        currency=job.currency,
        scheduled=scheduled,
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


def seed(jobs: int, due: list[int]) -> dict[str, Any]:
    """``jobs`` jobs, each with two deposit invoices (records, invoices, entries); every tenth
    finalized; every fourth open one with a record pending but not yet due; and ``due[k]`` open jobs
    with a record due on ``DUE_DATES[k]``. Needs the tables in in-process moto."""
    from billing import books, store
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
            lines = [
                JobLine("1", "WIDGET", "Widget", Decimal(10), Decimal("100.00"), Decimal("1000.00")),
                JobLine("2", "SERVICE", "Installation", Decimal(1), Decimal("500.00"), Decimal("500.00")),
            ]
            kind: Any = "order" if i % 2 == 0 else "project"
            job = Job(
                kind=kind,
                id=f"J{i:06d}",
                customer_id=f"C-{i % 997}",
                customer_name=f"Customer {i % 997}",
                currency="USD",
                lines=lines,
                total=Decimal("1500.00"),
                created_at=NOW,
            )  # open
            for h, date in enumerate(HISTORY_DATES):
                rec = _record(job, f"PB-J{i:06d}-{h}", date, Decimal("150.00"), scheduled=False)
                issued = books.apply_deposit(job, rec, s.next_number(), settings, NOW)
                s.commit(
                    store.Change(job, new_job=h == 0, records=[rec], new_record_ids={rec.record_id}, issued=issued)
                )
            pending = []
            if i in due_on:
                pending.append(_record(job, f"PB-J{i:06d}-due", due_on[i], Decimal("100.00"), scheduled=True))
            if i % 10 == 9:
                s.commit(
                    store.Change(
                        job, issued=books.apply_final(job, s.next_number(), settings, "2026-10-15", "Final", "", NOW)
                    )
                )
            elif i % 4 == 0:
                pending.append(_record(job, f"PB-J{i:06d}-later", NOT_YET_DUE, Decimal("100.00"), scheduled=True))
            for rec in pending:
                job.pending[rec.record_id] = rec.amount
            if pending:
                s.commit(store.Change(job, records=pending, new_record_ids={r.record_id for r in pending}))
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


# ---- runs ---------------------------------------------------------------------------------------


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@contextlib.contextmanager
def time_in_calls() -> Iterator[list[float]]:
    """Seconds spent inside DynamoDB calls (botocore's client side and moto), in ``[0]``."""
    from local.metering import intercept

    spent = [0.0]

    def timed(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return proceed()
        finally:
            spent[0] += time.perf_counter() - start

    with intercept(timed):
        yield spent


def run_once(date: str) -> dict[str, Any]:
    """One run of the automation for ``date``: what it invoiced, its calls, items read and time."""
    from local.fixtures import run_automation, scheduled_event
    from local.metering import meter

    with meter() as m, time_in_calls() as in_calls:
        start = time.perf_counter()
        result = run_automation(scheduled_event(f"{date}T06:00:00Z"), timeout_ms=24 * 3600 * 1000)
        wall = time.perf_counter() - start
    n = result["invoiced"]
    ops = m.operations()
    return {
        "business_date": date,
        "result": result,
        "invoiced": n,
        "seconds": wall,
        "invoiced_per_second": n / wall if wall else None,
        "calls": m.count,
        "items_read": m.items_read,
        "calls_by_operation": {op: ops.count(op) for op in sorted(set(ops))},
        "calls_per_record": m.count / n if n else None,
        "items_read_per_record": m.items_read / n if n else None,
        "ms_per_record": {
            "total": wall / n * 1000,
            "in DynamoDB calls (botocore + moto)": in_calls[0] / n * 1000,
            "service (billing, pynamodb, Powertools)": (wall - in_calls[0]) / n * 1000,
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
    with open(args.out, "w") as f:
        json.dump(
            {
                "jobs": args.jobs,
                "seed": seeded,
                "maxrss_mb_after_seed": rss_seeded,
                "runs": runs,
                "seconds": time.perf_counter() - started,
            },
            f,
            indent=1,
            default=str,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
