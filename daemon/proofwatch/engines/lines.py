"""A third reader for handwritten digits: a small line recogniser (conv net + CTC), on the CPU.

PP-OCR reads whole lines but was trained mostly on print; the glyph CNN (`digits.py`) reads
handwriting but depends on cutting the line into glyphs, which fails on touching or broken
digits. This model reads the whole line crop at once, like PP-OCR, and knows only
handwritten digits: a stack of convolutions turns a line 32 px high into one column of
features per 4 px of width, and each column gives the probabilities of blank and 0-9
(connectionist temporal classification, decoded greedily as PP-OCR's output is).

`models/lines.onnx` is trained by `training/train_lines.py` on lines composed from the MNIST
train rows and MNIST's own test set (other writers), never a tune, report or reserved row,
and on code lines cut out of train-split photos. The same `prepare_line` feeds training and
reading.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from .onnx import OnnxModel

MODEL_PATH = Path(__file__).parent / "models" / "lines.onnx"
HEIGHT = 32  # the line is read at this height
MIN_WIDTH = 32
MAX_WIDTH = 640  # a line wider than 20 heights is squeezed (no code is that long)
STRIDE = 4  # input pixels per output frame
# Paper added to the right of every line, in training and reading alike: the last frames
# then see the same blank context whether a line is read alone or beside a wider one.
PAD = 32
CHARSET = ("blank", *"0123456789")  # class 0 = CTC blank

FloatArray = npt.NDArray[np.float32]


def prepare_line(gray: npt.NDArray[np.uint8]) -> FloatArray:
    """A gray line crop as the net reads it: HEIGHT px high, ink 1 on paper 0 (float32).

    Scaled to HEIGHT keeping its aspect; contrast stretched between the paper (a bright
    percentile) and the darkest ink, so a pencil on grey paper looks like a felt-tip on white.
    """
    import cv2  # rapidocr's dependency; imported here so that importing this module is cheap

    h, w = gray.shape[:2]
    width = int(min(MAX_WIDTH, max(MIN_WIDTH, round(HEIGHT * w / max(h, 1)))))
    interp = cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR
    small = cv2.resize(gray, (width, HEIGHT), interpolation=interp).astype(np.float32)
    paper = float(np.percentile(small, 90))
    ink = float(np.percentile(small, 1))
    span = max(paper - ink, 24.0)  # a line with no contrast stays faint instead of noise
    return np.asarray(np.clip((paper - small) / span, 0.0, 1.0), np.float32)


def frame_x(frame: int) -> float:
    """The middle of an output frame, in the prepared line's pixels."""
    return (frame + 0.5) * STRIDE


def padded_width(width: int) -> int:
    """The width a batch of lines up to `width` wide is read at."""
    return -(-(width + PAD) // STRIDE) * STRIDE


class LineModel(OnnxModel):
    """The ONNX line recogniser (`models/lines.onnx`)."""

    def __init__(self, path: Path = MODEL_PATH, threads: int = 1) -> None:
        super().__init__(path, threads)

    def frames(self, lines: list[FloatArray]) -> list[FloatArray]:
        """Per-frame probabilities (T x 11, class 0 blank) of prepared lines, batched by
        width; only each line's own frames are kept (the paper padding reads blank)."""
        out: list[FloatArray] = [np.zeros((0, len(CHARSET)), np.float32)] * len(lines)
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
        for start in range(0, len(order), 8):
            group = order[start : start + 8]
            width = padded_width(max(lines[i].shape[1] for i in group))
            batch = np.zeros((len(group), 1, HEIGHT, width), np.float32)
            for row, i in enumerate(group):
                batch[row, 0, :, : lines[i].shape[1]] = lines[i]
            probs = self.run("lines", batch)
            for row, i in enumerate(group):
                frames = -(-lines[i].shape[1] // STRIDE)
                out[i] = np.asarray(probs[row, :frames], np.float32)
        return out
