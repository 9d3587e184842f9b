"""Which engine answers which rule: a pure choice, given what is available right now."""

from __future__ import annotations

from collections.abc import Sequence

from ..engines.base import Availability
from ..rules.model import Rule

OLLAMA, OCR = "ollama", "ocr"


def choose(rule: Rule, available: Availability) -> tuple[tuple[str, ...], str | None]:
    """The engines for one model rule, or none and the reason a person reads.

    engine = "auto": Ollama when it is ready (always in the daemon's "ollama" mode, where
    photos wait for it), else OCR for text rules; presence rules need a vision model.
    """
    if rule.kind == "presence" and rule.engine in (OCR, "both"):
        return (), "OCR cannot judge presence: the rule needs a vision model (engine = ollama)"
    allowed = set()
    if available.mode != OCR:
        allowed.add(OLLAMA)
    if available.mode != OLLAMA and available.ocr_installed:
        allowed.add(OCR)
    wanted: tuple[str, ...]
    if rule.engine == "auto":
        if OLLAMA in allowed and (available.ollama_ready or available.mode == OLLAMA):
            return (OLLAMA,), None
        if rule.kind == "text" and OCR in allowed:
            return (OCR,), None
        if rule.kind == "presence":
            why = (
                (available.ollama_problem or "Ollama is not reachable")
                if OLLAMA in allowed
                else 'the daemon runs OCR only (engine = "ocr")'
            )
            return (), f"no vision model is available to judge this: {why}"
        return (), "no engine is available for this rule"
    if rule.kind == "reference":  # the CPU matcher's side is not an engine call
        wanted = (OLLAMA,)
    else:
        wanted = (OLLAMA, OCR) if rule.engine == "both" else (rule.engine,)
    missing = [name for name in wanted if name not in allowed]
    if missing:
        return (
            (),
            f"the rule needs {' and '.join(missing)}, "
            f"which the daemon does not run (engine = {available.mode})",
        )
    return wanted, None


def plan(
    rules: Sequence[Rule], available: Availability
) -> tuple[dict[str, list[Rule]], dict[str, str]]:
    """Rules grouped by engine (one call per engine) and the rules no engine can answer."""
    by_engine: dict[str, list[Rule]] = {}
    unanswerable: dict[str, str] = {}
    for rule in rules:
        if not rule.asks_model:
            continue
        engines, reason = choose(rule, available)
        if reason:
            unanswerable[rule.name] = reason
        for engine in engines:
            by_engine.setdefault(engine, []).append(rule)
    return by_engine, unanswerable
