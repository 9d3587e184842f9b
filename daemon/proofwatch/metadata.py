"""What proofwatch keeps from a photo's metadata before removing it all.

Only facts the rules need and the tracker may want: capture time, whether a camera make or
model was recorded, whether GPS was present. Coordinates and serial numbers are never kept.
"""

from __future__ import annotations

import io
import logging
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import exifread

from .imaging import open_lazy

log = logging.getLogger(__name__)

# exifread logs at warning level about every odd tag; those lines are noise in a daemon's log.
logging.getLogger("exifread").setLevel(logging.ERROR)

_EXIF_TIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$")
_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


@dataclass(frozen=True)
class PhotoMetadata:
    captured_at: str | None = None  # ISO 8601, with its UTC offset when the camera wrote one
    camera: bool = False  # a camera make or model was recorded
    had_gps: bool = False
    orientation: int = 1
    found: tuple[str, ...] = field(default=())  # categories exifread saw: gps, makernote, ...

    @property
    def is_empty(self) -> bool:
        """Nothing worth keeping was read (for instance: the file was stripped already)."""
        return not (self.captured_at or self.camera or self.had_gps or self.found)


def _tag_text(tags: dict[str, Any], name: str) -> str | None:
    tag = tags.get(name)
    if tag is None:
        return None
    text = str(tag.printable if hasattr(tag, "printable") else tag).strip().strip("\x00").strip()
    return text or None


def _capture_time(tags: dict[str, Any]) -> str | None:
    for key, offset_key in (
        ("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
        ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
        ("Image DateTime", "EXIF OffsetTime"),
    ):
        raw = _tag_text(tags, key)
        match = _EXIF_TIME.match(raw or "")
        if not match:
            continue
        y, mo, d, h, mi, s = match.groups()
        stamp = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
        offset = _tag_text(tags, offset_key)
        return stamp + offset if offset and _OFFSET.match(offset) else stamp
    return None


def _orientation(tags: dict[str, Any]) -> int:
    tag = tags.get("Image Orientation")
    try:
        value = int(tag.values[0]) if tag is not None else 1
    except (AttributeError, IndexError, TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


_EXIF_IFD, _MAKER_NOTE = 0x8769, 0x927C


def _exifread(data: bytes) -> dict[str, Any]:
    # details=False: decoding MakerNotes costs 8x the rest, and nothing in them is kept.
    try:
        return dict(exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False))
    except Exception as exc:  # exifread raises anything on hostile input
        log.debug("exif read failed: %s", type(exc).__name__)
        return {}


def _tag_field(tiff: bytes, order: str, ifd: int, tag: int) -> int | None:
    """The value-or-offset field of `tag` in the IFD at offset `ifd`, None when absent."""
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    entry = order + "HHII"  # tag, type, count, value or offset: 12 bytes
    for index in range(count):
        entry_tag, _kind, _count, value = struct.unpack_from(entry, tiff, ifd + 2 + 12 * index)
        if entry_tag == tag:
            return int(value)
    return None


def has_maker_note(tiff: bytes) -> bool:
    """Whether the Exif IFD of a TIFF structure lists a MakerNote. A few struct reads where
    Pillow's getexif would decode every tag (half a millisecond per photo)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return False
    try:
        (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
        exif_ifd = _tag_field(tiff, order, ifd0, _EXIF_IFD)
        return exif_ifd is not None and _tag_field(tiff, order, exif_ifd, _MAKER_NOTE) is not None
    except struct.error:  # an offset past the end: a broken block holds no MakerNote
        return False


def _pillow_view(data: bytes) -> tuple[bytes | None, bool]:
    """The raw Exif block as Pillow finds it, and whether it holds a MakerNote.

    Pillow locates Exif where exifread misses it (WebP after odd-sized chunks, WebP Exif
    without its header); the block is then read by exifread like any TIFF file.
    """
    try:
        with open_lazy(data) as image:
            raw = image.info.get("exif")
    except Exception:
        return None, False
    if isinstance(raw, bytes) and raw.startswith(b"Exif\x00\x00"):
        raw = raw[6:]
    if not isinstance(raw, bytes) or raw[:2] not in (b"II", b"MM"):
        return None, False
    return raw, has_maker_note(raw)


def read_metadata(data: bytes) -> PhotoMetadata:
    """Read the facts to keep. Never raises: unreadable metadata is simply absent."""
    tags = _exifread(data)
    raw_exif, has_makernote = _pillow_view(data)
    if raw_exif is not None and "Image Orientation" not in tags and not _capture_time(tags):
        tags = _exifread(raw_exif) or tags
    had_gps = any(key.startswith("GPS ") for key in tags)
    found = []
    if had_gps:
        found.append("gps")
    if has_makernote:
        found.append("makernote")
    if "JPEGThumbnail" in tags or "Thumbnail JPEGInterchangeFormat" in tags:
        found.append("thumbnail")
    return PhotoMetadata(
        captured_at=_capture_time(tags),
        camera=bool(_tag_text(tags, "Image Make") or _tag_text(tags, "Image Model")),
        had_gps=had_gps,
        orientation=_orientation(tags),
        found=tuple(found),
    )
