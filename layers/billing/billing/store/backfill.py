"""R18 for invoices and journal entries written before the registers existed: put them in the
registers' indexes (``ByDate``, ``ByCustomer``) and count them in their months, once.

An operator's tool (``python -m local.backfill``, docs/registers.md), never a request path: it Scans
the table for the items that lack their index keys. Each item is one transaction: its keys set on
condition that it has none yet, and its month counted. So a run can be stopped and run again, runs
can overlap, and invoices issued meanwhile (written with their keys) are never counted twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from ..structs import struct
from .commit import cancellation
from .items import (
    EntryItem,
    InvoiceItem,
    MonthItem,
    bind,
    connection,
    customer_invoice_key,
    entry_date_key,
    invoice_date_key,
    job_of_partition,
    month_key,
    plain,
)

ATTEMPTS = 5  # per item, when a live transaction counts the same month at that moment


@struct
class Backfilled:
    invoices: int = 0
    entries: int = 0
    skipped: int = 0  # indexed meanwhile (another run, or a concurrent writer), or not readable


def backfill(progress: Callable[[Backfilled], None] | None = None) -> Backfilled:
    """Index every ``INVOICE#`` copy and journal entry that has no ``ByDate`` key yet."""
    bind()
    done = Backfilled()
    for inv in InvoiceItem.scan(InvoiceItem.pk.startswith("INVOICE#") & InvoiceItem.gsi3pk.does_not_exist()):
        doc = plain(inv.data)
        date, invoice_id, customer = doc.get("invoice_date"), doc.get("invoice_id"), doc.get("customer_id")
        if not (isinstance(date, str) and isinstance(invoice_id, str) and isinstance(customer, str)):
            done.skipped += 1
            continue
        (p3, s3), (p4, s4) = invoice_date_key(date, invoice_id), customer_invoice_key(customer, date, invoice_id)
        actions = [InvoiceItem.gsi3pk.set(p3), InvoiceItem.gsi3sk.set(s3), InvoiceItem.gsi4pk.set(p4),
                   InvoiceItem.gsi4sk.set(s4)]  # fmt: skip
        if _once(InvoiceItem(inv.pk, inv.sk), actions, InvoiceItem.gsi3pk.does_not_exist(), date, "invoices"):
            done.invoices += 1
        else:
            done.skipped += 1
        _report(progress, done)
    for entry in EntryItem.scan(EntryItem.pk.startswith("JOB#") & EntryItem.gsi3pk.does_not_exist()):
        doc, job = plain(entry.data), job_of_partition(entry.pk)
        date, entry_id = doc.get("date"), doc.get("entry_id")
        if job is None or not (isinstance(date, str) and isinstance(entry_id, str)):
            done.skipped += 1
            continue
        p3, s3 = entry_date_key(date, entry_id)
        actions = [EntryItem.gsi3pk.set(p3), EntryItem.gsi3sk.set(s3), EntryItem.data["kind"].set(job[0]),
                   EntryItem.data["job_id"].set(job[1])]  # fmt: skip
        if _once(EntryItem(entry.pk, entry.sk), actions, EntryItem.gsi3pk.does_not_exist(), date, "entries"):
            done.entries += 1
        else:
            done.skipped += 1
        _report(progress, done)
    return done


def _once(item: Any, actions: list[Any], not_yet: Any, date: str, counted: str) -> bool:
    """Set the item's keys and count it in its month, in one transaction; False if it has keys by now."""
    month = MonthItem.invoices if counted == "invoices" else MonthItem.entries
    for attempt in range(ATTEMPTS):
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.update(item, actions=actions, condition=not_yet)
                tx.update(MonthItem(*month_key(date[:7])), actions=[month.add(1), MonthItem.type.set(MonthItem)])
            return True
        except TransactWriteError as e:
            failed, reasons = cancellation(e, ["item", "month"])  # the order of the updates above
            if "item" in failed:
                return False
            busy = e.cause_response_code == "TransactionConflictException" or "TransactionConflict" in reasons
            if not busy or attempt + 1 == ATTEMPTS:
                raise
            time.sleep(0.1 * (attempt + 1))  # the month item is being counted by an invoice issued now
    return False


def _report(progress: Callable[[Backfilled], None] | None, done: Backfilled) -> None:
    if progress is not None and (done.invoices + done.entries + done.skipped) % 500 == 0:
        progress(done)
