"""Metadata removal: one parser per format behind one interface, all pure functions of bytes."""

from __future__ import annotations

import struct

from .base import (
    REMOVED_CATEGORIES,
    SNIFF_BYTES,
    FormatParser,
    MalformedImage,
    StripError,
    StripResult,
    UnsupportedFormat,
)
from .heif import HeifParser
from .jpeg import JpegParser
from .png import PngParser
from .webp import WebpParser

PARSERS: tuple[FormatParser, ...] = (JpegParser(), PngParser(), WebpParser(), HeifParser())


def detect_format(head: bytes) -> FormatParser | None:
    return next((p for p in PARSERS if p.sniff(head)), None)


_SUPPORTED = "JPEG, PNG, WebP and HEIC/HEIF are"
# Formats people upload by mistake, named so the verdict says what the file is.
_OTHER_MAGIC = (
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"8BPS", "Photoshop"),
)


def _unsupported(head: bytes) -> UnsupportedFormat:
    if not head:
        return UnsupportedFormat("the file is empty")
    for magic, kind in _OTHER_MAGIC:
        if head.startswith(magic):
            return UnsupportedFormat(f"{kind} files are not supported (only {_SUPPORTED})")
    return UnsupportedFormat(f"not an image in a supported format (only {_SUPPORTED})")


def strip_bytes(data: bytes, orientation: int = 1) -> StripResult:
    """Strip every piece of metadata from an image held in memory.

    Raises StripError (UnsupportedFormat, MalformedImage) for any input it cannot strip, and
    ValueError only for an orientation outside 1-8, which is the caller's bug.
    """
    if not 1 <= orientation <= 8:
        raise ValueError(f"orientation out of range: {orientation}")
    parser = detect_format(data[:SNIFF_BYTES])
    if parser is None:
        raise _unsupported(data[:16])
    try:
        return parser.strip(data, orientation)
    except StripError:
        raise
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        # Every parser checks its bounds itself and the fuzz tests call them directly, so this
        # net should stay unused; it turns a missed check into a rejection, not a crash.
        raise MalformedImage(f"the {parser.name.upper()} file could not be parsed") from exc


__all__ = [
    "PARSERS",
    "REMOVED_CATEGORIES",
    "FormatParser",
    "MalformedImage",
    "StripError",
    "StripResult",
    "UnsupportedFormat",
    "detect_format",
    "strip_bytes",
]
