"""Which rules run on a photo, and asking the engines about it: one call per engine for
all of its questions, the reference matcher once for all reference rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from ..engines import EngineError, EngineSet, EngineUnavailable, matcher
from ..engines.base import ModelDown, ModelWait
from ..rules.decide import Similarity
from ..rules.loader import RuleSet
from ..rules.model import Rule
from ..vocabulary import Question, Reading, Request, Status
from .plan import plan


def match_references(
    ruleset: RuleSet, rules: Sequence[Rule], image: Image.Image
) -> dict[str, list[Similarity]]:
    """The CPU matcher's scores for each reference rule; the photo's features found once."""
    wanted = [rule for rule in rules if rule.kind == "reference"]
    if not wanted:
        return {}
    found = matcher.features(image)
    return {
        rule.name: [Similarity(matcher.LABEL, ruleset.galleries[rule.name].scores(found))]
        for rule in wanted
        if rule.name in ruleset.galleries
    }


def select(rules: RuleSet, relative: str, request: Request) -> tuple[list[Rule], list[str]]:
    """The rules to run on a photo: those the request names (and the names it gave that no
    rule has), else every rule whose `match` selects the photo's path."""
    if request.rules is None:
        return [rule for rule in rules.rules if rule.matches(relative)], []
    by_name = rules.by_name()
    chosen = [by_name[name] for name in request.rules if name in by_name]
    return chosen, [name for name in request.rules if name not in by_name]


def ask(
    engines: EngineSet,
    rules: Sequence[Rule],
    image: Image.Image,
    on_wait: Callable[[ModelWait], str],
) -> tuple[dict[str, list[Reading]], dict[str, tuple[Status, str]]]:
    """One call per engine with every question for it; readings per rule name.

    Rules no engine could answer come back with the status and reason they get. A busy or
    down model server goes to `on_wait`, which sets the photo aside (raises) or, once the
    wait is over, gives the reason the rules get `error` with.
    """
    by_engine, reasons = plan(rules, engines.availability())
    by_name = {rule.name: rule for rule in rules}
    unanswerable = {name: (by_name[name].undecided, why) for name, why in reasons.items()}
    readings: dict[str, list[Reading]] = {}
    for name, engine_rules in by_engine.items():
        questions = [Question(r.question_key, r.question_kind, r.question) for r in engine_rules]
        engine = engines.engine(name)
        try:
            answers = engine.ask(image, questions)
        except EngineUnavailable as exc:
            fallback = [r for r in engine_rules if r.engine == "auto"]
            if engines.mode != "auto":
                # The model mode never falls back: a down server is waited for; a missing
                # model is the operator's to fix, so `error` at once, saying how.
                why = on_wait(exc) if isinstance(exc, ModelDown) else str(exc)
                unanswerable.update({rule.name: ("error", why) for rule in engine_rules})
                continue
            # auto mode found the server gone: rules that may fall back are asked again
            # (the model is marked down now, so the plan sends text rules to OCR); rules
            # that named it themselves get the reason, which makes them review.
            engines.mark_ollama_down(str(exc))
            answers = {q.key: Reading(engine.label, (), f"{exc}") for q in questions}
            if fallback:
                more, more_reasons = ask(engines, fallback, image, on_wait)
                readings.update(more)
                unanswerable.update(more_reasons)
                engine_rules = [r for r in engine_rules if r.engine != "auto"]
        except ModelWait as exc:  # busy: the server is there, so every mode waits for it
            why = on_wait(exc)
            unanswerable.update({rule.name: ("error", why) for rule in engine_rules})
            continue
        except EngineError as exc:
            unanswerable.update({rule.name: ("error", str(exc)) for rule in engine_rules})
            continue
        for rule in engine_rules:
            readings.setdefault(rule.name, []).append(answers[rule.question_key])
    return readings, unanswerable
