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

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from PIL import Image  # noqa: E402
from proofgen import objects  # noqa: E402

from proofwatch.engines import matcher  # noqa: E402
from proofwatch.engines.image import prepare  # noqa: E402
from proofwatch.rules.decide import Similarity, decide_reference  # noqa: E402
from proofwatch.rules.model import Rule  # noqa: E402
from proofwatch.vocabulary import Request  # noqa: E402

IMAGE_SIDE = 1600  # what the pipeline decodes a photo to
RULE = Rule(name="device-match", kind="reference", references="references", expect="x")
# Per photo: the case, the matcher's scores, its time, how the photo came out, colour scores.
Scored = list[tuple[objects.ObjectCase, dict[str, int], float, str, dict[str, float]]]


def block_sockets() -> None:
    """Every data set must come from an installed wheel: any download attempt fails loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network blocked by bench_reference")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def gallery(names: tuple[str, ...]) -> tuple[matcher.Gallery, float, dict[str, list[Any]]]:
    """The registered objects' features, as the rules loader computes them; seconds taken;
    and their colour histograms (the cue the low-texture run measures)."""
    started = time.perf_counter()
    photos = {
        name: [prepare(objects.reference_photo(name, view), 1600, 10**8) for view in range(3)]
        for name in names
    }
    found = {name: [matcher.reference_features(p) for p in views] for name, views in photos.items()}
    took = time.perf_counter() - started
    colours = {name: [hue_histogram(p) for p in views] for name, views in photos.items()}
    return matcher.Gallery(found), took, colours


def hue_histogram(image: Image.Image) -> npt.NDArray[np.float32]:
    """A colour cue: the hue-saturation histogram of the whole image (30 x 16 bins)."""
    hsv = cv2.cvtColor(np.asarray(image.convert("RGB").resize((256, 192))), cv2.COLOR_RGB2HSV)
    hist = np.asarray(cv2.calcHist([hsv], [0, 1], None, [30, 16], [0, 180, 0, 256]), np.float32)
    return hist / max(float(hist.sum()), 1.0)  # shares of the image: 0..1 intersections


def colour_scores(photo: Image.Image, references: dict[str, list[Any]]) -> dict[str, float]:
    """Each object's best histogram intersection (0..1) between the photo and a reference."""
    mine = hue_histogram(photo)
    return {
        name: max(float(cv2.compareHist(mine, ref, cv2.HISTCMP_INTERSECT)) for ref in refs)
        for name, refs in references.items()
    }


def score_cases(
    cases: list[objects.ObjectCase],
    bank: matcher.Gallery,
    colours: dict[str, list[Any]] | None = None,
) -> Scored:
    out = []
    for case in cases:
        data, scene = objects.case_photo(case)
        image = prepare(data, IMAGE_SIDE, 10**8)
        started = time.perf_counter()
        found = bank.scores(matcher.features(image))
        took = time.perf_counter() - started
        colour = colour_scores(image, colours) if colours else {}
        out.append((case, found, took, scene.describe(), colour))
    return out


def colour_report(scored: Scored) -> None:
    """Would the colour cue help where the matcher has too few points? Its top object per
    kind, and how its best score and margin compare between photos with and without one."""
    print("\n### the colour cue (hue-saturation histogram intersection), measured, not used\n")
    print("| case | photos | colour's best is the object shown | best, median | margin, median |")
    print("| --- | --- | --- | --- | --- |")
    by_kind: dict[str, list[tuple[bool, float, float]]] = {}
    for case, _, _, _, colour in scored:
        ranked = sorted(colour.items(), key=lambda item: -item[1])
        right = case.shown is not None and ranked[0][0] == case.shown
        by_kind.setdefault(case.kind, []).append((right, ranked[0][1], ranked[0][1] - ranked[1][1]))
    for kind, rows in by_kind.items():
        hits = sum(r for r, _, _ in rows) if kind != "none" else "-"
        best = statistics.median(b for _, b, _ in rows)
        margin = statistics.median(m for _, _, m in rows)
        print(f"| {kind} | {len(rows)} | {hits} | {best:.2f} | {margin:.2f} |")


def report(scored: Scored) -> None:
    table: dict[str, Counter[str]] = {}
    misses = []
    for case, found, _, scene, _ in scored:
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
    times = [seconds * 1000 for _, _, seconds, _, _ in scored]
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
        bank, took, colours = gallery(names)
        print(f"## reference rules: the CPU matcher ({args.split} split)\n")
        print(f"{len(names)} objects x 3 references, features in {took:.1f}s; sockets blocked\n")
        scored = score_cases(cases, bank, colours if args.low_texture else None)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(scored))
    report(scored)
    if args.low_texture:
        colour_report(scored)


if __name__ == "__main__":
    main(sys.argv[1:])
