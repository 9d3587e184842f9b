"""The faults of the machine photos wait on: each said once when it begins and once when
it clears, and shown meanwhile in `proofwatch status` and the systemd STATUS line."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline.faults import Fault, FsState, cleared, probe

log = logging.getLogger("proofwatch")

FaultKey = tuple[str, str]  # (kind, where)


def fault_key(fault: Fault) -> FaultKey:
    return fault.kind, fault.where


@dataclass
class _Active:
    fault: Fault
    since: float  # wall clock, for people
    then: FsState | None  # the filesystem when last met: cleared() compares with it


class FaultBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[FaultKey, _Active] = {}
        self._waiting: dict[FaultKey, int] = {}

    def report(self, fault: Fault) -> None:
        """A photo met `fault` (a worker calls this): logged the first time only."""
        key = fault_key(fault)
        state = probe(Path(fault.where))
        with self._lock:
            entry = self._active.get(key)
            if entry is not None:
                entry.then = state  # retried and failed again: wait for a further change
                return
            self._active[key] = _Active(fault, time.time(), state)
        log.error(
            "fault of the machine: %s; photos wait (hidden while not stripped), get no "
            "verdict meanwhile, and are retried",
            fault.describe(),
        )

    def cleared(self) -> set[FaultKey]:
        """Faults whose filesystem shows them over (one statvfs each, only while a fault
        lasts): their photos are tried at once."""
        with self._lock:
            active = list(self._active.items())
        return {
            key
            for key, entry in active
            if cleared(entry.fault.kind, entry.then, probe(Path(entry.fault.where)))
        }

    def settle(self, waiting: Collection[FaultKey]) -> None:
        """`waiting`: the fault of each photo still set aside. A fault no photo waits on
        any more is over, and the log says so."""
        counts: dict[FaultKey, int] = {}
        for key in waiting:
            counts[key] = counts.get(key, 0) + 1
        with self._lock:
            over = [entry for key, entry in self._active.items() if key not in counts]
            self._active = {k: e for k, e in self._active.items() if k in counts}
            self._waiting = counts
        for entry in over:
            log.info("fault of the machine cleared: %s", entry.fault.describe())

    def describe(self) -> list[dict[str, Any]]:
        """For the status file."""
        with self._lock:
            return [
                {
                    "kind": entry.fault.kind,
                    "where": entry.fault.where,
                    "what": entry.fault.describe(),
                    "since": entry.since,
                    "photos_waiting": self._waiting.get(key, 0),
                }
                for key, entry in self._active.items()
            ]

    def headline(self) -> str:
        """The start of the systemd STATUS line while a fault lasts ("" otherwise)."""
        return "".join(f"FAULT {f['what']}; {f['photos_waiting']} wait; " for f in self.describe())
