"""A TrueType font read for drawing text and embedded as a subset: the standard library only.

What a PDF needs of a font and no more: the glyph of a character (``cmap`` formats 4 and 12), its
advance width (``hmtx``), the metrics of the font descriptor (``head``, ``hhea``, ``OS/2``), and a
subset holding only the glyphs a document drew, renumbered from 1 in the order they were first
used (composite glyphs bring their components, renumbered inside the glyph data). The subset
keeps the hinting programs (``cvt``, ``fpgm``, ``prep``), names itself, and leaves out ``cmap``,
which a PDF's CIDFontType2 does not read (ISO 32000-1, 9.9). Loading a font reads its file and the
index of its character map (about 10 ms for a 4 MB fallback font); glyphs and widths are read
from the file's bytes as they are asked for.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path

# Composite glyph component flags (OpenType spec, 'glyf').
_ARGS_ARE_WORDS, _HAS_SCALE, _MORE, _HAS_XY_SCALE, _HAS_2X2 = 0x0001, 0x0008, 0x0020, 0x0040, 0x0080
_KEPT = (b"cvt ", b"fpgm", b"prep", b"OS/2")  # copied as they are into the subset


class Font:
    """One TrueType file: the glyphs a document uses, by first use, and the subset of them."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name  # the PostScript name the PDF gives it (with a subset tag)
        self.data = data = path.read_bytes()
        count = struct.unpack_from(">H", data, 4)[0]
        self.tables: dict[bytes, tuple[int, int]] = {}
        for i in range(count):
            tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
            self.tables[tag] = (offset, length)
        head = self.tables[b"head"][0]
        self.units = struct.unpack_from(">H", data, head + 18)[0]
        self.bbox = struct.unpack_from(">4h", data, head + 36)
        self.long_loca = struct.unpack_from(">h", data, head + 50)[0] == 1
        hhea = self.tables[b"hhea"][0]
        self.ascent, self.descent = struct.unpack_from(">hh", data, hhea + 4)
        self.metrics = struct.unpack_from(">H", data, hhea + 34)[0]
        self.cap_height = self.ascent
        if b"OS/2" in self.tables:
            os2, length = self.tables[b"OS/2"]
            if struct.unpack_from(">H", data, os2)[0] >= 2 and length >= 90:
                self.cap_height = struct.unpack_from(">h", data, os2 + 88)[0]
        self._lookup = self._cmap()
        self._glyphs: dict[str, int] = {}  # character -> original glyph id (0: none)
        # Subset glyph ids are given per character, from 1 in the order of first use (this dict's
        # order): two characters one glyph draws (a jamo and its compatibility form) get a copy each,
        # so a reader copies each one as written.
        self.used: dict[str, int] = {}  # character -> subset glyph id

    # ---- characters, glyphs and widths ----------------------------------------------------------
    def glyph(self, ch: str) -> int:
        """The original glyph of ``ch`` (0 when the font has none)."""
        gid = self._glyphs.get(ch)
        if gid is None:
            gid = self._glyphs[ch] = self._lookup(ord(ch))
        return gid

    def advance(self, gid: int) -> int:
        """A glyph's advance width in font units."""
        hmtx = self.tables[b"hmtx"][0]
        return int(struct.unpack_from(">H", self.data, hmtx + 4 * min(gid, self.metrics - 1))[0])

    def use(self, ch: str) -> int:
        """The subset glyph id drawing ``ch`` (which the font has), numbered on first use."""
        new = self.used.get(ch)
        if new is None:
            new = self.used[ch] = len(self.used) + 1
        return new

    def _cmap(self) -> Callable[[int], int]:
        """A code point -> glyph lookup on the best Unicode subtable: format 12, else format 4."""
        data, (cmap, _) = self.data, self.tables[b"cmap"]
        found: dict[int, int] = {}
        for i in range(struct.unpack_from(">H", data, cmap + 2)[0]):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
            if (platform, encoding) in ((3, 10), (3, 1), (0, 4), (0, 3)):
                found.setdefault(struct.unpack_from(">H", data, cmap + offset)[0], cmap + offset)
        if 12 in found:
            at = found[12]
            n = struct.unpack_from(">I", data, at + 12)[0]
            groups = struct.unpack_from(f">{3 * n}I", data, at + 16)
            starts, ends, firsts = groups[0::3], groups[1::3], groups[2::3]

            def lookup12(c: int) -> int:
                i = bisect_left(ends, c)
                return firsts[i] + c - starts[i] if i < n and starts[i] <= c else 0

            return lookup12
        at = found[4]
        segs = struct.unpack_from(">H", data, at + 6)[0] // 2
        ends = struct.unpack_from(f">{segs}H", data, at + 14)
        starts = struct.unpack_from(f">{segs}H", data, at + 16 + 2 * segs)
        deltas = struct.unpack_from(f">{segs}h", data, at + 16 + 4 * segs)
        range_at = at + 16 + 6 * segs
        ranges = struct.unpack_from(f">{segs}H", data, range_at)

        def lookup4(c: int) -> int:
            i = bisect_left(ends, c)
            if c > 0xFFFF or i >= segs or starts[i] > c:
                return 0
            if ranges[i] == 0:
                return int(c + deltas[i]) & 0xFFFF
            g = struct.unpack_from(">H", data, range_at + 2 * i + ranges[i] + 2 * (c - starts[i]))[0]
            return int(g + deltas[i]) & 0xFFFF if g else 0

        return lookup4

    # ---- the subset -----------------------------------------------------------------------------
    def _glyph_data(self, gid: int) -> bytes:
        data, loca = self.data, self.tables[b"loca"][0]
        if self.long_loca:
            start, end = struct.unpack_from(">II", data, loca + 4 * gid)
        else:
            start, end = (2 * v for v in struct.unpack_from(">HH", data, loca + 2 * gid))
        glyf = self.tables[b"glyf"][0]
        return data[glyf + start : glyf + end]

    def subset(self) -> bytes:
        """A TrueType file of .notdef and the used glyphs (with their components), renumbered."""
        order = [0, *map(self.glyph, self.used)]  # original ids in subset order: .notdef, then by first use
        number: dict[int, int] = {}
        for i, gid in enumerate(order):
            number.setdefault(gid, i)  # where a component points: the first copy of its glyph
        glyphs: list[bytes] = []
        i = 0
        while i < len(order):  # components found on the way are appended, so they are visited too
            glyph = bytearray(self._glyph_data(order[i]))
            if len(glyph) >= 10 and struct.unpack_from(">h", glyph, 0)[0] < 0:
                at, flags = 10, _MORE
                while flags & _MORE:
                    flags, component = struct.unpack_from(">HH", glyph, at)
                    if component not in number:
                        number[component] = len(order)
                        order.append(component)
                    struct.pack_into(">H", glyph, at + 2, number[component])
                    at += 4 + (4 if flags & _ARGS_ARE_WORDS else 2)
                    at += 2 if flags & _HAS_SCALE else 4 if flags & _HAS_XY_SCALE else 8 if flags & _HAS_2X2 else 0
            glyphs.append(bytes(glyph) + b"\0" * (-len(glyph) % 4))
            i += 1
        offsets = [0]
        for g in glyphs:
            offsets.append(offsets[-1] + len(g))
        hmtx = self.tables[b"hmtx"][0]
        metrics = b"".join(struct.pack(">Hh", self.advance(g), self._lsb(g, hmtx)) for g in order)
        head = bytearray(self._table(b"head"))
        struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment: set once the whole file is known
        struct.pack_into(">h", head, 50, 1)  # long loca
        hhea = bytearray(self._table(b"hhea"))
        struct.pack_into(">H", hhea, 34, len(order))
        maxp = bytearray(self._table(b"maxp"))
        struct.pack_into(">H", maxp, 4, len(order))
        tables = {
            b"head": bytes(head), b"hhea": bytes(hhea), b"maxp": bytes(maxp), b"hmtx": metrics,
            b"loca": struct.pack(f">{len(offsets)}I", *offsets), b"glyf": b"".join(glyphs),
            **{tag: self._table(tag) for tag in _KEPT if tag in self.tables},
            b"name": _names(self.name),
        }  # fmt: skip
        if b"post" in self.tables:
            tables[b"post"] = b"\0\3\0\0" + self._table(b"post")[4:32]  # version 3: no glyph names
        return _sfnt(tables)

    def _lsb(self, gid: int, hmtx: int) -> int:
        if gid < self.metrics:
            return int(struct.unpack_from(">h", self.data, hmtx + 4 * gid + 2)[0])
        return int(struct.unpack_from(">h", self.data, hmtx + 4 * self.metrics + 2 * (gid - self.metrics))[0])

    def _table(self, tag: bytes) -> bytes:
        offset, length = self.tables[tag]
        return self.data[offset : offset + length]


def _names(name: str) -> bytes:
    """A ``name`` table naming the subset (family, style, unique, full and PostScript names), in
    Windows' Unicode records: PDF readers do not need it, some font rasterisers do."""
    records, strings = [], b""
    for number, text in ((1, name), (2, "Regular"), (3, name), (4, name), (6, name)):
        data = text.encode("utf-16-be")
        records.append(struct.pack(">6H", 3, 1, 0x409, number, len(data), len(strings)))
        strings += data
    return struct.pack(">3H", 0, len(records), 6 + 12 * len(records)) + b"".join(records) + strings


def _checksum(table: bytes) -> int:
    padded = table + b"\0" * (-len(table) % 4)
    return int(sum(struct.unpack(f">{len(padded) // 4}I", padded))) & 0xFFFFFFFF


def _sfnt(tables: dict[bytes, bytes]) -> bytes:
    """A TrueType file of ``tables``: the offset table, the sorted table records, 4-byte aligned."""
    tags = sorted(tables)
    n = len(tags)
    power = 1 << (n.bit_length() - 1)
    header = struct.pack(">IHHHH", 0x00010000, n, 16 * power, power.bit_length() - 1, 16 * (n - power))
    offset = 12 + 16 * n
    records, bodies, head = [], [], 0
    for tag in tags:
        body = tables[tag]
        records.append(struct.pack(">4sIII", tag, _checksum(body), offset, len(body)))
        bodies.append(body + b"\0" * (-len(body) % 4))
        head = offset if tag == b"head" else head
        offset += len(bodies[-1])
    font = bytearray(header + b"".join(records) + b"".join(bodies))
    struct.pack_into(">I", font, head + 8, (0xB1B0AFBA - _checksum(bytes(font))) & 0xFFFFFFFF)
    return bytes(font)
