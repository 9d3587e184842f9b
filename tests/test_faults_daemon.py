"""Faults of the machine through the real daemon, with real faults: a full tmpfs, a
read-only remount, a state database deleted, truncated and locked, a verdict folder on a
full filesystem. Each asserts what DESIGN.md promises: no verdict while the fault lasts,
no photo readable with its metadata, the true verdict once it clears, the daemon alive.

Mounts live in the daemon's own mount namespace (`unshare -m`, made private): the test
reaches them through /proc/PID/root, and they vanish with the daemon, even on failure.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import exifread
import pytest

from daemon_process import RunningDaemon, clean_env, drop_photo, wait_until, write_config
from ollama_server import FakeOllama
from test_intake_daemon import PRESENCE_RULES, config_for, small_photo

HELD = ".proofwatch-held-"


def _can_mount() -> str | None:
    """None when this machine lets the tests mount in a namespace of their own, else why not."""
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        return "unshare or nsenter is not installed"
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"],
        capture_output=True, text=True,
    )  # fmt: skip
    return None if probe.returncode == 0 else f"cannot mount in a namespace: {probe.stderr}"


NO_MOUNT = _can_mount()
needs_mount = pytest.mark.skipif(NO_MOUNT is not None, reason=NO_MOUNT or "")


@contextlib.contextmanager
def namespaced_daemon(
    tmp: Path,
    watch: Path,
    setup: str | None,
    body: str,
    verdict_dir: Path | None = None,
    program: tuple[str, ...] = (sys.executable, "-m", "proofwatch"),
    env: dict[str, str] | None = None,
) -> Iterator[RunningDaemon]:
    """`proofwatch run` in a mount namespace of its own, after `setup` (shell) made its
    mounts there (None: no namespace); RunningDaemon.watch is the watched folder as the
    test reaches it. Stopped, and must exit 0, at the end."""
    watch.mkdir(parents=True, exist_ok=True)
    extra = f'verdict_dir = "{verdict_dir}"\n' if verdict_dir else ""
    config = write_config(tmp, watch, tmp / "state", PRESENCE_RULES, extra + body)
    log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
    command = [*program, "run", "--config", str(config)]
    if setup is not None:
        namespace = ["unshare", "-m", "--propagation", "private", "sh", "-c"]
        command = [*namespace, f'{setup} && exec "$@"', "sh", *command]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env or clean_env(),
        )  # fmt: skip
    seen = Path(f"/proc/{proc.pid}/root") / watch.relative_to("/")
    daemon = RunningDaemon(proc, seen, tmp / "state", log_path, config)
    try:
        daemon.wait_for_log("start-up scan queued")
        yield daemon
    finally:
        code = daemon.stop()
        assert code == 0, f"daemon exited {code}:\n{daemon.log()}"


def in_namespace(daemon: RunningDaemon, command: str) -> None:
    subprocess.run(["nsenter", "-t", str(daemon.proc.pid), "-m", "sh", "-c", command], check=True)


def fill(folder: Path) -> Path:
    """Fill the filesystem under `folder` to the last byte; the file that fills it."""
    filler = folder / ".filler"
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)
    return filler


def metadata_tags(photo: Path) -> dict[str, Any]:
    return dict(exifread.process_file(io.BytesIO(photo.read_bytes()), details=False))


def held_copies(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(HELD)]


def readable_with_metadata(folder: Path) -> list[str]:
    """Photos under `folder` anyone but their owner could read that still hold metadata."""
    found = []
    for photo in folder.rglob("*.jpg"):
        if photo.stat().st_mode & 0o044 and metadata_tags(photo):
            found.append(photo.name)
    return found


def verdict_of(photo: Path, verdict_dir: Path | None = None) -> Path:
    name = photo.name + ".verdict.json"
    return (verdict_dir / name) if verdict_dir else photo.with_name(name)


def assert_waits_hidden(daemon: RunningDaemon, photo: Path, what: str) -> None:
    """The fault is said once, the photo has no verdict and is not readable with its
    metadata: held under a hidden name with no group or other bits."""
    daemon.wait_for_log(f"fault of the machine: {what}")
    daemon.wait(lambda: bool(held_copies(photo.parent)), f"{photo.name} not hidden")
    time.sleep(3.5)  # a few backoff retries: still no verdict, still said once
    assert not verdict_of(photo).exists()
    assert not photo.exists()
    (held,) = held_copies(photo.parent)
    assert held.stat().st_mode & 0o077 == 0, oct(held.stat().st_mode)
    assert metadata_tags(held), "the held copy is the unstripped photo"
    assert not readable_with_metadata(daemon.watch)
    assert daemon.log().count("fault of the machine:") == 1, daemon.log()
    status = json.loads((daemon.state / "status.json").read_text())
    assert status["awaiting_machine"] == 1 and status["machine_faults"], status


def assert_true_verdict(daemon: RunningDaemon, photo: Path, mode: int = 0o644) -> None:
    verdict = daemon.wait_for_verdict(photo, 30)
    assert verdict["status"] == "pass", verdict
    assert verdict["metadata"]["had_gps"] is True
    assert not metadata_tags(photo)
    assert photo.stat().st_mode & 0o777 == mode
    assert not held_copies(photo.parent)
    daemon.wait_for_log("fault of the machine cleared")
    assert_said_once(daemon)
    assert daemon.proc.poll() is None


def assert_said_once(daemon: RunningDaemon) -> None:
    """One error line, the fault's, and no traceback."""
    errors = [line for line in daemon.log().splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "fault of the machine:" in errors[0], daemon.log()
    assert "Traceback" not in daemon.log()


@needs_mount
def test_a_full_upload_folder_hides_the_photo_and_judges_it_once_space_is_freed(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    watch = tmp_path / "uploads"
    mount = f"mount -t tmpfs -o size=1m,mode=0755 tmpfs {watch}"
    with namespaced_daemon(tmp_path, watch, mount, config_for(fake_ollama)) as daemon:
        first = drop_photo(daemon.watch, "first.jpg", small_photo(1))
        assert daemon.wait_for_verdict(first)["status"] == "pass"
        # The tracker's photo is in, then the disk fills: stripping needs a temp file.
        (daemon.watch / ".phone.part").write_bytes(small_photo(2))
        os.chmod(daemon.watch / ".phone.part", 0o644)
        filler = fill(daemon.watch)
        phone = daemon.watch / "phone.jpg"
        os.rename(daemon.watch / ".phone.part", phone)
        assert "GPS GPSLatitude" in metadata_tags(phone)
        assert_waits_hidden(daemon, phone, "no space left")
        filler.unlink()
        assert_true_verdict(daemon, phone)


@needs_mount
def test_a_read_only_remount_makes_no_verdict_and_is_judged_once_writable(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    """Nothing can be changed on a read-only filesystem, not even hidden: the photo stays
    as it was (the one fault where it does), the daemon says so, and judges it once the
    filesystem is writable again."""
    fake_ollama.answers = {"device_visible": "yes"}
    watch = tmp_path / "uploads"
    watch.mkdir()
    phone = drop_photo(watch, "phone.jpg", small_photo(3))
    read_only = f"mount --bind {watch} {watch} && mount -o remount,ro,bind {watch}"
    with namespaced_daemon(tmp_path, watch, read_only, config_for(fake_ollama)) as daemon:
        daemon.wait_for_log("fault of the machine: the filesystem is read-only")
        time.sleep(2.0)
        assert not verdict_of(watch / "phone.jpg").exists()
        assert daemon.log().count("fault of the machine:") == 1, daemon.log()
        in_namespace(daemon, f"mount -o remount,rw,bind {watch}")
        assert_true_verdict(daemon, daemon.watch / phone.name)


@needs_mount
def test_a_full_verdict_folder_makes_no_verdict_and_writes_it_once_freed(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    watch, verdicts = tmp_path / "uploads", tmp_path / "verdicts"
    verdicts.mkdir()
    mount = f"mount -t tmpfs -o size=256k tmpfs {verdicts}"
    body = config_for(fake_ollama)
    with namespaced_daemon(tmp_path, watch, mount, body, verdict_dir=verdicts) as daemon:
        seen = Path(f"/proc/{daemon.proc.pid}/root") / verdicts.relative_to("/")
        filler = fill(seen)
        phone = drop_photo(watch, "phone.jpg", small_photo(4))
        daemon.wait_for_log("fault of the machine: no space left")
        time.sleep(2.0)
        assert not verdict_of(phone, seen).exists()
        assert not metadata_tags(phone), "stripped before the verdict was due"
        filler.unlink()
        daemon.wait(verdict_of(phone, seen).exists, "no verdict once freed")
        assert json.loads(verdict_of(phone, seen).read_text())["status"] == "pass"
        daemon.wait_for_log("fault of the machine cleared")
        assert_said_once(daemon)


def rows(state: Path) -> dict[str, tuple[str, str | None]]:
    with contextlib.closing(sqlite3.connect(state / "proofwatch.sqlite3")) as db:
        found = db.execute("SELECT path, status, phash FROM photos").fetchall()
    return {os.fsdecode(p): (s, h) for p, s, h in found}


def test_the_state_database_deleted_truncated_or_locked_is_rebuilt_or_waited_for(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    from daemon_process import start_daemon

    fake_ollama.answers = {"device_visible": "yes"}
    daemon = start_daemon(tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES)
    try:
        db = daemon.state / "proofwatch.sqlite3"
        first = drop_photo(daemon.watch, "first.jpg", small_photo(5))
        assert daemon.wait_for_verdict(first)["status"] == "pass"
        for name in ("proofwatch.sqlite3", "proofwatch.sqlite3-wal", "proofwatch.sqlite3-shm"):
            (daemon.state / name).unlink(missing_ok=True)
        daemon.wait_for_log("is gone (deleted): rebuilding it")
        second = drop_photo(daemon.watch, "second.jpg", small_photo(6))
        assert daemon.wait_for_verdict(second)["status"] == "pass"
        wait_until(lambda: set(rows(daemon.state)) == {"first.jpg", "second.jpg"}, 10, "rows")
        wait_until(lambda: rows(daemon.state)["first.jpg"][1] is not None, 10, "no phash")
        # Truncated (a full disk at the wrong moment, a careless restore): noticed, rebuilt.
        os.truncate(db, 1024)
        daemon.wait_for_log("truncated")
        third = drop_photo(daemon.watch, "third.jpg", small_photo(7))
        assert daemon.wait_for_verdict(third)["status"] == "pass"
        wait_until(lambda: len(rows(daemon.state)) == 3, 10, "rows after truncation")
        # Locked by another process for a while: waited for, not a verdict.
        with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            fourth = drop_photo(daemon.watch, "fourth.jpg", small_photo(8))
            time.sleep(2.0)
            assert not verdict_of(fourth).exists()
            other.execute("COMMIT")
        assert daemon.wait_for_verdict(fourth)["status"] == "pass"
        assert "Traceback" not in daemon.log()
        assert daemon.proc.poll() is None
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_an_io_error_reading_a_photo_hides_it_and_judges_it_once_reads_work(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    """The one simulated fault (tests/eio_daemon.py says why): EIO from os.read."""
    fake_ollama.answers = {"device_visible": "yes"}
    flag = tmp_path / "eio"
    env = clean_env(PROOFWATCH_TEST_EIO=str(flag))
    env["PYTHONPATH"] = f"{Path(__file__).parent}{os.pathsep}{env['PYTHONPATH']}"
    program = (sys.executable, str(Path(__file__).parent / "eio_daemon.py"))
    watch = tmp_path / "uploads"
    body = config_for(fake_ollama)
    with namespaced_daemon(tmp_path, watch, None, body, program=program, env=env) as daemon:
        flag.touch()
        phone = drop_photo(daemon.watch, "phone.jpg", small_photo(9))
        os.chmod(phone, 0o644)
        assert_waits_hidden(daemon, phone, "I/O error")
        flag.unlink()
        assert_true_verdict(daemon, phone)
