"""The elastic bend of the glyph CNN's training (training/augment.py), checked without torch."""

from __future__ import annotations

import numpy as np
import pytest
from training.augment import bend


def _stroke(dtype: type[np.generic]) -> np.ndarray:
    img = np.zeros((60, 60), dtype)
    img[10:50, 29:31] = 1 if dtype == np.float32 else 255
    return img


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_a_bent_stroke_keeps_its_type_and_size_and_moves_no_further_than_asked(
    dtype: type[np.generic],
) -> None:
    stroke = _stroke(dtype)
    bent = bend(stroke, np.random.default_rng(1), alpha=2.0, sigma=6.0)
    assert bent.dtype == stroke.dtype and bent.shape == stroke.shape
    assert not np.array_equal(bent, stroke)
    columns = np.nonzero(bent.max(axis=0) > bent.max() * 0.5)[0]
    assert columns.min() >= 29 - 6 and columns.max() <= 30 + 6  # 3 * alpha at most


def test_no_bend_leaves_the_image_as_it_was() -> None:
    stroke = _stroke(np.uint8)
    assert np.array_equal(bend(stroke, np.random.default_rng(1), alpha=0.0, sigma=6.0), stroke)
