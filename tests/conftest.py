"""Shared fixtures: the fake Ollama server, the corpus, daemons started as subprocesses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from daemon_process import RunningDaemon, start_daemon
from ollama_server import FakeOllama
from schema_check import verdicts_match_the_schema  # noqa: F401  (autouse, session)

# CI runs the fuzz tests on fixed examples, so a red run is never luck; a developer's run
# explores new ones (and hypothesis keeps any failure it finds in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    server = FakeOllama().start()
    yield server
    server.stop()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[RunningDaemon]]:
    """Daemons a test starts; each is stopped at the end and must exit 0 if not stopped."""
    started: list[RunningDaemon] = []
    yield started
    for daemon in started:
        if not daemon.stopped:
            code = daemon.stop()
            assert code == 0, f"daemon exited {code}:\n{daemon.log()}"


StartDaemon = Callable[..., RunningDaemon]


@pytest.fixture
def run_daemon(tmp_path: Path, daemons: list[RunningDaemon]) -> StartDaemon:
    def start(**kwargs: Any) -> RunningDaemon:
        daemon = start_daemon(tmp_path, **kwargs)
        daemons.append(daemon)
        return daemon

    return start
