"""HEIC / HEIF: metadata blanked in place, offsets valid, image data untouched, else refused."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from corpus import open_image, pixels
from planted import (
    HeifItem,
    HeifLayout,
    base_image,
    box,
    build_heif,
    encode,
    exif_tiff,
    heif_boxes,
    leaks,
    mark,
    plain_heif,
    planted_heif,
)
from proofwatch.metadata import read_metadata
from proofwatch.strip import MalformedImage, StripError, UnsupportedFormat, strip_bytes
from proofwatch.strip.heif import HeifParser


def _coded() -> bytes:
    """The coded image of the plain test HEIF (item 1's bytes, all of mdat)."""
    return dict(heif_boxes(plain_heif()))[b"mdat"]


def _exif_item(item_id: int = 2, **overrides: Any) -> HeifItem:
    exif = b"\x00\x00\x00\x06Exif\x00\x00" + exif_tiff(1, "heif-exif")
    return HeifItem(item_id, b"Exif", exif, **overrides)


def _with_exif(**overrides: Any) -> bytes:
    layout = HeifLayout([HeifItem(1, b"hvc1", _coded()), _exif_item(**overrides)])
    layout.refs.append((b"cdsc", 2, (1,)))
    return build_heif(layout)


@pytest.mark.parametrize(
    ("in_idat", "split"), [(False, 1), (True, 1), (False, 3)], ids=["mdat", "idat", "3-extents"]
)
def test_no_planted_byte_survives(in_idat: bool, split: int) -> None:
    data, plain = planted_heif(exif_in_idat=in_idat, split=split)
    assert len(leaks(data)) > 20
    before = open_image(data)
    assert mark("heif-exif-make") in before.info["exif"]  # a reader really sees it
    assert mark("heif-xmp") in before.info["xmp"]

    result = strip_bytes(data, read_metadata(data).orientation)

    assert leaks(result.data) == []
    assert len(result.data) == len(data)  # blanked in place, nothing moved
    assert pixels(result.data) == pixels(plain) == pixels(data)
    after = open_image(result.data)
    assert after.getexif() == {}  # a valid, empty Exif: readers parse it without complaint
    assert not after.info.get("xmp", b"").strip(b"\x00")
    assert set(result.removed) == {"exif", "xmp", "other"}
    meta = read_metadata(result.data)
    assert not meta.had_gps and not meta.camera and meta.captured_at is None


def test_orientation_lives_in_irot_and_is_kept() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = mark("heif-make").decode()
    data = encode(base_image(), "HEIF", quality=90, exif=exif.tobytes())
    assert open_image(data).size == (48, 64)  # pillow-heif wrote an irot property

    out = strip_bytes(data, read_metadata(data).orientation).data

    assert leaks(out) == []
    assert pixels(out) == pixels(data)
    assert pixels(out, upright=True) == pixels(data, upright=True)
    assert open_image(out).size == (48, 64)


def test_stripped_file_strips_to_itself() -> None:
    data, _ = planted_heif()
    once = strip_bytes(data)
    twice = strip_bytes(once.data)
    assert twice.data == once.data and twice.removed == ()


def test_file_without_metadata_is_unchanged() -> None:
    plain = plain_heif()
    result = strip_bytes(plain)
    assert result.data == plain and result.removed == ()


@pytest.mark.parametrize(
    ("overrides", "error", "reason"),
    [
        ({"method": 2}, StripError, "cannot be removed safely"),
        ({"data_reference": 1}, StripError, "cannot be removed safely"),
        ({"claim_at": 0}, StripError, "shares bytes with the image"),
        ({"claim_at": 10**6}, MalformedImage, "outside the file"),
        ({"method": 1}, MalformedImage, "missing idat"),
    ],
    ids=["item-offset", "external-file", "overlaps-image", "outside", "no-idat"],
)
def test_metadata_that_cannot_be_blanked_safely_is_refused(
    overrides: dict[str, object], error: type[StripError], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        HeifParser().strip(_with_exif(**overrides), 1)


def test_primary_image_that_is_metadata_is_refused() -> None:
    layout = HeifLayout([_exif_item(item_id=1), HeifItem(2, b"hvc1", _coded())])
    with pytest.raises(MalformedImage, match="primary image is a metadata item"):
        HeifParser().strip(build_heif(layout), 1)


def test_image_sequences_are_refused() -> None:
    layout = HeifLayout([HeifItem(1, b"hvc1", _coded())], extra_top=box(b"moov", b""))
    with pytest.raises(UnsupportedFormat, match="sequences"):
        HeifParser().strip(build_heif(layout), 1)


def test_items_the_primary_needs_are_kept_whatever_their_type() -> None:
    # A derived image of a type this parser does not know, built from the coded image.
    layout = HeifLayout(
        [HeifItem(1, b"newt", b"derived"), HeifItem(2, b"hvc1", _coded()), _exif_item(item_id=3)],
        refs=[(b"dimg", 1, (2,)), (b"cdsc", 3, (1,))],
    )
    data = build_heif(layout)
    out = strip_bytes(data).data
    assert b"derived" in out and _coded() in out
    assert mark("heif-exif-make") not in out


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (plain_heif()[:-10], "past the end"),
        (plain_heif()[:100], "past the end"),
        (plain_heif() + b"\x00\x00\x00", "inside a box header"),
        (plain_heif() + b"\x00\x00\x00\x04free", "impossible size"),
        (plain_heif() + plain_heif()[24:], "exactly one meta"),  # the ftyp is 24 bytes
        (box(b"ftyp", b"heic\x00\x00\x00\x00mif1") + box(b"mdat", b""), "exactly one meta"),
    ],
    ids=["truncated", "cut-meta", "partial-header", "tiny-box", "two-metas", "no-meta"],
)
def test_broken_heif_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedImage, match=reason):
        HeifParser().strip(data, 1)


@pytest.mark.parametrize(
    ("head", "is_heif"),
    [
        (box(b"ftyp", b"heic\x00\x00\x00\x00mif1heic"), True),
        (box(b"ftyp", b"mif1\x00\x00\x00\x00mif1heic"), True),
        (box(b"ftyp", b"isom\x00\x00\x00\x00isommp41"), False),  # an MP4 video
        (box(b"ftyp", b"isom\x00\x00\x00\x00isommif1"), True),
        (b"\x00\x00\x00\x18ftyp", False),
    ],
)
def test_sniff(head: bytes, is_heif: bool) -> None:
    assert HeifParser().sniff(head) is is_heif


def test_mp4_video_is_not_taken_for_a_photo() -> None:
    video = box(b"ftyp", b"isom\x00\x00\x00\x00isommp41") + box(b"mdat", b"")
    with pytest.raises(UnsupportedFormat):
        strip_bytes(video)


def test_exif_item_is_seen_by_pillow_heif_before_and_empty_after() -> None:
    data = _with_exif()
    assert open_image(data).getexif()[0x010F] == mark("heif-exif-make").decode()
    out = strip_bytes(data).data
    assert open_image(out).getexif() == {}
    assert io.BytesIO(out).getbuffer().nbytes == len(data)
