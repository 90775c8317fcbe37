"""The PDF function's own writer (R18, docs/documents.md): ``truetype`` reads each font as fontTools
does and subsets it to outlines fontTools reads back unchanged; ``pdfdoc`` wraps text inside its
width without losing a character (property-based), and writes documents pypdf reads: text as
written, fonts embedded as subsets, the footer's page count, a table's header on every page."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pypdf
import pytest
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "invoice_pdf"
if str(FUNCTION) not in sys.path:
    sys.path.append(str(FUNCTION))  # as the local runner puts it, last (Lambda's /var/task)

from pdfdoc import Document, K, Table  # noqa: E402
from truetype import Font  # noqa: E402

FONTS = FUNCTION / "fonts"
FILES = ("DejaVuSans", "DejaVuSans-Bold", "DroidSansFallbackFull", "NanumGothic")


@pytest.fixture(scope="module", params=FILES)
def pair(request):
    """One font file as ``truetype`` reads it and as fontTools does."""
    return Font(FONTS / f"{request.param}.ttf", request.param), TTFont(FONTS / f"{request.param}.ttf")


def test_every_character_maps_to_the_glyph_and_width_fonttools_reads(pair):
    font, ref = pair
    order, metrics = ref.getGlyphOrder(), ref["hmtx"]
    cmap = ref.getBestCmap()
    wrong = [(hex(c), name) for c, name in cmap.items() if order[font.glyph(chr(c))] != name]
    assert wrong == []
    assert [c for c, name in cmap.items() if font.advance(font.glyph(chr(c))) != metrics[name][0]] == []
    missing = next(c for c in range(0x3400, 0x10FFFF) if c not in cmap)
    assert font.glyph(chr(missing)) == 0  # no glyph: the writer looks in the next font


def test_a_subset_holds_the_used_glyphs_and_their_components_with_the_same_outlines(pair, tmp_path):
    font, ref = pair
    cmap = ref.getBestCmap()
    text = [chr(c) for c in sorted(cmap)[::97]]  # a spread over the whole font, composites included
    ids = [font.use(ch) for ch in text]
    assert ids == sorted(set(ids)) and ids[0] == 1  # numbered from 1 by first use
    (tmp_path / "subset.ttf").write_bytes(font.subset())
    sub = TTFont(tmp_path / "subset.ttf")
    assert sub["maxp"].numGlyphs >= len(ids) + 1 and sub["hhea"].numberOfHMetrics == sub["maxp"].numGlyphs
    glyf, ref_glyf = sub["glyf"], ref["glyf"]
    composites = 0
    for ch, gid in zip(text, ids, strict=True):
        name, new = cmap[ord(ch)], sub.getGlyphOrder()[gid]
        assert sub["hmtx"][new][0] == ref["hmtx"][name][0]
        mine, theirs = glyf[new], ref_glyf[name]
        composites += theirs.isComposite()
        coords, _, _ = mine.getCoordinates(glyf)  # components resolved through the renumbered ids
        ref_coords, _, _ = theirs.getCoordinates(ref_glyf)
        assert list(coords) == list(ref_coords), ch
    assert composites or "Droid" in font.name or "Nanum" in font.name  # DejaVu's accented letters are composites


def document(**kw):
    regular, bold = (Font(FONTS / f"{n}.ttf", n) for n in ("DejaVuSans", "DejaVuSans-Bold"))
    return Document({"": regular, "B": bold}, **kw)


def pages_text(content: bytes) -> list[str]:
    return [re.sub(r"\s+", " ", p.extract_text()) for p in pypdf.PdfReader(io.BytesIO(content)).pages]


TEXT = st.text(st.sampled_from("ab Wi-.,\u00e9\u0416\u05d0\u65e5\U0001f600\u0301\n") | st.characters(), max_size=120)


@settings(max_examples=150, deadline=None)
@given(text=TEXT, width=st.floats(1, 120), size=st.sampled_from([6.0, 8.5, 16.0]))
def test_wrapped_lines_fit_their_width_and_keep_every_drawable_character_in_order(text, width, size):
    pdf = document()
    pdf.set_font("", size)
    lines = pdf.lines(text, width)
    for line in lines:
        # only a single character wider than the width may overflow it (a no-break space is one: never dropped)
        assert pdf.width(line) <= width + 1e-9 or len(line.strip(" ")) == 1, (line, width)
    drawable = "".join(ch for ch in text if ch not in " \n" and pdf._face(ch))
    assert "".join(ch for line in lines for ch in line if ch != " ") == drawable
    assert len(lines) >= text.count("\n") + 1  # a line break always starts a new line


def test_lines_break_at_spaces_then_after_hyphens_then_inside_a_word():
    pdf = document()
    pdf.set_font("", 10)
    one = pdf.width("Invoice")
    assert pdf.lines("Invoice Invoice", one * 1.5) == ["Invoice", "Invoice"]
    assert pdf.lines("PB-2026-x", pdf.width("PB-2026-")) == ["PB-2026-", "x"]
    assert pdf.lines("of 2026-12-03", pdf.width("of 2026-12-03") - 0.1) == ["of", "2026-12-03"]  # a date stays whole
    assert pdf.lines("WWWWWW", pdf.width("WW")) == ["WW", "WW", "WW"]
    # a hyphen before the last space still breaks the word after it; leading spaces make no line;
    # a combining accent stays on its letter's line
    wide = pdf.width("PB-20261203T1010-")
    assert pdf.lines("see PB-20261203T1010-7f94", wide) == ["see", "PB-20261203T1010-", "7f94"]
    assert pdf.lines("  W", pdf.width("W") + 0.01) == ["W"]
    assert pdf.lines("We\u0301", pdf.width("We")) == ["We\u0301"]


def test_a_document_reads_back_as_written_in_subset_fonts_with_its_page_count():
    pdf = document(fallbacks=[Font(FONTS / "DroidSansFallbackFull.ttf", "DroidSansFallbackFull")])
    pdf.info = {"Title": "Deposit invoice INV-000001", "Author": "Ångström ΑΕ", "CreationDate": "D:20261201100203Z"}
    pdf.footer = lambda doc, n, count: (doc.set_xy(15, 284), doc.cell(0, 5, f"Page {n} of {count}", align="R"))
    pdf.add_page()
    pdf.set_font("B", 16)
    pdf.cell(0, 8, "Deposit invoice", then="next")
    pdf.set_font("", 9)
    pdf.multi_cell(0, 4.5, "Ünïcødé Ελληνικά Кириллица 日本語 株式会社 2,500.00\n" + "word " * 3000)
    content = pdf.output()
    assert content == pdf.output()  # nothing random: the same document, the same bytes
    pages = pages_text(content)
    assert len(pages) >= 3 and all(f"Page {n} of {len(pages)}" in p for n, p in enumerate(pages, 1))
    assert pages[0].startswith("Deposit invoice Ünïcødé Ελληνικά Кириллица 日本語 株式会社 2,500.00 word")
    assert " ".join(pages).count("word") == 3000
    reader = pypdf.PdfReader(io.BytesIO(content))
    meta = reader.metadata
    assert meta is not None and (meta.title, meta.author) == ("Deposit invoice INV-000001", "Ångström ΑΕ")
    assert meta.creation_date is not None and meta.creation_date.isoformat() == "2026-12-01T10:02:03+00:00"
    fonts = {f["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()}  # type: ignore[index]
    assert {name.split("+")[1] for name in fonts} == {"DejaVuSans", "DejaVuSans-Bold", "DroidSansFallbackFull"}
    assert all(re.fullmatch(r"/[A-Z]{6}\+\S+", name) for name in fonts) and len({n[:7] for n in fonts}) == 3
    assert len(content) < 60_000  # subsets, not the 4 MB fallback font


def test_a_table_repeats_its_header_on_each_page_and_never_splits_a_row():
    pdf = document()
    pdf.add_page()
    look = Table(widths=(30, 60, 40), align=("L", "L", "R"))
    rows = [(f"R{i:03d}", f"first line of {i} " * 6 + f"end of {i}", f"{i},000.00") for i in range(120)]
    pdf.table(look, ("Code", "Description", "Amount"), rows)
    pages = pages_text(pdf.output())
    assert len(pages) >= 4 and all(p.startswith("Code Description Amount") for p in pages)
    for i in range(120):  # each row whole on one page: its code, every line of its text and its amount
        (page,) = [p for p in pages if f"R{i:03d} " in p]
        assert f"end of {i} {i},000.00" in page
    assert pdf.y <= pdf.break_at


def test_text_sits_where_fpdf2_put_it_so_the_layout_is_unchanged():
    pdf = document()
    pdf.add_page()
    pdf.set_font("", 10)
    pdf.set_xy(20, 30)
    pdf.cell(50, 6, "Total", align="R")
    (op,) = pdf.pages[0]
    x, y = (float(v) for v in re.search(r"([\d.]+) ([\d.]+) Td", op).groups())  # type: ignore[union-attr]
    assert x == pytest.approx((20 + 50 - 1 - pdf.width("Total")) * K, abs=0.01)  # 1 mm cell margin
    assert y == pytest.approx((297 - (30 + 3 + 0.3 * 10 / K)) * K, abs=0.01)  # baseline: h/2 + 0.3 size
    assert (pdf.x, pdf.y) == (70, 30)


def test_a_table_never_leaves_its_header_alone_at_the_foot_of_a_page():
    pdf = document()
    pdf.add_page()
    look = Table(widths=(30, 150), align=("L", "R"))
    pdf.set_xy(15, pdf.break_at - 8)  # room for the header, not for the header and a row
    pdf.table(look, ("Tax", "Tax amount"), [("VAT 20% (VAT20)", "400.00")])
    pages = pages_text(pdf.output())
    assert len(pages) == 2 and "Tax" not in pages[0] and pages[1].startswith("Tax Tax amount VAT 20% (VAT20) 400.00")


def test_characters_one_glyph_draws_are_each_copied_as_written():
    droid = Font(FONTS / "DroidSansFallbackFull.ttf", "DroidSansFallbackFull")
    jamo, compatibility = "\u1100", "\u3131"  # HANGUL CHOSEONG KIYEOK and HANGUL LETTER KIYEOK
    assert droid.glyph(jamo) == droid.glyph(compatibility) != 0
    pdf = document(fallbacks=[droid])
    pdf.add_page()
    pdf.cell(0, 5, f"{compatibility}{jamo} {jamo}{compatibility}")
    assert pages_text(pdf.output())[0].strip() == f"{compatibility}{jamo} {jamo}{compatibility}"
