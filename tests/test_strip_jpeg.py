"""JPEG / MPO: every metadata slot planted, none survives, pixels and orientation kept."""

from __future__ import annotations

import struct

import pytest

from corpus import open_image, pixels
from planted import ICC, encode, jpeg_with_comment, leaks, planted_jpeg, segment
from proofwatch.metadata import read_metadata
from proofwatch.strip import MalformedImage, strip_bytes
from proofwatch.strip.jpeg import JpegParser
from proofwatch.strip.orientation import EXIF_HEADER, orientation_tiff


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) up to the first SOS."""
    out, pos = [], 2
    while data[pos + 1] != 0xDA:
        (length,) = struct.unpack_from(">H", data, pos + 2)
        out.append((data[pos + 1], data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return out


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
@pytest.mark.parametrize("orientation", [1, 6, 5])
def test_no_planted_byte_survives(progressive: bool, orientation: int) -> None:
    data, plain = planted_jpeg(progressive, orientation)
    assert len(leaks(data)) > 30  # the slots really were planted
    meta = read_metadata(data)
    assert meta.had_gps and meta.camera and meta.orientation == orientation

    result = strip_bytes(data, meta.orientation)

    assert leaks(result.data) == []
    assert pixels(result.data) == pixels(plain) == pixels(data)
    assert pixels(result.data, upright=True) == pixels(data, upright=True)
    assert read_metadata(result.data).orientation == orientation
    expected = {"exif", "thumbnail", "xmp", "mpf", "fpxr", "other", "iptc", "comment", "trailer"}
    assert set(result.removed) == expected


def test_kept_segments_and_their_order() -> None:
    data, _ = planted_jpeg(orientation=6)
    out = strip_bytes(data, 6).data
    segments = _segments(out)
    # JFIF first (moved ahead of the Exif that preceded it), thumbnail gone; then the one
    # minimal Exif; the ICC profile and the Adobe segment (cut to its 12 bytes) are kept.
    assert segments[0] == (0xE0, b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")
    assert segments[1] == (0xE1, EXIF_HEADER + orientation_tiff(6))
    assert (0xE2, b"ICC_PROFILE\x00\x01\x01" + ICC) in segments
    assert (0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01") in segments
    app_markers = [m for m, _ in segments if 0xE0 <= m <= 0xEF]
    assert app_markers == [0xE0, 0xE1, 0xEE, 0xE2]  # the rest keep their order
    assert open_image(out).info["icc_profile"] == ICC
    assert out.endswith(b"\xff\xd9") and out.count(b"\xff\xd8") == 1


def test_upright_photo_gets_no_exif_at_all() -> None:
    data, _ = planted_jpeg()
    out = strip_bytes(data, 1).data
    assert EXIF_HEADER not in out
    assert [m for m, _ in _segments(out) if 0xE0 <= m <= 0xEF] == [0xE0, 0xEE, 0xE2]


def test_mpo_becomes_its_first_frame() -> None:
    first = encode(open_image(planted_jpeg()[1]), "JPEG", quality=80)
    second = jpeg_with_comment(b"second frame")
    out = strip_bytes(first + second).data
    assert out == strip_bytes(first).data
    assert b"second frame" not in out


def test_fill_bytes_before_markers_are_dropped() -> None:
    plain = encode(open_image(planted_jpeg()[1]), "JPEG", quality=80)
    padded = plain[:2] + b"\xff\xff\xff" + plain[2:-2] + b"\xff\xff\xff\xd9"
    assert strip_bytes(padded).data == strip_bytes(plain).data


def test_a_stripped_file_strips_to_itself_and_reports_nothing() -> None:
    data, _ = planted_jpeg(progressive=True, orientation=8)
    once = strip_bytes(data, 8)
    twice = strip_bytes(once.data, read_metadata(once.data).orientation)
    assert twice.data == once.data and twice.removed == ()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[: len(d) // 2], "cut off"),  # truncated inside the scan
        (lambda d: d[:-2], "cut off"),  # no EOI
        (lambda d: d[:2] + b"garbage" + d[2:], "garbage"),
        (lambda d: d[:2] + b"\xff\x9f\x00\x04ab" + d[2:], "invalid marker"),
        (lambda d: d[:2] + b"\xff\xd8" + d[2:], "invalid marker"),  # a second SOI
        (lambda d: d[:2] + b"\xff\xe1\x00\x01" + d[2:], "impossible length"),
        (lambda d: d[:2] + b"\xff\xe1\xff\xf0abc", "past the end"),
        (lambda d: d[:2] + b"\xff\xd9", "no image data"),
    ],
)
def test_broken_jpeg_is_rejected_with_a_reason(damage: object, reason: str) -> None:
    plain = encode(open_image(planted_jpeg()[1]), "JPEG", quality=80)
    with pytest.raises(MalformedImage, match=reason):
        JpegParser().strip(damage(plain), 1)  # type: ignore[operator]


def test_scan_before_frame_header_is_rejected() -> None:
    sos = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x12\x34"
    with pytest.raises(MalformedImage, match="before its frame header"):
        JpegParser().strip(b"\xff\xd8" + sos + b"\xff\xd9", 1)
