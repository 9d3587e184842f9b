"""JPEG (and MPO): walk every segment by its length, keep what decoding needs, drop the rest.

Kept: SOI, DQT, DHT, DAC, DRI, SOFn, SOS with its scan data, DNL, JFIF APP0 (thumbnail
removed), ICC_PROFILE APP2, Adobe APP14. Everything after the primary image's EOI goes,
which turns an MPO into its first frame and drops motion-photo and IPTC trailers.
"""

from __future__ import annotations

import re
import struct
from typing import ClassVar

from .base import MalformedImage, StripResult
from .orientation import EXIF_HEADER, orientation_tiff

SOI = b"\xff\xd8"
EOI = 0xD9
SOS = 0xDA
APP0, APP1, APP2, APP13, APP14 = 0xE0, 0xE1, 0xE2, 0xED, 0xEE
COM = 0xFE
# Markers that carry no length: TEM and RST0-7 (they only appear inside scans).
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# Decoding markers with a length: SOF0-15 (incl. DHT C4, DAC CC), DQT, DNL, DRI, DHP, EXP.
_DECODING = {*range(0xC0, 0xD0), 0xDB, 0xDC, 0xDD, 0xDE, 0xDF}
# The end of entropy-coded data: a 0xFF followed by anything but stuffing (00) or RSTn.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

_XMP_PREFIXES = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")


def _app_category(marker: int, payload: bytes) -> str | None:
    """The category of an APPn segment that must go, or None when it is kept as is."""
    if marker == APP0:
        return None if payload.startswith(b"JFIF\x00") else "app0"
    if marker == APP1:
        if payload.startswith(EXIF_HEADER):
            return "exif"
        if payload.startswith(_XMP_PREFIXES):
            return "xmp"
        return "app1"
    if marker == APP2:
        if payload.startswith(b"ICC_PROFILE\x00"):
            return None
        if payload.startswith(b"MPF\x00"):
            return "mpf"
        if payload.startswith(b"FPXR\x00"):
            return "fpxr"
        return "app2"
    if marker == APP13:
        return "iptc"
    if marker == APP14 and payload.startswith(b"Adobe"):
        return None
    return f"app{marker - APP0}"


def _clean_jfif(payload: bytes) -> tuple[bytes, bool]:
    """JFIF APP0 without its thumbnail; True when a thumbnail was there."""
    if len(payload) < 14:
        raise MalformedImage("the JFIF header is too short")
    had_thumbnail = len(payload) > 14 or payload[12:14] != b"\x00\x00"
    return payload[:12] + b"\x00\x00", had_thumbnail


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


class JpegParser:
    name: ClassVar[str] = "jpeg"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"\xff\xd8\xff")

    def strip(self, data: bytes, orientation: int) -> StripResult:
        removed: list[str] = []
        jfif: bytes | None = None
        body: list[bytes] = []
        size = len(data)
        pos = 2
        saw_frame = saw_scan = False
        while True:
            if pos >= size:
                raise MalformedImage("the JPEG ends before its end-of-image marker (truncated)")
            if data[pos] != 0xFF:
                raise MalformedImage(f"the JPEG has garbage where a marker should be (byte {pos})")
            while pos < size and data[pos] == 0xFF:  # fill bytes
                pos += 1
            if pos >= size:
                raise MalformedImage("the JPEG ends inside a marker (truncated)")
            marker = data[pos]
            pos += 1
            if marker == EOI:
                break
            if marker in _STANDALONE:
                body.append(bytes((0xFF, marker)))
                continue
            if pos + 2 > size:
                raise MalformedImage("the JPEG ends inside a segment header (truncated)")
            (length,) = struct.unpack_from(">H", data, pos)
            end = pos + length
            if length < 2 or end > size:
                raise MalformedImage("a JPEG segment runs past the end of the file (truncated)")
            payload = data[pos + 2 : end]
            pos = end
            if marker == SOS:
                if not saw_frame:
                    raise MalformedImage("the JPEG has image data before its frame header")
                match = _SCAN_END.search(data, pos)
                scan_end = match.start() if match else size
                if match is None:
                    raise MalformedImage("the JPEG image data is cut off (truncated)")
                body.append(_segment(marker, payload) + data[pos:scan_end])
                pos = scan_end
                saw_scan = True
            elif marker in _DECODING:
                saw_frame = saw_frame or marker not in (0xC4, 0xCC, 0xDB, 0xDD, 0xDC, 0xDE, 0xDF)
                body.append(_segment(marker, payload))
            elif APP0 <= marker <= 0xEF:
                category = _app_category(marker, payload)
                if category is None and marker == APP0:
                    if jfif is None:
                        payload, had_thumbnail = _clean_jfif(payload)
                        jfif = _segment(APP0, payload)
                        if had_thumbnail:
                            removed.append("thumbnail")
                    continue
                if category is None:
                    body.append(_segment(marker, payload))
                else:
                    removed.append(category)
            elif marker == COM:
                removed.append("comment")
            else:
                removed.append(f"marker-{marker:02x}")
        if not saw_scan:
            raise MalformedImage("the JPEG holds no image data")
        if pos < size:
            removed.append("trailer")
        head = [SOI]
        if jfif is not None:
            head.append(jfif)
        if orientation != 1:
            head.append(_segment(APP1, EXIF_HEADER + orientation_tiff(orientation)))
        out = b"".join([*head, *body, b"\xff\xd9"])
        return StripResult(out, self.name, tuple(dict.fromkeys(removed)))
