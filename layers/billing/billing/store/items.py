"""The table's items (pynamodb models) and every key of the single-table design, built here only.

Keys (``pk`` / ``sk``)::

    JOB#<kind>#<id>   #JOB               the job (aggregate: totals, deposits, pending, version)
                      REC#<record_id>    progress billing records
                      INV#<invoice_id>   invoices of the job
                      JE#<entry_id>      journal entries of the job
                      SHIP#<shipment_id> shipments of an order
                      CO#<000001>        change orders (R15), numbered per job
                      TOKEN#<token>      the change order an Idempotency token made (R11)
    INVOICE#<id>      #INVOICE           copy of an immutable invoice, for GET /invoices/{id}
    SHIPMENT#<id>     #SHIPMENT          shipment guard: a shipment id is recorded once (R8)
                      CONFLICT#<hash>    a later message with that id and other content (R8)
    EVENTS#<kind>#<id> EVT#<sequence>    the events of one change (R17 outbox), by its first sequence
    COUNTER           INVOICE            the invoice number counter (R13)
    SETTINGS          #SETTINGS          settings
    LEDGER            BAL#<cur>#<acct>   running debit/credit per account and currency
    MONTHS            <YYYY-MM>          R18: a month with invoices or entries (counts), for the registers
    RUNS              <started_at>#<id>  R18: a finished automation run

Indexes: ``PendingByDate`` (sparse: only pending scheduled records carry ``gsi1pk``), queried by the
automation for ``invoice_date <= business date``; ``JobsByKind`` for ``GET /{kind}``; ``ByDate``
(R18, overloaded, one partition per month: the ``INVOICE#`` copies as ``INVOICES#<YYYY-MM>`` /
``<invoice_date>#<invoice_id>``, the ``JE#`` entries as ``ENTRIES#<YYYY-MM>`` / ``<date>#<entry_id>``);
``ByCustomer`` (R18: the ``INVOICE#`` copies as ``CUSTOMER#<customer_id>`` / ``<invoice_date>#<invoice_id>``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
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
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..config import config
from ..documents import Kind, RecordStatus
from ..limits import ID_MAX, ID_PATTERN
from ..model import Job, Record

Key = tuple[str, str]

# ---- keys ----------------------------------------------------------------------------------------

JOB_SK = "#JOB"
COUNTER_KEY: Key = ("COUNTER", "INVOICE")
SETTINGS_KEY: Key = ("SETTINGS", "#SETTINGS")
LEDGER_PK, BALANCE_PREFIX = "LEDGER", "BAL#"
PENDING_PARTITION = "PENDING"  # the sparse index's one partition


class Owned(StrEnum):
    """The sort-key prefix of each kind of item a job owns in its partition."""

    RECORD = "REC#"
    INVOICE = "INV#"
    ENTRY = "JE#"
    SHIPMENT = "SHIP#"
    CHANGE_ORDER = "CO#"
    TOKEN = "TOKEN#"  # noqa: S105 - an idempotency token item, not a secret


def change_order_key(kind: str, job_id: str, change_order_id: str) -> Key:
    """``CO-12`` is stored as ``CO#000012``, so the job's change orders sort by number."""
    return job_key(kind, job_id, Owned.CHANGE_ORDER, f"{int(change_order_id.split('-')[1]):06d}")


def job_pk(kind: str, job_id: str) -> str:
    return f"JOB#{kind}#{job_id}"


def job_key(kind: str, job_id: str, owned: Owned | None = None, item_id: str = "") -> Key:
    """The job's own item, or with ``owned`` and ``item_id`` one of the items in its partition."""
    return job_pk(kind, job_id), JOB_SK if owned is None else f"{owned.value}{item_id}"


def record_key(kind: str, job_id: str, record_id: str) -> Key:
    return job_key(kind, job_id, Owned.RECORD, record_id)


def invoice_key(invoice_id: str) -> Key:
    """The stack-wide copy of an invoice, read by id alone."""
    return f"INVOICE#{invoice_id}", "#INVOICE"


def shipment_guard_key(shipment_id: str) -> Key:
    """The stack-wide record that a shipment id was processed (R8: once, whatever SQS redelivers)."""
    return f"SHIPMENT#{shipment_id}", "#SHIPMENT"


def shipment_conflict_key(shipment_id: str, content_hash: str) -> Key:
    """A message that reused a recorded shipment id with other content: once per content, beside the guard."""
    return f"SHIPMENT#{shipment_id}", f"CONFLICT#{content_hash}"


def outbox_key(kind: str, job_id: str, first_sequence: int) -> Key:
    """R17: a change's events, in their own partition per job (never read by the job's queries)."""
    return f"EVENTS#{kind}#{job_id}", f"EVT#{first_sequence:010d}"


def balance_key(currency: str, account: str) -> Key:
    return LEDGER_PK, f"{BALANCE_PREFIX}{currency}#{account}"


def pending_sort_key(rec: Record) -> str:
    """``PendingByDate``'s sort key: by invoice date first, so due records are one range."""
    return f"{rec.invoice_date}#{rec.kind}#{rec.job_id}#{rec.record_id}"


def pending_due_bound(business_date: str) -> str:
    """Every pending sort key of a record due on or before ``business_date`` is below this."""
    return f"{business_date}#~"


MONTHS_PK = "MONTHS"  # R18: one item per month that has invoices or journal entries
RUNS_PK = "RUNS"  # R18: the automation's finished runs, newest last
DATE_INDEX_INVOICES, DATE_INDEX_ENTRIES = "INVOICES#", "ENTRIES#"
CUSTOMER_PREFIX = "CUSTOMER#"


def month_key(month: str) -> Key:
    """R18: the item that says ``month`` (``YYYY-MM``) has invoices or entries."""
    return MONTHS_PK, month


def invoices_of_month(month: str) -> str:
    """``ByDate``'s partition of the invoices dated in ``month`` (``YYYY-MM``)."""
    return f"{DATE_INDEX_INVOICES}{month}"


def entries_of_month(month: str) -> str:
    """``ByDate``'s partition of the journal entries dated in ``month``."""
    return f"{DATE_INDEX_ENTRIES}{month}"


def invoices_of_customer(customer_id: str) -> str:
    """``ByCustomer``'s partition of a customer's invoices."""
    return f"{CUSTOMER_PREFIX}{customer_id}"


def invoice_date_key(invoice_date: str, invoice_id: str) -> Key:
    """``ByDate``'s keys of an invoice (its ``INVOICE#`` copy): its month's partition, by date then id."""
    return invoices_of_month(invoice_date[:7]), f"{invoice_date}#{invoice_id}"


def entry_date_key(date: str, entry_id: str) -> Key:
    """``ByDate``'s keys of a journal entry: its month's partition, by date then id."""
    return entries_of_month(date[:7]), f"{date}#{entry_id}"


def customer_invoice_key(customer_id: str, invoice_date: str, invoice_id: str) -> Key:
    """``ByCustomer``'s keys of an invoice: the customer's partition, by date then id."""
    return invoices_of_customer(customer_id), f"{invoice_date}#{invoice_id}"


def job_of_partition(pk: str) -> tuple[str, str] | None:
    """The (kind, job id) whose partition key ``pk`` is (``job_pk``'s inverse), or None."""
    prefix, _, rest = pk.partition("#")
    kind, _, job_id = rest.partition("#")
    valid = prefix == "JOB" and kind in tuple(Kind) and len(job_id) <= ID_MAX and re.fullmatch(ID_PATTERN, job_id)
    return (kind, job_id) if valid else None


def date_bounds(first: str, last: str) -> tuple[str, str]:
    """The sort-key range of ``ByDate``/``ByCustomer`` keys dated ``first`` to ``last``, both included."""
    return first, f"{last}#~"


def run_key(started_at: str, run_id: str) -> Key:
    """An automation run, sorted by when it started."""
    return RUNS_PK, f"{started_at}#{run_id}"


def jobs_key(kind: str, status: str = "", job_id: str = "") -> Key:
    """``JobsByKind``'s keys: one partition per kind, sorted by status then id (a status alone: its prefix)."""
    return f"JOBS#{kind}", f"{status}#{job_id}" if status else ""


# ---- models --------------------------------------------------------------------------------------


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


class ByDate(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = "ByDate"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class ByCustomer(GlobalSecondaryIndex["InvoiceItem"]):
    class Meta:
        index_name = "ByCustomer"
        projection = AllProjection()

    gsi4pk = UnicodeAttribute(hash_key=True)
    gsi4sk = UnicodeAttribute(range_key=True)


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
    # R11: the token of the void request that voided it (never in ``data``: not part of the document)
    void_token = UnicodeAttribute(null=True)
    # R18: the registers' keys, on the ``INVOICE#`` copy only
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi4pk = UnicodeAttribute(null=True)
    gsi4sk = UnicodeAttribute(null=True)
    by_date = ByDate()
    by_customer = ByCustomer()


class EntryItem(Item, discriminator="entry"):
    gsi3pk = UnicodeAttribute(null=True)  # R18: the journal's keys
    gsi3sk = UnicodeAttribute(null=True)
    by_date = ByDate()


class MonthItem(Item, discriminator="month"):
    """R18: how many invoices and journal entries are dated in the month (``sk``); never decremented."""

    invoices = NumberAttribute(null=True)
    entries = NumberAttribute(null=True)


class RunItem(Item, discriminator="run"):
    """R18: one finished automation run (``data``: the run document)."""


class ShipmentItem(Item, discriminator="shipment"):
    pass


class ChangeOrderItem(Item, discriminator="change_order"):
    pass


class TokenItem(Item, discriminator="token"):
    """What a keyed request made (``data``: ``{"change_order_id": ...}``), written with it, once."""


class OutboxItem(Item, discriminator="outbox"):
    """R17: the events of one change, written in its transaction; the stream hands it to the publisher.

    ``events`` is their JSON text (exactly what is published, and its size exact), ``how_many`` their number."""

    events = UnicodeAttribute()
    how_many = NumberAttribute()


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


MODELS = (
    Item, JobItem, RecordItem, InvoiceItem, EntryItem, ShipmentItem, ChangeOrderItem, TokenItem, OutboxItem,
    CounterItem, SettingsItem, BalanceItem, MonthItem, RunItem,
)  # fmt: skip
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
    for cls in MODELS:
        cls.Meta.table_name = cfg.table_name
        cls.Meta.region = cfg.region
        cls.Meta.host = cfg.endpoint_url  # type: ignore[attr-defined]
        cls._connection = None
    # The models are one table (discriminator subclasses of ``Item``): the same keys and indexes.
    shared = Item._get_connection()
    for cls in MODELS:
        cls._connection = shared
    _bound = want


def connection() -> Connection:
    bind()
    return Item._get_connection().connection


def stored(doc: Any) -> Any:
    """A document as a raw map attribute takes it: plain ``str`` for the ``StrEnum`` values (pynamodb
    serializes a raw map by the exact type of each value)."""
    if isinstance(doc, dict):
        return {k: stored(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [stored(v) for v in doc]
    if isinstance(doc, str) and type(doc) is not str:
        return str(doc.value) if isinstance(doc, StrEnum) else str(doc)
    return doc


def plain(value: Any) -> dict[str, Any]:
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


# ---- domain <-> items ----------------------------------------------------------------------------


def job_from_item(it: JobItem) -> Job:
    return Job.from_state(it.kind, it.job_id, it.currency, it.status, int(it.version), plain(it.data))


def job_item(job: Job) -> JobItem:
    return JobItem(
        *job_key(job.kind, job.id),
        kind=job.kind,
        job_id=job.id,
        status=job.status,
        currency=job.currency,
        version=job.version,
        data=stored(job.state()),
        gsi2pk=jobs_key(job.kind)[0],
        gsi2sk=jobs_key(job.kind, job.status, job.id)[1],
    )


def record_item(rec: Record) -> RecordItem:
    pending = rec.status == RecordStatus.PENDING
    return RecordItem(
        *record_key(rec.kind, rec.job_id, rec.record_id),
        status=rec.status,
        data=stored(rec.to_api()),
        gsi1pk=PENDING_PARTITION if pending else None,
        gsi1sk=pending_sort_key(rec) if pending else None,
    )


def registered_invoice(doc: Any) -> InvoiceItem:
    """The stack-wide ``INVOICE#`` copy of an invoice, in the registers' indexes (R18)."""
    date, invoice_id = str(doc["invoice_date"]), str(doc["invoice_id"])
    by_date, by_customer = (
        invoice_date_key(date, invoice_id),
        customer_invoice_key(str(doc["customer_id"]), date, invoice_id),
    )
    return InvoiceItem(
        *invoice_key(invoice_id),
        data=stored(doc),
        gsi3pk=by_date[0],
        gsi3sk=by_date[1],
        gsi4pk=by_customer[0],
        gsi4sk=by_customer[1],
    )


def registered_entry(kind: str, job_id: str, entry: Any) -> EntryItem:
    """A journal entry in its job's partition, in the journal's index (R18)."""
    by_date = entry_date_key(str(entry["date"]), str(entry["entry_id"]))
    return EntryItem(
        *job_key(kind, job_id, Owned.ENTRY, str(entry["entry_id"])),
        data=stored(entry),
        gsi3pk=by_date[0],
        gsi3sk=by_date[1],
    )
