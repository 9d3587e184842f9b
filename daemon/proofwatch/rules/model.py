"""What a rule is, once its TOML file has been read and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ..vocabulary import QuestionKind, Status, Writing

RuleKind = Literal["text", "presence", "metadata", "duplicate", "reference"]
EngineChoice = Literal["auto", "ollama", "ocr", "both", "cpu"]
MODEL_KINDS = ("text", "presence")


@dataclass(frozen=True)
class Example:
    """A photo the rule must give `status` (run by `proofwatch rules test`).

    `photo` and `earlier` are paths relative to the rule file; `earlier` are photos the
    daemon is to have seen before this one (for duplicate rules).
    """

    photo: str
    status: Status
    request: dict[str, Any] = field(default_factory=dict)
    earlier: tuple[str, ...] = ()
    line: int | None = None  # of its [[examples]] header, for messages


@dataclass(frozen=True)
class Rule:
    name: str
    kind: RuleKind
    source: str = ""
    description: str = ""
    match: tuple[str, ...] = ("**",)
    engine: EngineChoice = "auto"
    undecided: Status = "review"
    examples: tuple[Example, ...] = ()
    # text and presence
    question: str = ""
    # text
    answer: str = ".+"
    expect: str = ""  # "request.expect.<key>", or empty: extract only
    normalize: tuple[str, ...] = ()
    tolerance: int = 0
    writing: Writing = "handwriting"  # how the code is written: the OCR judges print apart
    # presence
    expect_present: bool = True
    # metadata
    max_age: float | None = None
    clock_skew: float = 120.0
    require_camera: bool = False
    min_width: int = 0
    min_height: int = 0
    # duplicate
    max_distance: int = 6
    # reference: one subfolder of reference photos per object, relative to the rules folder
    references: str = ""
    # The CPU matcher's scores are counts of matching points; defaults chosen on the tuning
    # split of bench/bench_reference.py.
    min_score: int = 12  # the best object must have at least this many
    margin: int = 8  # and this many more than any other object

    @property
    def asks_model(self) -> bool:
        if self.kind == "reference":  # the CPU matcher alone, unless the rule names the model
            return self.engine in ("ollama", "both")
        return self.kind in MODEL_KINDS

    @property
    def asks_matcher(self) -> bool:
        """A reference rule the CPU matcher scores (every engine choice but the model's)."""
        return self.kind == "reference" and self.engine != "ollama"

    @property
    def needs_request(self) -> bool:
        """True when deciding needs a value from the request (expect, issued_at)."""
        return bool(self.expect) or self.max_age is not None

    @property
    def question_kind(self) -> QuestionKind:
        if self.kind == "presence":
            return "presence"
        return "reference" if self.kind == "reference" else "text"

    @property
    def expect_key(self) -> str:
        return self.expect.removeprefix("request.expect.")

    @property
    def question_key(self) -> str:
        """The answer's field name in the model's JSON schema."""
        return re.sub(r"[^a-z0-9_]", "_", self.name.lower())

    def matches(self, relative_path: str) -> bool:
        return any(glob_regex(pattern).fullmatch(relative_path) for pattern in self.match)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`**` spans folders, `*` and `?` stay within one path segment."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)  # file names may hold newlines
