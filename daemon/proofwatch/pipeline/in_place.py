"""A photo file stripped where it lies: read without trusting it, the facts to keep read,
the stripped bytes written beside it and renamed over it once they are on disk.

Split in two (stage, then commit) so that `proofwatch strip` can parse one photo while the
last one is being synced; the daemon does both at once (`strip_photo`). A photo that cannot
be stripped but holds metadata is moved out of reach instead (`quarantine`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import Staged, write_atomic
from ..intake.reader import FileChanged, Rejected, Snapshot, read_photo, unchanged_since
from ..metadata import PhotoMetadata, read_metadata
from ..strip import StripError, StripResult, strip_bytes
from .held import find_held

if TYPE_CHECKING:  # sqlite3 is only needed where a store is passed in
    from ..state import StateStore

log = logging.getLogger(__name__)


@dataclass
class PendingStrip:
    """A stripped photo written beside the original, waiting to take its place."""

    path: Path
    snapshot: Snapshot
    staged: Staged

    def commit(self, sync_folder: bool = True) -> Snapshot:
        """Put the stripped photo in place; what is there now."""
        if not unchanged_since(self.path, self.snapshot):
            self.staged.discard()
            raise FileChanged(f"{self.path.name} changed while it was being stripped")
        return Snapshot.of(self.staged.commit(sync_folder))


@dataclass
class InHand:
    """A photo being stripped in place: its facts and stripped bytes at once, and, once the
    replacement is in place, the file's identity (a newer upload renamed over it later is
    another file: the verdict of this one must not be taken for it)."""

    meta: PhotoMetadata
    stripped: StripResult
    placed: Snapshot | None = None  # None until in place, or when not stripped in place


def stage_strip(
    path: Path,
    max_size: int,
    in_place: bool = True,
    facts: StateStore | None = None,
) -> tuple[PhotoMetadata, StripResult, PendingStrip | None]:
    """Read the facts to keep, strip, and (in place) write the result beside the photo.

    With a state store the facts are kept by the stripped file's hash before the file is
    replaced, so a redo after a crash still knows them (`process._Run._recalled`). The
    pending replacement is None when nothing changes or the photo is not to be touched.
    """
    meta, stripped, replace, _snapshot = _strip(path, max_size, in_place, facts)
    return meta, stripped, None if replace is None else replace()


def _strip(
    path: Path, max_size: int, in_place: bool, facts: StateStore | None
) -> tuple[PhotoMetadata, StripResult, Callable[[], PendingStrip] | None, Snapshot | None]:
    """The photo read and stripped in memory, and what stages its replacement (None when
    nothing is to be written): hashing, keeping the facts, writing, all I/O or free of
    the GIL, so that a caller may run it on another thread. Last, the file as read when
    it is left as it is in place (already stripped), else None."""
    data, snapshot, mode = read_photo(path, max_size)
    meta = read_metadata(data)
    stripped = strip_bytes(data, meta.orientation)
    if not in_place or stripped.data == data:
        return meta, stripped, None, snapshot if in_place else None

    def stage() -> PendingStrip:
        if facts is not None:
            facts.remember_facts(stripped.sha256, meta, stripped.removed)
        return PendingStrip(path, snapshot, Staged(path, stripped.data, mode=mode))

    return meta, stripped, stage, None


def strip_photo(
    path: Path, max_size: int, in_place: bool = True, facts: StateStore | None = None
) -> tuple[PhotoMetadata, StripResult]:
    """`stripping` with nothing to do meanwhile: the replacement in place, atomically,
    before anyone reads it."""
    with stripping(path, max_size, in_place, facts) as photo:
        pass
    return photo.meta, photo.stripped


@contextmanager
def stripping(
    path: Path, max_size: int, in_place: bool = True, facts: StateStore | None = None
) -> Iterator[InHand]:
    """The photo stripped in memory, given to the block while its replacement is staged,
    synced and renamed over it on a helper thread (a decode needs only the bytes). The
    block ends once the photo is in place; a failure to put it there is raised over
    whatever the block raised, since a fault of the machine comes before any verdict.

    A photo a fault of the machine set aside under its held name (`held.hide`) is
    stripped there, then given its name back; the folder is listed for it only when the
    photo is missing under its own name."""
    held = None
    try:
        meta, stripped, replace, snapshot = _strip(path, max_size, in_place, facts)
    except Rejected as exc:
        missing = in_place and isinstance(exc.__context__, FileNotFoundError)
        held = find_held(path) if missing else None
        if held is None:
            raise
        try:
            meta, stripped, replace, snapshot = _strip(held.path, max_size, in_place, facts)
            snapshot = None  # given its name back below: another link, another identity
        except StripError:
            held.release(path)  # a bad photo after all: quarantined like any other
            raise
    photo = InHand(meta, stripped)
    placing = None if replace is None else _BESIDE.submit(lambda: replace().commit())
    try:
        yield photo
    finally:
        photo.placed = snapshot if placing is None else placing.result()
        if held is not None:
            held.release(path)
            photo.placed = None


# The photos in hand at once are few (one per worker): so are the replacements in flight.
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="strip")


def quarantine(path: Path, max_size: int, state_dir: Path) -> PhotoMetadata | None:
    """Move `path` to state_dir/quarantine when it holds metadata; what it held, or None
    when it was left where it is (nothing to hide, unreadable, or changed meanwhile)."""
    try:
        data, snapshot, _mode = read_photo(path, max_size)
    except Rejected:
        return None
    meta = read_metadata(data)
    if meta.is_empty:
        return None
    folder = state_dir / "quarantine"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept = folder / f"{hashlib.sha256(data).hexdigest()[:16]}-{path.name}"[:255]
    write_atomic(kept, data, mode=0o600)
    if not unchanged_since(path, snapshot):
        kept.unlink()
        raise FileChanged(f"{path.name} changed while it was being moved to quarantine")
    path.unlink()
    log.warning("%s could not be stripped and held metadata: moved to %s", path.name, kept)
    return meta
