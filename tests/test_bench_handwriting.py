"""The accuracy harness's report of its misses (bench/bench_handwriting.py, dev only)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "bench")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import bench_handwriting  # noqa: E402
from bench_handwriting import Outcome, misses, moved, recurring, verdicts  # noqa: E402
from proofgen.cases import ROWS_NOTE, Case  # noqa: E402


def _miss(seed: int, rows: str, status: str = "review") -> Outcome:
    case = Case("right", "94765", "94765", seed, "tune", "mnist")
    note = f"1200x900 o1 q80, turned 3°, blur 1.0, {ROWS_NOTE} {rows}" if rows else "seal"
    return Outcome(case, status, ("44765",), None, 0.1, note)


def test_a_digit_in_several_misses_is_named_with_their_seeds_and_its_photos() -> None:
    misses = [
        _miss(1, "4703 18 4503"),
        _miss(2, "4703 1103"),
        _miss(3, "1103 4703 9"),
        _miss(4, ""),
    ]
    passed = [_miss(5, "1103 18", "pass"), _miss(6, "1103 1103 7", "pass")]
    report = "\n".join(recurring(misses, misses + passed))
    assert "(3 of the 4 misses hold one;" in report
    assert "- row 4703 (a 9): 3 of 3, 1, 2, 3" in report
    assert "- row 1103 (a 2): 2 of 4, 2, 3" in report  # a photo holding it twice counts once
    assert "row 18 " not in report and "row 9 " not in report


def test_misses_are_counted_even_when_none_is_listed() -> None:
    bad = [_miss(1, "4703 18"), _miss(2, "4703 7")]
    assert misses(bad, 1)[1] == "Misses (2; first 1):"
    report = misses(bad, 0)
    assert report[1] == "Misses: 2 (none listed: --misses 0)"
    assert not any(line.startswith("- REVIEW") for line in report)
    assert "- row 4703 (a 9): 2 of 2, 1, 2" in report


def test_no_digit_twice_no_list() -> None:
    bad = [_miss(1, "4703 18"), _miss(2, "1103 7 7")]
    assert recurring(bad, bad) == []


def _verdict(status: str, *values: str) -> dict[str, object]:
    return {"status": status, "expected": "94765", "values": list(values)}


def test_verdicts_are_keyed_by_family_kind_and_seed() -> None:
    saved = verdicts([_miss(7, "")])
    assert saved == {"mnist right 7": _verdict("review", "44765")}


def test_moves_are_counted_and_the_ones_that_must_not_happen_named() -> None:
    before = {
        "mnist right 1": _verdict("review", "44765"),
        "mnist right 2": _verdict("pass", "94765"),
        "mnist right 3": _verdict("review", "44765"),
        "mnist off_by_one 4": _verdict("fail", "94766"),
        "mnist swapped 5": _verdict("review", "97465"),
        "mnist right 6": _verdict("pass", "94765"),
    }
    after = {
        "mnist right 1": _verdict("pass", "94765"),
        "mnist right 2": _verdict("review", "44765"),
        "mnist right 3": _verdict("fail", "44766"),
        "mnist off_by_one 4": _verdict("review", "94766"),
        "mnist swapped 5": _verdict("pass", "94765"),
        "mnist right 9": _verdict("fail", "1"),  # not in the earlier run: not a move
    }
    report = moved(before, after)
    assert "Verdicts moved against the earlier run: 5 of 5" in report
    assert "- review -> pass: 2" in report and "- pass -> review: 1" in report
    named = [line for line in report if line.startswith("- mnist")]
    assert named == [
        "- mnist right 3: review -> fail, expected 94765, read 44765 -> 44766",
        "- mnist swapped 5: review -> pass, expected 94765, read 97465 -> 94765",
    ]


def test_unseen_writers_need_readers_that_never_learnt_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench_handwriting.main(["--split", "test", "--family", "mnist", "--n", "1"])
    assert stopped.value.code == 2
    assert "--models" in capsys.readouterr().err
