"""contrib/example_client.py against a real daemon: the file contract as a tracker lives it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from proofgen.samples import proof_jpeg

from conftest import StartDaemon
from ollama_server import FakeOllama

CLIENT = Path(__file__).resolve().parents[1] / "contrib" / "example_client.py"


def ollama_config(fake: FakeOllama, extra: str = "") -> str:
    return f'{extra}engine = "ollama"\n[ollama]\nhost = "{fake.url}"\nretries = 1\n'


def client(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLIENT), *args],
        capture_output=True, text=True, timeout=timeout + 30,
    )  # fmt: skip


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "IMG_0042.jpg"
    path.write_bytes(proof_jpeg("48213", seed=1, size=(800, 600)))
    return path


@pytest.mark.slow
def test_client_drops_a_photo_with_its_request_and_reads_the_verdict(
    run_daemon: StartDaemon, fake_ollama: FakeOllama, photo: Path
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    daemon = run_daemon(config_body=ollama_config(fake_ollama))
    common = ["--watch", str(daemon.watch), "--subdir", "controls", "--rule", "control-code"]

    done = client(*common, "--id", "control-981", "--expect", "code=48213", str(photo))
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert done.stdout.startswith("controls/IMG_0042.jpg: pass after ")
    assert "control-code: pass (read '48213')" in done.stdout
    assert "tracker: accept the proof" in done.stdout
    request = json.loads((daemon.watch / "controls" / "IMG_0042.jpg.request.json").read_text())
    assert request == {"id": "control-981", "rules": ["control-code"], "expect": {"code": "48213"}}

    wrong = client(
        *common, "--name", "IMG_0043.jpg", "--expect", "code=12345", "--json", str(photo)
    )
    assert wrong.returncode == 1
    verdict = json.loads(wrong.stdout)
    assert verdict["status"] == "fail" and verdict["rules"][0]["expected"] == "12345"

    taken = client(*common, "--expect", "code=48213", str(photo))  # the same name again
    assert taken.returncode == 2 and "choose another --name" in taken.stderr
    # Nothing half-written was ever left behind by either side.
    assert not [p.name for p in daemon.watch.rglob(".*")]


@pytest.mark.slow
def test_client_finds_verdicts_in_a_separate_verdict_dir(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama, photo: Path
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    verdicts = tmp_path / "verdicts"
    daemon = run_daemon(config_body=ollama_config(fake_ollama, f'verdict_dir = "{verdicts}"\n'))
    done = client("--watch", str(daemon.watch), "--subdir", "controls", "--rule", "control-code",
                  "--expect", "code=48213", "--verdict-dir", str(verdicts), str(photo))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    assert (verdicts / "controls" / "IMG_0042.jpg.verdict.json").exists()
    assert not (daemon.watch / "controls" / "IMG_0042.jpg.verdict.json").exists()


def test_client_gives_up_after_its_timeout(tmp_path: Path, photo: Path) -> None:
    done = client("--watch", str(tmp_path / "nobody"), "--timeout", "0.5", str(photo))
    assert done.returncode == 3
    assert "no verdict" in done.stderr and "proofwatch status" in done.stderr
