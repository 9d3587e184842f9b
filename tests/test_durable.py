"""Durable writes shared by photos in hand at once: folder syncs grouped, never skipped, and
a photo's replacement in place before the block that overlaps it ends."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from PIL import Image
from proofgen.samples import Camera, to_jpeg

from proofwatch.atomic import FolderSyncs, WriteFailed
from proofwatch.intake.reader import Snapshot
from proofwatch.metadata import read_metadata
from proofwatch.pipeline.in_place import stripping


def camera_jpeg() -> bytes:
    return to_jpeg(Image.new("RGB", (64, 48), (90, 120, 150)), Camera())


class Disk:
    """A folder sync that blocks until released, recording what each sync covered."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Semaphore(0)
        self.renames = 0  # renames done so far (callers bump it before they ask)
        self.covered: list[int] = []  # renames done when each sync began
        self.lock = threading.Lock()

    def sync(self, folder: str) -> None:
        with self.lock:
            self.covered.append(self.renames)
        self.started.release()
        self.gate.wait(10)


def test_syncs_asked_while_one_runs_share_the_next_and_none_returns_unserved() -> None:
    disk = Disk()
    syncs = FolderSyncs(disk.sync)
    served: dict[str, int] = {}  # caller -> index of the sync that ended before it returned

    def caller(name: str) -> None:
        with disk.lock:
            disk.renames += 1
            mine = disk.renames
        syncs.sync("/photos")
        with disk.lock:
            # A sync that began after this caller's rename has ended.
            served[name] = max(i for i, seen in enumerate(disk.covered) if seen >= mine)

    first = threading.Thread(target=caller, args=("first",))
    first.start()
    assert disk.started.acquire(timeout=10)  # the first sync runs, and blocks
    late = [threading.Thread(target=caller, args=(f"late-{i}",)) for i in range(3)]
    for thread in late:
        thread.start()
    assert not disk.started.acquire(timeout=0.2)  # no second sync while one runs
    disk.gate.set()
    for thread in (first, *late):
        thread.join(10)
    assert syncs.syncs == 2  # the three late callers shared one sync
    assert disk.covered == [1, 4]
    assert served == {"first": 0, "late-0": 1, "late-1": 1, "late-2": 1}


def test_each_folder_is_synced_on_its_own_and_nothing_is_kept() -> None:
    seen: list[str] = []
    syncs = FolderSyncs(seen.append)
    syncs.sync("/a")
    syncs.sync("/b")
    syncs.sync("/a")
    assert seen == ["/a", "/b", "/a"]  # one at a time: each ask has its own sync
    assert syncs._folders == {}


def test_the_photo_is_stripped_in_place_when_the_overlapping_block_ends(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(camera_jpeg())
    with stripping(photo, 1 << 26) as in_hand:
        assert in_hand.meta.had_gps
        assert read_metadata(in_hand.stripped.data).is_empty
        assert in_hand.placed is None  # not yet known: the replacement is under way
    assert photo.read_bytes() == in_hand.stripped.data
    assert in_hand.placed == Snapshot.of(os.lstat(photo))
    assert [p.name for p in tmp_path.iterdir()] == ["IMG_1.jpg"]  # no temp file left


def test_a_failed_replacement_is_raised_over_what_the_block_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "IMG_1.jpg"
    original = camera_jpeg()
    photo.write_bytes(original)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", no_space)
    with pytest.raises(WriteFailed) as raised, stripping(photo, 1 << 26):
        raise ValueError("the decode failed meanwhile")
    assert isinstance(raised.value.__context__, ValueError)
    assert photo.read_bytes() == original  # nothing half-done: the original as it was
    assert [p.name for p in tmp_path.iterdir()] == ["IMG_1.jpg"]
