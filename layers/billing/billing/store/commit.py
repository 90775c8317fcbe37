"""Every change to the books is ONE ``TransactWriteItems`` (``commit``) conditioned on the job's
``version`` and on the counter value that was read, so a crash leaves all or nothing and two
concurrent writers cannot both pass a check made on the same state: the loser gets ``Conflict``
and the service re-reads and tries again (docs/rules.md, R4, R6, R9, R13).
"""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from ..books import Issued, Posting
from ..dates import now_iso
from ..documents import Actor, ChangeOrderDoc, InvoiceDoc, RecordStatus, ShipmentDoc, ShipmentStatus
from ..errors import AlreadyExists, Conflict, RecordExists
from ..events import Happened, derive
from ..model import Job, Record
from ..observability import logger
from ..structs import field, struct
from .items import (
    COUNTER_KEY,
    BalanceItem,
    ChangeOrderItem,
    CounterItem,
    EntryItem,
    InvoiceItem,
    JobItem,
    MonthItem,
    OutboxItem,
    Owned,
    RecordItem,
    ShipmentItem,
    TokenItem,
    balance_key,
    bind,
    change_order_key,
    connection,
    invoice_key,
    job_item,
    job_key,
    month_key,
    outbox_key,
    record_item,
    record_key,
    registered_entry,
    registered_invoice,
    shipment_conflict_key,
    shipment_guard_key,
    stored,
)

# Cancellation reasons that mean "another writer changed something first": re-read and retry.
_RACE_REASONS = (None, "None", "ConditionalCheckFailed", "TransactionConflict")
_STILL_PENDING = RecordItem.status == RecordStatus.PENDING.value


@struct
class Void:
    """R14: what a void writes on the invoice it voids (both copies), and on its shipment if any."""

    invoice_id: str
    marks: dict[str, Any]  # the fields the original gains (status voided, its credit note, why, when, who)
    token: str | None = None  # the void request's Idempotency token, kept on the original
    shipment_id: str | None = None  # a shipment invoice's shipment: marked ``invoice_voided``
    invoice: InvoiceDoc | None = None  # the original with ``marks``: its InvoiceVoided event (R17)


@struct
class Change:
    """One atomic change to the books: written by ``commit`` in a single transaction."""

    job: Job  # the job as it should be after the change (``version`` still the one read)
    new_job: bool = False
    records: list[Record] = field(default_factory=list)  # records to write
    new_record_ids: set[str] = field(default_factory=set)  # of those, the ones that must not exist yet
    issued: Issued | None = None
    counter_read: int | None = None  # the counter value the invoice number was taken from
    shipment: ShipmentDoc | None = None  # a shipment to record (guarded by its id)
    cancel_record_ids: list[str] = field(default_factory=list)  # pending records the change cancels
    # The status each written record must still have (default: pending); a retried one was failed.
    previous_status: dict[str, RecordStatus] = field(default_factory=dict)
    cancelled_at: str = ""
    void: Void | None = None  # R14: the invoice ``issued`` (a credit note) voids
    change_order: ChangeOrderDoc | None = None  # R15: the change order that changed ``job``'s lines
    token: str | None = None  # R11: the Idempotency token of the change order (written once, with it)
    actor: Actor | None = None  # R17: who made the change (its events' ``actor``; default: the job's author)


@struct
class Labels:
    """What each operation of a transaction is, in the order DynamoDB reports their cancellation
    reasons: pynamodb's ``TransactWrite`` sends every put before every update, whatever the order of
    the calls (``Connection.transact_write_items``)."""

    puts: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)

    def put(self, *labels: str) -> None:
        self.puts.extend(labels)

    def update(self, *labels: str) -> None:
        self.updates.extend(labels)

    def ordered(self) -> list[str]:
        return self.puts + self.updates


class _EventsBehind(Exception):
    """The change's first event number is taken: the job's ``event_count`` is behind its outbox."""


def commit(change: Change) -> None:
    """Write a ``Change`` as one TransactWriteItems; raise ``Conflict`` if anything moved meanwhile.

    ``AlreadyExists`` for a new job that exists, ``RecordExists`` for a new record or shipment id
    that an earlier request already wrote (the caller answers with what is stored).
    """
    job = change.job
    try:
        _write(change)
    except _EventsBehind:
        # R17: the job item was written without its event count (by code older than the events,
        # during a deploy or after a rollback): number after the job's last event, once.
        last = last_event_sequence(job.kind, job.id)
        logger.warning("job event count behind its outbox", extra={"job": f"{job.kind}/{job.id}", "last": last})
        job.event_count = last
        _write(change)


def last_event_sequence(kind: str, job_id: str) -> int:
    """The sequence of the job's last event written (one Query of its outbox partition, newest first)."""
    pk, _ = outbox_key(kind, job_id, 0)
    for it in OutboxItem.query(pk, scan_index_forward=False, limit=1, consistent_read=True):
        return int(it.sk.split("#")[1]) + int(it.how_many) - 1
    return 0


def _write(change: Change) -> None:
    bind()
    job = change.job
    expected, counted = job.version, job.event_count
    job.version = expected + 1
    events = derive(_happened(change))  # R17: numbered after the job's last event (advances its count)
    labels = Labels()  # what each operation of the transaction is, to read cancellation reasons
    try:
        with TransactWrite(connection=connection()) as tx:
            item = job_item(job)
            tx.save(item, condition=JobItem.pk.does_not_exist() if change.new_job else JobItem.version == expected)
            labels.put("job")
            for rec in change.records:
                new = rec.record_id in change.new_record_ids
                was = change.previous_status.get(rec.record_id, RecordStatus.PENDING)
                tx.save(
                    record_item(rec),
                    condition=RecordItem.pk.does_not_exist() if new else RecordItem.status == was.value,
                )
                labels.put(f"new:{rec.record_id}" if new else "record")
            for record_id in change.cancel_record_ids:
                tx.update(
                    RecordItem(*record_key(job.kind, job.id, record_id)),
                    actions=[
                        RecordItem.status.set(RecordStatus.CANCELLED.value),
                        RecordItem.data["status"].set(RecordStatus.CANCELLED.value),
                        RecordItem.data["updated_at"].set(change.cancelled_at),
                        RecordItem.gsi1pk.remove(),
                        RecordItem.gsi1sk.remove(),
                    ],
                    condition=_STILL_PENDING,
                )
                labels.update("record")
            if change.issued is not None:
                _issue(tx, labels, job, change.issued, change.counter_read)
            if change.shipment is not None:
                _record_shipment(tx, labels, change.shipment, job.kind, job.id)
            if change.void is not None:
                _void(tx, labels, job, change.void, str(change.issued.invoice_id if change.issued else ""))
            if change.change_order is not None:
                co = change.change_order
                tx.save(
                    ChangeOrderItem(*change_order_key(job.kind, job.id, co["change_order_id"]), data=stored(co)),
                    condition=ChangeOrderItem.pk.does_not_exist(),
                )
                labels.put("change_order")
                if change.token:
                    tx.save(
                        TokenItem(*job_key(job.kind, job.id, Owned.TOKEN, change.token),
                                  data={"change_order_id": co["change_order_id"]}),
                        condition=TokenItem.pk.does_not_exist(),
                    )  # fmt: skip
                    labels.put(f"new:{change.token}")
            if events:
                tx.save(
                    OutboxItem(
                        *outbox_key(job.kind, job.id, counted + 1),
                        events=json.dumps(events, separators=(",", ":"), ensure_ascii=False),
                        how_many=len(events),
                    ),
                    condition=OutboxItem.pk.does_not_exist(),
                )
                labels.put("outbox")
    except TransactWriteError as e:
        job.version, job.event_count = expected, counted
        failed, reasons = cancellation(e, labels.ordered())
        if failed == ["outbox"]:  # the job's version held: its event count is what is behind
            raise _EventsBehind from None
        if change.new_job and "job" in failed:
            raise AlreadyExists(f"{job.kind} {job.id} already exists") from None
        for label in failed:
            if label.startswith("new:"):
                raise RecordExists(label[4:]) from None
        # A race: a condition on what was read failed (the job's version, the counter, a record still
        # pending), or another transaction was writing an item. Any other reason (ValidationError,
        # a size limit) is not cured by re-reading: it escapes, visibly, instead of 25 retries.
        raced = all(code in _RACE_REASONS for code in reasons)
        if e.cause_response_code == "TransactionConflictException" or (
            e.cause_response_code == "TransactionCanceledException" and raced
        ):
            raise Conflict(f"{job.kind} {job.id} changed concurrently: {reasons}") from None
        raise


def _happened(change: Change) -> Happened:
    """What ``change`` does, as ``billing.events`` derives its events from it."""
    void = change.void
    return Happened(
        job=change.job,
        actor=change.actor or change.job.created_by,
        at=now_iso(),
        new_job=change.new_job,
        records=change.records,
        cancelled=change.cancel_record_ids,
        cancelled_at=change.cancelled_at,
        invoice=change.issued.invoice if change.issued else None,
        voided=void.invoice if void else None,
        change_order=change.change_order,
        shipment=change.shipment,
    )


def cancellation(e: TransactWriteError, labels: list[str]) -> tuple[list[str], list[str | None]]:
    """Of a cancelled transaction: the labels of the operations whose condition failed, read per item
    from ``cancellation_reasons`` (one per operation, in order), and every reason code."""
    reasons = [r.code if r else None for r in (e.cancellation_reasons or [])]
    failed = [label for label, code in zip(labels, reasons, strict=False) if code == "ConditionalCheckFailed"]
    return failed, reasons


def _issue(tx: TransactWrite, labels: Labels, job: Job, issued: Issued, counter_read: int | None) -> None:
    number = int(issued.invoice_id.split("-")[1])
    tx.update(
        CounterItem(*COUNTER_KEY),
        actions=[CounterItem.value.set(number), CounterItem.type.set(CounterItem)],
        condition=(CounterItem.pk.does_not_exist() if counter_read is None else CounterItem.value == counter_read),
    )
    doc, entry = issued.invoice, issued.entry
    tx.save(
        InvoiceItem(*job_key(job.kind, job.id, Owned.INVOICE, issued.invoice_id), data=stored(doc)),
        condition=InvoiceItem.pk.does_not_exist(),
    )
    tx.save(registered_invoice(doc), condition=InvoiceItem.pk.does_not_exist())
    tx.save(registered_entry(job.kind, job.id, entry), condition=EntryItem.pk.does_not_exist())
    for p in issued.postings:
        _post(tx, p)
    months = _count_months(tx, doc["invoice_date"][:7], entry["date"][:7])
    labels.update("counter", *["balance"] * len(issued.postings), *["month"] * months)
    labels.put("invoice", "invoice", "entry")


def _count_months(tx: TransactWrite, invoice_month: str, entry_month: str) -> int:
    """R18: count the invoice and the entry in their months (one item when the same month), so the
    registers know which months to read; returns how many items it updated."""
    added: dict[str, list[Any]] = {}
    added.setdefault(invoice_month, []).append(MonthItem.invoices.add(1))
    added.setdefault(entry_month, []).append(MonthItem.entries.add(1))
    for month, actions in added.items():
        tx.update(MonthItem(*month_key(month)), actions=[*actions, MonthItem.type.set(MonthItem)])
    return len(added)


def _void(tx: TransactWrite, labels: Labels, job: Job, void: Void, credit_note_id: str) -> None:
    """Mark the voided invoice (both copies: each only if not voided yet) and its shipment, if any."""
    actions: list[Any] = [InvoiceItem.data[k].set(v) for k, v in stored(void.marks).items()]
    if void.token:
        actions.append(InvoiceItem.void_token.set(void.token))
    not_voided = InvoiceItem.pk.exists() & InvoiceItem.data["voided_by_invoice_id"].does_not_exist()
    for key in (job_key(job.kind, job.id, Owned.INVOICE, void.invoice_id), invoice_key(void.invoice_id)):
        tx.update(InvoiceItem(*key), actions=actions, condition=not_voided)
    labels.update("voided", "voided")
    if void.shipment_id is None:
        return
    invoiced = ShipmentItem.data["status"] == ShipmentStatus.INVOICED.value
    for key in (shipment_guard_key(void.shipment_id), job_key(job.kind, job.id, Owned.SHIPMENT, void.shipment_id)):
        tx.update(
            ShipmentItem(*key),
            actions=[
                ShipmentItem.data["status"].set(ShipmentStatus.INVOICE_VOIDED.value),
                ShipmentItem.data["credit_note_id"].set(credit_note_id),
            ],
            condition=invoiced,
        )
    labels.update("shipment", "shipment")


def _post(tx: TransactWrite, p: Posting) -> None:
    tx.update(
        BalanceItem(*balance_key(p.currency, p.account)),
        actions=[
            BalanceItem.debit.add(p.debit),
            BalanceItem.credit.add(p.credit),
            BalanceItem.account.set(p.account),
            BalanceItem.account_name.set(p.account_name),
            BalanceItem.currency.set(p.currency),
            BalanceItem.type.set(BalanceItem),
        ],
    )


def _record_shipment(
    tx: TransactWrite, labels: Labels, shipment: ShipmentDoc, kind: str | None, order_id: str | None
) -> None:
    """The shipment's guard (its id is recorded once, R8) and, when its order exists, its copy there."""
    sid = str(shipment["shipment_id"])
    tx.save(ShipmentItem(*shipment_guard_key(sid), data=stored(shipment)), condition=ShipmentItem.pk.does_not_exist())
    labels.put(f"new:{sid}")
    if kind is None or order_id is None:
        return
    tx.save(
        ShipmentItem(*job_key(kind, order_id, Owned.SHIPMENT, sid), data=stored(shipment)),
        condition=ShipmentItem.pk.does_not_exist(),
    )
    labels.put("shipment")


def put_rejected_shipment(shipment: ShipmentDoc, order_kind: str | None) -> bool:
    """Record a rejected shipment once (guard + copy under its order when the order exists).

    Returns False if the shipment id was already recorded: only a failed condition on its guard
    means that. A concurrent writer of the same items is ``Conflict`` (re-read and retry); any other
    cancellation (a ``ValidationError``, say) propagates, since acknowledging it would lose the message.
    """
    bind()
    labels = Labels()
    try:
        with TransactWrite(connection=connection()) as tx:
            _record_shipment(tx, labels, shipment, order_kind, shipment["order_id"])
    except TransactWriteError as e:
        failed, reasons = cancellation(e, labels.ordered())
        if labels.puts and labels.puts[0] in failed:
            return False
        if any(code == "TransactionConflict" for code in reasons):
            raise Conflict(f"shipment {shipment['shipment_id']} written concurrently: {reasons}") from None
        raise
    return True


def put_shipment_conflict(shipment_id: str, content_hash: str, doc: dict[str, Any]) -> bool:
    """Record once a message that reused a recorded shipment id with other content (R8: nothing is
    dropped silently). Returns False if that same content was recorded as a conflict already."""
    bind()
    try:
        ShipmentItem(*shipment_conflict_key(shipment_id, content_hash), data=stored(doc)).save(
            condition=ShipmentItem.pk.does_not_exist()
        )
    except PutError as e:
        if e.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
