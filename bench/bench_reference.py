"""The CPU matcher of `reference` rules on proof photos of real objects, sockets blocked.

    .venv/bin/python bench/bench_reference.py [--split tune|report] [--n 30] [--low-texture]
        [--cache /tmp/reference-cache.pkl]

Ten objects are registered with three reference photos each (`proofgen.objects`: real
photos from the scikit-image and matplotlib wheels, read from the installed files). Each
proof photo of each kind (the right object; the motorcycle from the other camera of a
stereo pair; another registered object; none) is made, prepared as the pipeline does
(upright, 1600 px), scored against every object and decided by the rule's own pure
function with the shipped thresholds. Prints counts per kind and status, the matcher's time
per photo, and the misses. `--low-texture` registers flat-coloured objects instead and
compares the feature score with a colour cue. Thresholds were chosen on `--split tune`;
the report split is for the figures only.
"""

from __future__ import annotations

import argparse
import pickle
import socket
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (str(ROOT), str(ROOT / "daemon")):  # proofgen lives at the repo root (dev only)
    if _path not in sys.path:
        sys.path.insert(0, _path)

from proofgen import objects  # noqa: E402

from proofwatch.engines import matcher  # noqa: E402
from proofwatch.engines.image import prepare  # noqa: E402
from proofwatch.rules.decide import Similarity, decide_reference  # noqa: E402
from proofwatch.rules.model import Rule  # noqa: E402
from proofwatch.vocabulary import Request  # noqa: E402

IMAGE_SIDE = 1600  # what the pipeline decodes a photo to
RULE = Rule(name="device-match", kind="reference", references="references", expect="x")


def block_sockets() -> None:
    """Every data set must come from an installed wheel: any download attempt fails loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network blocked by bench_reference")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def gallery(names: tuple[str, ...]) -> tuple[matcher.Gallery, float]:
    """The registered objects' features, as the rules loader computes them; seconds taken."""
    started = time.perf_counter()
    found = {
        name: [
            matcher.reference_features(prepare(objects.reference_photo(name, view), 1600, 10**8))
            for view in range(3)
        ]
        for name in names
    }
    return matcher.Gallery(found), time.perf_counter() - started


def score_cases(
    cases: list[objects.ObjectCase], bank: matcher.Gallery
) -> list[tuple[objects.ObjectCase, dict[str, int], float, str]]:
    out = []
    for case in cases:
        data, scene = objects.case_photo(case)
        image = prepare(data, IMAGE_SIDE, 10**8)
        started = time.perf_counter()
        found = bank.scores(matcher.features(image))
        out.append((case, found, time.perf_counter() - started, scene.describe()))
    return out


def report(scored: list[tuple[objects.ObjectCase, dict[str, int], float, str]]) -> None:
    table: dict[str, Counter[str]] = {}
    misses = []
    for case, found, _, scene in scored:
        result = decide_reference(
            RULE, Request(expect={"x": case.expected}), Similarity(matcher.LABEL, found)
        )
        table.setdefault(case.kind, Counter())[result.status] += 1
        good = "pass" if case.shown == case.expected else "fail"
        if result.status != good:
            top = sorted(found.items(), key=lambda item: -item[1])[:3]
            shown = case.shown or "nothing"
            misses.append(
                f"- {case.kind} #{case.seed}: {shown} (expected {case.expected}) -> "
                f"{result.status} ({result.reason_code}); top {top}; {scene}"
            )
    print("| case | photos | pass | review | fail |")
    print("| --- | --- | --- | --- | --- |")
    for kind, counts in table.items():
        total = sum(counts.values())
        print(f"| {kind} | {total} | {counts['pass']} | {counts['review']} | {counts['fail']} |")
    times = [seconds * 1000 for _, _, seconds, _ in scored]
    print(f"\nmatcher time per photo (features + search + RANSAC, 640 px): median "
          f"{statistics.median(times):.0f} ms, max {max(times):.0f} ms")  # fmt: skip
    print(f"\nnot as they should be ({len(misses)}): right -> pass, every other -> fail\n")
    print("\n".join(misses[:40]) or "none")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="report", choices=tuple(objects.SPLITS))
    parser.add_argument("--n", type=int, default=30, help="photos per kind")
    parser.add_argument("--low-texture", action="store_true")
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args(argv if argv is not None else [])
    block_sockets()
    names = objects.LOW_TEXTURE if args.low_texture else objects.REGISTERED
    cases = objects.build_cases(args.split, args.n, names)
    if args.cache is not None and args.cache.exists():
        scored = pickle.loads(args.cache.read_bytes())
    else:
        bank, took = gallery(names)
        print(f"## reference rules: the CPU matcher ({args.split} split)\n")
        print(f"{len(names)} objects x 3 references, features in {took:.1f}s; sockets blocked\n")
        scored = score_cases(cases, bank)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(scored))
    report(scored)


if __name__ == "__main__":
    main(sys.argv[1:])
