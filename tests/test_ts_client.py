"""contrib/ts-client (the TypeScript client) against a real daemon, and type-checked strictly.

Needs node >= 20 and npm (skipped, saying which is missing, otherwise). The client's
node_modules is installed in place with `npm ci` from the committed package-lock.json, and
kept between runs: a stamp in node_modules records the lock's hash (and node's version and
platform), so `npm ci` runs again only when the lock or node changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageEnhance
from proofgen.samples import proof_jpeg

from conftest import StartDaemon
from ollama_server import FakeOllama

REPO = Path(__file__).resolve().parents[1]
CLIENT_DIR = REPO / "contrib" / "ts-client"
LOCK = CLIENT_DIR / "package-lock.json"
NODE_MODULES = CLIENT_DIR / "node_modules"
STAMP = NODE_MODULES / ".proofwatch-install-stamp"
SCHEMA = REPO / "contrib" / "schema" / "verdict.schema.json"
MIN_NODE = 20
MIN_NPM = 7  # lockfileVersion 3
INSTALL_TIMEOUT = 240.0
RUN_TIMEOUT = 90.0


def version_of(tool: str) -> tuple[int, ...] | str:
    """`tool --version` as numbers, or why it could not be had."""
    path = shutil.which(tool)
    if path is None:
        return f"{tool} not found on PATH"
    try:
        done = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{tool} --version failed: {exc}"
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", done.stdout)
    if done.returncode != 0 or found is None:
        return f"{tool} --version failed: {done.stdout.strip()} {done.stderr.strip()}"
    return tuple(int(part) for part in found.groups())


def toolchain_problem() -> str | None:
    """Why the TypeScript client cannot run here, or None."""
    for tool, minimum in (("node", MIN_NODE), ("npm", MIN_NPM)):
        found = version_of(tool)
        if isinstance(found, str):
            return found
        if found[0] < minimum:
            shown = ".".join(map(str, found))
            return f"{tool} {shown} is too old: the TypeScript client needs {tool} >= {minimum}"
    return None


def install_stamp() -> str:
    """What the installed node_modules must have been made from."""
    node = version_of("node")
    digest = hashlib.sha256(LOCK.read_bytes() + (CLIENT_DIR / "package.json").read_bytes())
    return f"{digest.hexdigest()} node {node} {platform.system()} {platform.machine()}\n"


def ensure_installed() -> None:
    """`npm ci` in contrib/ts-client unless node_modules already matches the lock."""
    wanted = install_stamp()
    lock_name = hashlib.sha256(str(CLIENT_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"proofwatch-ts-client-{lock_name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install once
        try:
            if STAMP.is_file() and STAMP.read_text() == wanted:
                return
            npm = shutil.which("npm")
            assert npm is not None
            env = {**os.environ, "npm_config_update_notifier": "false"}
            try:
                done = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT_DIR, env=env,
                    capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                    stdin=subprocess.DEVNULL,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"npm ci took over {INSTALL_TIMEOUT:g}s: {exc}") from exc
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
            STAMP.write_text(wanted)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def installed() -> Iterator[None]:
    problem = toolchain_problem()
    if problem is not None:
        pytest.skip(problem)
    ensure_installed()
    yield


def tool(name: str) -> str:
    return str(NODE_MODULES / ".bin" / name)


def client(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`npx tsx cli.ts ARGS` in contrib/ts-client (its local tsx, never a download)."""
    return subprocess.run(
        [tool("tsx"), "cli.ts", *args], cwd=CLIENT_DIR, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip


def ollama_config(fake: FakeOllama) -> str:
    return f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\nretries = 1\n'


def dark(jpeg: bytes) -> bytes:
    """The same photo at 30 % brightness: the daemon's quality check says too_dark."""
    out = io.BytesIO()
    ImageEnhance.Brightness(Image.open(io.BytesIO(jpeg))).enhance(0.3).save(out, "JPEG")
    return out.getvalue()


def ts_list(source: str, name: str) -> list[str]:
    found = re.search(rf"export const {name} = \[(.*?)\] as const;", source, re.S)
    assert found is not None, f"no {name} in verdict.ts"
    return re.findall(r'"([a-z_]+)"', found.group(1))


def test_hand_written_types_list_exactly_the_schema_codes() -> None:
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    source = (CLIENT_DIR / "verdict.ts").read_text(encoding="utf-8")
    assert ts_list(source, "REASON_CODES") == schema["$defs"]["reason_code"]["enum"]
    assert ts_list(source, "HINT_CODES") == schema["$defs"]["hint"]["properties"]["code"]["enum"]
    assert ts_list(source, "STATUSES") == schema["$defs"]["status"]["enum"]


def test_client_type_checks_strictly(installed: None) -> None:
    config = json.loads((CLIENT_DIR / "tsconfig.json").read_text(encoding="utf-8"))
    assert config["compilerOptions"]["strict"] is True
    done = subprocess.run(
        [tool("tsc"), "--noEmit", "-p", str(CLIENT_DIR)], cwd=CLIENT_DIR,
        capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_client_submits_and_shows_the_verdict(
    installed: None, tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    daemon = run_daemon(config_body=ollama_config(fake_ollama))
    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(proof_jpeg("48213", seed=1, size=(800, 600)))
    common = ["--watch", str(daemon.watch), "--subdir", "controls", "--rule", "control-code"]
    controls = daemon.watch / "controls"

    # Pass, in English: status, reason_code, the wearer's text, no hints.
    done = client(*common, "--id", "control-981", "--expect", "code=48213", str(photo))
    assert done.returncode == 0, done.stdout + done.stderr + daemon.log()
    out = done.stdout
    assert out.startswith("controls/IMG_0042.jpg: pass after "), out
    assert "  status:      pass\n" in out and "  reason_code: code_matches\n" in out
    assert "  wearer (en): The code matches.\n" in out and "  hints:       none\n" in out
    assert 'rule control-code: pass [code_matches] (read "48213")' in out
    request_file = controls / "IMG_0042.jpg.request.json"
    request = json.loads(request_file.read_text())
    assert request == {"id": "control-981", "rules": ["control-code"], "expect": {"code": "48213"}}
    assert request_file.stat().st_mode & 0o040, "the request must be group-readable"
    verdict: dict[str, Any] = json.loads((controls / "IMG_0042.jpg.verdict.json").read_text())
    assert verdict["request_id"] == "control-981" and verdict["reason_code"] == "code_matches"

    # Fail, in German, with the code that was read filled in.
    wrong = client(*common, "--name", "IMG_0043.jpg", "--expect", "code=12345", "--lang", "de",
                   str(photo))  # fmt: skip
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr + daemon.log()
    assert "  status:      fail\n" in wrong.stdout
    assert "  reason_code: code_mismatch\n" in wrong.stdout
    assert "  wearer (de): Falscher Code sichtbar: 48213.\n" in wrong.stdout
    assert "tracker: refuse the proof" in wrong.stdout

    # A dark photo still passes (hints never change the status), with its hint in German.
    dim = tmp_path / "IMG_0044.jpg"
    dim.write_bytes(dark(photo.read_bytes()))
    hinted = client(*common, "--expect", "code=48213", "--lang", "de", str(dim))
    assert hinted.returncode == 0, hinted.stdout + hinted.stderr + daemon.log()
    assert "  hint too_dark: Das Bild ist zu dunkel." in hinted.stdout, hinted.stdout

    # --json prints the verdict file as it is; the same name again is refused.
    shown = client("--read", str(controls / "IMG_0043.jpg.verdict.json"), "--json")
    assert shown.returncode == 1
    assert json.loads(shown.stdout) == json.loads(
        (controls / "IMG_0043.jpg.verdict.json").read_text()
    )
    taken = client(*common, "--expect", "code=48213", str(photo))
    assert taken.returncode == 2 and "choose another name" in taken.stderr
    # Nothing half-written was left behind by either side.
    assert not [p.name for p in daemon.watch.rglob(".*")]

    # A proofwatch.verdict/1 verdict (no reason_code, no hints) is still read; the wearer
    # then sees the verdict's reason. (Not named *.verdict.json: the session checks those
    # against the 1.1 schema.)
    v1 = {k: v for k, v in verdict.items() if k not in ("reason_code", "hints")}
    v1["schema"] = "proofwatch.verdict/1"
    v1["rules"] = [{k: v for k, v in r.items() if k != "reason_code"} for r in verdict["rules"]]
    old = tmp_path / "old-verdict-1.json"
    old.write_text(json.dumps(v1))
    read_old = client("--read", str(old), "--lang", "de")
    assert read_old.returncode == 0, read_old.stdout + read_old.stderr
    assert "  reason_code: (none: proofwatch.verdict/1)\n" in read_old.stdout
    assert f"  wearer (de): {verdict['reason']}\n" in read_old.stdout

    # What breaks the schema, or a version it does not know, is refused (exit 4).
    for change, complaint in (
        ({"surprise": 1}, "must NOT have additional properties"),
        ({"reason_code": "made_up"}, "/reason_code: must be equal to one of the allowed values"),
        ({"schema": "proofwatch.verdict/2"}, 'unknown verdict format "proofwatch.verdict/2"'),
    ):
        bad = tmp_path / "bad-verdict.json"
        bad.write_text(json.dumps({**verdict, **change}))
        refused = client("--read", str(bad))
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert complaint in refused.stderr, refused.stderr


def test_client_gives_up_after_its_timeout(installed: None, tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"not even a photo: nobody is watching")
    done = client("--watch", str(tmp_path / "nobody"), "--timeout", "0.5", str(photo))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no verdict" in done.stderr and "proofwatch status" in done.stderr
