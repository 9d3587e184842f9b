"""Faults of the machine: telling them from bad photos, and holding a photo out of reach
while one lasts.

A full disk, a read-only remount, an I/O error, an unusable state database: the photo is
not to blame, so it gets no verdict; it waits (`process.MachineFault`) and is judged once the
fault clears. The decisions here are pure functions of exceptions and numbers; the only I/O
is hiding a photo that could not be stripped, which needs no free space (a rename in the
same folder, a chmod), and `probe`, one statvfs.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..atomic import WriteFailed
from ..state import StateUnavailable

log = logging.getLogger(__name__)

FaultKind = Literal["disk_full", "read_only", "io_error", "resources", "unwritable", "state"]

MEANINGS: dict[FaultKind, str] = {
    "disk_full": "no space left (disk full or quota exhausted)",
    "read_only": "the filesystem is read-only",
    "io_error": "I/O error: the disk or its connection is failing",
    "resources": "the system is out of memory or file handles",
    "unwritable": "the daemon may not write there",
    "state": "the state database cannot be used",
}

# errno -> kind: the errors that say the machine is unwell, whatever the photo holds.
ERRNO_KINDS: dict[int, FaultKind] = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EROFS: "read_only",
    errno.EIO: "io_error",
    errno.EUCLEAN: "io_error",  # "structure needs cleaning": the filesystem is damaged
    errno.ESTALE: "io_error",  # an NFS handle gone stale
    errno.ENOTCONN: "io_error",  # a FUSE or network mount gone
    errno.ENOMEM: "resources",
    errno.EMFILE: "resources",
    errno.ENFILE: "resources",
}

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0


@dataclass(frozen=True)
class Fault:
    """What is wrong and where: one fault is reported once, however many photos meet it."""

    kind: FaultKind
    where: str  # the folder (or the state database) the fault was met in
    detail: str  # the system's words (strerror)

    def describe(self) -> str:
        return f"{MEANINGS[self.kind]}: {self.where} ({self.detail})"


def machine_fault(exc: BaseException, folder: Path, writing: bool = False) -> Fault | None:
    """The fault of the machine behind `exc`, or None when the photo (or a bug) is to blame.
    `folder`: where it was met, when the error does not name a file.

    The stages turn an OSError into their own exceptions (a reader's Rejected), so the chain
    of causes is searched. `writing`: the error came from writing what the daemon must
    write (a verdict), so any OSError is the machine's, not the photo's."""
    for cause in _chain(exc):
        if isinstance(cause, StateUnavailable):
            return Fault("state", str(cause.path), cause.detail)
        if not isinstance(cause, OSError):
            continue
        kind = ERRNO_KINDS.get(cause.errno or 0)
        if kind is None and (writing or isinstance(cause, WriteFailed)):
            kind = "unwritable"
        if kind is not None:
            named = isinstance(cause.filename, str)
            where = Path(cause.filename).parent if named else folder
            return Fault(kind, str(where), cause.strerror or type(cause).__name__)
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def backoff(attempt: int) -> float:
    """Seconds before the next try after `attempt` faults in a row: 1, 2, 4 ... 60."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * float(2 ** min(attempt, 16)))


@dataclass(frozen=True)
class FsState:
    free: int  # bytes an unprivileged writer may still use
    read_only: bool


def cleared(kind: FaultKind, then: FsState | None, now: FsState | None) -> bool:
    """Whether the folder's filesystem shows the fault is over (space freed, remounted
    writable), so waiting photos are tried at once rather than at their next backoff. The
    other kinds show nothing statvfs can see: they are retried on backoff alone."""
    if then is None or now is None:
        return False
    if kind == "disk_full":
        return now.free > then.free and not now.read_only
    if kind == "read_only":
        return not now.read_only
    return False


def probe(where: Path) -> FsState | None:
    """The filesystem under `where` (or its nearest existing parent): one statvfs."""
    for folder in (where, *where.parents):
        try:
            st = os.statvfs(folder)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return FsState(st.f_bavail * st.f_frsize, bool(st.f_flag & os.ST_RDONLY))
    return None


# -- holding a photo that could not be stripped out of reach

HELD_MARKER = ".proofwatch-held-"
_HELD = re.compile(re.escape(HELD_MARKER) + r"([0-7]{3,4})-(.+)", re.DOTALL)


def held_name(name: str, mode: int) -> str:
    """The hidden name a photo waits under: a dot name (the watcher, trackers and most web
    servers pass over it) that keeps the photo's permission bits to give back."""
    return f"{HELD_MARKER}{mode & 0o7777:04o}-{name}"


def parse_held(name: str) -> tuple[str, int] | None:
    """The photo's own name and permission bits, when `name` is a held name."""
    found = _HELD.fullmatch(name)
    return None if found is None else (found.group(2), int(found.group(1), 8))


@dataclass(frozen=True)
class Held:
    path: Path  # the hidden name
    mode: int  # the photo's permission bits before it was hidden

    def release(self, photo: Path) -> None:
        """Give the (now stripped) photo its name back; never over a new upload of that
        name, which supersedes it."""
        with contextlib.suppress(OSError):
            os.chmod(self.path, self.mode)
        try:
            os.link(self.path, photo)
        except FileExistsError:
            log.info("%s was uploaded again while held; the held copy is dropped", photo.name)
        except OSError:  # no hard links here (some network and FAT filesystems)
            if not os.path.lexists(photo):
                os.rename(self.path, photo)
                return
        os.unlink(self.path)


def hide(photo: Path) -> Held | None:
    """Take a photo that still holds its metadata out of reach while it cannot be
    stripped: renamed to its held name in the same folder, then the group's and others'
    bits taken away (where the daemon owns it). Neither needs free space. None when it
    cannot be done (a read-only filesystem, a name too long)."""
    try:
        st = os.lstat(photo)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    held = photo.with_name(held_name(photo.name, mode))
    if not stat.S_ISREG(st.st_mode) or len(os.fsencode(held.name)) > 255:
        return None
    try:
        os.rename(photo, held)
    except OSError:
        return None
    with contextlib.suppress(OSError):  # EPERM where the tracker owns it: the name hides it
        os.chmod(held, mode & 0o700)
    return Held(held, mode)


def find_held(photo: Path) -> Held | None:
    """The held copy of `photo`, if a fault set it aside (listed only when the photo is
    missing under its own name: never on the normal path)."""
    with contextlib.suppress(OSError), os.scandir(photo.parent) as entries:
        for entry in entries:
            parsed = parse_held(entry.name)
            if parsed is not None and parsed[0] == photo.name:
                return Held(Path(entry.path), parsed[1])
    return None


def held_photos(names: list[str]) -> list[str]:
    """The photos' own names behind the held names among `names` whose own name is free
    (a start-up or rescan finds photos a stop or a crash left held)."""
    present = set(names)
    found = (parse_held(name) for name in names)
    return [p[0] for p in found if p is not None and p[0] not in present]
