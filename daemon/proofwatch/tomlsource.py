"""Reading operator-written TOML with errors that name the file, the line and the key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class SourceError(Exception):
    """A problem in an operator's file, located as precisely as we can."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, key: str = ""):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


_TABLE = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*(#.*)?$")


def locate(text: str, table: Sequence[str], key: str) -> int | None:
    """The 1-based line where `key` is set inside `[table]` (top level when empty)."""
    current: tuple[str, ...] = ()
    wanted = tuple(table)
    key_line = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TABLE.match(line)
        if header:
            current = tuple(part.strip().strip("\"'") for part in header.group(1).split("."))
        elif current == wanted and key_line.match(line):
            return number
    return None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse `path`; raise SourceError with the line tomllib reports."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read: {exc}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise SourceError(path, f"invalid TOML: {exc}", line) from None
