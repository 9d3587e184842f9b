"""A minimal Exif block that holds Orientation and nothing else."""

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
