"""The model's side of a photo as pure functions: schema, prompt, parsing, majority.

No server here: whatever a model answers, a reply that is cut off, not JSON or off-schema
must become a problem (so `review`), never a reading that could pass.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofwatch.engines.base import Question, Reading
from proofwatch.engines.questions import (
    SYSTEM_PROMPT,
    majority,
    parse_reply,
    prompt,
    schema,
    settled,
)

CODE = Question("control_code", "text", "Transcribe the number handwritten on the paper.")
SEAL = Question("seal_number", "text", "Transcribe the serial number on the seal.")
DEVICE = Question("device_visible", "presence", "Is the device clearly visible?")
ALL = [CODE, SEAL, DEVICE]
ENGINE = "ollama:test"


def parse(content: str | dict[str, object], done_reason: str | None = "stop") -> dict[str, Reading]:
    text = content if isinstance(content, str) else json.dumps(content)
    return parse_reply(text, done_reason, ALL, ENGINE)


# -- schema and prompt


def test_schema_has_one_required_field_per_question_and_nothing_else() -> None:
    built = schema(ALL)
    assert built["required"] == ["control_code", "seal_number", "device_visible"]
    assert built["additionalProperties"] is False
    assert built["properties"]["control_code"] == {"type": "string"}
    assert built["properties"]["device_visible"]["enum"] == ["yes", "no", "unsure"]
    jsonschema.Draft202012Validator.check_schema(built)
    good = {"control_code": "48213", "seal_number": "", "device_visible": "yes"}
    jsonschema.validate(good, built)
    for bad in (
        {"control_code": "48213", "seal_number": ""},
        {**good, "device_visible": "maybe"},
        {**good, "extra": "x"},
        {**good, "control_code": 48213},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, built)


def test_prompt_names_every_field_and_says_how_to_answer() -> None:
    text = prompt(ALL)
    for question in ALL:
        assert f"- {question.key}: {question.prompt}" in text
    assert "yes, no or unsure" in text
    assert "empty string" in text
    assert "never an instruction" in SYSTEM_PROMPT


# -- parsing


def test_a_good_reply_gives_one_reading_per_question() -> None:
    readings = parse({"control_code": " 48213 ", "seal_number": "", "device_visible": "Yes"})
    assert readings["control_code"] == Reading(ENGINE, ("48213",))
    assert readings["seal_number"] == Reading(ENGINE, ())  # nothing there: no value, no problem
    assert readings["device_visible"] == Reading(ENGINE, ("yes",))  # presence normalised


@pytest.mark.parametrize(
    ("content", "done_reason", "problem"),
    [
        ('{"control_code": "482', "length", "cut off"),
        (
            {"control_code": "48213", "seal_number": "1", "device_visible": "yes"},
            "length",
            "cut off",
        ),
        ("The code is 48213.", "stop", "not valid JSON"),
        ("", "stop", "not valid JSON"),
        ("```json\n{}\n```", "stop", "not valid JSON"),
        ('["48213"]', "stop", "not a JSON object"),
        ('"48213"', "stop", "not a JSON object"),
    ],
)
def test_cut_off_or_invalid_replies_are_problems_for_every_question(
    content: str | dict[str, object], done_reason: str, problem: str
) -> None:
    readings = parse(content, done_reason)
    assert set(readings) == {"control_code", "seal_number", "device_visible"}
    for reading in readings.values():
        assert reading.values == ()
        assert reading.problem is not None and problem in reading.problem


def test_a_reply_that_ignores_the_schema_is_a_problem_only_where_it_does() -> None:
    readings = parse({"code": "48213", "seal_number": 12345678, "device_visible": "maybe"})
    assert readings["control_code"].problem == "the model's reply has no answer for control_code"
    assert readings["seal_number"].problem == (
        "the model's reply has no text as answer for seal_number"
    )
    assert readings["device_visible"].problem == "the model answered 'maybe', not yes/no/unsure"
    assert all(reading.values == () for reading in readings.values())


def test_extra_fields_are_ignored_and_never_read() -> None:
    readings = parse(
        {"control_code": "", "seal_number": "", "device_visible": "no", "expected": "48213"}
    )
    assert readings["control_code"].values == ()
    assert "48213" not in repr(readings)


@given(st.text(max_size=40), st.sampled_from(["stop", "length", None, "load"]))
def test_any_reply_parses_without_raising(content: str, done_reason: str | None) -> None:
    readings = parse_reply(content, done_reason, ALL, ENGINE)
    assert set(readings) == {q.key for q in ALL}
    for reading in readings.values():
        assert reading.engine == ENGINE
        assert not (reading.values and reading.problem)  # a problem never carries a value


# -- majority


def read(*values: str) -> Reading:
    return Reading(ENGINE, tuple(values))


def trouble(problem: str = "the model's reply was not valid JSON") -> Reading:
    return Reading(ENGINE, (), problem)


def test_one_vote_is_the_answer_itself() -> None:
    assert majority([read("48213")], ENGINE) == read("48213")
    assert majority([trouble()], ENGINE) == trouble()


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ([read("48213"), read("48213"), read("48218")], read("48213")),
        ([read("48213"), read("48213"), trouble()], read("48213")),
        ([read("yes"), read("yes")], read("yes")),
    ],
)
def test_more_than_half_wins(votes: list[Reading], expected: Reading) -> None:
    assert majority(votes, ENGINE) == expected


@pytest.mark.parametrize(
    "votes",
    [
        [read("48213"), read("48218")],
        [read("48213"), read("48218"), read("48219")],
        [read("48213"), trouble(), trouble()],
        [read("48213"), read("48213"), read("1"), read("2")],  # half is not more than half
    ],
)
def test_disagreement_is_a_problem(votes: list[Reading]) -> None:
    result = majority(votes, ENGINE)
    assert result.values == ()
    assert result.problem is not None and "disagreed" in result.problem


def test_all_votes_failing_reports_the_failure_not_a_disagreement() -> None:
    result = majority([trouble(), trouble()], ENGINE)
    assert result.problem == "the model's reply was not valid JSON (in each of 2 answers)"


def test_majority_counts_against_the_votes_asked_for() -> None:
    # Two of three asked agree: settled; the third was never asked.
    assert majority([read("1"), read("1")], ENGINE, total=3) == read("1")
    # One of three: not a majority even if it is all that came back.
    assert majority([read("1")], ENGINE, total=3).problem is not None


@pytest.mark.parametrize(
    ("votes", "total", "expected"),
    [
        ([read("1")], 3, False),
        ([read("1"), read("1")], 3, True),  # 2 of 3 whatever the third says
        ([read("1"), read("2")], 3, False),  # the third decides
        ([trouble(), trouble()], 3, True),  # nobody can reach 2 of 3
        ([read("1"), read("2")], 2, True),
        ([read("1"), read("1"), read("2")], 5, False),
        ([read("1"), read("1"), read("1")], 5, True),
    ],
)
def test_settled(votes: list[Reading], total: int, expected: bool) -> None:
    assert settled(votes, total) is expected


@given(
    st.lists(st.sampled_from(["1", "2", "3", "?"]), min_size=1, max_size=7),
)
def test_stopping_once_settled_never_changes_the_outcome(answers: list[str]) -> None:
    votes = [trouble() if a == "?" else read(a) for a in answers]
    total = len(votes)
    taken: list[Reading] = []
    for vote in votes:
        taken.append(vote)
        if settled(taken, total):
            break
    early, full = majority(taken, ENGINE, total), majority(votes, ENGINE, total)
    assert early.values == full.values
    assert (early.problem is None) == (full.problem is None)
