"""watchdog in, intake calls out. The callbacks only classify and enqueue: no I/O here.

A plain FileSystemEventHandler on purpose: pattern-matching handlers drop a move when its
*source* matches an ignore pattern, which is exactly how trackers write (x.jpg.part -> x.jpg).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import ClassVar

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from ..atomic import is_temp_name
from ..intake.names import is_ignored, is_photo_name
from ..units import parse_duration
from . import moves
from .mounts import filesystem_type, needs_polling, read_mounts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sinks:
    arrived: Callable[[Path], object]  # complete now (renamed in, closed after writing)
    writing: Callable[[Path], object]  # being written in place: wait until it settles
    folder: Callable[[Path], object]  # a folder appeared: scan it


class PhotoEvents(FileSystemEventHandler):
    # The events `dispatch` acts on. watchdog asks inotify for these alone: files opened,
    # read or deleted in the folder (the daemon's own reads and syncs among them, a dozen
    # events a photo) wake none of its three threads, which compete with the workers.
    EVENTS: ClassVar[tuple[type[FileSystemEvent], ...]] = (
        FileMovedEvent, DirMovedEvent, DirCreatedEvent, FileClosedEvent, FileCreatedEvent,
        FileModifiedEvent,
    )  # fmt: skip

    def __init__(self, root: Path, ignore: Sequence[str], sinks: Sinks):
        self.root = root
        self.ignore = tuple(ignore)
        self.sinks = sinks

    def _photo(self, raw: str | bytes) -> Path | None:
        path = Path(os.fsdecode(raw))
        try:
            relative = PurePath(path).relative_to(self.root)
        except ValueError:
            return None
        return path if is_photo_name(relative, self.ignore) else None

    def dispatch(self, event: FileSystemEvent) -> None:
        if isinstance(event, FileMovedEvent):
            # Our own temp file renamed over a photo is our write, not new work.
            if is_temp_name(Path(os.fsdecode(event.src_path)).name):
                return
            photo = self._photo(event.dest_path)
            if photo is not None:
                self.sinks.arrived(photo)
        elif isinstance(event, DirMovedEvent | DirCreatedEvent):
            target = event.dest_path if isinstance(event, DirMovedEvent) else event.src_path
            folder = Path(os.fsdecode(target))
            if not is_ignored(PurePath(folder.name)):
                self.sinks.folder(folder)
        elif isinstance(event, FileClosedEvent):
            photo = self._photo(event.src_path)
            if photo is not None:
                self.sinks.arrived(photo)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            photo = self._photo(event.src_path)
            if photo is not None:
                self.sinks.writing(photo)


def polling_interval(root: Path, polling: str) -> tuple[float | None, str]:
    """Seconds between polls (None: inotify) and why, for the log."""
    if polling == "off":
        return None, "inotify (polling = off)"
    if polling != "auto":
        return parse_duration(polling), f"polling every {polling} (configured)"
    fs_type = filesystem_type(str(root.resolve()), read_mounts())
    if needs_polling(fs_type):
        return 5.0, f"polling every 5s: {root} is on a {fs_type} mount, where inotify hears nothing"
    return None, f"inotify ({fs_type or 'local'} filesystem)"


def start_observer(root: Path, handler: PhotoEvents, interval: float | None) -> BaseObserver:
    """inotify (or polling every `interval`); out of inotify watches, poll rather than die."""
    if interval is None:
        moves.install()
        try:
            return _start(Observer(), root, handler)
        except OSError as exc:
            log.error(
                "inotify cannot watch %s (%s): polling every 5s instead. Raise the limit with "
                "sysctl fs.inotify.max_user_watches / max_user_instances (see docs/deploy.md)",
                root,
                exc,
            )
            interval = 5.0
    return _start(PollingObserver(timeout=interval), root, handler)


def _start(observer: BaseObserver, root: Path, handler: PhotoEvents) -> BaseObserver:
    observer.schedule(handler, str(root), recursive=True, event_filter=list(handler.EVENTS))
    observer.daemon = True
    try:
        observer.start()
    except BaseException:
        observer.stop()
        raise
    return observer
