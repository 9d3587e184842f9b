"""Reference rules on a vision model: the sheet, the question, the answer and the decision,
as pure functions (the daemon and the fake server: tests/test_rules_e2e.py)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from proofwatch.config import ModelConfig
from proofwatch.engines import matcher
from proofwatch.engines.openai import request_body
from proofwatch.engines.questions import attachments, parse_reply, prompt, schema
from proofwatch.engines.sheet import MAX_OBJECTS, SHEET_SIDE, Sheet, make_sheet, thumbnail
from proofwatch.pipeline.ask import model_picks, question_of
from proofwatch.rules.decide import Facts, Similarity, decide
from proofwatch.rules.loader import RuleSet, load_rules
from proofwatch.rules.model import Rule
from proofwatch.rules.references import References
from proofwatch.vocabulary import Question, Reading, Request

NAMES = ("cage-a", "cage-b", "padlock")


def _photo(shade: int) -> Image.Image:
    return thumbnail(Image.new("RGB", (640, 480), (shade, 90, 200 - shade)))


def _sheet(names: tuple[str, ...] = NAMES) -> Sheet:
    return make_sheet({name: [_photo(40 * i), _photo(40 * i + 20)] for i, name in enumerate(names)})


def _rule(engine: str) -> Rule:
    return Rule(
        name="device-match",
        kind="reference",
        references="references/devices",
        expect="request.expect.device",
        engine=engine,  # type: ignore[arg-type]
    )


def _ruleset(rule: Rule, sheet: Sheet) -> RuleSet:
    empty = matcher.Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    gallery = matcher.Gallery({name: [empty] for name in sheet.objects})
    return RuleSet((rule,), "digest", {rule.name: References(gallery, sheet)})


def test_the_sheet_labels_objects_by_letter_and_fits_the_reserved_size() -> None:
    sheet = _sheet()
    assert sheet.labels == ("A", "B", "C")
    assert [sheet.object_of(x) for x in ("A", " b ", "C", "D", "none", "")] == [
        "cage-a", "cage-b", "padlock", None, None, None,
    ]  # fmt: skip
    drawn = Image.open(io.BytesIO(sheet.jpeg))
    assert drawn.format == "JPEG" and max(drawn.size) <= SHEET_SIDE
    assert not drawn.getexif()
    many = _sheet(tuple(f"object-{i}" for i in range(MAX_OBJECTS)))
    assert many.labels[-1] == "Z"
    assert max(Image.open(io.BytesIO(many.jpeg)).size) == SHEET_SIDE
    with pytest.raises(ValueError, match="1 to 26 objects"):
        make_sheet({f"o{i}": [_photo(i)] for i in range(MAX_OBJECTS + 1)})


def test_a_text_rule_asks_for_its_code_as_written_by_hand_or_printed() -> None:
    shipped = load_rules(Path(__file__).parents[1] / "rules")
    by_name = shipped.by_name()
    asked = {name: question_of(by_name[name], shipped) for name in ("control-code", "seal-number")}
    assert asked["control-code"].writing == "handwriting"
    assert asked["seal-number"].writing == "print"


def test_the_question_shows_letters_never_the_objects_names() -> None:
    sheet = _sheet()
    rule = _rule("ollama")
    question = question_of(rule, _ruleset(rule, sheet))
    assert (question.kind, question.choices, question.sheet) == (
        "reference",
        sheet.labels,
        sheet.jpeg,
    )
    code = Question("control_code", "text", "The code?")
    asked = [code, question]
    assert attachments(asked) == [sheet.jpeg]
    words = prompt(asked) + json.dumps(schema(asked))
    assert "Image 2" in words and "labelled A, B, C" in words
    for name in NAMES:
        assert name not in words, f"{name} reached the model"
    enum = schema(asked)["properties"]["device_match"]["enum"]
    assert enum == ["A", "B", "C", "none"]
    # A rule without a sheet (the CPU matcher's) asks nothing of the kind.
    assert attachments([code]) == [] and "first image" not in prompt([code])


@pytest.mark.parametrize(
    ("answer", "values", "problem"),
    [("b", ("B",), None), ("None", ("none",), None), ("cage-a", (), "not one of the labels")],
)
def test_an_answer_is_one_of_the_letters_or_none(
    answer: str, values: tuple[str, ...], problem: str | None
) -> None:
    question = Question("device_match", "reference", "", ("A", "B", "C"), b"sheet")
    reading = parse_reply(json.dumps({"device_match": answer}), "stop", [question], "m")
    assert reading["device_match"].values == values
    assert (reading["device_match"].problem or "").count(problem or "\0") == (problem is not None)


def _decided(engine: str, answers: list[Reading], expected: str = "cage-b") -> tuple[str, str]:
    rule = _rule(engine)
    ruleset = _ruleset(rule, _sheet())
    readings = {rule.name: answers}
    similarity = model_picks(ruleset, [rule], readings)
    assert rule.name not in readings  # decided as a similarity, not as a reading
    if engine == "both":  # the CPU matcher's scores, clearly for cage-b
        similarity[rule.name].insert(0, Similarity("cpu:sift", {"cage-a": 3, "cage-b": 40}))
    facts = Facts(Request(expect={"device": expected}), similarity=similarity)
    result = decide(rule, facts)
    return result.status, result.reason_code


def test_the_model_letter_decides_and_both_engines_must_agree() -> None:
    def said(letter: str) -> Reading:
        return Reading("ollama:qwen", (letter,))

    assert _decided("ollama", [said("B")]) == ("pass", "device_matches")
    assert _decided("ollama", [said("A")]) == ("fail", "wrong_device")
    assert _decided("ollama", [said("none")]) == ("review", "no_device_visible")
    assert _decided("ollama", [said("B")], expected="scooter") == (
        "review",
        "expected_value_invalid",
    )
    assert _decided("ollama", [Reading("ollama:qwen", (), "cut off")]) == (
        "review",
        "model_no_answer",
    )
    assert _decided("both", [said("B")]) == ("pass", "device_matches")
    assert _decided("both", [said("C")]) == ("review", "engines_disagree")
    assert _decided("both", [said("none")]) == ("review", "no_device_visible")


def test_the_openai_request_carries_the_photo_then_the_sheet() -> None:
    sheet = _sheet()
    question = Question("device_match", "reference", "", sheet.labels, sheet.jpeg)
    body = request_body(ModelConfig(model="m"), [b"photo", sheet.jpeg], [question])
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert parts[2]["image_url"]["url"].endswith(base64.b64encode(sheet.jpeg).decode()[-40:])
    assert "Image 2" in parts[0]["text"]
    schema_sent = body["response_format"]["json_schema"]["schema"]
    assert schema_sent["properties"]["device_match"]["enum"] == ["A", "B", "C", "none"]
