"""Retake hints: a cheap look at the pixels, before any model reads the photo.

Pure functions of an image: a small grey copy is measured (sharpness of the writing, exposure,
where the paper is and whether writing runs into the image's edge), and the measures become
hints with codes a tracker can show at once ("too blurry, take it again"). Hints never change
a verdict's status: they say what to do better, the rules still judge.

Thresholds were chosen on generated proof photos blurred, darkened and cut off, and checked
on real camera photos (tests/test_quality.py; the numbers are in docs/integration.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from .vocabulary import Hint

# The grey copy measured: large enough for a handwritten stroke to keep its edges, small
# enough to cost a few milliseconds.
ANALYSIS_SIDE = 512
# The perceptual hash reads a 32x32 copy. Reduced to about this first (a box average), it
# costs 2 ms instead of 10 for a 1600 px photo; no hash of 68 photos (the corpus's and
# generated ones) moved by more than 2 of its 64 bits, so a history hashed before still
# finds its duplicates (`max_distance` 6 by default).
HASH_SIDE = 256

Grey = NDArray[np.uint8]
Mask = NDArray[np.uint8]  # 0 or 1


@dataclass(frozen=True)
class Measures:
    """What the quality check saw. Fractions are of the analysed frame."""

    blur: float  # 0 sharp .. 1 flat: how little a further blur changes the paper's edges
    brightness: float  # mean luminance, 0-255
    highlights: float  # fraction of pixels blown out to white (>= 250)
    paper: float  # fraction of the frame the paper covers (0 when no paper was found)
    ink: float  # fraction of the frame that is writing on the paper
    ink_at_edge: float  # fraction of the writing's pixels in the frame's outer band


@dataclass(frozen=True)
class Thresholds:
    blur: float = 0.5  # over: blurry
    dark: float = 60.0  # mean luminance under: too dark
    highlights: float = 0.35  # blown-out fraction over: too bright
    small_paper: float = 0.04  # paper fraction under (with writing on it): come closer
    some_ink: float = 0.0001  # writing fraction under: no writing found, no paper hints
    edge_ink: float = 0.05  # share of the writing in the outer band over: cut off
    edge_band: float = 0.015  # the outer band's width, as a fraction of the longest side


THRESHOLDS = Thresholds()


def grey_copy(image: Image.Image, side: int = ANALYSIS_SIDE) -> Grey:
    """Luminance, reduced by a whole factor to about `side` pixels on the longest side."""
    factor = max(1, round(max(image.size) / side))
    small = image.reduce(factor) if factor > 1 else image  # box average: cheap, no aliasing
    return np.asarray(small.convert("L"))


def perceptual_hash(image: Image.Image) -> str:
    """The photo's 64-bit perceptual hash (imagehash's pHash), in hex, to find it sent again."""
    return str(imagehash.phash(Image.fromarray(grey_copy(image, HASH_SIDE))))


def paper_mask(grey: Grey, closing: int = 3) -> Mask:
    """The sheet of paper: the largest bright region, with the writing on it (thin dark
    marks, up to 2 x `closing` pixels wide) closed in, also where it runs off the edge."""
    histogram = np.bincount(grey.ravel(), minlength=256)
    level = int(np.searchsorted(np.cumsum(histogram), 0.99 * grey.size))  # 99th percentile
    bright = (grey >= 0.72 * level).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count < 2:
        return np.zeros(grey.shape, dtype=np.uint8)
    largest = 1 + int(stats[1:, cv2.CC_STAT_AREA].argmax())
    sheet = (labels == largest).astype(np.uint8)
    kernel = np.ones((2 * closing + 1, 2 * closing + 1), np.uint8)
    # Outside the frame counts as paper, so writing cut by the edge is closed in too.
    closed = cv2.morphologyEx(
        sheet, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1
    )
    return np.asarray(closed, dtype=np.uint8)


def blur_of(grey: Grey, region: Mask) -> float:
    """No-reference blur (Crete-Roffet et al., 2007) inside the region's bounding box: the
    share of edge contrast that survives a further 9-pixel blur. 1 is flat, 0 sharp."""
    x, y, w, h = cv2.boundingRect(region)
    if w * h < 256:
        x, y, h, w = 0, 0, *grey.shape
    box = grey[y : y + h, x : x + w].astype(np.float32)
    worst = 0.0
    for axis, size in ((0, (1, 9)), (1, (9, 1))):
        if box.shape[axis] < 10:
            continue
        smooth = cv2.blur(box, size)  # (width, height): along `axis`
        sharp_steps = np.abs(np.diff(box, axis=axis))
        soft_steps = np.abs(np.diff(smooth, axis=axis))
        total = float(sharp_steps.sum())
        if total <= 0:
            return 1.0
        lost = float(np.maximum(0.0, sharp_steps - soft_steps).sum())
        worst = max(worst, (total - lost) / total)
    return worst


def ink_mask(grey: Grey, sheet: Mask, stroke: int = 3) -> NDArray[np.bool_]:
    """The writing: thin marks on the paper at least a fifth darker than the paper
    around them (a grey closing erases marks up to 2 x `stroke` pixels wide)."""
    kernel = np.ones((2 * stroke + 1, 2 * stroke + 1), np.uint8)
    around = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    ink: NDArray[np.bool_] = (sheet > 0) & (grey.astype(np.int16) * 5 < around.astype(np.int16) * 4)
    return ink


def ink_at_edge(ink: NDArray[np.bool_], band: int) -> float:
    """The share of the writing that lies in the frame's outer band."""
    total = int(ink.sum())
    if total == 0:
        return 0.0
    return 1 - int(ink[band:-band, band:-band].sum()) / total


def measure(image: Image.Image, thresholds: Thresholds = THRESHOLDS) -> Measures:
    grey = grey_copy(image)
    sheet = paper_mask(grey)
    band = max(2, round(thresholds.edge_band * max(grey.shape)))
    ink = ink_mask(grey, sheet)
    return Measures(
        blur=blur_of(grey, sheet),
        brightness=float(grey.mean()),
        highlights=float((grey >= 250).mean()),
        paper=float(sheet.mean()),
        ink=float(ink.mean()),
        ink_at_edge=ink_at_edge(ink, band),
    )


def hints_for(m: Measures, t: Thresholds = THRESHOLDS) -> list[Hint]:
    """The hints the measures call for, most pressing first."""
    found: list[Hint] = []
    if m.brightness < t.dark:
        found.append(
            Hint("too_dark", f"mean brightness {m.brightness:.0f} of 255, under {t.dark:g}")
        )
    if m.highlights > t.highlights:
        share = f"{m.highlights:.0%} of the image is blown out to white, over {t.highlights:.0%}"
        found.append(Hint("too_bright", share))
    if m.blur > t.blur:
        found.append(Hint("blurry", f"blur {m.blur:.2f}, over {t.blur:g}"))
    if m.ink < t.some_ink:
        return found  # no writing on any paper: nothing to say about where the paper is
    if m.ink_at_edge > t.edge_ink:
        share = f"{m.ink_at_edge:.0%} of the writing touches the image's edge"
        found.append(Hint("cut_off", share))
    if m.paper < t.small_paper:
        found.append(Hint("paper_too_small", f"the paper fills {m.paper:.1%} of the frame"))
    return found


def retake_hints(image: Image.Image) -> list[Hint]:
    """The retake hints for a photo (the upright copy the engines see)."""
    return hints_for(measure(image))
