"""The container image and compose.yaml (issue #19).

The files are checked on every run: compose.yaml parses and wires the tracker, Ollama and
proofwatch together as docs/deploy.md says, the config it mounts passes `proofwatch config
check`, and the two ignore files agree.

The image itself is run by contrib/container/image_test.py, the same script `make
image-test` runs (a photo with GPS renamed in, its verdict, its metadata gone on the host,
not root, nothing listening, read-only root, healthy, clean stop). How this test gets its
image, and why:

- It never builds one from nothing. That takes a debootstrap and about 150 MB from PyPI,
  minutes on 2 cores and the network, which `make test` must not need. No image: skipped,
  with the reason (`make image` builds it).
- An image that exists is first refreshed from the layer cache with the network off
  (build-image.sh --offline): the code layer is rebuilt from this checkout in seconds, so the
  test always runs the code under test, never a stale image. The dependency layer depends on
  pyproject.toml alone; when that changed, the offline rebuild fails and the test is skipped
  with the reason (`make image` rebuilds it).
- Exit 77 from either script is a skip with the script's reason: podman missing, containers
  that cannot start on this kernel, no base image.

Measured on the 2-core machine, image present: 50 s when the code changed (offline refresh
about 35 s, the run about 10 s); 16 s to skip when the dependency list changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
CONTAINER = ROOT / "contrib" / "container"
IMAGE = "localhost/proofwatch:latest"
SKIP = 77


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def containerfile_default(name: str) -> str:
    for line in (ROOT / "Containerfile").read_text().splitlines():
        if line.startswith(f"ARG {name}="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"no ARG {name}= in the Containerfile")


def test_compose_wires_tracker_ollama_and_proofwatch() -> None:
    spec = compose()
    services = spec["services"]
    assert set(services) == {"tracker", "ollama", "proofwatch"}
    proofwatch, tracker, ollama = services["proofwatch"], services["tracker"], services["ollama"]

    # One shared uploads volume, mounted where the image watches.
    assert "uploads:/srv/proofwatch/uploads" in proofwatch["volumes"]
    assert any(v.startswith("uploads:") for v in tracker["volumes"])
    assert "uploads" in spec["volumes"]
    # The state in its own volume; config and rules mounted read-only.
    assert "proofwatch-state:/var/lib/proofwatch" in proofwatch["volumes"]
    mounts = [v for v in proofwatch["volumes"] if v.startswith("./")]
    assert mounts and all(v.endswith(":ro") for v in mounts)

    # The tracker shares the image's group.
    gid = containerfile_default("PROOFWATCH_GID")
    assert tracker["group_add"] == [f"${{PROOFWATCH_GID:-{gid}}}"]
    assert proofwatch["build"]["args"]["PROOFWATCH_GID"] == f"${{PROOFWATCH_GID:-{gid}}}"

    # proofwatch: no port, read-only, no capabilities, only on the internal model network.
    assert "ports" not in proofwatch and "expose" not in proofwatch
    assert proofwatch["read_only"] is True
    assert proofwatch["cap_drop"] == ["ALL"]
    assert proofwatch["networks"] == ["models"]
    assert spec["networks"]["models"]["internal"] is True
    assert "models" in ollama["networks"] and "ports" not in ollama


def test_compose_config_allows_only_the_ollama_service() -> None:
    mount = next(v for v in compose()["services"]["proofwatch"]["volumes"] if "config" in v)
    source, target, mode = mount.split(":")
    assert (target, mode) == ("/etc/proofwatch/config.toml", "ro")
    config = tomllib.loads((ROOT / source).read_text())
    assert config["ollama"]["allow_remote"] is True
    assert config["ollama"]["host"] == "http://ollama:11434"
    # The daemon itself accepts the file (no unknown key, the remote host allowed).
    proofwatch = Path(sys.executable).with_name("proofwatch")
    checked = subprocess.run(
        [str(proofwatch), "config", "check", str(ROOT / source)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ignore_files_agree() -> None:
    assert (ROOT / ".dockerignore").read_text() == (ROOT / ".containerignore").read_text()


def run_script(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode == SKIP:
        reasons = [line for line in done.stderr.splitlines() if line.startswith("SKIP: ")]
        pytest.skip(reasons[-1][len("SKIP: ") :] if reasons else done.stderr.strip())
    return done


@pytest.mark.slow
def test_image_runs_as_a_user_would() -> None:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: `make image` installs it (apt-get) and builds")
    exists = subprocess.run(["podman", "image", "exists", IMAGE], capture_output=True)
    if exists.returncode != 0:
        pytest.skip(f"no image {IMAGE}: `make image` builds it (minutes, and PyPI)")
    built = run_script([str(CONTAINER / "build-image.sh"), "--offline"], timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    ran = run_script([sys.executable, str(CONTAINER / "image_test.py")], timeout=300)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
