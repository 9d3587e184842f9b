"""The glyph reader (engines/digits.py): cutting a line into glyphs, and the shipped CNN on
real handwriting it never trained on (MNIST tune rows, written as the proof photos write them)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from proofgen.camera import shaken
from proofgen.mnist import digits
from proofgen.photo import write_code

from proofwatch.engines.ctc import ctc_frames
from proofwatch.engines.digits import SIDE, DigitModel, cut_at, segment, slanted
from proofwatch.engines.lines import LineModel, frame_x, prepare_line


def _line(code: str, seed: int, glyph: float = 40.0) -> np.ndarray:
    """A gray crop of `code` handwritten with MNIST tune digits, with a paper margin."""
    rng = np.random.default_rng(seed)
    alpha = np.pad(write_code(rng, code, "tune", glyph, 0.45, False).ink, int(glyph * 0.3))
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


def _strokes(*boxes: tuple[int, int, int, int]) -> np.ndarray:
    """A gray line (ink 30 on paper 220, 60 px high) with ink in each (left, top, right,
    bottom) box."""
    gray = np.full((60, 200), 220, np.uint8)
    for left, top, right, bottom in boxes:
        gray[top:bottom, left:right] = 30
    return gray


def test_digits_that_touch_are_parted_where_another_reader_placed_them() -> None:
    # Two "digits" joined by a thin stroke: one piece of ink, two places.
    gray = _strokes((20, 10, 50, 50), (50, 28, 70, 31), (70, 10, 100, 50), (130, 10, 150, 50))
    assert len(segment(gray)) == 2
    glyphs = cut_at(gray, [35.0, 85.0, 140.0])
    assert len(glyphs) == 3
    assert 50 <= glyphs[0].box[2] == glyphs[1].box[0] <= 70  # parted in the thin stroke
    assert glyphs[2].box[0] >= 129


def test_a_digit_broken_in_two_is_one_glyph() -> None:
    gray = _strokes((20, 10, 40, 50), (42, 10, 50, 50), (80, 10, 110, 50))
    assert len(segment(gray)) == 3
    glyphs = cut_at(gray, [30.0, 95.0])
    assert [(g.box[0], g.box[2]) for g in glyphs] == [(20, 50), (80, 110)]
    assert cut_at(gray, [30.0]) == []  # a digit with no place: the places are no guide
    assert cut_at(gray, []) == []
    far = _strokes((20, 10, 40, 50), (80, 10, 110, 50), (150, 10, 170, 50))
    assert cut_at(far, [30.0, 95.0]) == []


def test_the_cnn_reads_touching_digits_where_the_line_recogniser_placed_them(
    model: DigitModel,
) -> None:
    lines = LineModel()
    rng = np.random.default_rng(7)
    codes = ["".join(str(d) for d in rng.integers(0, 10, 5)) for _ in range(12)]
    touching = as_cut = at_places = 0
    for seed, code in enumerate(codes):
        writer = np.random.default_rng(seed)
        alpha = np.pad(write_code(writer, code, "tune", 40.0, 0.45, False, (-0.1, -0.02)).ink, 12)
        gray = np.asarray(np.clip(225 - alpha * 185, 0, 255), np.uint8)
        if len(segment(gray)) == len(code):
            continue  # these digits happen not to touch
        touching += 1
        prepared = prepare_line(gray)
        (frames,) = lines.frames([prepared])
        scale = gray.shape[1] / prepared.shape[1]
        places = [frame_x(f) * scale for f in ctc_frames(frames)]
        as_cut += model.read_line(gray).text == code
        at_places += model.read_line(gray, places).text == code
    assert touching >= 6
    assert as_cut == 0 and at_places >= touching // 2, (touching, at_places)


def test_the_cnn_reads_digits_a_shaken_phone_blurred(model: DigitModel) -> None:
    """Tune digits 40 px tall, each smeared along a random direction by half its height:
    the CNN read 61 of these 100 before it learnt shaken lines, 74 since."""
    images, labels, _ = digits("tune")
    rng = np.random.default_rng(5)
    right = 0
    for image, label in zip(images[::10], labels[::10], strict=True):
        ink = np.pad(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), 20)
        gray = shaken(225 - ink / 255 * 185, 20.0, rng.uniform(0, np.pi))
        right += model.read_line(np.clip(gray, 0, 255).astype(np.uint8)).text == str(label)
    assert right >= 70, right
