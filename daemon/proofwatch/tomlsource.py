"""Reading operator-written TOML (the config file, the rule files) with errors that name the
file, the line and the key, and that are collected so that a check reports them all at once.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class SourceError(Exception):
    """A problem in an operator's file, located as precisely as we can."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, key: str = ""):
        self.path, self.line, self.key, self.message = str(path), line, key, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


class SourceErrors(SourceError):
    """Every problem found in one go, in file and line order; reads as one per line."""

    def __init__(self, errors: Iterable[SourceError]):
        self.errors = tuple(errors)
        first = self.errors[0]
        super().__init__(first.path, first.message, first.line, first.key)
        self.args = ("\n".join(str(error) for error in self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


def raise_any(errors: Iterable[SourceError]) -> None:
    """Raise the problems collected, if there are any: one as itself, several together."""
    found = list(errors)
    if len(found) == 1:
        raise found[0]
    if found:
        raise SourceErrors(found)


Place = tuple[str | int, ...]  # a key's place: ("ollama", "host"), ("examples", 0, "photo")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")


def _unquote(key: str) -> str:
    return key.strip().strip("\"'")


class KeyLines:
    """Where each key of one TOML text is written: its 1-based line, by its place. The items
    of an array of tables (`[[examples]]`) are numbered from 0, and a table written below
    one (`[examples.request]`) belongs to its last item."""

    def __init__(self, text: str):
        self._lines: dict[Place, int] = {}
        arrays: dict[tuple[str, ...], int] = {}  # array of tables -> its last item's index
        table: Place = ()
        in_string = False
        for number, line in enumerate(text.splitlines(), start=1):
            quotes = line.count('"""') + line.count("'''")
            if in_string:  # inside a multi-line string nothing is a key
                in_string = quotes % 2 == 0
                continue
            header = _HEADER.match(line)
            if header:
                names = tuple(_unquote(part) for part in header.group(2).split("."))
                if header.group(1) == "[[":
                    arrays[names] = arrays.get(names, -1) + 1
                table = self._place(names, arrays)
                self._lines.setdefault(table, number)
                self._lines.setdefault(names[:1], number)  # [examples] where [[...]] is meant
                continue
            key = _KEY.match(line)
            if key:
                self._lines.setdefault((*table, _unquote(key.group(1))), number)
            in_string = quotes % 2 == 1

    @staticmethod
    def _place(names: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> Place:
        place: Place = ()
        for depth, name in enumerate(names, start=1):
            place = (*place, name)
            if names[:depth] in arrays:
                place = (*place, arrays[names[:depth]])
        return place

    def find(self, *place: str | int) -> int | None:
        """The line of `place`, else of the nearest enclosing table written in the file."""
        while place:
            if place in self._lines:
                return self._lines[place]
            place = place[:-1]
        return None


def parse(path: Path, data: bytes) -> tuple[dict[str, Any], str]:
    """`data`, the bytes of `path`, as TOML (and as text); a SourceError naming the line, and
    the key written on it, when it is not UTF-8 or not valid TOML."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(path, "not UTF-8 text", data[: exc.start].count(b"\n") + 1) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        lines = text.splitlines()
        found = re.search(r"at line (\d+)", message)
        line = int(found.group(1)) if found else max(1, len(lines))
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)$", "", message)
        key = _KEY.match(lines[line - 1]) if 0 < line <= len(lines) else None
        name = _unquote(key.group(1)) if key else ""
        raise SourceError(path, f"invalid TOML: {message}", line, name) from None


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Read and parse `path`; SourceError when it cannot be read or is not valid TOML."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(path, f"cannot read: {exc.strerror or exc}") from exc
    return parse(path, data)
