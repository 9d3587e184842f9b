"""Generated proof photos: a code written on paper, with camera metadata to strip.

Used by `make demo`, the tests and the benchmarks, so none of them needs a real photo of a
person. The writing is drawn with jittered strokes so it looks handwritten, not typeset.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# Exif tag numbers used below.
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


@dataclass(frozen=True)
class Camera:
    make: str = "ProofCam"
    model: str = "PC-1"
    taken_at: datetime | None = None
    gps: tuple[float, float] | None = (48.8583, 2.2944)


def _paper_background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, (rng.randint(60, 120),) * 3)
    draw = ImageDraw.Draw(image)
    for _ in range(40):  # clutter behind the paper
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randint(30, 200) for _ in range(3))
        draw.rectangle((x, y, x + rng.randint(20, 200), y + rng.randint(20, 200)), fill=colour)
    margin_x, margin_y = width // 8, height // 5
    draw.rectangle(
        (margin_x, margin_y, width - margin_x, height - margin_y), fill=(245, 242, 232)
    )
    return image


def draw_code(
    code: str,
    *,
    seed: int = 0,
    size: tuple[int, int] = (1600, 1200),
    angle: float | None = None,
    blur: float = 0.6,
) -> Image.Image:
    """A photo of `code` written in ink on a sheet of paper on a cluttered table."""
    rng = random.Random(seed)
    image = _paper_background(rng, size)
    text_layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(text_layer)
    font = ImageFont.load_default(size=size[1] // 6)
    x = size[0] // 4
    baseline = size[1] // 2 - size[1] // 12
    for char in code:
        jitter_x, jitter_y = rng.randint(-8, 8), rng.randint(-14, 14)
        glyph = Image.new("L", (size[1] // 4, size[1] // 4), 0)
        ImageDraw.Draw(glyph).text((10, 0), char, fill=255, font=font)
        glyph = glyph.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC)
        text_layer.paste(glyph, (x + jitter_x, baseline + jitter_y), glyph)
        x += int(font.getlength(char)) + rng.randint(4, 18)
    draw.point([(0, 0)], fill=0)
    ink = Image.new("RGB", size, (20, 30, 90))
    image.paste(ink, (0, 0), text_layer)
    tilt = rng.uniform(-6, 6) if angle is None else angle
    image = image.rotate(tilt, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90))
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


def _gps_rational(value: float) -> tuple[float, float, float]:
    degrees = int(abs(value))
    minutes = int((abs(value) - degrees) * 60)
    seconds = round(((abs(value) - degrees) * 60 - minutes) * 60, 2)
    return (float(degrees), float(minutes), seconds)


def to_jpeg(image: Image.Image, camera: Camera | None = Camera(), quality: int = 90) -> bytes:
    """Encode as JPEG, with the camera's Exif (make, model, capture time, GPS) when given."""
    exif = Image.Exif()
    if camera is not None:
        exif[_MAKE] = camera.make
        exif[_MODEL] = camera.model
        if camera.taken_at is not None:
            stamp = camera.taken_at.strftime("%Y:%m:%d %H:%M:%S")
            exif[_DATETIME] = stamp
            sub = exif.get_ifd(_EXIF_IFD)
            sub[_DATETIME_ORIGINAL] = stamp
            offset = camera.taken_at.strftime("%z")
            if offset:
                sub[_OFFSET_TIME_ORIGINAL] = f"{offset[:3]}:{offset[3:]}"
        if camera.gps is not None:
            lat, lon = camera.gps
            gps = exif.get_ifd(_GPS_IFD)
            gps.update(
                {
                    1: "N" if lat >= 0 else "S",
                    2: _gps_rational(lat),
                    3: "E" if lon >= 0 else "W",
                    4: _gps_rational(lon),
                }
            )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def proof_jpeg(code: str, *, seed: int = 0, camera: Camera | None = Camera()) -> bytes:
    return to_jpeg(draw_code(code, seed=seed), camera)
