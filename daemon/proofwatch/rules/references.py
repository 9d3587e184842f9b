"""The reference photos of `reference` rules: one subfolder per object below the rules folder.

Each photo is stripped like an upload (in place when the daemon loads the rules: privacy
applies to the operator's photos too), checked, and turned into the matcher's features and
the small copy a vision model's reference sheet shows, both kept by the stripped file's
hash, so a reload recomputes only what changed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..atomic import is_temp_name, write_atomic
from ..engines import matcher, sheet
from ..engines.image import ImageRejected, prepare
from ..metadata import read_metadata
from ..strip import StripError, strip_bytes
from ..tomlsource import SourceError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif")
MAX_BYTES = 50_000_000
MAX_PIXELS = 100_000_000
DECODE_SIDE = 1600  # the size photos are decoded at by the pipeline too
USABLE_FEATURES = 25  # fewer: a blank, blurred or featureless photo, of no use to match


@dataclass(frozen=True)
class Computed:
    """What one reference photo gives: the matcher's features and the sheet's small copy."""

    features: matcher.Features
    thumbnail: Image.Image


_cache: dict[str, Computed] = {}  # stripped file's sha256 -> what was computed from it
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class References:
    """One rule's registered objects, for each engine: the CPU matcher's search index and
    the vision model's sheet (None when there are more objects than a sheet labels)."""

    gallery: matcher.Gallery
    sheet: sheet.Sheet | None


@dataclass(frozen=True)
class Loaded:
    """One rule's references, what went into the digest, the problems."""

    references: References | None
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
    objects: dict[str, list[Computed]] = {}
    digest = hashlib.sha256()
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        usable = []
        for photo in photos_below(sub):
            try:
                found, sha = _computed(photo, strip)
            except (OSError, StripError, ImageRejected, ValueError) as exc:
                error(f"{folder}/{sub.name}/{photo.name}: not a usable photo: {exc}")
                continue
            digest.update(f"{sub.name}/{photo.name}\0{sha}\0".encode())
            if len(found.features) >= USABLE_FEATURES:
                usable.append(found)
            else:
                error(f"{folder}/{sub.name}/{photo.name}: too little detail to match against")
        if not usable:
            error(f"object {sub.name!r} has no usable photo in {folder}/{sub.name}")
        else:
            objects[sub.name] = usable
    if not objects and not errors:
        error(f"{folder}: no object folder with photos in it")
    if not objects:
        return Loaded(None, digest.digest(), tuple(errors))
    gallery = matcher.Gallery({name: [c.features for c in got] for name, got in objects.items()})
    drawn = (
        sheet.make_sheet({name: [c.thumbnail for c in got] for name, got in objects.items()})
        if len(objects) <= sheet.MAX_OBJECTS
        else None
    )
    return Loaded(References(gallery, drawn), digest.digest(), tuple(errors))


def _computed(photo: Path, strip: bool) -> tuple[Computed, str]:
    data = photo.read_bytes()
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    stripped = strip_bytes(data, read_metadata(data).orientation)
    if strip and stripped.data != data:
        write_atomic(photo, stripped.data)
    with _cache_lock:
        found = _cache.get(stripped.sha256)
    if found is None:
        image = prepare(stripped.data, DECODE_SIDE, MAX_PIXELS)
        found = Computed(matcher.reference_features(image), sheet.thumbnail(image))
        with _cache_lock:
            _cache[stripped.sha256] = found
    return found, stripped.sha256
