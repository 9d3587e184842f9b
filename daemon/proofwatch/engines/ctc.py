"""Reading a recogniser's output (pure): greedy CTC decoding with the probability of every
character, and the runs of digits in a decoded line.

PP-OCR's recogniser and the line recogniser (`lines.py`) both give, for each frame along
a line, the probability of every character of their charset (class 0 the CTC blank).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy.typing as npt

from ..vocabulary import DIGIT_LOOK_ALIKES, DIGITS, Char

Array = npt.NDArray[Any]


def ctc_decode(probs: Array, charset: Sequence[str]) -> tuple[str, tuple[Char, ...]]:
    """Greedy CTC over per-frame probabilities (T x C, class 0 = blank) with per-char detail.

    Each character's probability is its best frame's; P(0..9) at its place is read at that
    frame, with a digit look-alike's probability counted for the digit it stands for.
    """
    digit_ids = [charset.index(d) for d in DIGITS]
    alike_ids = {
        charset.index(a): DIGITS.index(d) for a, d in DIGIT_LOOK_ALIKES.items() if a in charset
    }
    chars: list[Char] = []
    for k, peak in _ctc_peaks(probs):
        row = probs[peak]
        dist = [float(row[i]) for i in digit_ids]
        for i, d in alike_ids.items():
            dist[d] += float(row[i])
        text = charset[k]
        if text in DIGITS or text in DIGIT_LOOK_ALIKES:
            digit = DIGIT_LOOK_ALIKES.get(text, text)
            chars.append(Char(digit, dist[DIGITS.index(digit)], tuple(dist)))
        else:
            chars.append(Char(text, float(row[k])))
    return "".join(c.text for c in chars), tuple(chars)


def ctc_frames(probs: Array) -> tuple[int, ...]:
    """The frame where greedy CTC reads each character of the line: where it stands."""
    return tuple(peak for _, peak in _ctc_peaks(probs))


def _ctc_peaks(probs: Array) -> Iterator[tuple[int, int]]:
    """Each character greedy CTC reads: its class, and the surest frame of its run."""
    best = probs.argmax(axis=1)
    t = 0
    while t < len(best):
        k = int(best[t])
        end = t
        while end + 1 < len(best) and best[end + 1] == k:
            end += 1
        if k != 0:
            yield k, t + int(probs[t : end + 1, k].argmax())
        t = end + 1


def digit_runs(text: str, chars: Sequence[Char]) -> list[tuple[str, tuple[Char, ...]]]:
    """The runs of digits in a decoded line (spaces inside a code are skipped), with chars."""
    runs: list[tuple[str, tuple[Char, ...]]] = []
    current: list[Char] = []
    for char in [*chars, Char("\n", 1.0)]:
        if char.text in DIGITS:
            current.append(char)
        elif char.text == " " and current:
            continue
        elif current:
            runs.append(("".join(c.text for c in current), tuple(current)))
            current = []
    return runs
