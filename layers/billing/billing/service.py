"""Use cases: what each entry point (HTTP, SQS, EventBridge) asks of the service.

Every change to the books follows one path: read a ``Snapshot`` (one BatchGetItem), decide with
the pure functions of ``books``, write one ``store.Change`` (one TransactWriteItems). A ``Conflict``
means another writer changed the job or took the invoice number first: re-read and decide again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from . import books, store
from .config import config
from .corrections import check_line, job_total
from .dates import now_iso
from .documents import (
    AUTOMATION_ACTOR,
    AccountBalance,
    Actor,
    CompanyDoc,
    CurrencyTotal,
    FinalCreated,
    InvoiceDoc,
    JobPage,
    JobStatus,
    Kind,
    RecordCreated,
    RecordStatus,
    RunOutcome,
    TrialBalanceDoc,
)
from .errors import (
    AlreadyExists,
    Conflict,
    JobFinalized,
    NotFound,
    Overbilling,
    RecordExists,
    StaleVersion,
    ValidationFailed,
)
from .model import ACCOUNT_KEYS, Job, JobLine, Record, Settings
from .money import (
    PERCENT_DECIMALS,
    QUANTITY_DECIMALS,
    UNIT_PRICE_DECIMALS,
    ZERO,
    MoneyError,
    fmt,
    line_amount,
    parse_amount,
    parse_decimal,
    percent_of,
)
from .tax import UNTAXED, Rate

if TYPE_CHECKING:  # the request models are the HTTP functions' business, not the automation's
    from .inputs import FinalIn, JobIn, RecordIn, SettingsIn

T = TypeVar("T")
MAX_ATTEMPTS = 25  # with the capped backoff below: about 3 s at worst before 503 BUSY


def business_date(at: dt.datetime | None = None) -> str:
    """A calendar date in ``BusinessTimezone`` (R5): ``at`` (an aware datetime) or now."""
    return (at or dt.datetime.now(dt.UTC)).astimezone(timezone(config().business_timezone)).date().isoformat()


def timezone(name: str) -> dt.tzinfo:
    """The IANA zone ``name``. ``UTC``, the template's default, needs no zone database: ``zoneinfo`` (and the
    ``sysconfig`` it reads its search path from, a few milliseconds of every cold start) loads for another zone."""
    if name == "UTC":
        return dt.UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def new_id(prefix: str) -> str:
    """Sortable by creation time, unique without coordination: ``PB-20261127T150912123-9f2c4a``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def with_retry(fn: Callable[[], T]) -> T:
    """Run a read-decide-write step until it commits without a concurrent change in between."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return fn()
        except Conflict:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            # jittered exponential backoff, capped: invoice numbers serialize every writer in the stack
            time.sleep(random.uniform(0, min(0.25, 0.01 * 2**attempt)))  # noqa: S311 - not crypto
    raise AssertionError("unreachable")


def open_job(job: Job | None, kind: Kind, job_id: str) -> Job:
    """The job, if it exists and is open: 404 ``NOT_FOUND``, or 409 ``JOB_FINALIZED`` (R7)."""
    if job is None:
        raise NotFound(f"{kind} {job_id} not found")
    if job.status == JobStatus.FINALIZED:
        raise JobFinalized(f"{kind} {job_id} is finalized (final invoice {job.final_invoice_id})")
    return job


# ---- jobs ---------------------------------------------------------------------------------------


def captured_rates(codes: list[str | None], settings: Settings | None = None) -> list[Rate]:
    """R16: the rate each line's ``tax_code`` names in the settings now (``UNTAXED`` for none), read
    only when a line names one; an unknown code is 422 naming ``lines[i].tax_code``."""
    if not any(codes):
        return [UNTAXED] * len(codes)
    settings = settings or store.get_settings()
    out = []
    for i, code in enumerate(codes):
        rate = settings.rate(code) if code else UNTAXED
        if rate is None:
            known = ", ".join(sorted(settings.tax_codes)) or "none"
            raise ValidationFailed.field(
                f"lines[{i}].tax_code", f"unknown tax code {code!r} (the settings have: {known})"
            )
        out.append(rate)
    return out


def register_job(kind: Kind, body: JobIn, token: str | None = None, *, by: Actor) -> Job:
    """Register a job. ``token`` (from an Idempotency-Key) makes a resend return the same job.
    ``by``: its author (R20)."""
    c = body.currency
    lines = []
    rates = captured_rates([ln.tax_code for ln in body.lines])
    for ln, rate in zip(body.lines, rates, strict=True):
        qty = parse_decimal(ln.quantity, QUANTITY_DECIMALS)
        price = parse_decimal(ln.unit_price, UNIT_PRICE_DECIMALS)
        lines.append(
            JobLine(ln.line_id, ln.item_code, ln.description, qty, price, line_amount(qty, price, c), tax=rate)
        )
    for i, line in enumerate(lines):
        check_line(i, line)
    total = job_total(lines, c)
    job = Job(
        kind=kind,
        id=body.id,
        customer_id=body.customer_id,
        customer_name=body.customer_name,
        currency=c,
        lines=lines,
        total=total,
        status=JobStatus.OPEN,
        created_at=now_iso(),
        created_token=token,
        created_by=by,
    )
    job.captured(rates)
    try:
        store.commit(store.Change(job, new_job=True, actor=by))
    except AlreadyExists:
        existing = store.get_job(kind, body.id)
        if token is not None and existing.created_token == token:
            return existing  # the same request, resent after its first response was lost
        raise
    return job


def get_job(kind: Kind, job_id: str) -> Job:
    return store.get_job(kind, job_id)


def list_jobs(kind: Kind, status: JobStatus | None, limit: int, next_token: str | None) -> JobPage:
    jobs, token = store.list_jobs(kind, status, limit, next_token)
    return {"items": [j.to_api() for j in jobs], "next_token": token}


def job_partition(kind: Kind, job_id: str) -> store.JobPartition:
    """Everything the job owns (records, invoices, journal entries, shipments), in one Query."""
    return store.read_job_partition(kind, job_id)


# ---- progress billing records (R1, R2, R4, R6, R12) ---------------------------------------------


def record_amount(job: Job, amount: str | None, percent: str | None) -> tuple[Decimal, Decimal | None]:
    """R1: the record's amount, from ``amount`` in the job's currency or from ``percent`` of its total."""
    if amount is not None:
        try:
            return parse_amount(amount, job.currency), None
        except MoneyError as e:
            raise ValidationFailed.field("amount", f"{e} for {job.currency}") from None
    share = parse_decimal(percent or "", PERCENT_DECIMALS)
    value = percent_of(job.total, share, job.currency)
    if value <= 0:
        raise ValidationFailed.field(
            "percent", f"{percent}% of {fmt(job.total, job.currency)} rounds to {fmt(ZERO, job.currency)}"
        )
    return value, share


def _replay_record(kind: Kind, job_id: str, record_id: str) -> RecordCreated:
    rec = store.get_record(kind, job_id, record_id)
    if rec is None:  # cannot happen: the record was just reported as existing
        raise NotFound(f"progress billing record {record_id} not found on {kind} {job_id}")
    return {"record": rec.to_api(), "invoice": store.get_invoice(rec.invoice_id) if rec.invoice_id else None}


def create_record(kind: Kind, job_id: str, body: RecordIn, token: str | None = None, *, by: Actor) -> RecordCreated:
    """R2 (create now) or R4 (schedule): one record, and for create-now its deposit invoice, both by
    ``by`` (R20).

    With ``token`` (from an Idempotency-Key) the record id is derived from it, so a resend, even one
    arriving after the idempotency cache expired or after a crash between commit and response,
    finds the record it already wrote instead of billing twice.
    """
    record_id = f"PB-{token[:26]}" if token else None

    def attempt() -> RecordCreated:
        try:
            return decide()
        except (Overbilling, ValidationFailed, JobFinalized):
            # a resend of a request whose record was written and has left the job since (its deposit
            # invoice voided, R14): the record, not the state of the job now, is the answer
            if record_id and store.get_record(kind, job_id, record_id) is not None:
                return _replay_record(kind, job_id, record_id)
            raise

    def decide() -> RecordCreated:
        # A scheduled record issues no invoice: the job alone decides it (no counter, no settings).
        snap = store.read_for_change(kind, job_id, books=not body.schedule)
        job = snap.job
        if (
            record_id
            and job is not None
            and (record_id in job.pending or any(d.record_id == record_id for d in job.deposits))
        ):
            return _replay_record(kind, job_id, record_id)
        job = open_job(snap.job, kind, job_id)
        amount, percent = record_amount(job, body.amount, body.percent)
        now = now_iso()
        rec = Record(
            record_id=record_id or new_id("PB"),
            kind=kind,
            job_id=job_id,
            invoice_date=body.invoice_date or business_date(),
            title=body.title,
            description=body.description,
            item_description=body.item_description,
            amount=amount,
            percent=percent,
            currency=job.currency,
            status=RecordStatus.PENDING,
            scheduled=body.schedule,
            created_at=now,
            updated_at=now,
            created_by=by,
        )
        change = store.Change(job, records=[rec], new_record_ids={rec.record_id}, actor=by)
        if body.schedule:
            books.schedule(job, rec.record_id, amount)
        else:
            change.issued = books.apply_deposit(job, rec, (snap.counter or 0) + 1, snap.settings, now)
            change.counter_read = snap.counter
        try:
            store.commit(change)
        except RecordExists:  # written by the first request, and cancelled or failed since
            return _replay_record(kind, job_id, rec.record_id)
        return {"record": rec.to_api(), "invoice": change.issued.invoice if change.issued else None}

    return with_retry(attempt)


def invoice_due_record(rec: Record) -> RunOutcome:
    """R4/R6 at run time: invoice one pending record, or mark it failed. Returns the outcome.

    ``skipped``: the record is no longer pending (another run got there first, or it was cancelled);
    the index is eventually consistent, so the job's strongly consistent read decides.
    """

    def attempt() -> RunOutcome:
        snap = store.read_for_change(rec.kind, rec.job_id)
        job = snap.job
        if job is None or rec.record_id not in job.pending or job.status != JobStatus.OPEN:
            return RunOutcome.SKIPPED
        now = now_iso()
        current = dataclasses.replace(rec)
        change = store.Change(job, records=[current], actor=AUTOMATION_ACTOR)
        try:
            change.issued = books.apply_deposit(
                job, current, (snap.counter or 0) + 1, snap.settings, now, by=AUTOMATION_ACTOR
            )  # R20: the invoice is the automation's; the record keeps its creator
            change.counter_read = snap.counter
            outcome = RunOutcome.INVOICED
        except (Overbilling, ValidationFailed) as e:  # over-billing (R6), or the job's deposit limit (R19)
            job.pending.pop(current.record_id, None)
            current.status, current.failure_reason, current.updated_at = RecordStatus.FAILED, e.message, now
            outcome = RunOutcome.FAILED
        store.commit(change)
        rec.status, rec.invoice_id, rec.failure_reason = current.status, current.invoice_id, current.failure_reason
        return outcome

    return with_retry(attempt)


# ---- final invoice (R7) -------------------------------------------------------------------------


def create_final(kind: Kind, job_id: str, body: FinalIn, token: str | None = None, *, by: Actor) -> FinalCreated:
    """R7, by ``by`` (R20). With ``token``, a resend of the request that finalized the job returns its invoice."""

    def attempt() -> FinalCreated:
        snap = store.read_for_change(kind, job_id)
        if token and snap.job is not None and snap.job.final_token == token and snap.job.final_invoice_id:
            return {"invoice": store.get_invoice(snap.job.final_invoice_id)}
        if token and snap.job is not None and token in snap.job.voided_final_tokens:  # voided since (R14)
            return {"invoice": store.get_invoice(snap.job.voided_final_tokens[token])}
        job = open_job(snap.job, kind, job_id)
        job.final_token = token
        cancelled = sorted(job.pending)
        n = (snap.counter or 0) + 1
        now = now_iso()
        issued = books.apply_final(
            job, n, snap.settings, body.invoice_date or business_date(), body.title, body.description, now, by=by
        )
        store.commit(
            store.Change(
                job, issued=issued, counter_read=snap.counter, cancel_record_ids=cancelled, cancelled_at=now, actor=by
            )
        )
        return {"invoice": issued.invoice}

    return with_retry(attempt)


# ---- ledger, invoices, settings -----------------------------------------------------------------


def get_invoice(invoice_id: str) -> InvoiceDoc:
    return store.get_invoice(invoice_id)


def invoice_document(invoice_id: str) -> tuple[InvoiceDoc, CompanyDoc]:
    """R18: an invoice and its issuer (the settings' ``company``), in one read."""
    invoice, settings = store.read_invoice_and_settings(invoice_id)
    return invoice, settings.company


def trial_balance() -> TrialBalanceDoc:
    accounts: list[AccountBalance] = []
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for b in sorted(store.trial_balance(), key=lambda b: (b.currency, b.account)):
        c = b.currency
        accounts.append(
            {
                "account": b.account,
                "account_name": b.account_name,
                "currency": c,
                "debit": fmt(b.debit, c),
                "credit": fmt(b.credit, c),
                "balance": fmt(b.debit - b.credit, c),
            }
        )
        d, cr = totals.get(c, (ZERO, ZERO))
        totals[c] = (d + b.debit, cr + b.credit)
    currency_totals: list[CurrencyTotal] = [
        {"currency": c, "debit": fmt(d, c), "credit": fmt(cr, c), "balanced": d == cr}
        for c, (d, cr) in sorted(totals.items())
    ]
    return {"accounts": accounts, "totals": currency_totals}


def get_settings() -> Settings:
    return store.get_settings()


def put_settings(body: SettingsIn, by: Actor) -> Settings:
    """R20: replace the fields sent, keep the others; ``version`` one more, written only if the stored
    version is still the one read. With the body's ``version`` (from a GET), a stale one, or a
    concurrent PUT that saved first, is 409 ``CONFLICT``; without it, a concurrent PUT is re-read."""

    def attempt() -> Settings:
        current = store.get_settings()
        if body.version is not None and body.version != current.version:
            raise _stale(body.version, current.version)
        if body.auto_invoice_on_shipment is not None:
            current.auto_invoice_on_shipment = body.auto_invoice_on_shipment
        if body.accounts is not None:
            current.accounts.update(body.accounts.model_dump(exclude_none=True))
        if body.account_names is not None:
            current.account_names.update(body.account_names.model_dump(exclude_none=True))
        if body.tax_on_deposits is not None:
            current.tax_on_deposits = body.tax_on_deposits
        if body.tax_codes is not None:
            current.tax_codes = {k: v.model_dump() for k, v in body.tax_codes.items()}  # type: ignore[misc]
        if body.company is not None:
            current.company.update(body.company.model_dump(exclude_none=True))  # type: ignore[typeddict-item]
        codes = [current.accounts[k] for k in ACCOUNT_KEYS]
        if len(set(codes)) != len(codes):
            raise ValidationFailed.field(
                "accounts", "receivable, customer_deposits and revenue must be different accounts"
            )
        for code, tc in current.tax_codes.items():
            if tc["account"] in codes:  # R16: tax has its own accounts
                raise ValidationFailed.field(
                    f"tax_codes.{code}.account", f"{tc['account']} is the receivable, deposits or revenue account"
                )
        read = current.version
        current.updated_at, current.updated_by, current.version = now_iso(), by, read + 1
        try:
            store.put_settings(current, expected_version=read)
        except Conflict:
            if body.version is not None:
                raise _stale(body.version, None) from None
            raise
        return current

    return with_retry(attempt)


def _stale(sent: int, stored: int | None) -> StaleVersion:
    now = "another change was saved first" if stored is None else f"the settings are at version {stored}"
    return StaleVersion(
        f"settings version {sent} is stale: {now}; GET /settings and apply the change again",
        [{"field": "version", "message": "stale", "sent": sent, **({} if stored is None else {"current": stored})}],
    )
