"""Tuning only: handwriting photos of the tune split, every one shaken by motion blur.

Where the readers err most surely: a phone moved while the photo was taken. The same cases
as `bench_handwriting.py --split tune` (the same digits, papers and framing), with each
photo's motion blur drawn 10-20 px (at 1600 px) instead of a quarter of photos at 3-11 px.
The judge's choices are checked here too (see docs/BENCHMARKS.md); never on report photos.
`--tilt` also turns every paper that many degrees off straight or off upside down (either
way), as a phone held askew does.

    python bench/tune_motion.py [--n-right 300] [--n 200] [--motion 10 20] [--tilt 8 16]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "daemon"), str(HERE.parent)]

import bench_handwriting  # noqa: E402
import numpy as np  # noqa: E402
from proofgen import camera  # noqa: E402

MOTION = (10.0, 20.0)  # px of motion blur at 1600 px, scaled with the photo like the rest
still_shot = camera.choose_shot


def shaken(motion: tuple[float, float]) -> Callable[[camera.Rng], camera.Shot]:
    def shot(rng: camera.Rng) -> camera.Shot:
        chosen = still_shot(rng)
        scale = max(chosen.size) / 1600
        return dataclasses.replace(chosen, motion=float(rng.uniform(*motion)) * scale)

    return shot


def tilted(degrees: tuple[float, float]) -> Callable[[camera.Rng], float]:
    """The paper turned `degrees` (drawn between the two) either way off 0 or 180 degrees."""

    def angle(rng: camera.Rng) -> float:
        base = float(rng.choice([0.0, 180.0]))
        off = float(rng.uniform(*degrees)) * float(rng.choice([-1.0, 1.0]))
        return float(np.deg2rad(base + off))

    return angle


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n-right", type=int, default=300, help="photos of the right code")
    parser.add_argument("--n", type=int, default=200, help="photos one digit off")
    parser.add_argument(
        "--motion",
        type=float,
        nargs=2,
        default=MOTION,
        metavar=("LO", "HI"),
        help="px of motion blur at 1600 px (default: 10 20)",
    )
    parser.add_argument(
        "--tilt",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        help="degrees every paper lies off straight or upside down",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=HERE / "out" / "motion",
        help="photos kept here; one folder per --motion and --tilt",
    )
    args = parser.parse_args(argv)
    turn = tilted(tuple(args.tilt)) if args.tilt else camera.rotation_angle
    with (
        mock.patch.object(camera, "choose_shot", shaken(tuple(args.motion))),
        mock.patch.object(camera, "rotation_angle", turn),
    ):
        bench_handwriting.main(
            ["--split", "tune", "--family", "mnist", "--kind", "right", "--kind", "off_by_one",
             "--n-right", str(args.n_right), "--n", str(args.n), "--cache", str(args.cache)]
        )  # fmt: skip


if __name__ == "__main__":
    main()
