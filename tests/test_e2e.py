"""End to end: `proofwatch run` as a subprocess, a real watchdog observer on a temp folder,
the real ollama client talking HTTP to the fake server, photos renamed in like a tracker."""

from __future__ import annotations

import io
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import exifread
import pytest
from PIL import Image
from proofgen.samples import Camera, proof_jpeg

from conftest import StartDaemon
from corpus import CORPUS
from daemon_process import drop_photo
from ollama_server import FakeOllama, text_sent

TZ = timezone(timedelta(hours=1))


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def exif_tags(data: bytes) -> dict[str, object]:
    return dict(exifread.process_file(io.BytesIO(data), details=False))


def ollama_config(fake: FakeOllama) -> str:
    return f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\nretries = 1\n'


def test_right_code_passes_wrong_code_fails_and_nothing_is_left(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    daemon = run_daemon(config_body=ollama_config(fake_ollama))
    taken = datetime(2026, 11, 22, 10, 41, 7, tzinfo=TZ)
    original = proof_jpeg("48213", seed=1, camera=Camera(taken_at=taken))
    assert exif_tags(original).get("GPS GPSLatitude") is not None  # there is GPS to remove

    request = {"id": "control-981", "expect": {"code": "48213"}, "rules": ["control-code"]}
    right = drop_photo(daemon.watch / "controls", "IMG_0042.jpg", original, request)
    verdict = daemon.wait_for_verdict(right)
    assert verdict["status"] == "pass", verdict
    assert verdict["request_id"] == "control-981"
    assert verdict["photo"] == "controls/IMG_0042.jpg"
    assert verdict["rules"][0]["observed"] == "48213"
    assert verdict["rules"][0]["engine"] == "ollama:qwen2.5vl:7b"
    assert verdict["metadata"]["had_gps"] is True
    assert "gps" in verdict["metadata"]["removed"]
    assert verdict["metadata"]["captured_at"] == "2026-11-22T10:41:07+01:00"

    wrong_request = {"id": "control-982", "expect": {"code": "12345"}, "rules": ["control-code"]}
    wrong = drop_photo(daemon.watch, "IMG_0043.jpg", original, wrong_request)
    verdict = daemon.wait_for_verdict(wrong)
    assert verdict["status"] == "fail", verdict
    assert verdict["rules"][0]["expected"] == "12345"

    for photo in (right, wrong):
        stripped = photo.read_bytes()
        assert exif_tags(stripped) == {}, "metadata survived stripping"
        assert pixels(stripped) == pixels(original)
        assert verdict_sha(photo) == sha256(stripped)

    chats = fake_ollama.chat_requests()
    assert len(chats) == 2  # one model call per photo
    for chat in chats:
        sent = text_sent(chat)
        assert "12345" not in sent and "48213" not in sent, "an expected value reached the model"
        assert chat.body["options"]["temperature"] == 0
        assert chat.body["format"]["required"] == ["control_code"]
        assert len(chat.body["messages"][-1]["images"]) == 1
    assert not list(daemon.watch.rglob(".proofwatch-tmp-*"))


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def verdict_sha(photo: Path) -> str:
    import json

    return str(
        json.loads(photo.with_name(photo.name + ".verdict.json").read_text())["photo_sha256"]
    )


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus not found (only CI has it)")
def test_corpus_photos_present_at_start_and_renamed_in(
    tmp_path: Path, run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": ""}
    watch = tmp_path / "uploads"
    watch.mkdir()
    present = watch / "DSCN0010.jpg"
    shutil.copy(CORPUS / "camera" / "DSCN0010.jpg", present)
    daemon = run_daemon(config_body=ollama_config(fake_ollama), watch=watch)
    renamed = drop_photo(
        watch, "iphone.jpg", (CORPUS / "camera" / "iphone_hdr_YES.jpg").read_bytes()
    )
    for photo, source in ((present, "DSCN0010.jpg"), (renamed, "iphone_hdr_YES.jpg")):
        verdict = daemon.wait_for_verdict(photo)
        original = (CORPUS / "camera" / source).read_bytes()
        stripped = photo.read_bytes()
        assert verdict["metadata"]["had_gps"] is True
        assert not any(tag.startswith("GPS") for tag in exif_tags(stripped))
        assert exif_tags(stripped) == {}
        assert pixels(stripped) == pixels(original)
        # No request: the control code cannot be checked, so a person must look.
        assert verdict["status"] == "review", verdict
    # Every format phones and browsers upload goes through, not only JPEG.
    for source in ("iphone_13_pro_max.heic", "flower.webp", "exif.png", "frozenpond.mpo"):
        photo = drop_photo(watch, source, (CORPUS / "formats" / source).read_bytes())
        verdict = daemon.wait_for_verdict(photo)
        # review (no code to compare) or fail (the fresh rule: no camera data in exif.png)
        assert verdict["status"] in ("review", "fail"), verdict
        assert verdict["metadata"]["removed"], verdict
    heic = json.loads((watch / "iphone_13_pro_max.heic.verdict.json").read_text())
    assert heic["metadata"]["captured_at"] == "2022-02-16T12:55:41+01:00"


def test_bad_input_gets_rejected_and_the_daemon_carries_on(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": "48213"}
    daemon = run_daemon(config_body=ollama_config(fake_ollama))
    text = drop_photo(daemon.watch, "notes.jpg", b"this is not a photo\n")
    verdict = daemon.wait_for_verdict(text)
    assert verdict["status"] == "rejected"
    assert "not an image" in verdict["reason"] or "supported" in verdict["reason"]
    good = drop_photo(
        daemon.watch,
        "good.jpg",
        proof_jpeg("48213"),
        {"expect": {"code": "48213"}, "rules": ["control-code"]},
    )
    assert daemon.wait_for_verdict(good)["status"] == "pass"
