"""JPEG (and MPO): walk every segment by its length, keep what decoding needs, drop the rest.

Kept: SOI, DQT, DHT, DAC, DRI, SOFn, SOS with its scan data, DNL, JFIF APP0 (thumbnail
removed), ICC_PROFILE APP2, Adobe APP14 (cut to its 12 defined bytes). Everything after the
primary image's EOI goes, which turns an MPO into its first frame and drops motion-photo,
gain-map and IPTC trailers. Metadata is dropped wherever it sits: before APP0, after SOF,
between progressive scans. Kept segments are copied byte for byte, so pixels are unchanged.
"""

from __future__ import annotations

import re
import struct
from typing import ClassVar

from .base import MalformedImage, PartBudget, StripResult, checked_end
from .orientation import EXIF_HEADER, is_orientation_only, orientation_tiff

SOI = b"\xff\xd8"
EOI_SEGMENT = b"\xff\xd9"
EOI, SOI_MARKER = 0xD9, 0xD8
SOS = 0xDA
APP0, APP1, APP2, APP13, APP14, APP15 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xEF
COM = 0xFE
# Markers that carry no length: TEM and RST0-7.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Decoding markers with a length: SOF0-15 (with DHT C4, JPG C8, DAC CC), DQT, DNL, DRI, DHP, EXP.
_DECODING = frozenset({*range(0xC0, 0xD0), 0xDB, 0xDC, 0xDD, 0xDE, 0xDF})
# Of those, the ones that start a frame (scan data before any of them is corrupt).
_FRAME = frozenset({*range(0xC0, 0xD0), 0xDE}) - {0xC4, 0xC8, 0xCC}
# Inside entropy-coded data a 0xFF is followed by stuffing (00), RSTn or a fill byte (FF);
# any other byte after it is a marker, which ends the scan. A table indexed by that byte.
_ENDS_SCAN = bytes(b not in {0x00, *range(0xD0, 0xD8), 0xFF} for b in range(256))
_FILL = re.compile(rb"\xff+")  # a marker's 0xFF and any fill bytes before it

_XMP_PREFIXES = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_JFIF_LENGTH = 14  # "JFIF\0", version, units, densities, thumbnail width and height
_ADOBE_LENGTH = 12  # "Adobe", version, flags0, flags1, transform


def _app_category(marker: int, payload: bytes | memoryview) -> str | None:
    """The category of an APPn segment that must go, or None when it is kept."""
    head = bytes(payload[:35])
    if marker == APP0:
        if head.startswith(b"JFIF\x00") and len(payload) >= _JFIF_LENGTH:
            return None
        return "thumbnail" if head.startswith(b"JFXX\x00") else "other"
    if marker == APP1:
        if head.startswith(EXIF_HEADER):
            return "exif"
        return "xmp" if head.startswith(_XMP_PREFIXES) else "other"
    if marker == APP2:
        if head.startswith(b"ICC_PROFILE\x00"):
            return None
        if head.startswith(b"MPF\x00"):
            return "mpf"
        return "fpxr" if head.startswith(b"FPXR\x00") else "other"
    if marker == APP13:
        return "iptc"
    if marker == APP14 and head.startswith(b"Adobe") and len(payload) >= _ADOBE_LENGTH:
        return None
    return "other"


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _scan_end(data: bytes, pos: int) -> int:
    """Where entropy-coded data starting at `pos` ends: the first 0xFF that starts a marker.
    bytes.find runs at memchr speed and 0xFF is rare in scan data, so this beats a regex;
    the loop is kept tight because a 12 MP photo has thousands of stuffed 0xFF bytes."""
    find, ends_scan = data.find, _ENDS_SCAN
    try:
        while True:
            after = find(b"\xff", pos) + 1  # 0 when there is no 0xFF left
            if not after:
                break
            if ends_scan[data[after]]:
                return after - 1
            pos = after
    except IndexError:  # a 0xFF as the very last byte
        pass
    raise MalformedImage("the JPEG image data is cut off (truncated)")


class JpegParser:
    name: ClassVar[str] = "jpeg"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"\xff\xd8\xff")

    def strip(self, data: bytes, orientation: int) -> StripResult:
        view = memoryview(data)
        removed: list[str] = []
        jfif: bytes | None = None
        # Slices of the input, joined once at the end: a 5 MB scan is copied a single time.
        body: list[bytes | memoryview] = []
        size = len(data)
        pos = 2
        saw_frame = saw_scan = False
        budget = PartBudget("JPEG")
        while True:
            budget.take()
            if pos >= size:
                raise MalformedImage("the JPEG ends before its end-of-image marker (truncated)")
            fill = _FILL.match(data, pos)
            if fill is None:
                raise MalformedImage(f"the JPEG has garbage where a marker should be (byte {pos})")
            pos = fill.end()
            if pos >= size:
                raise MalformedImage("the JPEG ends inside a marker (truncated)")
            start = pos - 1  # the 0xFF right before the marker: fill bytes are not copied
            marker = data[pos]
            pos += 1
            if marker == EOI:
                break
            if marker in _STANDALONE:
                body.append(view[start:pos])
                continue
            if marker == SOI_MARKER or not (
                marker in _DECODING or APP0 <= marker <= APP15 or marker in (SOS, COM)
            ):
                # libjpeg stops on these too; a photo that has them is corrupt.
                raise MalformedImage(f"the JPEG has an invalid marker 0xFF{marker:02X} (corrupt)")
            if pos + 2 > size:
                raise MalformedImage("the JPEG ends inside a segment header (truncated)")
            (length,) = struct.unpack_from(">H", data, pos)
            if length < 2:
                raise MalformedImage("a JPEG segment has an impossible length (corrupt)")
            end = checked_end(pos, length, size, "a JPEG segment")
            payload = view[pos + 2 : end]
            pos = end
            if marker == SOS:
                if not saw_frame:
                    raise MalformedImage("the JPEG has image data before its frame header")
                pos = scan_end = _scan_end(data, pos)
                while scan_end > end and data[scan_end - 1] == 0xFF:  # fill bytes: not copied
                    scan_end -= 1
                body.append(view[start:scan_end])
                saw_scan = True
            elif marker in _DECODING:
                saw_frame = saw_frame or marker in _FRAME
                body.append(view[start:end])
            elif marker == COM:
                removed.append("comment")
            else:
                category = _app_category(marker, payload)
                if category is None and marker == APP0:
                    if jfif is None:  # the first one only, moved right after SOI
                        if len(payload) > _JFIF_LENGTH or bytes(payload[12:14]) != b"\x00\x00":
                            removed.append("thumbnail")
                        jfif = _segment(APP0, bytes(payload[:12]) + b"\x00\x00")
                    else:
                        removed.append("other")
                elif category is None and marker == APP14:
                    if len(payload) > _ADOBE_LENGTH:
                        removed.append("other")
                    body.append(_segment(APP14, bytes(payload[:_ADOBE_LENGTH])))
                elif category is None:
                    body.append(view[start:end])
                elif not (category == "exif" and is_orientation_only(payload)):
                    removed.append(category)
        if not saw_scan:
            raise MalformedImage("the JPEG holds no image data")
        if pos < size:
            removed.append("trailer")
        head: list[bytes | memoryview] = [SOI]
        if jfif is not None:
            head.append(jfif)
        if orientation != 1:
            head.append(_segment(APP1, EXIF_HEADER + orientation_tiff(orientation)))
        out = b"".join([*head, *body, EOI_SEGMENT])
        return StripResult(out, self.name, tuple(dict.fromkeys(removed)))
