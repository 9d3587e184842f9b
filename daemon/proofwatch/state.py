"""The daemon's own record (SQLite in the state directory): what was decided, when, hashes.

Used to tell done from not done across restarts, to find reused photos, and for status.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .metadata import PhotoMetadata

_SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    path BLOB PRIMARY KEY,      -- relative to the watched folder, as bytes (any file name)
    sha256 TEXT NOT NULL,       -- of the stripped file
    phash TEXT,                 -- 64-bit perceptual hash, hex
    status TEXT NOT NULL,
    first_seen REAL NOT NULL,
    decided_at REAL NOT NULL,
    rules_digest TEXT
);
-- What a photo's metadata said before it was stripped, by the stripped file's hash: kept
-- before the file is replaced, so a redo after a crash (or a reverify) still knows it.
CREATE TABLE IF NOT EXISTS facts (
    sha256 TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,     -- PhotoMetadata as JSON (never coordinates or serials)
    removed TEXT NOT NULL       -- what stripping removed, as a JSON list
);
"""


@dataclass(frozen=True)
class Record:
    path: str
    sha256: str
    phash: str | None
    status: str
    first_seen: float
    decided_at: float


class StateStore:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._db.cursor()

    def get(self, path: str) -> Record | None:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT path, sha256, phash, status, first_seen, decided_at FROM photos "
                "WHERE path = ?",
                (os.fsencode(path),),
            ).fetchone()
        return None if row is None else Record(os.fsdecode(row[0]), *row[1:])

    def record(
        self, path: str, sha256: str, phash: str | None, status: str, rules_digest: str
    ) -> None:
        now = time.time()
        with self._cursor() as cur:
            cur.execute(
                "INSERT INTO photos (path, sha256, phash, status, first_seen, decided_at, "
                "rules_digest) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "sha256 = excluded.sha256, phash = excluded.phash, status = excluded.status, "
                "decided_at = excluded.decided_at, rules_digest = excluded.rules_digest, "
                "first_seen = CASE WHEN photos.sha256 = excluded.sha256 "
                "THEN photos.first_seen ELSE excluded.first_seen END",
                (os.fsencode(path), sha256, phash, status, now, now, rules_digest),
            )

    def earlier_hashes(self, path: str, sha256: str) -> list[tuple[str, str]]:
        """Perceptual hashes of photos first seen before this one (all others if it is new)."""
        mine = self.get(path)
        since = mine.first_seen if mine is not None and mine.sha256 == sha256 else time.time()
        with self._cursor() as cur:
            rows = cur.execute(
                "SELECT path, phash FROM photos WHERE phash IS NOT NULL AND path != ? "
                "AND first_seen < ?",
                (os.fsencode(path), since),
            ).fetchall()
        return [(os.fsdecode(p), h) for p, h in rows]

    def remember_facts(self, sha256: str, meta: PhotoMetadata, removed: Sequence[str]) -> None:
        with self._cursor() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO facts (sha256, metadata, removed) VALUES (?, ?, ?)",
                (sha256, json.dumps(dataclasses.asdict(meta)), json.dumps(list(removed))),
            )

    def recall_facts(self, sha256: str) -> tuple[PhotoMetadata, tuple[str, ...]] | None:
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT metadata, removed FROM facts WHERE sha256 = ?", (sha256,)
            ).fetchone()
        if row is None:
            return None
        fields = json.loads(row[0])
        fields["found"] = tuple(fields.get("found", ()))
        return PhotoMetadata(**fields), tuple(json.loads(row[1]))

    def close(self) -> None:
        with self._lock:
            self._db.close()
