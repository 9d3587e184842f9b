"""The words every stage shares, and nothing else: statuses, questions and readings, the
tracker's request, and one rule's result.

This module sits at the bottom of the package: it imports nothing of proofwatch, and every
layer above (the stages, the pipeline, the service, the command line) may use it.
"""

from __future__ import annotations

from collections.abc import Iterable
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


# -- what an engine is asked, and what it reports: readings, never judgements

QuestionKind = Literal["text", "presence"]
PRESENCE_ANSWERS = ("yes", "no", "unsure")


@dataclass(frozen=True)
class Question:
    key: str  # the answer's field name; unique per photo
    kind: QuestionKind
    prompt: str


@dataclass(frozen=True)
class Reading:
    """What one engine saw for one question.

    `values`: for text, every transcription the engine offers (a model gives one, OCR may give
    several candidates); for presence, one of yes / no / unsure. Empty with a `problem` when
    nothing usable came back (reply cut off, not JSON, off-schema).
    """

    engine: str
    values: tuple[str, ...] = ()
    problem: str | None = None


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

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "status": self.status}
        if self.observed is not None:
            out["observed"] = self.observed
        if self.expected is not None:
            out["expected"] = self.expected
        if self.engine is not None:
            out["engine"] = self.engine
        out["detail"] = self.detail
        return out
