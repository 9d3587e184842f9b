"""Atomic file replacement: a reader sees the old bytes or the new, never a half-written file."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

# Temp files start with a dot and carry this marker, so the watcher ignores them and a
# start-up sweep can remove the ones a crash left behind.
TEMP_MARKER = ".proofwatch-tmp-"


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_MARKER)


def temp_path_for(path: Path) -> Path:
    return path.with_name(f"{TEMP_MARKER}{secrets.token_hex(4)}-{path.name}"[:255])


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` through a temp file in the same folder, sync, then rename."""
    tmp = temp_path_for(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600 if mode is None else mode & 0o7777)
    try:
        with os.fdopen(fd, "wb", closefd=True) as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode & 0o7777)
            # fdatasync: the data and what reading it back needs (its size), not the times.
            os.fdatasync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; some filesystems (and non-Linux) refuse it, harmlessly.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
