"""The work queue: every photo at most once queued or in flight, none ever dropped.

Unbounded on purpose: entries are paths, so a burst of thousands costs little memory, and
back-pressure is the workers' pace, never a refusal.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path


class WorkQueue:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._order: deque[Path] = deque()
        self._queued: set[Path] = set()
        self._in_flight: set[Path] = set()
        # Paths that were noticed again while in flight: looked at once more when done.
        self._again: set[Path] = set()
        self._closed = False

    def put(self, path: Path) -> bool:
        """Queue `path`; False when it was already waiting (nothing to do)."""
        with self._cond:
            if path in self._queued:
                return False
            if path in self._in_flight:
                self._again.add(path)
                return False
            self._queued.add(path)
            self._order.append(path)
            self._cond.notify()
            return True

    def get(self, timeout: float | None = None) -> Path | None:
        """The next path, now in flight; None on timeout or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._order or self._closed, timeout):
                return None
            if self._closed:
                return None
            path = self._order.popleft()
            self._queued.discard(path)
            self._in_flight.add(path)
            return path

    def done(self, path: Path) -> None:
        with self._cond:
            self._in_flight.discard(path)
            self._cond.notify_all()
            if path in self._again:
                self._again.discard(path)
                self._queued.add(path)
                self._order.append(path)
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def is_busy(self, path: Path) -> bool:
        with self._cond:
            return path in self._queued or path in self._in_flight

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once nothing is queued or in flight (for backfill and tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._order and not self._in_flight, timeout)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._order)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return len(self._in_flight)
