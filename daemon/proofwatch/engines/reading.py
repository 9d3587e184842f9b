"""Readings with their confidence, and the judgement made from them (pure, no model).

An engine that can say how sure it is reports each line it read as a `Candidate`: the text,
one `Char` per character with the probability the recogniser gave it and, for digits, the
probability of every digit 0-9 at that place. `judge` then decides a code rule from those
candidates and the expected value, which the engine never saw:

- pass: the expected code was read, and read with confidence;
- fail: a code of the same length, differing in one or two places (a digit off, two
  swapped), was read by both readers with confidence at every place where it differs, and
  no reading gave the expected digit there more than a trace of probability;
- review: anything else: nothing fitting, a low-confidence read, a read that is the expected
  code but unsure, a read one digit off where the recogniser hesitated on that digit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Judgement = Literal["pass", "fail", "review"]
DIGITS = "0123456789"


@dataclass(frozen=True)
class Char:
    """One character as read: what it is, its probability, and P(0..9) where known."""

    text: str
    prob: float
    digits: tuple[float, ...] = ()  # ten probabilities (0..9), or empty when not known

    def p_digit(self, digit: str) -> float | None:
        """The probability that this place holds `digit`; None when the engine cannot say."""
        if not self.digits or digit not in DIGITS:
            return None
        return self.digits[DIGITS.index(digit)]


@dataclass(frozen=True)
class Candidate:
    """One transcription of one line: text, per-character detail, and where it came from.

    `agree` counts the independent readers that produced exactly this text (PP-OCR and the
    digit CNN: 2 when both read it).
    """

    text: str
    chars: tuple[Char, ...] = ()
    source: str = "ocr"
    agree: int = 1

    @property
    def confidence(self) -> float:
        """The least sure character decides: one doubtful digit makes a doubtful code."""
        return min((c.prob for c in self.chars), default=0.0)


@dataclass(frozen=True)
class Thresholds:
    """Where doubt begins (chosen on the tune split; see bench/bench_ocr.py)."""

    # Chosen on the tune split (80 proofgen photos: no right code failed, no false pass).
    pass_min: float = 0.60  # the expected code read with every character at least this sure
    pass_min_single: float = 0.90  # the same when only one reader produced it
    fail_min: float = 0.90  # each differing character read at least this sure
    fail_expected_max: float = 0.10  # and the expected character got at most this
    fail_agree: int = 1  # readers that must agree on the different code (2: both)
    # A reading that differs in more places is more likely a misread (a sheet read upside
    # down, a blurred line) than another code: review, not fail.
    fail_max_places: int = 2


@dataclass(frozen=True)
class Verdict:
    status: Judgement
    detail: str
    observed: str | None = None
    why: tuple[str, ...] = field(default=())


def _differing(a: str, b: str) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def _supports_expected(candidate: Candidate, expected: str, limit: float) -> bool:
    """Somewhere this reading gave the expected character more than `limit` (or cannot say)."""
    if len(candidate.text) != len(expected) or len(candidate.chars) != len(expected):
        return False
    for i in _differing(candidate.text, expected):
        p = candidate.chars[i].p_digit(expected[i])
        if p is None or p > limit:
            return True
    return False


def judge(
    candidates: Sequence[Candidate],
    expected: str,
    pattern: str,
    thresholds: Thresholds = Thresholds(),
) -> Verdict:
    """pass / fail / review for a code rule, from every candidate an engine read."""
    shape = re.compile(pattern)
    fitting = [c for c in candidates if shape.fullmatch(c.text)]
    if not fitting:
        seen = ", ".join(dict.fromkeys(c.text for c in candidates)) or "nothing"
        return Verdict("review", f"read {seen}; nothing fits {pattern}")
    same = [c for c in fitting if c.text == expected]
    if same:
        best = max(same, key=lambda c: (c.agree, c.confidence))
        need = thresholds.pass_min if best.agree >= 2 else thresholds.pass_min_single
        if best.confidence >= need:
            return Verdict("pass", f"read {expected} ({best.confidence:.2f})", expected)
        return Verdict(
            "review",
            f"read {expected}, but unsure ({best.confidence:.2f} < {need:.2f})",
            expected,
        )
    # Never fail while any reading leaves room for the expected code at the differing places.
    if any(_supports_expected(c, expected, thresholds.fail_expected_max) for c in fitting):
        hesitant = [
            c for c in fitting if _supports_expected(c, expected, thresholds.fail_expected_max)
        ]
        return Verdict(
            "review",
            f"read {hesitant[0].text}, which may be {expected}: unsure at a differing digit",
            hesitant[0].text,
        )
    for c in sorted(fitting, key=lambda c: (-c.agree, -c.confidence)):
        if c.agree < thresholds.fail_agree or len(c.chars) != len(c.text):
            continue
        if len(c.text) != len(expected):
            continue
        places = _differing(c.text, expected)
        if len(places) > thresholds.fail_max_places:
            continue
        if min(c.chars[i].prob for i in places) >= thresholds.fail_min:
            return Verdict("fail", f"read {c.text}, expected {expected}", c.text)
    best = max(fitting, key=lambda c: (c.agree, c.confidence))
    return Verdict(
        "review",
        f"read {best.text} ({best.confidence:.2f}), not sure enough to fail",
        best.text,
    )
