"""Where text lies in a photo: the boxes PP-OCR's detector gives, as pure geometry.

A box is a `Quad`, four corners in the detector's order (top-left, top-right,
bottom-right, bottom-left of the text). Here boxes are measured (`measure`, `area`), joined
when the detector split one line (`joined_lines`), made longer (`widened`), and cut out of
the photo upright, as the readers see them (`crop`, `upright`, `rotated`, `line_gray`).
No model runs here, and OpenCV is imported only when a box is joined or cut out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Quad = tuple[tuple[float, float], ...]
Array = npt.NDArray[Any]
# A box measured: centre x, y, direction (radians), length and height (`measure`).
Measures = tuple[float, float, float, float, float]

# Boxes on one line join across a gap under JOIN_GAP heights when their heights differ by
# less than JOIN_HEIGHTS times (tune: 3.0 and 2.0 read one more code of 60 than 2.0 and 1.67).
JOIN_GAP = 3.0
JOIN_HEIGHTS = 2.0
# A box LINE_ASPECT times longer than high holds a line of text, and gives the direction.
# Large handwritten digits are often boxed one by one, each standing across its line (its
# own longer side is no direction); two such boxes join along the line between their
# centres, when each stands across it (no longer along it than GLYPH_WIDTH times its
# height) or lies along it (within ALONG_ANGLE). Tune (900 right codes, 400 one digit off):
# 838 -> 840 pass, 290 -> 289 fail; 96160 boxed as 9, 6, 1 and 0 was read by no reader.
LINE_ASPECT = 2.0
GLYPH_WIDTH = 1.25
ALONG_ANGLE = math.radians(20)
ELONGATED = 1.2  # a box at least this much longer than high has a direction of its own


def measure(quad: Quad) -> Measures:
    """Centre x, y, the line's direction (radians, along its longer side), length, height."""
    pts = np.array(quad, np.float64)
    a, b, d = pts[1] - pts[0], pts[2] - pts[1], pts.mean(axis=0)
    la, lb = float(np.hypot(*a)), float(np.hypot(*b))
    long_edge, length, height = (a, la, lb) if la >= lb else (b, lb, la)
    angle = math.atan2(long_edge[1], long_edge[0]) % math.pi
    return float(d[0]), float(d[1]), angle, length, height


def joined_lines(quads: Sequence[Quad]) -> list[Quad]:
    """Boxes the detector split along one line (a gap between handwritten digits), joined.

    Boxes join in chains of pairs that `_one_line` finds on one line. Only joins of 2+ boxes
    are returned; the single boxes stay read as they are.
    """
    import cv2

    n = len(quads)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if _one_line(quads[i], quads[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    out: list[Quad] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        pts = np.array([p for m in members for p in quads[m]], np.float32)
        rect = cv2.boxPoints(cv2.minAreaRect(pts))
        out.append(_ordered(rect))
    return out


def _one_line(a: Quad, b: Quad) -> bool:
    """Whether two boxes hold parts of one line.

    The line runs along the box that holds a line of text (`LINE_ASPECT` times longer than
    high; the more elongated of two); between two boxes of a glyph or two each (the detector
    often boxes a large handwritten digit alone, standing across its line), it runs from
    centre to centre, and each box must stand across it or lie along it. Measured across
    that direction, the boxes' heights are within `JOIN_HEIGHTS` of each other, their middles
    within half a height, and the gap between them along it is under `JOIN_GAP` heights.
    """
    fa, fb = measure(a), measure(b)
    text_boxes = [f for f in (fa, fb) if f[3] >= LINE_ASPECT * f[4]]
    if text_boxes:
        angle = max(text_boxes, key=lambda f: f[3] / max(f[4], 1e-6))[2]
    else:
        angle = math.atan2(fb[1] - fa[1], fb[0] - fa[0]) % math.pi
    along_axis = np.array([math.cos(angle), math.sin(angle)])
    across_axis = np.array([-math.sin(angle), math.cos(angle)])
    spans = []
    for quad, frame in ((a, fa), (b, fb)):
        pts = np.array(quad, np.float64)
        along, across = pts @ along_axis, pts @ across_axis
        length, height = float(np.ptp(along)), float(np.ptp(across))
        if not text_boxes and length > GLYPH_WIDTH * height and not _along(frame, angle):
            return False  # a box lying across the centres' line (glyphs stacked, not in a row)
        spans.append((float(along.min()), float(along.max()), float(across.mean()), height))
    (a0, a1, ma, ha), (b0, b1, mb, hb) = spans
    if not 1 / JOIN_HEIGHTS < ha / max(hb, 1e-6) < JOIN_HEIGHTS:
        return False
    height = max(ha, hb)
    gap = max(b0 - a1, a0 - b1)
    return abs(ma - mb) < 0.5 * height and gap < JOIN_GAP * height


def _along(frame: Measures, angle: float) -> bool:
    """An elongated box whose own direction is `angle`'s, within `ALONG_ANGLE` radians."""
    _, _, own, length, height = frame
    turn = abs(own - angle) % math.pi
    return length >= ELONGATED * height and min(turn, math.pi - turn) < ALONG_ANGLE


def _ordered(pts: Array) -> Quad:
    """Four corners as top-left, top-right, bottom-right, bottom-left (as the detector)."""
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    order = [int(s.argmin()), int(d.argmin()), int(s.argmax()), int(d.argmax())]
    if len(set(order)) < 4:  # a box at 45 degrees: keep the points as they are
        order = [0, 1, 2, 3]
    return tuple((float(pts[i][0]), float(pts[i][1])) for i in order)


def area(quad: Quad) -> float:
    """The box's area in square pixels (the shoelace formula)."""
    xs = [x for x, _ in quad]
    ys = [y for _, y in quad]
    return 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(quad))))


def crop(bgr: Array, quad: Quad) -> Array:
    """The quadrilateral cut out and rectified, in the order the detector gave its corners."""
    import cv2

    pts = np.array(quad, np.float32)
    width = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    height = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    width, height = max(width, 2), max(height, 2)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts, target)
    return cv2.warpPerspective(
        bgr, matrix, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def widened(quad: Quad, share: float) -> Quad:
    """The box made longer at both ends by `share` of its height (corners kept in order)."""
    pts = np.array(quad, np.float64)
    cx, cy, angle, _, height = measure(quad)
    along = np.array([math.cos(angle), math.sin(angle)])
    ends = np.sign((pts - (cx, cy)) @ along)
    moved = pts + np.outer(ends, along) * share * height
    return tuple((float(x), float(y)) for x, y in moved)


def is_tall(cut: Array) -> bool:
    """A line cut out standing up (written sideways, or the photo turned a quarter)."""
    return bool(cut.shape[0] > 1.5 * cut.shape[1])


def upright(cut: Array) -> Array:
    """A tall cut turned to lie wide (its reading direction is settled by `rotated`)."""
    return np.ascontiguousarray(np.rot90(cut)) if is_tall(cut) else cut


def rotated(cut: Array, turn: int) -> Array:
    # A tall line was laid wide by a quarter turn: 90 means that view, 270 its reverse.
    if turn in (180, 270):
        return np.ascontiguousarray(np.rot90(cut, 2))
    return cut


def line_gray(bgr: Array, quad: Quad, turn: int) -> npt.NDArray[np.uint8]:
    """A line as the digit readers see it: cut out, laid wide, turned and gray (the line
    recogniser's training cuts its photo lines with it, too)."""
    return digit_gray(rotated(upright(crop(bgr, quad)), turn))


def digit_gray(bgr: Array) -> npt.NDArray[np.uint8]:
    """A line crop in gray, at most 96 px high, as the two digit readers take it."""
    import cv2

    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if gray.shape[0] > 96:  # glyphs are read at 28 px: a larger cut only costs time
        scale = 96 / gray.shape[0]
        gray = cv2.resize(
            gray, (max(1, round(gray.shape[1] * scale)), 96), interpolation=cv2.INTER_AREA
        )
    return np.asarray(gray, np.uint8)
