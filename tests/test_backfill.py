"""`proofwatch backfill`: a folder that already holds photos, through the daemon's code path.

The fake Ollama reads 48213 on every photo; whether that passes is up to each request.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import exifread
import pytest
from proofgen.samples import proof_jpeg

from daemon_process import clean_env
from ollama_server import FakeOllama, Reply
from proofwatch.cli import main
from proofwatch.service.lock import take_watch_lock

CODE_RULE = """\
name = "code"
kind = "text"
question = "Transcribe the number handwritten on the paper, exactly as written."
answer = "^[0-9]{5}$"
expect = "request.expect.code"
normalize = ["digits"]
engine = "ollama"
"""
CAMERA_RULE = """\
name = "camera"
kind = "metadata"
require_camera = true
"""


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    return proof_jpeg("48213", seed=3, size=(640, 480))


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The command sets up logging for a terminal; give pytest its handlers back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("PROOFWATCH_CONFIG", "OLLAMA_HOST", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("proofwatch.cli.common.DEFAULT_CONFIG", tmp_path / "absent.toml")


class Setup:
    def __init__(self, tmp: Path, fake: FakeOllama):
        self.watch = tmp / "uploads"
        self.rules = tmp / "rules"
        self.state = tmp / "state"
        self.watch.mkdir()
        self.rules.mkdir()
        (self.rules / "code.toml").write_text(CODE_RULE, encoding="utf-8")
        (self.rules / "camera.toml").write_text(CAMERA_RULE, encoding="utf-8")
        self.config = tmp / "config.toml"
        self.config.write_text(
            f'watch = "{self.watch}"\nrules = "{self.rules}"\nstate_dir = "{self.state}"\n'
            f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\nretries = 1\n',
            encoding="utf-8",
        )

    def photo(self, relative: str, data: bytes, code: str | None = None) -> Path:
        path = self.watch / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if code is not None:
            request = {"id": relative, "expect": {"code": code}}
            Path(f"{path}.request.json").write_text(json.dumps(request), encoding="utf-8")
        return path

    def args(self, *extra: str) -> list[str]:
        return ["backfill", "--config", str(self.config), *extra]


def verdict(photo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(f"{photo}.verdict.json").read_bytes())
    return loaded


@pytest.fixture
def setup(tmp_path: Path, fake_ollama: FakeOllama) -> Setup:
    fake_ollama.answers = {"code": "48213"}
    return Setup(tmp_path, fake_ollama)


@pytest.fixture
def mixed(setup: Setup, photo_bytes: bytes) -> dict[str, Path]:
    """Two that pass, one wrong code, one without a request, one that is not a photo."""
    return {
        "a": setup.photo("controls/a.jpg", photo_bytes, "48213"),
        "b": setup.photo("controls/b.jpg", photo_bytes, "48213"),
        "c": setup.photo("controls/c.jpg", photo_bytes, "11111"),
        "d": setup.photo("d.jpg", photo_bytes),
        "junk": setup.photo("junk.png", b"not a photo at all"),
    }


def test_backfill_gives_every_photo_its_verdict_and_sums_up(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.args()) == 0
    out = capsys.readouterr().out
    assert f"backfill {setup.watch}: 5 photo(s), 0 already verified, 5 to process" in out
    assert "done in" in out and "5 verdict(s) written" in out
    assert "2 pass, 1 review, 1 fail, 1 rejected" in out
    assert "problems:\n  junk.png: rejected:" in out
    statuses = {name: verdict(photo)["status"] for name, photo in mixed.items()}
    assert statuses == {"a": "pass", "b": "pass", "c": "fail", "d": "review", "junk": "rejected"}
    assert verdict(mixed["a"])["photo"] == "controls/a.jpg"
    assert verdict(mixed["a"])["request_id"] == "controls/a.jpg"
    # Stripped in place, like the daemon does.
    assert dict(exifread.process_file(io.BytesIO(mixed["a"].read_bytes()), details=False)) == {}


def test_plain_progress_lines_when_not_on_a_terminal(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.args()) == 0
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == [f"[{n}/5" for n in range(1, 6)]
    assert progress[0].startswith("[1/5] controls/a.jpg: pass (")
    assert progress[2].startswith("[3/5] controls/c.jpg: fail: code: read 48213, expected 11111")
    assert "\r" not in "\n".join(lines)  # no bar redraws in a log


def test_progress_bar_on_request(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.args("--progress", "bar")) == 0
    out = capsys.readouterr().out
    assert "100%|" in out and "5/5" in out and "photo/s" in out
    assert "junk.png: rejected:" in out  # problems are printed above the bar
    assert "[1/5]" not in out


def test_second_run_skips_what_is_done_and_takes_only_the_rest(
    setup: Setup, mixed: dict[str, Path], fake_ollama: FakeOllama, photo_bytes: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main(setup.args()) == 0
    calls = len(fake_ollama.chat_requests())
    capsys.readouterr()
    assert main(setup.args()) == 0
    out = capsys.readouterr().out
    assert "5 photo(s), 5 already verified, 0 to process" in out
    assert "skipped 5: already verified" in out
    assert len(fake_ollama.chat_requests()) == calls

    new = setup.photo("controls/e.jpg", photo_bytes, "48213")
    assert main(setup.args()) == 0
    out = capsys.readouterr().out
    assert "6 photo(s), 5 already verified, 1 to process" in out
    assert "[1/1] controls/e.jpg: pass" in out
    assert verdict(new)["status"] == "pass"


def test_reverify_after_a_rule_change_rewrites_the_verdicts(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.args()) == 0
    before = {name: verdict(photo) for name, photo in mixed.items()}
    old_digest = before["a"]["rules_digest"]
    # Widen the answer's shape: the rules (and their digest) change, the outcomes do not.
    rule = setup.rules / "code.toml"
    rule.write_text(CODE_RULE.replace("{5}", "{4,6}"), encoding="utf-8")
    capsys.readouterr()

    assert main(setup.args()) == 0  # without --reverify, verdicts stand
    assert "0 to process" in capsys.readouterr().out

    assert main(setup.args("--reverify")) == 0
    out = capsys.readouterr().out
    # The rejected photo never reached the rules: a rule change cannot change its verdict.
    assert "5 photo(s), 1 up to date, 4 to process" in out
    assert "4 verdict(s) written" in out
    for name in ("a", "b", "c", "d"):
        after = verdict(mixed[name])
        assert after["rules_digest"] not in (None, old_digest)
        assert after["status"] == before[name]["status"]
        # The first pass stripped the file: what it read then (camera, GPS) is kept.
        assert after["metadata"] == before[name]["metadata"]
        assert after["metadata"]["camera"] is True and "gps" in after["metadata"]["removed"]
        assert after["decided_at"] >= before[name]["decided_at"]
    assert verdict(mixed["junk"]) == before["junk"]

    assert main(setup.args("--reverify")) == 0  # resumable: nothing left to redo
    assert "5 photo(s), 5 up to date, 0 to process" in capsys.readouterr().out

    assert main(setup.args("--reverify", "--all")) == 0
    assert "5 photo(s), 0 up to date, 5 to process" in capsys.readouterr().out


def test_reverify_retries_error_verdicts(
    setup: Setup, photo_bytes: bytes, fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = setup.photo("a.jpg", photo_bytes, "48213")
    fake_ollama.script.append(Reply(status=400, error="bad request"))  # not retried: error
    assert main(setup.args()) == 1  # some verdicts are error
    assert verdict(photo)["status"] == "error"
    capsys.readouterr()
    assert main(setup.args("--reverify")) == 0
    assert "1 to process" in capsys.readouterr().out
    assert verdict(photo)["status"] == "pass"


def test_a_folder_inside_the_watch_folder_keeps_the_daemons_paths(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(setup.args(str(setup.watch / "controls"))) == 0
    out = capsys.readouterr().out
    assert "3 photo(s)" in out
    assert verdict(mixed["a"])["photo"] == "controls/a.jpg"  # relative to the watch root
    assert not Path(f"{mixed['d']}.verdict.json").exists()  # outside the folder: untouched


def test_refuses_while_the_daemon_holds_the_lock(
    setup: Setup, mixed: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    fd = take_watch_lock(setup.state, setup.watch.resolve())
    try:
        assert main(setup.args()) == 2
    finally:
        os.close(fd)
    err = capsys.readouterr().err
    assert "already watches" in err and "systemctl stop proofwatch" in err
    assert not Path(f"{mixed['a']}.verdict.json").exists()


def test_engine_ollama_without_the_model_stops_before_any_photo(
    setup: Setup, mixed: dict[str, Path], fake_ollama: FakeOllama,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    fake_ollama.models = {}
    assert main(setup.args()) == 2
    assert "ollama pull" in capsys.readouterr().err
    assert not Path(f"{mixed['a']}.verdict.json").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", "--rules", str(tmp_path)]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["backfill", str(tmp_path / "nope"), "--rules", str(tmp_path)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["backfill", str(tmp_path), "--all"]) == 2
    assert "--all goes with --reverify" in capsys.readouterr().err


def test_help_says_what_each_flag_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backfill", "--help"])
    out = capsys.readouterr().out
    for flag in ("--reverify", "--all", "--progress", "--config", "--state-dir", "DIR"):
        assert flag in out
    assert "exit status" in out and "130" in out


def test_ctrl_c_stops_after_the_photo_in_hand_and_a_rerun_resumes(
    setup: Setup, fake_ollama: FakeOllama, photo_bytes: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [setup.photo(f"p{n}.jpg", photo_bytes, "48213") for n in range(8)]
    fake_ollama.chooser = lambda _body: Reply(delay=0.4)  # slow enough to interrupt
    proc = subprocess.Popen(
        [sys.executable, "-m", "proofwatch", *setup.args()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if line.startswith("[1/8]"):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    out = "".join(seen) + out
    assert proc.returncode == 130, out + err
    assert "stopping after the photo in hand" in err
    assert "interrupted in" in out and "run the same command again to resume" in out
    done = [p for p in photos if Path(f"{p}.verdict.json").exists()]
    assert 1 <= len(done) < 8
    assert all(verdict(p)["status"] == "pass" for p in done)
    assert not list(setup.watch.glob(".proofwatch-tmp-*"))

    fake_ollama.chooser = None
    assert main(setup.args()) == 0
    out = capsys.readouterr().out
    assert f"8 photo(s), {len(done)} already verified, {8 - len(done)} to process" in out
    assert all(verdict(p)["status"] == "pass" for p in photos)


def test_verdicts_go_to_the_verdict_dir_when_one_is_set(
    setup: Setup, mixed: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdicts = tmp_path / "verdicts"
    with open(setup.config, "r+", encoding="utf-8") as fh:
        text = fh.read()
        fh.seek(0)
        fh.write(f'verdict_dir = "{verdicts}"\n' + text)
    assert main(setup.args()) == 0
    assert (verdicts / "controls" / "a.jpg.verdict.json").exists()
    assert not Path(f"{mixed['a']}.verdict.json").exists()
    capsys.readouterr()
    assert main(setup.args()) == 0  # and the done-check looks there too
    assert "5 already verified, 0 to process" in capsys.readouterr().out
