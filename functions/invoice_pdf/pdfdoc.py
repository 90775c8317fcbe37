"""A small PDF writer for text documents: the standard library only (docs/documents.md).

What an invoice needs and no more: A4 pages in millimetres, text in embedded TrueType fonts
(``truetype.Font``, subset to the glyphs drawn) with fallback fonts for the characters the main
font lacks, cells and wrapped paragraphs placed the way fpdf2 places them (a 1 mm cell margin, the
baseline at half the cell height plus 0.3 of the font size), a table whose header row repeats on
every page it runs onto, automatic page breaks and a footer drawn once the page count is known.

Text is encoded as glyph ids (Identity-H) with a ToUnicode map, so readers copy and search it as
written. Characters no font has are left out; Arabic and Hebrew are set left to right, unshaped.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from truetype import Font

K = 72 / 25.4  # points per millimetre
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0  # A4
CELL_MARGIN = 1.0  # mm between a cell's edge and its text
Colour = tuple[int, int, int]
BLACK: Colour = (0, 0, 0)


@dataclass(frozen=True)
class Table:
    """A table's look: the column widths and alignments, the header's fill, its line height."""

    widths: Sequence[float]
    align: Sequence[str]  # "L" or "R" per column
    line_height: float = 4.5
    size: float = 8.5
    header_fill: Colour = (235, 235, 235)
    padding: float = 0.6  # mm above and below a row's text


class Document:
    """Pages being drawn, with fpdf2's idea of a current position, font and colour."""

    def __init__(self, fonts: dict[str, Font], fallbacks: Sequence[Font] = (), margin: float = 15,
                 bottom: float = 18) -> None:  # fmt: skip
        self.fonts = fonts  # by style: "" (regular) and "B" (bold)
        self.fallbacks = list(fallbacks)
        self.l_margin = self.t_margin = self.r_margin = margin
        self.break_at = PAGE_HEIGHT - bottom
        self.auto_break = True  # off while the footers are drawn, under the bottom margin
        self.pages: list[list[str]] = []
        self.x, self.y = margin, margin
        self.style, self.size = "", 10.0
        self.colour = BLACK
        self.footer: Callable[[Document, int, int], None] | None = None
        self.info: dict[str, str] = {}
        self._faces: dict[tuple[str, str], tuple[Font, float] | None] = {}  # (style, ch) -> font, em width
        self._ids: dict[Font, int] = {}  # the fonts drawn with -> their resource numbers, by first use

    # ---- state ----------------------------------------------------------------------------------
    def add_page(self) -> None:
        self.pages.append([])
        self.x, self.y = self.l_margin, self.t_margin

    def set_font(self, style: str, size: float) -> None:
        self.style, self.size = style, size

    def set_text_color(self, colour: Colour) -> None:
        self.colour = colour

    def set_xy(self, x: float, y: float) -> None:
        self.x, self.y = x, y

    def ln(self, h: float) -> None:
        self.x, self.y = self.l_margin, self.y + h

    def _room(self, h: float) -> None:
        """A new page when ``h`` more millimetres would cross the bottom margin (x is kept)."""
        if self.auto_break and self.y + h > self.break_at and self.y > self.t_margin:
            x = self.x
            self.add_page()
            self.x = x

    # ---- text -----------------------------------------------------------------------------------
    def _face(self, ch: str) -> tuple[Font, float] | None:
        """The font drawing ``ch`` in the current style (the main font, else a fallback) and the
        character's width in ems; None when no font has it."""
        key = (self.style, ch)
        if key not in self._faces:
            found = None
            for font in (self.fonts[self.style], *self.fallbacks):
                gid = font.glyph(ch)
                if gid:
                    found = (font, font.advance(gid) / font.units)
                    break
            self._faces[key] = found
        return self._faces[key]

    def width(self, text: str) -> float:
        """The width of ``text`` in millimetres at the current font and size."""
        ems = 0.0
        for ch in text:
            face = self._face(ch)
            if face:
                ems += face[1]
        return ems * self.size / K

    def lines(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines no wider than ``width`` mm: at line breaks, then at the last
        space that fits (dropped), else after the last hyphen, else inside the word."""
        out: list[str] = []
        scale = self.size / K
        for written in text.split("\n"):
            faces = [(ch, face[1] * scale) for ch in written if (face := self._face(ch))]
            para, widths = "".join(ch for ch, _ in faces), [w for _, w in faces]
            start, w, space, hyphen, i, n = 0, 0.0, -1, -1, 0, len(para)
            while i < n:
                ch = para[i]
                # A break before a character that makes the line too wide (1e-6: sums of floats); a
                # space or a zero-width mark (a combining accent) never starts a line.
                if ch != " " and widths[i] and w + widths[i] > width + 1e-6 and i > start:
                    if space > start and para[start:space].strip(" "):
                        end, after = space, space + 1
                    elif hyphen > start:
                        end = after = hyphen
                    else:
                        end = after = i
                    if para[start:end].strip(" "):  # leading spaces alone make no line
                        out.append(para[start:end].rstrip(" "))
                    start = after
                    while start < i and para[start] == " ":
                        start += 1
                    w, space = sum(widths[start:i]), -1
                    hyphen = para.rfind("-", start, i) + 1 or -1  # after a hyphen still on the line
                    continue  # the same character again, on the new line
                if ch == " ":
                    space = i
                elif ch == "-":
                    hyphen = i + 1
                w, i = w + widths[i], i + 1
            out.append(para[start:].rstrip(" "))
        return out

    def _text(self, x: float, baseline: float, text: str) -> None:
        """``text`` on one line from ``x``, in runs of the font that has each character."""
        runs: list[tuple[Font, list[int]]] = []
        for ch in text:
            face = self._face(ch)
            if face is None:
                continue
            font = face[0]
            if not runs or runs[-1][0] is not font:
                runs.append((font, []))
            runs[-1][1].append(font.use(ch))
        if not runs:
            return
        ops = [f"BT {_rgb(self.colour)} rg {x * K:.2f} {(PAGE_HEIGHT - baseline) * K:.2f} Td"]
        for font, gids in runs:
            ops.append(f"/F{self._resource(font)} {self.size:.2f} Tf <{''.join(f'{g:04X}' for g in gids)}> Tj")
        ops.append("ET")
        self.pages[-1].append(" ".join(ops))

    def _resource(self, font: Font) -> int:
        return self._ids.setdefault(font, len(self._ids) + 1)

    def cell(self, w: float, h: float, text: str = "", align: str = "L", then: str = "right") -> None:
        """One line of ``text`` in a box ``w`` wide (0: to the right margin), ``h`` high. Then the
        position moves ``right`` of the box, to the ``next`` line at the left margin, or ``below``
        the box at its left edge."""
        self._room(h)
        if w == 0:
            w = PAGE_WIDTH - self.r_margin - self.x
        self._place(self.x, self.y, w, h, text, align)
        self._move(w, h, then)

    def _place(self, x: float, y: float, w: float, h: float, text: str, align: str) -> None:
        """``text`` in the box at ``x``, ``y``: aligned ``L``, ``R`` or ``C`` inside the cell margin,
        its baseline at half the box's height plus 0.3 of the font size (as fpdf2 sets it)."""
        if not text:
            return
        if align == "R":
            dx = w - CELL_MARGIN - self.width(text)
        elif align == "C":
            dx = (w - self.width(text)) / 2
        else:
            dx = CELL_MARGIN
        self._text(x + dx, y + 0.5 * h + 0.3 * self.size / K, text)

    def multi_cell(self, w: float, h: float, text: str, align: str = "L", then: str = "next",
                   border: bool = False) -> None:  # fmt: skip
        """``text`` wrapped inside ``w`` (0: to the right margin), a line of ``h`` each, breaking
        pages between lines; ``border`` draws a black box around it (around its last page's lines)."""
        x = self.x
        if w == 0:
            w = PAGE_WIDTH - self.r_margin - x
        top, page = self.y, len(self.pages)
        for line in self.lines(text, w - 2 * CELL_MARGIN):
            self.x = x
            self.cell(w, h, line, align, then="below")
            if len(self.pages) != page:  # the box, if any, is this page's lines
                top, page = self.y - h, len(self.pages)
        if border:
            self.rect(x, top, w, self.y - top, stroke=BLACK)
        self.x, self.y = x, self.y - h
        self._move(w, h, then)

    def _move(self, w: float, h: float, then: str) -> None:
        if then == "right":
            self.x += w
        elif then == "below":
            self.y += h
        else:  # next
            self.x, self.y = self.l_margin, self.y + h

    # ---- lines and boxes --------------------------------------------------------------------------
    def rect(self, x: float, y: float, w: float, h: float, fill: Colour | None = None,
             stroke: Colour | None = None) -> None:  # fmt: skip
        box = f"{x * K:.2f} {(PAGE_HEIGHT - y - h) * K:.2f} {w * K:.2f} {h * K:.2f} re"
        if fill:
            self.pages[-1].append(f"{_rgb(fill)} rg {box} f")
        if stroke:
            self.pages[-1].append(f"{_rgb(stroke)} RG {0.2 * K:.2f} w {box} S")

    def hline(self, x: float, y: float, w: float, colour: Colour = BLACK, width: float = 0.2) -> None:
        py = (PAGE_HEIGHT - y) * K
        self.pages[-1].append(
            f"{_rgb(colour)} RG {width * K:.2f} w {x * K:.2f} {py:.2f} m {(x + w) * K:.2f} {py:.2f} l S"
        )

    def table(self, look: Table, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        """A table from the left margin: a bold header on grey, a line under each row, each cell's
        text wrapped in its column and centred in the row's height; a row that does not fit goes
        to the next page, under the header drawn again."""
        total = sum(look.widths)

        def row_lines(cells: Sequence[str]) -> list[list[str]]:
            return [self.lines(c, w - 2 * CELL_MARGIN) for c, w in zip(cells, look.widths, strict=True)]

        def height(cells: list[list[str]]) -> float:
            return max(len(c) for c in cells) * look.line_height + 2 * look.padding

        def draw(cells: list[list[str]], bold: bool) -> None:
            self.set_font("B" if bold else "", look.size)
            tall = height(cells)
            if bold:
                self.rect(self.l_margin, self.y, total, tall, fill=look.header_fill)
            x = self.l_margin
            for lines, w, align in zip(cells, look.widths, look.align, strict=True):
                y = self.y + (tall - len(lines) * look.line_height) / 2
                for line in lines:
                    self._place(x, y, w, look.line_height, line, align)
                    y += look.line_height
                x += w
            self.y += tall
            self.hline(self.l_margin, self.y, total, width=0.3 if bold else 0.1)

        self.set_font("B", look.size)
        head = row_lines(header)
        self.set_font("", look.size)
        body = [row_lines(cells) for cells in rows]
        # The header never ends a page alone: it goes to the next page with the first row.
        self._room(height(head) + (height(body[0]) if body else 0))
        draw(head, True)
        for lines in body:
            if self.y + height(lines) > self.break_at:  # the limits keep a row shorter than a page
                self.add_page()
                draw(head, True)
            draw(lines, False)
        self.x = self.l_margin

    # ---- the file -------------------------------------------------------------------------------
    def output(self) -> bytes:
        """The PDF: each page with its footer, the fonts subset, one compressed stream per page."""
        count = len(self.pages)
        drawn, pages = self.pages, [list(ops) for ops in self.pages]  # output() may be called again
        if self.footer:
            self.auto_break = False
            for n in range(1, count + 1):
                self.pages = pages[:n]  # the footer draws on page n
                self.footer(self, n, count)
            self.auto_break = True
        self.pages = drawn
        objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree (written last)
        font_refs = {number: _embed(objects, font) for font, number in self._ids.items()}
        resources = _add(objects, b"<< /Font << " + b" ".join(
            f"/F{n} {ref} 0 R".encode() for n, ref in sorted(font_refs.items())) + b" >> >>")  # fmt: skip
        kids = []
        for ops in pages:
            content = _add(objects, _stream("\n".join(ops).encode()))
            kids.append(_add(objects, (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH * K:.2f} "
                                       f"{PAGE_HEIGHT * K:.2f}] /Resources {resources} 0 R /Contents {content} 0 R >>"
                                       ).encode()))  # fmt: skip
        objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
        objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {count} >>".encode()
        info = _add(objects, b"<< " + b" ".join(_info(k, v) for k, v in self.info.items()) + b" >>")
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(objects, 1):
            offsets.append(len(out))
            out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
        out += (
            f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        )
        return bytes(out)


def _rgb(c: Colour) -> str:
    return " ".join(f"{v / 255:.3f}" for v in c)


def _add(objects: list[bytes], body: bytes) -> int:
    objects.append(body)
    return len(objects)


def _stream(data: bytes, extra: str = "") -> bytes:
    packed = zlib.compress(data, 6)
    return f"<< /Length {len(packed)} /Filter /FlateDecode{extra} >>\nstream\n".encode() + packed + b"\nendstream"


def _tag(font: Font) -> str:
    """A subset's six-letter tag (ISO 32000-1, 9.6.4): from the font and the glyphs it holds, so two
    different subsets of one font, in one document or across documents, are named apart."""
    n = zlib.crc32(font.name.encode() + "".join(font.used).encode("utf-8"))
    letters = ""
    for _ in range(6):
        n, r = divmod(n, 26)
        letters = chr(65 + r) + letters
    return letters


def _info(key: str, value: str) -> bytes:
    """An Info entry: a date (``D:20261201100203Z``) as it is, any other text as UTF-16 (hex)."""
    if key.endswith("Date"):
        return f"/{key} ({value})".encode()
    return f"/{key} <FEFF{value.encode('utf-16-be').hex().upper()}>".encode()


def _embed(objects: list[bytes], font: Font) -> int:
    """The Type0 font (Identity-H) of ``font``'s subset: its CID font, descriptor, file and the
    ToUnicode map; returns the Type0 font's object number."""
    name = f"{_tag(font)}+{font.name}"
    scale = 1000 / font.units
    file = font.subset()
    font_file = _add(objects, _stream(file, f" /Length1 {len(file)}"))
    x0, y0, x1, y1 = (round(v * scale) for v in font.bbox)
    descriptor = _add(objects, (
        f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{x0} {y0} {x1} {y1}] /ItalicAngle 0 "
        f"/Ascent {round(font.ascent * scale)} /Descent {round(font.descent * scale)} "
        f"/CapHeight {round(font.cap_height * scale)} /StemV 80 /FontFile2 {font_file} 0 R >>").encode())  # fmt: skip
    widths = " ".join(str(round(font.advance(gid) * scale)) for gid in [0, *map(font.glyph, font.used)])
    cid = _add(objects, (
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} /CIDSystemInfo << /Registry (Adobe) "
        f"/Ordering (Identity) /Supplement 0 >> /FontDescriptor {descriptor} 0 R /W [0 [{widths}]] "
        f"/CIDToGIDMap /Identity >>").encode())  # fmt: skip
    chars = [(gid, ch) for ch, gid in font.used.items()]  # by subset glyph id
    blocks = []
    for i in range(0, len(chars), 100):
        chunk = chars[i : i + 100]
        blocks.append(f"{len(chunk)} beginbfchar\n" + "\n".join(
            f"<{gid:04X}> <{ch.encode('utf-16-be').hex().upper()}>" for gid, ch in chunk) + "\nendbfchar")  # fmt: skip
    cmap = (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\n"
        "endcodespacerange\n" + "\n".join(blocks) + "\nendcmap\nCMapName currentdict /CMap defineresource pop\n"
        "end\nend"
    )
    to_unicode = _add(objects, _stream(cmap.encode()))
    return _add(objects, (
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
        f"/DescendantFonts [{cid} 0 R] /ToUnicode {to_unicode} 0 R >>").encode())  # fmt: skip
