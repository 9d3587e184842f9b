"""Reason codes: one vocabulary (proofwatch.vocabulary), the schema's enum and the shipped
translations checked against it, and every decision and rejection naming its cause."""

from __future__ import annotations

import json
import os
import re
import struct
import typing
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from proofwatch.contract.verdict import summarize
from proofwatch.engines.image import ImageRejected, open_checked
from proofwatch.intake.reader import Rejected, read_photo
from proofwatch.metadata import PhotoMetadata
from proofwatch.pipeline.process import rejection_code
from proofwatch.rules.decide import (
    Facts,
    Similarity,
    _combine,
    decide,
    decide_duplicate,
    decide_metadata,
    decide_presence,
)
from proofwatch.rules.loader import load_rules
from proofwatch.rules.model import Rule
from proofwatch.strip import StripError, strip_bytes
from proofwatch.vocabulary import (
    HINT_CODES,
    REASON_CODES,
    HintCode,
    Reading,
    ReasonCode,
    Request,
    RuleResult,
)
from schema_check import SCHEMA_DIR

REPO = Path(__file__).resolve().parents[1]
CET = timezone(timedelta(hours=1))
ISSUED = datetime(2026, 11, 22, 10, 0, tzinfo=CET)


# -- one vocabulary


def test_the_code_lists_are_the_literals() -> None:
    assert list(REASON_CODES) == list(typing.get_args(ReasonCode))
    assert list(HINT_CODES) == list(typing.get_args(HintCode))
    for code in [*REASON_CODES, *HINT_CODES]:
        assert code.isidentifier() and code == code.lower(), code


def test_the_schema_lists_every_code_with_its_meaning() -> None:
    schema = json.loads((SCHEMA_DIR / "verdict.schema.json").read_text(encoding="utf-8"))
    reason = schema["$defs"]["reason_code"]
    assert reason["enum"] == list(REASON_CODES)
    hint = schema["$defs"]["hint"]["properties"]["code"]
    assert hint["enum"] == list(HINT_CODES)
    for code, meaning in [*REASON_CODES.items(), *HINT_CODES.items()]:
        assert f"{code}: {meaning}." in reason["description"] + hint["description"], code


def test_the_translations_cover_every_code_and_no_other() -> None:
    shipped = json.loads((REPO / "contrib" / "reasons.json").read_text(encoding="utf-8"))
    assert list(shipped["reasons"]) == list(REASON_CODES)
    assert list(shipped["hints"]) == list(HINT_CODES)
    for texts in [*shipped["reasons"].values(), *shipped["hints"].values()]:
        assert set(texts) == {"en", "de"} and all(t.strip() for t in texts.values()), texts
        # A placeholder is in both languages or neither, and is one the file documents.
        english, german = (set(re.findall(r"\{(\w*)\}", texts[lang])) for lang in ("en", "de"))
        assert english == german and english <= set(shipped["placeholders"]), texts


def test_integration_docs_name_every_code() -> None:
    text = (REPO / "docs" / "integration.md").read_text(encoding="utf-8")
    for code in [*REASON_CODES, *HINT_CODES]:
        assert f"`{code}`" in text, code


# -- each decision names its cause

PRESENT = Rule(name="device", kind="presence", question="Is the device visible?")
ABSENT = Rule(name="no-device", kind="presence", question="Is it visible?", expect_present=False)
FRESH = Rule(name="fresh", kind="metadata", max_age=4 * 3600, clock_skew=120, require_camera=True)
BIG = Rule(name="big", kind="metadata", min_width=1000, min_height=800)
REUSE = Rule(name="not-reused", kind="duplicate", max_distance=6)


def presence(rule: Rule, *values: str, problem: str | None = None) -> ReasonCode | None:
    return decide_presence(rule, Reading("ollama:test", values, problem)).reason_code


def test_presence_codes() -> None:
    assert presence(PRESENT, "yes") == "object_visible"
    assert presence(PRESENT, "no") == "object_not_visible"
    assert presence(ABSENT, "no") == "object_not_visible"
    assert presence(ABSENT, "yes") == "object_unexpectedly_visible"
    assert presence(PRESENT, "unsure") == "presence_unsure"
    assert presence(PRESENT, problem="reply cut off") == "model_no_answer"


def fresh(captured: str | None, issued: datetime | None = ISSUED, camera: bool = True) -> str:
    meta = PhotoMetadata(captured_at=captured, camera=camera)
    result = decide_metadata(FRESH, Facts(Request(issued_at=issued), meta, zone=CET))
    assert result.reason_code is not None
    return f"{result.status} {result.reason_code}"


def test_metadata_codes() -> None:
    assert fresh("2026-11-22T10:41:07") == "pass metadata_ok"
    assert fresh("2026-11-22T09:59:00") == "pass metadata_ok"  # within clock skew
    assert fresh("2026-11-22T09:41:07") == "fail taken_before_request"
    assert fresh("2026-11-22T15:41:07") == "fail past_deadline"
    assert fresh("2026-11-22T10:41:07", camera=False) == "fail no_camera_data"
    assert fresh("2026-11-22T10:41:07", issued=None) == "review request_missing_value"
    assert fresh(None) == "review no_capture_time"
    assert fresh("the 22nd") == "review no_capture_time"
    small = decide_metadata(BIG, Facts(width=640, height=480))
    assert (small.status, small.reason_code) == ("fail", "resolution_too_low")
    nothing = decide_metadata(Rule(name="m", kind="metadata"), Facts())
    assert (nothing.status, nothing.reason_code) == ("pass", "metadata_ok")


def test_duplicate_codes() -> None:
    same = "c3c3c3c3c3c3c3c3"
    assert decide_duplicate(REUSE, Facts(phash=same)).reason_code == "not_reused"
    earlier = [("old.jpg", same)]
    assert decide_duplicate(REUSE, Facts(phash=same, earlier=earlier)).reason_code == (
        "reused_photo"
    )
    assert decide_duplicate(REUSE, Facts()).reason_code == "no_perceptual_hash"


def result(status: typing.Any, code: ReasonCode, engine: str = "e") -> RuleResult:
    return RuleResult("r", status, "d", engine=engine, reason_code=code)


def test_two_engines_combined() -> None:
    rule = Rule(name="r", kind="text", engine="both")
    assert _combine(rule, []).reason_code == "no_engine"
    both_pass = [result("pass", "code_matches"), result("pass", "code_matches", "o")]
    assert _combine(rule, both_pass).reason_code == "code_matches"
    split = [result("pass", "code_matches"), result("fail", "code_mismatch", "o")]
    assert (_combine(rule, split).status, _combine(rule, split).reason_code) == (
        "review",
        "engines_disagree",
    )
    unsure = [result("pass", "code_matches"), result("review", "no_code_visible", "o")]
    assert _combine(rule, unsure).reason_code == "no_code_visible"


def test_the_photo_takes_the_code_of_its_first_worst_rule() -> None:
    assert summarize([])[:2] == ("review", "no_rules")
    results = [
        result("pass", "metadata_ok"),
        result("fail", "reused_photo"),
        result("fail", "no_camera_data"),
    ]
    assert summarize(results)[:2] == ("fail", "reused_photo")
    assert summarize(results[:1])[:2] == ("pass", "metadata_ok")


# -- files that are no usable photo: the stages' own exceptions, as they are raised


def rejected(path: Path, max_size: int = 1000) -> ReasonCode:
    with pytest.raises(Rejected) as caught:
        read_photo(path, max_size)
    return rejection_code(caught.value)


def test_rejections_from_the_reader(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "big.jpg").write_bytes(b"x" * 2000)
    (tmp_path / "link.jpg").symlink_to(tmp_path / "big.jpg")
    os.mkfifo(tmp_path / "fifo.jpg")
    assert rejected(tmp_path / "empty.jpg") == "empty_file"
    assert rejected(tmp_path / "big.jpg") == "too_large"
    assert rejected(tmp_path / "link.jpg") == "not_a_file"
    assert rejected(tmp_path / "fifo.jpg") == "not_a_file"
    assert rejected(tmp_path / "gone.jpg") == "file_unreadable"


def stripped(data: bytes) -> ReasonCode:
    with pytest.raises(StripError) as caught:
        strip_bytes(data)
    return rejection_code(caught.value)


def test_rejections_from_stripping_and_decoding() -> None:
    assert stripped(b"just some text, not a photo") == "not_an_image"
    assert stripped(b"GIF89a" + b"\0" * 40) == "not_an_image"
    assert stripped(b"\xff\xd8\xff\xe1\xff\xff truncated") == "damaged_image"
    with pytest.raises(ImageRejected) as caught:
        open_checked(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 1000)
    assert rejection_code(caught.value) == "damaged_image"
    with pytest.raises(ImageRejected) as caught:
        open_checked(png_header(20000, 20000), 10**12)  # past Pillow's bomb guard
    assert rejection_code(caught.value) == "too_large"
    with pytest.raises(ImageRejected) as caught:
        open_checked(png_header(5000, 5000), 1000)
    assert rejection_code(caught.value) == "too_large"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels (headers are all open_checked reads)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


# -- the shipped rules: every outcome its own code


def outcomes(rule: Rule) -> dict[str, tuple[str, ReasonCode]]:
    """Each way the rule can go, as (status, code), from made-up readings and facts."""
    key = rule.expect_key
    camera = PhotoMetadata(captured_at="2026-11-22T10:41:07", camera=True)

    def run(facts: Facts, *values: str, problem: str | None = None) -> tuple[str, ReasonCode]:
        got = decide(rule, facts, [Reading("e", values, problem)])
        return got.status, got.reason_code

    if rule.kind == "text":
        asked = Facts(Request(expect={key: "48213"}))
        return {
            "right": run(asked, "48213"),
            "wrong": run(asked, "48214"),
            "nothing": run(asked, ""),
            "no value": run(Facts(), "48213"),
            "bad value": run(Facts(Request(expect={key: "x"})), "48213"),
            "no answer": run(asked, problem="cut off"),
        }
    if rule.kind == "presence":
        return {
            "seen": run(Facts(), "yes"),
            "not seen": run(Facts(), "no"),
            "unsure": run(Facts(), "unsure"),
            "no answer": run(Facts(), problem="?"),
        }
    if rule.kind == "metadata":

        def at(issued: str, meta: PhotoMetadata = camera) -> tuple[str, ReasonCode]:
            return run(Facts(Request(issued_at=datetime.fromisoformat(issued)), meta, zone=CET))

        return {
            "fresh": at("2026-11-22T10:00:00+01:00"),
            "early": at("2026-11-22T11:00:00+01:00"),
            "late": at("2026-11-22T06:00:00+01:00"),
            "screenshot": at(
                "2026-11-22T10:00:00+01:00",
                PhotoMetadata(camera=False, captured_at="2026-11-22T10:41:07"),
            ),
            "no time": at("2026-11-22T10:00:00+01:00", PhotoMetadata(camera=True)),
            "no issued_at": run(Facts(Request(), camera, zone=CET)),
        }
    if rule.kind == "reference":
        want = Request(expect={key: "a"})

        def seen(**scores: float) -> tuple[str, ReasonCode]:
            found = decide(rule, Facts(want, similarity={rule.name: [Similarity("e", scores)]}))
            return found.status, found.reason_code

        return {"right": seen(a=50, b=0), "wrong": seen(a=0, b=50), "nothing": seen(a=0, b=0),
                "close": seen(a=30, b=28), "no engine": run(Facts(want))}  # fmt: skip
    if rule.kind != "duplicate":
        pytest.fail(f"{rule.name}: no outcomes listed for kind {rule.kind!r}: add them here")
    same = "c3c3c3c3c3c3c3c3"
    return {"new": run(Facts(phash=same)), "again": run(Facts(phash=same, earlier=[("a", same)])),
            "no hash": run(Facts())}  # fmt: skip


def test_each_shipped_rule_maps_its_outcomes_to_distinct_codes() -> None:
    checked = load_rules(REPO / "rules")
    assert checked.rules
    for rule in checked.rules:
        found = outcomes(rule)
        codes = [code for _, code in found.values()]
        assert len(set(codes)) == len(codes), (rule.name, found)
        assert {status for status, _ in found.values()} >= {"pass", "fail", "review"}, found
