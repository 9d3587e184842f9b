"""The copy of a photo an engine sees: upright, sized down, decoded cheaply."""

from __future__ import annotations

import io
import math
import warnings

import cv2
import numpy as np
from PIL import ExifTags, Image, ImageOps

from ..imaging import open_lazy
from ..vocabulary import ReasonCode


class ImageRejected(Exception):
    """The bytes do not decode to a usable image; the message is for a person, and
    `reason_code` for a program."""

    def __init__(self, message: str, reason_code: ReasonCode = "damaged_image"):
        super().__init__(message)
        self.reason_code: ReasonCode = reason_code


def open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Open without decoding, refusing decompression bombs before any pixel is read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = open_lazy(data)
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        bomb = "the image is a decompression bomb (too many pixels)"
        raise ImageRejected(bomb, "too_large") from exc
    except Exception as exc:  # Pillow raises many types on hostile input
        raise ImageRejected(f"the image cannot be decoded ({type(exc).__name__})") from exc
    if width <= 0 or height <= 0 or width * height > max_pixels:
        too_many = f"the image has {width}x{height} pixels, over the limit of {max_pixels} pixels"
        raise ImageRejected(too_many, "too_large")
    return image


def draft_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """The size to ask JPEG draft mode for: the target box with the photo's own shape.

    Draft mode picks the largest 1/2, 1/4 or 1/8 scale that stays at least this size on
    both sides; asking for a square box would keep a 4:3 photo at full size.
    """
    width, height = size
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def prepare(data: bytes, max_side: int, max_pixels: int) -> Image.Image:
    """Decode `data` upright and no larger than `max_side` on its longest side."""
    return upright_copy(open_checked(data, max_pixels), max_side)


def upright_copy(image: Image.Image, max_side: int, area: bool = False) -> Image.Image:
    """An image from `open_checked`, decoded upright and no larger than `max_side`. The
    image itself, decoded, when nothing is to change (no copy of its pixels).

    `area`: sized down with OpenCV (`_shrink`), a twentieth of the time of Pillow's bicubic
    on a 12 MP photo's half-scale decode, for copies no OCR reads: the OCR's accuracy was
    measured on the bicubic copy."""
    try:
        # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale: a 12 MP photo never becomes 12 MP.
        if image.format == "JPEG":
            image.draft("RGB", draft_size(image.size, max_side))
        image.load()  # here, where a damaged file is told apart; and never lazily in two threads
        upright = ImageOps.exif_transpose(image, in_place=False) if _turned(image) else image
        if upright.mode != "RGB":
            upright = upright.convert("RGB")
        if area and max(upright.size) > max_side:
            upright = _shrink(upright, max_side)
        # Draft mode leaves less than 2x to go, where bicubic is as good as Lanczos and
        # faster; a larger step is first reduced by whole factors (reducing_gap).
        upright.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    except Exception as exc:
        raise ImageRejected(f"the image cannot be decoded ({type(exc).__name__}: {exc})") from exc
    return upright


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    scale = max_side / max(width, height)
    size = (
        max(1, min(max_side, round(width * scale))),
        max(1, min(max_side, round(height * scale))),
    )
    # Shrinking by less than 1.5x (a 12 MP photo's half-scale draft: 2000 -> 1600 px),
    # bilinear still weighs every source pixel, in 2 ms where the area filter takes 10;
    # beyond, only the area filter averages all of them.
    interpolation = cv2.INTER_LINEAR if scale >= 1 / 1.5 else cv2.INTER_AREA
    return Image.fromarray(cv2.resize(np.asarray(image), size, interpolation=interpolation))


def _turned(image: Image.Image) -> bool:
    # Stripped photos keep only their Orientation tag, and most say 1 (upright already).
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    return bool(orientation != 1)


# Where `Image.info` holds the JPEG file whose full decode is this image: the model server
# is sent those bytes as they are, never a re-encoded copy.
SOURCE_JPEG = "proofwatch.source_jpeg"


def as_stored(opened: Image.Image, stored: tuple[int, int], copy: Image.Image) -> bool:
    """Whether `copy` (upright_copy of `opened`, whose header said `stored`) is the JPEG
    as stored: decoded whole, not turned, resized or converted."""
    return copy is opened and copy.format == "JPEG" and copy.mode == "RGB" and copy.size == stored


def jpeg_for(image: Image.Image, max_side: int, quality: int = 90) -> bytes:
    """The JPEG the model server is sent: the photo's own bytes when they hold this image
    already within `max_side`, else `image` sized down and encoded."""
    source = image.info.get(SOURCE_JPEG)
    if isinstance(source, bytes) and max(image.size) <= max_side:
        return source
    return encode_jpeg(fit(image, max_side), quality)


def fit(image: Image.Image, max_side: int) -> Image.Image:
    """`image` itself when no side exceeds `max_side`, else a sized-down copy."""
    if max(image.size) <= max_side:
        return image
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return copy


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """A plain JPEG of `image`: no Exif, no ICC profile, nothing but pixels."""
    out = io.BytesIO()
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    rgb.save(out, format="JPEG", quality=quality)
    return out.getvalue()
