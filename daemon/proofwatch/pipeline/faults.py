"""Faults of the machine: telling them from bad photos, and holding a photo out of reach
while one lasts.

A full disk, a read-only remount, an I/O error, an unusable state database: the photo is
not to blame, so it gets no verdict; it waits (`process.MachineFault`) and is judged once the
fault clears. The decisions here are pure functions of exceptions and numbers; the only I/O
is `probe`, one statvfs. Hiding a photo meanwhile is `held.py`.
"""

from __future__ import annotations

import errno
import logging
import os
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
