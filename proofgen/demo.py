"""`make demo`: the daemon on a demo folder, the embedded OCR engine, generated photos.

Starts `proofwatch run` exactly as an operator would (a subprocess, engine = ocr, no
Ollama, no GPU), drops photos the way a tracker does (request first, then the photo under
a temp name renamed in), waits for each verdict and shows them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .samples import Camera, draw_code, proof_jpeg, to_jpeg

DEMO = Path("demo-run")


def stage_photo(
    folder: Path, name: str, data: bytes, request: dict[str, Any] | None = None
) -> Path:
    """The tracker's way up to the rename: the request first, then the photo written under
    a temp name, which is returned (see docs/integration.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    if request is not None:
        sidecar = folder / f"{name}.request.json"
        sidecar.write_text(json.dumps(request, indent=2), encoding="utf-8")
    temp = folder / f".{name}.part"
    temp.write_bytes(data)
    return temp


def drop_photo(folder: Path, name: str, data: bytes, request: dict[str, Any] | None = None) -> Path:
    """The tracker's way: `stage_photo`, then the photo renamed in. Also what the tests use."""
    os.rename(stage_photo(folder, name, data, request), folder / name)
    return folder / name


def _wait_verdict(
    photo: Path, daemon: subprocess.Popen[bytes], timeout: float = 120
) -> dict[str, Any]:
    target = photo.with_name(photo.name + ".verdict.json")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.exists():
            loaded: dict[str, Any] = json.loads(target.read_bytes())
            return loaded
        if daemon.poll() is not None:
            raise SystemExit(
                f"the daemon stopped (exit {daemon.returncode}); see {DEMO}/daemon.log"
            )
        time.sleep(0.1)
    raise SystemExit(f"no verdict for {photo.name} after {timeout:.0f}s; see {DEMO}/daemon.log")


def _samples(now: datetime) -> list[tuple[str, bytes, dict[str, Any], str]]:
    """(name, photo, request, what it shows) for each demo photo."""
    issued = (now - timedelta(minutes=10)).isoformat(timespec="seconds")
    fresh = Camera(make="DemoPhone", model="DP-1", taken_at=now - timedelta(minutes=2))
    old = Camera(make="DemoPhone", model="DP-1", taken_at=now - timedelta(days=3))
    rules = ["control-code", "fresh", "not-reused"]

    def request(ident: str, code: str) -> dict[str, Any]:
        return {"id": ident, "rules": rules, "expect": {"code": code}, "issued_at": issued}

    def device_request(ident: str, device: str) -> dict[str, Any]:
        return {"id": ident, "rules": ["device-match"], "expect": {"device": device}}

    # A photo of a device registered in rules/references/devices (its own example photo).
    device = Path("rules/examples/devices/motorcycle.jpg").read_bytes()
    right = proof_jpeg("48213", seed=12, camera=fresh)
    off_by_one = proof_jpeg("48218", seed=8, camera=fresh)
    stale = proof_jpeg("60572", seed=9, camera=old)
    return [
        ("IMG_1001.jpg", right, request("control-1001", "48213"), "the right code, just taken"),
        ("IMG_1002.jpg", off_by_one, request("control-1002", "48213"), "a code one digit off"),
        ("IMG_1003.jpg", stale, request("control-1003", "60572"),
         "the right code, taken 3 days before the request"),
        ("screenshot.jpg", to_jpeg(draw_code("31337", seed=10), camera=None),
         request("control-1004", "31337"), "the right code, but a screenshot (no camera data)"),
        ("IMG_1001-again.jpg", right, request("control-1005", "48213"),
         "the first photo submitted again"),
        ("notes.jpg", b"just some text\n", request("control-1006", "11111"), "not an image at all"),
        ("devices/IMG_2001.jpg", device, device_request("device-2001", "motorcycle"),
         "the registered motorcycle, as the request names it"),
        ("devices/IMG_2002.jpg", device, device_request("device-2002", "rocket"),
         "the motorcycle, where the request names the rocket"),
    ]  # fmt: skip


def main() -> int:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    uploads, state = DEMO / "uploads", DEMO / "state"
    uploads.mkdir(parents=True)
    rules = Path("rules") if Path("rules").is_dir() else None
    command = [sys.executable, "-m", "proofwatch", "run", "--watch", str(uploads),
               "--state-dir", str(state), "--engine", "ocr"]  # fmt: skip
    if rules:
        command += ["--rules", str(rules)]
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    print(f"$ {' '.join(command)}")
    log_path = DEMO / "daemon.log"
    with open(log_path, "wb") as log:
        daemon = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while b"start-up scan queued" not in log_path.read_bytes():
            if daemon.poll() is not None:
                print(log_path.read_text(), file=sys.stderr)
                return 1
            time.sleep(0.1)
        print(f"daemon running (pid {daemon.pid}), watching {uploads}; dropping photos...\n")
        rows = []
        for name, data, request, what in _samples(datetime.now().astimezone()):
            where = uploads / name
            photo = drop_photo(where.parent, where.name, data, request)
            verdict = _wait_verdict(photo, daemon)
            rows.append((name, what, verdict))
            print(f"  {verdict['status'].upper():9} {name:22} {what}")
            print(f"            {verdict['reason']}")
        first = rows[0][2]
        print("\nThe first verdict in full (uploads/IMG_1001.jpg.verdict.json):")
        print(json.dumps(first, indent=2))
        print(f"\nGPS and all other metadata were removed in place: {first['metadata']['removed']}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
    print(f"\ndaemon stopped (exit {code}). Photos and verdicts: {uploads}; log: {log_path}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
