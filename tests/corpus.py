"""The shared photo corpus (../shared/corpus next to the checkout) and image helpers for tests.

A user's clone has no corpus: tests that need it call `require_corpus()` at module level and
are skipped with the reason. Files are listed by folder; `manifest()` is the corpus's own
record of what each file held before any stripping (see ../shared/corpus/README.md).
"""

from __future__ import annotations

import functools
import io
import json
import warnings
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageOps

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FOLDERS = ("camera", "orientation", "formats", "bad")

pillow_heif.register_heif_opener()


def require_corpus() -> Path:
    """The corpus folder; skips the calling test module when it is not there."""
    if not (CORPUS / "manifest.json").is_file():
        pytest.skip(
            f"../shared/corpus not found: {CORPUS} holds the real-photo corpus, which only "
            "the project's shared workspace has; a plain clone runs without these tests",
            allow_module_level=True,
        )
    return CORPUS


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    """Manifest entries by path relative to the corpus ("camera/DSCN0010.jpg")."""
    entries = json.loads((CORPUS / "manifest.json").read_text())
    return {entry["file"]: entry for entry in entries}


def corpus_files(*folders: str) -> list[Path]:
    """Every image of the given folders, sorted; empty when the corpus is absent."""
    return sorted(
        path
        for folder in folders
        for path in (CORPUS / folder).glob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def corpus_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def open_image(data: bytes) -> Image.Image:
    """Open and fully decode, with any decoder warning (corrupt data, bad Exif) an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = Image.open(io.BytesIO(data))
        image.load()
    return image


def pixels(data: bytes, upright: bool = False) -> tuple[str, tuple[int, int], bytes]:
    """Mode, size and raw pixels of the first frame, optionally turned upright by its Exif."""
    image = open_image(data)
    if upright:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = ImageOps.exif_transpose(image)
    return image.mode, image.size, image.tobytes()
