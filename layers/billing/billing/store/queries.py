"""Reads: one strongly consistent BatchGetItem for what a change is decided on, one Query for
everything a job owns, index Queries for lists. No Scan anywhere."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from pynamodb.exceptions import PutError

from ..dates import is_date
from ..documents import (
    AutomationRunDoc,
    ChangeOrderDoc,
    InvoiceDoc,
    InvoiceStatus,
    JournalEntryDoc,
    RecordDoc,
    ShipmentDoc,
    actor_or_unknown,
)
from ..errors import BadRequest, Conflict, NotFound
from ..model import Job, Record, Settings
from ..structs import struct
from .items import (
    BALANCE_PREFIX,
    COUNTER_KEY,
    LEDGER_PK,
    MONTHS_PK,
    PENDING_PARTITION,
    RUNS_PK,
    SETTINGS_KEY,
    BalanceItem,
    ChangeOrderItem,
    CounterItem,
    EntryItem,
    InvoiceItem,
    Item,
    JobItem,
    MonthItem,
    Owned,
    RecordItem,
    RunItem,
    SettingsItem,
    ShipmentItem,
    TokenItem,
    bind,
    change_order_key,
    customer_invoice_key,
    date_bounds,
    entries_of_month,
    entry_date_key,
    invoice_date_key,
    invoice_key,
    invoices_of_customer,
    invoices_of_month,
    job_from_item,
    job_key,
    job_of_partition,
    job_pk,
    jobs_key,
    pending_due_bound,
    plain,
    record_key,
    run_key,
    shipment_guard_key,
    stored,
)


@struct
class Snapshot:
    """What a change to the books is decided on: the job, the invoice counter and the settings."""

    job: Job | None
    counter: int | None  # None: no invoice issued yet in this stack
    settings: Settings
    shipment_recorded: bool = False
    made: str | None = None  # R11: the change order the ``token`` read with it made, if one did


def read_for_change(
    kind: str, job_id: str, shipment_id: str | None = None, *, books: bool = True, token: str | None = None
) -> Snapshot:
    """One strongly consistent BatchGetItem: job + counter + settings (+ a shipment's guard, + the
    item a keyed change order's ``token`` wrote, if it was written).

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
    if token is not None:
        keys.append(job_key(kind, job_id, Owned.TOKEN, token))
    for it in Item.batch_get(keys, consistent_read=True):
        if isinstance(it, JobItem):
            snap.job = job_from_item(it)
        elif isinstance(it, CounterItem):
            snap.counter = int(it.value)
        elif isinstance(it, SettingsItem):
            snap.settings = Settings.from_api(plain(it.data))
        elif isinstance(it, ShipmentItem):
            snap.shipment_recorded = True
        elif isinstance(it, TokenItem):
            snap.made = plain(it.data)["change_order_id"]
    return snap


def get_shipment(shipment_id: str) -> ShipmentDoc | None:
    bind()
    try:
        it = ShipmentItem.get(*shipment_guard_key(shipment_id), consistent_read=True)
    except ShipmentItem.DoesNotExist:
        return None
    return cast(ShipmentDoc, plain(it.data))


def authored(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored record or invoice with its ``created_by`` (R20; written before R20: ``unknown``), and
    an invoice with its ``status`` (R14; issued before voids existed: ``issued``) and its ``subtotal``
    and ``tax`` (R16; issued before tax existed: the total, and no tax)."""
    if "created_by" not in doc:
        doc["created_by"] = actor_or_unknown(None)
    if "invoice_id" in doc and "number" in doc and "status" not in doc:
        doc["status"] = InvoiceStatus.ISSUED.value
    if "invoice_id" in doc and "number" in doc and "subtotal" not in doc:  # issued before R16: no tax
        doc["subtotal"], doc["tax"] = doc["total"], []
    if "schedule" in doc and "credit_note_id" not in doc:  # a record written before R14
        doc["credit_note_id"] = None
    return doc


@struct
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
        elif type(it) in (RecordItem, InvoiceItem):
            out[type(it)].append(authored(plain(it.data)))
        elif type(it) in out:
            out[type(it)].append(plain(it.data))
    if job is None:
        raise NotFound(f"{kind} {job_id} not found")
    for entry in out[EntryItem]:  # entries written before R18 do not name their job
        entry.setdefault("kind", kind)
        entry.setdefault("job_id", job_id)
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


@struct
class Voidable:
    """What a void (R14) is decided on: the invoice, and in one more read its job's snapshot, its
    journal entry and (a deposit invoice) its record."""

    invoice: InvoiceDoc
    void_token: str | None  # the token of the request that voided it, if one did
    snapshot: Snapshot
    entry: JournalEntryDoc | None
    record: Record | None


def read_voidable(invoice_id: str) -> Voidable:
    """Two strongly consistent reads: the invoice (404 if none), then one BatchGetItem of its job,
    the counter, its journal entry and, for a deposit invoice, its record. (The settings play no
    part: a credit note posts on the original's accounts.)"""
    bind()
    try:
        it = InvoiceItem.get(*invoice_key(invoice_id), consistent_read=True)
    except InvoiceItem.DoesNotExist:
        raise NotFound(f"invoice {invoice_id} not found") from None
    invoice = cast(InvoiceDoc, authored(plain(it.data)))
    kind, job_id = invoice["kind"], invoice["job_id"]
    keys = [
        job_key(kind, job_id),
        COUNTER_KEY,
        job_key(kind, job_id, Owned.ENTRY, invoice["journal_entry_id"]),
    ]
    if invoice.get("record_id") and invoice["type"] == "deposit":
        keys.append(record_key(kind, job_id, invoice["record_id"]))
    out = Voidable(invoice, it.void_token, Snapshot(None, None, Settings()), None, None)
    for got in Item.batch_get(keys, consistent_read=True):
        if isinstance(got, JobItem):
            out.snapshot.job = job_from_item(got)
        elif isinstance(got, CounterItem):
            out.snapshot.counter = int(got.value)
        elif isinstance(got, EntryItem):
            out.entry = cast(JournalEntryDoc, plain(got.data))
        elif isinstance(got, RecordItem):
            out.record = Record.from_api(plain(got.data))
    return out


def get_change_order(kind: str, job_id: str, change_order_id: str) -> ChangeOrderDoc:
    bind()
    it = ChangeOrderItem.get(*change_order_key(kind, job_id, change_order_id), consistent_read=True)
    return cast(ChangeOrderDoc, plain(it.data))


def list_change_orders(
    kind: str, job_id: str, limit: int, next_token: str | None
) -> tuple[list[ChangeOrderDoc], str | None]:
    """A page of the job's change orders, CO-1 first: one Query of exactly those items (404: no job)."""
    bind()
    pk, prefix = job_pk(kind, job_id), Owned.CHANGE_ORDER.value
    start = _page_start(next_token, ("pk", "sk"), lambda key: key["pk"] == pk and key["sk"].startswith(prefix))
    result = ChangeOrderItem.query(
        pk, ChangeOrderItem.sk.startswith(prefix), limit=limit, last_evaluated_key=start, consistent_read=True
    )
    items = [cast(ChangeOrderDoc, plain(it.data)) for it in result]
    if not items and start is None:
        get_job(kind, job_id)  # 404 if there is no such job
    return items, _encode_token(result.last_evaluated_key)


def _page_start(
    token: str | None, names: tuple[str, ...], valid: Callable[[dict[str, str]], bool]
) -> dict[str, Any] | None:
    """The table key a ``next_token`` names (the string attributes ``names``, exactly as DynamoDB
    gave them), if ``valid`` says this query can have returned it. Anything else, forged or from
    another query, is 400, never a 500 or a silent restart at page one."""
    if not token:  # absent, or sent empty: the first page
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
        values = {name: key[name]["S"] for name in names}
        ok = set(key) == set(values) and all(isinstance(v, str) and len(v) <= 1024 for v in values.values())
        ok = ok and valid(values)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise BadRequest(
            "next_token is not a token this query returned", [{"field": "next_token", "message": "invalid token"}]
        )
    return dict(key)


def get_invoice(invoice_id: str) -> InvoiceDoc:
    bind()
    try:
        it = InvoiceItem.get(*invoice_key(invoice_id), consistent_read=True)
    except InvoiceItem.DoesNotExist:
        raise NotFound(f"invoice {invoice_id} not found") from None
    return cast(InvoiceDoc, authored(plain(it.data)))


def read_invoice_and_settings(invoice_id: str) -> tuple[InvoiceDoc, Settings]:
    """An invoice (404 if none) and the settings (the issuer on its document, R18), in one strongly
    consistent BatchGetItem."""
    bind()
    invoice: InvoiceDoc | None = None
    settings = Settings()
    for it in Item.batch_get([invoice_key(invoice_id), SETTINGS_KEY], consistent_read=True):
        if isinstance(it, InvoiceItem):
            invoice = cast(InvoiceDoc, authored(plain(it.data)))
        elif isinstance(it, SettingsItem):
            settings = Settings.from_api(plain(it.data))
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice, settings


def _encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _job_page_start(token: str | None, kind: str, status: str | None) -> dict[str, Any] | None:
    """A ``JobsByKind`` key of a job of this kind (and status), or 400."""
    partition, prefix = jobs_key(kind, status or "")

    def valid(values: dict[str, str]) -> bool:
        job_id = values["gsi2sk"].split("#", 1)[1]
        return (
            (values["pk"], values["sk"]) == job_key(kind, job_id)
            and values["gsi2pk"] == partition
            and values["gsi2sk"].startswith(prefix)
            and job_id != ""
        )

    return _page_start(token, ("pk", "sk", "gsi2pk", "gsi2sk"), valid)


def list_jobs(kind: str, status: str | None, limit: int, next_token: str | None) -> tuple[list[Job], str | None]:
    bind()
    start = _job_page_start(next_token, kind, status)
    partition, prefix = jobs_key(kind, status or "")
    cond = JobItem.gsi2sk.startswith(prefix) if status else None
    result = JobItem.jobs_by_kind.query(partition, cond, limit=limit, last_evaluated_key=start)
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


def put_settings(settings: Settings, expected_version: int | None = None) -> None:
    """Write the settings; with ``expected_version`` only if the stored version is still that one
    (0: none stored yet, or stored before versions existed), else ``Conflict`` (R20).
    ``None``: unconditionally (seeding a fresh table)."""
    bind()
    condition = None
    if expected_version == 0:
        condition = SettingsItem.data["version"].does_not_exist() | (SettingsItem.data["version"] == 0)
    elif expected_version is not None:
        condition = SettingsItem.data["version"] == expected_version
    try:
        SettingsItem(*SETTINGS_KEY, data=stored(settings.to_api())).save(condition=condition)
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"the settings changed since version {expected_version} was read") from None
        raise


def trial_balance() -> list[BalanceItem]:
    """The running balances: one Query of a handful of items, never the entries."""
    bind()
    return list(BalanceItem.query(LEDGER_PK, BalanceItem.sk.startswith(BALANCE_PREFIX), consistent_read=True))


# ---- registers (R18) ------------------------------------------------------------------------------

READ_CAP = 1000  # items one register request reads at most (filtered out ones included); then a token
_FILTERED_PAGE = 100  # items one Query reads at least when a filter may drop some


@struct(frozen=True)
class Span:
    """A register's date range as asked (``None``: unbounded on that side), both ends included."""

    first: str | None = None
    last: str | None = None

    def holds(self, date: str) -> bool:
        return (self.first is None or date >= self.first) and (self.last is None or date <= self.last)


@struct
class _Page:
    """What one register request collected: the raw items, and where the next page starts."""

    raw: list[dict[str, Any]]
    token: str | None


def _months(span: Span, counted: str) -> list[str]:
    """The months of ``span`` that have invoices (``counted="invoices"``) or entries, oldest first: one
    Query of the ``MONTHS`` items (a dozen a year), so empty months are never read. A span within one
    month needs no read."""
    if span.first and span.last and span.first[:7] == span.last[:7]:
        return [span.first[:7]]
    low, high = (span.first or "0000-00")[:7], (span.last or "9999-99")[:7]
    return [
        it.sk
        for it in MonthItem.query(MONTHS_PK, MonthItem.sk.between(low, high), consistent_read=True)
        if getattr(it, counted)
    ]


def _wrap(month: str | None, key: dict[str, Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"month": month, "key": key}, sort_keys=True).encode()).decode()


def _bad_token() -> BadRequest:
    return BadRequest(
        "next_token is not a token this query returned", [{"field": "next_token", "message": "invalid token"}]
    )


def _register_start(
    token: str | None,
    span: Span | None,
    names: tuple[str, ...],
    valid: Callable[[str | None, dict[str, str]], bool],
) -> tuple[str | None, dict[str, Any] | None]:
    """Where a register's ``next_token`` resumes: a month of ``span`` (date index; ``span`` None: the
    customer index, no month) and the index key in it (None: the month's first item), the key checked
    by ``valid(month, key)`` as ``_page_start`` checks keys. Anything else is 400."""
    if not token:
        return None, None
    try:
        outer = json.loads(base64.urlsafe_b64decode(token.encode()))
        ok = isinstance(outer, dict) and set(outer) == {"month", "key"}
        month, key = outer["month"], outer["key"]
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok or (month is None) != (span is None) or (span is not None and not _in_span(month, span)):
        raise _bad_token()
    if key is None:
        return month, None
    inner = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    return month, _page_start(inner, names, lambda values: valid(month, values))


def _in_span(month: Any, span: Span) -> bool:
    """A ``YYYY-MM`` month that ``span`` reaches into."""
    if not (isinstance(month, str) and len(month) == 7 and is_date(f"{month}-01")):
        return False
    return (span.first is None or month >= span.first[:7]) and (span.last is None or month <= span.last[:7])


def _collect(
    query: Callable[[str, dict[str, Any] | None, int], Any],
    partitions: list[str | None],
    start: tuple[str | None, dict[str, Any] | None],
    limit: int,
    filtered: bool,
    names: tuple[str, ...],
) -> _Page:
    """Read index pages in order, partition after partition (months; ``[None]``: one partition), until
    ``limit`` items, the end, or ``READ_CAP`` items read; the token says where to resume."""
    month, key = start
    todo = partitions
    if month is not None:  # resume in that month (if it has no items now: in the next that has)
        todo = [m for m in partitions if m is not None and m >= month]
        key = key if todo and todo[0] == month else None
    out: list[dict[str, Any]] = []
    read = 0
    for i, part in enumerate(todo):
        following = todo[i + 1] if i + 1 < len(todo) else ""
        while True:
            want = limit - len(out)
            size = min(READ_CAP - read, max(want, _FILTERED_PAGE) if filtered else want)
            pages = query(part or "", key, size).page_iter
            page = next(pages)
            read += int(page.get("ScannedCount", 0))
            raw = page.get("Items", [])
            key = pages.last_evaluated_key
            if len(raw) >= want:  # enough: resume after the last item returned
                out += raw[:want]
                if len(raw) > want or key is not None:
                    return _Page(out, _wrap(part, {n: raw[want - 1][n] for n in names}))
                return _Page(out, _wrap(following, None) if following else None)
            out += raw
            if key is None:
                break
            if read >= READ_CAP:
                return _Page(out, _wrap(part, key))
        key = None
        if following and read >= READ_CAP:
            return _Page(out, _wrap(following, None))
    return _Page(out, None)


_INVOICE_NAMES = ("pk", "sk", "gsi3pk", "gsi3sk")
_CUSTOMER_NAMES = ("pk", "sk", "gsi4pk", "gsi4sk")
_ENTRY_NAMES = ("pk", "sk", "gsi3pk", "gsi3sk")


_NUMBERED = re.compile(r"(INV|JE)-[0-9]{6,12}")  # the ids an index sort key can hold (books.invoice_number)


def _dated(sort_key: str, span: Span) -> tuple[str, str] | None:
    """``<date>#<id>`` split, if the date is in ``span`` and the id one the books number: a forged
    id beyond the range's bound (``#~``) would make DynamoDB refuse the start key (a 500)."""
    date, _, item_id = sort_key.partition("#")
    return (date, item_id) if _NUMBERED.fullmatch(item_id) and is_date(date) and span.holds(date) else None


def list_invoices(
    span: Span,
    limit: int,
    next_token: str | None,
    *,
    invoice_type: str | None = None,
    status: str | None = None,
    customer_id: str | None = None,
) -> tuple[list[InvoiceDoc], str | None]:
    """R18: invoices dated in ``span``, by date then id: ``ByCustomer`` for one customer, else
    ``ByDate`` month after month (only months that have invoices); ``type`` and ``status`` filter
    what those read."""
    bind()
    condition = None
    if invoice_type is not None:
        condition = InvoiceItem.data["type"] == invoice_type
    if status is not None:  # invoices issued before voids existed (R14) have no stored status: issued
        status_is = InvoiceItem.data["status"] == status
        if status == "issued":
            status_is = status_is | InvoiceItem.data["status"].does_not_exist()
        condition = status_is if condition is None else condition & status_is
    low, high = date_bounds(span.first or "0", span.last or "9")
    in_range = (
        InvoiceItem.gsi4sk.between(low, high) if customer_id is not None else InvoiceItem.gsi3sk.between(low, high)
    )

    def valid_date_key(month: str | None, key: dict[str, str]) -> bool:
        dated = _dated(key["gsi3sk"], span)
        return (
            dated is not None
            and (key["pk"], key["sk"]) == invoice_key(dated[1])
            and (key["gsi3pk"], key["gsi3sk"]) == invoice_date_key(*dated)
            and dated[0][:7] == month
        )

    def valid_customer_key(month: str | None, key: dict[str, str]) -> bool:
        dated = _dated(key["gsi4sk"], span)
        return (
            dated is not None
            and customer_id is not None
            and (key["pk"], key["sk"]) == invoice_key(dated[1])
            and (key["gsi4pk"], key["gsi4sk"]) == customer_invoice_key(customer_id, *dated)
        )

    if customer_id is not None:
        start = _register_start(next_token, None, _CUSTOMER_NAMES, valid_customer_key)
        partition = invoices_of_customer(customer_id)
        page = _collect(
            lambda _part, key, size: InvoiceItem.by_customer.query(
                partition, in_range, filter_condition=condition, last_evaluated_key=key, page_size=size
            ),
            [None],
            start,
            limit,
            condition is not None,
            _CUSTOMER_NAMES,
        )
    else:
        start = _register_start(next_token, span, _INVOICE_NAMES, valid_date_key)
        page = _collect(
            lambda month, key, size: InvoiceItem.by_date.query(
                invoices_of_month(str(month)),
                in_range,
                filter_condition=condition,
                last_evaluated_key=key,
                page_size=size,
            ),
            list(_months(span, "invoices")),
            start,
            limit,
            condition is not None,
            _INVOICE_NAMES,
        )
    docs = [cast(InvoiceDoc, authored(plain(InvoiceItem.from_raw_data(raw).data))) for raw in page.raw]
    return docs, page.token


def list_entries(span: Span, limit: int, next_token: str | None) -> tuple[list[JournalEntryDoc], str | None]:
    """R18: the journal entries dated in ``span``, by date then entry id, through ``ByDate``."""
    bind()
    low, high = date_bounds(span.first or "0", span.last or "9")

    def valid(month: str | None, key: dict[str, str]) -> bool:
        dated = _dated(key["gsi3sk"], span)
        owner = job_of_partition(key["pk"])
        return (
            dated is not None
            and owner is not None
            and (key["pk"], key["sk"]) == job_key(*owner, Owned.ENTRY, dated[1])
            and (key["gsi3pk"], key["gsi3sk"]) == entry_date_key(*dated)
            and dated[0][:7] == month
        )

    page = _collect(
        lambda month, key, size: EntryItem.by_date.query(
            entries_of_month(str(month)),
            EntryItem.gsi3sk.between(low, high),
            last_evaluated_key=key,
            page_size=size,
        ),
        list(_months(span, "entries")),
        _register_start(next_token, span, _ENTRY_NAMES, valid),
        limit,
        False,
        _ENTRY_NAMES,
    )
    out: list[JournalEntryDoc] = []
    for raw in page.raw:
        it = EntryItem.from_raw_data(raw)
        doc = plain(it.data)
        owner = job_of_partition(it.pk)
        if owner is not None:  # entries written before R18 do not name their job: their partition does
            doc.setdefault("kind", owner[0])
            doc.setdefault("job_id", owner[1])
        out.append(cast(JournalEntryDoc, doc))
    return out, page.token


def put_run(run: AutomationRunDoc) -> None:
    """R18: record a finished automation run (one PutItem)."""
    bind()
    RunItem(*run_key(run["started_at"], run["run_id"]), data=stored(run)).save()


def list_runs(limit: int, next_token: str | None) -> tuple[list[AutomationRunDoc], str | None]:
    """R18: the automation's runs, newest first: one Query of exactly the page."""
    bind()
    start = _page_start(next_token, ("pk", "sk"), lambda key: key["pk"] == RUNS_PK and "#" in key["sk"])
    result = RunItem.query(
        RUNS_PK, limit=limit, last_evaluated_key=start, scan_index_forward=False, consistent_read=True
    )
    runs = [cast(AutomationRunDoc, plain(it.data)) for it in result]
    return runs, _encode_token(result.last_evaluated_key)
