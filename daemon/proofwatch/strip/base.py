"""The interface every format parser implements, and what stripping returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol


class StripError(Exception):
    """The file cannot be stripped safely. The message is for a person and names no metadata."""


class UnsupportedFormat(StripError):
    pass


class MalformedImage(StripError):
    pass


@dataclass(frozen=True)
class StripResult:
    data: bytes
    format: str
    # What was removed, as categories ("exif", "xmp", "iptc", "comment", "thumbnail", ...).
    removed: tuple[str, ...] = ()
    # "lossless": image data copied byte for byte; "rotated": pixels re-encoded upright.
    method: str = "lossless"
    notes: tuple[str, ...] = field(default=())


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
        Raises MalformedImage when the bytes do not parse.
        """
        ...
