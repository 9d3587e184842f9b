"""Benchmark of the embedded OCR engine on generated proof photos.

Run standalone (`.venv/bin/python bench/bench_ocr.py [--quick]`) or through bench/run.py,
which calls `main()`. Prints markdown: load time, time per photo, bytes and pixels OCR sees
against the 12 MP original, codes read right per style, and false passes (a photo showing a
code one digit off, or no code, whose expected code nevertheless appears among the
candidates). False passes must be zero.

A code counts as read when the expected code equals one of the engine's candidates after the
normalisation the shipped `control-code` rule applies (`proofwatch.rules.normalize`: digit
look-alikes, spaces and dashes), with tolerance 0 as in that rule. The engine never sees the
expected code.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image

from proofwatch.engines.base import Question
from proofwatch.engines.image import prepare
from proofwatch.engines.ocr import (
    DEFAULT_MAX_SIDE,
    DEFAULT_MIN_SCORE,
    Block,
    OcrEngine,
    candidates,
)
from proofwatch.rules.normalize import normalize
from proofwatch.samples import STYLES, Camera, draw_code, proof_jpeg, to_jpeg

PIPELINE_MAX_SIDE = 1600  # what the pipeline decodes a photo to before any engine sees it
MAX_PIXELS = 100_000_000
SET_SIZE = (2000, 1500)  # the accuracy set; 12 MP photos decode to this in draft mode anyway
ORIGINAL_SIZE = (4000, 3000)  # 12 MP
QUESTION = Question("code", "text", "Transcribe the code handwritten on the paper, exactly.")

# Digit pairs handwriting and OCR confuse: a code one digit off is most dangerous when the
# wrong digit looks like the expected one.
CONFUSABLE = {
    "0": "869",
    "1": "74",
    "2": "7",
    "3": "85",
    "4": "91",
    "5": "63",
    "6": "508",
    "7": "12",
    "8": "306",
    "9": "470",
}
NORMALIZE_STEPS = ("digits", "strip-spaces", "strip-dashes")  # rules/control-code.toml


def normalise(value: str) -> str:
    """What the control-code rule compares: the rules' own normalisation."""
    return normalize(value, NORMALIZE_STEPS)


@dataclass(frozen=True)
class Case:
    kind: str  # right | off (a code one digit off) | blank (no code)
    style: str
    written: str  # what is on the paper ("" for blank)
    expected: str  # what the request expects
    seed: int
    distractors: bool | None = None


@dataclass
class Outcome:
    case: Case
    seconds: float
    blocks: list[Block]
    min_score: float
    candidates: tuple[str, ...] = field(init=False)
    hit: bool = field(init=False)

    def __post_init__(self) -> None:
        self.rescore(self.min_score)

    def rescore(self, min_score: float) -> Outcome:
        """The same reading with another confidence threshold (no OCR run needed)."""
        self.min_score = min_score
        self.candidates = candidates(self.blocks, min_score)
        self.hit = self.case.expected in {normalise(c) for c in self.candidates}
        return self


def _code(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def build_cases(per_style: int, off: int, blank: int, seed: int = 20261122) -> list[Case]:
    rng = random.Random(seed)
    styles = list(STYLES)
    cases: list[Case] = []
    for index in range(per_style * len(styles)):
        code = _code(rng)
        cases.append(Case("right", styles[index % len(styles)], code, code, seed + index))
    for index in range(off):
        expected = _code(rng)
        position = rng.randrange(len(expected))
        digit = expected[position]
        if index % 2 == 0:  # half of them with a look-alike digit
            wrong = rng.choice(CONFUSABLE[digit])
        else:
            wrong = rng.choice([d for d in "0123456789" if d != digit])
        written = expected[:position] + wrong + expected[position + 1 :]
        style = styles[index % len(styles)]
        cases.append(Case("off", style, written, expected, seed + 10_000 + index))
    for index in range(blank):
        style = styles[index % len(styles)]
        cases.append(
            Case("blank", style, "", _code(rng), seed + 20_000 + index, distractors=index % 2 == 0)
        )
    return cases


def photo(case: Case, size: tuple[int, int] = SET_SIZE) -> bytes:
    return proof_jpeg(
        case.written,
        seed=case.seed,
        size=size,
        style=case.style,
        distractors=case.distractors,
        avoid=(case.expected,),
    )


def run_case(engine: OcrEngine, case: Case, image: Image.Image) -> Outcome:
    """engine.ask is read + candidates; the blocks are kept to try other thresholds."""
    started = time.perf_counter()
    blocks = engine.read(image)
    values = candidates(blocks, engine.min_score)
    seconds = time.perf_counter() - started
    outcome = Outcome(case, seconds, blocks, engine.min_score)
    assert outcome.candidates == values
    return outcome


def _summary(outcomes: Sequence[Outcome]) -> tuple[int, int, int, int]:
    right = [o for o in outcomes if o.case.kind == "right"]
    wrong = [o for o in outcomes if o.case.kind != "right"]
    return sum(o.hit for o in right), len(right), sum(o.hit for o in wrong), len(wrong)


def sweep_rows(
    by_side: dict[int, list[Outcome]], scores: Sequence[float], default: tuple[int, float]
) -> list[str]:
    """Read right and false passes for other max_side and min_score, on the same photos."""
    rows = [
        "| max_side | min_score | read right | false passes | OCR time per photo, median |",
        "| --- | --- | --- | --- | --- |",
    ]
    for side, outcomes in sorted(by_side.items()):
        median = statistics.median(o.seconds for o in outcomes)
        for score in scores:
            hits, total, bad, negatives = _summary([o.rescore(score) for o in outcomes])
            mark = " (default)" if (side, score) == default else ""
            rows.append(
                f"| {side}{mark} | {score} | {hits}/{total} | {bad}/{negatives} | {median:.2f} s |"
            )
        for o in outcomes:
            o.rescore(default[1])
    return rows


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


def _mp(pixels: int) -> str:
    return f"{pixels / 1_000_000:.2f} MP"


def size_rows(engine: OcrEngine, samples: int) -> tuple[list[str], list[float]]:
    """Bytes and pixels of a 12 MP original against what the engine reads; end-to-end time."""
    originals: list[int] = []
    totals: list[float] = []
    decoded: tuple[int, int] = (0, 0)
    seen: tuple[int, int] = (0, 0)
    for index in range(samples):
        # As a phone writes it: 12 MP, fine grain, JPEG quality 95, camera Exif.
        image = draw_code("48213", seed=900 + index, size=ORIGINAL_SIZE, style="neat")
        data = to_jpeg(image, Camera(), quality=95)
        originals.append(len(data))
        started = time.perf_counter()
        image = prepare(data, PIPELINE_MAX_SIDE, MAX_PIXELS)
        engine.ask(image, [QUESTION])
        totals.append(time.perf_counter() - started)
        decoded = image.size
        scaled = image.copy()
        scaled.thumbnail((engine.max_side, engine.max_side), Image.Resampling.LANCZOS)
        seen = scaled.size
    width, height = ORIGINAL_SIZE
    rows = [
        "| image | pixels | bytes |",
        "| --- | --- | --- |",
        f"| original photo (JPEG, {width}x{height}) | {_mp(width * height)} | "
        f"{_mb(int(statistics.median(originals)))} (median of {samples}) |",
        f"| original decoded in full (RGB) | {_mp(width * height)} | {_mb(width * height * 3)} |",
        f"| pipeline copy (draft decode, {decoded[0]}x{decoded[1]}) | "
        f"{_mp(decoded[0] * decoded[1])} | {_mb(decoded[0] * decoded[1] * 3)} |",
        f"| what OCR reads ({seen[0]}x{seen[1]}) | {_mp(seen[0] * seen[1])} | "
        f"{_mb(seen[0] * seen[1] * 3)} ({100 * seen[0] * seen[1] / (width * height):.1f} % "
        "of the original's pixels) |",
    ]
    return rows, totals


def report(
    outcomes: Sequence[Outcome],
    load_seconds: float,
    size_table: Sequence[str],
    end_to_end: Sequence[float],
    engine: OcrEngine,
) -> str:
    lines = [
        f"OCR engine `{engine.label}`, max_side {engine.max_side}, "
        f"min_score {engine.min_score}; photos {SET_SIZE[0]}x{SET_SIZE[1]} decoded to "
        f"{PIPELINE_MAX_SIDE} px as the pipeline does.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| model load (once per process) | {load_seconds:.2f} s |",
    ]
    seconds = sorted(o.seconds for o in outcomes)
    lines.append(
        f"| OCR time per photo, median (p90, max) over {len(seconds)} | "
        f"{statistics.median(seconds):.2f} s ({seconds[int(0.9 * (len(seconds) - 1))]:.2f} s, "
        f"{seconds[-1]:.2f} s) |"
    )
    if end_to_end:
        lines.append(
            f"| 12 MP JPEG to candidates (decode + OCR), median over {len(end_to_end)} | "
            f"{statistics.median(end_to_end):.2f} s |"
        )
    lines += ["", "Codes read right (the expected code among the candidates):", ""]
    lines += ["| style | read right | rate |", "| --- | --- | --- |"]
    right = [o for o in outcomes if o.case.kind == "right"]
    for style in STYLES:
        mine = [o for o in right if o.case.style == style]
        if mine:
            hits = sum(o.hit for o in mine)
            lines.append(f"| {style} | {hits}/{len(mine)} | {100 * hits / len(mine):.0f} % |")
    hits = sum(o.hit for o in right)
    if right:
        lines.append(f"| **all** | **{hits}/{len(right)}** | **{100 * hits / len(right):.0f} %** |")
    lines += ["", "False passes (must be 0):", ""]
    lines += ["| photo shows | photos | false passes |", "| --- | --- | --- |"]
    groups = {
        "a code one digit off (half with a look-alike digit)": "off",
        "no code (blank paper; half with printed numbers and an injected instruction)": "blank",
    }
    false_passes: list[Outcome] = []
    for title, kind in groups.items():
        mine = [o for o in outcomes if o.case.kind == kind]
        bad = [o for o in mine if o.hit]
        false_passes += bad
        lines.append(f"| {title} | {len(mine)} | {len(bad)} |")
    misses = [o for o in right if not o.hit]
    if misses:
        lines += ["", "Misread (style, written: candidates):", ""]
        for o in misses:
            shown = ", ".join(o.candidates[:4]) or "(nothing)"
            lines.append(f"- {o.case.style}, {o.case.written}: {shown}")
    if false_passes:
        lines += ["", "**FALSE PASSES**:", ""]
        for o in false_passes:
            lines.append(
                f"- {o.case.kind} {o.case.style} written {o.case.written or '(none)'} "
                f"expected {o.case.expected}: {', '.join(o.candidates)}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-style", type=int, default=10, help="right codes per style")
    parser.add_argument("--off", type=int, default=50, help="photos with a code one digit off")
    parser.add_argument("--blank", type=int, default=20, help="photos with no code")
    parser.add_argument("--sizes", type=int, default=3, help="12 MP photos for bytes/pixels")
    parser.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE)
    parser.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE)
    parser.add_argument(
        "--sweep",
        default="",
        help="other max_side values to compare on the same photos, e.g. 640,1280,1600",
    )
    parser.add_argument("--quick", action="store_true", help="2 per style, 10 off, 4 blank")
    args = parser.parse_args([] if argv is None and __name__ != "__main__" else argv)
    if args.quick:
        args.per_style, args.off, args.blank, args.sizes = 2, 10, 4, 1

    engine = OcrEngine(max_side=args.max_side, min_score=args.min_score)
    started = time.perf_counter()
    engine.load()
    load_seconds = time.perf_counter() - started
    others = [
        OcrEngine(max_side=int(side), min_score=args.min_score)
        for side in args.sweep.split(",")
        if side.strip() and int(side) != args.max_side
    ]
    for other in others:
        other._model = engine._model  # one model, read at several sizes

    cases = build_cases(args.per_style, args.off, args.blank)
    by_side: dict[int, list[Outcome]] = {e.max_side: [] for e in [engine, *others]}
    for case in cases:
        image = prepare(photo(case), PIPELINE_MAX_SIDE, MAX_PIXELS)
        for each in [engine, *others]:  # interleaved: load drift hits every size alike
            by_side[each.max_side].append(run_case(each, case, image))
    outcomes = by_side[engine.max_side]
    size_table, end_to_end = size_rows(engine, args.sizes)
    print("## OCR engine\n")
    print(report(outcomes, load_seconds, size_table, end_to_end, engine))
    print("\nBytes and pixels, per 12 MP photo:\n")
    print("\n".join(size_table))
    scores = sorted({0.5, args.min_score, 0.9})
    print("\nOther settings on the same photos (same run):\n")
    print("\n".join(sweep_rows(by_side, scores, (engine.max_side, engine.min_score))))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
