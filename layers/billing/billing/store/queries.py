"""Reads: one strongly consistent BatchGetItem for what a change is decided on, one Query for
everything a job owns, index Queries for lists. No Scan anywhere."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from ..documents import InvoiceDoc, JournalEntryDoc, RecordDoc, ShipmentDoc
from ..errors import BadRequest, NotFound
from ..model import Job, Record, Settings
from .items import (
    BALANCE_PREFIX,
    COUNTER_KEY,
    LEDGER_PK,
    PENDING_PARTITION,
    SETTINGS_KEY,
    BalanceItem,
    CounterItem,
    EntryItem,
    InvoiceItem,
    Item,
    JobItem,
    RecordItem,
    SettingsItem,
    ShipmentItem,
    bind,
    invoice_key,
    job_from_item,
    job_key,
    job_pk,
    jobs_key,
    pending_due_bound,
    plain,
    record_key,
    shipment_guard_key,
    stored,
)


@dataclass
class Snapshot:
    """What a change to the books is decided on: the job, the invoice counter and the settings."""

    job: Job | None
    counter: int | None  # None: no invoice issued yet in this stack
    settings: Settings
    shipment_recorded: bool = False


def read_for_change(kind: str, job_id: str, shipment_id: str | None = None, *, books: bool = True) -> Snapshot:
    """One strongly consistent BatchGetItem: job + counter + settings (+ a shipment's guard).

    ``books=False``: the job alone, for a change that issues no invoice (a scheduled record); the
    snapshot then has no counter and the default settings, and must not be used to issue one.
    """
    bind()
    snap = Snapshot(None, None, Settings())
    keys = [job_key(kind, job_id)]
    if books:
        keys += [COUNTER_KEY, SETTINGS_KEY]
    if shipment_id is not None:
        keys.append(shipment_guard_key(shipment_id))
    for it in Item.batch_get(keys, consistent_read=True):
        if isinstance(it, JobItem):
            snap.job = job_from_item(it)
        elif isinstance(it, CounterItem):
            snap.counter = int(it.value)
        elif isinstance(it, SettingsItem):
            snap.settings = Settings.from_api(plain(it.data))
        elif isinstance(it, ShipmentItem):
            snap.shipment_recorded = True
    return snap


def get_shipment(shipment_id: str) -> ShipmentDoc | None:
    bind()
    try:
        it = ShipmentItem.get(*shipment_guard_key(shipment_id), consistent_read=True)
    except ShipmentItem.DoesNotExist:
        return None
    return cast(ShipmentDoc, plain(it.data))


@dataclass
class JobPartition:
    job: Job
    records: list[RecordDoc]
    invoices: list[InvoiceDoc]
    entries: list[JournalEntryDoc]
    shipments: list[ShipmentDoc]


def read_job_partition(kind: str, job_id: str) -> JobPartition:
    """Everything a job owns in one Query (paged by DynamoDB only past 1 MB)."""
    bind()
    job: Job | None = None
    out: dict[type, list[Any]] = {RecordItem: [], InvoiceItem: [], EntryItem: [], ShipmentItem: []}
    for it in Item.query(job_pk(kind, job_id), consistent_read=True):
        if isinstance(it, JobItem):
            job = job_from_item(it)
        elif type(it) in out:
            out[type(it)].append(plain(it.data))
    if job is None:
        raise NotFound(f"{kind} {job_id} not found")
    return JobPartition(job, out[RecordItem], out[InvoiceItem], out[EntryItem], out[ShipmentItem])


def get_job(kind: str, job_id: str) -> Job:
    bind()
    try:
        return job_from_item(JobItem.get(*job_key(kind, job_id), consistent_read=True))
    except JobItem.DoesNotExist:
        raise NotFound(f"{kind} {job_id} not found") from None


def read_job_and_record(kind: str, job_id: str, record_id: str) -> tuple[Job | None, Record | None]:
    """A job and one of its records, in one strongly consistent BatchGetItem."""
    bind()
    job: Job | None = None
    rec: Record | None = None
    for it in Item.batch_get([job_key(kind, job_id), record_key(kind, job_id, record_id)], consistent_read=True):
        if isinstance(it, JobItem):
            job = job_from_item(it)
        elif isinstance(it, RecordItem):
            rec = Record.from_api(plain(it.data))
    return job, rec


def get_record(kind: str, job_id: str, record_id: str) -> Record | None:
    bind()
    try:
        it = RecordItem.get(*record_key(kind, job_id, record_id), consistent_read=True)
    except RecordItem.DoesNotExist:
        return None
    return Record.from_api(plain(it.data))


def get_invoice(invoice_id: str) -> InvoiceDoc:
    bind()
    try:
        it = InvoiceItem.get(*invoice_key(invoice_id), consistent_read=True)
    except InvoiceItem.DoesNotExist:
        raise NotFound(f"invoice {invoice_id} not found") from None
    return cast(InvoiceDoc, plain(it.data))


def _encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(key, dict):
            raise ValueError
        return key
    except (ValueError, TypeError):
        raise BadRequest(
            "next_token is not a token this service returned", [{"field": "next_token", "message": "invalid token"}]
        ) from None


def list_jobs(kind: str, status: str | None, limit: int, next_token: str | None) -> tuple[list[Job], str | None]:
    bind()
    partition, prefix = jobs_key(kind, status or "")
    cond = JobItem.gsi2sk.startswith(prefix) if status else None
    result = JobItem.jobs_by_kind.query(partition, cond, limit=limit, last_evaluated_key=_decode_token(next_token))
    jobs = [job_from_item(it) for it in result]
    return jobs, _encode_token(result.last_evaluated_key)


def pending_due(business_date: str) -> Iterator[Record]:
    """Pending scheduled records with ``invoice_date <= business_date``, oldest first (sparse index)."""
    bind()
    for it in RecordItem.pending_by_date.query(PENDING_PARTITION, RecordItem.gsi1sk < pending_due_bound(business_date)):
        yield Record.from_api(plain(it.data))


def get_settings() -> Settings:
    bind()
    try:
        return Settings.from_api(plain(SettingsItem.get(*SETTINGS_KEY, consistent_read=True).data))
    except SettingsItem.DoesNotExist:
        return Settings()


def put_settings(settings: Settings) -> None:
    bind()
    SettingsItem(*SETTINGS_KEY, data=stored(settings.to_api())).save()


def trial_balance() -> list[BalanceItem]:
    """The running balances: one Query of a handful of items, never the entries."""
    bind()
    return list(BalanceItem.query(LEDGER_PK, BalanceItem.sk.startswith(BALANCE_PREFIX), consistent_read=True))
