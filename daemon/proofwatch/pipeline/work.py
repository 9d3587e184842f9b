"""The daemon's unit of work, shared with `proofwatch backfill` so both decide alike.

Which photos a folder holds, whether a photo already has its verdict, and one photo taken
through the pipeline into its verdict file. The daemon and backfill differ only in how
photos reach these functions (events and a queue, or one walk), never in what they do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..contract.verdict import Verdict, read_verdict, write_verdict
from ..intake.names import is_ignored, is_photo_name
from .faults import Fault, machine_fault
from .held import held_photos
from .process import Pipeline
from .setup import Options
from .waits import MachineFault

log = logging.getLogger("proofwatch")


def walk_photos(root: Path, folder: Path, ignore: Sequence[str]) -> Iterator[Path]:
    """Every photo below `folder` (inside the watched `root`), ignored names left out."""
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        relative = base.relative_to(root)
        dirnames[:] = [d for d in dirnames if not is_ignored(relative / d, ignore)]
        # A folder named like a photo gets a verdict too (rejected: not a file); a photo a
        # stop left held (set aside by a fault, hidden) is found under its own name.
        for name in (*filenames, *dirnames, *held_photos(filenames)):
            if is_photo_name(relative / name, ignore):
                yield base / name


def is_placeholder(photo: Path, empty_timeout: float, now: float | None = None) -> bool:
    """An empty file younger than empty_timeout: the tracker may still be writing it."""
    try:
        st = os.lstat(photo)
    except OSError:
        return False
    age = (time.time() if now is None else now) - st.st_mtime
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and age < empty_timeout


def arrival_order(photos: Iterable[Path]) -> list[Path]:
    """Oldest first (by modification time, then name): the order a tracker uploaded them in,
    which is what tells the original from the reuse when the history must be rebuilt."""

    def key(photo: Path) -> tuple[int, str]:
        try:
            return os.lstat(photo).st_mtime_ns, str(photo)
        except OSError:
            return 0, str(photo)

    return sorted(photos, key=key)


def is_done(photo: Path, target: Path) -> bool:
    """A verdict at `target` exists for this very file (checked by time first, by hash if
    unsure: a photo restored from a backup is older than its verdict, or has the same bytes)."""
    try:
        verdict_mtime = os.lstat(target).st_mtime_ns
        photo_mtime = os.lstat(photo).st_mtime_ns
    except OSError:
        return False
    if verdict_mtime >= photo_mtime:
        return True
    existing = read_verdict(target)
    if existing is None or not existing.get("photo_sha256"):
        return False
    try:
        with open(photo, "rb", opener=_no_follow) as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return False
    return bool(digest == existing["photo_sha256"])


def handle_photo(pipeline: Pipeline, photo: Path, target: Path, options: Options) -> Verdict | None:
    """Process `photo` and write its verdict to `target`; None when nothing was written."""
    verdict = pipeline.process(photo, options)
    if pipeline.stop.is_set() and verdict.status == "error":
        return None  # abandoned for the stop; the next start redoes it (no verdict written)
    if not os.path.lexists(photo) and not verdict.quarantined:
        log.info("%r vanished before its verdict; nothing written", verdict.photo)
        return None
    try:
        write_verdict(target, verdict)
    except OSError as exc:  # the photo is stripped; it is judged again once this clears
        raise MachineFault(_verdict_fault(exc, target)) from exc
    return verdict


def _verdict_fault(exc: OSError, target: Path) -> Fault:
    fault = machine_fault(exc, target.parent, writing=True)
    assert fault is not None  # writing: every OSError is the machine's
    return fault


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
