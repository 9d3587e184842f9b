"""WebP: walk the RIFF chunks, keep what decoding needs, drop EXIF, XMP and unknown chunks.

Kept byte for byte: VP8 / VP8L bitstreams, ALPH, ICCP, ANIM, and ANMF frames (whose own
sub-chunks are filtered the same way). VP8X is rewritten with its EXIF/XMP flags cleared and
its reserved bits zeroed, and the RIFF size is recomputed. Where the photo was not upright, a
minimal EXIF chunk holding only Orientation is appended and flagged in VP8X (a VP8X is
created for a simple-format file, from the bitstream's own dimensions). It starts with the
"Exif\\0\\0" header, as camera-made WebP files do: exifread only finds it that way, and
Pillow reads it either way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import ClassVar

from .base import MalformedImage, PartBudget, StripResult, checked_end
from .orientation import EXIF_HEADER, is_orientation_only, orientation_tiff

# VP8X flag bits (spec: |Rsv|I|L|E|X|A|R|).
_ICC, _ALPHA, _EXIF, _XMP, _ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
_BITSTREAMS = (b"VP8 ", b"VP8L")
_KEEP_TOP = frozenset({b"ICCP", b"ANIM", b"ANMF", b"ALPH", *_BITSTREAMS})
_KEEP_FRAME = frozenset({b"ALPH", *_BITSTREAMS})
_CATEGORY = {b"EXIF": "exif", b"XMP ": "xmp"}
_ANMF_HEADER = 16  # X, Y, width, height (24 bits each), duration (24), flags (8)


def _chunks(
    data: memoryview, start: int, end: int, budget: PartBudget
) -> Iterator[tuple[bytes, int, int]]:
    """(FourCC, payload start, payload end) for each chunk in data[start:end]."""
    pos = start
    while pos < end:
        budget.take()
        if pos + 8 > end:
            raise MalformedImage("the WebP ends inside a chunk header (truncated)")
        kind = bytes(data[pos : pos + 4])
        (length,) = struct.unpack_from("<I", data, pos + 4)
        payload_end = checked_end(pos + 8, length, end, "a WebP chunk")
        yield kind, pos + 8, payload_end
        # Odd sizes carry a pad byte; the last chunk of a file sometimes lacks it.
        pos = min(payload_end + (length & 1), end)


def _chunk(kind: bytes, payload: bytes | memoryview) -> bytes:
    header = kind + struct.pack("<I", len(payload))
    return header + bytes(payload) + (b"\x00" if len(payload) & 1 else b"")


def _canvas(kind: bytes, payload: memoryview) -> tuple[int, int, bool]:
    """Width, height and alpha of a simple-format bitstream, read from its header."""
    head = bytes(payload[:10])
    if kind == b"VP8 " and len(head) == 10 and head[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 6)
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and len(head) >= 5 and head[0] == 0x2F:
        (bits,) = struct.unpack_from("<I", head, 1)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    raise MalformedImage("the WebP bitstream header is corrupt")


def _vp8x(flags: int, width: int, height: int) -> bytes:
    if not (1 <= width <= 1 << 24 and 1 <= height <= 1 << 24):
        raise MalformedImage("the WebP canvas size is invalid")
    size = struct.pack("<II", width - 1, height - 1)
    return _chunk(b"VP8X", bytes((flags, 0, 0, 0)) + size[:3] + size[4:7])


class WebpParser:
    name: ClassVar[str] = "webp"

    def sniff(self, head: bytes) -> bool:
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"

    def strip(self, data: bytes, orientation: int) -> StripResult:
        view = memoryview(data)
        if len(data) < 20:
            raise MalformedImage("the WebP is too short to hold an image (truncated)")
        (riff_size,) = struct.unpack_from("<I", data, 4)
        riff_end = checked_end(8, riff_size, len(data), "the WebP RIFF container")
        removed: list[str] = []
        kept: list[bytes | memoryview] = []
        vp8x: memoryview | None = None
        bitstream: tuple[bytes, memoryview] | None = None
        budget = PartBudget("WebP")
        for index, (kind, start, end) in enumerate(_chunks(view, 12, riff_end, budget)):
            payload = view[start:end]
            if kind == b"VP8X" and index == 0:
                if len(payload) < 10:
                    raise MalformedImage("the WebP VP8X header is too short")
                vp8x = payload
            elif vp8x is None and bitstream is not None:
                # Simple format: one bitstream and nothing else counts.
                removed.append(_CATEGORY.get(kind, "other"))
            elif kind in (_KEEP_TOP if vp8x is not None else _BITSTREAMS):
                if kind == b"ANMF":
                    kept.append(self._frame(view, start, end, removed, budget))
                else:
                    kept.append(_chunk(kind, payload))
                if kind in _BITSTREAMS and bitstream is None:
                    bitstream = (kind, payload)
            elif not (kind == b"EXIF" and is_orientation_only(payload)):
                removed.append(_CATEGORY.get(kind, "other"))
        if bitstream is None and not any(bytes(chunk[:4]) == b"ANMF" for chunk in kept):
            raise MalformedImage("the WebP holds no image data")
        if riff_end < len(data):
            removed.append("trailer")
        header: tuple[int, int, int] | None = None  # VP8X flags, canvas width and height
        if vp8x is not None:
            header = (
                vp8x[0] & (_ALPHA | _ANIMATION),
                int.from_bytes(vp8x[4:7], "little") + 1,
                int.from_bytes(vp8x[7:10], "little") + 1,
            )
        elif orientation != 1 and bitstream is not None:
            width, height, alpha = _canvas(*bitstream)
            header = (_ALPHA if alpha else 0, width, height)
        if header is not None:  # otherwise a simple-format file stays simple
            flags, width, height = header
            if any(bytes(chunk[:4]) == b"ICCP" for chunk in kept):
                flags |= _ICC
            if orientation != 1:
                flags |= _EXIF
                kept.append(_chunk(b"EXIF", EXIF_HEADER + orientation_tiff(orientation)))
            kept.insert(0, _vp8x(flags, width, height))
        body = b"".join(kept)
        out = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
        return StripResult(out, self.name, tuple(dict.fromkeys(removed)))

    @staticmethod
    def _frame(
        view: memoryview, start: int, end: int, removed: list[str], budget: PartBudget
    ) -> bytes:
        """An ANMF chunk with only its image sub-chunks left."""
        if end - start < _ANMF_HEADER:
            raise MalformedImage("a WebP animation frame is too short")
        parts: list[bytes | memoryview] = [view[start : start + _ANMF_HEADER]]
        for kind, sub_start, sub_end in _chunks(view, start + _ANMF_HEADER, end, budget):
            if kind in _KEEP_FRAME:
                parts.append(_chunk(kind, view[sub_start:sub_end]))
            else:
                removed.append(_CATEGORY.get(kind, "other"))
        return _chunk(b"ANMF", b"".join(parts))
