"""Renames seen as they happen: watchdog's pairing of a rename's two inotify events, minus
a sleep.

watchdog (7.x) holds an IN_MOVED_FROM at the head of its event queue for up to 0.5 s, for
the IN_MOVED_TO of the same rename to join it. Its reading thread can take that head in
the instant before the IN_MOVED_TO is queued (watchdog's two threads race; about one
rename in 150 on a busy machine), and then it sleeps the whole 0.5 s although the pair
came a moment later, while every event behind it waits: a photo renamed in then, or the
verdict or stripped photo renamed in just before it, was seen half a second late.
`PairingQueue` waits on the queue's condition instead, which the pair's arrival wakes. An
IN_MOVED_FROM left alone (a file moved out of the tree) is still held its 0.5 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from watchdog.utils.delayed_queue import DelayedQueue

T = TypeVar("T")


class PairingQueue(DelayedQueue[T]):
    """watchdog's DelayedQueue, whose reader waits for a held element's time to come on the
    queue's condition (woken by every put) rather than in a sleep nothing can cut short."""

    def __init__(self, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(delay)
        self.clock = clock

    def put(self, element: T, *, delay: bool = False) -> None:
        with self._not_empty:
            self._queue.append((element, self.clock(), delay))
            self._not_empty.notify()

    def get(self) -> T | None:
        with self._not_empty:
            while not self._closed:
                if not self._queue:
                    self._not_empty.wait()
                    continue
                head, queued_at, held = self._queue[0]
                left = queued_at + self.delay - self.clock() if held else 0.0
                if left > 0:
                    self._not_empty.wait(left)  # the pair, once queued, is the new head
                    continue
                self._queue.popleft()
                return head
            return None


# What `PairingQueue` relies on in watchdog's queue; a watchdog whose queue is built otherwise
# keeps its own (and its sleep) rather than an observer thread that fails on every event.
_RELIED_ON = ("_queue", "_not_empty", "_closed", "remove", "close")


def install() -> bool:
    """Pair renames with `PairingQueue` in every inotify observer started from now on;
    False when this watchdog is not the one it was written against (its own way stands)."""
    try:
        from watchdog.observers import inotify_move_event_grouper as grouper
    except ImportError:
        return False
    if getattr(grouper, "DelayedQueue", None) not in (DelayedQueue, PairingQueue):
        return False
    if not all(hasattr(DelayedQueue(0.0), name) for name in _RELIED_ON):
        return False
    grouper.DelayedQueue = PairingQueue  # type: ignore[attr-defined]
    return True
