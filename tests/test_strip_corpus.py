"""Every photo of ../shared/corpus, stripped: still decodes, same pixels, same orientation,
nothing exifread can find but Orientation, no camera strings left, and idempotent.

And every file of corpus/bad: a clean StripError with a reason, or (where the damage is in
metadata the stripper drops anyway) a clean stripped file.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import exifread
import pytest
from PIL import ImageOps

from corpus import corpus_files, corpus_id, manifest, open_image, require_corpus
from proofwatch.metadata import read_metadata
from proofwatch.strip import MalformedImage, StripError, UnsupportedFormat, strip_bytes

require_corpus()

GOOD = corpus_files("camera", "orientation", "formats")
BAD = corpus_files("bad")

# ultrahdr.jpg is refused, on purpose. Its walk: Exif, JFIF, ICC, XMP, Extended XMP, MPF,
# DQT, SOF0, DHT, then an SOS header that is the file's last 14 bytes: no scan data at all.
# The primary image itself is cut off (not a complete primary with a truncated gain map
# after it), Pillow cannot decode it either, so there is nothing lossless to keep.
REFUSED = {"formats/ultrahdr.jpg": "cut off"}

# Strings that only metadata carries: none may survive.
SIGNATURES = (b"<x:xmpmeta", b"http://ns.adobe.com/xap", b"Photoshop 3.0", b"8BIM", b"MPF\x00")
# Tags whose text identifies the camera or its owner; checked as raw bytes after stripping.
IDENTIFYING = (
    "Image Make",
    "Image Model",
    "Image Software",
    "Image Artist",
    "Image Copyright",
    "EXIF BodySerialNumber",
    "EXIF LensModel",
    "MakerNote SerialNumber",
    "MakerNote InternalSerialNumber",
)


def _tags(data: bytes) -> dict[str, object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(exifread.process_file(io.BytesIO(data), details=True))


def _identifying_strings(data: bytes) -> set[bytes]:
    tags = _tags(data)
    texts = {str(tags[name]).strip() for name in IDENTIFYING if name in tags}
    return {text.encode() for text in texts if len(text) >= 6}


def _decoded(data: bytes) -> tuple[str, str]:
    """Digests of the first frame's pixels, as stored and as displayed (Exif-upright)."""
    image = open_image(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        upright = ImageOps.exif_transpose(image)

    def digest(im: object) -> str:
        mode, size, raw = im.mode, im.size, im.tobytes()  # type: ignore[attr-defined]
        return f"{mode} {size} " + hashlib.sha256(raw).hexdigest()

    return digest(image), digest(upright)


@pytest.mark.parametrize("path", GOOD, ids=corpus_id)
def test_corpus_photo_is_stripped_losslessly(path: Path) -> None:
    data = path.read_bytes()
    key = corpus_id(path)
    meta = read_metadata(data)
    if key in REFUSED:
        with pytest.raises(MalformedImage, match=REFUSED[key]):
            strip_bytes(data, meta.orientation)
        return
    result = strip_bytes(data, meta.orientation)
    out = result.data

    # Lossless: the same pixels, displayed the same way up.
    assert _decoded(out) == _decoded(data)
    after = read_metadata(out)
    if result.format == "heif":
        # HEIF orientation lives in irot/imir, untouched (and checked by the upright pixels
        # above); the blanked Exif item says nothing, not even Orientation.
        assert after.orientation == 1
    else:
        assert after.orientation == meta.orientation

    # Nothing left to find.
    assert set(_tags(out)) <= {"Image Orientation"}
    assert not after.had_gps and not after.camera and after.captured_at is None
    for needle in (*SIGNATURES, *_identifying_strings(data)):
        assert needle not in out, f"{needle!r} survived"
    if manifest()[key].get("has_gps"):
        assert "exif" in result.removed

    # Idempotent: a stripped photo strips to itself, and nothing is reported removed.
    again = strip_bytes(out, after.orientation)
    assert again.data == out
    assert again.removed == ()


# What each bad file gets. None: the damage sits in metadata the stripper drops without
# reading (a zTXt bomb, broken Exif, odd XMP), so it strips cleanly; the pipeline's decode
# step then judges the pixels.
BAD_OUTCOME: dict[str, type[StripError] | None] = {
    "bad/broken.png": MalformedImage,
    "bad/broken_exif_dpi.jpg": None,
    "bad/corrupted.jpg": MalformedImage,
    "bad/decompression_bomb.gif": UnsupportedFormat,
    "bad/invalid_image00971.jpg": None,
    "bad/png_decompression_dos.png": None,
    "bad/truncated_end_chunk.png": MalformedImage,
    "bad/truncated_image.png": MalformedImage,
    "bad/truncated_jpeg.jpg": MalformedImage,
}


@pytest.mark.parametrize("path", BAD, ids=corpus_id)
def test_bad_file_gets_a_clean_answer(path: Path) -> None:
    data = path.read_bytes()
    key = corpus_id(path)
    assert key in BAD_OUTCOME, f"new bad file {key}: decide what it should get"
    expected = BAD_OUTCOME[key]
    if expected is not None:
        with pytest.raises(expected) as caught:
            strip_bytes(data, read_metadata(data).orientation)
        reason = str(caught.value)
        assert reason and "\n" not in reason and len(reason) < 200
        return
    result = strip_bytes(data, read_metadata(data).orientation)
    assert len(result.data) <= len(data)
    assert set(_tags(result.data)) <= {"Image Orientation"}
    assert strip_bytes(result.data).data == result.data
