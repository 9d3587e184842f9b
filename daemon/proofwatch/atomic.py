"""Atomic file replacement: a reader sees the old bytes or the new, never a half-written file."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

# Temp files start with a dot and carry this marker, so the watcher ignores them and a
# start-up sweep can remove the ones a crash left behind.
TEMP_MARKER = ".proofwatch-tmp-"


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_MARKER)


def temp_path_for(path: Path) -> Path:
    return path.with_name(f"{TEMP_MARKER}{secrets.token_hex(4)}-{path.name}"[:255])


class WriteFailed(OSError):
    """A file could not be written where it must go (disk full, read-only, no permission):
    a fault of the machine, never of the bytes. `filename` names the file meant, since
    os.write and fsync do not."""


class Staged:
    """New bytes for `path`, written to a temp file beside it, not yet synced or in place.

    Staging and committing apart let a batch keep the disk busy with one file while the
    next is being parsed; `write_atomic` does both at once.
    """

    def __init__(self, path: Path, data: bytes, mode: int | None = None) -> None:
        self.path = path
        self.tmp = temp_path_for(path)
        self._fd = -1
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._fd = os.open(self.tmp, flags, 0o600 if mode is None else mode & 0o7777)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            if mode is not None:
                os.fchmod(self._fd, mode & 0o7777)
        except BaseException as exc:
            self.discard()
            _raise_write_failed(exc, path)

    def commit(self, sync_folder: bool = True) -> os.stat_result:
        """Sync the bytes, then rename them over `path`. Without `sync_folder` the caller
        syncs the folder itself (once for a whole batch) before calling the work done.
        What was put in place (its identity tells it from a file renamed over it later)."""
        try:
            # fdatasync: the data and what reading it back needs (its size), not the times.
            os.fdatasync(self._fd)
            placed = os.fstat(self._fd)
            os.close(self._fd)
            self._fd = -1
            os.replace(self.tmp, self.path)
        except BaseException as exc:
            self.discard()
            _raise_write_failed(exc, self.path)
        if sync_folder:
            fsync_dir(self.path.parent)
        return placed

    def discard(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)


def _raise_write_failed(exc: BaseException, path: Path) -> NoReturn:
    if isinstance(exc, OSError) and not isinstance(exc, WriteFailed):
        raise WriteFailed(exc.errno, exc.strerror, str(path)) from exc
    raise exc


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` through a temp file in the same folder, sync, then rename."""
    Staged(path, data, mode).commit()


def fsync_dir(folder: Path) -> None:
    """Make every rename done in `folder` before this call durable. Photos finishing
    together share one sync (`FolderSyncs`); none waits on a lock while a sync runs."""
    _FOLDERS.sync(os.fspath(folder))


def _fsync_dir_now(folder: str) -> None:
    # Makes the rename itself durable; some filesystems (and non-Linux) refuse it, harmlessly.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class _Turns:
    asked: int = 0  # syncs asked for, each after its caller's rename
    done: int = 0  # asks served: a sync that began after them has ended
    running: bool = False


class FolderSyncs:
    """Group commit of folder syncs: a caller whose rename came before a sync of its
    folder began is served by that sync; those who ask while one runs share the next."""

    def __init__(self, sync: Callable[[str], None] = _fsync_dir_now) -> None:
        self._sync = sync
        self._cond = threading.Condition()
        self._folders: dict[str, _Turns] = {}
        self.syncs = 0  # how many were run (for tests and benchmarks)

    def sync(self, folder: str) -> None:
        with self._cond:
            turns = self._folders.setdefault(folder, _Turns())
            turns.asked += 1
            mine = turns.asked
            while turns.done < mine:
                if turns.running:
                    self._cond.wait()
                    continue
                turns.running, upto = True, turns.asked
                self._cond.release()  # nobody waits on the lock while the disk works
                try:
                    self._sync(folder)
                finally:
                    self._cond.acquire()
                    turns.running = False
                    self.syncs += 1
                    self._cond.notify_all()
                turns.done = upto
            if self._folders.get(folder) is turns and turns.done == turns.asked:
                del self._folders[folder]  # nothing kept per folder: memory stays flat


_FOLDERS = FolderSyncs()


def sweep_temp_files(root: Path) -> int:
    """Remove temp files a crash left behind under `root`; return how many."""
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if is_temp_name(name):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
