"""Deciding each rule: plain functions of what was read and what was expected.

No files, no model, no clock: everything a decision needs arrives in `Facts` and the
readings, so every branch is tested as a pure function.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..metadata import PhotoMetadata
from ..vocabulary import NO_CHOICE, Reading, ReasonCode, Request, RuleResult, Status, worst
from .judge import THRESHOLDS, judge
from .model import Rule
from .normalize import edit_distance, normalize


@dataclass(frozen=True)
class Facts:
    """Everything about one photo that rules decide on, besides the model's readings."""

    request: Request = field(default_factory=Request)
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    width: int = 0
    height: int = 0
    phash: str | None = None
    # Earlier photos (their path and perceptual hash), for duplicate rules.
    earlier: Sequence[tuple[str, str]] = ()
    # Where times without an offset were taken; None: this machine's local time zone.
    zone: tzinfo | None = None
    # Reference rules: what each engine measured, by rule name.
    similarity: Mapping[str, Sequence[Similarity]] = field(default_factory=dict)


@dataclass(frozen=True)
class Similarity:
    """Which registered object the photo shows, by one engine: the CPU matcher's count of
    matching points per object, or the object a vision model picked from its sheet
    (`picked`, or NO_CHOICE; its `scores` then list every registered object at 0). Empty
    with a `problem` when the engine could not say."""

    engine: str
    scores: Mapping[str, float] = field(default_factory=dict)
    problem: str | None = None
    picked: str | None = None


def decide(rule: Rule, facts: Facts, readings: Sequence[Reading] = ()) -> RuleResult:
    if rule.kind == "text":
        return _combine(rule, [decide_text(rule, facts.request, r) for r in readings])
    if rule.kind == "presence":
        return _combine(rule, [decide_presence(rule, r) for r in readings])
    if rule.kind == "metadata":
        return decide_metadata(rule, facts)
    if rule.kind == "reference":
        found = facts.similarity.get(rule.name, ())
        return _combine(rule, [decide_reference(rule, facts.request, s) for s in found])
    return decide_duplicate(rule, facts)


def _combine(rule: Rule, results: list[RuleResult]) -> RuleResult:
    """One engine's result as it is; with two (engine "both") they must agree to pass."""
    if not results:
        return RuleResult(
            rule.name, rule.undecided, "no engine could answer this rule", reason_code="no_engine"
        )
    if len(results) == 1:
        return results[0]
    statuses = {r.status for r in results}
    engines = "+".join(r.engine or "?" for r in results)
    details = "; ".join(f"{r.engine}: {r.detail}" for r in results)
    if len(statuses) == 1:
        first = results[0]
        return RuleResult(
            rule.name,
            first.status,
            details,
            first.observed,
            first.expected,
            engines,
            reason_code=first.reason_code,
        )
    # pass against fail is a disagreement; anything less certain wins over both.
    unsure = [r for r in results if r.status not in ("pass", "fail")]
    if unsure:
        status = worst(r.status for r in unsure)
        code = next(r.reason_code for r in unsure if r.status == status)
    else:
        status, code = rule.undecided, "engines_disagree"
    observed = [r.observed for r in results]
    return RuleResult(
        rule.name,
        status,
        f"engines disagree: {details}",
        observed,
        results[0].expected,
        engines,
        reason_code=code,
    )


def decide_text(rule: Rule, request: Request, reading: Reading) -> RuleResult:
    """Right value: pass. Wrong value: fail. Unreadable, off-shape or nothing to compare: the
    rule's `undecided` status (review), never pass."""
    expected_raw = request.expect.get(rule.expect_key) if rule.expect else None
    expected = normalize(expected_raw, rule.normalize) if expected_raw is not None else None

    def result(status: Status, code: ReasonCode, detail: str, observed: Any = None) -> RuleResult:
        return RuleResult(
            rule.name, status, detail, observed, expected, reading.engine, reason_code=code
        )

    shape = re.compile(rule.answer)
    seen = [normalize(value, rule.normalize) for value in reading.values if value.strip()]
    fitting = list(dict.fromkeys(value for value in seen if shape.fullmatch(value)))
    if rule.expect and expected is None:
        missing = f"the request has no value for {rule.expect}"
        if fitting:
            read = f"read {fitting[0]}, but {missing}"
            return result(rule.undecided, "request_missing_value", read, fitting[0])
        return result(rule.undecided, "request_missing_value", missing)
    if reading.problem:
        return result(rule.undecided, "model_no_answer", reading.problem)
    if not fitting:
        what = f"read {_quote(seen)}" if seen else "nothing legible was read"
        detail = f"{what}, which does not fit {rule.answer}"
        return result(rule.undecided, "no_code_visible", detail, seen or None)
    if expected is None:
        return result("pass", "code_matches", f"read {fitting[0]}", fitting[0])
    if not shape.fullmatch(expected):
        # The tracker asked for something this rule can never read: a person must look.
        detail = f"the expected value {expected!r} does not fit {rule.answer}"
        return result(rule.undecided, "expected_value_invalid", detail, fitting[0])
    if reading.candidates and rule.tolerance == 0:
        # The engine said how sure it is of each character: judge on that.
        judged = judge(reading.candidates, expected, rule.answer, THRESHOLDS[rule.writing])
        status = rule.undecided if judged.status == "review" else judged.status
        return result(status, judged.reason_code, judged.detail, judged.observed)
    best = min(fitting, key=lambda value: edit_distance(value, expected))
    distance = edit_distance(best, expected)
    if distance <= rule.tolerance:
        off = f" ({distance} character(s) off, tolerance {rule.tolerance})" if distance else ""
        return result("pass", "code_matches", f"read {best}{off}", best)
    return result("fail", "code_mismatch", f"read {_quote(fitting)}, expected {expected}", best)


def _quote(values: Sequence[str]) -> str:
    return ", ".join(values[:5]) + (" …" if len(values) > 5 else "")


def decide_presence(rule: Rule, reading: Reading) -> RuleResult:
    expected = rule.expect_present

    def result(status: Status, code: ReasonCode, detail: str, seen: bool | None) -> RuleResult:
        return RuleResult(
            rule.name, status, detail, seen, expected, reading.engine, reason_code=code
        )

    if reading.problem or not reading.values:
        return result(rule.undecided, "model_no_answer", reading.problem or "no answer", None)
    answer = reading.values[0].strip().lower()
    if answer not in ("yes", "no"):
        detail = f"the answer was {answer!r}, not yes or no: {rule.question}"
        return result(rule.undecided, "presence_unsure", detail, None)
    seen = answer == "yes"
    detail = f"{'visible' if seen else 'not visible'}: {rule.question}"
    if seen == expected:
        return result("pass", "object_visible" if seen else "object_not_visible", detail, seen)
    return result(
        "fail", "object_unexpectedly_visible" if seen else "object_not_visible", detail, seen
    )


def _as_aware(moment: datetime, zone: tzinfo | None) -> datetime:
    # A time without offset is read in this machine's time zone (where the camera most
    # likely was; `zone` stands in for it in tests); freshness allows `clock_skew` for the rest.
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()


def decide_metadata(rule: Rule, facts: Facts) -> RuleResult:
    meta = facts.metadata
    checks: list[tuple[Status, ReasonCode, str]] = []
    observed: dict[str, Any] = {"camera": meta.camera, "captured_at": meta.captured_at}
    expected: dict[str, Any] = {}
    if rule.require_camera:
        expected["camera"] = True
        checks.append(
            ("pass", "metadata_ok", "taken by a camera")
            if meta.camera
            else (
                "fail",
                "no_camera_data",
                "no camera make or model recorded (a screenshot or an edited image)",
            )
        )
    if rule.min_width or rule.min_height:
        observed["size"] = f"{facts.width}x{facts.height}"
        expected["min_size"] = f"{rule.min_width}x{rule.min_height}"
        big_enough = facts.width >= rule.min_width and facts.height >= rule.min_height
        checks.append(
            ("pass", "metadata_ok", f"{facts.width}x{facts.height} pixels")
            if big_enough
            else (
                "fail",
                "resolution_too_low",
                f"{facts.width}x{facts.height} is below {expected['min_size']}",
            )
        )
    if rule.max_age is not None:
        checks.append(_freshness(rule, facts, expected))
    if not checks:
        checks.append(("pass", "metadata_ok", "nothing to check"))
    status = worst(s for s, _, _ in checks)
    # The first check that gives the rule its status names the cause.
    code = next(c for s, c, _ in checks if s == status)
    detail = "; ".join(d for _, _, d in checks)
    return RuleResult(rule.name, status, detail, observed, expected, reason_code=code)


def _freshness(
    rule: Rule, facts: Facts, expected: dict[str, Any]
) -> tuple[Status, ReasonCode, str]:
    """Taken after the request was issued and within max_age of it, give or take clock_skew."""
    if facts.request.issued_at is None:
        missing = "the request has no issued_at to compare the capture time with"
        return (rule.undecided, "request_missing_value", missing)
    assert rule.max_age is not None
    issued = _as_aware(facts.request.issued_at, facts.zone)
    skew = timedelta(seconds=rule.clock_skew)
    deadline = issued + timedelta(seconds=rule.max_age)
    expected["captured_between"] = [(issued - skew).isoformat(), (deadline + skew).isoformat()]
    if not facts.metadata.captured_at:
        return (rule.undecided, "no_capture_time", "the photo records no capture time")
    try:
        captured = _as_aware(datetime.fromisoformat(facts.metadata.captured_at), facts.zone)
    except ValueError:
        return (rule.undecided, "no_capture_time", "the capture time cannot be read")
    if captured < issued - skew:
        early = f"taken {_ago(issued - captured)} before the request was issued"
        return ("fail", "taken_before_request", early)
    if captured > deadline + skew:
        late = f"taken {_ago(captured - issued)} after the request, past the deadline"
        return ("fail", "past_deadline", late)
    if captured < issued:
        skewed = f"taken {_ago(issued - captured)} before the request, within clock skew"
        return ("pass", "metadata_ok", skewed)
    return ("pass", "metadata_ok", f"taken {_ago(captured - issued)} after the request")


def _ago(delta: timedelta) -> str:
    seconds = abs(int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def decide_duplicate(rule: Rule, facts: Facts) -> RuleResult:
    if facts.phash is None:
        return RuleResult(
            rule.name,
            rule.undecided,
            "no perceptual hash could be computed",
            reason_code="no_perceptual_hash",
        )
    nearest: tuple[int, str] | None = None
    for photo, other in facts.earlier:
        distance = hamming(facts.phash, other)
        if nearest is None or distance < nearest[0]:
            nearest = (distance, photo)
    if nearest is not None and nearest[0] <= rule.max_distance:
        detail = f"near-identical to {nearest[1]} (distance {nearest[0]} of 64)"
        return RuleResult(rule.name, "fail", detail, nearest[1], reason_code="reused_photo")
    detail = f"unlike the {len(facts.earlier)} earlier photo(s)"
    return RuleResult(rule.name, "pass", detail, reason_code="not_reused")


def decide_reference(rule: Rule, request: Request, found: Similarity) -> RuleResult:
    """The expected object clearly best: pass. Another registered object clearly best:
    fail. Anything less clear, or nothing that looks like any object: undecided.

    Clearly best means at least `min_score` and `margin` more than every other object (the
    "no object" case scores 0, so `min_score` is its margin too). The expected object is
    named by the request and never shown to any engine.
    """
    expected = request.expect.get(rule.expect_key)

    def result(status: Status, code: ReasonCode, detail: str, observed: Any = None) -> RuleResult:
        return RuleResult(
            rule.name, status, detail, observed, expected, found.engine, reason_code=code
        )

    if expected is None:
        missing = f"the request has no value for {rule.expect}"
        return RuleResult(rule.name, rule.undecided, missing, None, None, found.engine,
                          reason_code="request_missing_value")  # fmt: skip
    if expected not in found.scores and not found.problem:
        known = ", ".join(sorted(found.scores)) or "none"
        detail = f"{expected!r} has no reference photos (registered: {known})"
        return RuleResult(rule.name, rule.undecided, detail, None, expected, found.engine,
                          reason_code="expected_value_invalid")  # fmt: skip
    if found.problem or not found.scores:
        return RuleResult(rule.name, rule.undecided, found.problem or "no scores", None,
                          expected, found.engine, reason_code="model_no_answer")  # fmt: skip
    if found.picked is not None:
        return _decide_pick(found.picked, expected, len(found.scores), result, rule.undecided)
    ranked = sorted(found.scores.items(), key=lambda item: (-item[1], item[0]))
    best, score = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else ("no object", 0.0)
    margin = score - runner_up[1]
    observed = {"object": best, "score": score, "margin": margin}
    seen = (
        f"best match {best} ({score:g} matching points), next {runner_up[0]} "
        f"({runner_up[1]:g}): margin {margin:g}"
    )
    clear = score >= rule.min_score and margin >= rule.margin
    if clear and best == expected:
        return result("pass", "device_matches", seen, observed)
    if clear:
        # Another registered object clearly wins over every other one, the expected too.
        return result("fail", "wrong_device", f"{seen}; expected {expected}", observed)
    if score < rule.min_score:
        what = f"no registered object recognised ({seen})"
        return result(rule.undecided, "no_device_visible", what, observed)
    return result(rule.undecided, "device_uncertain", f"not clear enough: {seen}", observed)


def _decide_pick(
    picked: str,
    expected: str,
    registered: int,
    result: Callable[[Status, ReasonCode, str, Any], RuleResult],
    undecided: Status,
) -> RuleResult:
    """A vision model's answer: the object it recognised among `registered` on its sheet.

    It names one object, with no score to weigh, so its word decides: the expected object
    passes (with `both`, only if the CPU matcher agrees), another registered one fails.
    "None of them" is undecided: like the matcher, a model cannot prove an object absent.
    """
    observed = {"object": picked}
    among = f"of {registered} registered object(s)"
    if picked == expected:
        return result("pass", "device_matches", f"the vision model saw {picked} {among}", observed)
    if picked == NO_CHOICE:
        seen = f"the vision model saw none {among}"
        return result(undecided, "no_device_visible", seen, observed)
    seen = f"the vision model saw {picked} {among}; expected {expected}"
    return result("fail", "wrong_device", seen, observed)
