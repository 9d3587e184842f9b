"""Renames are seen as they happen: a rename whose two inotify events reach watchdog's
reading thread one after the other is handed over as soon as the second comes, not after
a half-second sleep that held every event behind it."""

from __future__ import annotations

import threading
from pathlib import Path

from watchdog.observers.inotify import InotifyEmitter

from proofwatch.watch.moves import PairingQueue
from proofwatch.watch.observer import PhotoEvents, Sinks, start_observer


def test_a_held_move_goes_as_soon_as_its_pair_comes() -> None:
    looks = threading.Semaphore(0)

    def still() -> float:  # time stands still: only the pair can end the wait
        looks.release()
        return 0.0

    queue: PairingQueue[str] = PairingQueue(0.5, clock=still)
    queue.put("moved-from", delay=True)
    assert looks.acquire(timeout=0)  # the put's own look at the clock
    got: list[str | None] = []
    reader = threading.Thread(target=lambda: got.append(queue.get()))
    reader.start()
    try:
        # The reader has taken the held IN_MOVED_FROM and waits for its time to come.
        assert looks.acquire(timeout=30)
        # What watchdog does once the IN_MOVED_TO is read: the pair replaces its half.
        assert queue.remove(lambda element: element == "moved-from") == "moved-from"
        queue.put("moved-from+to")
        reader.join(30)
        assert got == ["moved-from+to"]
    finally:
        queue.close()
        reader.join(30)


def test_a_move_left_alone_goes_once_its_time_is_up_and_keeps_its_place() -> None:
    now = [0.0]
    queue: PairingQueue[str] = PairingQueue(0.5, clock=lambda: now[0])
    queue.put("moved-out", delay=True)
    queue.put("created")
    now[0] = 0.5
    assert queue.get() == "moved-out"
    assert queue.get() == "created"
    queue.close()
    assert queue.get() is None


def test_the_daemons_inotify_observer_pairs_moves_with_it(tmp_path: Path) -> None:
    sinks = Sinks(arrived=print, writing=print, folder=print)
    observer = start_observer(tmp_path, PhotoEvents(tmp_path, (), sinks), None)
    try:
        (emitter,) = observer.emitters
        # watchdog's internals: should they move, this says the pairing is watchdog's again.
        assert isinstance(emitter, InotifyEmitter) and emitter._inotify is not None
        assert isinstance(emitter._inotify._move_event_grouper._queue, PairingQueue)
    finally:
        observer.stop()
        observer.join(30)
