"""WebP: EXIF, XMP and unknown chunks go (inside animation frames too), VP8X flags follow."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from corpus import open_image, pixels
from planted import (
    ICC,
    base_image,
    encode,
    join_webp,
    leaks,
    planted_webp,
    riff_chunk,
    webp_chunks,
)
from proofwatch.metadata import read_metadata
from proofwatch.strip import MalformedImage, strip_bytes
from proofwatch.strip.orientation import EXIF_HEADER, orientation_tiff
from proofwatch.strip.webp import WebpParser

_ICC, _ALPHA, _EXIF, _XMP, _ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02


def _vp8x(data: bytes) -> bytes:
    kind, payload = webp_chunks(data)[0]
    assert kind == b"VP8X"
    return payload


@pytest.mark.parametrize("animated", [False, True], ids=["still", "animated"])
@pytest.mark.parametrize("orientation", [1, 6, 2])
def test_no_planted_byte_survives(animated: bool, orientation: int) -> None:
    data, plain = planted_webp(orientation, animated)
    assert len(leaks(data)) > 15
    meta = read_metadata(data)
    assert meta.had_gps and meta.orientation == orientation

    result = strip_bytes(data, meta.orientation)

    assert leaks(result.data) == []
    assert pixels(result.data) == pixels(plain) == pixels(data)
    assert pixels(result.data, upright=True) == pixels(data, upright=True)
    assert read_metadata(result.data).orientation == orientation
    assert set(result.removed) == {"other", "exif", "xmp", "trailer"}
    (riff_size,) = struct.unpack_from("<I", result.data, 4)
    assert riff_size == len(result.data) - 8
    vp8x = _vp8x(result.data)
    assert vp8x[1:4] == b"\x00\x00\x00"  # reserved bytes zeroed
    assert bool(vp8x[0] & _EXIF) == (orientation != 1)
    assert not vp8x[0] & _XMP
    assert bool(vp8x[0] & _ANIMATION) == animated
    assert bool(vp8x[0] & _ICC) == (not animated)  # the still one carries a profile
    if animated:
        assert open_image(result.data).n_frames == 2  # type: ignore[attr-defined]
    else:
        assert open_image(result.data).info["icc_profile"] == ICC


def test_kept_chunks_and_the_orientation_chunk() -> None:
    data, _ = planted_webp(orientation=6)
    chunks = webp_chunks(strip_bytes(data, 6).data)
    assert [kind for kind, _ in chunks] == [b"VP8X", b"ICCP", b"VP8 ", b"EXIF"]
    assert chunks[-1][1] == EXIF_HEADER + orientation_tiff(6)


@pytest.mark.parametrize(
    ("lossless", "mode"), [(False, "RGB"), (True, "RGB"), (True, "RGBA")], ids=str
)
def test_simple_file_gets_a_vp8x_only_when_it_needs_orientation(lossless: bool, mode: str) -> None:
    image = base_image(mode=mode)
    if mode == "RGBA":  # real transparency, or the encoder rightly says "no alpha used"
        image.putalpha(Image.linear_gradient("L").resize(image.size))
    plain = encode(image, "WEBP", lossless=lossless, quality=90)
    assert webp_chunks(plain)[0][0] in (b"VP8 ", b"VP8L")  # simple format
    # A simple file with an EXIF tacked on (invalid without VP8X, but seen in the wild).
    tacked = join_webp([*webp_chunks(plain), (b"EXIF", b"Exif\x00\x00" + orientation_tiff(6))])
    assert strip_bytes(tacked, 1).data == plain
    rotated = strip_bytes(tacked, 6).data
    vp8x = _vp8x(rotated)
    width = int.from_bytes(vp8x[4:7], "little") + 1
    height = int.from_bytes(vp8x[7:10], "little") + 1
    assert (width, height) == (64, 48)
    assert bool(vp8x[0] & _ALPHA) == (mode == "RGBA")
    assert pixels(rotated) == pixels(plain)
    assert pixels(rotated, upright=True)[1] == (48, 64)
    assert open_image(rotated).getexif()[0x0112] == 6


def test_metadata_reader_finds_orientation_after_an_odd_sized_chunk() -> None:
    chunks = webp_chunks(strip_bytes(planted_webp(orientation=6)[0], 6).data)
    chunks.insert(1, (b"ODD!", b"abc"))
    assert read_metadata(join_webp(chunks)).orientation == 6


def test_odd_chunks_are_padded_and_a_missing_final_pad_is_tolerated() -> None:
    plain = encode(base_image(), "WEBP", quality=90)
    chunks = webp_chunks(plain)
    odd = join_webp([*chunks, (b"ODD!", b"abc")])
    unpadded = odd[:-1]
    unpadded = unpadded[:4] + struct.pack("<I", len(unpadded) - 8) + unpadded[8:]
    assert strip_bytes(odd).data == strip_bytes(unpadded).data == plain


def test_stripped_file_strips_to_itself() -> None:
    data, _ = planted_webp(orientation=8, animated=True)
    once = strip_bytes(data, 8)
    twice = strip_bytes(once.data, read_metadata(once.data).orientation)
    assert twice.data == once.data and twice.removed == ()


def _plain() -> bytes:
    return encode(base_image(), "WEBP", quality=90)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_plain()[:-100], "past the end"),
        (_plain()[:16], "too short"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00ABCD", "inside a chunk header"),
        (join_webp([(b"EXIF", b"x" * 10)]), "no image data"),
        (join_webp([(b"VP8X", b"\x00" * 4), (b"VP8 ", b"")]), "VP8X header is too short"),
        (join_webp([(b"VP8X", b"\x02" + b"\x00" * 9), (b"ANMF", b"\x00" * 8)]), "too short"),
        (join_webp([(b"VP8L", b"\x00" * 10)]), "bitstream header is corrupt"),
    ],
    ids=["truncated", "tiny", "cut-header", "no-image", "short-vp8x", "short-frame", "bad-vp8l"],
)
def test_broken_webp_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedImage, match=reason):
        WebpParser().strip(data, 6)


def test_frame_subchunks_are_filtered() -> None:
    data, _ = planted_webp(animated=True)
    out = strip_bytes(data).data
    for kind, payload in webp_chunks(out):
        if kind == b"ANMF":
            inner = [k for k, _ in webp_chunks(payload, 16)]
            assert set(inner) <= {b"ALPH", b"VP8 ", b"VP8L"}
    assert riff_chunk(b"XYZW", b"") not in out
