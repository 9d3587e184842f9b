"""The daemon's own record (SQLite in the state directory): what was decided, when, hashes.

Used to tell done from not done across restarts, to find reused photos, and for status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .metadata import PhotoMetadata

log = logging.getLogger(__name__)
_T = TypeVar("_T")

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


class StateUnavailable(Exception):
    """The state database cannot be used now: locked past the busy timeout, or its folder
    cannot be written (full, read-only, failing, gone and not to be made again). A fault
    of the machine: the photo waits, the daemon runs on."""

    def __init__(self, path: Path, detail: str):
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.detail = detail


# Another process holding the database (a backup, an operator's sqlite3 shell) is waited
# for this long before the photo is set aside and retried.
BUSY_TIMEOUT = 10.0
_MAGIC = b"SQLite format 3\x00"


def damage(error: sqlite3.Error) -> bool:
    """Whether SQLite says the file is no longer a database (rebuilt, not waited for)."""
    text = str(error).lower()
    return any(m in text for m in ("malformed", "not a database", "no such table"))


def header_problem(head: bytes, size: int) -> str | None:
    """What is wrong with a database file, told by its first 100 bytes and its size: not
    a database, or shorter than the pages its header counts (truncated). Pure."""
    if len(head) < 100 or not head.startswith(_MAGIC):
        return "not a database (emptied or overwritten)"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    if pages * page_size > size:
        return f"truncated ({size} of {pages * page_size} bytes)"
    return None


class StateStore:
    """The history, kept usable: a locked database is waited for, a deleted, truncated or
    corrupt one is set aside and made again (`rebuild` refills it, from the verdicts on
    disk in the daemon), and what cannot be done now raises StateUnavailable."""

    def __init__(self, path: Path, rebuild: Callable[[StateStore], None] | None = None):
        self.path = path
        self.rebuild = rebuild
        self._lock = threading.RLock()  # rebuild writes through the store's own methods
        self._db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        with self._lock:
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            fresh = not self.path.exists()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
                )
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                st = os.stat(self.path)
            except (OSError, sqlite3.Error) as exc:
                raise StateUnavailable(self.path, _detail(exc)) from exc
            self._db, self._identity = db, (st.st_dev, st.st_ino)
            if fresh and self.rebuild is not None:
                self.rebuild(self)
        return self._db

    def _run(self, work: Callable[[sqlite3.Cursor], _T]) -> _T:
        with self._lock:
            try:
                return work(self._connection().cursor())
            except sqlite3.Error as exc:
                if not damage(exc):
                    raise StateUnavailable(self.path, _detail(exc)) from exc
                self._set_aside(f"damaged ({exc})")
            try:
                return work(self._connection().cursor())
            except sqlite3.Error as exc:
                raise StateUnavailable(self.path, _detail(exc)) from exc

    def _set_aside(self, why: str) -> None:
        """Close the database and move what is left of it aside (kept for a post-mortem):
        the next use makes a new one, and rebuilds it."""
        log.warning("the state database %s is %s: rebuilding it", self.path, why)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_name(self.path.name + ".damaged"))
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def check(self) -> None:
        """Called now and then (the daemon's main loop, never per photo): a database file
        deleted, replaced or truncated under the open connection is noticed here, since
        SQLite keeps using what it has open and would lose everything at the next start."""
        with self._lock:
            if self._db is None:
                return
            try:
                with open(self.path, "rb") as fh:
                    st = os.fstat(fh.fileno())
                    problem = header_problem(fh.read(100), st.st_size)
                if (st.st_dev, st.st_ino) != self._identity:
                    problem = "replaced"
            except FileNotFoundError:
                problem = "gone (deleted)"
            except OSError:
                return  # unreadable now: the next write says why, for the photo it fails
            if problem is not None:
                self._set_aside(problem)
                with contextlib.suppress(StateUnavailable):
                    self._connection()

    def get(self, path: str) -> Record | None:
        row = self._run(
            lambda cur: cur.execute(
                "SELECT path, sha256, phash, status, first_seen, decided_at FROM photos "
                "WHERE path = ?",
                (os.fsencode(path),),
            ).fetchone()
        )
        return None if row is None else Record(os.fsdecode(row[0]), *row[1:])

    def record(
        self, path: str, sha256: str, phash: str | None, status: str, rules_digest: str
    ) -> None:
        now = time.time()
        self._run(
            lambda cur: cur.execute(
                "INSERT INTO photos (path, sha256, phash, status, first_seen, decided_at, "
                "rules_digest) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                "sha256 = excluded.sha256, phash = excluded.phash, status = excluded.status, "
                "decided_at = excluded.decided_at, rules_digest = excluded.rules_digest, "
                "first_seen = CASE WHEN photos.sha256 = excluded.sha256 "
                "THEN photos.first_seen ELSE excluded.first_seen END",
                (os.fsencode(path), sha256, phash, status, now, now, rules_digest),
            )
        )

    def restore(self, rows: Sequence[Record], rules_digests: Sequence[str | None]) -> None:
        """Rows found again (a rebuild), in one transaction; what the daemon recorded since
        is kept."""

        def insert(cur: sqlite3.Cursor) -> None:
            cur.execute("BEGIN")
            cur.executemany(
                "INSERT OR IGNORE INTO photos (path, sha256, phash, status, first_seen, "
                "decided_at, rules_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (os.fsencode(r.path), r.sha256, r.phash, r.status, r.first_seen,
                     r.decided_at, digest)
                    for r, digest in zip(rows, rules_digests, strict=True)
                ],
            )  # fmt: skip
            cur.execute("COMMIT")

        self._run(insert)

    def set_phash(self, path: str, sha256: str, phash: str) -> None:
        """A perceptual hash recomputed after a rebuild, for the file it was computed from."""
        self._run(
            lambda cur: cur.execute(
                "UPDATE photos SET phash = ? WHERE path = ? AND sha256 = ? AND phash IS NULL",
                (phash, os.fsencode(path), sha256),
            )
        )

    def earlier_hashes(self, path: str, sha256: str) -> list[tuple[str, str]]:
        """Perceptual hashes of photos first seen before this one (all others if it is new)."""
        mine = self.get(path)
        since = mine.first_seen if mine is not None and mine.sha256 == sha256 else time.time()
        rows = self._run(
            lambda cur: cur.execute(
                "SELECT path, phash FROM photos WHERE phash IS NOT NULL AND path != ? "
                "AND first_seen < ?",
                (os.fsencode(path), since),
            ).fetchall()
        )
        return [(os.fsdecode(p), h) for p, h in rows]

    def remember_facts(self, sha256: str, meta: PhotoMetadata, removed: Sequence[str]) -> None:
        self._run(
            lambda cur: cur.execute(
                "INSERT OR REPLACE INTO facts (sha256, metadata, removed) VALUES (?, ?, ?)",
                (sha256, json.dumps(dataclasses.asdict(meta)), json.dumps(list(removed))),
            )
        )

    def recall_facts(self, sha256: str) -> tuple[PhotoMetadata, tuple[str, ...]] | None:
        row = self._run(
            lambda cur: cur.execute(
                "SELECT metadata, removed FROM facts WHERE sha256 = ?", (sha256,)
            ).fetchone()
        )
        if row is None:
            return None
        fields = json.loads(row[0])
        fields["found"] = tuple(fields.get("found", ()))
        return PhotoMetadata(**fields), tuple(json.loads(row[1]))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def _detail(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
