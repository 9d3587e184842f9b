"""A second reader for handwritten digits: one small CNN per glyph, on the CPU.

PP-OCR reads whole lines and was trained mostly on print; this model reads one handwritten
digit at a time. A text line (a crop the detector found) is cut into glyphs by connected
components of its ink (where digits touch or one is broken in two, at the places where the
line recogniser read its digits: `cut_at`), each glyph is normalised the way MNIST digits
are (fitted into 20x20, centred by its centre of mass in 28x28) and classified into 0-9 or
"not a digit". The model (`models/digits.onnx`, trained by `training/train_digits.py`) is
run with onnxruntime, on each glyph as cut and slanted both ways (the mean of the three: a
hand's slant then sways the reading less). A glyph's "not a digit" share is doubt: it is
read as its likeliest digit, at that digit's probability.

The same `normalise_glyph` is used for training and reading, so both see the same shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .onnx import OnnxModel

MODEL_PATH = Path(__file__).parent / "models" / "digits.onnx"
CLASSES = "0123456789"  # then one more class: not a digit (fragments, pairs, blots)
JUNK = len(CLASSES)
SIDE = 28
BOX = 20  # MNIST fits each digit into 20x20 inside the 28x28 frame
# A piece of ink touching the crop's left or right end and narrower than this share of the
# line's tallest piece is the edge of something the box cut (paper, a shadow, a ruling), not
# a digit. Tune: it was read as a leading 1 (75459 as 175459); dropping such slivers failed
# 11 more of 400 codes one digit off and passed 1 more right code (0.1: 6 more; 0.3-0.7: 11
# more, but the right code not).
EDGE_SLIVER = 0.25
MAX_GLYPHS = 12  # a line cut into more pieces is no code: not read glyph by glyph
SLANTS = (0.2, -0.2)  # the extra views of each glyph: sheared this far (x += slant * y)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Glyph:
    """One connected piece of ink in a line: its box (left, top, right, bottom) and 28x28 map."""

    box: tuple[int, int, int, int]
    image: FloatArray


@dataclass(frozen=True)
class DigitLine:
    """What the CNN read on one line: the digits, and each glyph's 11 class probabilities."""

    text: str
    probs: tuple[tuple[float, ...], ...]

    @property
    def char_confidences(self) -> tuple[float, ...]:
        return tuple(max(p[:JUNK]) for p in self.probs)


def normalise_glyph(ink: FloatArray) -> FloatArray:
    """An ink map (0 paper .. 1 ink, any size) as MNIST draws a digit: 28x28 float32.

    The ink's bounding box is scaled so its longer side is 20 px, keeping its shape, then
    placed so its centre of mass is at the centre of the frame.
    """
    import cv2  # rapidocr's dependency; imported here so that importing this module is cheap

    out = np.zeros((SIDE, SIDE), np.float32)
    ys, xs = np.nonzero(ink > 0.05)
    if len(xs) == 0:
        return out
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    # INTER_AREA averages when shrinking (as MNIST's anti-aliasing); linear when enlarging.
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (nw, nh), interpolation=interp)
    total = float(small.sum())
    if total <= 0:
        return out
    cy = float((small.sum(axis=1) * np.arange(nh)).sum()) / total
    cx = float((small.sum(axis=0) * np.arange(nw)).sum()) / total
    top = round(SIDE / 2 - cy - 0.5)
    left = round(SIDE / 2 - cx - 0.5)
    top = min(max(top, 0), SIDE - nh)
    left = min(max(left, 0), SIDE - nw)
    out[top : top + nh, left : left + nw] = small
    return np.asarray(np.clip(out, 0.0, 1.0), np.float32)


def ink_map(gray: npt.NDArray[np.uint8]) -> FloatArray:
    """How much ink each pixel of a line crop holds: 0 paper, 1 darkest stroke.

    The paper's brightness is taken from a heavy blur of the crop's bright pixels, so
    uneven light does not turn into ink.
    """
    import cv2

    g = gray.astype(np.float32)
    h, w = g.shape
    k = max(3, (min(h, w) // 2) | 1)
    paper = cv2.dilate(g, np.ones((k, k), np.uint8))  # strokes are thinner than k: removed
    paper = cv2.GaussianBlur(paper, (0, 0), k / 2)
    diff = np.clip(paper - g, 0, None)
    top = float(np.percentile(diff, 99.5)) if diff.size else 0.0
    if top < 20:  # no contrast at all: nothing is ink
        return np.zeros(g.shape, np.float32)
    return np.asarray(np.clip(diff / top, 0, 1), np.float32)


# A glyph's box (left, top, right, bottom) and the connected pieces of ink it holds.
_Box = tuple[int, int, int, int, list[int]]


@dataclass(frozen=True)
class _Ink:
    """A line's ink map, its connected pieces, and the glyphs they were merged into."""

    ink: FloatArray
    labels: npt.NDArray[np.int32]
    glyphs: list[_Box]


def segment(
    gray: npt.NDArray[np.uint8], max_glyphs: int = MAX_GLYPHS, edge_sliver: float = EDGE_SLIVER
) -> list[Glyph]:
    """The glyphs of one text line (dark ink on light paper), left to right.

    Pieces that overlap another horizontally by most of their width are one glyph (a 5 whose
    hat is apart); specks much smaller than the line's largest piece are dropped, and so are
    pieces at the line's ends narrower than `edge_sliver` of its tallest (0: none).
    """
    return _as_cut(_pieces(gray, edge_sliver), max_glyphs)


def _as_cut(found: _Ink | None, max_glyphs: int = MAX_GLYPHS) -> list[Glyph]:
    """The glyphs of a line's pieces as `segment` cuts them."""
    if found is None or len(found.glyphs) > max_glyphs:
        return []
    return [_glyph(found, glyph) for glyph in found.glyphs]


def cut_at(gray: npt.NDArray[np.uint8], places: Sequence[float]) -> list[Glyph]:
    """The line's glyphs, one per place where another reader read a character (x in `gray`,
    left to right), for a line that `segment` cuts into another number of glyphs.

    A glyph that holds two or more places is digits that touch: it is parted at the column
    of least ink between each two of them. A glyph that holds none, close after another, is
    the second piece of a digit broken in two: the two are one glyph. Empty when the glyphs
    still do not match the places.
    """
    return _cut_at(_pieces(gray, EDGE_SLIVER), places)


def _cut_at(found: _Ink | None, places: Sequence[float]) -> list[Glyph]:
    if found is None or not places:
        return []
    parts: list[_Box] = []
    for glyph in found.glyphs:
        left, top, right, bottom, ids = glyph
        inside = [p for p in places if left <= p < right]
        if not inside and parts and left - parts[-1][2] < 0.25 * (bottom - top):
            last = parts[-1]  # a broken digit's second piece
            parts[-1] = (last[0], min(last[1], top), right, max(last[3], bottom), last[4] + ids)
        else:
            edges = [left, *_parting_columns(found, glyph, inside), right]
            parts.extend((lo, top, hi, bottom, ids) for lo, hi in pairwise(edges))
    if len(parts) != len(places):
        return []
    return [_glyph(found, part) for part in parts]


def _parting_columns(found: _Ink, glyph: _Box, places: Sequence[float]) -> list[int]:
    """Where a glyph holding several places is parted: between each two of them, the column
    of its middle half with the least of the glyph's ink."""
    left, top, right, bottom, ids = glyph
    own = np.isin(found.labels[top:bottom, left:right], ids)
    columns = np.where(own, found.ink[top:bottom, left:right], 0.0).sum(axis=0)
    cuts = []
    for a, b in pairwise(places):
        lo, hi = int(a + (b - a) / 4) - left, int(b - (b - a) / 4) - left + 1
        cuts.append(left + lo + int(np.argmin(columns[lo:hi])) if hi > lo else int((a + b) / 2))
    return cuts


def _glyph(found: _Ink, part: _Box) -> Glyph:
    """The ink of a glyph's pieces within its box (a neighbour's stroke masked out), with a
    pixel of its faint edge kept for anti-aliasing, normalised."""
    import cv2

    left, top, right, bottom, ids = part
    own = np.isin(found.labels[top:bottom, left:right], ids)
    own = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    piece_ink = np.where(own, found.ink[top:bottom, left:right], 0.0).astype(np.float32)
    return Glyph((left, top, right, bottom), normalise_glyph(piece_ink))


def _pieces(gray: npt.NDArray[np.uint8], edge_sliver: float) -> _Ink | None:
    """The line's ink and its pieces, merged into glyphs as `segment` describes."""
    import cv2

    ink = ink_map(gray)
    if not ink.any():
        return None
    mask = (ink > 0.35).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, width = gray.shape[:2]
    tallest = max((int(stats[i, cv2.CC_STAT_HEIGHT]) for i in range(1, count)), default=0)
    slivers = [
        i
        for i in range(1, count)
        if (
            stats[i, cv2.CC_STAT_LEFT] == 0
            or stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] >= width
        )
        and stats[i, cv2.CC_STAT_WIDTH] < edge_sliver * tallest
    ]
    if slivers:
        ink = np.where(np.isin(labels, slivers), 0.0, ink).astype(np.float32)
    kept = [i for i in range(1, count) if i not in slivers]
    tallest = max((int(stats[i, cv2.CC_STAT_HEIGHT]) for i in kept), default=0)
    pieces: list[_Box] = []
    for i in kept:
        x, y, w, hh, area = (int(v) for v in stats[i, :5])
        if hh < 0.3 * tallest or area < 0.002 * h * h or hh < 4:
            continue
        pieces.append((x, y, x + w, y + hh, [i]))
    pieces.sort(key=lambda p: p[0])
    merged: list[_Box] = []
    for piece in pieces:
        if merged:
            last = merged[-1]
            overlap = min(last[2], piece[2]) - max(last[0], piece[0])
            narrower = min(last[2] - last[0], piece[2] - piece[0])
            if overlap > 0.5 * narrower:
                merged[-1] = (
                    min(last[0], piece[0]),
                    min(last[1], piece[1]),
                    max(last[2], piece[2]),
                    max(last[3], piece[3]),
                    last[4] + piece[4],
                )
                continue
        merged.append(piece)
    if not merged:
        return None
    return _Ink(ink, np.asarray(labels, np.int32), merged)


class DigitModel(OnnxModel):
    """The ONNX digit classifier (`models/digits.onnx`)."""

    def __init__(self, path: Path = MODEL_PATH, threads: int = 1) -> None:
        super().__init__(path, threads)

    def classify(self, images: FloatArray) -> FloatArray:
        """Class probabilities (N x 11) of N 28x28 glyph images."""
        if len(images) == 0:
            return np.zeros((0, JUNK + 1), np.float32)
        batch = images.reshape(-1, 1, SIDE, SIDE).astype(np.float32)
        probs = self.run("glyphs", batch)
        return np.asarray(probs, np.float32)

    def read_line(self, gray: npt.NDArray[np.uint8], places: Sequence[float] = ()) -> DigitLine:
        """The line's glyphs, each read as its likeliest digit, as cut and slanted both ways.

        `places`: where another reader read each character of the line (x in `gray`); when
        the line's pieces of ink are not as many, the line is cut at those places instead.
        """
        found = _pieces(gray, EDGE_SLIVER)  # once, for both ways of cutting
        glyphs = _as_cut(found)
        if places and len(glyphs) != len(places):
            glyphs = _cut_at(found, places) or glyphs
        if not glyphs:
            return DigitLine("", ())
        images = [g.image for g in glyphs]
        views = images + [slanted(im, slant) for slant in SLANTS for im in images]
        # One run of the model for every view; then each glyph's mean over its views.
        probs = self.classify(np.stack(views)).reshape(1 + len(SLANTS), len(images), -1).mean(0)
        text = "".join(CLASSES[int(np.argmax(p[:JUNK]))] for p in probs)
        return DigitLine(text, tuple(tuple(float(v) for v in p) for p in probs))


def slanted(image: FloatArray, slant: float) -> FloatArray:
    """A 28x28 glyph sheared about its centre row: x moves by `slant` per row below it."""
    import cv2

    centre = (SIDE - 1) / 2
    shear = np.array([[1, slant, -slant * centre], [0, 1, 0]], np.float32)
    return np.asarray(cv2.warpAffine(image, shear, (SIDE, SIDE)), np.float32)
