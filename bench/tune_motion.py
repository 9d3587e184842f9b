"""Tuning only: handwriting photos of the tune split, every one shaken by motion blur.

Where the readers err most surely: a phone moved while the photo was taken. The same cases
as `bench_handwriting.py --split tune` (the same digits, papers and framing), with each
photo's motion blur drawn 10-20 px (at 1600 px) instead of a quarter of photos at 3-11 px.
The judge's choices are checked here too (see docs/BENCHMARKS.md); never on report photos.

    python bench/tune_motion.py [--n-right 300] [--n 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "daemon"), str(HERE.parent)]

import bench_handwriting  # noqa: E402
from proofgen import camera  # noqa: E402

MOTION = (10.0, 20.0)  # px of motion blur at 1600 px, scaled with the photo like the rest
still_shot = camera.choose_shot


def shaken_shot(rng: camera.Rng) -> camera.Shot:
    shot = still_shot(rng)
    scale = max(shot.size) / 1600
    return dataclasses.replace(shot, motion=float(rng.uniform(*MOTION)) * scale)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n-right", type=int, default=300, help="photos of the right code")
    parser.add_argument("--n", type=int, default=200, help="photos one digit off")
    parser.add_argument("--cache", type=Path, default=HERE / "out" / "motion")
    args = parser.parse_args(argv)
    with mock.patch.object(camera, "choose_shot", shaken_shot):
        bench_handwriting.main(
            ["--split", "tune", "--family", "mnist", "--kind", "right", "--kind", "off_by_one",
             "--n-right", str(args.n_right), "--n", str(args.n), "--cache", str(args.cache)]
        )  # fmt: skip


if __name__ == "__main__":
    main()
