"""The words every stage shares, and nothing else: statuses, questions and readings, the
tracker's request, and one rule's result.

This module sits at the bottom of the package: it imports nothing of proofwatch, and every
layer above (the stages, the pipeline, the service, the command line) may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# -- statuses: the photo's status is the worst of its rules

Status = Literal["pass", "fail", "review", "rejected", "error"]
STATUSES: tuple[Status, ...] = ("pass", "review", "fail", "error", "rejected")
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}


def worst(statuses: Iterable[Status]) -> Status:
    """rejected > error > fail > review > pass; no statuses at all is review, never pass."""
    return max(statuses, key=_SEVERITY.__getitem__, default="review")


# -- why: stable, machine-readable causes, for trackers to act on and translate. The verdict
# schema's enum, contrib/reasons.json and docs/integration.md are checked against these.

ReasonCode = Literal[
    # text rules
    "code_matches",
    "code_mismatch",
    "code_uncertain",
    "unreadable",
    "no_code_visible",
    "request_missing_value",
    "expected_value_invalid",
    # presence rules
    "object_visible",
    "object_not_visible",
    "object_unexpectedly_visible",
    "presence_unsure",
    # reference rules
    "device_matches",
    "wrong_device",
    "no_device_visible",
    "device_uncertain",
    # metadata rules
    "metadata_ok",
    "no_camera_data",
    "resolution_too_low",
    "taken_before_request",
    "past_deadline",
    "no_capture_time",
    # duplicate rules
    "not_reused",
    "reused_photo",
    "no_perceptual_hash",
    # engines
    "model_no_answer",
    "engines_disagree",
    "no_engine",
    "model_unavailable",
    # the photo as a whole
    "no_rules",
    "unknown_rule",
    "request_invalid",
    "not_a_file",
    "empty_file",
    "file_unreadable",
    "too_large",
    "not_an_image",
    "damaged_image",
    "quarantined",
    "internal_error",
]
# One line each: what the code means (the schema's description repeats these).
REASON_CODES: dict[ReasonCode, str] = {
    "code_matches": "the code read is the one expected (or, with nothing to compare, a code "
    "of the right shape was read)",
    "code_mismatch": "a different code was read with confidence",
    "code_uncertain": "a code was read, but not confidently enough to compare it",
    "unreadable": "the writing is there but could not be read (handwriting not legible)",
    "no_code_visible": "nothing of the code's shape was read: no code visible, or covered or "
    "cut off",
    "request_missing_value": "the request lacks a value the rule needs (an expect key, issued_at)",
    "expected_value_invalid": "the request's expected value cannot fit the rule's answer shape",
    "object_visible": "the object the rule looks for is visible, as expected",
    "object_not_visible": "the object the rule looks for is not visible",
    "object_unexpectedly_visible": "the object is visible where the rule expects it not to be",
    "presence_unsure": "the model could not tell whether the object is visible",
    "device_matches": "the photo shows the registered object the request names, clearly best "
    "of all registered objects",
    "wrong_device": "another registered object is clearly what the photo shows",
    "no_device_visible": "no registered object was recognised in the photo (absent, covered, "
    "blurred or too small)",
    "device_uncertain": "registered objects were recognised, but none clearly enough to decide",
    "metadata_ok": "the metadata checks passed (camera, size, capture time)",
    "no_camera_data": "no camera make or model recorded: a screenshot or an edited image",
    "resolution_too_low": "the photo has fewer pixels than the rule requires",
    "taken_before_request": "the photo was taken before the request was issued",
    "past_deadline": "the photo was taken after the request's deadline",
    "no_capture_time": "the photo records no readable capture time",
    "not_reused": "the photo is unlike every earlier photo",
    "reused_photo": "the photo is a near-identical copy of one submitted before",
    "no_perceptual_hash": "the photo's perceptual hash could not be computed",
    "model_no_answer": "the engine gave no usable answer (reply cut off, off-schema, server gone)",
    "engines_disagree": "two engines read different things (engine = both)",
    "no_engine": "no engine the daemon runs can answer this rule",
    "model_unavailable": "the model server stayed down or failed past its retries",
    "no_rules": "no rule applies to this photo",
    "unknown_rule": "the request names a rule that does not exist",
    "request_invalid": "the request file is invalid (not JSON, unknown field, wrong type)",
    "not_a_file": "not a regular file: a symbolic link, folder, pipe or device",
    "empty_file": "the file is empty",
    "file_unreadable": "the file could not be read (gone, or no permission)",
    "too_large": "the file or its pixel count is over the limit (or a decompression bomb)",
    "not_an_image": "not an image in a supported format",
    "damaged_image": "an image file that is truncated or corrupt",
    "quarantined": "the file could not be stripped and still carried metadata: moved to the "
    "daemon's quarantine",
    "internal_error": "proofwatch itself failed on this photo",
}

# Retake hints: what a cheap look at the pixels found wrong with the photo, before any model.
HintCode = Literal["blurry", "too_dark", "too_bright", "cut_off", "paper_too_small"]
HINT_CODES: dict[HintCode, str] = {
    "blurry": "the image is too blurry to read fine writing",
    "too_dark": "the image is too dark",
    "too_bright": "the image is overexposed: much of it is blown out to white",
    "cut_off": "the paper runs off the edge of the image: the code may be cut off",
    "paper_too_small": "the paper fills too little of the frame: come closer",
}


@dataclass(frozen=True)
class Hint:
    code: HintCode
    detail: str  # for a person: what was measured, against which threshold

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


# -- what an engine is asked, and what it reports: readings, never judgements

QuestionKind = Literal["text", "presence", "reference"]
Writing = Literal["handwriting", "print"]  # how the text a question asks for is written
WRITING: tuple[Writing, ...] = ("handwriting", "print")
PRESENCE_ANSWERS = ("yes", "no", "unsure")
NO_CHOICE = "none"  # a reference question's answer when none of the labelled objects is seen


@dataclass(frozen=True)
class Question:
    key: str  # the answer's field name; unique per photo
    kind: QuestionKind
    prompt: str
    # reference questions: the neutral labels to choose from, and the JPEG of the sheet
    # that shows each labelled object's reference photos (never the objects' names)
    choices: tuple[str, ...] = ()
    sheet: bytes | None = None
    # text questions: the embedded OCR looks harder for handwriting (see engines/ocr.py)
    writing: Writing = "handwriting"


DIGITS = "0123456789"
# Letters that stand for a handwritten digit: OCR reads them, and the rules compare them, as it.
DIGIT_LOOK_ALIKES = {
    "O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1",
    "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "g": "9", "q": "9",
}  # fmt: skip


@dataclass(frozen=True)
class Char:
    """One character as read: what it is, its probability, and P(0..9) where known.

    When several readers read it alike, `prob` and `digits` are their mean and `least` the
    lowest probability any one of them gave it."""

    text: str
    prob: float
    digits: tuple[float, ...] = ()  # ten probabilities (0..9), or empty when not known
    least: float | None = None  # None: one reader, `prob` itself

    @property
    def weakest(self) -> float:
        """The probability of the least sure reader of this character."""
        return self.prob if self.least is None else self.least

    def p_digit(self, digit: str) -> float | None:
        """The probability that this place holds `digit`; None when the engine cannot say."""
        if not self.digits or digit not in DIGITS:
            return None
        return self.digits[DIGITS.index(digit)]


def mean_char(readings: Sequence[Char]) -> Char:
    """One character as several readers read it alike: their mean probabilities, and the
    least sure reader's."""
    if len(readings) == 1:
        return readings[0]
    known = [r.digits for r in readings if r.digits]
    digits = tuple(sum(place) / len(known) for place in zip(*known, strict=True))
    return Char(
        readings[0].text,
        sum(r.prob for r in readings) / len(readings),
        digits,
        min(r.weakest for r in readings),
    )


@dataclass(frozen=True)
class Candidate:
    """One transcription of one line, with how sure the engine is of each character.

    `agree` counts the independent readers that produced exactly this text (the embedded
    OCR's PP-OCR, its glyph CNN and its line recogniser: 1 to 3); `line` numbers the line of
    the photo it was read on and `turn` the degrees its crop was turned to read it, so that
    readings of one line, the same way up, can be weighed together.
    """

    text: str
    chars: tuple[Char, ...] = ()
    source: str = "ocr"
    agree: int = 1
    line: int | None = None  # None: not known
    turn: int | None = None
    # Each reader's own characters, in the order of `source`, when several read it alike
    # (`chars` is then their mean): a rule that does not hear some readers needs the others'.
    own: tuple[tuple[Char, ...], ...] = ()

    @property
    def readers(self) -> list[str]:
        """The readers that read it alike, as `source` names them (joined by +)."""
        return self.source.split("+")

    @property
    def confidence(self) -> float:
        """The least sure character decides: one doubtful digit makes a doubtful code."""
        return min((c.prob for c in self.chars), default=0.0)


@dataclass(frozen=True)
class Reading:
    """What one engine saw for one question.

    `values`: for text, every transcription the engine offers (a model gives one, OCR may give
    several candidates); for presence, one of yes / no / unsure. Empty with a `problem` when
    nothing usable came back (reply cut off, not JSON, off-schema). `candidates`: the same
    transcriptions with their confidence, from an engine that can say how sure it is; the
    rules then judge on those.
    """

    engine: str
    values: tuple[str, ...] = ()
    problem: str | None = None
    candidates: tuple[Candidate, ...] = ()


# -- the tracker's request (NAME.EXT.request.json)


@dataclass(frozen=True)
class Request:
    """The tracker's request for one photo; every field optional."""

    id: str | None = None
    rules: tuple[str, ...] | None = None
    expect: dict[str, str] = field(default_factory=dict)
    issued_at: datetime | None = None


# -- one rule's outcome, as the verdict reports it


@dataclass(frozen=True)
class RuleResult:
    rule: str
    status: Status
    detail: str
    observed: Any = None
    expected: Any = None
    engine: str | None = None
    reason_code: ReasonCode = field(kw_only=True)  # why, for a program; `detail` for a person

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "status": self.status,
            "reason_code": self.reason_code,
        }
        if self.observed is not None:
            out["observed"] = self.observed
        if self.expected is not None:
            out["expected"] = self.expected
        if self.engine is not None:
            out["engine"] = self.engine
        out["detail"] = self.detail
        return out
