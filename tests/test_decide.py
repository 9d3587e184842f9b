"""Every decision a rule makes, as pure functions: no files, no model, no clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from proofwatch.engines.base import Reading
from proofwatch.metadata import PhotoMetadata
from proofwatch.rules.decide import (
    Facts,
    decide,
    decide_duplicate,
    decide_metadata,
    decide_presence,
    decide_text,
)
from proofwatch.rules.model import Rule
from proofwatch.rules.normalize import edit_distance, normalize
from proofwatch.vocabulary import Request

CODE = Rule(
    name="control-code",
    kind="text",
    question="Transcribe the number handwritten on the paper.",
    answer="^[0-9]{5}$",
    expect="request.expect.code",
    normalize=("digits", "strip-spaces", "strip-dashes"),
)
ASKED = Request(expect={"code": "48213"})
CET = timezone(timedelta(hours=1))
ISSUED = datetime(2026, 11, 22, 10, 0, tzinfo=CET)
FRESH = Rule(name="fresh", kind="metadata", max_age=4 * 3600, clock_skew=120, require_camera=True)


def read(*values: str, engine: str = "ollama:test") -> Reading:
    return Reading(engine, values)


# -- text


def test_right_code_passes() -> None:
    result = decide_text(CODE, ASKED, read("48213"))
    assert (result.status, result.observed, result.expected) == ("pass", "48213", "48213")
    assert result.engine == "ollama:test"


def test_wrong_code_fails_and_says_what_was_read() -> None:
    result = decide_text(CODE, ASKED, read("48218"))
    assert result.status == "fail"
    assert result.detail == "read 48218, expected 48213"


def test_no_code_on_the_paper_is_review_never_pass() -> None:
    assert decide_text(CODE, ASKED, read()).status == "review"
    assert decide_text(CODE, ASKED, read("", "  ")).detail.startswith("nothing legible")


def test_illegible_answer_is_review() -> None:
    problem = Reading("ollama:test", (), "the model's reply was not valid JSON")
    result = decide_text(CODE, ASKED, problem)
    assert (result.status, result.detail) == ("review", "the model's reply was not valid JSON")


def test_an_answer_off_the_shape_is_review_not_fail() -> None:
    for off in ("4821", "482133", "48 21x", "yes"):
        result = decide_text(CODE, ASKED, read(off))
        assert result.status == "review", off
        assert "does not fit ^[0-9]{5}$" in result.detail


def test_undecided_fail_makes_uncertain_answers_fail() -> None:
    strict = replace(CODE, undecided="fail")
    assert decide_text(strict, ASKED, read()).status == "fail"
    assert decide_text(strict, ASKED, read("48213")).status == "pass"


def test_tolerance_is_an_edit_distance() -> None:
    loose = replace(CODE, tolerance=1)
    assert decide_text(CODE, ASKED, read("48219")).status == "fail"
    one_off = decide_text(loose, ASKED, read("48219"))
    assert one_off.status == "pass"
    assert "1 character(s) off, tolerance 1" in one_off.detail
    assert decide_text(loose, ASKED, read("48912")).status == "fail"  # two edits away


def test_normalisation_applies_to_the_reading_and_to_the_expected_value() -> None:
    assert decide_text(CODE, ASKED, read("4B2l3")).status == "pass"  # B->8, l->1
    assert decide_text(CODE, ASKED, read("48 2-13")).status == "pass"
    spaced = decide_text(CODE, Request(expect={"code": "48 213"}), read("48213"))
    assert (spaced.status, spaced.expected) == ("pass", "48213")
    # Without the digits step the same look-alikes are off the shape: review.
    raw = replace(CODE, normalize=())
    assert decide_text(raw, ASKED, read("4B2l3")).status == "review"


def test_missing_expected_value_is_review_naming_it() -> None:
    result = decide_text(CODE, Request(expect={"seal": "1234567"}), read("48213"))
    assert result.status == "review"
    assert "request.expect.code" in result.detail
    assert result.observed == "48213"  # what was read is still reported
    nothing = decide_text(CODE, Request(), read())
    assert nothing.detail == "the request has no value for request.expect.code"


def test_extract_only_passes_with_what_was_read() -> None:
    extract = replace(CODE, expect="")
    result = decide_text(extract, Request(), read("48213"))
    assert (result.status, result.observed, result.expected) == ("pass", "48213", None)
    assert decide_text(extract, Request(), read("no code")).status == "review"


def test_an_expected_value_the_rule_can_never_read_is_review() -> None:
    result = decide_text(CODE, Request(expect={"code": "4821"}), read("48213"))
    assert result.status == "review"
    assert "'4821' does not fit" in result.detail


def test_ocr_candidates_the_closest_fitting_one_counts() -> None:
    ocr = read("Code:", "99999", "48213", "4 8213", engine="ocr:rapidocr")
    assert decide_text(CODE, ASKED, ocr).status == "pass"
    wrong = decide_text(CODE, Request(expect={"code": "12345"}), ocr)
    assert wrong.status == "fail"
    assert "99999, 48213" in wrong.detail


def test_engine_both_agreeing_passes_and_disagreeing_is_review() -> None:
    both = replace(CODE, engine="both")
    facts = Facts(request=ASKED)
    agree = decide(both, facts, [read("48213"), read("48213", engine="ocr:rapidocr")])
    assert (agree.status, agree.engine) == ("pass", "ollama:test+ocr:rapidocr")
    disagree = decide(both, facts, [read("48213"), read("48218", engine="ocr:rapidocr")])
    assert disagree.status == "review"
    assert disagree.detail.startswith("engines disagree")
    assert disagree.observed == ["48213", "48218"]
    unsure = decide(both, facts, [read("48213"), read(engine="ocr:rapidocr")])
    assert unsure.status == "review"
    both_wrong = decide(both, facts, [read("11111"), read("11111", engine="ocr:rapidocr")])
    assert both_wrong.status == "fail"


def test_a_model_rule_no_engine_answered_is_undecided() -> None:
    result = decide(CODE, Facts(request=ASKED), [])
    assert (result.status, result.detail) == ("review", "no engine could answer this rule")


@given(st.lists(st.text(max_size=8), max_size=4), st.text(max_size=8))
def test_text_never_passes_unless_the_expected_value_was_read(
    values: list[str], expected: str
) -> None:
    result = decide_text(CODE, Request(expect={"code": expected}), read(*values))
    if result.status == "pass":
        wanted = normalize(expected, CODE.normalize)
        assert wanted in [normalize(v, CODE.normalize) for v in values]


def test_edit_distance() -> None:
    assert edit_distance("48213", "48213") == 0
    assert edit_distance("48213", "4821") == 1
    assert edit_distance("48213", "84213") == 2
    assert edit_distance("", "123") == 3


# -- presence

DEVICE = Rule(name="device-visible", kind="presence", question="Is the device visible?")


def test_presence_yes_no_unsure() -> None:
    yes = decide_presence(DEVICE, read("yes"))
    assert (yes.status, yes.observed, yes.expected) == ("pass", True, True)
    assert decide_presence(DEVICE, read("No")).status == "fail"
    unsure = decide_presence(DEVICE, read("unsure"))
    assert unsure.status == "review"
    assert "Is the device visible?" in unsure.detail
    assert decide_presence(DEVICE, Reading("ollama:test", (), "cut off")).status == "review"


def test_presence_expecting_no() -> None:
    absent = replace(DEVICE, expect_present=False)
    assert decide_presence(absent, read("no")).status == "pass"
    assert decide_presence(absent, read("yes")).status == "fail"


# -- metadata


def photo(captured_at: str | None, camera: bool = True) -> PhotoMetadata:
    return PhotoMetadata(captured_at=captured_at, camera=camera)


def fresh(captured_at: str | None, camera: bool = True, issued: datetime | None = ISSUED) -> Facts:
    return Facts(request=Request(issued_at=issued), metadata=photo(captured_at, camera))


def test_taken_within_the_window_passes() -> None:
    result = decide_metadata(FRESH, fresh("2026-11-22T10:41:07+01:00"))
    assert result.status == "pass"
    assert "taken 41m07s after the request" in result.detail
    assert result.expected["captured_between"] == [
        "2026-11-22T09:58:00+01:00",
        "2026-11-22T14:02:00+01:00",
    ]


def test_taken_before_the_request_fails() -> None:
    result = decide_metadata(FRESH, fresh("2026-11-22T09:30:00+01:00"))
    assert result.status == "fail"
    assert "taken 30m00s before the request was issued" in result.detail


def test_clock_skew_allows_a_camera_clock_slightly_off() -> None:
    assert decide_metadata(FRESH, fresh("2026-11-22T09:59:00+01:00")).status == "pass"
    assert decide_metadata(FRESH, fresh("2026-11-22T14:01:00+01:00")).status == "pass"
    assert decide_metadata(FRESH, fresh("2026-11-22T09:57:59+01:00")).status == "fail"


def test_taken_past_the_deadline_fails() -> None:
    result = decide_metadata(FRESH, fresh("2026-11-22T14:30:00+01:00"))
    assert result.status == "fail"
    assert "past the deadline" in result.detail


def test_the_window_compares_instants_across_time_zones() -> None:
    # 09:41 UTC is 10:41 in CET: 41 minutes after the request.
    assert decide_metadata(FRESH, fresh("2026-11-22T09:41:07+00:00")).status == "pass"


def test_no_capture_time_or_no_issued_at_is_review() -> None:
    missing = decide_metadata(FRESH, fresh(None))
    assert (missing.status, missing.detail) == (
        "review",
        "taken by a camera; the photo records no capture time",
    )
    unread = decide_metadata(FRESH, fresh("yesterday"))
    assert unread.status == "review"
    no_request = decide_metadata(FRESH, fresh("2026-11-22T10:41:07+01:00", issued=None))
    assert no_request.status == "review"
    assert "no issued_at" in no_request.detail


def test_a_screenshot_without_camera_data_fails_where_a_camera_is_required() -> None:
    result = decide_metadata(FRESH, fresh(None, camera=False))
    assert result.status == "fail"  # not review: the missing camera alone decides
    assert "no camera make or model" in result.detail
    lenient = replace(FRESH, require_camera=False)
    assert decide_metadata(lenient, fresh("2026-11-22T10:41:07+01:00", False)).status == "pass"


def test_naive_capture_times_are_read_in_the_local_time_zone() -> None:
    naive = "2026-11-22T10:41:07"
    here = replace(fresh(naive), zone=CET)
    assert decide_metadata(FRESH, here).status == "pass"
    # The same camera clock in New York is 16:41 CET: past the 4 hour deadline.
    far = replace(fresh(naive), zone=timezone(timedelta(hours=-5)))
    assert decide_metadata(FRESH, far).status == "fail"
    # A naive issued_at is local time too.
    both_naive = replace(fresh(naive, issued=ISSUED.replace(tzinfo=None)), zone=CET)
    assert decide_metadata(FRESH, both_naive).status == "pass"


def test_minimum_size() -> None:
    sized = Rule(name="big", kind="metadata", min_width=1024, min_height=768)
    small = decide_metadata(sized, Facts(width=800, height=600))
    assert (small.status, small.detail) == ("fail", "800x600 is below 1024x768")
    assert decide_metadata(sized, Facts(width=1600, height=1200)).status == "pass"
    assert decide_metadata(sized, Facts(width=1600, height=600)).status == "fail"


# -- duplicate

REUSE = Rule(name="not-reused", kind="duplicate", max_distance=6)
HASH = "c3c3a5a5f0f00f0f"


def flip(bits: int) -> str:
    """HASH with its lowest `bits` bits flipped."""
    return f"{int(HASH, 16) ^ ((1 << bits) - 1):016x}"


def test_a_near_identical_earlier_photo_fails() -> None:
    facts = Facts(phash=HASH, earlier=[("old/other.jpg", flip(20)), ("controls/a.jpg", flip(3))])
    result = decide_duplicate(REUSE, facts)
    assert result.status == "fail"
    assert result.observed == "controls/a.jpg"
    assert result.detail == "near-identical to controls/a.jpg (distance 3 of 64)"


def test_a_different_photo_passes() -> None:
    assert decide_duplicate(REUSE, Facts(phash=HASH)).status == "pass"
    result = decide_duplicate(REUSE, Facts(phash=HASH, earlier=[("a.jpg", flip(7))]))
    assert (result.status, result.detail) == ("pass", "unlike the 1 earlier photo(s)")
    assert decide_duplicate(REUSE, Facts(phash=HASH, earlier=[("a.jpg", flip(6))])).status == (
        "fail"
    )


def test_no_perceptual_hash_is_review() -> None:
    assert decide_duplicate(REUSE, Facts(earlier=[("a.jpg", HASH)])).status == "review"


def test_result_json_leaves_out_what_is_unknown() -> None:
    result = decide_duplicate(REUSE, Facts(phash=HASH))
    assert result.as_json() == {
        "rule": "not-reused",
        "status": "pass",
        "reason_code": "not_reused",
        "detail": "unlike the 0 earlier photo(s)",
    }
