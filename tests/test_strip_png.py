"""PNG / APNG: only allowlisted chunks survive, wherever the others sat; CRCs are checked."""

from __future__ import annotations

import struct
import zlib

import pytest

from corpus import open_image, pixels
from planted import ICC, chunk, encode, join_png, leaks, planted_png, png_chunks
from proofwatch.metadata import read_metadata
from proofwatch.strip import MalformedImage, strip_bytes
from proofwatch.strip.orientation import orientation_tiff
from proofwatch.strip.png import PngParser

ALLOWED = {
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"cICP", b"mDCV", b"cLLI", b"acTL", b"fcTL", b"fdAT", b"eXIf",
}  # fmt: skip


@pytest.mark.parametrize("animated", [False, True], ids=["png", "apng"])
@pytest.mark.parametrize("orientation", [1, 6, 7])
def test_no_planted_byte_survives(animated: bool, orientation: int) -> None:
    data, plain = planted_png(orientation, animated)
    assert len(leaks(data)) > 30
    meta = read_metadata(data)
    assert meta.had_gps and meta.orientation == orientation

    result = strip_bytes(data, meta.orientation)

    assert leaks(result.data) == []
    kinds = [kind for kind, _ in png_chunks(result.data)]
    assert set(kinds) <= ALLOWED and kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert pixels(result.data) == pixels(plain) == pixels(data)
    assert pixels(result.data, upright=True) == pixels(data, upright=True)
    assert read_metadata(result.data).orientation == orientation
    assert set(result.removed) == {"text", "xmp", "exif", "time", "phys", "other", "trailer"}
    if animated:
        assert open_image(result.data).n_frames == 2  # type: ignore[attr-defined]


def test_orientation_is_a_minimal_exif_right_after_ihdr() -> None:
    data, _ = planted_png(orientation=6)
    chunks = png_chunks(strip_bytes(data, 6).data)
    assert chunks[1] == (b"eXIf", orientation_tiff(6))
    assert [kind for kind, _ in chunks].count(b"eXIf") == 1
    upright = [kind for kind, _ in png_chunks(strip_bytes(data, 1).data)]
    assert b"eXIf" not in upright


def test_icc_profile_kept_with_a_neutral_name() -> None:
    data, _ = planted_png()
    out = strip_bytes(data).data
    iccp = dict(png_chunks(out))[b"iCCP"]
    assert iccp.startswith(b"ICC profile\x00\x00")
    assert zlib.decompress(iccp[13:]) == ICC
    assert open_image(out).info["icc_profile"] == ICC


def test_stripped_file_strips_to_itself() -> None:
    data, _ = planted_png(orientation=3, animated=True)
    once = strip_bytes(data, 3)
    twice = strip_bytes(once.data, read_metadata(once.data).orientation)
    assert twice.data == once.data and twice.removed == ()


def test_wrong_size_ancillary_chunk_is_dropped() -> None:
    plain = encode(open_image(planted_png()[1]), "PNG")
    chunks = png_chunks(plain)
    chunks.insert(1, (b"sRGB", b"\x00" + b"hidden"))
    result = strip_bytes(join_png(chunks))
    assert b"hidden" not in result.data and result.removed == ("other",)


def _plain() -> bytes:
    return encode(open_image(planted_png()[1]), "PNG")


def _with_chunks(*extra: tuple[bytes, bytes], at: int = 1) -> bytes:
    chunks = png_chunks(_plain())
    chunks[at:at] = extra
    return join_png(chunks)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_plain()[:-12], "before its IEND"),
        (_plain()[:-20], "past the end"),
        (_plain()[:-14] + b"\x00\x00" + _plain()[-12:], "IDAT fails its CRC"),
        (_with_chunks((b"CgBI", b"\x00" * 4)), "unknown critical chunk CgBI"),
        (_with_chunks((b"IHDR", _plain()[16:29])), "exactly one IHDR"),
        (_with_chunks((b"PLTE", b"\x00\x01")), "PLTE has a wrong size"),
        (_with_chunks((b"bad!", b"")), "corrupt chunk header"),
        (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", _plain()[16:29]) + chunk(b"IEND", b""), "no image"),
        (b"\x89PNG\r\n\x1a\n" + chunk(b"IDAT", b""), "IHDR"),
        (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 2**31) + b"IDAT" + b"\x00" * 4, "corrupt chunk"),
    ],
    ids=[
        "no-iend",
        "truncated",
        "crc",
        "unknown-critical",
        "two-ihdr",
        "bad-plte",
        "bad-type",
        "no-idat",
        "no-ihdr",
        "huge-length",
    ],
)
def test_broken_png_is_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedImage, match=reason):
        PngParser().strip(data, 1)
