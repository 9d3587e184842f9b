"""The status file the daemon keeps in its state directory, for `proofwatch status`."""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_atomic

STATUS_FILE = "status.json"


@dataclass
class Counters:
    """What this run has done, kept by the daemon and shown by `proofwatch status`."""

    started_at: float = field(default_factory=time.time)
    by_status: dict[str, int] = field(default_factory=dict)
    last_errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10))
    last_progress: float = field(default_factory=time.monotonic)

    def progress(self) -> None:
        """A worker took or finished a photo: the pipeline is moving."""
        self.last_progress = time.monotonic()

    def count(self, status: str) -> None:
        self.by_status[status] = self.by_status.get(status, 0) + 1
        self.progress()

    def problem(self, photo: str, status: str, reason: str) -> None:
        self.last_errors.append(
            {"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "photo": photo, "status": status,
             "reason": reason[:300]}
        )  # fmt: skip

    @property
    def done(self) -> int:
        return sum(self.by_status.values())


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    data = json.dumps(status, indent=2, ensure_ascii=True).encode() + b"\n"
    write_atomic(state_dir / STATUS_FILE, data, mode=0o644)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads((state_dir / STATUS_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _set_aside(status: dict[str, Any]) -> str:
    """Photos parked without a verdict yet, and for what (empty when none)."""
    causes = (("awaiting_request", "their request"), ("awaiting_model", "the model server"),
              ("awaiting_machine", "a fault of the machine"))  # fmt: skip
    waiting = [f"{status[key]} for {what}" for key, what in causes if status.get(key)]
    return f"; set aside: {', '.join(waiting)}" if waiting else ""


def format_status(status: dict[str, Any], now: float | None = None) -> str:
    """The status file as a person reads it."""
    now = time.time() if now is None else now
    age = now - float(status.get("updated_at", 0))
    counts = status.get("done_by_status", {})
    model = status.get("model", {})
    lines = [
        f"proofwatch {status.get('version', '?')} (pid {status.get('pid', '?')}), "
        f"{'running' if age < 30 else f'not updated for {age:.0f}s (stopped?)'}",
        f"watching:  {status.get('watching')} ({status.get('watch_mode')})",
        f"queue:     {status.get('queued', 0)} waiting, {status.get('in_flight', 0)} in progress"
        + _set_aside(status),
        "done:      "
        + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing yet")
        + " (this run)",
        f"model:     {model.get('engine')}: {model.get('state')}",
        f"rules:     {status.get('rules_count')} rules, digest {status.get('rules_digest')}",
    ]
    for fault in status.get("machine_faults") or ():
        lines.append(
            f"FAULT:     {fault.get('what')}; {fault.get('photos_waiting', 0)} photo(s) wait "
            f"since {time.strftime('%H:%M:%S', time.localtime(float(fault.get('since', 0))))}"
        )
    if status.get("last_errors"):
        lines.append("last problems:")
        lines += [
            f"  {e['at']}  {e['status']:8}  {e['photo']}: {e['reason']}"
            for e in status["last_errors"]
        ]
    return "\n".join(lines)
