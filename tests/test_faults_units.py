"""The decisions behind faults of the machine, without files: which errors are the
machine's, the backoff, when a fault shows cleared, held names, a database header."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from proofwatch.atomic import WriteFailed
from proofwatch.intake.reader import Rejected
from proofwatch.pipeline.faults import FsState, backoff, cleared, machine_fault
from proofwatch.pipeline.held import held_name, held_photos, parse_held
from proofwatch.state import StateUnavailable, damage, header_problem

HERE = Path("/srv/uploads")


def rejected_by(cause: OSError) -> Rejected:
    """What intake.reader raises: Rejected(...) from None, the OSError as its context."""
    try:
        try:
            raise cause
        except OSError:
            raise Rejected("the file cannot be read") from None
    except Rejected as exc:
        return exc


@pytest.mark.parametrize(
    ("code", "kind"),
    [(errno.ENOSPC, "disk_full"), (errno.EDQUOT, "disk_full"), (errno.EROFS, "read_only"),
     (errno.EIO, "io_error"), (errno.EMFILE, "resources")],
)  # fmt: skip
def test_the_machine_s_errors_are_faults_even_behind_a_rejection(code: int, kind: str) -> None:
    fault = machine_fault(rejected_by(OSError(code, "x")), HERE)
    assert fault is not None and (fault.kind, fault.where) == (kind, str(HERE))


def test_a_bad_photo_is_no_fault() -> None:
    assert machine_fault(Rejected("the file is empty (0 bytes)"), HERE) is None
    assert machine_fault(rejected_by(OSError(errno.EACCES, "denied")), HERE) is None
    assert machine_fault(ValueError("a bug"), HERE) is None


def test_any_error_writing_is_the_machine_s_and_names_the_folder_written() -> None:
    denied = WriteFailed(errno.EACCES, "Permission denied", "/srv/verdicts/a.jpg.verdict.json")
    fault = machine_fault(denied, HERE)
    assert fault is not None and (fault.kind, fault.where) == ("unwritable", "/srv/verdicts")
    plain = machine_fault(PermissionError(errno.EACCES, "denied"), HERE, writing=True)
    assert plain is not None and plain.kind == "unwritable"


def test_an_unusable_state_database_is_a_fault() -> None:
    fault = machine_fault(StateUnavailable(Path("/var/lib/pw/db"), "database is locked"), HERE)
    assert fault is not None and fault.kind == "state" and fault.where == "/var/lib/pw/db"


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(10_000) == 60


def test_a_fault_shows_cleared_when_space_is_freed_or_the_fs_is_writable() -> None:
    full, freed, ro = FsState(0, False), FsState(4096, False), FsState(4096, True)
    assert cleared("disk_full", full, freed)
    assert not cleared("disk_full", full, full)
    assert not cleared("disk_full", full, ro)
    assert cleared("read_only", ro, freed) and not cleared("read_only", ro, ro)
    assert not cleared("io_error", full, freed)  # nothing to see: backoff alone
    assert not cleared("disk_full", None, freed)


def test_held_names_keep_the_name_and_the_mode() -> None:
    name = held_name("IMG 0042.jpg", 0o100644)
    assert name == ".proofwatch-held-0644-IMG 0042.jpg"
    assert parse_held(name) == ("IMG 0042.jpg", 0o644)
    assert parse_held("IMG_0042.jpg") is None
    assert parse_held(".proofwatch-tmp-ab12-IMG.jpg") is None
    names = [held_name("a.jpg", 0o640), held_name("b.jpg", 0o644), "b.jpg"]
    assert held_photos(names) == ["a.jpg"]  # b.jpg is back under its name


def test_a_database_header_tells_emptied_and_truncated_files() -> None:
    head = bytearray(b"SQLite format 3\x00" + bytes(84))
    head[16:18] = (4096).to_bytes(2, "big")
    head[28:32] = (5).to_bytes(4, "big")
    assert header_problem(bytes(head), 5 * 4096) is None
    assert "truncated" in (header_problem(bytes(head), 4096) or "")
    assert "not a database" in (header_problem(b"", 0) or "")
    assert damage(sqlite3.DatabaseError("database disk image is malformed"))
    assert damage(sqlite3.OperationalError("no such table: photos"))
    assert not damage(sqlite3.OperationalError("database is locked"))


def test_proofwatch_status_shows_a_fault_of_the_machine() -> None:
    from proofwatch.service.status_file import format_status

    fault = {"what": "no space left: /srv/uploads", "photos_waiting": 2, "since": 0.0}
    shown = format_status({"updated_at": 0.0, "machine_faults": [fault]}, now=1.0)
    assert "FAULT:     no space left: /srv/uploads; 2 photo(s) wait" in shown


def test_status_says_how_many_photos_are_set_aside_and_why() -> None:
    from proofwatch.service.status_file import format_status

    status = {"updated_at": 0.0, "awaiting_request": 2, "awaiting_model": 5, "awaiting_machine": 0}
    shown = format_status(status, now=1.0)
    assert "set aside: 2 for their request, 5 for the model server" in shown
    assert "set aside" not in format_status({"updated_at": 0.0}, now=1.0)
