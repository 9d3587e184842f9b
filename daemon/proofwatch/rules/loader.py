"""Reading rule files: one rule per TOML file, checked like a compiler would.

Every key is known per kind; an unknown key is an error (a typo must never silently turn a
check off), and every error names the file, the line and the key.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..status import STATUSES
from ..tomlsource import SourceError, locate, read_toml
from ..units import parse_duration
from .model import Example, Request, Rule
from .normalize import STEPS

COMMON = {"name", "description", "kind", "match", "engine", "undecided", "examples"}
BY_KIND = {
    "text": {"question", "answer", "expect", "normalize", "tolerance"},
    "presence": {"question", "expect"},
    "metadata": {"max_age", "clock_skew", "require_camera", "min_width", "min_height"},
    "duplicate": {"max_distance"},
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    digest: str  # of every rule file's bytes: verdicts say which rules decided them

    def by_name(self) -> dict[str, Rule]:
        return {rule.name: rule for rule in self.rules}


class _Fields:
    """Typed access to one rule file's keys, with errors that point at the line."""

    def __init__(self, path: Path, text: str, raw: dict[str, Any]):
        self.path, self.text, self.raw = path, text, raw

    def error(self, key: str, message: str) -> SourceError:
        return SourceError(self.path, message, locate(self.text, (), key), key)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
        if key not in self.raw:
            return default
        value = self.raw[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.error(key, f"expected {_plain_type(names)}, got {value!r}")
        return value


def _plain_type(names: str) -> str:
    return (
        names.replace("str", "a string")
        .replace("int", "a whole number")
        .replace("bool", "true or false")
        .replace("list", "a list")
    )


def parse_rule(path: Path, raw: dict[str, Any], text: str) -> Rule:
    f = _Fields(path, text, raw)
    get, error = f.get, f.error
    kind = get("kind", str)
    if kind is None:
        raise SourceError(path, "missing; one of text, presence, metadata, duplicate", key="kind")
    if kind not in BY_KIND:
        raise error("kind", f"must be one of text, presence, metadata, duplicate, not {kind!r}")
    allowed = COMMON | BY_KIND[kind]
    for key in raw:
        if key not in allowed:
            raise error(key, f"unknown key for a {kind} rule (known: {', '.join(sorted(allowed))})")
    name = get("name", str, path.stem)
    if not _NAME.match(name):
        raise error("name", "use lowercase letters, digits, - and _ (at most 63)")
    match = get("match", (str, list), ["**"])
    match = [match] if isinstance(match, str) else match
    if not match or not all(isinstance(m, str) and m for m in match):
        raise error("match", 'expected a glob or a list of globs, such as "controls/**"')
    engine = get("engine", str, "auto")
    if engine not in ("auto", "ollama", "ocr", "both"):
        raise error("engine", f"must be auto, ollama, ocr or both, not {engine!r}")
    if kind == "presence" and engine in ("ocr", "both"):
        raise error("engine", "OCR cannot judge presence: use auto or ollama")
    undecided = get("undecided", str, "review")
    if undecided not in ("review", "fail"):
        raise error("undecided", f"must be review or fail, not {undecided!r}")
    fields: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "source": str(path),
        "description": get("description", str, ""),
        "match": tuple(match),
        "engine": engine,
        "undecided": undecided,
        "examples": _examples(f),
    }
    fields.update(_KIND_PARSERS[kind](f))
    return Rule(**fields)


def _question(f: _Fields) -> str:
    question = f.get("question", str, "")
    if not question.strip():
        raise f.error("question", "missing: what the model should be asked about the photo")
    return str(question)


def _text_fields(f: _Fields) -> dict[str, Any]:
    answer = f.get("answer", str, ".+")
    try:
        re.compile(answer)
    except re.error as exc:
        raise f.error("answer", f"not a valid regular expression: {exc}") from None
    expect = f.get("expect", str, "")
    if expect and not re.fullmatch(r"request\.expect\.[A-Za-z0-9_-]+", expect):
        raise f.error("expect", 'must look like "request.expect.code" (or be left out)')
    normalize = f.get("normalize", list, [])
    for step in normalize:
        if step not in STEPS:
            raise f.error("normalize", f"unknown step {step!r} (known: {', '.join(STEPS)})")
    tolerance = f.get("tolerance", int, 0)
    if tolerance < 0:
        raise f.error("tolerance", "must be 0 or more")
    return {
        "question": _question(f),
        "answer": answer,
        "expect": expect,
        "normalize": tuple(normalize),
        "tolerance": tolerance,
    }


def _presence_fields(f: _Fields) -> dict[str, Any]:
    expect = f.get("expect", str, "yes")
    if expect not in ("yes", "no"):
        raise f.error("expect", f'must be "yes" or "no", not {expect!r}')
    return {"question": _question(f), "expect_present": expect == "yes"}


def _duration(f: _Fields, key: str) -> Any:
    raw = f.get(key, str)
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise f.error(key, str(exc)) from None


def _metadata_fields(f: _Fields) -> dict[str, Any]:
    fields = {
        "max_age": _duration(f, "max_age"),
        "require_camera": f.get("require_camera", bool, False),
        "min_width": f.get("min_width", int, 0),
        "min_height": f.get("min_height", int, 0),
    }
    skew = _duration(f, "clock_skew")
    if skew is not None:
        fields["clock_skew"] = skew
    if not (
        fields["max_age"] or fields["require_camera"] or fields["min_width"] or fields["min_height"]
    ):
        raise f.error(
            "kind", "a metadata rule needs max_age, require_camera, min_width or min_height"
        )
    return fields


def _duplicate_fields(f: _Fields) -> dict[str, Any]:
    distance = f.get("max_distance", int, 6)
    if not 0 <= distance <= 32:
        raise f.error("max_distance", "must be between 0 and 32 (bits of a 64-bit hash)")
    return {"max_distance": distance}


_KIND_PARSERS = {
    "text": _text_fields,
    "presence": _presence_fields,
    "metadata": _metadata_fields,
    "duplicate": _duplicate_fields,
}


def _examples(f: _Fields) -> tuple[Example, ...]:
    raw = f.get("examples", list, [])
    examples = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("photo"), str):
            raise f.error("examples", 'each example needs photo = "path" and status = "..."')
        if item.get("status") not in STATUSES:
            raise f.error("examples", f"status must be one of {', '.join(STATUSES)}")
        unknown = set(item) - {"photo", "status", "request"}
        if unknown:
            raise f.error("examples", f"unknown key(s) {', '.join(sorted(unknown))} in an example")
        request = item.get("request", {})
        if not isinstance(request, dict):
            raise f.error("examples", "request must be a table, like the request JSON")
        examples.append(Example(item["photo"], item["status"], request))
    return tuple(examples)


def load_rules(folder: Path) -> RuleSet:
    """Every *.toml in `folder` (sorted); raises SourceError on the first bad file."""
    if not folder.is_dir():
        raise SourceError(folder, "the rules folder does not exist")
    rules: list[Rule] = []
    digest = hashlib.sha256()
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        raw, text = read_toml(path)
        rule = parse_rule(path, raw, text)
        if rule.name in seen:
            raise SourceError(path, f"the name is already used by {seen[rule.name]}", key="name")
        seen[rule.name] = path
        rules.append(rule)
        digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
    return RuleSet(tuple(rules), digest.hexdigest()[:16])


class RequestError(ValueError):
    """The request sidecar is not what the contract says; the message is for a person."""


def parse_request(raw: Any) -> Request:
    """The tracker's request JSON (already decoded) as a Request."""
    if not isinstance(raw, dict):
        raise RequestError("the request must be a JSON object")
    unknown = set(raw) - {"id", "rules", "expect", "issued_at"}
    if unknown:
        raise RequestError(f"unknown field(s) in the request: {', '.join(sorted(unknown))}")
    ident = raw.get("id")
    if ident is not None and not isinstance(ident, str | int):
        raise RequestError("id must be a string")
    rules = raw.get("rules")
    if rules is not None and not (
        isinstance(rules, list) and all(isinstance(r, str) for r in rules)
    ):
        raise RequestError("rules must be a list of rule names")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict) or not all(isinstance(v, str | int) for v in expect.values()):
        raise RequestError("expect must be an object of strings")
    issued_at = None
    if raw.get("issued_at") is not None:
        try:
            issued_at = datetime.fromisoformat(str(raw["issued_at"]).replace("Z", "+00:00"))
        except ValueError:
            raise RequestError(f"issued_at is not an ISO 8601 time: {raw['issued_at']!r}") from None
    return Request(
        id=None if ident is None else str(ident),
        rules=None if rules is None else tuple(rules),
        expect={str(k): str(v) for k, v in expect.items()},
        issued_at=issued_at,
    )
