"""R18's pure parts: the date range check, the journal's CSV, JSON or CSV from format and Accept,
and the registers' keys."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from billing import registers
from billing.errors import ValidationFailed
from billing.store import Span
from billing.store.items import customer_invoice_key, date_bounds, entry_date_key, invoice_date_key, run_key


def entry(entry_id: str, lines: list[tuple[str, str, str, str]]) -> Any:
    return {
        "entry_id": entry_id, "date": "2026-12-01", "invoice_id": "INV-000001", "kind": "order", "job_id": "SO-1",
        "currency": "USD", "total_debit": "0", "total_credit": "0",
        "lines": [{"account": a, "account_name": n, "debit": d, "credit": c} for a, n, d, c in lines],
    }  # fmt: skip


def test_csv_has_the_header_and_one_row_per_line_with_the_json_strings():
    text = registers.journal_csv([
        entry("JE-000001", [("1200", "Accounts Receivable", "100.00", "0.00"), ("2400", "Deposits", "0.00", "100.00")]),
        entry("JE-000002", [("4000", 'Revenue, "net"\nline', "0.00", "5.00")]),
    ])  # fmt: skip
    assert text.startswith("entry_id,date,invoice_id,kind,job_id,account,account_name,currency,debit,credit\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["JE-000001", "2026-12-01", "INV-000001", "order", "SO-1", "1200", "Accounts Receivable",
                       "USD", "100.00", "0.00"]  # fmt: skip
    assert rows[3][6] == 'Revenue, "net"\nline' and len(rows) == 4
    assert '"Revenue, ""net""\nline"' in text  # RFC 4180 quoting


def test_csv_of_no_entries_is_the_header_alone():
    assert registers.journal_csv([]) == ",".join(registers.CSV_COLUMNS) + "\r\n"


@pytest.mark.parametrize(
    ("fmt", "accept", "csv_wanted"),
    [
        ("csv", None, True),
        ("csv", "application/json", True),
        ("json", "text/csv", False),
        (None, None, False),
        (None, "", False),
        (None, "text/csv", True),
        (None, "TEXT/CSV; charset=utf-8", True),
        (None, "text/csv;q=0.9, application/json;q=0.8", True),
        (None, "application/json;q=0.8, text/csv;q=0.9", True),
        (None, "text/csv, application/json", True),  # a tie: the one named first
        (None, "application/json, text/csv", False),
        (None, "*/*", False),
        (None, "text/*", False),  # a wildcard never makes CSV win
        (None, "text/csv;q=0", False),
        (None, "text/csv;q=0.5, */*;q=0.1", True),
        (None, "text/csv;q=0.1, */*", False),  # JSON by the wildcard, at a higher quality
        (None, "text/csv;q=nan", False),  # not a quality value: not acceptable
        (None, "text/csv;q=1.5", False),
        (None, ",,;", False),
    ],
)
def test_csv_or_json(fmt, accept, csv_wanted):
    assert registers.wants_csv(fmt, accept) is csv_wanted


def test_span_checks_each_date_and_their_order():
    assert registers.span(None, None) == Span()
    assert registers.span("2026-12-01", "2026-12-01") == Span("2026-12-01", "2026-12-01")
    for first, last, field in [("2026-12-02", "2026-12-01", "from"), ("2026-02-30", None, "from"),
                               (None, "2026-1-01", "to"), ("20261201", None, "from")]:  # fmt: skip
        with pytest.raises(ValidationFailed) as e:
            registers.span(first, last)
        assert e.value.details[0]["field"] == field


def test_span_holds_its_ends():
    span = Span("2026-12-01", "2026-12-31")
    assert span.holds("2026-12-01") and span.holds("2026-12-31")
    assert not span.holds("2026-11-30") and not span.holds("2027-01-01")
    assert Span().holds("0001-01-01") and Span(None, "2026-12-01").holds("2020-01-01")


def test_register_keys_sort_by_date_then_id_within_a_month_partition():
    assert invoice_date_key("2026-12-01", "INV-000009") == ("INVOICES#2026-12", "2026-12-01#INV-000009")
    assert entry_date_key("2026-12-01", "JE-000009") == ("ENTRIES#2026-12", "2026-12-01#JE-000009")
    assert customer_invoice_key("C-7", "2026-12-01", "INV-1") == ("CUSTOMER#C-7", "2026-12-01#INV-1")
    low, high = date_bounds("2026-12-01", "2026-12-31")
    inside = [invoice_date_key(d, "INV-999999")[1] for d in ("2026-12-01", "2026-12-31")]
    outside = [invoice_date_key(d, "INV-000001")[1] for d in ("2026-11-30", "2027-01-01")]
    assert all(low <= k <= high for k in inside) and not any(low <= k <= high for k in outside)
    assert invoice_date_key("2026-12-01", "INV-000010")[1] < invoice_date_key("2026-12-02", "INV-000002")[1]
    assert run_key("2026-12-01T06:00:00.000Z", "r1") < run_key("2026-12-01T06:00:01.000Z", "r0")
