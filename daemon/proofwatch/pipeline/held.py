"""Holding a photo that could not be stripped out of reach while a fault of the machine
lasts, with what needs no free space: a rename in the same folder, and a chmod.

Kept apart from faults.py so that `proofwatch strip` (which finds held photos through
in_place) loads no state database code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

HELD_MARKER = ".proofwatch-held-"
_HELD = re.compile(re.escape(HELD_MARKER) + r"([0-7]{3,4})-(.+)", re.DOTALL)


def held_name(name: str, mode: int) -> str:
    """The hidden name a photo waits under: a dot name (the watcher, trackers and most web
    servers pass over it) that keeps the photo's permission bits to give back."""
    return f"{HELD_MARKER}{mode & 0o7777:04o}-{name}"


def parse_held(name: str) -> tuple[str, int] | None:
    """The photo's own name and permission bits, when `name` is a held name."""
    found = _HELD.fullmatch(name)
    return None if found is None else (found.group(2), int(found.group(1), 8))


@dataclass(frozen=True)
class Held:
    path: Path  # the hidden name
    mode: int  # the photo's permission bits before it was hidden

    def release(self, photo: Path) -> None:
        """Give the (now stripped) photo its name back; never over a new upload of that
        name, which supersedes it."""
        with contextlib.suppress(OSError):
            os.chmod(self.path, self.mode)
        try:
            os.link(self.path, photo)
        except FileExistsError:
            log.info("%s was uploaded again while held; the held copy is dropped", photo.name)
        except OSError:  # no hard links here (some network and FAT filesystems)
            if not os.path.lexists(photo):
                os.rename(self.path, photo)
                return
        os.unlink(self.path)


def hide(photo: Path) -> Held | None:
    """Take a photo that still holds its metadata out of reach while it cannot be
    stripped: renamed to its held name in the same folder, then the group's and others'
    bits taken away (where the daemon owns it). Neither needs free space. None when it
    cannot be done (a read-only filesystem, a name too long)."""
    try:
        st = os.lstat(photo)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    held = photo.with_name(held_name(photo.name, mode))
    if not stat.S_ISREG(st.st_mode) or len(os.fsencode(held.name)) > 255:
        return None
    try:
        os.rename(photo, held)
    except OSError:
        return None
    with contextlib.suppress(OSError):  # EPERM where the tracker owns it: the name hides it
        os.chmod(held, mode & 0o700)
    return Held(held, mode)


def find_held(photo: Path) -> Held | None:
    """The held copy of `photo`, if a fault set it aside (listed only when the photo is
    missing under its own name: never on the normal path)."""
    with contextlib.suppress(OSError), os.scandir(photo.parent) as entries:
        for entry in entries:
            parsed = parse_held(entry.name)
            if parsed is not None and parsed[0] == photo.name:
                return Held(Path(entry.path), parsed[1])
    return None


def held_photos(names: list[str]) -> list[str]:
    """The photos' own names behind the held names among `names` whose own name is free
    (a start-up or rescan finds photos a stop or a crash left held)."""
    present = set(names)
    found = (parse_held(name) for name in names)
    return [p[0] for p in found if p is not None and p[0] not in present]
