"""A shaken phone in a reader's training lines: the photo generator's own motion blur.

The glyph CNN learns from drawn lines, and this share of them is smeared along a random
direction by a share of the digits' height. Without it the CNN read the digits of 828 of
1,300 shaken tune photos (bench/tune_motion.py), PP-OCR 1,064 and the line recogniser 1,036.
The line recogniser's drawn lines still have their own lighter shake, along the line only
(train_lines.py): retraining it with this one is untried (40-60 minutes on 2 cores).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from proofgen.camera import shaken

SHAKEN = 0.3  # the share of drawn lines that are shaken
SHAKE = (0.05, 0.45)  # how far, in digit heights


def sometimes_shaken(
    rng: np.random.Generator, gray: npt.NDArray[Any], height: float
) -> npt.NDArray[Any]:
    """`gray` smeared as a shaken phone would, for a `SHAKEN` share of the calls."""
    if rng.uniform() < SHAKEN:
        return shaken(gray, rng.uniform(*SHAKE) * height, rng.uniform(0, np.pi))
    return gray
