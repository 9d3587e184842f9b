"""The reference sheet a vision model is shown beside a photo: every registered object's
reference photos in one cell, each cell named by a neutral letter.

The letters say nothing about the objects: the model is asked which letter it sees, and the
daemon, not the model, turns the letter back into the object the request expects or not.
Object names ("cage-a") are never drawn, so the expected answer is never shown.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from .image import encode_jpeg

LABELS = string.ascii_uppercase
MAX_OBJECTS = len(LABELS)  # one letter each: more would need labels a model misreads
PER_OBJECT = 3  # reference photos shown per object (the first ones, by file name)
THUMB = 200  # px: the square each reference photo is fitted into
GAP = 8
BAND = 48  # px: the strip above a cell that holds its letter
SHEET_SIDE = 1024  # the sheet's longest side: its image tokens are reserved in num_ctx


@dataclass(frozen=True)
class Sheet:
    """The sheet's JPEG, and which object each letter stands for (in letter order)."""

    jpeg: bytes
    objects: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(LABELS[: len(self.objects)])

    def object_of(self, label: str) -> str | None:
        """The object a letter stands for; None for any other answer."""
        label = label.strip().upper()
        return self.objects[LABELS.index(label)] if label in self.labels else None


def thumbnail(image: Image.Image) -> Image.Image:
    """A reference photo as the sheet shows it (kept per photo, so a reload redraws cheaply)."""
    small = image.convert("RGB")
    small.thumbnail((THUMB, THUMB), Image.Resampling.BICUBIC)
    return small


def make_sheet(objects: Mapping[str, Sequence[Image.Image]]) -> Sheet:
    """The objects (at most MAX_OBJECTS, each with its thumbnails) drawn in a grid of cells."""
    if not 0 < len(objects) <= MAX_OBJECTS:
        raise ValueError(f"a sheet shows 1 to {MAX_OBJECTS} objects, not {len(objects)}")
    names = tuple(objects)
    columns = 1 if len(names) <= 2 else 2 if len(names) <= 8 else 3
    rows = math.ceil(len(names) / columns)
    cell_w = PER_OBJECT * THUMB + (PER_OBJECT + 1) * GAP
    cell_h = BAND + THUMB + GAP
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (label, name) in enumerate(zip(LABELS, names, strict=False)):
        left, top = (index % columns) * cell_w, (index // columns) * cell_h
        draw.rectangle((left, top, left + cell_w - 1, top + cell_h - 1), outline="black", width=2)
        draw.text((left + GAP, top + 4), label, fill="black", font=_font())
        for n, photo in enumerate(objects[name][:PER_OBJECT]):
            x = left + GAP + n * (THUMB + GAP) + (THUMB - photo.width) // 2
            y = top + BAND + (THUMB - photo.height) // 2
            sheet.paste(photo, (x, y))
    sheet.thumbnail((SHEET_SIDE, SHEET_SIDE), Image.Resampling.BICUBIC)
    return Sheet(encode_jpeg(sheet, quality=85), names)


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=BAND - 10)
