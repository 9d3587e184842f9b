"""Verdict statuses and how they combine: the photo's status is the worst of its rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Status = Literal["pass", "fail", "review", "rejected", "error"]
STATUSES: tuple[Status, ...] = ("pass", "review", "fail", "error", "rejected")
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}


def worst(statuses: Iterable[Status]) -> Status:
    """rejected > error > fail > review > pass; no statuses at all is review, never pass."""
    return max(statuses, key=_SEVERITY.__getitem__, default="review")
