"""What every engine answers: readings of the photo, never judgements.

An engine is asked questions (transcribe the code, is the device visible) and reports what
it saw. It is never told an expected value; the rules compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

from PIL import Image

QuestionKind = Literal["text", "presence"]
PRESENCE_ANSWERS = ("yes", "no", "unsure")


class EngineError(Exception):
    """The engine failed after its retries (server down past model_wait, unexpected error)."""


class EngineUnavailable(EngineError):
    """The engine cannot be used at all right now (server unreachable, model missing)."""


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


Readings = Mapping[str, Reading]


class Engine(Protocol):
    kinds: ClassVar[frozenset[str]]

    @property
    def label(self) -> str:
        """Engine name as verdicts show it, e.g. "ollama:qwen2.5vl:7b" or "ocr:rapidocr"."""
        ...

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        """Answer every question about `image` (upright, already sized down) in one go."""
        ...
