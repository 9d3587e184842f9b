"""`proofwatch rules ...`: check, new, test.

`check` validates every rule file like a compiler (every problem, each with file, line and
key); `new` writes a commented starter rule; `test` runs each rule's example photos through
the daemon's own pipeline and compares the verdict status with the one the example expects.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from ..contract.request import parse_request
from ..rules.loader import (
    CheckedRules,
    RuleSet,
    check_rules,
    read_rule_file,
    valid_name,
)
from ..rules.model import Example, Rule
from ..units import format_duration
from .common import (
    EXIT_NOT_PASS as EXIT_PROBLEMS,
)
from .common import (
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    add_config_flags,
    resolve_config,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..engines import EngineSet
    from ..state import StateStore


def register(commands: Subcommands) -> None:
    """Add the `rules` command group to the top-level subparsers."""

    rules: argparse.ArgumentParser = commands.add_parser(
        "rules",
        help="check, create and test rule files",
        description="Rule files (one rule per *.toml file in the rules folder) say what each "
        "photo is checked for. See rules/README.md for the language.",
    )
    rules.set_defaults(handler=_usage, parser=rules)
    actions = rules.add_subparsers(dest="action", metavar="ACTION")

    check = actions.add_parser(
        "check",
        help="validate every rule file; exit 1 on any problem",
        description="Read every *.toml in DIR as the daemon would and print every problem as "
        "FILE:LINE: KEY: MESSAGE (unknown keys are problems: a typo must not switch a check "
        "off), or the rules found. Example photos must exist. Exit 0 when all is well, 1 "
        "otherwise.",
    )
    check.add_argument("dir", nargs="?", type=Path, metavar="DIR", help=_DIR_HELP)
    add_config_flags(check)
    check.set_defaults(handler=cmd_check)

    new = actions.add_parser(
        "new",
        help="write a commented starter rule",
        description="Write DIR/NAME.toml, a starter rule of KIND with every key commented, "
        "ready for `proofwatch rules check`. Never overwrites a file.",
    )
    # A reference rule needs its photos first: see rules/README.md, no starter.
    new.add_argument("kind", choices=tuple(_STARTERS), metavar="KIND", help=" | ".join(_STARTERS))
    new.add_argument("name", metavar="NAME", help="the rule's name: lowercase, digits, - and _")
    new.add_argument("--dir", type=Path, metavar="DIR", help=_DIR_HELP)
    add_config_flags(new)
    new.set_defaults(handler=cmd_new)

    test = actions.add_parser(
        "test",
        help="run the rules' example photos and compare their verdicts",
        description="Each rule file may list [[examples]]: a photo (relative to the rule "
        "file), the request it comes with and the status its verdict must get. This runs "
        "each through the daemon's pipeline, restricted to that rule, with the configured "
        "engine (auto: Ollama when reachable, else OCR for text rules; rules no engine can "
        "answer are skipped). Photos are not modified. Exit 1 on any mismatch.",
    )
    test.add_argument("dir", nargs="?", type=Path, metavar="DIR", help=_DIR_HELP)
    test.add_argument("--rule", action="append", metavar="NAME", help="only this rule (repeatable)")
    add_config_flags(test)
    test.set_defaults(handler=cmd_test)


_DIR_HELP = "the rules folder (default: the configured one, from --rules or --config)"


def _usage(args: argparse.Namespace) -> int:
    args.parser.print_help()
    return EXIT_USAGE


def _config(args: argparse.Namespace) -> Config:

    return resolve_config(args)


# -- check


def cmd_check(args: argparse.Namespace) -> int:
    folder: Path = args.dir or _config(args).rules
    checked = check_rules(folder, examples=True)
    _print_problems(checked)
    if checked.errors:
        return EXIT_PROBLEMS
    if not checked.rules:
        print(f"{folder}: no rule files (*.toml): every photo would get review")
        return EXIT_PROBLEMS
    for rule in checked.rules:
        print(f"{rule.source}: {rule.name}: {describe(rule)}")
    print(f"{len(checked.rules)} rule(s) OK in {folder} (digest {checked.digest})")
    return EXIT_OK


def _print_problems(checked: CheckedRules) -> None:
    for error in checked.errors:
        print(error)
    if checked.errors:
        broken = len({error.path for error in checked.errors})
        print(
            f"{len(checked.errors)} problem(s) in {broken} of {len(checked.files)} file(s) "
            f"in {checked.folder}; the daemon refuses these rules (a running one keeps its "
            "last good rules)"
        )


def describe(rule: Rule) -> str:
    """One line saying what a rule checks."""
    parts: list[str] = [rule.kind]
    if rule.kind == "text":
        compared = f"compared with {rule.expect}" if rule.expect else "extract only"
        tolerance = f", tolerance {rule.tolerance}" if rule.tolerance else ""
        parts.append(f"answer {rule.answer}, {compared}{tolerance}")
    elif rule.kind == "presence":
        parts.append(f"expects {'yes' if rule.expect_present else 'no'}")
    elif rule.kind == "metadata":
        if rule.max_age is not None:
            window = format_duration(rule.max_age)
            skew = format_duration(rule.clock_skew)
            parts.append(f"taken within {window} after issued_at (clock skew {skew})")
        if rule.require_camera:
            parts.append("by a camera")
        if rule.min_width or rule.min_height:
            parts.append(f"at least {rule.min_width}x{rule.min_height}")
    elif rule.kind == "reference":
        judged = {"ollama": "the vision model", "both": "the CPU matcher and the vision model"}
        by = judged.get(rule.engine, "the CPU matcher")
        parts.append(f"objects in {rule.references}, compared with {rule.expect}, by {by}")
    else:
        parts.append(f"max distance {rule.max_distance}")
    if rule.asks_model:
        parts.append(f"engine {rule.engine}")
    parts.append(f"match {' '.join(rule.match)}")
    if rule.examples:
        parts.append(f"{len(rule.examples)} example(s)")
    return ", ".join(parts)


# -- new


_COMMON_HEAD: list[tuple[str, str]] = [
    ("name", "The rule's name: requests name it in `rules`, verdicts report it."),
    ("description", "What the rule checks, in words for the people reading verdicts."),
    ("kind", "text | presence | metadata | duplicate. The kind decides the other keys."),
    (
        "match",
        "Which photos, by path inside the watched folder: ** spans folders, * and ? stay in "
        'one. A request that lists "rules" runs exactly those instead.',
    ),
]
_UNDECIDED = (
    "undecided",
    "What an answer that cannot be decided gets: review (a person looks) or fail. Never pass.",
)
_ENGINE = (
    "engine",
    "auto: Ollama when reachable, else OCR for text rules; ollama; ocr; both (both must "
    "agree to pass).",
)
_STARTERS: dict[str, tuple[dict[str, Any], list[tuple[str, str]], str]] = {
    "text": (
        {
            "description": "The 5-digit code, handwritten on paper",
            "question": "Transcribe the number handwritten on the paper, exactly as written. "
            "If no number is written, answer an empty string.",
            "answer": "^[0-9]{5}$",
            "expect": "request.expect.code",
            "normalize": ["digits", "strip-spaces", "strip-dashes"],
            "tolerance": 0,
            "writing": "handwriting",
            "engine": "auto",
            "undecided": "review",
        },
        [
            (
                "question",
                "What the model is asked. Ask what is written, never whether it is right: "
                "the expected value is never sent to the model; proofwatch compares.",
            ),
            (
                "answer",
                "The shape of a valid answer: a regular expression the whole normalised "
                "answer must match. Anything else (or nothing legible) goes to review.",
            ),
            (
                "expect",
                "Where the expected value comes from: request.expect.<key> in the request "
                "JSON. Leave it out to only report what was read.",
            ),
            (
                "normalize",
                "Applied to the answer and the expected value before comparing: digits "
                "(O->0, I/l->1, S->5, B->8, Z->2), strip-spaces, strip-dashes, upper, lower.",
            ),
            ("tolerance", "How many characters may differ (edit distance, 0 to 3) and pass."),
            (
                "writing",
                "handwriting or print. The embedded OCR fails a handwritten code only when "
                "two of its three readers read the same other code surely, and looks harder "
                "for it; print (a seal's number) is judged on PP-OCR alone.",
            ),
            _ENGINE,
            _UNDECIDED,
        ],
        'request = { expect = { code = "48213" } }',
    ),
    "presence": (
        {
            "description": "The device is visible in the photo",
            "question": "Is the device clearly visible in this photo?",
            "expect": "yes",
            "engine": "auto",
            "undecided": "review",
        },
        [
            (
                "question",
                "A yes/no question about what is visible; the model answers yes, no or "
                "unsure (unsure gets `undecided`). Needs a vision model: OCR cannot judge it.",
            ),
            ("expect", 'The answer that passes: "yes" or "no"; the other one fails.'),
            ("engine", "auto or ollama (presence needs a vision model)."),
            _UNDECIDED,
        ],
        "request = {}",
    ),
    "metadata": (
        {
            "description": "Taken by a camera after the request, within 4 hours",
            "max_age": "4h",
            "clock_skew": "2m",
            "require_camera": True,
            "min_width": 0,
            "min_height": 0,
            "undecided": "review",
        },
        [
            (
                "max_age",
                "The photo must be taken after the request's issued_at and at most this "
                "long after it. No issued_at, or no capture time: `undecided`.",
            ),
            (
                "clock_skew",
                "Slack for the camera's clock, both ways. A capture time without offset is "
                "read in this machine's time zone.",
            ),
            (
                "require_camera",
                "Fail when no camera make or model was recorded (a screenshot or an export).",
            ),
            ("min_width", "Minimum width in pixels (0: no minimum)."),
            ("min_height", "Minimum height in pixels (0: no minimum)."),
            _UNDECIDED,
        ],
        'request = { issued_at = "2026-11-22T10:00:00+01:00" }',
    ),
    "duplicate": (
        {
            "description": "Not a photo submitted before",
            "max_distance": 6,
            "undecided": "review",
        },
        [
            (
                "max_distance",
                "A photo this close (bits of 64 differing in the perceptual hash, 0 to 32) "
                "to any earlier photo in the daemon's history fails as reused.",
            ),
            _UNDECIDED,
        ],
        'earlier = ["examples/first.jpg"]',
    ),
}


def starter(kind: str, name: str) -> str:
    """A commented starter rule of `kind`; it passes `rules check` as it is."""
    values, documented, example_line = _STARTERS[kind]
    values = {"name": name, "kind": kind, "match": ["**"], **values}
    lines = [
        f"# {name}: a {kind} rule for proofwatch. Every key is described in rules/README.md.",
        "# Check with `proofwatch rules check`, try the examples with `proofwatch rules test`.",
        "# A running daemon reloads this folder on every change (a broken edit keeps the",
        "# last good rules, and the log says which file and line).",
    ]
    for key, comment in _COMMON_HEAD + documented:
        lines.append("")
        lines += [f"# {part}" for part in _wrap(comment)]
        lines.append(tomli_w.dumps({key: values[key]}).rstrip("\n"))
    status = "fail" if kind == "duplicate" else "pass"
    lines += [
        "",
        "# Example photos for `proofwatch rules test`: the photo (relative to this file), the",
        "# request it comes with (like the request JSON) and the status its verdict must get.",
        "# [[examples]]",
        '# photo = "examples/my-photo.jpg"',
        f'# status = "{status}"',
        f"# {example_line}",
    ]
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 88) -> list[str]:
    out: list[str] = []
    for word in text.split():
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def cmd_new(args: argparse.Namespace) -> int:
    folder: Path = args.dir or _config(args).rules
    name: str = args.name
    if not valid_name(name):
        print(f"proofwatch: {name!r}: use lowercase letters, digits, - and _", file=sys.stderr)
        return EXIT_USAGE
    path = folder / f"{name}.toml"
    taken = {rule.name: rule.source for rule in check_rules(folder).rules}
    if path.exists() or name in taken:
        where = path if path.exists() else taken[name]
        print(f"proofwatch: {where} already exists; not overwritten", file=sys.stderr)
        return EXIT_PROBLEMS
    text = starter(args.kind, name)
    # Written whole under a temp name, then linked in (never replacing a file): a running
    # daemon never reads half a rule.
    temp = folder / f".{name}.toml.new-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.link(temp, path)
    except FileExistsError:
        print(f"proofwatch: {path} already exists; not overwritten", file=sys.stderr)
        return EXIT_PROBLEMS
    except OSError as exc:
        print(f"proofwatch: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    rule, errors, _ = read_rule_file(path)
    for error in errors:  # a starter that does not check would be a bug: say so loudly
        print(error, file=sys.stderr)
    print(f"wrote {path}: edit it, then run `proofwatch rules check {folder}`")
    return EXIT_OK if rule is not None else EXIT_PROBLEMS


# -- test


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One example's result: ok, failed or skipped, and what to tell the operator."""

    rule: Rule
    example: Example
    result: str  # ok | FAILED | skipped
    message: str

    def line(self) -> str:
        return (
            f"{self.rule.source}:{self.example.line or 1}: {self.rule.name}: "
            f"{self.example.photo}: {self.result}: {self.message}"
        )


def cmd_test(args: argparse.Namespace) -> int:
    from ..engines import EngineSet
    from ..service.logs import setup_logging

    config = _config(args)
    folder: Path = args.dir or config.rules
    setup_logging(config.log_level if args.log_level else "warning")
    checked = check_rules(folder, examples=True)
    _print_problems(checked)
    if checked.errors:
        return EXIT_PROBLEMS
    chosen = list(checked.rules)
    if args.rule:
        unknown = sorted(set(args.rule) - {rule.name for rule in chosen})
        if unknown:
            print(f"proofwatch: no rule named {', '.join(unknown)} in {folder}", file=sys.stderr)
            return EXIT_USAGE
        chosen = [rule for rule in chosen if rule.name in args.rule]
    if not any(rule.examples for rule in chosen):
        print(f"{folder}: no [[examples]] to run")
        return EXIT_OK
    config = config.with_overrides(watch=folder.absolute(), rules=folder)
    engines = EngineSet(config)
    try:
        engines.check_ollama()
        if engines.mode == "ollama" and engines.ollama_problem():
            print(f"proofwatch: Ollama is not usable: {engines.ollama_problem()}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{folder}: {_engine_line(engines)}")
        rules = RuleSet(checked.rules, checked.digest, checked.references)
        outcomes = []
        for rule in chosen:
            for example in rule.examples:
                outcome = run_example(config, rules, engines, rule, example)
                print(outcome.line(), flush=True)
                outcomes.append(outcome)
    finally:
        engines.close()
    counts = {kind: sum(o.result == kind for o in outcomes) for kind in ("ok", "FAILED", "skipped")}
    print(
        f"{len(outcomes)} example(s): {counts['ok']} ok, {counts['FAILED']} failed, "
        f"{counts['skipped']} skipped"
    )
    return EXIT_PROBLEMS if counts["FAILED"] else EXIT_OK


def _engine_line(engines: EngineSet) -> str:
    engine, state = engines.describe()
    ready = engines.availability().ollama_ready
    skipped = "" if ready else " (presence rules are skipped: no vision model to judge them)"
    return f"engine {engine}: {state}{skipped}"


def run_example(
    config: Config, rules: RuleSet, engines: EngineSet, rule: Rule, example: Example
) -> Outcome:
    """One example through the daemon's pipeline, restricted to its rule; nothing modified."""
    from ..pipeline.plan import choose
    from ..pipeline.process import Pipeline
    from ..pipeline.setup import Options, Setup
    from ..state import StateStore

    if rule.asks_model:
        _, why = choose(rule, engines.availability())
        if why:
            return Outcome(rule, example, "skipped", why)
    base = Path(rule.source).parent
    request = dataclasses.replace(parse_request(example.request), rules=(rule.name,))
    options = Options(modify=False, wait_for_request=False, record=False)
    with contextlib.ExitStack() as stack:
        state = None
        if example.earlier:
            # A history of its own, holding only the photos the example says came before.
            history = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="proofwatch-")))
            state = StateStore(history / "state.sqlite3")
            stack.callback(state.close)
            problem = _seed_history(config, engines, state, history, base, example.earlier)
            if problem:
                return Outcome(rule, example, "FAILED", problem)
        pipeline = Pipeline(Setup.from_config(config, rules, engines), state)
        verdict = pipeline.process((base / example.photo).absolute(), options, request)
    result = next((r for r in verdict.rules if r.rule == rule.name), None)
    said = verdict.reason if result is None else f"{result.engine or 'proofwatch'}: {result.detail}"
    if verdict.status == example.status:
        return Outcome(rule, example, "ok", f"{verdict.status} ({said})")
    return Outcome(
        rule, example, "FAILED", f"got {verdict.status}, expected {example.status} ({said})"
    )


def _seed_history(
    config: Config,
    engines: EngineSet,
    state: StateStore,
    history: Path,
    base: Path,
    earlier: Sequence[str],
) -> str | None:
    """Record the earlier photos as the daemon would; a problem message if one is unusable."""
    from ..pipeline.process import Pipeline
    from ..pipeline.setup import Options, Setup
    from ..vocabulary import Request

    history_config = config.with_overrides(watch=history)
    seeding = Pipeline(Setup.from_config(history_config, RuleSet((), ""), engines), state)
    options = Options(modify=False, wait_for_request=False, record=True)
    for photo in earlier:
        # Recorded as "(earlier)/PHOTO": the same photo may also be the example itself.
        parts = [part if part != ".." else "up" for part in Path(photo).parts if part != "/"]
        copy = history / "(earlier)" / Path(*parts)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / photo, copy)
        verdict = seeding.process(copy, options, Request(rules=()))
        if verdict.status in ("rejected", "error"):
            return f"earlier photo {photo} is unusable: {verdict.reason}"
    return None
