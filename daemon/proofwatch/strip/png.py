"""PNG (and APNG): keep an allowlist of chunks, drop every other one wherever it sits.

Kept chunks are copied byte for byte (pixels unchanged); every CRC is checked, so a corrupt
file is rejected rather than half-understood. Anything after IEND goes. Where the photo was
not upright, a minimal eXIf holding only Orientation goes right after IHDR: that keeps the
pixels lossless, and Pillow and browsers honour eXIf orientation.
"""

from __future__ import annotations

import struct
import zlib
from typing import ClassVar

from .base import MalformedImage, PartBudget, StripResult, checked_end
from .orientation import is_orientation_only, orientation_tiff

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IEND = b"\x00\x00\x00\x00IEND\xae\x42\x60\x82"
_MAX_LENGTH = 2**31 - 1  # the PNG limit on a chunk's length

# Allowed chunk -> (minimum, maximum) data length. An ancillary chunk of the wrong size is
# dropped (decoders ignore it, and extra bytes could carry anything); a critical one is fatal.
_KEEP: dict[bytes, tuple[int, int]] = {
    b"IHDR": (13, 13),
    b"PLTE": (3, 768),
    b"IDAT": (0, _MAX_LENGTH),
    b"tRNS": (1, 256),
    b"gAMA": (4, 4),
    b"cHRM": (32, 32),
    b"sRGB": (1, 1),
    b"iCCP": (3, _MAX_LENGTH),
    b"sBIT": (1, 4),
    b"cICP": (4, 4),
    b"mDCV": (24, 24),
    b"cLLI": (8, 8),
    b"acTL": (8, 8),
    b"fcTL": (26, 26),
    b"fdAT": (4, _MAX_LENGTH),
}
_CATEGORY = {
    b"eXIf": "exif",
    b"tEXt": "text",
    b"zTXt": "text",
    b"iTXt": "text",
    b"tIME": "time",
    b"pHYs": "phys",
}
_XMP_KEYWORD = b"XML:com.adobe.xmp\x00"
# iCCP's profile name is free text; the name carries no colour information, so it is replaced.
_ICC_NAME = b"ICC profile"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _clean_iccp(payload: memoryview) -> bytes | None:
    """iCCP with a neutral profile name, or None when it is malformed."""
    raw = bytes(payload[:81])
    nul = raw.find(b"\x00")
    if not 1 <= nul <= 79:
        return None
    return _chunk(b"iCCP", _ICC_NAME + bytes(payload[nul:]))


class PngParser:
    name: ClassVar[str] = "png"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(SIGNATURE)

    def strip(self, data: bytes, orientation: int) -> StripResult:
        view = memoryview(data)
        size = len(data)
        removed: list[str] = []
        kept: list[bytes | memoryview] = []
        pos = len(SIGNATURE)
        saw_idat = False
        budget = PartBudget("PNG")
        while True:
            budget.take()
            if pos + 12 > size:
                raise MalformedImage("the PNG ends before its IEND chunk (truncated)")
            length, kind = struct.unpack_from(">I4s", data, pos)
            if length > _MAX_LENGTH or not kind.isalpha():
                raise MalformedImage(f"the PNG has a corrupt chunk header (byte {pos})")
            data_end = checked_end(pos + 8, length, size - 4, "a PNG chunk")
            (crc,) = struct.unpack_from(">I", data, data_end)
            if zlib.crc32(view[pos + 4 : data_end]) != crc:
                raise MalformedImage(f"the PNG chunk {kind.decode()} fails its CRC check (corrupt)")
            payload = view[pos + 8 : data_end]
            chunk = view[pos : data_end + 4]
            if (kind == b"IHDR") == bool(kept):
                raise MalformedImage("the PNG does not have exactly one IHDR, first")
            pos = data_end + 4
            if kind == b"IEND":
                break
            bounds = _KEEP.get(kind)
            critical = kind[:1].isupper()  # a decoder must fail on a critical chunk it lacks
            if bounds is None and critical:
                raise MalformedImage(f"the PNG has an unknown critical chunk {kind.decode()}")
            if bounds is None:
                category = _CATEGORY.get(kind, "other")
                if kind == b"iTXt" and bytes(payload[: len(_XMP_KEYWORD)]) == _XMP_KEYWORD:
                    category = "xmp"
                if not (kind == b"eXIf" and is_orientation_only(payload)):
                    removed.append(category)
            elif not bounds[0] <= length <= bounds[1]:
                if critical:
                    raise MalformedImage(f"the PNG chunk {kind.decode()} has a wrong size")
                removed.append("other")
            elif kind == b"iCCP":
                iccp = _clean_iccp(payload)
                if iccp is None:
                    removed.append("other")
                else:
                    kept.append(iccp)
            else:
                saw_idat = saw_idat or kind == b"IDAT"
                kept.append(chunk)
                if kind == b"IHDR" and orientation != 1:
                    kept.append(_chunk(b"eXIf", orientation_tiff(orientation)))
        if not saw_idat:
            raise MalformedImage("the PNG holds no image data")
        if pos < size:
            removed.append("trailer")
        out = b"".join([SIGNATURE, *kept, _IEND])
        return StripResult(out, self.name, tuple(dict.fromkeys(removed)))
