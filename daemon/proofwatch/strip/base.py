"""The interface every format parser implements, and what stripping returns."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from ..vocabulary import ReasonCode

# How many leading bytes format detection looks at.
SNIFF_BYTES = 64


class StripError(Exception):
    """The file cannot be stripped safely. The message is for a person and names no metadata."""

    reason_code: ReasonCode = "damaged_image"


class UnsupportedFormat(StripError):
    reason_code: ReasonCode = "not_an_image"


class MalformedImage(StripError):
    pass


# What `StripResult.removed` may hold. A category is listed only when something that was not
# already blank went; a second strip of a stripped file therefore reports nothing.
REMOVED_CATEGORIES: dict[str, str] = {
    "exif": "Exif block (GPS, MakerNotes, thumbnails, serials): JPEG APP1, PNG eXIf, "
    "WebP EXIF, HEIF Exif item",
    "xmp": "XMP and Extended XMP: JPEG APP1, PNG iTXt XML:com.adobe.xmp, WebP XMP, HEIF mime item",
    "iptc": "Photoshop image resources and IPTC (JPEG APP13)",
    "comment": "JPEG COM segments",
    "thumbnail": "JFIF/JFXX thumbnails",
    "mpf": "multi-picture index (JPEG APP2 MPF)",
    "fpxr": "FlashPix extension data (JPEG APP2 FPXR)",
    "trailer": "bytes after the end of the image: MPO frames, motion photos, gain maps, junk",
    "text": "PNG tEXt, zTXt and iTXt chunks",
    "time": "PNG tIME",
    "phys": "PNG pHYs",
    "other": "any other vendor or unknown data: JPEG APPn, PNG or WebP chunks, HEIF items "
    "or boxes outside the allowlist",
}


@dataclass(frozen=True)
class StripResult:
    data: bytes
    format: str
    # What was removed, as keys of REMOVED_CATEGORIES, first seen first.
    removed: tuple[str, ...] = ()
    # "lossless": image data copied byte for byte; "rotated": pixels re-encoded upright.
    method: str = "lossless"
    notes: tuple[str, ...] = field(default=())

    @functools.cached_property
    def sha256(self) -> str:
        """Of the stripped bytes: names the photo in verdicts, history and kept facts."""
        return hashlib.sha256(self.data).hexdigest()


class FormatParser(Protocol):
    """One parser per format: recognise it by its first bytes, strip it as a pure function."""

    name: ClassVar[str]

    def sniff(self, head: bytes) -> bool:
        """True when `head` (the first 32 bytes or more) starts a file of this format."""
        ...

    def strip(self, data: bytes, orientation: int) -> StripResult:
        """Return the file with every piece of metadata removed.

        `orientation` is the EXIF orientation (1-8) read before stripping; the result must
        display the same way (keep a minimal orientation tag, or rotate the pixels).
        Raises StripError (MalformedImage when the bytes do not parse) and nothing else.
        """
        ...


# Far more parts (segments, chunks, boxes, items, extents) than any camera, phone or browser
# writes. A file with more is hostile or broken; refusing it bounds every parser's work.
MAX_PARTS = 50_000


class PartBudget:
    """Counts the parts of one file as a parser meets them; MalformedImage past MAX_PARTS."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.left = MAX_PARTS

    def take(self, count: int = 1) -> None:
        self.left -= count
        if self.left < 0:
            raise MalformedImage(f"the {self.what} has an absurd number of parts (corrupt)")


def checked_end(start: int, length: int, limit: int, what: str) -> int:
    """End of a `length`-byte structure at `start`; MalformedImage when it passes `limit`."""
    end = start + length
    if length < 0 or end > limit:
        raise MalformedImage(f"{what} runs past the end of the file (truncated or corrupt)")
    return end
