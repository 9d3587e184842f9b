"""HEIC / HEIF: blank metadata in place, so every offset in the file stays valid.

The file is an ISO-BMFF tree: ftyp, one meta box (hdlr, pitm, iinf, iloc, iref, iprp, idat)
and mdat. Images and metadata are both "items" whose bytes iloc locates. Rewriting the tree
would move mdat and every offset with it, so nothing moves: bytes are zeroed, never removed.

Blanked: Exif items (left as a valid, empty Exif structure), XMP (mime application/rdf+xml)
items, every other item that is neither an image nor needed by the primary image (other
mime, uri, cdsc-linked or unknown items),
item names, the hdlr name, udes (user description) properties, free/skip and unknown boxes
(renamed 'free'), and the bytes of mdat no kept item uses (leftovers of earlier edits).
Image items, properties (colr ICC, irot, imir, ...) and references are untouched, so the
pixels decode identically. Orientation needs no Exif here: HEIF carries it in the irot/imir
properties, which readers apply and which Exif orientation must not override.

Where metadata cannot be blanked safely (data in another file, built from other items,
outside the file, or sharing bytes with image data) the file is refused, never left as is.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

from .base import (
    SNIFF_BYTES,
    MalformedImage,
    PartBudget,
    StripError,
    StripResult,
    UnsupportedFormat,
    checked_end,
)
from .orientation import EMPTY_TIFF

_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2", b"avif"}
)
# Item types that are image data (coded or derived); everything else is described content.
_IMAGE_TYPES = frozenset(
    {
        b"hvc1", b"hev1", b"hvt1", b"lhv1", b"av01", b"avc1", b"jpeg", b"j2k1", b"vvc1",
        b"unci", b"grid", b"iovl", b"iden", b"tmap", b"mski",
    }
)  # fmt: skip
_XMP_TYPE = b"application/rdf+xml"
_META_CHILDREN = frozenset(
    {b"hdlr", b"pitm", b"iloc", b"iinf", b"iref", b"iprp", b"idat", b"dinf", b"grpl", b"ipro"}
)
_FREE = frozenset({b"free", b"skip"})
# An Exif item is a 4-byte offset to the TIFF header, then the TIFF structure.
_EMPTY_EXIF = b"\x00\x00\x00\x00" + EMPTY_TIFF


class _Box(NamedTuple):
    kind: bytes
    start: int
    body: int  # first byte after the header
    end: int


def _boxes(data: memoryview, start: int, end: int, budget: PartBudget) -> Iterator[_Box]:
    pos = start
    while pos < end:
        budget.take()
        if pos + 8 > end:
            raise MalformedImage("the HEIF ends inside a box header (truncated)")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise MalformedImage("the HEIF ends inside a box header (truncated)")
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # "to the end of the enclosing container"
            size = end - pos
        if size < header:
            raise MalformedImage("a HEIF box has an impossible size (corrupt)")
        box_end = checked_end(pos, size, end, "a HEIF box")
        yield _Box(kind, pos, pos + header, box_end)
        pos = box_end


class _Reader:
    """Big-endian fields inside one box; running past its end is MalformedImage."""

    def __init__(self, data: memoryview, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def uint(self, size: int) -> int:
        if self.pos + size > self.end:
            raise MalformedImage("a HEIF box is shorter than its fields (corrupt)")
        value = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        return value

    def string(self) -> tuple[int, int]:
        """A NUL-terminated string, as its span (the NUL excluded); a missing NUL ends it."""
        start = self.pos
        raw = bytes(self.data[start : self.end])
        nul = raw.find(b"\x00")
        stop = start + (nul if nul >= 0 else len(raw))
        self.pos = min(stop + 1, self.end)
        return start, stop


class _Location(NamedTuple):
    method: int
    data_reference: int
    extents: tuple[tuple[int, int], ...]  # (offset including base_offset, length; 0 = to end)


@dataclass
class _Meta:
    budget: PartBudget
    primary: int = -1  # set from pitm
    types: dict[int, bytes] = field(default_factory=dict)
    content_types: dict[int, bytes] = field(default_factory=dict)
    locations: dict[int, _Location] = field(default_factory=dict)
    refs: dict[bytes, list[tuple[int, tuple[int, ...]]]] = field(default_factory=dict)
    idat: tuple[int, int] | None = None
    # Spans to zero and what they were: names, descriptions, unknown boxes.
    blank: list[tuple[int, int, str]] = field(default_factory=list)
    rename: list[int] = field(default_factory=list)  # box starts to turn into 'free'


def _full_box(data: memoryview, box: _Box) -> tuple[int, _Reader]:
    reader = _Reader(data, box.body, box.end)
    version = reader.uint(1)
    reader.uint(3)  # flags
    return version, reader


def _parse_iinf(data: memoryview, box: _Box, meta: _Meta) -> None:
    version, reader = _full_box(data, box)
    reader.uint(2 if version == 0 else 4)  # entry count: the boxes themselves are authoritative
    for entry in _boxes(data, reader.pos, box.end, meta.budget):
        if entry.kind != b"infe":
            continue
        version, infe = _full_box(data, entry)
        if version >= 2:
            item_id = infe.uint(2 if version == 2 else 4)
            infe.uint(2)  # protection index
            item_type = infe.uint(4).to_bytes(4, "big")
        else:  # legacy entries describe content, never an image
            item_id = infe.uint(2)
            infe.uint(2)
            item_type = b"mime"
        name = infe.string()
        meta.blank.append((*name, "other"))
        if item_type == b"mime" and infe.pos < entry.end:
            start, stop = infe.string()
            meta.content_types[item_id] = bytes(data[start:stop])
        if item_id in meta.types:
            raise MalformedImage("the HEIF describes one item twice (corrupt)")
        meta.types[item_id] = item_type


def _parse_iloc(data: memoryview, box: _Box, meta: _Meta) -> None:
    version, reader = _full_box(data, box)
    if version > 2:
        raise UnsupportedFormat(f"the HEIF item locations use an unknown version ({version})")
    sizes = reader.uint(1)
    offset_size, length_size = sizes >> 4, sizes & 15
    sizes = reader.uint(1)
    base_size, index_size = sizes >> 4, (sizes & 15 if version else 0)
    if not {offset_size, length_size, base_size, index_size} <= {0, 4, 8}:
        raise MalformedImage("the HEIF item locations have invalid field sizes (corrupt)")
    for _ in range(reader.uint(2 if version < 2 else 4)):
        meta.budget.take()
        item_id = reader.uint(2 if version < 2 else 4)
        method = reader.uint(2) & 15 if version else 0
        data_reference = reader.uint(2)
        base = reader.uint(base_size)
        count = reader.uint(2)
        meta.budget.take(count)
        extents = []
        for _ in range(count):
            reader.uint(index_size)
            offset = reader.uint(offset_size)
            extents.append((base + offset, reader.uint(length_size)))
        if item_id in meta.locations:
            raise MalformedImage("the HEIF locates one item twice (corrupt)")
        meta.locations[item_id] = _Location(method, data_reference, tuple(extents))


def _parse_iref(data: memoryview, box: _Box, meta: _Meta) -> None:
    version, reader = _full_box(data, box)
    width = 2 if version == 0 else 4
    for ref in _boxes(data, reader.pos, box.end, meta.budget):
        fields = _Reader(data, ref.body, ref.end)
        source = fields.uint(width)
        count = fields.uint(2)
        meta.budget.take(count)
        targets = tuple(fields.uint(width) for _ in range(count))
        meta.refs.setdefault(ref.kind, []).append((source, targets))


def _parse_iprp(data: memoryview, box: _Box, meta: _Meta) -> None:
    for child in _boxes(data, box.body, box.end, meta.budget):
        if child.kind != b"ipco":
            continue
        for prop in _boxes(data, child.body, child.end, meta.budget):
            if prop.kind == b"udes":  # user description: language, name, description, tags
                meta.blank.append((prop.body + 4, prop.end, "other"))


def _parse_meta(data: memoryview, box: _Box, budget: PartBudget) -> _Meta:
    meta = _Meta(budget)
    _version, reader = _full_box(data, box)
    seen: set[bytes] = set()
    for child in _boxes(data, reader.pos, box.end, budget):
        if child.kind in seen and child.kind in (b"iinf", b"iloc", b"pitm", b"iref", b"idat"):
            raise MalformedImage(f"the HEIF has two {child.kind.decode()} boxes (corrupt)")
        seen.add(child.kind)
        if child.kind == b"iinf":
            _parse_iinf(data, child, meta)
        elif child.kind == b"iloc":
            _parse_iloc(data, child, meta)
        elif child.kind == b"iref":
            _parse_iref(data, child, meta)
        elif child.kind == b"iprp":
            _parse_iprp(data, child, meta)
        elif child.kind == b"pitm":
            version, fields = _full_box(data, child)
            meta.primary = fields.uint(2 if version == 0 else 4)
        elif child.kind == b"idat":
            meta.idat = (child.body, child.end)
        elif child.kind == b"hdlr":
            # pre_defined, handler_type, 3 reserved words, then a free-text name
            meta.blank.append((min(child.body + 24, child.end), child.end, "other"))
        elif child.kind not in _META_CHILDREN:
            meta.blank.append((child.body, child.end, "other"))
            if child.kind not in _FREE:
                meta.rename.append(child.start)
    if meta.primary < 0:
        raise MalformedImage("the HEIF names no primary image")
    return meta


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif start < end:
            merged.append((start, end))
    return merged


class _Blanker:
    """Zeroes spans of the output, skipping the bytes kept image items use."""

    def __init__(self, buf: bytearray, protected: list[tuple[int, int]]) -> None:
        self.buf = buf
        self.protected = _merge(protected)
        self.starts = [start for start, _ in self.protected]

    def _first(self, start: int) -> int:
        # Merged spans do not overlap: only the one starting at or before `start` can reach it.
        return max(bisect.bisect_right(self.starts, start) - 1, 0)

    def overlaps(self, start: int, end: int) -> bool:
        index = self._first(start)
        while index < len(self.protected) and self.protected[index][0] < end:
            if self.protected[index][1] > start:
                return True
            index += 1
        return False

    def zero(self, start: int, end: int) -> bool:
        """Zero [start, end) minus protected bytes; True when a non-zero byte went."""
        changed = False
        index, pos = self._first(start), start
        while pos < end:
            pstart, pend = self.protected[index] if index < len(self.protected) else (end, end)
            gap_end = min(max(pstart, pos), end)
            if gap_end > pos:
                changed = changed or self.buf.count(0, pos, gap_end) != gap_end - pos
                self.buf[pos:gap_end] = bytes(gap_end - pos)
            pos = max(gap_end, pend)
            index += 1
        return changed


class HeifParser:
    name: ClassVar[str] = "heif"

    def sniff(self, head: bytes) -> bool:
        if head[4:8] != b"ftyp" or len(head) < 12:
            return False
        (size,) = struct.unpack_from(">I", head, 0)
        brands = [head[8:12]] + [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
        return any(brand in _BRANDS for brand in brands)

    def strip(self, data: bytes, orientation: int) -> StripResult:
        if not self.sniff(data[:SNIFF_BYTES]):  # what detection sees, so a result re-detects
            raise MalformedImage("the HEIF's ftyp box names no HEIF brand")
        view = memoryview(data)
        budget = PartBudget("HEIF")
        top = list(_boxes(view, 0, len(data), budget))
        if not top or top[0].kind != b"ftyp":
            raise MalformedImage("the HEIF does not start with its ftyp box")
        if any(box.kind in (b"moov", b"moof") for box in top):
            raise UnsupportedFormat("HEIF image sequences and videos are not supported")
        metas = [box for box in top if box.kind == b"meta"]
        if len(metas) != 1:
            raise MalformedImage("the HEIF does not have exactly one meta box")
        meta = _parse_meta(view, metas[0], budget)
        removed: list[str] = []
        buf = bytearray(data)

        drop = _items_to_blank(meta, meta.primary)
        # Where item data may be blanked: inside one data box (mdat, ...) or inside idat.
        # Never across a box header or into the index, or the file would change shape.
        payloads = [(box.body, box.end) for box in top if box.kind not in (b"ftyp", b"meta")]
        if meta.idat is not None:
            payloads.append(meta.idat)
        payloads.sort()
        kept: list[tuple[int, int]] = []
        dropped: dict[int, list[tuple[int, int]]] = {}
        exact = True  # every kept item's bytes are known, so unused mdat bytes can go
        for item_id, location in meta.locations.items():
            spans = _spans(location, meta, len(data))
            if item_id not in drop:
                exact = exact and spans is not None
                kept.extend(spans or ())
            elif spans is None:
                raise StripError(
                    "the HEIF keeps its metadata in a way that cannot be removed safely "
                    "(stored in another file or built from other items)"
                )
            elif not all(_inside(span, payloads) for span in spans):
                raise MalformedImage("a HEIF metadata item lies outside the data boxes (corrupt)")
            else:
                dropped[item_id] = spans
        image = _Blanker(buf, kept)
        if any(image.overlaps(*span) for spans in dropped.values() for span in spans):
            raise StripError("the HEIF metadata shares bytes with the image (corrupt)")

        # Leftovers first: names, descriptions, unknown boxes, unused mdat bytes. Metadata
        # items are spared here and blanked below, where each is reported by what it was.
        blanker = _Blanker(buf, kept + [span for spans in dropped.values() for span in spans])
        for start, end, category in meta.blank:
            if blanker.zero(start, end):
                removed.append(category)
        for start in meta.rename:
            buf[start + 4 : start + 8] = b"free"
        for box in top:
            if box.kind in (b"ftyp", b"meta") or (box.kind == b"mdat" and not exact):
                continue
            if box.kind not in _FREE and box.kind != b"mdat":
                buf[box.start + 4 : box.start + 8] = b"free"  # the size field stays valid
                removed.append("other")
            if blanker.zero(box.body, box.end):
                removed.append("other")

        for item_id, spans in sorted(dropped.items()):
            before = [bytes(buf[start:end]) for start, end in spans]
            for start, end in spans:
                buf[start:end] = bytes(end - start)
            first = spans[0] if spans else (0, 0)
            if drop[item_id] == "exif" and first[1] - first[0] >= len(_EMPTY_EXIF):
                buf[first[0] : first[0] + len(_EMPTY_EXIF)] = _EMPTY_EXIF
            if any(buf[start:end] != old for (start, end), old in zip(spans, before, strict=True)):
                removed.append(drop[item_id])
        return StripResult(bytes(buf), self.name, tuple(dict.fromkeys(removed)))


def _items_to_blank(meta: _Meta, primary: int) -> dict[int, str]:
    """Item id -> category, for every item that is not image data the primary needs."""
    needed = {primary}
    inputs: dict[int, list[int]] = {}
    for kind in (b"dimg", b"base", b"iloc", b"auxl", b"thmb"):
        for source, targets in meta.refs.get(kind, []):
            # dimg/base/iloc point from an image to the items it is built from; auxl/thmb
            # from a helper image to its master, so keep the helper when the master is kept.
            if kind in (b"dimg", b"base", b"iloc"):
                inputs.setdefault(source, []).extend(targets)
            else:
                for target in targets:
                    inputs.setdefault(target, []).append(source)
    pending = [primary]
    while pending:
        for target in inputs.get(pending.pop(), ()):
            if target not in needed:
                needed.add(target)
                pending.append(target)
    describes = {source for source, _ in meta.refs.get(b"cdsc", [])}
    drop: dict[int, str] = {}
    for item_id in {*meta.types, *meta.locations}:
        item_type = meta.types.get(item_id, b"")
        is_image = item_type in _IMAGE_TYPES and item_id not in describes
        if item_id in needed and not is_image and item_type in (b"Exif", b"mime", b"uri "):
            raise MalformedImage("the HEIF primary image is a metadata item (corrupt)")
        if is_image or item_id in needed:
            continue
        if item_type == b"Exif":
            drop[item_id] = "exif"
        elif item_type == b"mime" and meta.content_types.get(item_id, b"").startswith(_XMP_TYPE):
            drop[item_id] = "xmp"
        else:
            drop[item_id] = "other"
    return drop


def _inside(span: tuple[int, int], payloads: list[tuple[int, int]]) -> bool:
    """True when the span lies within one of the sorted, non-overlapping payloads."""
    index = bisect.bisect_right(payloads, (span[0], float("inf"))) - 1
    return index >= 0 and payloads[index][0] <= span[0] and span[1] <= payloads[index][1]


def _spans(location: _Location, meta: _Meta, size: int) -> list[tuple[int, int]] | None:
    """File spans holding an item's bytes, or None when they are not in this file's boxes."""
    if location.data_reference != 0 or location.method not in (0, 1):
        return None
    base, limit = 0, size
    if location.method == 1:
        if meta.idat is None:
            raise MalformedImage("the HEIF stores an item in a missing idat box (corrupt)")
        base, limit = meta.idat
    spans = []
    for offset, length in location.extents:
        start = base + offset
        end = limit if length == 0 else start + length
        if end > limit or start > end:
            raise MalformedImage("a HEIF item's data lies outside the file (truncated or corrupt)")
        spans.append((start, end))
    return spans
