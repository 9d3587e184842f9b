"""Reading rule files: one rule per TOML file, checked like a compiler would.

Every key is known per kind; an unknown key is an error (a typo must never silently turn a
check off). Every error names the file, the line and the key, and checking goes on after an
error, so `proofwatch rules check` reports all of them at once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract.request import RequestError, parse_request
from ..engines.sheet import MAX_OBJECTS
from ..tomlsource import KeyLines, SourceError, parse, raise_any
from ..units import parse_duration
from ..vocabulary import STATUSES, WRITING
from . import references as reference_photos
from .model import Example, Rule
from .normalize import STEPS

KINDS = ("text", "presence", "metadata", "duplicate", "reference")
COMMON = {"name", "description", "kind", "match", "undecided", "examples"}
BY_KIND = {
    "text": {"question", "answer", "expect", "normalize", "tolerance", "engine", "writing"},
    "presence": {"question", "expect", "engine"},
    "metadata": {"max_age", "clock_skew", "require_camera", "min_width", "min_height"},
    "duplicate": {"max_distance"},
    "reference": {"references", "expect", "engine", "min_score", "margin"},
}
EXAMPLE_KEYS = {"photo", "status", "request", "earlier"}
MAX_TOLERANCE = 3  # beyond this a tolerance accepts codes that are simply wrong
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    digest: str  # of every rule file's bytes: verdicts say which rules decided them
    # reference rules' objects, by rule name (the digest covers their photos too)
    references: dict[str, reference_photos.References] = field(default_factory=dict)

    def by_name(self) -> dict[str, Rule]:
        return {rule.name: rule for rule in self.rules}


@dataclass(frozen=True)
class CheckedRules:
    """Everything `check_rules` found in a folder: the good rules and every error."""

    folder: Path
    files: tuple[Path, ...]
    rules: tuple[Rule, ...]
    errors: tuple[SourceError, ...]
    digest: str
    references: dict[str, reference_photos.References] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Lines:
    """Line numbers for messages: a missing key is reported where `kind` is, or on line 1;
    an example's key at the example, or at its [[examples]] header."""

    def __init__(self, text: str):
        self.keys = KeyLines(text)

    def of(self, key: str) -> int:
        return self.keys.find(key) or self.keys.find("kind") or 1

    def of_example(self, index: int, key: str) -> int:
        place = ("examples", index, key) if key else ("examples", index)
        return self.keys.find(*place) or self.of("examples")


class _Fields:
    """Typed access to one rule file's keys; problems are collected, with file and line."""

    def __init__(self, path: Path, text: str, raw: dict[str, Any]):
        self.path, self.raw = path, raw
        self.lines = _Lines(text)
        self.errors: list[SourceError] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(SourceError(self.path, message, self.lines.of(key), key))

    def example_error(self, index: int, key: str, message: str) -> None:
        line = self.lines.of_example(index, key)
        name = f"examples[{index + 1}]" + (f".{key}" if key else "")
        self.errors.append(SourceError(self.path, message, line, name))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        """The value, or `default` (with an error recorded) when it has the wrong type."""
        if key not in self.raw:
            return default
        value = self.raw[key]
        if not _is(value, kind):
            self.error(key, f"expected {_plain_type(kind)}, got {_show(value)}")
            return default
        return value


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # TOML's true is a Python int too: only accept it where true/false is meant.
    return isinstance(value, kinds) and (not isinstance(value, bool) or bool in kinds)


def _plain_type(kind: type | tuple[type, ...]) -> str:
    words = {str: "a string", int: "a whole number", bool: "true or false", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- one rule file


def parse_rule(path: Path, raw: dict[str, Any], text: str) -> tuple[Rule | None, list[SourceError]]:
    """The rule in one parsed file, or None; and every problem found in it."""
    f = _Fields(path, text, raw)
    kind = f.get("kind", str)
    if kind is None and "kind" not in raw:
        f.error("kind", f"missing: one of {', '.join(KINDS)}")
    elif kind is not None and kind not in BY_KIND:
        f.error("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
        kind = None
    _unknown_keys(f, kind)

    name = f.get("name", str)
    if name is None and "name" not in raw:
        name = path.stem
        if not _NAME.match(name):
            f.error("name", f"missing, and the file name {name!r} is not a valid rule name")
    elif name is not None and not _NAME.match(name):
        f.error("name", "use lowercase letters, digits, - and _ (at most 63), starting with one")
    fields: dict[str, Any] = {
        "name": name or path.stem,
        "source": str(path),
        "description": f.get("description", str, ""),
        "match": _match(f),
        "undecided": _undecided(f),
    }
    if kind is not None:
        fields["kind"] = kind
        fields.update(_KIND_PARSERS[kind](f))
        fields["examples"] = _examples(f, kind)
    if f.errors or kind is None:
        return None, f.errors
    return Rule(**fields), []


def _unknown_keys(f: _Fields, kind: str | None) -> None:
    allowed = COMMON | (BY_KIND[kind] if kind else set().union(*BY_KIND.values()))
    for key in f.raw:
        if key in allowed:
            continue
        owners = [k for k, keys in BY_KIND.items() if key in keys]
        if kind and owners:
            f.error(key, f"not a key of a {kind} rule (it belongs to {', '.join(owners)} rules)")
        else:
            known = ", ".join(sorted(allowed))
            f.error(key, f"unknown key{f' for a {kind} rule' if kind else ''} (known: {known})")


def _match(f: _Fields) -> tuple[str, ...]:
    match = f.get("match", (str, list), ["**"])
    match = [match] if isinstance(match, str) else match
    if not match or not all(isinstance(m, str) and m for m in match):
        f.error("match", 'expected a glob or a list of globs, such as "controls/**"')
        return ("**",)
    for pattern in match:
        # Paths are relative to the watched folder: these globs could never select a photo.
        if pattern.startswith("/") or ".." in pattern.split("/") or "\\" in pattern:
            f.error("match", f"{pattern!r}: use a path relative to the watched folder, with /")
    return tuple(match)


def _undecided(f: _Fields) -> str:
    undecided = f.get("undecided", str, "review")
    if undecided not in ("review", "fail"):
        # Never pass: what cannot be read with confidence is not a pass.
        f.error("undecided", f'must be "review" or "fail", not {undecided!r}')
        return "review"
    return str(undecided)


def _engine(f: _Fields, kind: str) -> str:
    engine = f.get("engine", str, "auto")
    if engine not in ("auto", "ollama", "ocr", "both"):
        f.error("engine", f"must be auto, ollama, ocr or both, not {engine!r}")
        return "auto"
    if kind == "presence" and engine in ("ocr", "both"):
        f.error("engine", "OCR cannot judge presence: use auto or ollama")
        return "auto"
    return str(engine)


def _question(f: _Fields) -> str:
    question = f.get("question", str, "")
    if not question.strip():
        f.error("question", "missing: what the model should be asked about the photo")
    return str(question)


def _text_fields(f: _Fields) -> dict[str, Any]:
    answer = f.get("answer", str, ".+")
    try:
        re.compile(answer)
    except re.error as exc:
        f.error("answer", f"not a valid regular expression: {exc}")
        answer = ".+"
    expect = f.get("expect", str, "")
    if expect and not re.fullmatch(r"request\.expect\.[A-Za-z0-9_-]+", expect):
        f.error("expect", f'must look like "request.expect.code" (or be left out), not {expect!r}')
    normalize = f.get("normalize", list, [])
    for step in normalize:
        if not isinstance(step, str) or step not in STEPS:
            f.error("normalize", f"unknown step {step!r} (known: {', '.join(STEPS)})")
    tolerance = f.get("tolerance", int, 0)
    if not 0 <= tolerance <= MAX_TOLERANCE:
        f.error("tolerance", f"must be between 0 and {MAX_TOLERANCE} (edits allowed)")
    writing = f.get("writing", str, "handwriting")
    if writing not in WRITING:
        f.error("writing", f"must be one of {', '.join(WRITING)}, not {writing!r}")
        writing = "handwriting"
    return {
        "question": _question(f),
        "answer": answer,
        "expect": expect,
        "normalize": tuple(step for step in normalize if isinstance(step, str) and step in STEPS),
        "tolerance": tolerance,
        "engine": _engine(f, "text"),
        "writing": writing,
    }


def _presence_fields(f: _Fields) -> dict[str, Any]:
    expect = f.get("expect", str, "yes")
    if expect not in ("yes", "no"):
        f.error("expect", f'must be "yes" or "no", not {expect!r}')
    return {
        "question": _question(f),
        "expect_present": expect != "no",
        "engine": _engine(f, "presence"),
    }


def _duration(f: _Fields, key: str) -> float | None:
    raw = f.get(key, str)
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        f.error(key, str(exc))
        return None


def _metadata_fields(f: _Fields) -> dict[str, Any]:
    max_age = _duration(f, "max_age")
    if max_age is not None and max_age <= 0:
        f.error("max_age", "must be longer than 0")
    fields: dict[str, Any] = {
        "max_age": max_age,
        "require_camera": f.get("require_camera", bool, False),
        "min_width": f.get("min_width", int, 0),
        "min_height": f.get("min_height", int, 0),
    }
    for key in ("min_width", "min_height"):
        if fields[key] < 0:
            f.error(key, "must be 0 or more pixels")
    skew = _duration(f, "clock_skew")
    if skew is not None:
        fields["clock_skew"] = skew
        if "max_age" not in f.raw:
            f.error("clock_skew", "only matters with max_age (the freshness window)")
    checks = ("max_age", "require_camera", "min_width", "min_height")
    if not any(f.raw.get(key) for key in checks):
        f.error("kind", "a metadata rule needs max_age, require_camera, min_width or min_height")
    return fields


def _reference_fields(f: _Fields) -> dict[str, Any]:
    folder = f.get("references", str, "")
    if not folder:
        f.error("references", "missing: the folder of reference photos, one subfolder per object")
    elif folder.startswith("/") or ".." in folder.split("/") or "\\" in folder:
        f.error("references", f"{folder!r}: use a path inside the rules folder, with /")
    expect = f.get("expect", str, "")
    if not re.fullmatch(r"request\.expect\.[A-Za-z0-9_-]+", expect):
        f.error("expect", f'must look like "request.expect.device", not {expect!r}')
    engine = f.get("engine", str, "auto")
    if engine not in ("auto", "cpu", "ollama", "both"):
        f.error("engine", f"must be auto, cpu, ollama or both, not {engine!r}")
        engine = "auto"
    fields: dict[str, Any] = {"references": folder, "expect": expect, "engine": engine}
    for key, default in (("min_score", Rule.min_score), ("margin", Rule.margin)):
        fields[key] = f.get(key, int, default)
        if fields[key] < 1:
            f.error(key, "must be 1 or more matching points")
    return fields


def _duplicate_fields(f: _Fields) -> dict[str, Any]:
    distance = f.get("max_distance", int, 6)
    if not 0 <= distance <= 32:
        f.error("max_distance", "must be between 0 and 32 (bits of a 64-bit hash)")
    return {"max_distance": distance}


_KIND_PARSERS: dict[str, Callable[[_Fields], dict[str, Any]]] = {
    "text": _text_fields,
    "presence": _presence_fields,
    "metadata": _metadata_fields,
    "duplicate": _duplicate_fields,
    "reference": _reference_fields,
}


def _examples(f: _Fields, kind: str) -> tuple[Example, ...]:
    raw = f.get("examples", list, [])
    examples = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            f.example_error(index, "", "expected a table: [[examples]] with photo and status")
            continue
        example = _example(f, index, item, kind)
        if example is not None:
            examples.append(example)
    return tuple(examples)


def _example(f: _Fields, index: int, item: dict[str, Any], kind: str) -> Example | None:
    before = len(f.errors)
    for key in sorted(set(item) - EXAMPLE_KEYS):
        f.example_error(index, key, f"unknown key (known: {', '.join(sorted(EXAMPLE_KEYS))})")
    photo = item.get("photo")
    if not isinstance(photo, str) or not photo:
        f.example_error(index, "photo", "missing: the photo's path, relative to this file")
    status = item.get("status")
    if status not in STATUSES:
        f.example_error(
            index, "status", f"must be one of {', '.join(STATUSES)}, not {_show(status)}"
        )
    request = item.get("request", {})
    if not isinstance(request, dict):
        f.example_error(index, "request", "expected a table, like the request JSON")
        request = {}
    elif "rules" in request:
        f.example_error(index, "request", "leave out rules: an example runs its own rule only")
    else:
        try:
            parse_request(request)
        except RequestError as exc:
            f.example_error(index, "request", str(exc))
    earlier = item.get("earlier", [])
    if not isinstance(earlier, list) or not all(isinstance(p, str) and p for p in earlier):
        f.example_error(index, "earlier", "expected a list of photo paths")
        earlier = []
    elif earlier and kind != "duplicate":
        f.example_error(index, "earlier", "only duplicate rules look at earlier photos")
    if len(f.errors) > before:
        return None
    line = f.lines.of_example(index, "")
    assert isinstance(photo, str) and status in STATUSES
    return Example(photo, status, request, tuple(earlier), line)


# -- a folder of rule files


def read_rule_file(path: Path) -> tuple[Rule | None, list[SourceError], bytes]:
    """One rule file: its rule (None when broken), its problems, its bytes (for the digest)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [SourceError(path, f"cannot read: {exc.strerror}", 1, "")], b""
    try:
        raw, text = parse(path, data)
    except SourceError as exc:
        return None, [exc], data
    rule, errors = parse_rule(path, raw, text)
    return rule, errors, data


def check_rules(folder: Path, examples: bool = False, strip: bool = False) -> CheckedRules:
    """Every *.toml in `folder` (sorted), checked; with `examples`, their photos must exist.
    `strip`: reference photos are stripped in place (the daemon), not only checked."""
    if not folder.is_dir():
        error = SourceError(folder, "the rules folder does not exist or is not a folder")
        return CheckedRules(folder, (), (), (error,), "")
    files = tuple(sorted(folder.glob("*.toml")))
    rules: list[Rule] = []
    errors: list[SourceError] = []
    digest = hashlib.sha256()
    names: dict[str, Path] = {}
    keys: dict[str, Rule] = {}
    references: dict[str, reference_photos.References] = {}
    for path in files:
        rule, problems, data = read_rule_file(path)
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        errors += sorted(problems, key=lambda error: error.line or 0)
        if rule is None:
            continue
        line = _Lines(data.decode()).of("name")
        if rule.name in names:
            errors.append(
                SourceError(path, f"the name is already used by {names[rule.name]}", line, "name")
            )
            continue
        other = keys.get(rule.question_key)
        if rule.asks_model and other is not None:
            # Both would ask the model under one JSON field.
            message = f"too close to {other.name!r} ({other.source}): both answer as "
            errors.append(SourceError(path, message + rule.question_key, line, "name"))
            continue
        if examples:
            errors += _missing_photos(path, rule, _Lines(data.decode()))
        if rule.kind == "reference":
            line = _Lines(data.decode()).of("references")
            loaded = reference_photos.load_references(path, rule.references, line, strip)
            errors += loaded.errors
            digest.update(loaded.digest)
            if loaded.references is None or loaded.errors:
                continue
            if rule.asks_model and loaded.references.sheet is None:
                many = f"a vision model is shown at most {MAX_OBJECTS} objects"
                errors.append(SourceError(path, many, line, "references"))
                continue
            references[rule.name] = loaded.references
        names[rule.name] = path
        if rule.asks_model:
            keys[rule.question_key] = rule
        rules.append(rule)
    return CheckedRules(
        folder, files, tuple(rules), tuple(errors), digest.hexdigest()[:16], references
    )


def _missing_photos(path: Path, rule: Rule, lines: _Lines) -> list[SourceError]:
    errors = []
    for index, example in enumerate(rule.examples):
        for key, photo in [("photo", example.photo)] + [("earlier", p) for p in example.earlier]:
            if not (path.parent / photo).is_file():
                line = lines.of_example(index, key)
                where = f"examples[{index + 1}].{key}"
                errors.append(SourceError(path, f"no such photo: {photo}", line, where))
    return errors


def load_rules(folder: Path) -> RuleSet:
    """The rules the daemon runs; raises every problem (SourceErrors) when any file is broken."""
    checked = check_rules(folder, strip=True)
    raise_any(checked.errors)
    return RuleSet(checked.rules, checked.digest, checked.references)


# -- the tracker's request
