"""Files written in place: taken once their size and mtime have held still long enough."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Seen:
    size: int
    mtime_ns: int
    since: float  # when this size and mtime were first seen
    regular: bool = True


def next_seen(
    previous: Seen | None, size: int, mtime_ns: int, now: float, regular: bool = True
) -> Seen:
    if previous is not None and (previous.size, previous.mtime_ns) == (size, mtime_ns):
        return previous
    return Seen(size, mtime_ns, now, regular)


def is_settled(seen: Seen, now: float, delay: float, empty_timeout: float) -> bool:
    """Unchanged for `delay`; a 0-byte placeholder only once it has stayed empty for
    `empty_timeout`. Links, FIFOs and the like are never written: they settle at once
    (and are then rejected, unopened)."""
    if not seen.regular:
        return True
    wait = delay if seen.size > 0 else empty_timeout
    return now - seen.since >= wait


class StabilityWatch:
    """Tracks files that are being written; hands each to `ready` once it settles."""

    def __init__(
        self,
        delay: float,
        empty_timeout: float,
        ready: Callable[[Path], object],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.delay = delay
        self.empty_timeout = empty_timeout
        self.ready = ready
        self.clock = clock
        self._lock = threading.Lock()
        self._files: dict[Path, Seen | None] = {}

    def track(self, path: Path) -> None:
        with self._lock:
            self._files.setdefault(path, None)

    def forget(self, path: Path) -> None:
        with self._lock:
            self._files.pop(path, None)

    def tick(self) -> None:
        """Look at every tracked file once (called a few times a second)."""
        now = self.clock()
        with self._lock:
            tracked = list(self._files.items())
        settled = []
        for path, previous in tracked:
            try:
                st = os.lstat(path)
            except OSError:  # gone: nothing to take
                self.forget(path)
                continue
            regular = stat.S_ISREG(st.st_mode)
            seen = next_seen(previous, st.st_size, st.st_mtime_ns, now, regular)
            if is_settled(seen, now, self.delay, self.empty_timeout):
                settled.append(path)
            else:
                with self._lock:
                    if path in self._files:
                        self._files[path] = seen
        for path in settled:
            self.forget(path)
            self.ready(path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)
