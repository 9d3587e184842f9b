"""What makes a training run repeat itself on 2 CPU cores: fixed seeds, deterministic torch,
and single-threaded OpenCV (its threads would race on the random augmentations' order)."""

from __future__ import annotations

import argparse

import cv2
import torch


def add_seed_option(parser: argparse.ArgumentParser, default: int) -> None:
    """`--seed`: another seed draws other training data and first weights; two nets so
    trained differ as much as a retrained reader does by chance."""
    parser.add_argument(
        "--seed", type=int, default=default, help=f"seeds the training data and net ({default})"
    )


def reproducible(seed: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    cv2.setNumThreads(1)
