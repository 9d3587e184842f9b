"""The proof-photo generator: deterministic, every style renders, Exif as a camera writes it."""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image, ImageDraw
from proofgen import samples
from proofgen.samples import STYLES, Camera, blank_paper, draw_code, proof_jpeg, to_jpeg

SMALL = (480, 360)


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_draw_code_is_deterministic_per_seed() -> None:
    first = draw_code("48213", seed=3, size=SMALL)
    again = draw_code("48213", seed=3, size=SMALL)
    other = draw_code("48213", seed=4, size=SMALL)
    assert first.mode == "RGB" and first.size == SMALL
    assert np.array_equal(_pixels(first), _pixels(again))
    assert not np.array_equal(_pixels(first), _pixels(other))


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_renders_ink_on_paper(style: str) -> None:
    written = draw_code("48213", seed=1, size=SMALL, style=style)
    blank = blank_paper(1, size=SMALL, style=style)
    assert written.size == blank.size == SMALL
    # Same seed, same scene: the only difference is the writing, and it is dark ink.
    diff = _pixels(blank).sum(axis=2) - _pixels(written).sum(axis=2)
    assert (diff > 60).sum() > 150, "no visible writing"


def test_handwriting_is_jittered_not_typeset() -> None:
    # The same digit drawn twice in one photo never gives the same strokes.
    mask = Image.new("L", (1200, 300), 0)
    draw = ImageDraw.Draw(mask)
    samples._write_strokes(draw, "77", random.Random(5), STYLES["neat"], (20, 20), 200)
    array = np.asarray(mask) > 128
    columns = np.flatnonzero(array.any(axis=0))
    gap = int(np.argmax(np.diff(columns))) if columns.size else 0
    first, second = array[:, : columns[gap] + 1], array[:, columns[gap + 1] :]
    assert first.sum() > 500 and second.sum() > 500
    assert first.sum() != second.sum()


def test_glyphs_cover_every_digit_within_their_box() -> None:
    assert set(samples._GLYPHS) == set("0123456789")
    for variants in samples._GLYPHS.values():
        for strokes in variants:
            for stroke in strokes:
                assert len(stroke) >= 2
                for x, y, _corner in stroke:
                    assert 0.0 <= x <= samples._GLYPH_WIDTH and 0.0 <= y <= 1.0


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown style"):
        draw_code("1", size=SMALL, style="watercolour")


def test_explicit_angle_and_blur_are_honoured() -> None:
    sharp = draw_code("48213", seed=2, size=SMALL, angle=0.0, blur=0.0)
    soft = draw_code("48213", seed=2, size=SMALL, angle=0.0, blur=3.0)

    # Blur lowers local contrast: the sum of absolute horizontal gradients drops.
    def edges(image: Image.Image) -> float:
        return float(np.abs(np.diff(_pixels(image.convert("L")), axis=1)).sum())

    assert edges(soft) < 0.8 * edges(sharp)


def test_distractors_never_contain_avoided_strings() -> None:
    for seed in range(30):
        lines = samples._printed_lines(random.Random(seed), 5, avoid=("1", "2"))
        assert len(lines) == 4
        assert any("ignore" in line.lower() for line in lines)
        for line in lines:
            assert "1" not in line and "2" not in line, line


def test_distractors_are_drawn_when_asked() -> None:
    plain = blank_paper(6, size=SMALL)
    busy = blank_paper(6, size=SMALL, distractors=True)
    assert not np.array_equal(_pixels(plain), _pixels(busy))
    assert draw_code("", seed=6, size=SMALL).tobytes() == plain.tobytes()


def test_to_jpeg_writes_camera_exif() -> None:
    taken = datetime(2026, 11, 22, 10, 41, 7, tzinfo=timezone(timedelta(hours=1)))
    data = to_jpeg(draw_code("1", size=SMALL), Camera(taken_at=taken, gps=(-33.9, 151.2)))
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        exif = image.getexif()
        assert exif[0x010F] == "ProofCam" and exif[0x0110] == "PC-1"
        assert exif[0x0132] == "2026:11:22 10:41:07"
        assert exif.get_ifd(0x8769)[0x9011] == "+01:00"
        gps = exif.get_ifd(0x8825)
        assert gps[1] == "S" and gps[3] == "E"
        assert float(gps[2][0]) == 33.0


def test_to_jpeg_without_camera_has_no_exif() -> None:
    data = to_jpeg(draw_code("1", size=SMALL), None)
    with Image.open(io.BytesIO(data)) as image:
        assert len(image.getexif()) == 0


def test_proof_jpeg_at_12_megapixels() -> None:
    data = proof_jpeg("48213", seed=1, size=(4000, 3000), style="noisy")
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (4000, 3000)
        assert image.getexif()[0x010F] == "ProofCam"
    assert len(data) > 500_000  # a noisy camera photo, not a flat drawing


def test_proof_jpeg_keeps_its_old_call() -> None:
    data = proof_jpeg("48213", seed=0, camera=None)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (1600, 1200)
