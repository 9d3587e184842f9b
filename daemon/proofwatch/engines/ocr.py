"""The embedded OCR engine: PP-OCR through rapidocr-onnxruntime, on the CPU, no download.

The weights ship inside the rapidocr-onnxruntime wheel, so a fresh machine with no GPU and no
Ollama can still read the code on a proof photo. The engine only reads: for each `text`
question it returns every candidate it can see (each text block, its tokens, its runs of
digits and digit look-alikes, blocks joined along a line); the rules normalise and compare.
OCR cannot say whether an object is visible, so `presence` questions get a problem instead.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image

from proofwatch.engines.base import EngineError, EngineUnavailable, Question, Reading

DEFAULT_MAX_SIDE = 960  # measured: as accurate as 1280-1600 on handwriting, 2-3x faster
DEFAULT_MIN_SCORE = 0.7  # right reads scored >= 0.86; junk mostly < 0.6
LABEL = "ocr:rapidocr"
MAX_CANDIDATES = 64

PRESENCE_PROBLEM = "the OCR engine reads text only; it cannot judge whether something is visible"
NOTHING_READ = "the OCR engine read no text with enough confidence"

# Digits and the characters OCR mistakes them for (the rules map these back to digits).
_DIGITISH = "0-9OoQDIl|iSsBZzGgq"
_DIGIT_RUN = re.compile(f"[{_DIGITISH}]+")
_TOKEN_SPLIT = re.compile(r"[\s,;:!?()\[\]{}\"'`]+")


@dataclass(frozen=True)
class Block:
    """One line of text OCR found: its corners (x, y) in the image it read, text, confidence."""

    box: tuple[tuple[float, float], ...]
    text: str
    score: float

    @property
    def top(self) -> float:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> float:
        return max(y for _, y in self.box)

    @property
    def left(self) -> float:
        return min(x for x, _ in self.box)

    @property
    def right(self) -> float:
        return max(x for x, _ in self.box)


def _digit_runs(text: str) -> list[str]:
    """Runs of digits and look-alikes that hold at least one real digit."""
    return [run for run in _DIGIT_RUN.findall(text) if any(c.isdigit() for c in run)]


def _same_line(a: Block, b: Block) -> bool:
    """b continues a on the same line: overlapping vertically, close horizontally."""
    height = max(a.bottom - a.top, b.bottom - b.top, 1.0)
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    gap = b.left - a.right
    return overlap > 0.5 * height and -0.3 * height < gap < 1.5 * height


def candidates(blocks: Iterable[Block], min_score: float) -> tuple[str, ...]:
    """Every string worth comparing, most confident first, without duplicates.

    For each block (confidence >= min_score): its runs of digits and digit look-alikes (in the
    text as read and with spaces removed), the text itself, the text without spaces, and its
    tokens. Then neighbouring blocks on one line joined, for a code OCR split in two.
    """
    kept = [b for b in blocks if b.score >= min_score and b.text.strip()]
    out: dict[str, None] = {}

    def add(values: Iterable[str]) -> None:
        for value in values:
            value = value.strip()
            if value:
                out.setdefault(value, None)

    for block in sorted(kept, key=lambda b: -b.score):
        text = block.text.strip()
        compact = re.sub(r"\s+", "", text)
        add(_digit_runs(text))
        add(_digit_runs(compact))
        add((text, compact))
        add(_TOKEN_SPLIT.split(text))
    ordered = sorted(kept, key=lambda b: (b.left, b.top))
    for i, first in enumerate(ordered):
        chain = [first]
        for other in ordered[i + 1 :]:
            if _same_line(chain[-1], other):
                chain.append(other)
        if len(chain) > 1:
            joined = "".join(re.sub(r"\s+", "", b.text) for b in chain)
            add(_digit_runs(joined))
            add((joined,))
    return tuple(out)[:MAX_CANDIDATES]


class OcrEngine:
    """PP-OCR (det + cls + rec) on a copy of the image no larger than `max_side`.

    The model is loaded once, on first use (or by `load()`), and shared by every thread;
    inference is serialised, as it already uses every core. Text blocks read with a confidence
    below `min_score` (0..1) are dropped.
    """

    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(
        self, max_side: int = DEFAULT_MAX_SIDE, min_score: float = DEFAULT_MIN_SCORE
    ) -> None:
        if max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, not {max_side}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        self.max_side = max_side
        self.min_score = min_score
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def label(self) -> str:
        return LABEL

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load the model now (it is otherwise loaded on first use); idempotent, thread-safe."""
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            # onnxruntime keeps a telemetry device id and can upload usage events; nothing
            # about a photo may leave the machine, so that is off unless the operator chose.
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            try:
                from rapidocr_onnxruntime import RapidOCR  # slow import: only when needed
            except ImportError as exc:
                raise EngineUnavailable(
                    f"the OCR engine is not installed (rapidocr-onnxruntime): {exc}"
                ) from exc
            try:
                # Keep every block: min_score is applied here, where it is configurable.
                self._model = RapidOCR(text_score=0.0, print_verbose=False)
            except Exception as exc:
                raise EngineUnavailable(
                    f"the OCR engine failed to load ({type(exc).__name__}: {exc})"
                ) from exc

    def _scaled(self, image: Image.Image) -> Image.Image:
        copy = image.convert("RGB")  # always a copy: the caller's image is never touched
        copy.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS)
        return copy

    def read(self, image: Image.Image) -> list[Block]:
        """Every text block OCR finds in `image`, whatever its confidence."""
        self.load()
        scaled = self._scaled(image)
        try:
            with self._run_lock:
                result, _elapse = self._model(scaled)
            return _blocks(result)
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"the OCR engine failed ({type(exc).__name__}: {exc})") from exc

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        answers: dict[str, Reading] = {}
        text_questions = [q for q in questions if q.kind == "text"]
        if text_questions:
            values = candidates(self.read(image), self.min_score)
            problem = None if values else NOTHING_READ
            for question in text_questions:
                answers[question.key] = Reading(LABEL, values, problem)
        for question in questions:
            if question.kind != "text":
                answers[question.key] = Reading(LABEL, (), PRESENCE_PROBLEM)
        return answers


def _blocks(result: Any) -> list[Block]:
    """rapidocr's `[[box, text, score], ...]` (or None when it found nothing) as Blocks."""
    if not result:
        return []
    blocks: list[Block] = []
    for item in result:
        if not isinstance(item, list | tuple) or len(item) < 3:
            raise EngineError(f"the OCR engine returned an unexpected item: {item!r:.80}")
        box, text, score = item[0], item[1], item[2]
        corners = tuple((float(x), float(y)) for x, y in box)
        blocks.append(Block(corners, str(text), float(score)))
    return blocks
