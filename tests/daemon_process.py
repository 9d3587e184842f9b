"""Starting `proofwatch run` as a real subprocess on temp folders, and reading its output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a daemon under test: no systemd, no OLLAMA_HOST, our code first."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "OLLAMA_HOST", "JOURNAL_STREAM")
    }
    env["PYTHONPATH"] = str(REPO / "daemon") + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def write_config(folder: Path, watch: Path, state: Path, rules: Path, body: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(
        f'watch = "{watch}"\nstate_dir = "{state}"\nrules = "{rules}"\n' + body, encoding="utf-8"
    )
    return config


@dataclass
class RunningDaemon:
    proc: subprocess.Popen[bytes]
    watch: Path
    state: Path
    log_path: Path
    config: Path
    stopped: bool = field(default=False)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not logged within {timeout}s:\n{self.log()}")

    def wait_for_verdict(self, photo: Path, timeout: float = 60.0) -> dict[str, Any]:
        target = photo.with_name(photo.name + ".verdict.json")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if target.exists():
                loaded: dict[str, Any] = json.loads(target.read_bytes())
                return loaded
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"no verdict for {photo.name} within {timeout}s:\n{self.log()}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.stopped = True
        return code


def start_daemon(
    tmp: Path,
    *,
    config_body: str = "",
    rules: Path = RULES,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    watch: Path | None = None,
    wait: bool = True,
) -> RunningDaemon:
    watch = watch or tmp / "uploads"
    state = tmp / "state"
    watch.mkdir(parents=True, exist_ok=True)
    config = write_config(tmp, watch, state, rules, config_body)
    log_path = tmp / f"daemon-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proofwatch", "run", "--config", str(config), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env or clean_env(),
        )
    daemon = RunningDaemon(proc, watch, state, log_path, config)
    if wait:
        daemon.wait_for_log("start-up scan queued")
    return daemon


def drop_photo(folder: Path, name: str, data: bytes, request: dict[str, Any] | None = None) -> Path:
    """The tracker's way: request first, then the photo written to a temp name and renamed in."""
    folder.mkdir(parents=True, exist_ok=True)
    if request is not None:
        (folder / f"{name}.request.json").write_text(json.dumps(request), encoding="utf-8")
    temp = folder / f".{name}.part"
    temp.write_bytes(data)
    final = folder / name
    os.rename(temp, final)
    return final
