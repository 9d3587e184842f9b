"""Intake through the real daemon: bursts, slow writers, kill -9, bad input, polling, lock.

Each test asserts what the tracker relies on: one parseable verdict per photo, no metadata
left, no stray temp files, the daemon still alive.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import exifread
from PIL import Image
from proofgen.samples import Camera, to_jpeg

from conftest import StartDaemon
from daemon_process import RunningDaemon, clean_env, drop_photo, start_daemon
from ollama_server import FakeOllama, Reply

PRESENCE_RULES = Path(__file__).parent / "rules_presence"


def small_photo(seed: int) -> bytes:
    """A small JPEG with camera metadata and GPS, different for every seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
    image.putpixel((seed % 64, seed % 48), (255, 255, 255))
    return to_jpeg(image, Camera())


def config_for(fake: FakeOllama, intake: str = "") -> str:
    return (
        f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\n'
        f'[intake]\nstability_delay = "0.5s"\nrequest_wait = "0s"\n{intake}'
    )


def assert_all_verdicts(daemon: RunningDaemon, photos: list[Path], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    for photo in photos:
        verdict = daemon.wait_for_verdict(photo, max(1.0, deadline - time.monotonic()))
        assert verdict["schema"] == "proofwatch.verdict/1.1"
    for photo in photos:
        tags = exifread.process_file(io.BytesIO(photo.read_bytes()), details=False)
        assert not tags, f"metadata left in {photo.name}: {sorted(tags)[:5]}"
    stray = [p for p in daemon.watch.rglob("*") if ".proofwatch-tmp-" in p.name]
    assert not stray, stray
    assert daemon.proc.poll() is None, daemon.log()


def write_slowly(path: Path, data: bytes, pause: float) -> None:
    """A tracker writing in place, in two parts with a pause between."""
    with open(path, "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        time.sleep(pause)
        fh.write(data[len(data) // 2 :])


def test_a_burst_of_mixed_arrivals_gets_one_verdict_each(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    watch = tmp_path / "uploads"
    watch.mkdir()
    present = [watch / f"present-{i}.jpg" for i in range(20)]
    for i, photo in enumerate(present):
        photo.write_bytes(small_photo(i))
    daemon = run_daemon(config_body=config_for(fake_ollama), rules=PRESENCE_RULES, watch=watch)
    photos = list(present)
    writers = []
    for i in range(200):
        data = small_photo(1000 + i)
        kind = i % 4
        if kind == 0:
            photos.append(drop_photo(watch, f"renamed-{i}.jpg", data))
        elif kind == 1:
            photos.append(drop_photo(watch / f"sub{i % 7}" / "deeper", f"nested-{i}.jpg", data))
        elif kind == 2:
            path = watch / f"inplace-{i}.jpg"
            writer = threading.Thread(target=write_slowly, args=(path, data, 0.3))
            writer.start()
            writers.append(writer)
            photos.append(path)
        else:
            photos.append(drop_photo(watch, f"upper-{i}.JPG", data))
    for writer in writers:
        writer.join()
    assert_all_verdicts(daemon, photos)
    statuses = {
        json.loads(p.with_name(p.name + ".verdict.json").read_text())["status"] for p in photos
    }
    assert statuses == {"pass"}
    # Exactly once: one model call per photo, none for the daemon's own writes.
    assert len(fake_ollama.chat_requests()) == len(photos)


def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    rng = random.Random(4)
    photos: list[Path] = []
    watch = tmp_path / "uploads"
    for round_number in range(4):
        daemon = start_daemon(
            tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES, watch=watch
        )
        for i in range(30):
            seed = round_number * 100 + i
            photos.append(drop_photo(watch, f"r{round_number}-{i}.jpg", small_photo(seed)))
        time.sleep(rng.uniform(0.05, 0.6))
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(10)
    daemon = start_daemon(
        tmp_path, config_body=config_for(fake_ollama), rules=PRESENCE_RULES, watch=watch
    )
    try:
        assert_all_verdicts(daemon, photos)
        verdicts = list(watch.rglob("*.verdict.json"))
        assert len(verdicts) == len(photos)
    finally:
        assert daemon.stop() == 0


def test_bad_input_gets_a_clear_verdict_and_the_daemon_carries_on(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    outside = tmp_path / "outside-secret.jpg"
    outside_bytes = small_photo(1)
    outside.write_bytes(outside_bytes)
    daemon = run_daemon(
        config_body=config_for(fake_ollama, 'empty_timeout = "1s"\nmax_pixels = 40000000\n'),
        rules=PRESENCE_RULES,
    )
    watch = daemon.watch
    good = small_photo(2)
    (watch / "empty.jpg").touch()
    drop_photo(watch, "text.jpg", b"hello, I am not a photo\n")
    drop_photo(watch, "truncated.jpg", good[: len(good) // 2])
    drop_photo(watch, "bomb.png", png_bomb(60_000, 60_000))
    (watch / "link.jpg").symlink_to(outside)
    os.mkfifo(watch / "pipe.jpg")
    (watch / "folder.jpg").mkdir()
    odd_name = os.fsdecode(b"line\nbreak-\xff\xfe.jpg")
    drop_photo(watch, odd_name, small_photo(3))
    expected = {
        "empty.jpg": "empty",
        "text.jpg": "not an image",
        "truncated.jpg": "truncated",
        "bomb.png": "decompression bomb",
        "link.jpg": "symbolic link",
        "pipe.jpg": "named pipe",
        "folder.jpg": "folder",
    }
    for name, words in expected.items():
        verdict = daemon.wait_for_verdict(watch / name, timeout=30)
        assert verdict["status"] == "rejected", (name, verdict)
        assert words in verdict["reason"], (name, verdict["reason"])
    # The truncated photo still carried GPS: moved out of the folder, not left readable.
    assert not (watch / "truncated.jpg").exists()
    (kept,) = (daemon.state / "quarantine").iterdir()
    assert kept.name.endswith("-truncated.jpg")
    odd = daemon.wait_for_verdict(watch / odd_name)
    assert odd["status"] == "pass"
    assert outside.read_bytes() == outside_bytes, "a symlink was followed out of the tree"
    ok = drop_photo(watch, "after.jpg", small_photo(4))
    assert daemon.wait_for_verdict(ok)["status"] == "pass"


def png_bomb(width: int, height: int) -> bytes:
    """A small valid PNG whose header claims width x height pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows; the rest is "missing"
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_a_photo_deleted_or_replaced_mid_work(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    fake_ollama.script.extend([Reply(delay=1.5), Reply(delay=1.5)])
    daemon = run_daemon(config_body=config_for(fake_ollama), rules=PRESENCE_RULES)
    doomed = drop_photo(daemon.watch, "doomed.jpg", small_photo(5))
    replaced = drop_photo(daemon.watch, "replaced.jpg", small_photo(6))
    time.sleep(0.7)  # both are in the model call now (1.5 s replies)
    doomed.unlink()
    newer = small_photo(7)
    drop_photo(daemon.watch, "replaced.jpg", newer)
    daemon.wait_for_verdict(replaced)

    def verdict_is_of_the_newer_file() -> bool:
        verdict = json.loads(replaced.with_name("replaced.jpg.verdict.json").read_text())
        return bool(verdict["photo_sha256"] == sha256(replaced.read_bytes()))

    daemon.wait(verdict_is_of_the_newer_file, "no verdict for the replacing file", 20)
    assert not (daemon.watch / "doomed.jpg.verdict.json").exists()
    assert daemon.proc.poll() is None


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_polling_mode_finds_photos_without_inotify(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    daemon = run_daemon(
        config_body=config_for(fake_ollama, 'polling = "0.5s"\n'), rules=PRESENCE_RULES
    )
    assert "polling every 0.5s" in daemon.log()
    photos = [drop_photo(daemon.watch, f"p{i}.jpg", small_photo(i)) for i in range(5)]
    assert_all_verdicts(daemon, photos, timeout=30)


def test_a_second_daemon_on_the_same_tree_exits_with_a_clear_message(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    daemon = run_daemon(config_body=config_for(fake_ollama), rules=PRESENCE_RULES)
    second = subprocess.run(
        [sys.executable, "-m", "proofwatch", "run", "--config", str(daemon.config)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert second.returncode == 2
    assert "already watches" in second.stderr and str(os.getpid()) not in second.stderr
    assert daemon.proc.poll() is None


def test_a_request_arriving_just_after_its_photo_is_waited_for(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    body = config_for(fake_ollama).replace('request_wait = "0s"', 'request_wait = "5s"')
    daemon = run_daemon(config_body=body)  # the shipped rules: control-code needs expect.code
    photo = drop_photo(daemon.watch, "late.jpg", small_photo(8))
    time.sleep(1.0)
    request = {"id": "late-1", "rules": ["control-code"], "expect": {"code": "48213"}}
    drop_photo(daemon.watch, "late.jpg.request.json", json.dumps(request).encode())
    verdict = daemon.wait_for_verdict(photo)
    assert verdict["request_id"] == "late-1" and verdict["status"] == "pass", verdict
    # The wait is reported on its own, not as the model's time.
    timings = verdict["timings_ms"]
    assert set(timings) == {"strip", "request", "model", "total"}
    assert timings["strip"] + timings["request"] + timings["model"] <= timings["total"] + 2


def test_sigterm_mid_photo_exits_0_and_the_next_start_finishes_it(
    tmp_path: Path, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    fake_ollama.script.append(Reply(delay=60))  # a model call that will not end in time
    body = 'stop_timeout = "1s"\n' + config_for(fake_ollama)
    daemon = start_daemon(tmp_path, config_body=body, rules=PRESENCE_RULES)
    photo = drop_photo(daemon.watch, "slow.jpg", small_photo(9))
    daemon.wait(lambda: bool(fake_ollama.chat_requests()), "no model call", 10)
    started = time.monotonic()
    assert daemon.stop(timeout=60) == 0
    assert time.monotonic() - started < 15  # bounded by stop_timeout, not the 60 s reply
    assert not photo.with_name("slow.jpg.verdict.json").exists()
    fake_ollama.script.clear()
    again = start_daemon(tmp_path, config_body=body, rules=PRESENCE_RULES, watch=daemon.watch)
    try:
        assert again.wait_for_verdict(photo)["status"] == "pass"
    finally:
        assert again.stop() == 0


def test_verdicts_can_live_in_their_own_folder_mirroring_paths(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"device_visible": "yes"}
    verdicts = tmp_path / "verdicts"
    body = f'verdict_dir = "{verdicts}"\n' + config_for(fake_ollama)
    daemon = run_daemon(config_body=body, rules=PRESENCE_RULES)
    photo = drop_photo(daemon.watch / "controls" / "2026", "IMG_1.jpg", small_photo(10))
    target = verdicts / "controls" / "2026" / "IMG_1.jpg.verdict.json"
    daemon.wait(target.exists, f"no verdict at {target}")
    assert json.loads(target.read_text())["photo"] == "controls/2026/IMG_1.jpg"
    assert not photo.with_name("IMG_1.jpg.verdict.json").exists()
    assert daemon.stop() == 0
    # A restart sees the verdict there and does not redo the photo.
    calls = len(fake_ollama.chat_requests())
    again = run_daemon(config_body=body, rules=PRESENCE_RULES)
    again.wait_for_log("start-up scan queued 0 photo(s)")
    assert len(fake_ollama.chat_requests()) == calls


def test_a_photo_waiting_for_its_request_holds_no_worker_back(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    """One worker (the default): a photo parked for its late sidecar lets the next one
    through, and is taken again as soon as its sidecar arrives, not at the end of the wait."""
    fake_ollama.answers = {"control_code": "48213"}
    body = config_for(fake_ollama).replace('request_wait = "0s"', 'request_wait = "60s"')
    daemon = run_daemon(config_body=body)  # the shipped rules: control-code needs expect.code
    waiting = drop_photo(daemon.watch, "waiting.jpg", small_photo(11))
    daemon.wait(lambda: b"ProofCam" not in waiting.read_bytes(), "waiting.jpg not stripped")
    request = {"rules": ["control-code"], "expect": {"code": "48213"}}
    drop_photo(daemon.watch, "ready.jpg.request.json", json.dumps(request).encode())
    ready = drop_photo(daemon.watch, "ready.jpg", small_photo(12))
    assert daemon.wait_for_verdict(ready, timeout=30)["status"] == "pass"
    assert not waiting.with_name("waiting.jpg.verdict.json").exists()
    request["id"] = "late-2"
    drop_photo(daemon.watch, "waiting.jpg.request.json", json.dumps(request).encode())
    verdict = daemon.wait_for_verdict(waiting, timeout=30)  # well before the 60 s wait ends
    assert verdict["request_id"] == "late-2" and verdict["status"] == "pass", verdict
    assert verdict["timings_ms"]["request"] > 0
