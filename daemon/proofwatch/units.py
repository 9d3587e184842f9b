"""Durations ("5s", "4h") and sizes ("50MB") as operators write them in TOML."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "500ms", "5s", "10m", "4h", "2d"."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f'{text!r} is not a duration (use e.g. "5s", "10m", "4h")')
    return float(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def parse_size(text: str) -> int:
    """Bytes in a size such as "50MB", "2GiB", "512KB"."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f'{text!r} is not a size (use e.g. "50MB", "1GiB")')
    unit = (match.group(2) or "B").lower()
    return int(float(match.group(1)) * _SIZE_BYTES[unit])


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        scale = _DURATION_SECONDS[unit]
        if seconds >= scale and seconds % scale == 0:
            return f"{int(seconds // scale)}{unit}"
    return f"{round(seconds * 1000)}ms"


def format_size(size: int) -> str:
    for unit in ("GB", "MB", "KB"):
        scale = _SIZE_BYTES[unit.lower()]
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return f"{size}B"
