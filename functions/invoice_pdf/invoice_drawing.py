"""Draws an invoice's ``billing.layout.Sheet`` as a PDF (R18, docs/documents.md).

This function's own modules (``pdfdoc``, ``truetype``: the standard library only), so the cold
start loads no PDF library. Text is set in DejaVu Sans (``fonts/``, its licence beside it), embedded
and subset, with Droid Sans Fallback for Chinese and Japanese and NanumGothic for Korean, so any
Unicode text the API accepts can be drawn; a character no font has is left out, never an error.
Long invoices break pages with the lines' header repeated and "Page n of m" in the footer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pdfdoc import Document, Table
from truetype import Font

from billing.documents import CompanyDoc, InvoiceDoc
from billing.layout import COLUMNS, TAX_COLUMNS, Sheet, sheet

FONTS = Path(__file__).resolve().parent / "fonts"
MAIN = {"": "DejaVuSans", "B": "DejaVuSans-Bold"}  # by style: the file (.ttf) and its PostScript name
# Fallback fonts for what DejaVu Sans lacks, each loaded only for a document that has such text
# (name, the code point blocks it is loaded for): Chinese and Japanese (CJK radicals to CJK
# ideographs with kana and bopomofo, compatibility ideographs and forms, full-width forms, the
# supplementary ideographs); Korean (hangul jamo, compatibility jamo, syllables). Regular only: a
# bold heading in these scripts is set in the regular weight.
FALLBACKS = (
    ("DroidSansFallbackFull",
     ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))),
    ("NanumGothic", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
)  # fmt: skip

GREY = (90, 90, 90)
RED = (180, 0, 0)
LINES = Table(widths=(22, 68, 26, 32, 32), align=("L", "L", "R", "R", "R"))  # mm: 180 in all
TAXES = Table(widths=(82, 22, 38, 38), align=("L", "R", "R", "R"))


def fallbacks_for(*texts: str) -> list[str]:
    """The fallback fonts that some character of ``texts`` needs, in FALLBACKS' order."""
    wide = {ord(ch) for text in texts for ch in text if ord(ch) >= 0x1100}
    return [name for name, blocks in FALLBACKS if any(lo <= c <= hi for c in wide for lo, hi in blocks)]


def render(invoice: InvoiceDoc, company: CompanyDoc) -> bytes:
    """The PDF of ``invoice`` issued by ``company`` (``billing.routes.Render``)."""
    texts = (json.dumps(invoice, ensure_ascii=False), *(str(v) for v in company.values()))
    return draw(sheet(invoice, company), fallbacks_for(*texts), issued_at=invoice.get("issued_at", ""))


def draw(page: Sheet, fallbacks: list[str] | None = None, issued_at: str = "") -> bytes:
    """The PDF of ``page``; its creation date is the invoice's issue time (the same invoice, the
    same bytes, whenever it is fetched)."""
    pdf = Document(
        {style: Font(FONTS / f"{name}.ttf", name) for style, name in MAIN.items()},
        [Font(FONTS / f"{name}.ttf", name) for name in fallbacks or []],
    )
    pdf.info = {"Title": f"{page.title} {page.number}", "Author": page.seller[0], "Creator": "progress-billing"}
    digits = re.sub(r"\D", "", issued_at)[:14]  # 2026-12-01T10:02:03.456Z -> 20261201100203
    if len(digits) == 14:
        pdf.info["CreationDate"] = f"D:{digits}Z"
    pdf.footer = lambda doc, n, count: _footer(doc, page, n, count)
    pdf.add_page()
    _header(pdf, page)
    _parties(pdf, page)
    if page.heading:
        pdf.set_font("B", 10)
        pdf.multi_cell(0, 5, page.heading[0])
        pdf.set_font("", 9)
        for text in page.heading[1:]:
            pdf.multi_cell(0, 4.5, text)
        pdf.ln(3)
    pdf.table(LINES, COLUMNS, [r.cells() for r in page.rows])
    pdf.ln(2)
    _pairs(pdf, page.totals, bold_last=True)
    if page.taxes:
        pdf.ln(2)
        pdf.table(TAXES, TAX_COLUMNS, page.taxes)
    pdf.ln(3)
    _section(pdf, f"Billing ({page.currency})")
    _pairs(pdf, page.billing)
    if page.notes:
        pdf.ln(3)
        pdf.set_font("", 9)
        for note in page.notes:
            pdf.multi_cell(0, 4.5, note)
    return pdf.output()


def _footer(pdf: Document, page: Sheet, n: int, count: int) -> None:
    pdf.set_xy(pdf.l_margin, -13 + 297)
    pdf.set_font("", 8)
    pdf.set_text_color(GREY)
    pdf.cell(0, 5, f"{page.title} {page.number}")
    pdf.set_xy(pdf.l_margin, -13 + 297)
    pdf.cell(0, 5, f"Page {n} of {count}", align="R")
    pdf.set_text_color((0, 0, 0))


def _header(pdf: Document, page: Sheet) -> None:
    top = pdf.y
    pdf.set_font("B", 11)
    pdf.multi_cell(100, 5.5, page.seller[0])
    pdf.set_font("", 9)
    for text in page.seller[1:]:
        pdf.multi_cell(100, 4.5, text)
    seller_bottom = pdf.y
    pdf.set_xy(120, top)
    pdf.set_font("B", 16)
    pdf.cell(75, 8, page.title, align="R", then="below")
    pdf.set_font("", 11)
    pdf.cell(75, 6, page.number, align="R", then="below")
    if page.voided:
        pdf.set_font("B", 11)
        pdf.set_text_color(RED)
        pdf.multi_cell(75, 5.5, page.voided, align="C", then="below", border=True)
        pdf.set_text_color((0, 0, 0))
    pdf.set_xy(pdf.l_margin, max(seller_bottom, pdf.y) + 6)


def _parties(pdf: Document, page: Sheet) -> None:
    top = pdf.y
    _section(pdf, "Bill to", width=100)
    pdf.set_font("", 9)
    for text in page.bill_to:
        pdf.multi_cell(100, 4.5, text)
    left_bottom = pdf.y
    pdf.y = top
    for label, value in page.facts:
        pdf.x = 120
        pdf.set_font("", 9)
        pdf.set_text_color(GREY)
        pdf.cell(30, 4.5, label)
        pdf.set_text_color((0, 0, 0))
        pdf.multi_cell(45, 4.5, value, align="R")
    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.y) + 5)


def _section(pdf: Document, title: str, width: float = 0) -> None:
    pdf.set_font("B", 9)
    pdf.cell(width, 5.5, title, then="next")


def _pairs(pdf: Document, pairs: list[tuple[str, str]], bold_last: bool = False) -> None:
    """Label and value, right-aligned against the table's right edge."""
    for i, (label, value) in enumerate(pairs):
        bold = bold_last and i == len(pairs) - 1
        pdf.set_font("B" if bold else "", 9.5 if bold else 9)
        pdf.x = 105
        pdf.cell(40, 5, label)
        pdf.cell(50, 5, value, align="R", then="next")
