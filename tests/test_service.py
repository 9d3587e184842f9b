"""The daemon as a systemd service: the notify protocol, reloads, stopping, logs, sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from daemon_process import clean_env, drop_photo, start_daemon, wait_until
from notify_socket import notify_socket
from ollama_server import FakeOllama
from proofwatch.service.logs import printable
from proofwatch.service.status_file import read_status
from test_intake_daemon import PRESENCE_RULES, config_for, small_photo


def test_notify_protocol_end_to_end(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    with notify_socket() as sock:
        env = clean_env(NOTIFY_SOCKET=sock.env_value, WATCHDOG_USEC="1000000")
        daemon = start_daemon(
            tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES, env=env
        )
        try:
            ready = sock.wait_for(lambda m: m.get("READY") == "1")
            # Watchdog pings at half of WATCHDOG_USEC while the pipeline is healthy.
            first = sock.wait_for(lambda m: m.get("WATCHDOG") == "1")
            count = len(sock.messages)
            sock.wait_for(lambda m: m.get("WATCHDOG") == "1", start=count, timeout=3)
            status = sock.wait_for(lambda m: "STATUS" in m, timeout=10)
            assert "watching" in (status.get("STATUS") or "")
            assert first.at >= ready.at

            photo = drop_photo(daemon.watch, "a.jpg", small_photo(1))
            daemon.wait_for_verdict(photo)

            count = len(sock.messages)
            daemon.signal(signal.SIGHUP)
            reloading = sock.wait_for(lambda m: m.get("RELOADING") == "1", start=count)
            usec = int(reloading.get("MONOTONIC_USEC") or 0)
            assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 30_000_000
            after = sock.messages.index(reloading)
            sock.wait_for(lambda m: m.get("READY") == "1", start=after + 1)

            count = len(sock.messages)
            assert daemon.stop() == 0
            sock.wait_for(lambda m: m.get("STOPPING") == "1", start=count)
        finally:
            daemon.stop()


def test_without_notify_socket_the_daemon_is_silent_and_listens_nowhere(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    daemon = start_daemon(tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES)
    try:
        photo = drop_photo(daemon.watch, "a.jpg", small_photo(2))
        daemon.wait_for_verdict(photo)  # it has talked to the model server by now
        inodes = socket_inodes(daemon.proc.pid)
        listening = listening_inodes()
        assert not inodes & listening, "the daemon opened a network listener"
    finally:
        assert daemon.stop() == 0


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listening_inodes() -> set[str]:
    """Inodes of TCP sockets in LISTEN and of every bound UDP socket, IPv4 and IPv6."""
    found = set()
    for table, listen_only in (("tcp", True), ("tcp6", True), ("udp", False), ("udp6", False)):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            state, inode = fields[3], fields[9]
            if not listen_only or state == "0A":
                found.add(inode)
    return found


def test_sighup_with_a_broken_config_keeps_the_old_one(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    daemon = start_daemon(tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES)
    try:
        good = daemon.config.read_text()
        daemon.config.write_text("stabilty_delay = 3\n" + good)
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("reload failed, keeping the previous configuration")
        assert "stabilty_delay" in daemon.log()
        photo = drop_photo(daemon.watch, "after.jpg", small_photo(3))
        assert daemon.wait_for_verdict(photo)["status"] == "pass"

        # `proofwatch status` shows the work done and the failed reload, as text and JSON.
        def counted() -> bool:
            shown = json.loads(status_of(daemon.state, "--json").stdout)
            return bool(shown.get("done_by_status") == {"pass": 1})

        daemon.wait(counted, "the status file never counted the photo", 10)
        status = json.loads(status_of(daemon.state, "--json").stdout)
        assert status["pid"] == daemon.proc.pid
        assert "stabilty_delay" in status["last_errors"][-1]["reason"]
        text = status_of(daemon.state).stdout
        assert "1 pass" in text and "running" in text and "stabilty_delay" in text
    finally:
        assert daemon.stop() == 0


def test_the_ocr_model_is_loaded_at_start_not_by_the_first_photo(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path, config_body='engine = "ocr"\n')
    try:

        def model_state() -> str:
            shown = read_status(daemon.state) or {"model": {"state": "no status file yet"}}
            return str(shown["model"]["state"])

        daemon.wait(lambda: model_state() == "embedded OCR, ready", "OCR never loaded", 60)
        assert not any(daemon.watch.iterdir())  # no photo asked for it
    finally:
        assert daemon.stop() == 0


def status_of(state_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proofwatch", "status", "--state-dir", str(state_dir), *flags],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=True,
    )


def test_journald_gets_priority_prefixes_and_one_line_per_photo(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "no"}
    daemon = start_daemon(
        tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES, wait=False
    )
    daemon.stop()
    # Under journald, stderr is the stream JOURNAL_STREAM names: point it at the log file.
    log_path = tmp_path / "journal.log"
    log_path.touch()
    st = log_path.stat()
    env = clean_env(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proofwatch", "run", "--config", str(daemon.config)],
            stdout=log,
            stderr=log,
            env=env,
        )
    try:
        wait_until(
            lambda: proc.poll() is None and b"start-up scan queued" in log_path.read_bytes(),
            30,
            log_path.read_text,
        )
        odd = os.fsdecode(b"evil\n<3>forged-\xff.jpg")
        photo = drop_photo(daemon.watch, odd, small_photo(4))
        verdict_file = photo.with_name(photo.name + ".verdict.json")
        wait_until(verdict_file.exists, 30, log_path.read_text)
        assert json.loads(verdict_file.read_bytes())["status"] == "fail"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    lines = log_path.read_text(errors="replace").splitlines()
    assert lines and all(line[:3] in ("<6>", "<4>", "<3>", "<7>", "<2>") for line in lines), lines
    photo_lines = [line for line in lines if "FAIL" in line]
    assert len(photo_lines) == 1 and photo_lines[0].startswith("<6>")
    assert printable(odd) in photo_lines[0]
    assert not any(line.startswith("<3>forged") for line in lines)


def test_a_missing_watch_folder_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "proofwatch", "run", "--watch", str(tmp_path / "nowhere"),
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, env=clean_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "watch:" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_state_dir_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "proofwatch", "run", "--watch", str(tmp_path),
         "--state-dir", str(blocker / "state")],
        capture_output=True, text=True, env=clean_env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"Not a directory: {blocker / 'state'}" in result.stderr
    assert "Traceback" not in result.stderr
