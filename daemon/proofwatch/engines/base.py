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
    "Question",
    "QuestionKind",
    "Reading",
]


class EngineError(Exception):
    """The engine failed after its retries (server down past model_wait, unexpected error)."""


class EngineUnavailable(EngineError):
    """The engine cannot be used at all right now (server unreachable, model missing)."""


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
