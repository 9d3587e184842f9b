"""Starting `proofwatch run` as a real subprocess on temp folders, and reading its output."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofgen.demo import drop_photo as drop_photo  # the tracker's way, shared

from proofwatch.rules.loader import RuleSet, load_rules

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


def wait_until(done: Callable[[], bool], timeout: float, why: Callable[[], str] | str) -> None:
    """Poll `done` until it holds or `timeout` passes (then fail saying `why`)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(why() if callable(why) else why)
        time.sleep(0.05)


def model_rules() -> RuleSet:
    """The shipped rules that ask the model (control code, seal number, device visible),
    matching every path: three questions for one photo."""
    shipped = load_rules(RULES)
    rules = (dataclasses.replace(r, match=("**",)) for r in shipped.rules if r.asks_model)
    return RuleSet(tuple(rules), shipped.digest)


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

    def wait(self, done: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Until `done()` holds; fails at once, with the log, if the daemon exits."""

        def check() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited ({self.proc.returncode}):\n{self.log()}")
            return done()

        wait_until(check, timeout, lambda: f"{what} within {timeout}s:\n{self.log()}")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        self.wait(lambda: text in self.log(), f"{text!r} not logged", timeout)

    def wait_for_verdict(self, photo: Path, timeout: float = 60.0) -> dict[str, Any]:
        target = photo.with_name(photo.name + ".verdict.json")
        self.wait(target.exists, f"no verdict for {photo.name}", timeout)
        loaded: dict[str, Any] = json.loads(target.read_bytes())
        return loaded

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
    cwd: Path | None = None,
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
            cwd=cwd,
        )
    daemon = RunningDaemon(proc, watch, state, log_path, config)
    if wait:
        daemon.wait_for_log("start-up scan queued")
    return daemon
