"""The registry: which parser takes a file, what other files are told, the shared vocabulary."""

from __future__ import annotations

import pytest

from planted import planted_heif, planted_jpeg, planted_png, planted_webp
from proofwatch.strip import (
    PARSERS,
    REMOVED_CATEGORIES,
    UnsupportedFormat,
    detect_format,
    strip_bytes,
)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (planted_jpeg()[0], "jpeg"),
        (planted_png()[0], "png"),
        (planted_webp()[0], "webp"),
        (planted_heif()[0], "heif"),
    ],
)
def test_each_format_goes_to_its_parser(data: bytes, name: str) -> None:
    parser = detect_format(data[:64])
    assert parser is not None and parser.name == name
    assert strip_bytes(data).format == name


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"GIF89a\x01\x00\x01\x00", "GIF files are not supported"),
        (b"II*\x00\x08\x00\x00\x00", "TIFF files are not supported"),
        (b"%PDF-1.7\n", "PDF files are not supported"),
        (b"BM" + b"\x00" * 40, "BMP files are not supported"),
        (b"hello, world", "not an image in a supported format"),
        (b"\x89PNG\r\n", "not an image in a supported format"),  # too short to be sure
    ],
)
def test_other_files_are_named_in_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(UnsupportedFormat, match=reason):
        strip_bytes(data)


def test_orientation_out_of_range_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="orientation"):
        strip_bytes(planted_jpeg()[0], 9)


@pytest.mark.parametrize(
    "data", [planted_jpeg(True, 6)[0], planted_png(6)[0], planted_webp(6)[0], planted_heif()[0]]
)
def test_every_reported_category_is_documented(data: bytes) -> None:
    assert set(strip_bytes(data, 6).removed) <= set(REMOVED_CATEGORIES)


def test_parsers_have_distinct_names() -> None:
    assert len({parser.name for parser in PARSERS}) == len(PARSERS)
