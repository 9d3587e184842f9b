"""The glyph reader (engines/digits.py): cutting a line into glyphs, and the shipped CNN on
real handwriting it never trained on (MNIST tune rows, written as the proof photos write them)."""

from __future__ import annotations

import numpy as np
import pytest
from proofgen.photo import write_code

from proofwatch.engines.digits import SIDE, DigitModel, segment, slanted


def _line(code: str, seed: int, glyph: float = 40.0) -> np.ndarray:
    """A gray crop of `code` handwritten with MNIST tune digits, with a paper margin."""
    rng = np.random.default_rng(seed)
    alpha = np.pad(write_code(rng, code, "tune", glyph, 0.45, False), int(glyph * 0.3))
    return np.asarray(np.clip(225 - alpha * 185, 0, 255), np.uint8)


@pytest.fixture(scope="module")
def model() -> DigitModel:
    return DigitModel()


def test_the_model_reads_handwritten_codes_it_never_saw(model: DigitModel) -> None:
    codes = ["48213", "90576", "31864", "27019"]
    read = [model.read_line(_line(code, seed)).text for seed, code in enumerate(codes)]
    assert sum(r == c for r, c in zip(read, codes, strict=True)) >= 3, read


def test_the_edge_of_something_the_box_cut_is_no_leading_one(model: DigitModel) -> None:
    gray = _line("75459", 3)
    assert model.read_line(gray).text == "75459"
    cut = gray.copy()
    cut[:, :3] = 30  # a shadow or the paper's edge along the crop's left end
    assert len(segment(gray)) == len(segment(cut)) == 5
    assert model.read_line(cut).text == "75459"
    # A digit near the end, not a sliver, is still read.
    assert len(segment(gray[:, 8:])) == 5


def test_a_blot_is_read_as_a_digit_only_with_doubt(model: DigitModel) -> None:
    gray = _line("482", 1)
    blot = np.full((gray.shape[0], 40), 225, np.uint8)
    blot[10:-10, 8:32] = 40
    line = model.read_line(np.hstack([gray, blot]))
    assert len(line.text) == 4 and line.text.isdigit() and line.text[:3] == "482"
    assert line.char_confidences[3] < 0.5 < min(line.char_confidences[:3])


def test_slanting_a_glyph_shears_it_about_its_centre_row() -> None:
    image = np.zeros((SIDE, SIDE), np.float32)
    image[:, SIDE // 2] = 1.0  # an upright stroke
    assert np.array_equal(slanted(image, 0.0), image)
    leaning = slanted(image, 0.2)
    top, bottom = np.argmax(leaning[2]), np.argmax(leaning[-3])
    assert bottom - top >= 4  # the stroke now leans: its foot moved right of its head
    assert abs(int(np.argmax(leaning[SIDE // 2])) - SIDE // 2) <= 1
