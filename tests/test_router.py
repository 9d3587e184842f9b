"""Which engine answers which rule: a pure choice of rules and availability, no server."""

from __future__ import annotations

import pytest

from proofwatch.engines.base import Availability
from proofwatch.pipeline.plan import OCR, OLLAMA, choose, plan
from proofwatch.rules.model import EngineChoice, Rule, RuleKind

MISSING = "model qwen2.5vl:7b is not on the Ollama server at http://127.0.0.1:11434"


def rule(kind: RuleKind = "text", engine: EngineChoice = "auto", name: str = "r") -> Rule:
    return Rule(name=name, kind=kind, engine=engine, question="?")


def auto(ready: bool, problem: str | None = None) -> Availability:
    return Availability("auto", ready, ocr_installed=True, ollama_problem=problem)


OLLAMA_MODE = Availability("ollama", False, ocr_installed=False)
OCR_MODE = Availability("ocr", False, ocr_installed=True)


@pytest.mark.parametrize(
    ("kind", "available", "engines"),
    [
        ("text", auto(True), (OLLAMA,)),
        ("presence", auto(True), (OLLAMA,)),
        ("text", auto(False), (OCR,)),  # the fallback: OCR reads text without a GPU
        ("text", OCR_MODE, (OCR,)),
        # The daemon's "ollama" mode always asks Ollama: photos wait for it, never fall back.
        ("text", OLLAMA_MODE, (OLLAMA,)),
        ("presence", OLLAMA_MODE, (OLLAMA,)),
    ],
)
def test_auto_rules(kind: RuleKind, available: Availability, engines: tuple[str, ...]) -> None:
    assert choose(rule(kind), available) == (engines, None)


def test_presence_without_a_vision_model_says_why() -> None:
    engines, reason = choose(rule("presence"), auto(False, MISSING))
    assert engines == ()
    assert reason == f"no vision model is available to judge this: {MISSING}"
    engines, reason = choose(rule("presence"), auto(False))
    assert reason is not None and "Ollama is not reachable" in reason
    engines, reason = choose(rule("presence"), OCR_MODE)
    assert reason is not None and 'runs OCR only (engine = "ocr")' in reason


def test_text_with_nothing_installed_has_no_engine() -> None:
    available = Availability("auto", False, ocr_installed=False)
    assert choose(rule("text"), available) == ((), "no engine is available for this rule")


@pytest.mark.parametrize(
    ("engine", "available", "engines"),
    [
        ("ollama", auto(False), (OLLAMA,)),  # asked anyway: the engine says why it cannot
        ("ocr", auto(True), (OCR,)),
        ("both", auto(True), (OLLAMA, OCR)),
        ("both", auto(False), (OLLAMA, OCR)),  # both must agree: never OCR alone
        ("ollama", OLLAMA_MODE, (OLLAMA,)),
        ("ocr", OCR_MODE, (OCR,)),
    ],
)
def test_named_engines(
    engine: EngineChoice, available: Availability, engines: tuple[str, ...]
) -> None:
    assert choose(rule("text", engine), available) == (engines, None)


@pytest.mark.parametrize(
    ("engine", "available", "missing"),
    [
        ("ocr", OLLAMA_MODE, "ocr"),
        ("both", OLLAMA_MODE, "ocr"),
        ("ollama", OCR_MODE, "ollama"),
        ("both", OCR_MODE, "ollama"),
    ],
)
def test_an_engine_the_daemon_does_not_run_is_a_reason(
    engine: EngineChoice, available: Availability, missing: str
) -> None:
    engines, reason = choose(rule("text", engine), available)
    assert engines == ()
    assert reason is not None and f"needs {missing}" in reason
    assert f"engine = {available.mode}" in reason


@pytest.mark.parametrize("engine", ["ocr", "both"])
def test_ocr_never_judges_presence(engine: EngineChoice) -> None:
    engines, reason = choose(rule("presence", engine), auto(True))
    assert engines == ()
    assert reason is not None and "OCR cannot judge presence" in reason


def test_plan_groups_rules_per_engine_for_one_call_each() -> None:
    rules = [
        rule("text", name="code"),
        rule("text", name="seal"),
        rule("presence", name="device"),
        rule("text", "both", name="guarded"),
        Rule(name="fresh", kind="metadata"),  # no model: not planned at all
    ]
    by_engine, unanswerable = plan(rules, auto(True))
    assert [r.name for r in by_engine[OLLAMA]] == ["code", "seal", "device", "guarded"]
    assert [r.name for r in by_engine[OCR]] == ["guarded"]
    assert unanswerable == {}

    by_engine, unanswerable = plan(rules, auto(False, MISSING))
    assert [r.name for r in by_engine[OCR]] == ["code", "seal", "guarded"]
    assert [r.name for r in by_engine[OLLAMA]] == ["guarded"]
    assert list(unanswerable) == ["device"]
    assert MISSING in unanswerable["device"]


def test_availability_stays_compatible_with_three_arguments() -> None:
    assert Availability("auto", True, True).ollama_problem is None
