"""Normalising what was read before comparing: handwriting makes O and 0 look alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..vocabulary import DIGIT_LOOK_ALIKES

_AS_DIGITS = str.maketrans(DIGIT_LOOK_ALIKES)

STEPS: dict[str, Callable[[str], str]] = {
    "digits": lambda text: text.translate(_AS_DIGITS),
    "strip-spaces": lambda text: "".join(text.split()),
    "strip-dashes": lambda text: text.replace("-", "").replace("–", "").replace("_", ""),
    "upper": str.upper,
    "lower": str.lower,
}


def normalize(text: str, steps: Iterable[str]) -> str:
    text = text.strip()
    for step in steps:
        text = STEPS[step](text)
    return text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance; codes are short, so the simple table is fine."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]
