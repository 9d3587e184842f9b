"""Fuzzed input for every parser: mutations and truncations of valid, metadata-laden files.

Whatever the bytes, a parser returns a result or raises StripError; nothing else escapes, it
never hangs, its output is bounded, and whatever it returns strips to itself. The parsers are
called directly, so the safety net in `strip_bytes` cannot hide a missed bounds check.
"""

from __future__ import annotations

import functools
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planted import (
    HeifItem,
    HeifLayout,
    base_image,
    box,
    build_heif,
    encode,
    heif_boxes,
    join_png,
    join_webp,
    plain_heif,
    planted_heif,
    planted_jpeg,
    planted_png,
    planted_webp,
    png_chunks,
    webp_chunks,
)
from proofwatch.strip import PARSERS, MalformedImage, StripError, strip_bytes
from proofwatch.strip.base import MAX_PARTS, FormatParser

PARSER = {parser.name: parser for parser in PARSERS}


@functools.cache
def seeds(fmt: str) -> tuple[bytes, ...]:
    if fmt == "jpeg":
        return (planted_jpeg(False, 6)[0], planted_jpeg(True, 1)[0])
    if fmt == "png":
        return (planted_png(6)[0], planted_png(1, animated=True)[0])
    if fmt == "webp":
        return (planted_webp(6)[0], planted_webp(1, animated=True)[0])
    return (planted_heif()[0], planted_heif(exif_in_idat=True, split=2)[0])


# One edit: (kind, where as a fraction of the file, bytes or a length).
_EDIT = st.tuples(
    st.sampled_from(["truncate", "overwrite", "insert", "delete", "duplicate"]),
    st.floats(0, 1),
    st.binary(min_size=1, max_size=8),
    st.integers(1, 64),
)


def mutate(data: bytes, edits: list[tuple[str, float, bytes, int]]) -> bytes:
    for kind, where, blob, length in edits:
        pos = int(where * len(data))
        if kind == "truncate":
            data = data[:pos]
        elif kind == "overwrite":
            data = data[:pos] + blob + data[pos + len(blob) :]
        elif kind == "insert":
            data = data[:pos] + blob + data[pos:]
        elif kind == "delete":
            data = data[:pos] + data[pos + length :]
        else:
            data = data[:pos] + data[pos : pos + length] + data[pos:]
    return data


def check(parser: FormatParser, data: bytes, orientation: int) -> None:
    started = time.monotonic()
    try:
        result = parser.strip(data, orientation)
    except StripError as exc:
        assert str(exc)
        return
    finally:
        assert time.monotonic() - started < 2, "far too slow for a file this small"
    assert len(result.data) <= len(data) + 64  # room for a VP8X and an orientation block
    again = strip_bytes(result.data, orientation)
    assert again.data == result.data


# PROOFWATCH_FUZZ_EXAMPLES=20000 for a deep run; 200 keeps the suite fast.
_EXAMPLES = int(os.environ.get("PROOFWATCH_FUZZ_EXAMPLES", "200"))
_SETTINGS = settings(
    max_examples=_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "heif"])
@_SETTINGS
@given(
    seed=st.integers(0, 1),
    edits=st.lists(_EDIT, min_size=1, max_size=4),
    orientation=st.integers(1, 8),
)
def test_mutated_files_get_a_clean_answer(
    fmt: str, seed: int, edits: list[tuple[str, float, bytes, int]], orientation: int
) -> None:
    check(PARSER[fmt], mutate(seeds(fmt)[seed], edits), orientation)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "heif"])
@_SETTINGS
@given(cut=st.floats(0, 1), seed=st.integers(0, 1))
def test_truncated_files_get_a_clean_answer(fmt: str, cut: float, seed: int) -> None:
    data = seeds(fmt)[seed]
    check(PARSER[fmt], data[: int(cut * len(data))], 1)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "heif"])
@settings(max_examples=_EXAMPLES // 2, deadline=None)
@given(tail=st.binary(max_size=512))
def test_garbage_after_a_valid_header_gets_a_clean_answer(fmt: str, tail: bytes) -> None:
    data = seeds(fmt)[0]
    check(PARSER[fmt], data[:64] + tail, 1)


def test_strip_bytes_turns_a_missed_bounds_check_into_a_rejection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: object, data: bytes, orientation: int) -> None:
        raise IndexError("a bug in a parser")

    monkeypatch.setattr(type(PARSER["png"]), "strip", broken)
    with pytest.raises(StripError, match="could not be parsed"):
        strip_bytes(seeds("png")[0])


def _too_many_parts(fmt: str) -> bytes:
    many = MAX_PARTS + 10
    if fmt == "jpeg":
        plain = encode(base_image(), "JPEG")
        return plain[:2] + b"\xff\xd0" * many + plain[2:]  # stray restart markers
    if fmt == "png":
        chunks = png_chunks(encode(base_image(), "PNG"))
        return join_png([chunks[0], *[(b"tEXt", b"")] * many, *chunks[1:]])
    if fmt == "webp":
        return join_webp([*webp_chunks(encode(base_image(), "WEBP")), *[(b"ABCD", b"")] * many])
    coded = dict(heif_boxes(plain_heif()))[b"mdat"]
    layout = HeifLayout([HeifItem(1, b"hvc1", coded)], extra_meta=box(b"free", b"") * many)
    return build_heif(layout)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "heif"])
def test_absurd_numbers_of_parts_are_refused_quickly(fmt: str) -> None:
    data = _too_many_parts(fmt)
    started = time.monotonic()
    with pytest.raises(MalformedImage, match="absurd number of parts"):
        PARSER[fmt].strip(data, 1)
    assert time.monotonic() - started < 5
