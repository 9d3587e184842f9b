"""Pillow, set up once for every format phones upload: HEIC/HEIF decoding is a plugin."""

from __future__ import annotations

import functools
import io

from PIL import Image


@functools.cache
def enable_heif() -> None:
    from pillow_heif import register_heif_opener

    register_heif_opener()


def open_lazy(data: bytes) -> Image.Image:
    """Open without decoding pixels (Pillow reads headers only until `load`)."""
    if data[4:8] == b"ftyp":  # ISO BMFF: HEIC/HEIF. The plugin costs 15 ms to load, so
        enable_heif()  # a run that never sees one (`proofwatch strip *.jpg`) skips it.
    return Image.open(io.BytesIO(data))
