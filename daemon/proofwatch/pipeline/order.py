"""Photos judged at once still make history one at a time, in the order they were taken.

The history decides which of two copies of a photo is the original (the one first seen)
and which the reuse: the daemon's workers take photos in arrival order, and a photo whose
rules read the history takes its turn there (reading it, then recording its own verdict)
only once every photo taken before it has had its turn or left without one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ArrivalOrder:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._open: set[int] = set()  # tickets taken whose photo has not had its turn

    def ticket(self) -> int:
        """A number for a photo just taken from the queue, higher than any before it."""
        with self._cond:
            number = self._next
            self._next += 1
            self._open.add(number)
            return number

    def passed(self, number: int) -> None:
        """The photo is done with the history (or never needed it): later ones go on.
        Idempotent, so a caller may say it once more when the photo leaves."""
        with self._cond:
            self._open.discard(number)
            self._cond.notify_all()

    @contextmanager
    def turn(self, number: int) -> Iterator[None]:
        """Wait until every earlier photo has passed; the block then has the history to
        itself (later photos wait for it), and passes on leaving."""
        with self._cond:
            self._cond.wait_for(lambda: min(self._open, default=number) >= number)
        try:
            yield
        finally:
            self.passed(number)
