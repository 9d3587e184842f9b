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
measures two other cues on them, colour and outline shape. Thresholds were chosen on `--split tune`;
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
CUE_SIDE = 512  # the outline cue's working size
# Per photo: the case, the matcher's scores, its time, how the photo came out, and each
# other cue's score per object (the low-texture run only).
Scored = list[tuple[objects.ObjectCase, dict[str, int], float, str, dict[str, dict[str, float]]]]
Cues = dict[str, Any]  # per object, per reference: what one cue keeps of it


def block_sockets() -> None:
    """Every data set must come from an installed wheel: any download attempt fails loudly."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network blocked by bench_reference")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse
    socket.getaddrinfo = refuse


def gallery(names: tuple[str, ...]) -> tuple[matcher.Gallery, float, dict[str, Cues]]:
    """The registered objects' features, as the rules loader computes them; seconds taken;
    and what the other cues keep of each reference (the low-texture run measures them)."""
    started = time.perf_counter()
    photos = {
        name: [prepare(objects.reference_photo(name, view), 1600, 10**8) for view in range(3)]
        for name in names
    }
    found = {name: [matcher.reference_features(p) for p in views] for name, views in photos.items()}
    took = time.perf_counter() - started
    cues = {
        cue: {name: [keep(p) for p in views] for name, views in photos.items()}
        for cue, (keep, _) in CUES.items()
    }
    return matcher.Gallery(found), took, cues


def hue_histogram(image: Image.Image) -> npt.NDArray[np.float32]:
    """A colour cue: the hue-saturation histogram of the whole image (30 x 16 bins)."""
    hsv = cv2.cvtColor(np.asarray(image.convert("RGB").resize((256, 192))), cv2.COLOR_RGB2HSV)
    hist = np.asarray(cv2.calcHist([hsv], [0, 1], None, [30, 16], [0, 180, 0, 256]), np.float32)
    return hist / max(float(hist.sum()), 1.0)  # shares of the image: 0..1 intersections


def colour_scores(photo: Image.Image, references: Cues) -> dict[str, float]:
    """Each object's best histogram intersection (0..1) between the photo and a reference."""
    mine = hue_histogram(photo)
    return {
        name: max(float(cv2.compareHist(mine, ref, cv2.HISTCMP_INTERSECT)) for ref in refs)
        for name, refs in references.items()
    }


def _small_grey(image: Image.Image) -> npt.NDArray[np.uint8]:
    grey = cv2.GaussianBlur(matcher.grey(image, CUE_SIDE), (0, 0), 2)
    return np.asarray(grey, np.uint8)


def silhouette(reference: Image.Image) -> npt.NDArray[np.int32] | None:
    """A shape cue: the object's outline in a reference photo (it stands on a plain
    background there): the largest dark-or-light region clear of the frame's edges."""
    grey = _small_grey(reference)
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    height, width = grey.shape
    best: npt.NDArray[np.int32] | None = None
    for region in (mask, 255 - mask):
        for outline in cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]:
            x, y, w, h = cv2.boundingRect(outline)
            if min(x, y) <= 1 or x + w >= width - 1 or y + h >= height - 1:
                continue  # cut by the frame: the background's shape, not the object's
            if best is None or cv2.contourArea(outline) > cv2.contourArea(best):
                best = np.asarray(outline, np.int32)
    return best


def shape_scores(photo: Image.Image, references: Cues) -> dict[str, float]:
    """Each object's best outline likeness (1 / (1 + Hu-moment distance)) between its
    references' outlines and every outline of the photo covering 2% of it or more."""
    grey = _small_grey(photo)
    edges = cv2.dilate(cv2.Canny(grey, 20, 60), np.ones((3, 3), np.uint8))
    outlines = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    large = [o for o in outlines if cv2.contourArea(o) >= 0.02 * grey.size]

    def likeness(refs: list[Any]) -> float:
        pairs = [(ref, o) for ref in refs if ref is not None for o in large]
        distances = [cv2.matchShapes(ref, o, cv2.CONTOURS_MATCH_I1, 0) for ref, o in pairs]
        return 1 / (1 + min(distances)) if distances else 0.0

    return {name: likeness(refs) for name, refs in references.items()}


# name -> (what is kept of a reference, each object's score for a photo)
CUES: dict[str, tuple[Any, Any]] = {
    "colour (hue-saturation histogram intersection)": (hue_histogram, colour_scores),
    "outline shape (Hu moments of the object's silhouette)": (silhouette, shape_scores),
}


def score_cases(
    cases: list[objects.ObjectCase],
    bank: matcher.Gallery,
    cues: dict[str, Cues] | None = None,
) -> Scored:
    out = []
    for case in cases:
        data, scene = objects.case_photo(case)
        image = prepare(data, IMAGE_SIDE, 10**8)
        started = time.perf_counter()
        found = bank.scores(matcher.features(image))
        took = time.perf_counter() - started
        other = {cue: CUES[cue][1](image, kept) for cue, kept in (cues or {}).items()}
        out.append((case, found, took, scene.describe(), other))
    return out


def cue_report(scored: Scored, cue: str) -> None:
    """Would another cue help where the matcher has too few points? Its top object per
    kind, and how its best score and margin compare between photos with and without one."""
    print(f"\n### {cue}: measured, not used\n")
    print("| case | photos | its best is the object shown | best, median | margin, median (max) |")
    print("| --- | --- | --- | --- | --- |")
    by_kind: dict[str, list[tuple[bool, float, float]]] = {}
    for case, _, _, _, cues in scored:
        ranked = sorted(cues[cue].items(), key=lambda item: -item[1])
        right = case.shown is not None and ranked[0][0] == case.shown
        by_kind.setdefault(case.kind, []).append((right, ranked[0][1], ranked[0][1] - ranked[1][1]))
    for kind, rows in by_kind.items():
        hits = sum(r for r, _, _ in rows) if kind != "none" else "-"
        best = statistics.median(b for _, b, _ in rows)
        margin = statistics.median(m for _, _, m in rows)
        most = max(m for _, _, m in rows)
        print(f"| {kind} | {len(rows)} | {hits} | {best:.2f} | {margin:.3f} ({most:.3f}) |")


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
        bank, took, cues = gallery(names)
        print(f"## reference rules: the CPU matcher ({args.split} split)\n")
        print(f"{len(names)} objects x 3 references, features in {took:.1f}s; sockets blocked\n")
        scored = score_cases(cases, bank, cues if args.low_texture else None)
        if args.cache is not None:
            args.cache.write_bytes(pickle.dumps(scored))
    report(scored)
    if args.low_texture:
        for cue in CUES:
            cue_report(scored, cue)


if __name__ == "__main__":
    main(sys.argv[1:])
