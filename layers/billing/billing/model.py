"""The domain's plain data: jobs, progress billing records, shipments and settings.

No AWS here. ``store`` turns these into DynamoDB items and back; ``books`` computes invoices
and journal entries from them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .documents import (
    AccountsDoc,
    Actor,
    CompanyDoc,
    JobBilling,
    JobDoc,
    JobLineDoc,
    JobStatus,
    Kind,
    RecordDoc,
    RecordStatus,
    SettingsDoc,
    TaxCodeDoc,
    actor_or_unknown,
)
from .money import ZERO, fmt, ratio_percent
from .structs import field, struct
from .tax import UNTAXED, Rate, Tax, net_per_rate

ACCOUNT_KEYS = ("receivable", "customer_deposits", "revenue")
DEFAULT_ACCOUNTS = {"receivable": "1200", "customer_deposits": "2400", "revenue": "4000"}
DEFAULT_ACCOUNT_NAMES = {
    "receivable": "Accounts Receivable",
    "customer_deposits": "Customer Deposits",
    "revenue": "Revenue",
}


def dec(value: Any) -> Decimal:
    """A stored decimal string (or DynamoDB number) back to Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@struct
class JobLine:
    line_id: str
    item_code: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    shipped_quantity: Decimal = ZERO  # every recorded shipment, invoiced or not
    billed_quantity: Decimal = ZERO  # shipped quantities billed by shipment invoices
    billed_amount: Decimal = ZERO  # revenue billed by shipment invoices (R7)
    tax: Rate = UNTAXED  # R16: its tax code and the rate captured when the line was added

    def to_dict(self, currency: str) -> JobLineDoc:
        return {
            "line_id": self.line_id,
            "item_code": self.item_code,
            "description": self.description,
            "quantity": format(self.quantity, "f"),
            "unit_price": format(self.unit_price, "f"),
            "amount": fmt(self.amount, currency),
            "shipped_quantity": format(self.shipped_quantity, "f"),
            "billed_quantity": format(self.billed_quantity, "f"),
            "billed_amount": fmt(self.billed_amount, currency),
            "tax_code": self.tax.code or None,
            "tax_rate": format(self.tax.rate, "f") if self.tax.taxed else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobLine:
        return cls(
            line_id=d["line_id"],
            item_code=d["item_code"],
            description=d.get("description", ""),
            quantity=dec(d["quantity"]),
            unit_price=dec(d["unit_price"]),
            amount=dec(d["amount"]),
            shipped_quantity=dec(d.get("shipped_quantity", "0")),
            billed_quantity=dec(d.get("billed_quantity", "0")),
            billed_amount=dec(d.get("billed_amount", "0")),
            tax=Rate.of_line(d),
        )


@struct
class DepositRef:
    """A deposit invoice the final invoice will reverse."""

    invoice_id: str
    amount: Decimal
    invoice_date: str
    record_id: str
    account: str = ""  # the Customer Deposits account it was posted to (R7); "" before it was kept


@struct
class Job:
    """An order or a project: the aggregate every change to the books goes through.

    It carries everything a billing decision needs (totals, deposit invoices, pending amounts,
    shipped quantities), so one read of it is enough, and every write is conditioned on
    ``version`` so that two concurrent changes cannot both pass the over-billing check (R6).
    """

    kind: Kind
    id: str
    customer_id: str
    customer_name: str
    currency: str
    lines: list[JobLine]
    total: Decimal
    status: JobStatus = JobStatus.OPEN
    created_at: str = ""
    version: int = 0
    deposits: list[DepositRef] = field(default_factory=list)
    # The accounts the deposits were posted to, code -> name (one entry per account used, usually one),
    # so the final invoice reverses each on its own account whatever the settings say now (R7).
    deposit_accounts: dict[str, str] = field(default_factory=dict)
    pending: dict[str, Decimal] = field(default_factory=dict)  # record_id -> amount
    shipments_billed: Decimal = ZERO
    shipment_tax: list[Tax] = field(default_factory=list)  # R16: tax billed by shipment invoices, per rate
    # R16: tax of the live deposit invoices, per rate (its account in it): the final reverses it all
    deposit_tax: list[Tax] = field(default_factory=list)
    # R16: each tax code's name and account when a line first captured it: what posts it if the
    # settings no longer have the code (the settings' own name and account otherwise)
    tax_codes: dict[str, dict[str, str]] = field(default_factory=dict)
    shipment_count: int = 0
    final_invoice_id: str | None = None
    final_billed: Decimal = ZERO
    finalized_at: str | None = None
    # Idempotency tokens of the requests that created and finalized the job (see http.idempotent).
    created_token: str | None = None
    final_token: str | None = None
    created_by: Actor = field(default_factory=lambda: actor_or_unknown(None))  # R20; jobs before it: unknown
    change_order_count: int = 0  # R15: the last change order is CO-<count>
    reopen_count: int = 0  # R14: finals voided
    # R14: the tokens of voided finals' requests -> their invoice (a late resend gets that invoice back)
    voided_final_tokens: dict[str, str] = field(default_factory=dict)
    reopened_at: str | None = None
    event_count: int = 0  # R17: the sequence of the job's last event (billing.events)

    @property
    def deposits_billed(self) -> Decimal:
        return sum((d.amount for d in self.deposits), ZERO)

    @property
    def pending_amount(self) -> Decimal:
        return sum(self.pending.values(), ZERO)

    @property
    def billed(self) -> Decimal:
        """Billed to date: deposits and shipment invoices, plus the final invoice's balance due."""
        return self.deposits_billed + self.shipments_billed + self.final_billed

    def net_per_rate(self, settings: Settings, *, unbilled: bool = False) -> dict[Rate, Decimal]:
        """R16: the job's net per tax rate (untaxed lines under ``UNTAXED``), each rate named and
        posted as ``settings`` say now; ``unbilled``: less what shipment invoices billed."""
        pairs = ((ln.tax, ln.amount - (ln.billed_amount if unbilled else ZERO)) for ln in self.lines)
        return {self.resolved(r, settings): v for r, v in net_per_rate(pairs).items()}

    def captured(self, rates: list[Rate]) -> None:
        """R16: keep the name and account of each code the job's lines name, as the settings had them."""
        for r in rates:
            if r.taxed:
                self.tax_codes[r.code] = {"name": r.name, "account": r.account}

    def resolved(self, rate: Rate, settings: Settings) -> Rate:
        """``rate`` with the name and account its code has in the settings now, or, if they no longer
        have it, those it had when the job's lines captured it."""
        if not rate.taxed:
            return rate
        now = settings.tax_codes.get(rate.code) or self.tax_codes.get(rate.code) or {}
        return rate.named(now.get("name", rate.code), now.get("account", ""))

    def line(self, line_id: str) -> JobLine | None:
        return next((ln for ln in self.lines if ln.line_id == line_id), None)

    def billing(self) -> JobBilling:
        c = self.currency
        open_ = self.status == JobStatus.OPEN
        billed = self.billed
        return {
            "deposits_billed": fmt(self.deposits_billed, c),
            "shipments_billed": fmt(self.shipments_billed, c),
            "final_billed": fmt(self.final_billed, c),
            "billed_to_date": fmt(billed, c),
            # Deposits still held as a liability: all of them until the final invoice reverses them.
            "deposit_balance": fmt(self.deposits_billed if open_ else ZERO, c),
            "pending_scheduled": fmt(self.pending_amount, c),
            "remaining": fmt(self.total - billed, c),
            "percent_billed": format(ratio_percent(billed, self.total), "f"),
            "deposit_invoice_count": len(self.deposits),
        }

    def to_api(self) -> JobDoc:
        return {
            "kind": self.kind,
            "id": self.id,
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "currency": self.currency,
            "lines": [ln.to_dict(self.currency) for ln in self.lines],
            "total": fmt(self.total, self.currency),
            "status": self.status,
            "created_at": self.created_at,
            "finalized_at": self.finalized_at,
            "final_invoice_id": self.final_invoice_id,
            "billing": self.billing(),
            "created_by": self.created_by,
            "change_order_count": self.change_order_count,
            "reopen_count": self.reopen_count,
            "reopened_at": self.reopened_at,
        }

    def state(self) -> dict[str, Any]:
        """The stored form (decimal strings), written whole under the version condition."""
        c = self.currency
        return {
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "lines": [ln.to_dict(c) for ln in self.lines],
            "total": fmt(self.total, c),
            "created_at": self.created_at,
            "deposits": [
                {
                    "invoice_id": d.invoice_id,
                    "amount": fmt(d.amount, c),
                    "invoice_date": d.invoice_date,
                    "record_id": d.record_id,
                    "account": d.account,
                }
                for d in self.deposits
            ],
            "deposit_accounts": dict(self.deposit_accounts),
            "pending": {k: fmt(v, c) for k, v in self.pending.items()},
            "shipments_billed": fmt(self.shipments_billed, c),
            "shipment_tax": [t.line(c) for t in self.shipment_tax],
            "deposit_tax": [t.line(c) for t in self.deposit_tax],
            "tax_codes": {k: dict(v) for k, v in self.tax_codes.items()},
            "shipment_count": self.shipment_count,
            "final_invoice_id": self.final_invoice_id or "",
            "final_billed": fmt(self.final_billed, c),
            "finalized_at": self.finalized_at or "",
            "created_token": self.created_token or "",
            "final_token": self.final_token or "",
            "created_by": self.created_by,
            "change_order_count": self.change_order_count,
            "reopen_count": self.reopen_count,
            "voided_final_tokens": dict(self.voided_final_tokens),
            "reopened_at": self.reopened_at or "",
            "event_count": self.event_count,
        }

    @classmethod
    def from_state(cls, kind: str, id_: str, currency: str, status: str, version: int, s: dict[str, Any]) -> Job:
        return cls(
            kind=Kind(kind),
            id=id_,
            customer_id=s["customer_id"],
            customer_name=s["customer_name"],
            currency=currency,
            lines=[JobLine.from_dict(ln) for ln in s["lines"]],
            total=dec(s["total"]),
            status=JobStatus(status),
            created_at=s.get("created_at", ""),
            version=version,
            deposits=[
                DepositRef(
                    d["invoice_id"],
                    dec(d["amount"]),
                    d["invoice_date"],
                    d.get("record_id", ""),
                    d.get("account", ""),
                )
                for d in s.get("deposits", [])
            ],
            deposit_accounts=dict(s.get("deposit_accounts") or {}),
            pending={k: dec(v) for k, v in (s.get("pending") or {}).items()},
            shipments_billed=dec(s.get("shipments_billed", "0")),
            shipment_tax=[Tax.from_dict(t) for t in s.get("shipment_tax") or []],
            deposit_tax=[Tax.from_dict(t) for t in s.get("deposit_tax") or []],
            tax_codes={k: dict(v) for k, v in (s.get("tax_codes") or {}).items()},
            shipment_count=int(s.get("shipment_count", 0)),
            final_invoice_id=s.get("final_invoice_id") or None,
            final_billed=dec(s.get("final_billed", "0")),
            finalized_at=s.get("finalized_at") or None,
            created_token=s.get("created_token") or None,
            final_token=s.get("final_token") or None,
            created_by=actor_or_unknown(s.get("created_by")),
            change_order_count=int(s.get("change_order_count", 0)),
            reopen_count=int(s.get("reopen_count", 0)),
            voided_final_tokens=dict(s.get("voided_final_tokens") or {}),
            reopened_at=s.get("reopened_at") or None,
            event_count=int(s.get("event_count", 0)),
        )


@struct
class Record:
    """A progress billing record (R1): an amount, or a percent of the job total with its amount."""

    record_id: str
    kind: Kind
    job_id: str
    invoice_date: str
    title: str
    description: str
    item_description: str
    amount: Decimal
    percent: Decimal | None
    currency: str
    status: RecordStatus
    scheduled: bool
    created_at: str
    invoice_id: str | None = None
    failure_reason: str | None = None
    updated_at: str | None = None
    created_by: Actor = field(default_factory=lambda: actor_or_unknown(None))  # R20; records before it: unknown
    credit_note_id: str | None = None  # R14: the credit note that voided its deposit invoice

    def to_api(self) -> RecordDoc:
        return {
            "record_id": self.record_id,
            "kind": self.kind,
            "job_id": self.job_id,
            "invoice_date": self.invoice_date,
            "title": self.title,
            "description": self.description,
            "item_description": self.item_description,
            "amount": fmt(self.amount, self.currency),
            "percent": format(self.percent, "f") if self.percent is not None else None,
            "currency": self.currency,
            "status": self.status,
            "schedule": self.scheduled,
            "invoice_id": self.invoice_id,
            "failure_reason": self.failure_reason,
            "credit_note_id": self.credit_note_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
        }

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Record:
        return cls(
            record_id=d["record_id"],
            kind=Kind(d["kind"]),
            job_id=d["job_id"],
            invoice_date=d["invoice_date"],
            title=d.get("title", ""),
            description=d.get("description", ""),
            item_description=d.get("item_description", ""),
            amount=dec(d["amount"]),
            percent=dec(d["percent"]) if d.get("percent") is not None else None,
            currency=d["currency"],
            status=RecordStatus(d["status"]),
            scheduled=bool(d.get("schedule")),
            created_at=d.get("created_at", ""),
            invoice_id=d.get("invoice_id"),
            failure_reason=d.get("failure_reason"),
            updated_at=d.get("updated_at"),
            created_by=actor_or_unknown(d.get("created_by")),
            credit_note_id=d.get("credit_note_id"),
        )


def _accounts(values: dict[str, str]) -> AccountsDoc:
    return {
        "receivable": values["receivable"],
        "customer_deposits": values["customer_deposits"],
        "revenue": values["revenue"],
    }


@struct
class Settings:
    auto_invoice_on_shipment: bool = False
    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    account_names: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNT_NAMES))
    updated_at: str | None = None
    updated_by: Actor | None = None  # R20: the author of the last PUT (None before any)
    version: int = 0  # R20: 0 before any PUT, one more on each (the stored item is conditioned on it)
    tax_on_deposits: bool = False  # R16
    tax_codes: dict[str, TaxCodeDoc] = field(default_factory=dict)  # R16: code -> name, rate, account
    company: CompanyDoc = field(default_factory=lambda: _company({}))

    def account(self, key: str) -> tuple[str, str]:
        """The code and name of the account a setting key (``receivable``...) names now."""
        return self.accounts[key], self.account_names[key]

    def rate(self, code: str) -> Rate | None:
        """R16: a tax code as a line captures it now (None: no such code)."""
        tc = self.tax_codes.get(code)
        return None if tc is None else Rate(code, tc["name"], dec(tc["rate"]), tc["account"])

    def to_api(self) -> SettingsDoc:
        return {
            "auto_invoice_on_shipment": self.auto_invoice_on_shipment,
            "accounts": _accounts(self.accounts),
            "account_names": _accounts(self.account_names),
            "tax_on_deposits": self.tax_on_deposits,
            "tax_codes": {k: _tax_code(v) for k, v in self.tax_codes.items()},
            "company": _company(self.company),
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "version": self.version,
        }

    @classmethod
    def from_api(cls, d: dict[str, Any] | None) -> Settings:
        if not d:
            return cls()
        return cls(
            auto_invoice_on_shipment=bool(d.get("auto_invoice_on_shipment", False)),
            accounts={**DEFAULT_ACCOUNTS, **(d.get("accounts") or {})},
            account_names={**DEFAULT_ACCOUNT_NAMES, **(d.get("account_names") or {})},
            updated_at=d.get("updated_at"),
            # settings saved before R20 hold a plain name: read back as {"sub": "unknown", "username": name}
            updated_by=actor_or_unknown(d["updated_by"]) if d.get("updated_by") else None,
            version=int(d.get("version") or 0),
            tax_on_deposits=bool(d.get("tax_on_deposits", False)),
            tax_codes={k: _tax_code(v) for k, v in (d.get("tax_codes") or {}).items()},
            company=_company(d.get("company") or {}),
        )


def _tax_code(d: Any) -> TaxCodeDoc:
    return {"name": d["name"], "rate": d["rate"], "account": d["account"]}


def _company(d: Any) -> CompanyDoc:
    return {"name": d.get("name", ""), "address": d.get("address", ""), "tax_id": d.get("tax_id", "")}
