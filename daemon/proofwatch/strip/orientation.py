"""A minimal Exif block that holds Orientation and nothing else, shared by every format.

JPEG's APP1 and WebP's EXIF chunk carry it after the "Exif\\0\\0" header (see webp.py for
why), PNG's eXIf as the bare TIFF structure. HEIF needs none: its orientation lives in the
irot/imir properties, and its Exif item is left as an empty TIFF structure (EMPTY_TIFF).
"""

from __future__ import annotations

import struct

EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_SHORT = 3


def orientation_tiff(orientation: int) -> bytes:
    """A big-endian TIFF structure with one IFD holding one entry: Orientation."""
    if not 1 <= orientation <= 8:
        raise ValueError(f"orientation out of range: {orientation}")
    header = b"MM\x00\x2a" + struct.pack(">I", 8)
    entry = struct.pack(">HHIHH", _ORIENTATION_TAG, _SHORT, 1, orientation, 0)
    return header + struct.pack(">H", 1) + entry + struct.pack(">I", 0)


# A TIFF structure whose only IFD is empty: what a HEIF Exif item is overwritten with, so
# readers that parse it (Pillow via pillow-heif) find valid, empty Exif instead of zeros.
EMPTY_TIFF = b"MM\x00\x2a" + struct.pack(">IHI", 8, 0, 0)

_OURS = frozenset(orientation_tiff(n) for n in range(1, 9))


def is_orientation_only(block: bytes | memoryview) -> bool:
    """True for a block this module wrote (with or without the Exif header).

    Lets a second strip recognise its own output and report nothing removed.
    """
    raw = bytes(block) if len(block) <= len(EXIF_HEADER) + 26 else b""
    if raw.startswith(EXIF_HEADER):
        raw = raw[len(EXIF_HEADER) :]
    return raw in _OURS
