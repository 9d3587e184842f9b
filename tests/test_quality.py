"""Retake hints: pure functions of pixels, on generated proof photos blurred, darkened and
cut off, and on real camera photos (the check costs about 5 ms a photo: BENCHMARKS)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter
from proofgen.samples import proof_jpeg

from corpus import CORPUS
from proofwatch.engines.image import prepare
from proofwatch.quality import (
    Measures,
    grey_copy,
    hints_for,
    ink_mask,
    measure,
    paper_mask,
    retake_hints,
)

CAMERA = CORPUS / "camera"  # real photos, beside the checkout in CI only
SEEDS = range(6)
STYLES = ("neat", "messy", "tilted", "pencil", "font", "noisy")


def codes(image: Image.Image) -> set[str]:
    return {hint.code for hint in retake_hints(image)}


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    """Proof photos as the pipeline sees them: upright, at most 1600 pixels."""
    return [
        prepare(proof_jpeg("48213", seed=seed, size=(1600, 1200), style=style), 1600, 10**9)
        for seed, style in zip(SEEDS, STYLES, strict=True)
    ]


def cut_through_the_code(image: Image.Image) -> Image.Image:
    """The left part of the photo, up to the middle of the writing."""
    grey = grey_copy(image)
    columns = np.nonzero(ink_mask(grey, paper_mask(grey)))[1]
    middle = (columns.min() + columns.max()) / 2 * image.width / grey.shape[1]
    return image.crop((0, 0, int(middle), image.height))


def test_good_photos_get_no_hint(photos: list[Image.Image]) -> None:
    assert [codes(p) for p in photos] == [set()] * len(photos)


def test_a_blurred_photo_is_blurry(photos: list[Image.Image]) -> None:
    for photo in photos:
        assert "blurry" in codes(photo.filter(ImageFilter.GaussianBlur(6)))


def test_a_dark_photo_is_too_dark(photos: list[Image.Image]) -> None:
    for photo in photos:
        assert codes(ImageEnhance.Brightness(photo).enhance(0.3)) == {"too_dark"}


def test_a_blown_out_photo_is_too_bright(photos: list[Image.Image]) -> None:
    assert "too_bright" in codes(ImageEnhance.Brightness(photos[0]).enhance(3.0))


def test_a_photo_cut_through_the_code_is_cut_off(photos: list[Image.Image]) -> None:
    cut = [codes(cut_through_the_code(p)) for p in photos]
    assert sum("cut_off" in found for found in cut) >= len(cut) - 1, cut


def test_paper_far_away_is_too_small(photos: list[Image.Image]) -> None:
    photo = photos[0]
    table = Image.new("RGB", photo.size, (70, 110, 80))
    table.paste(photo.reduce(5), (600, 500))
    assert "paper_too_small" in codes(table)


def test_hints_from_measures_alone() -> None:
    fine = Measures(blur=0.2, brightness=130, highlights=0.0, paper=0.3, ink=0.01, ink_at_edge=0)
    assert hints_for(fine) == []
    bad = Measures(blur=0.7, brightness=20, highlights=0.5, paper=0.01, ink=0.01, ink_at_edge=0.3)
    assert [h.code for h in hints_for(bad)] == [
        "too_dark",
        "too_bright",
        "blurry",
        "cut_off",
        "paper_too_small",
    ]
    # No writing found on any paper: nothing to say about framing.
    scene = Measures(blur=0.2, brightness=130, highlights=0.0, paper=0.01, ink=0, ink_at_edge=1)
    assert hints_for(scene) == []


def test_a_flat_image_does_not_crash() -> None:
    for colour in (0, 255):
        assert measure(Image.new("RGB", (64, 48), (colour,) * 3)).brightness == colour


@pytest.mark.skipif(not CAMERA.is_dir(), reason="../shared/corpus not found (only CI has it)")
def test_real_photos_do_not_all_get_hints() -> None:
    photos = sorted(CAMERA.glob("*.jpg"))
    assert photos
    hinted = [p.name for p in photos if codes(prepare(p.read_bytes(), 1600, 10**9))]
    assert len(hinted) < len(photos), hinted


def test_the_perceptual_hash_of_the_reduced_copy_is_the_full_copys(
    photos: list[Image.Image],
) -> None:
    import imagehash

    from proofwatch.quality import perceptual_hash

    hashes = [perceptual_hash(photo) for photo in photos]
    for photo, hashed in zip(photos, hashes, strict=True):
        assert len(hashed) == 16 and int(hashed, 16) >= 0
        # Within 2 bits of the hash of the whole copy, which older histories hold.
        assert imagehash.hex_to_hash(hashed) - imagehash.phash(photo) <= 2
    # Different photos stay far apart (a duplicate is 6 bits or fewer by default).
    apart = [imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b) for a, b in pairwise(hashes)]
    assert min(apart) > 6
