"""Which names are photos, which are ours, which are ignored: pure functions of paths."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import PurePath

from ..atomic import is_temp_name

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".mpo")

# Upload temp names, OS litter and NAS metadata folders: never photos, never work.
DEFAULT_IGNORE = (
    ".*",
    "*.part",
    "*.tmp",
    "*.crdownload",
    "~$*",
    "Thumbs.db",
    "@eaDir",
    "#recycle",
    "#snapshot",
)


def is_ignored(relative: PurePath, extra: Sequence[str] = ()) -> bool:
    """True when any segment of the path matches an ignore pattern (folders included)."""
    patterns = (*DEFAULT_IGNORE, *extra)
    return any(
        is_temp_name(part) or any(fnmatch.fnmatchcase(part, p) for p in patterns)
        for part in relative.parts
    )


def is_photo_name(relative: PurePath, extra_ignore: Sequence[str] = ()) -> bool:
    name = relative.name
    return name.lower().endswith(PHOTO_EXTENSIONS) and not is_ignored(relative, extra_ignore)
