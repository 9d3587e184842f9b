"""The history made again from the verdicts on disk, when the state database was lost.

Each verdict names its photo, its status, the stripped file's hash, the rules' digest and
the facts the metadata held: rows and facts come back at once. Perceptual hashes (for
reuse checks) are in no verdict: they are recomputed from the stripped photos, in the
background, for the photos whose bytes still match their verdict, so the daemon goes on
judging meanwhile (a reuse check in that window sees fewer earlier photos).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ..contract.verdict import QUARANTINED, VERDICT_SUFFIX, metadata_from_block, read_verdict
from ..engines.image import open_checked, upright_copy
from ..intake.reader import read_photo
from ..quality import perceptual_hash
from ..state import Record, StateStore
from .setup import Settings

log = logging.getLogger(__name__)


def rebuilder(settings: Settings) -> Callable[[StateStore], None]:
    """What a StateStore calls to refill a database it had to make again."""

    def rebuild(store: StateStore) -> None:
        found = list(_verdicts(settings))
        rows = [row for row, _digest, _block in found]
        store.restore(rows, [digest for _row, digest, _block in found])
        for row, _digest, block in found:
            if block is not None:
                removed = [r for r in block.get("removed") or () if isinstance(r, str)]
                store.remember_facts(row.sha256, metadata_from_block(block), removed)
        if rows:  # (a first start finds none: nothing to say)
            log.warning(
                "history rebuilt from %d verdict(s); perceptual hashes follow in the background",
                len(rows),
            )
        rehash = threading.Thread(
            target=_rehash, args=(store, settings, rows), name="rehash", daemon=True
        )
        rehash.start()

    return rebuild


def _verdicts(settings: Settings) -> Iterator[tuple[Record, str | None, dict[str, Any] | None]]:
    top = settings.verdict_dir or settings.root
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            if not name.endswith(VERDICT_SUFFIX) or name.startswith("."):
                continue
            loaded = read_verdict(Path(dirpath) / name)
            parsed = _row(loaded) if loaded is not None else None
            if parsed is not None:
                yield parsed


def _row(verdict: dict[str, Any]) -> tuple[Record, str | None, dict[str, Any] | None] | None:
    """A history row (and its rules digest and metadata block) from one verdict. Pure."""
    photo, sha, status = verdict.get("photo"), verdict.get("photo_sha256"), verdict.get("status")
    if not (isinstance(photo, str) and isinstance(sha, str) and isinstance(status, str)):
        return None
    try:
        decided = datetime.fromisoformat(str(verdict.get("decided_at"))).timestamp()
    except ValueError:
        decided = 0.0
    block = verdict.get("metadata")
    keep = isinstance(block, dict) and block.get("method") != QUARANTINED
    digest = verdict.get("rules_digest")
    return (
        Record(photo, sha, None, status, decided, decided),
        digest if isinstance(digest, str) else None,
        block if keep else None,
    )


def _rehash(store: StateStore, settings: Settings, rows: list[Record]) -> None:
    for row in sorted(rows, key=lambda r: r.first_seen):
        try:
            data, _snapshot, _mode = read_photo(settings.root / row.path, settings.max_file_size)
            if hashlib.sha256(data).hexdigest() != row.sha256:
                continue  # changed since its verdict: it is judged again, and hashed then
            image = upright_copy(open_checked(data, settings.max_pixels), settings.image_side)
            store.set_phash(row.path, row.sha256, perceptual_hash(image))
        except Exception as exc:  # unreadable now, or an image the pipeline rejects too
            log.debug("no perceptual hash recomputed for %r: %s", row.path, exc)
