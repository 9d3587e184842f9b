"""Metadata removal: one parser per format behind one interface, all pure functions of bytes."""

from __future__ import annotations

from .base import FormatParser, MalformedImage, StripError, StripResult, UnsupportedFormat
from .jpeg import JpegParser

PARSERS: tuple[FormatParser, ...] = (JpegParser(),)


def detect_format(head: bytes) -> FormatParser | None:
    return next((p for p in PARSERS if p.sniff(head)), None)


def strip_bytes(data: bytes, orientation: int = 1) -> StripResult:
    """Strip every piece of metadata from an image held in memory."""
    parser = detect_format(data[:64])
    if parser is None:
        raise UnsupportedFormat("not a supported image format (JPEG, PNG, WebP, HEIC/HEIF)")
    return parser.strip(data, orientation)


__all__ = [
    "PARSERS",
    "FormatParser",
    "MalformedImage",
    "StripError",
    "StripResult",
    "UnsupportedFormat",
    "detect_format",
    "strip_bytes",
]
