"""`proofwatch strip FILE...`: many photos stripped in place, with the disk kept busy.

Each photo is read, parsed and written beside itself in the calling thread, while a second
thread waits for the disk to take the previous one and renames it into place. Each folder
is synced once, at the end. A photo is never replaced by bytes that are not on disk yet,
so a crash midway leaves every photo whole: stripped or untouched (plus at most a few temp
files, which the daemon's start-up sweep removes).
"""

from __future__ import annotations

import argparse
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from ..atomic import fsync_dir
from ..intake.reader import FileChanged, Rejected
from ..pipeline.in_place import PendingStrip, stage_strip
from ..strip import StripError
from .common import EXIT_NOT_PASS, EXIT_OK, Subcommands


def register(commands: Subcommands) -> None:
    strip = commands.add_parser(
        "strip", help="remove all metadata from files in place",
        description="Remove every piece of metadata (GPS, EXIF, XMP, IPTC, MakerNotes, "
        "thumbnails, trailers) from each FILE in place, atomically, keeping the pixels: a "
        "file is replaced only once its stripped bytes are on disk, so a crash leaves it "
        "whole. Prints what was removed, file by file, in order. Exit 1 if any file could "
        "not be stripped.",
    )  # fmt: skip
    strip.set_defaults(handler=cmd_strip)
    strip.add_argument(
        "files", type=Path, nargs="+", metavar="FILE",
        help="a JPEG, MPO, PNG, WebP or HEIC/HEIF photo; other files are refused, untouched",
    )  # fmt: skip
    strip.add_argument(
        "--max-size", default="50MB", metavar="SIZE",
        help="refuse larger files (default: 50MB)",
    )  # fmt: skip


def cmd_strip(args: argparse.Namespace) -> int:
    from ..units import parse_size

    failed = 0
    for stripped, line in strip_files(args.files, parse_size(args.max_size)):
        failed += not stripped
        print(line, flush=True)
    return EXIT_NOT_PASS if failed else EXIT_OK


# Photos staged and waiting for the disk: enough to overlap parsing with syncing, few
# enough that memory and temp files stay small.
IN_FLIGHT = 3

Outcome = tuple[bool, str]  # whether the photo was stripped, and the line that says so
# Reads a photo and writes what replaces it beside it: the replacement (None for nothing
# to replace) and the outcome so far.
Stage = Callable[[Path], tuple[PendingStrip | None, Outcome]]


def _not_stripped(path: Path, exc: Exception) -> Outcome:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return False, f"{path}: not stripped: {reason}"


def _stage(path: Path, max_size: int) -> tuple[PendingStrip | None, Outcome]:
    try:
        meta, result, pending = stage_strip(path, max_size)
    except (Rejected, StripError, FileChanged, OSError) as exc:
        return None, _not_stripped(path, exc)
    removed = sorted(set(result.removed) | set(meta.found))
    what = ", ".join(removed) if removed else "nothing to remove"
    return pending, (True, f"{path}: {what} ({result.format}, {result.method})")


def _commit(pending: PendingStrip | None, outcome: Outcome) -> Outcome:
    """Put the staged photo in place; the outcome staging gave, unless that fails."""
    if pending is None:
        return outcome
    try:
        pending.commit(sync_folder=False)
    except (FileChanged, OSError) as exc:
        return _not_stripped(pending.path, exc)
    return outcome


def strip_files(paths: Iterable[Path], max_size: int) -> Iterator[Outcome]:
    """Strip each distinct path in place; yield its outcome, in order, once it is done."""
    keep_freed_buffers()
    return commit_overlapped(paths, functools.partial(_stage, max_size=max_size))


def keep_freed_buffers() -> None:
    """Let glibc keep freed photo-sized buffers for the next photo.

    By default it hands each freed 5 MB buffer back to the kernel and faults fresh pages in
    for the next one: measured, 17 ms a photo in a new process against 9 ms with this.
    Process-wide, so only for this short-lived command, never the daemon. Elsewhere than
    glibc (musl, macOS) nothing changes.
    """
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum: photos up to 32 MB from the heap
    mallopt(m_trim_threshold, 1 << 30)  # and the heap is not trimmed between photos


def commit_overlapped(paths: Iterable[Path], stage: Stage) -> Iterator[Outcome]:
    """Stage each distinct path here while earlier ones are committed in a second thread;
    yield the outcomes in order. (The same file twice would race with itself: done once.)"""
    folders: set[Path] = set()
    waiting: deque[Future[Outcome]] = deque()
    try:
        # Several syncs in flight at once: the filesystem journals them together.
        with ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="strip-commit") as committer:
            for path in dict.fromkeys(paths):
                pending, outcome = stage(path)
                if pending is not None:
                    folders.add(path.parent)
                waiting.append(committer.submit(_commit, pending, outcome))
                while len(waiting) > IN_FLIGHT or (waiting and waiting[0].done()):
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
    finally:
        for folder in folders:
            fsync_dir(folder)
