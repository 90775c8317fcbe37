"""What an invoice document shows (R18, ``GET /invoices/{invoice_id}/pdf``), decided from the stored
invoice and the settings' ``company``: pure, no PDF library. ``functions/invoice_pdf`` draws a
``Sheet`` with its own PDF writer; nothing here knows about pages or fonts (docs/documents.md).

Amounts are shown for people: thousands separators and exactly the currency's minor-unit decimals
(``2,500.00``, JPY ``33,333``, ``-2,500.00``).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

from .documents import CompanyDoc, InvoiceDoc, InvoiceLine, InvoiceType
from .money import fmt, minor_unit
from .structs import field, struct

TITLES: dict[str, str] = {
    InvoiceType.DEPOSIT: "Deposit invoice",
    InvoiceType.SHIPMENT: "Invoice (shipment)",
    InvoiceType.FINAL: "Final invoice",
    InvoiceType.CREDIT_NOTE: "Credit note",
}
KIND_NAMES = {"order": "Order", "project": "Project"}
COLUMNS = ("Code", "Description", "Quantity", "Unit price", "Amount")
TAX_COLUMNS = ("Tax", "Rate", "Base", "Tax amount")


def amount_text(value: str | Decimal, currency: str) -> str:
    """``"2500.00"`` -> ``2,500.00``; JPY ``"33333"`` -> ``33,333``; never ``-0.00``."""
    wire = fmt(Decimal(value), currency)  # the minor unit's decimals, half-up, no negative zero
    return f"{Decimal(wire):,.{minor_unit(currency)}f}"


def number_text(value: str) -> str:
    """A quantity or unit price as stored (its own decimals), with thousands separators."""
    d = Decimal(value)
    return f"{abs(d) if d == 0 else d:,f}"


def timestamp_text(iso: str) -> str:
    """``2026-12-01T10:02:03.456Z`` -> ``2026-12-01 10:02 UTC`` (stored timestamps are UTC)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d).*Z", iso or "")
    return f"{m.group(1)} {m.group(2)} UTC" if m else clean(iso)


# Characters no font draws and no reader needs: control characters (other than line breaks, which
# split lines), unassigned code points, surrogates, private use, format characters.
_DROPPED = frozenset({"Cc", "Cs", "Cn", "Co", "Cf"})


def clean(text: Any) -> str:
    """Any text the API accepts, as a document shows it: tabs become spaces, ``\\r\\n`` becomes a
    line break, and characters that cannot be drawn are left out (the JSON invoice keeps them)."""
    s = str(text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in s if ch == "\n" or unicodedata.category(ch) not in _DROPPED)


@struct(frozen=True)
class Row:
    code: str
    description: str
    quantity: str
    unit_price: str
    amount: str

    def cells(self) -> tuple[str, str, str, str, str]:
        return (self.code, self.description, self.quantity, self.unit_price, self.amount)


@struct(frozen=True)
class Sheet:
    """Everything the document shows, as text, in the order it is drawn."""

    title: str  # by type: Deposit invoice, Invoice (shipment), Final invoice, Credit note
    number: str
    currency: str
    seller: list[str]  # name, address lines, tax id
    bill_to: list[str]  # customer name, customer id
    facts: list[tuple[str, str]]  # number, dates, job, status
    heading: list[str]  # the invoice's title and description
    rows: list[Row]
    totals: list[tuple[str, str]]  # subtotal, total (with the currency)
    taxes: list[tuple[str, str, str, str]]  # per code: name (code), rate, base, amount
    billing: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)  # deposits reversed; the invoice voided and why
    voided: str | None = None  # the mark on a voided invoice


def _line_description(line: InvoiceLine) -> str:
    text = clean(line.get("description"))
    percent = line.get("percent")
    if percent:  # R2: a percent deposit names its share of the job
        text += f" ({number_text(percent)}% of the job total)"
    reversed_id = line.get("reverses_invoice_id")
    if reversed_id and reversed_id not in text:  # R7: the deposit a final invoice reverses, named
        text += f" (reverses {reversed_id})"
    return text


def sheet(invoice: InvoiceDoc, company: CompanyDoc) -> Sheet:
    c = invoice["currency"]
    seller = [clean(company.get("name")) or "(company name not set: PUT /settings company)"]
    seller += [ln for ln in clean(company.get("address")).split("\n") if ln.strip()]
    if company.get("tax_id"):
        seller.append(f"Tax ID: {clean(company['tax_id'])}")
    kind = KIND_NAMES.get(str(invoice["kind"]), str(invoice["kind"]).title())
    facts = [
        ("Number", invoice["number"]),
        ("Invoice date", invoice["invoice_date"]),
        ("Issued at", timestamp_text(invoice["issued_at"])),
        ("Job", f"{kind} {invoice['job_id']}"),
        ("Currency", c),
    ]
    if invoice.get("record_id"):
        facts.append(("Progress billing", invoice["record_id"]))
    if invoice.get("shipment_id"):
        facts.append(("Shipment", invoice["shipment_id"]))
    rows = [
        Row(
            clean(ln.get("code")),
            _line_description(ln),
            number_text(ln["quantity"]),
            number_text(ln["unit_price"]),
            amount_text(ln["amount"], c),
        )
        for ln in invoice["lines"]
    ]
    taxes = [
        (f"{clean(t['name'])} ({clean(t['code'])})", f"{number_text(t['rate'])}%", amount_text(t["base"], c),
         amount_text(t["amount"], c))
        for t in invoice.get("tax") or []
    ]  # fmt: skip
    totals = [("Subtotal", f"{amount_text(invoice['subtotal'], c)} {c}")]
    if taxes:
        tax = sum((Decimal(t["amount"]) for t in invoice["tax"]), Decimal(0))
        totals.append(("Tax", f"{amount_text(tax, c)} {c}"))
    totals.append(("Total", f"{amount_text(invoice['total'], c)} {c}"))
    b = invoice["billing"]
    billing = [
        ("Job total", amount_text(b["job_total"], c)),
        ("Billed before", amount_text(b["billed_before"], c)),
        ("This invoice", amount_text(b["this_invoice"], c)),
        ("Billed to date", amount_text(b["billed_to_date"], c)),
        ("Remaining", amount_text(b["remaining"], c)),
    ]
    notes = []
    reversed_ids = [ln["reverses_invoice_id"] for ln in invoice["lines"] if ln.get("reverses_invoice_id")]
    if reversed_ids:
        notes.append("Reverses the deposit invoices " + ", ".join(reversed_ids))
    if invoice.get("voids_invoice_id"):
        voided_title = TITLES.get(str(invoice.get("voids_invoice_type") or ""), "invoice").lower()
        notes.append(f"Voids {voided_title} {invoice['voids_invoice_id']}")
        notes.append(f"Reason: {clean(invoice.get('reason'))}")
    voided = None
    if invoice.get("voided_by_invoice_id"):
        voided = f"VOIDED by {invoice['voided_by_invoice_id']} on {timestamp_text(invoice.get('voided_at') or '')}"
        notes.append(f"Void reason: {clean(invoice.get('void_reason'))}")
    return Sheet(
        title=TITLES.get(str(invoice["type"]), "Invoice"),
        number=invoice["number"],
        currency=c,
        seller=seller,
        bill_to=[clean(invoice["customer_name"]), f"Customer ID: {invoice['customer_id']}"],
        facts=facts,
        heading=[t for t in (clean(invoice.get("title")), clean(invoice.get("description"))) if t.strip()],
        rows=rows,
        totals=totals,
        taxes=taxes,
        billing=billing,
        notes=notes,
        voided=voided,
    )
