"""The reference photos of `reference` rules: one subfolder per object below the rules folder.

Each photo is stripped like an upload (in place when the daemon loads the rules: privacy
applies to the operator's photos too), checked, and turned into the matcher's features,
which are kept by the stripped file's hash, so a reload recomputes only what changed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from ..atomic import is_temp_name, write_atomic
from ..engines import matcher
from ..engines.image import ImageRejected, prepare
from ..metadata import read_metadata
from ..strip import StripError, strip_bytes
from ..tomlsource import SourceError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif")
MAX_BYTES = 50_000_000
MAX_PIXELS = 100_000_000
DECODE_SIDE = 1600  # the size photos are decoded at by the pipeline too
USABLE_FEATURES = 25  # fewer: a blank, blurred or featureless photo, of no use to match

_cache: dict[str, matcher.Features] = {}  # stripped file's sha256 -> its features
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Loaded:
    """One rule's references: the search index, what went into the digest, the problems."""

    gallery: matcher.Gallery | None
    digest: bytes
    errors: tuple[SourceError, ...]


def photos_below(folder: Path) -> list[Path]:
    """The photo files of an object's folder, sorted; temp files of a copy in progress not."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in PHOTO_SUFFIXES and not is_temp_name(p.name) and p.is_file()
    )


def load_references(rule_file: Path, folder: str, line: int | None, strip: bool) -> Loaded:
    """The objects below `folder` (relative to the rule file's folder); `strip`: write the
    stripped photos back in place (the daemon), else only check them (`rules check`)."""
    root = rule_file.parent / folder
    errors: list[SourceError] = []

    def error(message: str) -> None:
        errors.append(SourceError(rule_file, message, line, "references"))

    if not root.is_dir():
        error(f"{folder}: no such folder (one subfolder per object, holding its photos)")
        return Loaded(None, b"", tuple(errors))
    objects: dict[str, list[matcher.Features]] = {}
    digest = hashlib.sha256()
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        usable = []
        for photo in photos_below(sub):
            try:
                found, sha = _features(photo, strip)
            except (OSError, StripError, ImageRejected, ValueError) as exc:
                error(f"{folder}/{sub.name}/{photo.name}: not a usable photo: {exc}")
                continue
            digest.update(f"{sub.name}/{photo.name}\0{sha}\0".encode())
            if len(found) >= USABLE_FEATURES:
                usable.append(found)
            else:
                error(f"{folder}/{sub.name}/{photo.name}: too little detail to match against")
        if not usable:
            error(f"object {sub.name!r} has no usable photo in {folder}/{sub.name}")
        else:
            objects[sub.name] = usable
    if not objects and not errors:
        error(f"{folder}: no object folder with photos in it")
    gallery = matcher.Gallery(objects) if objects else None
    return Loaded(gallery, digest.digest(), tuple(errors))


def _features(photo: Path, strip: bool) -> tuple[matcher.Features, str]:
    data = photo.read_bytes()
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    stripped = strip_bytes(data, read_metadata(data).orientation)
    if strip and stripped.data != data:
        write_atomic(photo, stripped.data)
    with _cache_lock:
        found = _cache.get(stripped.sha256)
    if found is None:
        found = matcher.reference_features(prepare(stripped.data, DECODE_SIDE, MAX_PIXELS))
        with _cache_lock:
            _cache[stripped.sha256] = found
    return found, stripped.sha256
