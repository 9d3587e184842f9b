"""metadata.has_maker_note: a few struct reads instead of Pillow's full Exif parse, so it is
checked against Pillow on built blocks, on broken ones, and on every corpus file with Exif."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from corpus import corpus_files, corpus_id
from proofwatch.imaging import open_lazy
from proofwatch.metadata import has_maker_note, read_metadata

EXIF_IFD, MAKER_NOTE, USER_COMMENT = 0x8769, 0x927C, 0x9286


def tiff(endian: str, exif_tags: dict[int, bytes]) -> bytes:
    exif = Image.Exif()
    exif.endian = endian
    exif[0x010F] = "CAMERA"
    if exif_tags:
        exif.get_ifd(EXIF_IFD).update(exif_tags)
    return exif.tobytes()[6:]  # Pillow puts the "Exif\0\0" header in front


@pytest.mark.parametrize("endian", ["<", ">"], ids=["II", "MM"])
def test_maker_note_found_in_either_byte_order(endian: str) -> None:
    with_note = tiff(endian, {USER_COMMENT: b"hello", MAKER_NOTE: b"secret" * 10})
    assert with_note[:2] == (b"II" if endian == "<" else b"MM")
    assert has_maker_note(with_note)
    assert not has_maker_note(tiff(endian, {USER_COMMENT: b"hello"}))
    assert not has_maker_note(tiff(endian, {}))


def test_broken_blocks_hold_no_maker_note() -> None:
    block = tiff("<", {MAKER_NOTE: b"secret" * 10})
    for cut in range(len(block)):  # every truncation: never an exception
        has_maker_note(block[:cut])
    assert not has_maker_note(b"")
    assert not has_maker_note(b"XX\x2a\x00" + block[4:])
    assert not has_maker_note(block[:4] + b"\xff\xff\xff\xff" + block[8:])


def test_read_metadata_reports_the_maker_note() -> None:
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = b"secret" * 10
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=exif)
    assert "makernote" in read_metadata(buffer.getvalue()).found


def pillow_says(data: bytes) -> tuple[bytes, bool] | None:
    """The raw TIFF block and Pillow's own answer, or None when Pillow finds no Exif."""
    try:
        with open_lazy(data) as image:
            raw = image.info.get("exif")
            answer = MAKER_NOTE in image.getexif().get_ifd(EXIF_IFD)
    except Exception:
        return None
    if not isinstance(raw, bytes):
        return None
    return raw.removeprefix(b"Exif\x00\x00"), answer


WITH_EXIF = {
    corpus_id(path): seen
    for path in corpus_files("camera", "orientation", "formats", "bad")
    if (seen := pillow_says(path.read_bytes())) is not None
}


@pytest.mark.skipif(not WITH_EXIF, reason="../shared/corpus not found (a plain clone has none)")
@pytest.mark.parametrize("key", sorted(WITH_EXIF))
def test_agrees_with_pillow_on_the_corpus(key: str) -> None:
    raw, answer = WITH_EXIF[key]
    assert has_maker_note(raw) == answer
