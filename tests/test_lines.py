"""The line recogniser (engines/lines.py): its preparation, and the shipped model on real
handwriting it never trained on (MNIST tune rows, written as the proof photos write them)."""

from __future__ import annotations

import numpy as np
import pytest
from proofgen.photo import write_code

from proofwatch.engines.ctc import ctc_decode
from proofwatch.engines.lines import (
    CHARSET,
    HEIGHT,
    MAX_WIDTH,
    MODEL_PATH,
    STRIDE,
    LineModel,
    prepare_line,
)


def _line(code: str, seed: int, glyph: float = 40.0, paper: int = 225, ink: int = 40) -> np.ndarray:
    """A gray crop of `code` handwritten with MNIST tune digits, with a paper margin."""
    rng = np.random.default_rng(seed)
    alpha = write_code(rng, code, "tune", glyph, 0.45, False).ink
    margin = int(glyph * 0.3)
    alpha = np.pad(alpha, margin)
    return np.asarray(np.clip(paper - alpha * (paper - ink), 0, 255), np.uint8)


def test_prepare_line_scales_to_the_height_with_ink_one_on_paper_zero() -> None:
    gray = np.full((64, 320), 200, np.uint8)
    gray[20:44, 40:60] = 30
    out = prepare_line(gray)
    assert out.shape == (HEIGHT, 160) and out.dtype == np.float32
    assert out[:, :10].max() == pytest.approx(0.0)
    assert out[16, 25] == pytest.approx(1.0)


def test_prepare_line_bounds_the_width_and_leaves_blank_paper_blank() -> None:
    assert prepare_line(np.full((10, 4000), 180, np.uint8)).shape == (HEIGHT, MAX_WIDTH)
    flat = prepare_line(np.full((40, 40), 180, np.uint8))
    assert flat.shape[1] >= 32 and float(flat.max()) == 0.0
    # Faint noise is not stretched into ink: the contrast range has a floor.
    noisy = np.random.default_rng(0).normal(180, 2, (40, 200)).clip(0, 255).astype(np.uint8)
    assert float(prepare_line(noisy).max()) < 0.5


@pytest.fixture(scope="module")
def model() -> LineModel:
    lines = LineModel(MODEL_PATH)
    lines.load()
    return lines


def test_the_model_reads_handwritten_codes_it_never_saw(model: LineModel) -> None:
    rng = np.random.default_rng(5)
    codes = ["".join(str(d) for d in rng.integers(0, 10, 5)) for _ in range(20)]
    prepared = [prepare_line(_line(code, 100 + i)) for i, code in enumerate(codes)]
    frames = model.frames(prepared)
    for line, probs in zip(prepared, frames, strict=True):
        assert probs.shape == (-(-line.shape[1] // STRIDE), len(CHARSET))
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    read = [ctc_decode(probs, CHARSET)[0] for probs in frames]
    # MNIST digits are often ambiguous (a 7 like a 1); 53 of 60 such lines were read right.
    assert sum(r == c for r, c in zip(read, codes, strict=True)) >= 15, read


def test_a_line_reads_the_same_alone_as_in_a_batch_of_wider_ones(model: LineModel) -> None:
    short = prepare_line(_line("307", 7))
    wide = prepare_line(_line("5203917", 8))
    (alone,) = model.frames([short])
    together = model.frames([wide, short])
    assert np.allclose(alone, together[1], atol=1e-3)


def test_blank_paper_reads_nothing(model: LineModel) -> None:
    (probs,) = model.frames([prepare_line(np.full((40, 200), 220, np.uint8))])
    assert ctc_decode(probs, CHARSET) == ("", ())
