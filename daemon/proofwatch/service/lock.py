"""One process per watched folder: the daemon and `proofwatch backfill` take the same lock.

Two processes stripping and judging the same photos would race on the files and on the
history; the lock (flock on state_dir/watch-<hash>.lock) makes the second one refuse.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path


class AlreadyRunning(Exception):
    pass


def lock_path(state_dir: Path, root: Path) -> Path:
    key = hashlib.sha256(os.fsencode(root)).hexdigest()[:12]
    return state_dir / f"watch-{key}.lock"


def take_watch_lock(state_dir: Path, root: Path) -> int:
    """Lock `root` (already resolved) for this process; the fd holds it until exit or close."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(state_dir, root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = path.read_text().strip() or "another process"
        raise AlreadyRunning(
            f"another proofwatch (pid {holder}) already watches {root} (lock {path}); stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
