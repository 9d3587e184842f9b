"""The verdict file the tracker reads, NAME.EXT.verdict.json: schema proofwatch.verdict/1.1,
written atomically, read back to tell done from not done."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import write_atomic
from ..metadata import PhotoMetadata
from ..vocabulary import Hint, ReasonCode, RuleResult, Status, worst

SCHEMA = "proofwatch.verdict/1.1"
# Versions whose files count as done when read back: 1.1 only added fields to 1.
READABLE = frozenset({"proofwatch.verdict/1", SCHEMA})
VERDICT_SUFFIX = ".verdict.json"
# metadata.method of a photo that could not be stripped and was moved out of the folder.
QUARANTINED = "quarantined"


def verdict_path(photo: Path, watch_root: Path, verdict_dir: Path | None) -> Path:
    """Beside the photo, or under `verdict_dir` mirroring the photo's place in the tree."""
    if verdict_dir is None:
        return photo.with_name(photo.name + VERDICT_SUFFIX)
    relative = photo.relative_to(watch_root)
    return verdict_dir / relative.parent / (relative.name + VERDICT_SUFFIX)


@dataclass(frozen=True)
class Verdict:
    photo: str
    status: Status
    reason: str
    reason_code: ReasonCode
    request_id: str | None = None
    rules: Sequence[RuleResult] = ()
    hints: Sequence[Hint] = ()
    metadata: dict[str, Any] | None = None
    photo_sha256: str | None = None
    rules_digest: str | None = None
    timings_ms: dict[str, int] = field(default_factory=dict)

    @property
    def quarantined(self) -> bool:
        return bool(self.metadata and self.metadata.get("method") == QUARANTINED)

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "photo": self.photo,
            "request_id": self.request_id,
            "status": self.status,
            "reason": self.reason,
            "reason_code": self.reason_code,
            "rules": [result.as_json() for result in self.rules],
            "hints": [hint.as_json() for hint in self.hints],
            "metadata": self.metadata,
            "photo_sha256": self.photo_sha256,
            "rules_digest": self.rules_digest,
            "version": __version__,
            "decided_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timings_ms": self.timings_ms,
        }


def summarize(results: Sequence[RuleResult]) -> tuple[Status, ReasonCode, str]:
    """The photo's status (the worst of its rules), the code of the first rule with that
    status, and a one-line reason a person reads."""
    if not results:
        return "review", "no_rules", "no rule applies to this photo"
    status = worst(r.status for r in results)
    deciding = [r for r in results if r.status == status]
    code = deciding[0].reason_code
    if status == "pass":
        return status, code, f"all {len(results)} rule(s) passed"
    return status, code, "; ".join(f"{r.rule}: {r.detail}" for r in deciding)


def metadata_block(meta: PhotoMetadata, removed: Sequence[str], method: str) -> dict[str, Any]:
    return {
        "removed": sorted(set(removed) | set(meta.found)),
        "had_gps": meta.had_gps,
        "captured_at": meta.captured_at,
        "camera": meta.camera,
        "method": method,
    }


def metadata_from_block(block: dict[str, Any]) -> PhotoMetadata:
    """The facts a verdict's metadata block recorded (the inverse of metadata_block)."""
    captured, removed = block.get("captured_at"), block.get("removed")
    return PhotoMetadata(
        captured_at=captured if isinstance(captured, str) else None,
        camera=block.get("camera") is True,
        had_gps=block.get("had_gps") is True,
        found=tuple(r for r in removed if isinstance(r, str)) if isinstance(removed, list) else (),
    )


def encode(verdict: Verdict) -> bytes:
    # ensure_ascii: any file name (even invalid UTF-8) still makes valid JSON.
    return (json.dumps(verdict.as_json(), indent=2, ensure_ascii=True) + "\n").encode()


def write_verdict(path: Path, verdict: Verdict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, encode(verdict), mode=0o664 & ~_UMASK)


def _read_umask() -> int:
    # os.umask can only be read by setting it: done once, at import, before any thread runs.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def read_verdict(path: Path) -> dict[str, Any] | None:
    """A verdict already written, or None when absent or unreadable (then it is redone)."""
    try:
        with open(path, "rb") as fh:
            loaded = json.loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict) or loaded.get("schema") not in READABLE:
        return None
    return loaded
