"""The cases the accuracy harness runs: what is on the photo, what the request expects.

Families: "mnist" (real handwritten digits on paper, `proofgen.photo`), "seal" (printed seal
numbers, `proofgen.seal`) and "samples" (the project's own generated photos, strokes and font
styles, from proofgen.samples, imported lazily because it is moving).

Kinds: right (the photo shows the expected value), off_by_one (one digit written differently,
for real), swapped (two adjacent, different digits swapped), blank (no number at all),
other_number (an unrelated number, at least two edits from the expected one).

Seeds are fixed per split and disjoint: train 0-999,999 (for a recogniser's training photos),
tune 1,000,000-1,999,999, report 2,000,000-2,999,999, and the tune split's two halves
(`mnist.HALVES`) tune-a 3,000,000-3,999,999, tune-b 4,000,000-4,999,999, and MNIST's test
set ("test", writers no split holds) 5,000,000-5,999,999. A case's photo draws its MNIST
digits only from the rows of its own split, so tuning never sees a report digit, and a
tune-a photo never a tune-b one.
"""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass
from typing import Any, Literal

from proofgen import mnist

Family = Literal["mnist", "seal", "samples"]
Kind = Literal["right", "off_by_one", "swapped", "blank", "other_number"]
FAMILIES: tuple[Family, ...] = ("mnist", "seal", "samples")
KINDS: tuple[Kind, ...] = ("right", "off_by_one", "swapped", "blank", "other_number")
SEEDS: dict[mnist.Rows, range] = {
    "train": range(0, 1_000_000),
    "tune": range(1_000_000, 2_000_000),
    "report": range(2_000_000, 3_000_000),
    "tune-a": range(3_000_000, 4_000_000),
    "tune-b": range(4_000_000, 5_000_000),
    "test": range(5_000_000, 6_000_000),
}
_FAMILY_OFFSET = {"mnist": 0, "seal": 300_000, "samples": 600_000}
_KIND_OFFSET = {kind: 50_000 * index for index, kind in enumerate(KINDS)}
# Digits people and OCR confuse: half the off-by-one cases use one of these.
CONFUSABLE = {
    "0": "869", "1": "74", "2": "7", "3": "85", "4": "91",
    "5": "63", "6": "508", "7": "12", "8": "306", "9": "470",
}  # fmt: skip
# A handwritten photo's note ends with the MNIST rows of its digits, in writing order.
ROWS_NOTE = "MNIST rows"


@dataclass(frozen=True)
class Case:
    kind: Kind
    written: str  # what the photo shows ("" for blank)
    expected: str  # what the request expects
    seed: int
    split: mnist.Rows
    family: Family
    style: str = ""  # samples family: the proofgen.samples style


def _number(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _expected(rng: random.Random, family: Family) -> str:
    if family != "seal":
        return _number(rng, 5)
    length = rng.randint(5, 8)
    zeros = rng.choice([0, 0, 0, 1, 2, 3]) if length > 5 else 0  # "0043127": zeros kept
    return "0" * zeros + _number(rng, length - zeros)


def _written(rng: random.Random, kind: Kind, expected: str, index: int) -> str:
    if kind == "right":
        return expected
    if kind == "blank":
        return ""
    if kind == "off_by_one":
        position = rng.randrange(len(expected))
        digit = expected[position]
        if index % 2 == 0:
            wrong = rng.choice(CONFUSABLE[digit])
        else:
            wrong = rng.choice([d for d in "0123456789" if d != digit])
        return expected[:position] + wrong + expected[position + 1 :]
    if kind == "swapped":
        pairs = [i for i in range(len(expected) - 1) if expected[i] != expected[i + 1]]
        i = rng.choice(pairs)
        return expected[:i] + expected[i + 1] + expected[i] + expected[i + 2 :]
    while True:  # other_number: unrelated, not a near miss
        other = _expected(rng, "seal" if len(expected) != 5 else "mnist")
        if _distance(other, expected) >= 2:
            return other


def make_case(family: Family, split: mnist.Rows, kind: Kind, index: int) -> Case:
    """The index-th case of a family, split and kind; the same on every machine."""
    seed = SEEDS[split].start + _FAMILY_OFFSET[family] + _KIND_OFFSET[kind] + index
    rng = random.Random(seed)
    expected = _expected(rng, family)
    while kind == "swapped" and len(set(expected)) < 2:
        expected = _expected(rng, family)
    written = _written(rng, kind, expected, index)
    style = ""
    if family == "samples":
        style = _sample_styles()[index % len(_sample_styles())]
    return Case(kind, written, expected, seed, split, family, style)


def build_cases(
    family: Family, split: mnist.Rows, per_kind: int, kinds: tuple[Kind, ...] = KINDS
) -> list[Case]:
    return [make_case(family, split, kind, i) for kind in kinds for i in range(per_kind)]


def _samples_module() -> Any:
    """The project's generated photos: proofgen.samples since the refactor moved it there,
    proofwatch.samples before. Imported here, not at the top, so either layout works."""
    try:
        return importlib.import_module("proofgen.samples")
    except ImportError:
        return importlib.import_module("proofwatch.samples")


def _sample_styles() -> tuple[str, ...]:
    return tuple(_samples_module().STYLES)


def case_photo(case: Case) -> tuple[bytes, str]:
    """The case's photo as camera JPEG bytes, and a few words on how it was made."""
    if case.seed not in SEEDS[case.split]:
        raise ValueError(f"seed {case.seed} is outside the {case.split} seeds")
    if case.family == "mnist":
        from proofgen.photo import handwritten_photo

        data, info = handwritten_photo(case.written, case.seed, case.split)
        shot = info.shot
        note = (
            f"{shot.size[0]}x{shot.size[1]} o{shot.orientation} q{shot.quality}, "
            f"turned {info.rotation:.0f}°, digits {info.digit_height}px, {info.pen} on "
            f"{info.paper} {info.lines}{' + print' if info.printed else ''}, "
            f"blur {shot.blur:.1f}{f' motion {shot.motion:.0f}' if shot.motion else ''}"
            f"{f', {ROWS_NOTE} ' + ' '.join(map(str, info.rows)) if info.rows else ''}"
        )
        return data, note
    if case.family == "seal":
        from proofgen.seal import seal_photo

        data, seal = seal_photo(case.written, case.seed)
        shot = seal.shot
        note = (
            f"{shot.size[0]}x{shot.size[1]} o{shot.orientation} q{shot.quality}, "
            f"turned {seal.rotation:.0f}°, digits {seal.digit_height}px, {seal.colour} "
            f"{seal.print_style}{' glare' if seal.glare else ''}, blur {shot.blur:.1f}"
            f"{f' motion {shot.motion:.0f}' if shot.motion else ''}"
        )
        return data, note
    samples = _samples_module()
    data = samples.proof_jpeg(
        case.written,
        seed=case.seed,
        size=(2000, 1500),
        style=case.style,
        avoid=(case.expected,),
    )
    return bytes(data), f"2000x1500 samples style {case.style}"


def rows_in(note: str) -> tuple[int, ...]:
    """The MNIST rows a photo's note names (none for a seal, or a note cached before)."""
    _, found, rows = note.rpartition(f"{ROWS_NOTE} ")
    return tuple(int(row) for row in rows.split()) if found else ()


def case_jpeg(case: Case) -> bytes:
    """The case's photo as the phone would upload it (JPEG with camera Exif and GPS)."""
    return case_photo(case)[0]
