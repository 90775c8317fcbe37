"""Draws an invoice's ``billing.layout.Sheet`` as a PDF with fpdf2 (R18, docs/documents.md).

This function's own module: fpdf2 (with Pillow and fontTools) is in this function's requirements
only, so no other function loads it. Text is set in DejaVu Sans (``fonts/``, its licence beside it),
embedded and subset, with Droid Sans Fallback for Chinese and Japanese and NanumGothic for Korean,
so any Unicode text the API accepts can be drawn; a character no font has (emoji) is left out, never
an error. Long invoices break pages with the lines' header repeated and "Page n of m" in the footer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from billing.documents import CompanyDoc, InvoiceDoc
from billing.layout import COLUMNS, TAX_COLUMNS, Sheet, sheet

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
# Fallback fonts for what DejaVu Sans lacks, each loaded only for a document that has such text
# (name, file, the code point blocks it is loaded for): Chinese and Japanese (CJK radicals to CJK
# ideographs with kana and bopomofo, compatibility ideographs and forms, full-width forms, the
# supplementary ideographs); Korean (hangul jamo, compatibility jamo, syllables).
FALLBACKS = (
    ("DroidFallback", "DroidSansFallbackFull.ttf",
     ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))),
    ("NanumGothic", "NanumGothic.ttf", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
)  # fmt: skip
# fpdf2 logs each character its font lacks, quoting the text: customers' names stay out of the logs.
logging.getLogger("fpdf").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)  # "TSI0 NOT subset" for each Nanum subset: noise

GREY = (90, 90, 90)
RED = (180, 0, 0)
LINE_WIDTHS = (22, 68, 26, 32, 32)  # mm: code, description, quantity, unit price, amount (180 in all)
TAX_WIDTHS = (82, 22, 38, 38)
RIGHT = ("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT")


def fallbacks_for(*texts: str) -> list[tuple[str, str]]:
    """The fallback fonts (name, file) that some character of ``texts`` needs, in FALLBACKS' order."""
    wide = {ord(ch) for text in texts for ch in text if ord(ch) >= 0x1100}
    return [(name, file) for name, file, blocks in FALLBACKS if any(lo <= c <= hi for c in wide for lo, hi in blocks)]


class _Document(FPDF):
    def __init__(self, page: Sheet, fallbacks: list[tuple[str, str]] | None = None) -> None:
        super().__init__(format="A4", unit="mm")
        self.page_info = page
        self.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        for name, file in fallbacks or []:  # each parse costs ~0.1 s; no bold: regular for both styles
            for style in ("", "B"):
                self.add_font(name, style, str(FONTS / file))
        if fallbacks:
            self.set_fallback_fonts([name for name, _ in fallbacks])
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"{page.title} {page.number}")
        self.set_author(page.seller[0])
        self.set_creator("progress-billing")

    # After a fallback font drew some characters, fpdf2 keeps it as the current font and skips a
    # set_font that names the family, style and size already set: the next text is then encoded for
    # the wrong font. So the font asked for is selected again before each text is drawn.
    def set_font(self, family: str | None = None, style: Any = "", size: float = 0) -> None:
        self.font_family = ""
        super().set_font(family, style, size)
        self._wanted = (self.font_family, self.font_style, self.font_size_pt)

    def cell(self, *args: Any, **kwargs: Any) -> Any:
        self.set_font(*self._wanted)
        return super().cell(*args, **kwargs)

    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        self.set_font(*self._wanted)
        return super().multi_cell(*args, **kwargs)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        p = self.page_info
        self.cell(0, 5, f"{p.title} {p.number}", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def render(invoice: InvoiceDoc, company: CompanyDoc) -> bytes:
    """The PDF of ``invoice`` issued by ``company`` (``billing.routes.Render``)."""
    texts = (json.dumps(invoice, ensure_ascii=False), *company.values())
    return draw(sheet(invoice, company), fallbacks_for(*texts))


def draw(page: Sheet, fallbacks: list[tuple[str, str]] | None = None) -> bytes:
    pdf = _Document(page, fallbacks)
    pdf.add_page()
    _header(pdf, page)
    _parties(pdf, page)
    if page.heading:
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(0, 5, page.heading[0], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 9)
        for text in page.heading[1:]:
            pdf.multi_cell(0, 4.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
    _table(pdf, COLUMNS, [r.cells() for r in page.rows], LINE_WIDTHS, RIGHT)
    pdf.ln(2)
    _pairs(pdf, page.totals, bold_last=True)
    if page.taxes:
        pdf.ln(2)
        _table(pdf, TAX_COLUMNS, page.taxes, TAX_WIDTHS, ("LEFT", "RIGHT", "RIGHT", "RIGHT"))
    pdf.ln(3)
    _section(pdf, f"Billing ({page.currency})")
    _pairs(pdf, page.billing)
    if page.notes:
        pdf.ln(3)
        pdf.set_font(FONT, "", 9)
        for note in page.notes:
            pdf.multi_cell(0, 4.5, note, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _header(pdf: FPDF, page: Sheet) -> None:
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(100, 5.5, page.seller[0], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    for text in page.seller[1:]:
        pdf.multi_cell(100, 4.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    seller_bottom = pdf.get_y()
    pdf.set_xy(120, top)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(75, 8, page.title, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    pdf.cell(75, 6, page.number, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    if page.voided:
        pdf.set_font(FONT, "B", 11)
        pdf.set_text_color(*RED)
        pdf.multi_cell(75, 5.5, page.voided, border=1, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 6)


def _parties(pdf: FPDF, page: Sheet) -> None:
    top = pdf.get_y()
    _section(pdf, "Bill to", width=100)
    pdf.set_font(FONT, "", 9)
    for text in page.bill_to:
        pdf.multi_cell(100, 4.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    for label, value in page.facts:
        pdf.set_x(120)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*GREY)
        pdf.cell(30, 4.5, label)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(45, 4.5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 5)


def _section(pdf: FPDF, title: str, width: float = 0) -> None:
    pdf.set_font(FONT, "B", 9)
    pdf.cell(width, 5.5, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, columns: tuple[str, ...], rows: Any, widths: tuple[int, ...], align: tuple[str, ...]) -> None:
    """A table whose header row is repeated on every page it runs onto."""
    pdf.set_font(FONT, "", 8.5)
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        text_align=align,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
        line_height=4.5,
        align="LEFT",
    ) as table:
        table.row(columns)
        for cells in rows:
            table.row(cells)


def _pairs(pdf: FPDF, pairs: list[tuple[str, str]], bold_last: bool = False) -> None:
    """Label and value, right-aligned against the table's right edge."""
    for i, (label, value) in enumerate(pairs):
        bold = bold_last and i == len(pairs) - 1
        pdf.set_font(FONT, "B" if bold else "", 9.5 if bold else 9)
        pdf.set_x(105)
        pdf.cell(40, 5, label)
        pdf.cell(50, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
