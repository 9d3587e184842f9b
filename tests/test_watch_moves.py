"""The watcher's part in a photo's latency: a rename whose two inotify events reach
watchdog's reading thread one after the other is handed over as soon as the second comes,
not after a half-second sleep that held every event behind it; and events the intake does
not act on are not asked for."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from watchdog.events import FileClosedEvent, FileCreatedEvent, FileSystemEvent
from watchdog.observers.inotify import InotifyEmitter
from watchdog.utils.delayed_queue import DelayedQueue

from proofwatch.watch import moves
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


def test_a_watchdog_built_otherwise_keeps_its_own_pairing(monkeypatch: pytest.MonkeyPatch) -> None:
    from watchdog.observers import inotify_move_event_grouper as grouper

    monkeypatch.setattr(moves, "_RELIED_ON", ("_queue", "_no_such_attribute"))
    monkeypatch.setattr(grouper, "DelayedQueue", DelayedQueue)
    assert moves.install() is False
    assert grouper.DelayedQueue is DelayedQueue  # type: ignore[attr-defined]


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


def test_reading_and_deleting_files_wakes_no_watcher_thread(tmp_path: Path) -> None:
    """Only the events a photo's intake acts on come out of watchdog: files opened, read,
    synced or deleted in the folder (the daemon's own work) do not."""
    seen: list[FileSystemEvent] = []
    marked = threading.Event()

    class Recorder(PhotoEvents):
        def dispatch(self, event: FileSystemEvent) -> None:
            seen.append(event)
            if Path(os.fsdecode(event.src_path)).name == "mark":
                marked.set()

    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(b"\xff\xd8")
    sinks = Sinks(arrived=print, writing=print, folder=print)
    observer = start_observer(tmp_path, Recorder(tmp_path, (), sinks), None)
    try:
        photo.read_bytes()  # opened and closed unwritten
        fd = os.open(tmp_path, os.O_RDONLY)  # the folder opened, as its sync does
        os.close(fd)
        (tmp_path / "IMG_2.jpg").write_bytes(b"\xff\xd8")
        (tmp_path / "IMG_2.jpg").unlink()
        (tmp_path / "mark").write_bytes(b"")  # events come in order: the last one
        assert marked.wait(30)
    finally:
        observer.stop()
        observer.join(30)
    kinds = {type(event) for event in seen}
    assert kinds <= set(PhotoEvents.EVENTS)
    assert FileCreatedEvent in kinds and FileClosedEvent in kinds  # IMG_2 was written
