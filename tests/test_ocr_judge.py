"""reading.judge: pass only when sure of the expected code, fail only when sure of another."""

from __future__ import annotations

from proofwatch.engines.reading import Candidate, Char, Thresholds, judge

CODE = r"\d{5}"


def _read(
    text: str, p: float = 0.99, agree: int = 2, doubt: dict[int, str] | None = None
) -> Candidate:
    """A candidate whose every char has probability p; `doubt` gives some place a second
    digit with the rest of the probability."""
    chars = []
    for i, ch in enumerate(text):
        dist = [0.0] * 10
        dist[int(ch)] = p
        other = (doubt or {}).get(i)
        if other is not None:
            dist[int(other)] = 1 - p
        chars.append(Char(ch, p, tuple(dist)))
    return Candidate(text, tuple(chars), "ppocr+cnn" if agree == 2 else "ppocr", agree)


def test_the_expected_code_read_surely_passes() -> None:
    assert judge([_read("48213")], "48213", CODE).status == "pass"


def test_the_expected_code_read_unsurely_is_review() -> None:
    verdict = judge([_read("48213", p=0.5)], "48213", CODE)
    assert verdict.status == "review" and "unsure" in verdict.detail


def test_one_reader_alone_needs_more_confidence_to_pass() -> None:
    t = Thresholds(pass_min=0.8, pass_min_single=0.95)
    assert judge([_read("48213", p=0.9, agree=1)], "48213", CODE, t).status == "review"
    assert judge([_read("48213", p=0.97, agree=1)], "48213", CODE, t).status == "pass"


def test_nothing_that_fits_is_review() -> None:
    assert judge([], "48213", CODE).status == "review"
    assert judge([_read("4821")], "48213", CODE).status == "review"


def test_another_code_read_surely_by_both_readers_fails() -> None:
    verdict = judge([_read("48218")], "48213", CODE)
    assert verdict.status == "fail" and verdict.observed == "48218"


def test_a_hesitation_on_the_differing_digit_is_review() -> None:
    # The recogniser gave the expected 3 some probability where it read 8: never fail.
    verdict = judge([_read("48218", p=0.8, doubt={4: "3"})], "48213", CODE)
    assert verdict.status == "review"


def test_fail_can_require_both_readers() -> None:
    t = Thresholds(fail_agree=2)
    assert judge([_read("48218", agree=1)], "48213", CODE, t).status == "review"
    assert judge([_read("48218", agree=1)], "48213", CODE).status == "fail"


def test_the_expected_code_anywhere_wins_over_another_number() -> None:
    # A printed number elsewhere on the paper does not stop the handwritten code passing.
    cands = [_read("70112"), _read("48213")]
    assert judge(cands, "48213", CODE).status == "pass"


def test_an_unsure_expected_reading_keeps_another_sure_one_from_failing() -> None:
    cands = [_read("48218"), _read("48213", p=0.4, agree=1)]
    assert judge(cands, "48213", CODE).status == "review"


def test_an_unsure_different_digit_is_review() -> None:
    assert judge([_read("48218", p=0.7)], "48213", CODE).status == "review"


def test_unknown_per_digit_probabilities_never_fail() -> None:
    chars = tuple(Char(c, 0.99) for c in "48218")
    assert judge([Candidate("48218", chars, agree=2)], "48213", CODE).status == "review"


def test_a_reading_far_from_the_expected_code_is_review_not_fail() -> None:
    # 66631 read upside down is 12999: all five places differ; likelier a misread.
    assert judge([_read("12999")], "66631", CODE).status == "review"
    assert judge([_read("48123")], "48213", CODE).status == "fail"  # two swapped
