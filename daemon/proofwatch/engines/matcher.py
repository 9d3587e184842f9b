"""The CPU matcher: which registered object a photo shows, by local features checked with
geometry, with nothing to download.

SIFT keypoints of the photo are matched against each reference photo (Lowe's ratio test),
and the matches that one perspective mapping explains (RANSAC homography) are counted: an
object's score is the largest such count over its reference photos. Features a pair of
unrelated photos share by chance do not agree on one mapping, so an unrelated photo scores
a handful at most. The engine reports scores; the rule decides (rules/decide.py).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

LABEL = "cpu:sift"
PHOTO_SIDE = 640  # long side features are found at: enough for an object that fills a third
REFERENCE_SIDE = 512  # references fill the frame with the object: less is as good
PHOTO_FEATURES = 1200
REFERENCE_FEATURES = 500
# Each reference is also seen at a slant: squeezed 1.41 times across, turned 0 and 90 degrees
# (features 300 a view). SIFT copes with turns and scale, not with a steep view. Tune split:
# right objects 27 -> 28 of 30, another object failed 24 -> 25, +2 ms a photo; squeezing 2
# times too, or at 45 and 135 degrees as well: right 28 either way.
TILTS = ((np.sqrt(2), 0.0), (np.sqrt(2), 90.0))
TILT_FEATURES = 300
# SIFT's contrast threshold, half its default of 0.04: a dim, soft or small object in a phone
# photo holds few corners that contrasty (16-62 in a 640 px photo), too few to match. Tune
# split, 150 photos a kind: right objects passed 127 -> 143, the other view 147 -> 146,
# another object failed 137 -> 142, none passed; 0.03 passed 135, 0.01 144 (chance
# matches, the most any photo of no or another object gave: 9 at 0.02 and 0.04, 10 at 0.015).
CONTRAST = 0.02
RATIO = 0.8  # Lowe's ratio test: the best match must be this much closer than the second
RANSAC_PX = 8.0  # reprojection error at PHOTO_SIDE: loose, as objects are not flat
MIN_MATCHES = 8  # fewer ratio-test matches than this: no mapping is tried, the score is 0
NEIGHBOURS = 8  # neighbours searched per photo feature (enough to pass 3 references of one object)
TREES, CHECKS = 4, 48  # FLANN k-d trees and leaves visited: a tenth of the time, few matches lost

Points = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Features:
    """Keypoint positions (N x 2) and their SIFT descriptors (N x 128) of one image."""

    points: Points
    descriptors: Points

    def __len__(self) -> int:
        return len(self.points)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, points=self.points, descriptors=self.descriptors)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(arrays["points"], arrays["descriptors"])


def grey(image: Image.Image, side: int) -> npt.NDArray[np.uint8]:
    """The image in grey, its long side at most `side` (never enlarged)."""
    image = image.convert("L")
    scale = min(1.0, side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image, dtype=np.uint8)


def _keypoints(pixels: npt.NDArray[np.uint8], limit: int) -> tuple[Points, Points]:
    """SIFT keypoint positions (in pixels) and descriptors of a grey image."""
    sift = cv2.SIFT.create(nfeatures=limit, contrastThreshold=CONTRAST)
    keypoints, descriptors = sift.detectAndCompute(pixels, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    return points, np.asarray(descriptors, np.float32)


def features(image: Image.Image, side: int = PHOTO_SIDE, limit: int = PHOTO_FEATURES) -> Features:
    pixels = grey(image, side)
    points, descriptors = _keypoints(pixels, limit)
    # Positions are kept in units of the long side (0..1): photo and reference sizes differ.
    return Features(points / float(max(pixels.shape)), descriptors)


def _tilted(pixels: npt.NDArray[np.uint8], tilt: float, angle: float) -> tuple[Points, Points]:
    """Keypoints of the image as seen at a slant (turned by `angle` degrees, then squeezed
    `tilt` times across), their positions mapped back onto the image."""
    h, w = pixels.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ turn.T
    low, high = corners.min(axis=0), corners.max(axis=0)
    turn[:, 2] -= low  # the turned image whole on its canvas
    squeeze = np.array([[1.0 / tilt, 0.0], [0.0, 1.0]])
    matrix = squeeze @ turn
    size = (max(1, round((high[0] - low[0]) / tilt)), max(1, round(high[1] - low[1])))
    # Blurred across first, as a slanted view loses that detail (no aliasing from the squeeze).
    soft = cv2.GaussianBlur(pixels, (0, 0), sigmaX=0.8 * np.sqrt(tilt * tilt - 1), sigmaY=0.01)
    seen = cv2.warpAffine(soft, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)
    points, descriptors = _keypoints(np.asarray(seen, np.uint8), TILT_FEATURES)
    back = cv2.invertAffineTransform(matrix)
    mapped = points @ back[:, :2].T + back[:, 2]
    return mapped.astype(np.float32), descriptors


def reference_features(image: Image.Image) -> Features:
    pixels = grey(image, REFERENCE_SIDE)
    found = [_keypoints(pixels, REFERENCE_FEATURES)]
    found += [_tilted(pixels, tilt, angle) for tilt, angle in TILTS]
    points = np.concatenate([p for p, _ in found]) / max(pixels.shape)
    return Features(points.astype(np.float32), np.concatenate([d for _, d in found]))


class Gallery:
    """Every registered object's reference features in one search index, built once.

    One nearest-neighbour search of the photo's features against all references at once
    (FLANN k-d trees) keeps a photo within its time budget however many objects are
    registered; a linear search against 30 references takes half a second.
    """

    def __init__(self, objects: Mapping[str, Sequence[Features]]):
        self.names = tuple(objects)
        rows = [(o, r, f) for o, name in enumerate(self.names) for r, f in enumerate(objects[name])]
        self.features = [f for _, _, f in rows if len(f)]
        self._object = np.concatenate(
            [np.full(len(f), o, np.int32) for o, _, f in rows if len(f)] or [np.zeros(0, np.int32)]
        )
        self._reference = np.concatenate(
            [np.full(len(f), i, np.int32) for i, f in enumerate(self.features)]
            or [np.zeros(0, np.int32)]
        )
        self._owner = [o for o, _, f in rows if len(f)]  # reference index -> object index
        self._offset = np.cumsum([0] + [len(f) for f in self.features])
        self._index: cv2.flann.Index | None = None
        self._lock = threading.Lock()
        if self.features:
            everything = np.concatenate([f.descriptors for f in self.features])
            self._index = cv2.flann.Index(everything, {"algorithm": 1, "trees": TREES})

    def neighbours(self, photo: Features) -> tuple[npt.NDArray[np.int32], Points]:
        k = min(NEIGHBOURS, len(self._object))
        assert self._index is not None
        with self._lock:  # one search at a time: the index is not documented thread-safe
            index, distance = self._index.knnSearch(photo.descriptors, k, params={"checks": CHECKS})
        return np.asarray(index, np.int32), np.sqrt(np.asarray(distance, np.float32))

    def scores(self, photo: Features) -> dict[str, int]:
        """Each object's score: the most inliers any one of its reference photos gets."""
        best = dict.fromkeys(self.names, 0)
        if self._index is None or len(photo) < MIN_MATCHES:
            return best
        index, distance = self.neighbours(photo)
        pairs: dict[int, dict[int, int]] = {}  # reference -> photo feature -> its row
        for query in range(len(index)):
            owner = self._object[index[query]]
            # Lowe's ratio test against the nearest feature of *another* object: a feature
            # the same object's other references share is no reason to doubt a match.
            others = np.flatnonzero(owner != owner[0])
            second = distance[query, others[0]] if len(others) else distance[query, -1]
            if distance[query, 0] >= RATIO * second:
                continue
            for column in range(len(owner) if not len(others) else others[0]):
                row = int(index[query, column])
                pairs.setdefault(int(self._reference[row]), {}).setdefault(query, row)
        for reference, matched in pairs.items():
            if len(matched) < MIN_MATCHES:
                continue
            feature = self.features[reference]
            rows = np.fromiter(matched.values(), np.int64) - self._offset[reference]
            source = feature.points[rows]
            target = photo.points[np.fromiter(matched.keys(), np.int64)]
            count = _consistent(source, target)
            name = self.names[self._owner[reference]]
            best[name] = max(best[name], count)
        return best


def _consistent(source: Points, target: Points) -> int:
    """How many pairs one perspective mapping explains (RANSAC)."""
    _, mask = cv2.findHomography(source, target, cv2.RANSAC, RANSAC_PX / PHOTO_SIDE)
    return 0 if mask is None else int(mask.sum())
