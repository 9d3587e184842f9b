"""The Exif a phone or camera writes into a JPEG: what the daemon must find and remove."""

from __future__ import annotations

import io
from datetime import datetime

from PIL import Image

_MAKE, _MODEL, _ORIENTATION, _SOFTWARE, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0131, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


def _gps_rational(value: float) -> tuple[float, float, float]:
    degrees = int(abs(value))
    minutes = int((abs(value) - degrees) * 60)
    seconds = round(((abs(value) - degrees) * 60 - minutes) * 60, 2)
    return (float(degrees), float(minutes), seconds)


def camera_exif(
    make: str,
    model: str,
    *,
    taken_at: datetime | None = None,
    gps: tuple[float, float] | None = None,
    orientation: int | None = None,
    software: str | None = None,
) -> Image.Exif:
    """Make, model, capture time (with its offset, where known), GPS and Orientation."""
    exif = Image.Exif()
    exif[_MAKE] = make
    exif[_MODEL] = model
    if software is not None:
        exif[_SOFTWARE] = software
    if orientation is not None:
        exif[_ORIENTATION] = orientation
    if taken_at is not None:
        stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
        exif[_DATETIME] = stamp
        sub = exif.get_ifd(_EXIF_IFD)
        sub[_DATETIME_ORIGINAL] = stamp
        offset = taken_at.strftime("%z")
        if offset:
            sub[_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
    if gps is not None:
        lat, lon = gps
        exif.get_ifd(_GPS_IFD).update(
            {
                1: "N" if lat >= 0 else "S",
                2: _gps_rational(lat),
                3: "E" if lon >= 0 else "W",
                4: _gps_rational(lon),
            }
        )
    return exif


def jpeg_bytes(image: Image.Image, exif: Image.Exif | None, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, exif=(exif or Image.Exif()).tobytes())
    return out.getvalue()
