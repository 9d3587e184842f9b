"""The watched folder named as a user would: relative, or through a symlink.

Photos in subfolders keep their place in the tree (verdict `photo`, rule `match`, history)
whichever way the folder was named, and `backfill` agrees with the daemon.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from proofgen.samples import Camera, to_jpeg

from conftest import StartDaemon
from daemon_process import clean_env, drop_photo

CONTROLS_RULE = """\
name = "controls-camera"
description = "Photos in controls/ come from a camera"
kind = "metadata"
match = ["controls/**"]
require_camera = true
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "controls-camera.toml").write_text(CONTROLS_RULE, encoding="utf-8")
    return folder


def photo_bytes() -> bytes:
    return to_jpeg(Image.new("RGB", (64, 48), (200, 180, 160)), Camera())


def assert_kept_its_place(verdict: dict[str, object]) -> None:
    assert verdict["photo"] == "controls/a.jpg", verdict
    results = verdict["rules"]
    assert isinstance(results, list) and [r["rule"] for r in results] == ["controls-camera"]
    assert verdict["status"] == "pass", verdict


def test_a_relative_watch_folder_keeps_subfolders(
    tmp_path: Path, rules: Path, run_daemon: StartDaemon
) -> None:
    (tmp_path / "up").mkdir()
    daemon = run_daemon(rules=rules, watch=tmp_path / "up", args=("--watch", "up"), cwd=tmp_path)
    photo = drop_photo(tmp_path / "up" / "controls", "a.jpg", photo_bytes())
    assert_kept_its_place(daemon.wait_for_verdict(photo))


def test_a_symlinked_watch_folder_keeps_subfolders(
    tmp_path: Path, rules: Path, run_daemon: StartDaemon
) -> None:
    real = tmp_path / "real-uploads"
    real.mkdir()
    link = tmp_path / "uploads-link"
    link.symlink_to(real, target_is_directory=True)
    daemon = run_daemon(rules=rules, watch=link)
    photo = drop_photo(link / "controls", "a.jpg", photo_bytes())
    assert_kept_its_place(daemon.wait_for_verdict(photo))


def test_backfill_through_a_symlink_names_photos_as_the_daemon_does(
    tmp_path: Path, rules: Path
) -> None:
    import subprocess
    import sys

    real = tmp_path / "real-uploads"
    (real / "controls").mkdir(parents=True)
    link = tmp_path / "uploads-link"
    link.symlink_to(real, target_is_directory=True)
    photo = real / "controls" / "a.jpg"
    photo.write_bytes(photo_bytes())
    done = subprocess.run(
        [sys.executable, "-m", "proofwatch", "backfill", "--watch", "uploads-link",
         "--rules", str(rules), "--state-dir", str(tmp_path / "state")],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    verdict = json.loads(photo.with_name("a.jpg.verdict.json").read_text())
    assert_kept_its_place(verdict)
