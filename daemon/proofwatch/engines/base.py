"""What every engine answers: readings of the photo, never judgements.

An engine is asked questions (transcribe the code, is the device visible) and reports what
it saw. It is never told an expected value; the rules compare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from PIL import Image

from ..vocabulary import PRESENCE_ANSWERS, Question, QuestionKind, Reading

__all__ = [
    "PRESENCE_ANSWERS",
    "Availability",
    "Engine",
    "EngineError",
    "EngineUnavailable",
    "ModelBusy",
    "ModelDown",
    "ModelWait",
    "Question",
    "QuestionKind",
    "Reading",
]


class EngineError(Exception):
    """The engine failed after its retries (server down past model_wait, unexpected error)."""


class EngineUnavailable(EngineError):
    """The engine cannot be used at all right now (server unreachable, model missing)."""


class ModelWait(EngineError):
    """The model server cannot take the photo now but will: the photo waits for it, set
    aside without holding a worker, and only past model_wait becomes `error`.

    `retry_after`: seconds until the next try is worth it (a growing backoff, or the
    server's Retry-After); `since`: when this spell of trouble began (monotonic), shared by
    every photo, so that photos arriving late in a long outage do not wait it all again.
    """

    def __init__(self, reason: str, retry_after: float, since: float):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.since = since


class ModelBusy(ModelWait):
    """503 (queue full, model loading) or 429: the server is there; waiting is right even in
    auto mode, where falling back to OCR would trade a better reading for a few seconds."""


class ModelDown(ModelWait, EngineUnavailable):
    """No server (connection refused, no connection in time): auto mode falls back to OCR
    for text rules; the model mode waits for it."""


class Engine(Protocol):
    kinds: ClassVar[frozenset[str]]

    @property
    def label(self) -> str:
        """Engine name as verdicts show it, e.g. "ollama:qwen2.5vl:7b" or "ocr:rapidocr"."""
        ...

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        """Answer every question about `image` (upright, already sized down) in one go."""
        ...


@dataclass(frozen=True)
class Availability:
    """Which engines can answer right now: what the pipeline plans each photo's calls by."""

    mode: str  # the daemon's engine setting: auto | ollama | ocr
    ollama_ready: bool  # last health check found the server and a vision model
    ocr_installed: bool
    ollama_problem: str | None = None  # why it is not ready, when known
