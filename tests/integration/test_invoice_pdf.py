"""R18 ``GET /invoices/{invoice_id}/pdf`` through the handlers: every type of invoice as a PDF a
reader can parse (pypdf), showing the issuer, the customer, the number, each line, the tax, the
totals and the billing block as people read amounts; the largest final invoice on several pages;
any Unicode the API accepts; the same checks and errors as every route (docs/documents.md)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pypdf
import pytest

from billing import limits as L
from local.fixtures import READER, job_line, order_body, ship, shipment_message
from local.metering import meter
from tests.integration.test_bounds import _at_the_limits_but_one, wide

COMPANY = {
    "name": "Northwind Builders Ltd",
    "address": "12 Harbour Road\nSuite 4\nBristol BS1 4DJ",
    "tax_id": "GB 123 4567 89",
}
VAT20 = {"name": "VAT 20%", "rate": "20", "account": "2200"}
VAT5 = {"name": "VAT 5%", "rate": "5", "account": "2205"}


class Document:
    """A PDF answer, parsed: its pages' text (whitespace collapsed) and its page count."""

    def __init__(self, content: bytes) -> None:
        reader = pypdf.PdfReader(io.BytesIO(content))
        self.pages = [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]
        self.text = " ".join(self.pages)

    def shows(self, *texts: str) -> bool:
        missing = [t for t in texts if t not in self.text]
        assert not missing, f"not in the PDF: {missing}\n{self.text[:3000]}"
        return True


def pdf(client: Any, invoice: dict[str, Any], **kw: Any) -> Document:
    r = client.get(f"/invoices/{invoice['invoice_id']}/pdf", **kw)
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    return Document(r.content)


def ok(response: Any, status: int = 201) -> Any:
    assert response.status == status, response.body
    return response.json()


@pytest.fixture
def company(client):
    ok(client.put("/settings", {"company": COMPANY}), 200)
    return client


def deposit(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    invoice: dict[str, Any] = ok(client.post(f"{path}/progress-billings", body))["invoice"]
    return invoice


def test_a_deposit_invoice_shows_issuer_customer_line_totals_and_billing(company):
    ok(company.post("/orders", order_body(lines=[job_line("1", "10", "1000.00")])))
    texts = {"title": "Milestone 1", "description": "Foundations poured", "item_description": "Foundations"}
    invoice = deposit(company, "/orders/SO-1001", {"amount": "2500.00", **texts})
    doc = pdf(company, invoice)
    assert doc.shows(
        "Deposit invoice", invoice["number"], "Northwind Builders Ltd", "12 Harbour Road", "Suite 4",
        "Bristol BS1 4DJ", "Tax ID: GB 123 4567 89", "Bill to", "Acme", "Customer ID: C-7",
        f"Invoice date {invoice['invoice_date']}", "Issued at", "Job Order SO-1001", "Milestone 1",
        "Foundations poured", "DEPOSIT Foundations 1 2,500.00 2,500.00", "Subtotal 2,500.00 USD",
        "Total 2,500.00 USD", "Job total 10,000.00", "Billed before 0.00", "This invoice 2,500.00",
        "Billed to date 2,500.00", "Remaining 7,500.00", "Page 1 of 1",
    )  # fmt: skip
    assert "Tax amount" not in doc.text and "VOIDED" not in doc.text  # no tax table, not voided


def test_a_percent_deposit_names_its_share_and_a_reader_may_fetch_it(company):
    ok(company.post("/projects", order_body("PRJ-1", lines=[job_line("1", "3", "33333.33")])))
    invoice = deposit(company, "/projects/PRJ-1", {"percent": "12.5", "item_description": "Design stage"})
    doc = pdf(company, invoice, claims=READER)  # R20: any signed-in user reads
    assert doc.shows("Job Project PRJ-1", "Design stage (12.5% of the job total)", "12,500.00",
                     "Job total 99,999.99", "Remaining 87,499.99")  # fmt: skip


def test_amounts_have_the_currencys_minor_unit_jpy_none(company):
    ok(company.post("/orders", order_body("JP-1", currency="JPY", lines=[job_line("1", "3", "33333")])))
    invoice = deposit(company, "/orders/JP-1", {"amount": "33333", "item_description": "Advance"})
    assert pdf(company, invoice).shows("DEPOSIT Advance 1 33,333 33,333", "Total 33,333 JPY", "Job total 99,999")


def test_a_shipment_invoice_bills_the_shipped_lines(company):
    ok(company.put("/settings", {"auto_invoice_on_shipment": True}), 200)
    ok(company.post("/orders", order_body(lines=[job_line("1", "10", "1234.50", "BOLT", "Steel bolts"),
                                                 job_line("2", "4", "99.99", "NUT", "Brass nuts")])))  # fmt: skip
    ship(shipment_message("SH-1", lines=[{"line_id": "1", "quantity": "2"}, {"line_id": "2", "quantity": "4"}]))
    (invoice,) = ok(company.get("/orders/SO-1001/invoices"), 200)["items"]
    assert pdf(company, invoice).shows(
        "Invoice (shipment)", "Shipment SH-1", "BOLT Steel bolts 2 1,234.50 2,469.00", "NUT Brass nuts 4 99.99 399.96",
        "Subtotal 2,868.96 USD", "Total 2,868.96 USD",
    )  # fmt: skip


@pytest.fixture
def finalized(company):
    """An order of 10,000.00 with two deposits (2,500.00 and 1,000.00), then its final invoice."""
    ok(company.post("/orders", order_body(lines=[job_line("1", "10", "1000.00", "WIDGET", "Widget")])))
    deposits = [deposit(company, "/orders/SO-1001", {"amount": a}) for a in ("2500.00", "1000.00")]
    final = ok(company.post("/orders/SO-1001/final-invoice", {"title": "Completion"}))["invoice"]
    return company, deposits, final


def test_a_final_invoice_lists_the_deposits_it_reverses(finalized):
    client, deposits, final = finalized
    first, second = (d["number"] for d in deposits)
    assert pdf(client, final).shows(
        "Final invoice", final["number"], "Completion", "WIDGET Widget 10 1,000.00 10,000.00",
        f"DEPOSIT Less deposit invoice {first} of {deposits[0]['invoice_date']} 1 -2,500.00 -2,500.00",
        f"DEPOSIT Less deposit invoice {second} of {deposits[1]['invoice_date']} 1 -1,000.00 -1,000.00",
        "Subtotal 6,500.00 USD", "Total 6,500.00 USD", f"Reverses the deposit invoices {first}, {second}",
        "Billed before 3,500.00",
    )  # fmt: skip


def test_a_credit_note_of_a_final_names_the_invoice_it_voids_and_the_original_is_marked_voided(finalized):
    client, _, final = finalized
    voided = ok(client.post(f"/invoices/{final['invoice_id']}/void", {"reason": "Wrong completion date"}))
    note = voided["credit_note"]
    assert pdf(client, note).shows(
        "Credit note", note["number"], f"Voids final invoice {final['number']}", "Reason: Wrong completion date",
        "-10,000.00", "Total -6,500.00 USD",
    )  # fmt: skip
    original = pdf(client, final)
    assert original.shows(
        f"VOIDED by {note['number']} on {note['issued_at'][:10]}", "Void reason: Wrong completion date"
    )
    assert original.shows("Total 6,500.00 USD")  # the original keeps every figure (R14)


def test_a_credit_note_of_a_deposit(company):
    ok(company.post("/orders", order_body()))
    invoice = deposit(company, "/orders/SO-1001", {"amount": "250.00", "item_description": "Mobilisation"})
    note = ok(company.post(f"/invoices/{invoice['invoice_id']}/void", {"reason": "Duplicate"}))["credit_note"]
    assert pdf(company, note).shows(f"Voids deposit invoice {invoice['number']}", "Reason: Duplicate",
                                    "DEPOSIT Mobilisation -1 250.00 -250.00", "Total -250.00 USD")  # fmt: skip
    assert pdf(company, invoice).shows(f"VOIDED by {note['number']}")


def test_a_taxed_invoice_shows_each_codes_name_rate_base_and_amount(company):
    ok(company.put("/settings", {"tax_codes": {"VAT20": VAT20, "VAT5": VAT5}, "auto_invoice_on_shipment": True}), 200)
    lines = [{**job_line("1", "2", "1000.00", "A", "Labour"), "tax_code": "VAT20"},
             {**job_line("2", "3", "333.33", "B", "Materials"), "tax_code": "VAT5"}]  # fmt: skip
    ok(company.post("/orders", order_body(lines=lines)))
    final = ok(company.post("/orders/SO-1001/final-invoice"))["invoice"]
    tax = {t["code"]: t for t in final["tax"]}
    assert (tax["VAT20"]["amount"], tax["VAT5"]["amount"]) == ("400.00", "50.00")
    assert pdf(company, final).shows(
        "Subtotal 2,999.99 USD", "VAT 20% (VAT20) 20% 2,000.00 400.00", "VAT 5% (VAT5) 5% 999.99 50.00",
        "Tax 450.00 USD", "Total 3,449.99 USD",
    )  # fmt: skip


def test_any_unicode_the_api_accepts_is_drawn_or_left_out_never_a_failure(company):
    name = "Αθηνά Παπαδοπούλου & Сергей Иванов"
    mixed = "Ünïcødé Ελληνικά Кириллица עברית العربية 日本語 株式会社 😀 e\u0301 \u200b\tTab\x00\x7f\ufeff"
    issuer = {"name": "Ångström ΑΕ Ωμέγα", "address": "Straße 1\r\nКиев", "tax_id": "ΑΦΜ 1"}
    ok(company.put("/settings", {"company": issuer}), 200)
    body = {**order_body(lines=[job_line("1", "1", "10.00", wide(L.ITEM_CODE_MAX), mixed)]), "customer_name": name}
    ok(company.post("/orders", body))
    texts = {"title": wide(L.TEXT_MAX, 1), "description": mixed + wide(L.LONG_TEXT_MAX - 100, 2),
             "item_description": "Προκαταβολή " + wide(L.TEXT_MAX - 20, 3)}  # fmt: skip
    invoice = deposit(company, "/orders/SO-1001", {"amount": "5.00", **texts})
    final = ok(company.post("/orders/SO-1001/final-invoice", {"description": wide(L.LONG_TEXT_MAX, 4)}))["invoice"]
    for doc in (pdf(company, invoice), pdf(company, final)):
        assert doc.shows(name, "Ångström ΑΕ Ωμέγα", "Straße 1", "Киев", "ΑΦΜ 1")
    assert pdf(company, invoice).shows("Ünïcødé Ελληνικά Кириллица", "Προκαταβολή", "日本語 株式会社")


def test_japanese_chinese_and_korean_names_are_drawn(company):
    """A JPY customer's invoice names them as they are written (the fallback font, only when needed)."""
    ok(
        company.put(
            "/settings", {"company": {"name": "株式会社サンプル", "address": "東京都千代田区1-1", "tax_id": "T1234"}}
        ),
        200,
    )
    body = {**order_body(currency="JPY", lines=[job_line("1", "3", "10000", "KOJI", "基礎工事")]),
            "customer_name": "山田建設 · 삼성건설 · 北京建工"}  # fmt: skip
    ok(company.post("/orders", body))
    invoice = deposit(company, "/orders/SO-1001", {"amount": "10000", "title": "着手金"})
    shown = ("株式会社サンプル", "東京都千代田区1-1", "山田建設 · 삼성건설 · 北京建工", "Customer ID: C-7", "着手金",
             "10,000 JPY")  # fmt: skip
    assert pdf(company, invoice).shows(*shown)  # and the Latin text after them is not garbled


def test_without_company_settings_the_document_says_what_to_set(client):
    ok(client.post("/orders", order_body()))
    invoice = deposit(client, "/orders/SO-1001", {"amount": "1.00"})
    assert pdf(client, invoice).shows("company name not set", "Acme")


def longest_final(client: Any) -> dict[str, Any]:
    """The most lines a final invoice can have (docs/limits.md): 200 job lines of the longest
    descriptions (words, so that they wrap) and 200 deposits reversed."""
    words = "Reinforced concrete slab, formwork and finishing of level "
    lines = [
        job_line(
            f"L{i:03d}", "3", "1234.5678", f"ITEM-{i:03d}", f"L{i:03d} " + (words * 4)[: L.LINE_DESCRIPTION_MAX - 5]
        )
        for i in range(L.LINES_PER_JOB)
    ]
    ok(client.post("/orders", order_body("BIG", lines=lines)))
    _at_the_limits_but_one("BIG", {"title": "t", "description": "d", "item_description": "i"}, amount="100.00")
    deposit(client, "/orders/BIG", {"amount": "100.00"})
    final: dict[str, Any] = ok(client.post("/orders/BIG/final-invoice", {"description": words * 60}))["invoice"]
    assert len(final["lines"]) == L.LINES_PER_JOB + L.DEPOSITS_PER_JOB
    return final


def test_the_largest_final_invoice_runs_over_pages_with_every_line_and_the_header_on_each(company):
    final = longest_final(company)
    doc = pdf(company, final)
    assert len(doc.pages) >= 10
    for n, page in enumerate(doc.pages, 1):
        assert f"Page {n} of {len(doc.pages)}" in page
    line_pages = [p for p in doc.pages if "ITEM-" in p or "Less deposit invoice" in p]
    assert len(line_pages) >= 8 and all("Code Description Quantity Unit price Amount" in p for p in line_pages)
    amounts = [ln["amount"] for ln in final["lines"]]
    assert set(amounts) == {"3703.70", "-100.00"}
    assert doc.text.count("3,703.70") == L.LINES_PER_JOB and doc.text.count("1 -100.00 -100.00") == L.DEPOSITS_PER_JOB
    for i in range(L.LINES_PER_JOB):
        assert f"ITEM-{i:03d} L{i:03d} Reinforced" in doc.text
    for ln in final["lines"][L.LINES_PER_JOB :]:
        assert f"Less deposit invoice {ln['reverses_invoice_id']} of" in doc.text
    total = Decimal("3703.70") * L.LINES_PER_JOB - 100 * L.DEPOSITS_PER_JOB
    assert doc.shows(f"Total {total:,.2f} USD")


def test_the_document_reads_the_invoice_and_the_settings_in_one_call(company):
    ok(company.post("/orders", order_body()))
    invoice = deposit(company, "/orders/SO-1001", {"amount": "1.00"})
    with meter() as m:
        pdf(company, invoice)
    assert (m.operations(), m.items_read) == (["BatchGetItem"], 2)


def test_errors_are_the_apis_own_401_404_422(client):
    r = client.get("/invoices/INV-000001/pdf", claims=None)
    assert (r.status, r.json()["error"]["code"]) == (401, "UNAUTHORIZED")
    r = client.get("/invoices/INV-999999/pdf")
    assert (r.status, r.json()["error"]["code"], r.headers["content-type"]) == (404, "NOT_FOUND", "application/json")
    r = client.get("/invoices/" + "I" * 65 + "/pdf")
    assert (r.status, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR")
    assert [d["field"] for d in r.json()["error"]["details"]] == ["invoice_id"]
    r = client.get("/invoices/INV%20000001/pdf")
    assert [d["field"] for d in r.json()["error"]["details"]] == ["invoice_id"]


def test_the_longest_ids_and_words_without_spaces_wrap_inside_their_columns(company):
    job_id, customer_id = "J" * L.ID_MAX, "C" * L.ID_MAX
    line = job_line("W" * L.ID_MAX, "999999999.9999", "0.0001", "W" * L.ITEM_CODE_MAX, "W" * L.LINE_DESCRIPTION_MAX)
    ok(company.post("/projects", {**order_body(job_id, lines=[line]), "customer_id": customer_id,
                                  "customer_name": "M" * L.CUSTOMER_NAME_MAX}))  # fmt: skip
    invoice = deposit(company, f"/projects/{job_id}", {"amount": "1.00", "item_description": "D" * L.TEXT_MAX})
    final = ok(company.post(f"/projects/{job_id}/final-invoice", {"title": "T" * L.TEXT_MAX}))["invoice"]
    for doc in (pdf(company, invoice), pdf(company, final)):  # all of each, wrapped or not
        assert re.sub(r"\s", "", doc.text).count("C" * L.ID_MAX) == 1
    assert "999,999,999.99990.0001100,000.00" in re.sub(r"\s", "", pdf(company, final).text)
