"""What an invoice document shows (billing.layout, R18), without a PDF library: amounts as people read
them, the title by type, the deposits reversed, the voided mark, text any font can draw."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.layout import amount_text, clean, number_text, parse_amount_text, sheet, timestamp_text
from billing.money import MINOR_UNITS, fmt

COMPANY = {"name": "Northwind", "address": "1 Road\r\n\nTown\n", "tax_id": "GB1"}


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        ("2500.00", "USD", "2,500.00"),
        ("-2500.00", "USD", "-2,500.00"),
        ("33333", "JPY", "33,333"),
        ("999999999999.99", "EUR", "999,999,999,999.99"),
        ("1234.567", "KWD", "1,234.567"),
        ("0.00", "USD", "0.00"),
        ("-0.00", "USD", "0.00"),
        ("12.5", "USD", "12.50"),
    ],
)
def test_amounts_have_thousands_separators_and_the_minor_units_decimals(value, currency, shown):
    assert amount_text(value, currency) == shown


@given(
    st.sampled_from(sorted(MINOR_UNITS)),
    st.decimals(min_value=-(10**12) + 1, max_value=10**12 - 1, places=3, allow_nan=False, allow_infinity=False),
)
def test_an_amount_shown_reads_back_as_the_amount(currency, value):
    wire = fmt(value, currency)
    shown = amount_text(wire, currency)
    assert parse_amount_text(shown) == Decimal(wire)
    integer = shown.lstrip("-").split(".")[0]
    assert all(len(group) == 3 for group in integer.split(",")[1:]) and 1 <= len(integer.split(",")[0]) <= 3
    assert len(shown.partition(".")[2]) == MINOR_UNITS[currency]


def test_quantities_and_prices_keep_their_decimals():
    assert (number_text("1234.5678"), number_text("10"), number_text("-1"), number_text("0.0000")) == (
        "1,234.5678", "10", "-1", "0.0000")  # fmt: skip


def test_timestamps_are_shown_to_the_minute_in_utc():
    assert timestamp_text("2026-12-01T10:02:03.456Z") == "2026-12-01 10:02 UTC"
    assert timestamp_text("soon") == "soon"


def test_text_keeps_every_script_and_drops_what_no_font_draws():
    assert clean("Ωμέγα\tПривет\r\n日本\x00\x07\u200b\ufeff\U0010fffd\ue000😀") == "Ωμέγα Привет\n日本😀"
    assert clean(None) == ""


def invoice(**more: Any) -> dict[str, Any]:
    return {
        "invoice_id": "INV-000003", "number": "INV-000003", "type": "final", "status": "issued", "kind": "project",
        "job_id": "P-1", "customer_id": "C-7", "customer_name": "Acme", "invoice_date": "2026-12-01",
        "title": "Completion", "description": "", "currency": "USD", "subtotal": "6500.00",
        "tax": [{"code": "VAT20", "name": "VAT 20%", "rate": "20", "base": "10000.00", "amount": "2000.00",
                 "account": "2200"}],
        "total": "8500.00", "issued_at": "2026-12-01T09:00:00.000Z",
        "billing": {"job_total": "10000.00", "billed_before": "3500.00", "this_invoice": "6500.00",
                    "billed_to_date": "10000.00", "remaining": "0.00"},
        "lines": [
            {"code": "W", "description": "Widget", "quantity": "10", "unit_price": "1000.00", "amount": "10000.00"},
            {"code": "DEPOSIT", "description": "Less deposit invoice INV-000001 of 2026-11-01", "quantity": "1",
             "unit_price": "-2500.00", "amount": "-2500.00", "reverses_invoice_id": "INV-000001"},
            {"code": "DEPOSIT", "description": "Advance", "quantity": "1", "unit_price": "-1000.00",
             "amount": "-1000.00", "reverses_invoice_id": "INV-000002"},
        ],
        **more,
    }  # fmt: skip


def test_a_final_invoice_sheet():
    s = sheet(invoice(), COMPANY)  # type: ignore[arg-type]
    assert (s.title, s.number, s.filename) == ("Final invoice", "INV-000003", "INV-000003.pdf")
    assert s.seller == ["Northwind", "1 Road", "Town", "Tax ID: GB1"]
    assert s.bill_to == ["Acme", "Customer ID: C-7"]
    assert ("Job", "Project P-1") in s.facts and ("Issued at", "2026-12-01 09:00 UTC") in s.facts
    assert s.heading == ["Completion"]
    assert [r.cells() for r in s.rows] == [
        ("W", "Widget", "10", "1,000.00", "10,000.00"),
        ("DEPOSIT", "Less deposit invoice INV-000001 of 2026-11-01", "1", "-2,500.00", "-2,500.00"),
        ("DEPOSIT", "Advance (reverses INV-000002)", "1", "-1,000.00", "-1,000.00"),
    ]
    assert s.totals == [("Subtotal", "6,500.00 USD"), ("Tax", "2,000.00 USD"), ("Total", "8,500.00 USD")]
    assert s.taxes == [("VAT 20% (VAT20)", "20%", "10,000.00", "2,000.00")]
    assert s.billing[1] == ("Billed before", "3,500.00")
    assert s.notes == ["Reverses the deposit invoices INV-000001, INV-000002"]
    assert s.voided is None


def test_a_voided_invoice_and_a_credit_note_say_so():
    voided = sheet(invoice(status="voided", voided_by_invoice_id="INV-000004", void_reason="Wrong date",
                           voided_at="2026-12-02T08:30:00.000Z"), COMPANY)  # type: ignore[arg-type]  # fmt: skip
    assert voided.voided == "VOIDED by INV-000004 on 2026-12-02 08:30 UTC"
    assert "Void reason: Wrong date" in voided.notes
    note = sheet(invoice(type="credit_note", voids_invoice_id="INV-000003", voids_invoice_type="final",
                         reason="Wrong date", lines=[], tax=[]), {"name": "", "address": "", "tax_id": ""})  # type: ignore[arg-type]  # fmt: skip
    assert note.title == "Credit note"
    assert note.notes == ["Voids final invoice INV-000003", "Reason: Wrong date"]
    assert note.seller[0].startswith("(company name not set") and len(note.seller) == 1
    assert [t for t, _ in note.totals] == ["Subtotal", "Total"]


def test_a_percent_deposit_line_names_its_share():
    line = {"code": "DEPOSIT", "description": "Design", "quantity": "1", "unit_price": "2500.00",
            "amount": "2500.00", "percent": "25"}  # fmt: skip
    s = sheet(invoice(type="deposit", lines=[line], tax=[]), COMPANY)  # type: ignore[arg-type]
    assert s.title == "Deposit invoice"
    assert s.rows[0].description == "Design (25% of the job total)"
