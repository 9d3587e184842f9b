"""What makes a training run repeat itself on 2 CPU cores: fixed seeds, deterministic torch,
and single-threaded OpenCV (its threads would race on the random augmentations' order)."""

from __future__ import annotations

import cv2
import torch


def reproducible(seed: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    cv2.setNumThreads(1)
