"""A second reader for handwritten digits: one small CNN per glyph, on the CPU.

PP-OCR reads whole lines and was trained mostly on print; this model reads one handwritten
digit at a time. A text line (a crop the detector found) is cut into glyphs by connected
components of its ink, each glyph is normalised the way MNIST digits are (fitted into 20x20,
centred by its centre of mass in 28x28) and classified into 0-9 or "not a digit". The model
(`models/digits.onnx`, trained by `training/train_digits.py`) is run with onnxruntime, on
each glyph as cut and slanted both ways (the mean of the three: a hand's slant then sways
the reading less). A glyph's "not a digit" share is doubt: it is read as its likeliest
digit, at that digit's probability.

The same `normalise_glyph` is used for training and reading, so both see the same shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def segment(
    gray: npt.NDArray[np.uint8], max_glyphs: int = 12, edge_sliver: float = EDGE_SLIVER
) -> list[Glyph]:
    """The glyphs of one text line (dark ink on light paper), left to right.

    Pieces that overlap another horizontally by most of their width are one glyph (a 5 whose
    hat is apart); specks much smaller than the line's largest piece are dropped, and so are
    pieces at the line's ends narrower than `edge_sliver` of its tallest (0: none).
    """
    import cv2

    ink = ink_map(gray)
    if not ink.any():
        return []
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
    pieces: list[tuple[int, int, int, int, list[int]]] = []
    for i in kept:
        x, y, w, hh, area = (int(v) for v in stats[i, :5])
        if hh < 0.3 * tallest or area < 0.002 * h * h or hh < 4:
            continue
        pieces.append((x, y, x + w, y + hh, [i]))
    pieces.sort(key=lambda p: p[0])
    merged: list[tuple[int, int, int, int, list[int]]] = []
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
    if len(merged) > max_glyphs:
        return []
    glyphs = []
    for left, top, right, bottom, ids in merged:
        own = np.isin(labels[top:bottom, left:right], ids)
        # The ink of this glyph only (a neighbour's stroke in the box is masked out), with
        # a pixel of its faint edge kept for anti-aliasing.
        own = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        piece_ink = np.where(own, ink[top:bottom, left:right], 0.0).astype(np.float32)
        glyphs.append(Glyph((left, top, right, bottom), normalise_glyph(piece_ink)))
    return glyphs


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

    def read_line(self, gray: npt.NDArray[np.uint8]) -> DigitLine:
        """The line's glyphs, each read as its likeliest digit, as cut and slanted both ways."""
        glyphs = segment(gray)
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
