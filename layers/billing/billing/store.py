"""All DynamoDB access: one table, single-table design, through pynamodb.

Keys (``pk`` / ``sk``)::

    JOB#<kind>#<id>   #JOB               the job (aggregate: totals, deposits, pending, version)
                      REC#<record_id>    progress billing records
                      INV#<invoice_id>   invoices of the job
                      JE#<entry_id>      journal entries of the job
                      SHIP#<shipment_id> shipments of an order
    INVOICE#<id>      #INVOICE           copy of an immutable invoice, for GET /invoices/{id}
    SHIPMENT#<id>     #SHIPMENT          shipment guard: a shipment id is recorded once (R8)
    COUNTER           INVOICE            the invoice number counter (R13)
    SETTINGS          #SETTINGS          settings
    LEDGER            BAL#<cur>#<acct>   running debit/credit per account and currency

Indexes: ``PendingByDate`` (sparse: only pending scheduled records carry ``gsi1pk``), queried by the
automation for ``invoice_date <= business date``; ``JobsByKind`` for ``GET /{kind}``.

Every change to the books is ONE ``TransactWriteItems`` (``commit``) conditioned on the job's
``version`` and on the counter value that was read, so a crash leaves all or nothing and two
concurrent writers cannot both pass a check made on the same state: the loser gets ``Conflict``
and the service re-reads and tries again.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    DiscriminatorAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.constants import NUMBER
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from .books import Issued, Posting
from .config import config
from .errors import AlreadyExists, BadRequest, Conflict, NotFound, RecordExists
from .model import CANCELLED, PENDING, Job, Record, Settings

PENDING_PARTITION = "PENDING"


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read and written as Decimal (pynamodb's NumberAttribute goes through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return format(value, "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class PendingByDate(GlobalSecondaryIndex["RecordItem"]):
    class Meta:
        index_name = "PendingByDate"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class JobsByKind(GlobalSecondaryIndex["JobItem"]):
    class Meta:
        index_name = "JobsByKind"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Item(Model):
    class Meta:
        table_name = "progress-billing"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type = DiscriminatorAttribute()
    data = MapAttribute[str, Any](null=True)


class JobItem(Item, discriminator="job"):
    kind = UnicodeAttribute()
    job_id = UnicodeAttribute()
    status = UnicodeAttribute()
    currency = UnicodeAttribute()
    version = NumberAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    jobs_by_kind = JobsByKind()


class RecordItem(Item, discriminator="record"):
    status = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    pending_by_date = PendingByDate()


class InvoiceItem(Item, discriminator="invoice"):
    pass


class EntryItem(Item, discriminator="entry"):
    pass


class ShipmentItem(Item, discriminator="shipment"):
    pass


class CounterItem(Item, discriminator="counter"):
    value = NumberAttribute()


class SettingsItem(Item, discriminator="settings"):
    pass


class BalanceItem(Item, discriminator="balance"):
    account = UnicodeAttribute()
    account_name = UnicodeAttribute()
    currency = UnicodeAttribute()
    debit = DecimalAttribute()
    credit = DecimalAttribute()


def _plain(value: Any) -> dict[str, Any]:
    """A raw ``MapAttribute`` (and what it nests) as plain dicts and lists."""
    if value is None:
        return {}
    out: dict[str, Any] = _plain_value(value)
    return out


def _plain_value(value: Any) -> Any:
    if isinstance(value, MapAttribute):
        return {k: _plain_value(v) for k, v in value.attribute_values.items()}
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    return value


_MODELS = (Item, JobItem, RecordItem, InvoiceItem, EntryItem, ShipmentItem, CounterItem, SettingsItem, BalanceItem)
_bound: tuple[str, str, str | None] | None = None


def bind() -> None:
    """Point the models at the configured table, region and endpoint (once per process).

    Every model and every transaction shares ONE pynamodb connection, hence one botocore session
    and client: pynamodb would otherwise give each model class its own, and each ``Connection()``
    builds a new botocore session and client (service model files loaded again) when first used,
    which costs tens of milliseconds on every cold start per model used, and on every commit.
    """
    global _bound
    cfg = config()
    want = (cfg.table_name, cfg.region, cfg.endpoint_url)
    if _bound == want:
        return
    for cls in _MODELS:
        cls.Meta.table_name = cfg.table_name
        cls.Meta.region = cfg.region
        cls.Meta.host = cfg.endpoint_url  # type: ignore[attr-defined]
        cls._connection = None
    # The models are one table (discriminator subclasses of ``Item``): the same keys and indexes.
    shared = Item._get_connection()
    for cls in _MODELS:
        cls._connection = shared
    _bound = want


def _connection() -> Connection:
    bind()
    return Item._get_connection().connection


def job_pk(kind: str, job_id: str) -> str:
    return f"JOB#{kind}#{job_id}"


JOB_SK, COUNTER_KEY, SETTINGS_KEY = "#JOB", ("COUNTER", "INVOICE"), ("SETTINGS", "#SETTINGS")


def _job_from_item(it: JobItem) -> Job:
    return Job.from_state(it.kind, it.job_id, it.currency, it.status, int(it.version), _plain(it.data))


def _job_item(job: Job) -> JobItem:
    return JobItem(
        job_pk(job.kind, job.id), JOB_SK, kind=job.kind, job_id=job.id, status=job.status,
        currency=job.currency, version=job.version, data=job.state(),
        gsi2pk=f"JOBS#{job.kind}", gsi2sk=f"{job.status}#{job.id}",
    )


def _record_item(rec: Record) -> RecordItem:
    pending = rec.status == PENDING
    return RecordItem(
        job_pk(rec.kind, rec.job_id), f"REC#{rec.record_id}", status=rec.status, data=rec.to_api(),
        gsi1pk=PENDING_PARTITION if pending else None,
        gsi1sk=f"{rec.invoice_date}#{rec.kind}#{rec.job_id}#{rec.record_id}" if pending else None,
    )


@dataclass
class Snapshot:
    """What a change to the books is decided on: the job, the invoice counter and the settings."""

    job: Job | None
    counter: int | None  # None: no invoice issued yet in this stack
    settings: Settings
    shipment_recorded: bool = False


def _shipment_guard_key(shipment_id: str) -> tuple[str, str]:
    return f"SHIPMENT#{shipment_id}", "#SHIPMENT"


def read_for_change(kind: str, job_id: str, shipment_id: str | None = None, *, books: bool = True) -> Snapshot:
    """One strongly consistent BatchGetItem: job + counter + settings (+ a shipment's guard).

    ``books=False``: the job alone, for a change that issues no invoice (a scheduled record); the
    snapshot then has no counter and the default settings, and must not be used to issue one.
    """
    bind()
    job: Job | None = None
    counter: int | None = None
    settings = Settings()
    recorded = False
    keys = [(job_pk(kind, job_id), JOB_SK)]
    if books:
        keys += [COUNTER_KEY, SETTINGS_KEY]
    if shipment_id is not None:
        keys.append(_shipment_guard_key(shipment_id))
    for it in Item.batch_get(keys, consistent_read=True):
        if isinstance(it, JobItem):
            job = _job_from_item(it)
        elif isinstance(it, CounterItem):
            counter = int(it.value)
        elif isinstance(it, SettingsItem):
            settings = Settings.from_api(_plain(it.data))
        elif isinstance(it, ShipmentItem):
            recorded = True
    return Snapshot(job, counter, settings, recorded)


@dataclass
class Change:
    """One atomic change to the books: written by ``commit`` in a single transaction."""

    job: Job  # the job as it should be after the change (``version`` still the one read)
    new_job: bool = False
    records: list[Record] = field(default_factory=list)  # records to write
    new_record_ids: set[str] = field(default_factory=set)  # of those, the ones that must not exist yet
    issued: Issued | None = None
    counter_read: int | None = None  # the counter value the invoice number was taken from
    shipment: dict[str, Any] | None = None  # a shipment to record (guarded by its id)
    cancel_record_ids: list[str] = field(default_factory=list)  # pending records the change cancels
    cancelled_at: str = ""


def commit(change: Change) -> None:
    """Write a ``Change`` as one TransactWriteItems; raise ``Conflict`` if anything moved meanwhile.

    ``AlreadyExists`` for a new job that exists, ``RecordExists`` for a new record or shipment id
    that an earlier request already wrote (the caller answers with what is stored).
    """
    bind()
    job = change.job
    expected = job.version
    job.version = expected + 1
    labels: list[str] = []  # what each operation of the transaction is, to read cancellation reasons
    pk = job_pk(job.kind, job.id)
    try:
        with TransactWrite(connection=_connection()) as tx:
            item = _job_item(job)
            if change.new_job:
                tx.save(item, condition=JobItem.pk.does_not_exist())
            else:
                tx.save(item, condition=JobItem.version == expected)
            labels.append("job")
            for rec in change.records:
                new = rec.record_id in change.new_record_ids
                tx.save(_record_item(rec),
                        condition=RecordItem.pk.does_not_exist() if new else RecordItem.status == PENDING)
                labels.append(f"new:{rec.record_id}" if new else "record")
            for record_id in change.cancel_record_ids:
                tx.update(RecordItem(pk, f"REC#{record_id}"), actions=[
                    RecordItem.status.set(CANCELLED),
                    RecordItem.data["status"].set(CANCELLED),
                    RecordItem.data["updated_at"].set(change.cancelled_at),
                    RecordItem.gsi1pk.remove(),
                    RecordItem.gsi1sk.remove(),
                ], condition=RecordItem.status == PENDING)
                labels.append("record")
            if change.issued is not None:
                labels += _issue(tx, job, change.issued, change.counter_read)
            if change.shipment is not None:
                sid = change.shipment["shipment_id"]
                tx.save(ShipmentItem(*_shipment_guard_key(sid), data=change.shipment),
                        condition=ShipmentItem.pk.does_not_exist())
                tx.save(ShipmentItem(pk, f"SHIP#{sid}", data=change.shipment),
                        condition=ShipmentItem.pk.does_not_exist())
                labels += [f"new:{sid}", "shipment"]
    except TransactWriteError as e:
        job.version = expected
        reasons = [r.code if r else None for r in (e.cancellation_reasons or [])]
        failed = [label for label, code in zip(labels, reasons, strict=False) if code == "ConditionalCheckFailed"]
        if change.new_job and "job" in failed:
            raise AlreadyExists(f"{job.kind} {job.id} already exists") from None
        for label in failed:
            if label.startswith("new:"):
                raise RecordExists(label[4:]) from None
        if e.cause_response_code in ("TransactionCanceledException", "TransactionConflictException"):
            raise Conflict(f"{job.kind} {job.id} changed concurrently: {reasons}") from None
        raise


def _issue(tx: TransactWrite, job: Job, issued: Issued, counter_read: int | None) -> list[str]:
    pk = job_pk(job.kind, job.id)
    number = int(issued.invoice_id.split("-")[1])
    counter = CounterItem(*COUNTER_KEY)
    tx.update(
        counter,
        actions=[CounterItem.value.set(number), CounterItem.type.set(CounterItem)],
        condition=(CounterItem.pk.does_not_exist() if counter_read is None else CounterItem.value == counter_read),
    )
    doc = issued.invoice
    tx.save(InvoiceItem(pk, f"INV#{issued.invoice_id}", data=doc), condition=InvoiceItem.pk.does_not_exist())
    tx.save(InvoiceItem(f"INVOICE#{issued.invoice_id}", "#INVOICE", data=doc),
            condition=InvoiceItem.pk.does_not_exist())
    tx.save(EntryItem(pk, f"JE#{issued.entry['entry_id']}", data=issued.entry),
            condition=EntryItem.pk.does_not_exist())
    for p in issued.postings:
        _post(tx, p)
    return ["counter", "invoice", "invoice", "entry"] + ["balance"] * len(issued.postings)


def _post(tx: TransactWrite, p: Posting) -> None:
    bal = BalanceItem("LEDGER", f"BAL#{p.currency}#{p.account}")
    tx.update(bal, actions=[
        BalanceItem.debit.add(p.debit),
        BalanceItem.credit.add(p.credit),
        BalanceItem.account.set(p.account),
        BalanceItem.account_name.set(p.account_name),
        BalanceItem.currency.set(p.currency),
        BalanceItem.type.set(BalanceItem),
    ])


def put_rejected_shipment(shipment: dict[str, Any], order_kind: str | None) -> bool:
    """Record a rejected shipment once (guard + copy under its order when the order exists).

    Returns False if the shipment id was already recorded.
    """
    bind()
    sid = shipment["shipment_id"]
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(ShipmentItem(*_shipment_guard_key(sid), data=shipment),
                    condition=ShipmentItem.pk.does_not_exist())
            if order_kind is not None:
                tx.save(ShipmentItem(job_pk(order_kind, shipment["order_id"]), f"SHIP#{sid}", data=shipment),
                        condition=ShipmentItem.pk.does_not_exist())
    except TransactWriteError as e:
        if e.cause_response_code == "TransactionCanceledException":
            return False
        raise
    return True


def get_shipment(shipment_id: str) -> dict[str, Any] | None:
    bind()
    try:
        it = ShipmentItem.get(*_shipment_guard_key(shipment_id), consistent_read=True)
    except ShipmentItem.DoesNotExist:
        return None
    return _plain(it.data)


# ---- reads -------------------------------------------------------------------------------------


@dataclass
class JobPartition:
    job: Job
    records: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    shipments: list[dict[str, Any]]


def read_job_partition(kind: str, job_id: str, prefix: str | None = None) -> JobPartition:
    """Everything a job owns in one Query (paged by DynamoDB only past 1 MB).

    With ``prefix`` (``REC#``, ``INV#``...) only that kind of item is kept besides the job.
    """
    bind()
    pk = job_pk(kind, job_id)
    job: Job | None = None
    out: dict[type, list[dict[str, Any]]] = {RecordItem: [], InvoiceItem: [], EntryItem: [], ShipmentItem: []}
    for it in Item.query(pk, consistent_read=True):
        if isinstance(it, JobItem):
            job = _job_from_item(it)
        elif prefix is None or it.sk.startswith(prefix):
            bucket = out.get(type(it))
            if bucket is not None:
                bucket.append(_plain(it.data))
    if job is None:
        raise NotFound(f"{kind} {job_id} not found")
    return JobPartition(job, out[RecordItem], out[InvoiceItem], out[EntryItem], out[ShipmentItem])


def get_job(kind: str, job_id: str) -> Job:
    bind()
    try:
        return _job_from_item(JobItem.get(job_pk(kind, job_id), JOB_SK, consistent_read=True))
    except JobItem.DoesNotExist:
        raise NotFound(f"{kind} {job_id} not found") from None


def read_job_and_record(kind: str, job_id: str, record_id: str) -> tuple[Job | None, Record | None]:
    """A job and one of its records, in one strongly consistent BatchGetItem."""
    bind()
    pk = job_pk(kind, job_id)
    job: Job | None = None
    rec: Record | None = None
    for it in Item.batch_get([(pk, JOB_SK), (pk, f"REC#{record_id}")], consistent_read=True):
        if isinstance(it, JobItem):
            job = _job_from_item(it)
        elif isinstance(it, RecordItem):
            rec = Record.from_api(_plain(it.data))
    return job, rec


def get_record(kind: str, job_id: str, record_id: str) -> Record | None:
    bind()
    try:
        it = RecordItem.get(job_pk(kind, job_id), f"REC#{record_id}", consistent_read=True)
    except RecordItem.DoesNotExist:
        return None
    return Record.from_api(_plain(it.data))


def get_invoice(invoice_id: str) -> dict[str, Any]:
    bind()
    try:
        it = InvoiceItem.get(f"INVOICE#{invoice_id}", "#INVOICE", consistent_read=True)
    except InvoiceItem.DoesNotExist:
        raise NotFound(f"invoice {invoice_id} not found") from None
    return _plain(it.data)


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
        raise BadRequest("next_token is not a token this service returned",
                         [{"field": "next_token", "message": "invalid token"}]) from None


def list_jobs(kind: str, status: str | None, limit: int, next_token: str | None) -> tuple[list[Job], str | None]:
    bind()
    cond = JobItem.gsi2sk.startswith(f"{status}#") if status else None
    result = JobItem.jobs_by_kind.query(f"JOBS#{kind}", cond, limit=limit,
                                        last_evaluated_key=_decode_token(next_token))
    jobs = [_job_from_item(it) for it in result]
    return jobs, _encode_token(result.last_evaluated_key)


def pending_due(business_date: str, limit: int | None = None) -> Iterator[Record]:
    """Pending scheduled records with ``invoice_date <= business_date``, oldest first (sparse index)."""
    bind()
    for it in RecordItem.pending_by_date.query(PENDING_PARTITION, RecordItem.gsi1sk < f"{business_date}#~",
                                               limit=limit):
        yield Record.from_api(_plain(it.data))


def get_settings() -> Settings:
    bind()
    try:
        return Settings.from_api(_plain(SettingsItem.get(*SETTINGS_KEY, consistent_read=True).data))
    except SettingsItem.DoesNotExist:
        return Settings()


def put_settings(settings: Settings) -> None:
    bind()
    SettingsItem(*SETTINGS_KEY, data=settings.to_api()).save()


def trial_balance() -> list[BalanceItem]:
    """The running balances: one Query of a handful of items, never the entries."""
    bind()
    return list(BalanceItem.query("LEDGER", BalanceItem.sk.startswith("BAL#"), consistent_read=True))
