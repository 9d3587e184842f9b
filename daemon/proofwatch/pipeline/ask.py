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
from ..vocabulary import NO_CHOICE, Question, Reading, Request, Status
from .plan import plan


def match_references(
    ruleset: RuleSet, rules: Sequence[Rule], image: Image.Image
) -> dict[str, list[Similarity]]:
    """The CPU matcher's scores for each reference rule; the photo's features found once."""
    wanted = [rule for rule in rules if rule.asks_matcher and rule.name in ruleset.references]
    if not wanted:
        return {}
    found = matcher.features(image)
    return {
        rule.name: [Similarity(matcher.LABEL, ruleset.references[rule.name].gallery.scores(found))]
        for rule in wanted
    }


def question_of(rule: Rule, ruleset: RuleSet) -> Question:
    """What the model is asked for a rule; a reference rule shows its sheet, whose neutral
    letters are the only choices (the objects' names stay with the daemon)."""
    references = ruleset.references.get(rule.name) if rule.kind == "reference" else None
    if references is None or references.sheet is None:
        return Question(rule.question_key, rule.question_kind, rule.question, writing=rule.writing)
    sheet = references.sheet
    return Question(rule.question_key, "reference", "", sheet.labels, sheet.jpeg)


def model_picks(
    ruleset: RuleSet, rules: Sequence[Rule], readings: dict[str, list[Reading]]
) -> dict[str, list[Similarity]]:
    """The vision model's answers to reference rules, the letter it chose turned back into
    the object it stands for (taken out of `readings`: they are decided as similarities)."""
    picks: dict[str, list[Similarity]] = {}
    for rule in rules:
        if rule.kind != "reference" or rule.name not in readings:
            continue
        sheet = ruleset.references[rule.name].sheet
        assert sheet is not None  # the loader refuses a model reference rule without one
        registered = dict.fromkeys(sheet.objects, 0.0)
        for reading in readings.pop(rule.name):
            answer = reading.values[0] if reading.values else None
            picked = NO_CHOICE if answer == NO_CHOICE else sheet.object_of(answer or "")
            problem = reading.problem or (None if picked else "the model chose no label")
            picks.setdefault(rule.name, []).append(
                Similarity(reading.engine, registered, problem, None if problem else picked)
            )
    return picks


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
    ruleset: RuleSet,
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
        questions = [question_of(r, ruleset) for r in engine_rules]
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
                more, more_reasons = ask(engines, fallback, image, on_wait, ruleset)
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
