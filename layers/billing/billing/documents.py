"""The documents the service stores and answers with, typed: statuses as ``StrEnum``s, invoices,
journal entries, shipments, records and jobs as ``TypedDict``s.

A document is stored as a DynamoDB map and sent as JSON exactly as it is, so its typed form is a
``TypedDict``: mypy checks every field where a document is built or read, at no cost at run time
(the automation and the shipments function import this module and must start fast), and the same
classes are the response schemas of the OpenAPI document (``billing.routes``). Amounts, quantities
and percents are decimal strings with the currency's minor-unit decimals (docs/rules.md, R10).
"""

from enum import StrEnum
from typing import Any, NotRequired

# pydantic (which builds the OpenAPI schemas from these) needs typing_extensions' TypedDict before 3.12.
from typing_extensions import TypedDict

# No ``from __future__ import annotations`` here: the fields' types are evaluated as each class is made,
# where string annotations would cost the import a compiled forward reference per field (about 1.5 ms).


class Kind(StrEnum):
    ORDER = "order"
    PROJECT = "project"


# The path segment of each kind: ``/orders/...``, ``/projects/...``.
SEGMENTS: dict[Kind, str] = {Kind.ORDER: "orders", Kind.PROJECT: "projects"}
KIND_OF_SEGMENT: dict[str, Kind] = {segment: kind for kind, segment in SEGMENTS.items()}


class JobStatus(StrEnum):
    OPEN = "open"
    FINALIZED = "finalized"


class RecordStatus(StrEnum):
    PENDING = "pending"
    INVOICED = "invoiced"
    CANCELLED = "cancelled"
    FAILED = "failed"
    VOIDED = "voided"  # its deposit invoice was voided by a credit note (R14)


class InvoiceType(StrEnum):
    DEPOSIT = "deposit"
    SHIPMENT = "shipment"
    FINAL = "final"
    CREDIT_NOTE = "credit_note"  # voids another invoice (R14)


class InvoiceStatus(StrEnum):
    ISSUED = "issued"
    VOIDED = "voided"  # a credit note voids it (R14); it keeps every other field


class ShipmentStatus(StrEnum):
    """What a recorded shipment became (R8)."""

    INVOICED = "invoiced"
    NOT_INVOICED = "not_invoiced"
    REJECTED = "rejected"
    INVOICE_VOIDED = "invoice_voided"  # its shipment invoice was voided: the final invoice bills it (R14)


class ShipmentReason(StrEnum):
    AUTO_INVOICE_OFF = "auto_invoice_off"
    JOB_FINALIZED = "job_finalized"
    PROGRESS_BILLING = "progress_billing"
    UNKNOWN_ORDER = "unknown_order"
    UNKNOWN_LINE = "unknown_line"
    OVER_SHIPMENT = "over_shipment"
    INVALID = "invalid"


class MessageOutcome(StrEnum):
    """What processing one SQS shipment message did: a recorded status, or nothing recorded."""

    INVOICED = "invoiced"
    NOT_INVOICED = "not_invoiced"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"  # the shipment id was recorded already, with the same content (a redelivery)
    CONFLICT = "conflict"  # the shipment id was recorded already, with other content: recorded once, logged
    UNPARSEABLE = "unparseable"  # not JSON, or no usable shipment_id: logged and acknowledged


class RunOutcome(StrEnum):
    """What the automation did with one due record (R4, R6)."""

    INVOICED = "invoiced"
    FAILED = "failed"
    SKIPPED = "skipped"  # no longer pending: invoiced by another run, or cancelled


# ---- who did it (R20) ----------------------------------------------------------------------------


class Actor(TypedDict):
    """The author of a job, record, invoice or settings change (R20): the JWT's ``sub`` and username."""

    sub: str
    username: str


# The fixed authors of the paths no person calls, and the default for documents written before R20.
AUTOMATION_ACTOR: Actor = {"sub": "automation", "username": "automation"}
SHIPMENTS_ACTOR: Actor = {"sub": "shipments", "username": "shipments"}
UNKNOWN_ACTOR: Actor = {"sub": "unknown", "username": "unknown"}


def actor_or_unknown(value: object) -> Actor:
    """A stored ``created_by``/``updated_by`` back as an ``Actor``: documents written before R20 have
    none (``unknown``); settings saved before it hold the caller's name as a plain string."""
    if isinstance(value, dict) and isinstance(value.get("sub"), str) and isinstance(value.get("username"), str):
        return {"sub": value["sub"], "username": value["username"]}
    if isinstance(value, str) and value:
        return {"sub": UNKNOWN_ACTOR["sub"], "username": value}
    return {"sub": UNKNOWN_ACTOR["sub"], "username": UNKNOWN_ACTOR["username"]}


# ---- jobs and records ----------------------------------------------------------------------------


class JobLineDoc(TypedDict):
    line_id: str
    item_code: str
    description: str
    quantity: str
    unit_price: str
    amount: str
    shipped_quantity: str  # every recorded shipment, invoiced or not
    billed_quantity: str  # shipped quantities billed by shipment invoices
    billed_amount: str  # revenue billed by shipment invoices (R7)
    tax_code: str | None  # R16: the line's tax code (None: untaxed)
    tax_rate: str | None  # R16: the code's rate (a percent), captured when the line was added


class JobBilling(TypedDict):
    deposits_billed: str
    shipments_billed: str
    final_billed: str
    billed_to_date: str
    deposit_balance: str  # deposits still held as a liability
    pending_scheduled: str
    remaining: str
    percent_billed: str
    deposit_invoice_count: int


class JobDoc(TypedDict):
    kind: Kind
    id: str
    customer_id: str
    customer_name: str
    currency: str
    lines: list[JobLineDoc]
    total: str
    status: JobStatus
    created_at: str
    finalized_at: str | None
    final_invoice_id: str | None
    billing: JobBilling
    created_by: Actor  # R20: who registered it
    change_order_count: int  # R15: CO-1 ... CO-<count>
    reopen_count: int  # R14: how many times a credit note voided its final invoice
    reopened_at: str | None  # R14: when its last final invoice was voided (None: never reopened)


class RecordDoc(TypedDict):
    record_id: str
    kind: Kind
    job_id: str
    status: RecordStatus
    schedule: bool  # created with "schedule": true (R4), invoiced by the automation
    invoice_date: str
    amount: str
    percent: str | None  # R1: the amount was fixed from this percent of the job total
    currency: str
    title: str
    description: str
    item_description: str
    invoice_id: str | None
    failure_reason: str | None  # why the automation could not invoice it (R6)
    credit_note_id: str | None  # R14: the credit note that voided its invoice
    created_at: str
    updated_at: str | None
    created_by: Actor  # R20: who created it (invoicing it later by the automation does not change it)


# ---- invoices and the ledger ---------------------------------------------------------------------


class InvoiceLine(TypedDict):
    code: str
    description: str
    quantity: str
    unit_price: str
    amount: str
    line_id: NotRequired[str]  # the job line billed (shipment and final invoices)
    percent: NotRequired[str | None]  # a deposit line's percent (R2)
    reverses_invoice_id: NotRequired[str]  # a final invoice's deposit reversal (R7)
    reverses_line: NotRequired[int]  # a credit note's line: the 1-based position of the line it negates (R14)


class TaxLine(TypedDict):
    """R16: one tax code's tax on an invoice: the net it is computed on, and the amount."""

    code: str
    name: str
    rate: str  # a percent
    base: str
    amount: str
    account: str  # where it is posted


class BillingBlock(TypedDict):
    job_total: str
    billed_before: str
    this_invoice: str
    billed_to_date: str
    remaining: str
    revenue_recognized: NotRequired[str]  # final invoices (a credit note of one: negated)
    deposits_reversed: NotRequired[str]  # final invoices (a credit note of one: negated)


class InvoiceDoc(TypedDict):
    invoice_id: str
    number: str
    type: InvoiceType
    status: InvoiceStatus  # issued, or voided by a credit note (R14)
    kind: Kind
    job_id: str
    customer_id: str
    customer_name: str
    invoice_date: str
    title: str
    description: str
    currency: str
    lines: list[InvoiceLine]
    subtotal: str  # R16: net of tax
    tax: list[TaxLine]  # R16: per code (empty: no tax)
    total: str  # subtotal + tax
    journal_entry_id: str
    billing: BillingBlock
    issued_at: str
    created_by: Actor  # R20: the caller; ``automation`` or ``shipments`` for those paths
    record_id: NotRequired[str]  # deposit invoices
    shipment_id: NotRequired[str]  # shipment invoices
    cancelled_record_ids: NotRequired[list[str]]  # final invoices: the pending records it cancelled
    voids_invoice_id: NotRequired[str]  # credit notes: the invoice voided (R14)
    voids_invoice_type: NotRequired[InvoiceType]  # credit notes: that invoice's type
    reason: NotRequired[str]  # credit notes: why
    voided_by_invoice_id: NotRequired[str]  # a voided invoice: its credit note
    void_reason: NotRequired[str]  # a voided invoice: why
    voided_at: NotRequired[str]  # a voided invoice: when the credit note was issued
    voided_by: NotRequired[Actor]  # a voided invoice: who voided it (R20)


class EntryLine(TypedDict):
    account: str
    account_name: str
    debit: str
    credit: str


class JournalEntryDoc(TypedDict):
    entry_id: str
    date: str
    invoice_id: str
    kind: Kind  # R18: the job it belongs to (entries written before R18: filled in when read)
    job_id: str
    currency: str
    lines: list[EntryLine]
    total_debit: str
    total_credit: str


class AccountBalance(TypedDict):
    account: str
    account_name: str
    currency: str
    debit: str
    credit: str
    balance: str


class CurrencyTotal(TypedDict):
    currency: str
    debit: str
    credit: str
    balanced: bool


class TrialBalanceDoc(TypedDict):
    accounts: list[AccountBalance]
    totals: list[CurrencyTotal]


# ---- shipments and settings ----------------------------------------------------------------------


class ShipmentDoc(TypedDict):
    shipment_id: str | None
    order_id: str | None
    ship_date: str | None
    lines: list[Any]  # the shipped lines ({line_id, quantity}); for a rejected one, a sanitized copy (shipments.py)
    status: ShipmentStatus
    reason: ShipmentReason | None
    detail: str | None
    invoice_id: str | None
    message_id: str
    recorded_at: str
    credit_note_id: NotRequired[str]  # R14: the credit note that voided its invoice (status invoice_voided)


class AccountsDoc(TypedDict):
    receivable: str
    customer_deposits: str
    revenue: str


class TaxCodeDoc(TypedDict):
    """R16: a tax code of the settings (its key is the code, ``VAT20``)."""

    name: str
    rate: str  # a percent, up to 4 decimals
    account: str  # where its tax is posted (the ledger names the account after the code's name)


class CompanyDoc(TypedDict):
    """The issuer on invoice documents (R18)."""

    name: str
    address: str
    tax_id: str


class SettingsDoc(TypedDict):
    auto_invoice_on_shipment: bool
    accounts: AccountsDoc
    account_names: AccountsDoc
    tax_on_deposits: bool  # R16: deposits carry tax (VAT on advance payments); default false
    tax_codes: dict[str, TaxCodeDoc]  # R16: default {} (no tax)
    company: CompanyDoc
    updated_at: str | None
    updated_by: Actor | None  # R20: the author of the last PUT; None before any
    version: int  # R20: 0 before any PUT, +1 on each; a PUT may send it back to refuse a stale write


# ---- HTTP answers --------------------------------------------------------------------------------


class ErrorInfo(TypedDict):
    code: str
    message: str
    details: list[dict[str, Any]]  # one per bad field: {"field": ..., "message": ...}, or the figures


class ErrorBody(TypedDict):
    error: ErrorInfo


class JobPage(TypedDict):
    items: list[JobDoc]
    next_token: str | None


class RecordList(TypedDict):
    items: list[RecordDoc]


class InvoiceList(TypedDict):
    items: list[InvoiceDoc]


class EntryList(TypedDict):
    items: list[JournalEntryDoc]


class ShipmentList(TypedDict):
    items: list[ShipmentDoc]


class InvoicePage(TypedDict):
    """R18: a page of the invoice register."""

    items: list[InvoiceDoc]
    next_token: str | None


class EntryPage(TypedDict):
    """R18: a page of the journal."""

    items: list[JournalEntryDoc]
    next_token: str | None


class RunTrigger(StrEnum):
    """What started an automation run (R18)."""

    SCHEDULE = "schedule"  # an EventBridge scheduled event
    CONTINUATION = "continuation"  # a run continuing where an earlier one stopped
    MANUAL = "manual"  # any other invocation (a rerun with business_date, say)


class AutomationRunDoc(TypedDict):
    """R18: one finished run of the automation (a continuation is a run of its own)."""

    run_id: str
    business_date: str
    started_at: str
    finished_at: str
    invoiced: int
    failed: int
    skipped: int
    continued: bool  # it handed the rest to a continuation
    complete: bool  # it got through every due record (false: stopped before its timeout)
    continuation: int  # 0 for the first run of a business date, then 1, 2, ...
    trigger: RunTrigger
    time: str | None  # the event's time, if it had one


class RunPage(TypedDict):
    items: list[AutomationRunDoc]
    next_token: str | None


class RecordCreated(TypedDict):
    record: RecordDoc
    invoice: InvoiceDoc | None


class FinalCreated(TypedDict):
    invoice: InvoiceDoc


class Voided(TypedDict):
    """R14: the credit note issued and the original invoice as it is now (``status`` ``voided``)."""

    credit_note: InvoiceDoc
    invoice: InvoiceDoc


# ---- change orders (R15) -------------------------------------------------------------------------


class ChangeOrderDoc(TypedDict):
    change_order_id: str  # CO-1, CO-2, ... per job
    kind: Kind
    job_id: str
    date: str
    reason: str
    lines_before: list[JobLineDoc]  # the lines it changed, as they were (a line it added: not here)
    lines_after: list[JobLineDoc]  # the lines it changed or added, as they are after it
    total_before: str
    total_after: str
    created_at: str
    created_by: Actor  # R20


class ChangeOrderList(TypedDict):
    items: list[ChangeOrderDoc]
    next_token: str | None


class ChangeOrderCreated(TypedDict):
    change_order: ChangeOrderDoc
    job: JobDoc
