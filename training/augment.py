"""Shape augmentation for the readers' training, apart from torch so that `make test` checks
it. The glyph CNN learns from bent digits (`train_digits.py`); the line recogniser trained
on bent lines read the tune photos no better (docs/BENCHMARKS.md, twentieth session)."""

from __future__ import annotations

from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

Pixels = TypeVar("Pixels", np.uint8, np.float32)


def bend(
    img: npt.NDArray[Pixels], rng: np.random.Generator, alpha: float, sigma: float
) -> npt.NDArray[Pixels]:
    """The image bent by a smooth random field (Simard et al. 2003): a hand's wobble, each
    pixel moved by up to `3 * alpha` px, the field smooth over `sigma` px."""
    h, w = img.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    peak = max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    dx, dy = dx * (alpha * 3 / peak), dy * (alpha * 3 / peak)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = cv2.remap(img, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0)
    return np.asarray(out, img.dtype)
