"""The daemon's resident memory with the embedded OCR loaded (issue #12: at most 500 MB).

`proofwatch run` with the OCR engine and the shipped rules, as a user runs it; tune-split
photos of handwritten codes and seal numbers (phone sizes up to 12 MP) dropped in one at a
time, each with its request, the next once the verdict is out. Resident memory (VmRSS) is
read at start and after the last photo, and its peak (VmHWM) over the whole run. Each run is
a fresh daemon: the peak moves with what the C heap kept, so every run is listed. With
`--baseline REV` (default: where this branch left main) that revision's daemon runs too,
the two taking turns.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(HERE), str(REPO / "tests"), str(REPO / "daemon"), str(REPO)]

from bench_handwriting import cached_photo  # noqa: E402
from bench_intake import Contender, baseline_checkout, default_baseline, rss_kib  # noqa: E402
from proofgen.cases import build_cases  # noqa: E402

from daemon_process import drop_photo  # noqa: E402

TARGET_MB = 500
RULE = {"mnist": "control-code", "seal": "seal-number"}
EXPECT = {"mnist": "code", "seal": "seal"}


@dataclass(frozen=True)
class Run:
    idle: float  # MiB, at start
    after: float  # MiB, after the last photo's verdict
    peak: float  # MiB, VmHWM over the run
    verdicts: Counter[str]


def one_run(tmp: Path, contender: Contender, photos: Sequence[tuple[str, bytes, str]]) -> Run:
    """A fresh daemon through every photo (family, JPEG, expected number), one at a time."""
    daemon = contender.start(tmp, config_body='engine = "ocr"\n', rules=REPO / "rules")
    try:
        idle = rss_kib(daemon.proc.pid) / 1024
        verdicts: Counter[str] = Counter()
        for i, (family, data, expected) in enumerate(photos):
            request = {"id": f"m{i}", "rules": [RULE[family]], "expect": {EXPECT[family]: expected}}
            photo = drop_photo(daemon.watch, f"IMG_{i:04d}.jpg", data, request)
            verdicts[daemon.wait_for_verdict(photo, timeout=300)["status"]] += 1
        after = rss_kib(daemon.proc.pid) / 1024
        peak = rss_kib(daemon.proc.pid, "VmHWM") / 1024
    finally:
        daemon.stop()
    return Run(idle, after, peak, verdicts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", default=default_baseline(), help="a git revision")
    parser.add_argument("--runs", type=int, default=2, help="fresh daemons of each code")
    parser.add_argument("--n", type=int, default=60, help="handwriting photos a run")
    parser.add_argument("--n-seal", type=int, default=20, help="seal photos a run")
    parser.add_argument("--cache", type=Path, default=HERE / "out" / "photos")
    args = parser.parse_args(argv if argv is not None or __name__ == "__main__" else [])
    photos = [
        (case.family, cached_photo(case, args.cache)[0], case.expected)
        for case in [
            *build_cases("mnist", "tune", args.n, ("right",)),
            *build_cases("seal", "tune", args.n_seal, ("right",)),
        ]
    ]
    print("## Daemon memory with the embedded OCR (issue #12)\n")
    print(
        f"`proofwatch run`, engine `ocr`, the shipped rules; {args.n} handwriting and "
        f"{args.n_seal} seal photos of the **tune** split, one at a time. MiB; the target "
        f"is {TARGET_MB} MB = {TARGET_MB * 1e6 / 2**20:.0f} MiB at the peak.\n"
    )
    print("| daemon | run | at start | after the last photo | peak | verdicts |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    peaks = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as name:
        tmp = Path(name)
        contenders = [Contender("this checkout", REPO / "daemon")]
        if args.baseline:
            contenders.append(baseline_checkout(args.baseline, tmp / "baseline"))
        for run in range(1, args.runs + 1):
            for i, contender in enumerate(contenders):
                got = one_run(tmp / f"run-{run}-{i}", contender, photos)
                if i == 0:
                    peaks.append(got.peak)
                verdicts = ", ".join(f"{n} {s}" for s, n in sorted(got.verdicts.items()))
                print(
                    f"| {contender.name} | {run} | {got.idle:.0f} | {got.after:.0f} "
                    f"| {got.peak:.0f} | {verdicts} |",
                    flush=True,
                )
    worst_mb = max(peaks) * 2**20 / 1e6
    met = "met" if worst_mb <= TARGET_MB else "**not met**"
    print(f"\nThis checkout's highest peak: {max(peaks):.0f} MiB = {worst_mb:.0f} MB: {met}.")


if __name__ == "__main__":
    main()
