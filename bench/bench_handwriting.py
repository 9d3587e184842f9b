"""Accuracy of a reader on realistic proof photos, decided by the shipped rules.

Run standalone (`.venv/bin/python bench/bench_handwriting.py --split tune --n 40`) or
through bench/run.py, which calls `main()`. For each family (mnist: real handwritten digits
on paper; seal: printed seal numbers; samples: the project's generated photos) and each kind
of photo (right, off_by_one, swapped, blank, other_number), it makes the photos with
`proofgen`, passes each through the daemon's own preparation (`engines.image.prepare`, at
the pipeline's size), asks the reader the rule's question and decides with the shipped rule
(`rules/control-code.toml`, `rules/seal-number.toml`) through `decide_text`. It prints the
verdict counts (a right code must never FAIL; a wrong one must never pass), the reader's
time per photo and the misses: what was written, what was read, and which MNIST
digits recur among them (a hand a person would misread too is written into several photos).

The tune split is for working on a reader; `--split report` is for final figures only.
`--split tune-a` and `tune-b` draw the digits from two halves of the tune split: a choice
made on one half can be checked on photos of digits it never saw. `--split test` draws them
from MNIST's own test set, writers that no split holds, for readers that never learnt them
(`--models` of readers trained with `--hands train`; the shipped ones learnt these hands).
A reader is any object with `ask(image, questions) -> {key: Reading}`; `--reader
package.module:factory` names a callable that returns one (default: the embedded OCR).

To weigh a retrained reader, run the same cases twice on one `--cache`: first the shipped
engine with `--outcomes shipped.json`, then `--models DIR` (a `digits.onnx` and
`lines.onnx` from training/) with `--against shipped.json`, which lists the verdicts that
moved. A retrained reader moves some verdicts by chance, both ways.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "daemon")):  # proofgen lives at the repo root (dev only)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from PIL import Image  # noqa: E402
from proofgen.cases import (  # noqa: E402
    FAMILIES,
    KINDS,
    SEEDS,
    Case,
    build_cases,
    case_photo,
    rows_in,
)
from proofgen.mnist import label_of  # noqa: E402

PIPELINE_MAX_SIDE = 1600  # the pipeline decodes to max(ollama, ocr) image sides: 1600 by default
MAX_PIXELS = 100_000_000
RULE_FILES = {
    "mnist": "control-code.toml",
    "samples": "control-code.toml",
    "seal": "seal-number.toml",
}
DEFAULT_READER = "proofwatch.engines.ocr:OcrEngine"


class Reader(Protocol):
    def ask(self, image: Image.Image, questions: Sequence[Any]) -> Mapping[str, Any]: ...


@dataclass
class Outcome:
    case: Case
    status: str  # pass | fail | review (the rule's verdict)
    values: tuple[str, ...]  # what the reader offered
    problem: str | None
    seconds: float  # the reader's time on the prepared image
    note: str  # how the photo was made


def load_reader(spec: str, models: Path | None = None) -> Reader:
    """`package.module:factory` (or a dotted path): the factory's reader, loaded if it can;
    with `models`, the OCR engine's two handwriting readers are read from that folder."""
    module_name, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
    factory: Callable[..., Reader] = getattr(importlib.import_module(module_name), attr)
    if models is None:
        reader = factory()
    else:
        reader = factory(digits_model=models / "digits.onnx", lines_model=models / "lines.onnx")
    load = getattr(reader, "load", None)
    if callable(load):
        load()  # the model's load time is not a photo's time
    return reader


def load_rule(family: str) -> Any:
    """The shipped rule for a family, parsed by the daemon's own loader."""
    from proofwatch.rules.loader import read_rule_file

    rule, errors, _ = read_rule_file(ROOT / "rules" / RULE_FILES[family])
    if rule is None or errors:
        raise SystemExit(f"rules/{RULE_FILES[family]}: {errors}")
    return rule


def _daemon_class(name: str, *modules: str) -> Any:
    """A class of the daemon's, wherever the ongoing refactor has put it."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"{name} is in none of {', '.join(modules)}")


def run_case(reader: Reader, rule: Any, case: Case, photo: tuple[bytes, str]) -> Outcome:
    from proofwatch.engines.image import prepare
    from proofwatch.rules.decide import decide_text

    Question = _daemon_class("Question", "proofwatch.vocabulary", "proofwatch.engines.base")
    Request = _daemon_class("Request", "proofwatch.vocabulary", "proofwatch.rules.model")
    data, note = photo
    image = prepare(data, PIPELINE_MAX_SIDE, MAX_PIXELS)
    question = Question(rule.question_key, "text", rule.question, writing=rule.writing)
    started = time.perf_counter()
    answers = reader.ask(image, [question])
    seconds = time.perf_counter() - started
    reading = answers[rule.question_key]
    request = Request(expect={rule.expect_key: case.expected})
    result = decide_text(rule, request, reading)
    return Outcome(case, result.status, tuple(reading.values), reading.problem, seconds, note)


def forbidden(kind: str) -> str:
    """The verdict a kind of photo must never get: a right code FAILED, a wrong one passed."""
    return "fail" if kind == "right" else "pass"


def _p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank


def table(outcomes: Sequence[Outcome]) -> list[str]:
    rows = [
        "| family | kind | photos | pass | review | FAIL | reader s, median (p90) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for family in FAMILIES:
        for kind in KINDS:
            mine = [o for o in outcomes if o.case.family == family and o.case.kind == kind]
            if not mine:
                continue
            count = {s: sum(o.status == s for o in mine) for s in ("pass", "review", "fail")}
            seconds = [o.seconds for o in mine]
            # What must be zero is bold.
            shown = {
                s: f"**{n}**" if n and s == forbidden(kind) else str(n) for s, n in count.items()
            }
            passes, fails = shown["pass"], shown["fail"]
            rows.append(
                f"| {family} | {kind} | {len(mine)} | {passes}/{len(mine)} | "
                f"{count['review']}/{len(mine)} | {fails}/{len(mine)} | "
                f"{statistics.median(seconds):.2f} ({_p90(seconds):.2f}) |"
            )
    return rows


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    lines = ["", "| family | right codes passed | right codes FAILED | false passes |"]
    lines.append("| --- | --- | --- | --- |")
    for family in FAMILIES:
        right = [o for o in outcomes if o.case.family == family and o.case.kind == "right"]
        wrong = [o for o in outcomes if o.case.family == family and o.case.kind != "right"]
        if not right and not wrong:
            continue
        passed = sum(o.status == "pass" for o in right)
        failed = sum(o.status == "fail" for o in right)
        false = sum(o.status == "pass" for o in wrong)
        lines.append(
            f"| {family} | {passed}/{len(right)} | {failed}/{len(right)} | {false}/{len(wrong)} |"
        )
    return lines


def misses(outcomes: Sequence[Outcome], limit: int) -> list[str]:
    """Right codes not passed, and wrong ones passed: what was written, what was read."""
    bad = [
        o
        for o in outcomes
        if (o.case.kind == "right" and o.status != "pass")
        or (o.case.kind != "right" and o.status == "pass")
    ]
    if not bad:
        return []
    # FAILs of right codes and false passes first: the outcomes that must not happen.
    bad.sort(key=lambda o: o.status != forbidden(o.case.kind))
    listed = bad[: max(limit, 0)]
    if not listed:
        return ["", f"Misses: {len(bad)} (none listed: --misses 0)", *recurring(bad, outcomes)]
    lines = ["", f"Misses ({len(bad)}; first {len(listed)}):", ""]
    for o in listed:
        read = ", ".join(o.values[:6]) or f"(nothing: {o.problem or 'no text'})"
        lines.append(
            f"- {o.status.upper()} {o.case.family} {o.case.kind} seed {o.case.seed}: written "
            f"{o.case.written or '(blank)'}, expected {o.case.expected}, read {read} [{o.note}]"
        )
    return lines + recurring(bad, outcomes)


Verdicts = dict[str, dict[str, Any]]  # "family kind seed" -> status, expected, values


def verdicts(outcomes: Sequence[Outcome]) -> Verdicts:
    """Every case's verdict, as `--outcomes` saves it for a later `--against`."""
    return {
        f"{o.case.family} {o.case.kind} {o.case.seed}": {
            "status": o.status,
            "expected": o.case.expected,
            "values": list(o.values[:4]),
        }
        for o in outcomes
    }


def moved(before: Verdicts, after: Verdicts) -> list[str]:
    """The verdicts that changed between two runs over the same cases: how many moved which
    way, then each move that reaches or leaves a right code FAILED or a false pass."""
    changes = [
        (case, before[case], verdict)
        for case, verdict in after.items()
        if case in before and before[case]["status"] != verdict["status"]
    ]
    common = sum(case in before for case in after)
    ways = Counter(f"{old['status']} -> {new['status']}" for _, old, new in changes)
    lines = ["", f"Verdicts moved against the earlier run: {len(changes)} of {common}"]
    lines += [f"- {way}: {count}" for way, count in sorted(ways.items())]
    for case, old, new in changes:
        if forbidden(case.split()[1]) in (old["status"], new["status"]):
            lines.append(
                f"- {case}: {old['status']} -> {new['status']}, expected {new['expected']}, "
                f"read {', '.join(old['values']) or '-'} -> {', '.join(new['values']) or '-'}"
            )
    return lines


def recurring(bad: Sequence[Outcome], outcomes: Sequence[Outcome]) -> list[str]:
    """The MNIST digits written in more than one missed photo, each with how many of the
    photos that hold it were missed: a split holds 100 of each digit, each drawn into a few
    photos, so one hand a person would misread too (a 9 like a 4) is missed in most of its
    photos; a miss that no digit explains is the reader's own."""
    photos: dict[int, list[int]] = {}
    for o in bad:
        for row in dict.fromkeys(rows_in(o.note)):
            photos.setdefault(row, []).append(o.case.seed)
    repeated = {row: seeds for row, seeds in photos.items() if len(seeds) > 1}
    if not repeated:
        return []
    holding = Counter(row for o in outcomes for row in set(rows_in(o.note)) if row in repeated)
    explained = len(set().union(*repeated.values()))  # the misses (by seed) holding one
    lines = [
        "",
        f"MNIST digits in more than one miss ({explained} of the {len(bad)} misses hold one;"
        " row: missed photos of those holding it, their seeds):",
        "",
    ]
    for row, seeds in sorted(repeated.items(), key=lambda item: (-len(item[1]), item[0])):
        lines.append(
            f"- row {row} (a {label_of(row)}): {len(seeds)} of {holding[row]}, "
            + ", ".join(map(str, seeds))
        )
    return lines


def cached_photo(case: Case, cache: Path | None) -> tuple[bytes, str]:
    """The case's photo and how it was made; generated once per cache folder (a photo
    depends only on its case: family, split, kind, seed)."""
    if cache is None:
        return case_photo(case)
    stem = cache / f"{case.family}-{case.split}-{case.kind}-{case.seed}"
    jpeg, note = stem.with_suffix(".jpg"), stem.with_suffix(".txt")
    if jpeg.exists() and note.exists():
        return jpeg.read_bytes(), note.read_text(encoding="utf-8")
    photo = case_photo(case)
    cache.mkdir(parents=True, exist_ok=True)
    jpeg.write_bytes(photo[0])
    note.write_text(photo[1], encoding="utf-8")
    return photo


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--split",
        choices=tuple(split for split in SEEDS if split != "train"),
        default="tune",
        help="tune-a and tune-b: photos of two halves of the tune digits, for choosing a "
        "rule on one and checking it on digits it never saw; test: MNIST's test-set hands, "
        "which no split holds, for readers that never learnt them (needs --models) "
        "(handwriting only)",
    )
    parser.add_argument("--n", type=int, default=10, help="photos per kind (per family)")
    parser.add_argument(
        "--n-right", type=int, default=None, help="photos of the right code per family (--n)"
    )
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        help="leave out the first N cases of each kind (fresh photos)",
    )
    parser.add_argument(
        "--n-seal", type=int, default=None, help="photos per kind for seals (default: --n)"
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="photos per kind for samples (default: --n)"
    )
    parser.add_argument("--family", choices=FAMILIES, action="append", help="repeatable")
    parser.add_argument("--kind", choices=KINDS, action="append", help="repeatable")
    parser.add_argument("--reader", default=DEFAULT_READER, help="module:factory of a reader")
    parser.add_argument(
        "--models",
        type=Path,
        help="the OCR engine's digits.onnx and lines.onnx from this folder (a retrained pair)",
    )
    parser.add_argument(
        "--outcomes", type=Path, help="save every case's verdict here (JSON), for --against"
    )
    parser.add_argument(
        "--against", type=Path, help="an earlier run's --outcomes: list the verdicts that moved"
    )
    parser.add_argument("--save", type=Path, help="write every photo here as a JPEG")
    parser.add_argument(
        "--cache", type=Path, help="keep generated photos here and reuse them on the next run"
    )
    parser.add_argument("--misses", type=int, default=40, help="misses listed at most")
    if argv is None and __name__ != "__main__":  # `make bench`: the report figures
        photos = str(Path(__file__).parent / "out" / "photos")
        argv = ["--split", "report", "--family", "mnist", "--family", "seal", "--n", "40",
                "--n-right", "200", "--cache", photos]  # fmt: skip
    args = parser.parse_args(argv)
    if args.split == "test" and args.models is None:
        parser.error(
            "--split test draws MNIST's test-set hands, which the shipped readers learnt: "
            "name readers trained without them (--hands train) with --models DIR"
        )

    families = args.family or list(FAMILIES)
    kinds = tuple(args.kind or KINDS)
    counts = {"mnist": args.n, "seal": args.n_seal, "samples": args.n_samples}
    started = time.perf_counter()
    before: Verdicts = json.loads(args.against.read_text()) if args.against else {}
    reader = load_reader(args.reader, args.models)
    load_seconds = time.perf_counter() - started
    outcomes: list[Outcome] = []
    making: list[float] = []
    for family in families:
        rule = load_rule(family)
        per_kind = counts[family] if counts[family] is not None else args.n
        cases = [
            case
            for kind in kinds
            for case in build_cases(
                family,
                args.split,
                args.skip + (args.n_right if kind == "right" and args.n_right else per_kind),
                (kind,),
            )[args.skip :]
        ]
        for case in cases:
            begin = time.perf_counter()
            photo = cached_photo(case, args.cache)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                name = f"{family}-{case.kind}-{case.seed}-{case.written or 'blank'}.jpg"
                (args.save / name).write_bytes(photo[0])
            outcome = run_case(reader, rule, case, photo)
            making.append(time.perf_counter() - begin - outcome.seconds)
            outcomes.append(outcome)
    label = getattr(reader, "label", type(reader).__name__)
    source = f"`{args.reader}`" + (f", models from {args.models}" if args.models else "")
    print("## Handwriting and seals: verdicts on realistic photos\n")
    print(
        f"Reader `{label}` ({source}, loaded in {load_seconds:.1f} s); split "
        f"**{args.split}**; photos decoded to {PIPELINE_MAX_SIDE} px as the pipeline does; "
        "decided by rules/control-code.toml (mnist, samples) and rules/seal-number.toml "
        "(seal). Photo generation + preparation per photo, median "
        f"{statistics.median(making):.2f} s.\n"
    )
    print("\n".join(table(outcomes)))
    print("\n".join(summary(outcomes)))
    print("\n".join(misses(outcomes, args.misses)))
    saved = verdicts(outcomes)
    if args.against:
        print("\n".join(moved(before, saved)))
    if args.outcomes:
        args.outcomes.write_text(json.dumps(saved, indent=1) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
