"""Reading a photo without trusting it: no symlinks, no FIFOs, no devices, bounded size."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..vocabulary import ReasonCode


class Rejected(Exception):
    """The file is not a usable photo; the message says why, for a person, and
    `reason_code` for a program."""

    def __init__(self, message: str, reason_code: ReasonCode = "file_unreadable"):
        super().__init__(message)
        self.reason_code: ReasonCode = reason_code


class FileChanged(Exception):
    """The file changed while it was being worked on: not bad input, just not finished.
    It is looked at again once it settles."""


@dataclass(frozen=True)
class Snapshot:
    """What the file was when read: compared again before it is replaced."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Snapshot:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def describe_non_regular(mode: int) -> str | None:
    if stat.S_ISLNK(mode):
        return "it is a symbolic link; links are never followed"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "it is a named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "it is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "it is a device, not a file"
    if not stat.S_ISREG(mode):
        return "it is not a regular file"
    return None


def read_photo(path: Path, max_size: int) -> tuple[bytes, Snapshot, int]:
    """The file's bytes, its identity and its permission bits; Rejected when unusable."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        raise Rejected("the file disappeared before it could be read") from None
    except OSError as exc:
        raise Rejected(f"the file cannot be examined ({exc.strerror})") from None
    problem = describe_non_regular(before.st_mode)
    if problem:
        raise Rejected(problem, "not_a_file")
    if before.st_size == 0:
        raise Rejected("the file is empty (0 bytes)", "empty_file")
    if before.st_size > max_size:
        message = f"the file is {before.st_size} bytes, over the limit of {max_size}"
        raise Rejected(message, "too_large")
    # O_NONBLOCK: if the name was swapped for a FIFO after lstat, open must not hang.
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Rejected("the file disappeared before it could be read") from None
    except OSError as exc:
        raise Rejected(f"the file cannot be opened ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        problem = describe_non_regular(st.st_mode)
        if problem:
            raise Rejected(problem, "not_a_file")
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise Rejected("the file was replaced while it was being opened")
        # One read of the expected size (plus one byte, to notice growth) is the common
        # case; the loop only goes on for a file that is still being written.
        chunks = []
        remaining = max_size + 1
        want = min(remaining, st.st_size + 1)
        while remaining > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
            want = min(remaining, 1 << 20)
    except OSError as exc:
        raise Rejected(f"the file cannot be read ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    data = b"".join(chunks)  # a single chunk is returned as it is, not copied
    if len(data) > max_size:
        message = f"the file grew past the limit of {max_size} bytes while being read"
        raise Rejected(message, "too_large")
    if not data:
        raise Rejected("the file is empty (0 bytes)", "empty_file")
    return data, Snapshot.of(st), stat.S_IMODE(st.st_mode)


def unchanged_since(path: Path, snapshot: Snapshot) -> bool:
    """True when the file at `path` is still the one that was read (not replaced, not grown)."""
    try:
        return Snapshot.of(os.lstat(path)) == snapshot
    except OSError:
        return False
