"""The pipeline in process: what a redo after a crash (or a reverify) still knows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from proofwatch.config import Config
from proofwatch.engines import EngineSet
from proofwatch.pipeline import Options, Pipeline
from proofwatch.rules.loader import load_rules
from proofwatch.rules.model import Request
from proofwatch.samples import Camera, proof_jpeg
from proofwatch.state import StateStore
from proofwatch.verdict import verdict_path, write_verdict

TZ = timezone(timedelta(hours=1))
FRESH = """\
name = "fresh"
kind = "metadata"
max_age = "4h"
require_camera = true
"""


def make_pipeline(tmp_path: Path, state: StateStore | None) -> Pipeline:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "fresh.toml").write_text(FRESH)
    config = Config(watch=tmp_path, rules=rules, state_dir=tmp_path).with_overrides(engine="ocr")
    return Pipeline(config, load_rules(rules), EngineSet(config), state)


def test_a_redo_of_a_stripped_photo_keeps_what_its_metadata_said(tmp_path: Path) -> None:
    taken = datetime(2026, 11, 22, 10, 41, 7, tzinfo=TZ)
    photo = tmp_path / "IMG_1.jpg"
    photo.write_bytes(proof_jpeg("48213", camera=Camera(taken_at=taken)))
    request = Request(issued_at=taken - timedelta(minutes=5))
    state = StateStore(tmp_path / "state.sqlite3")
    pipeline = make_pipeline(tmp_path, state)

    first = pipeline.process(photo, Options(wait_for_request=False), request)
    assert first.status == "pass", first.reason
    assert first.metadata is not None and first.metadata["had_gps"] is True

    # The verdict was never written (a crash), or the rules changed: the file is stripped now.
    again = pipeline.process(photo, Options(wait_for_request=False), request)
    assert again.photo_sha256 == first.photo_sha256
    assert again.metadata == first.metadata
    assert again.status == "pass", again.reason

    # Without the store nothing remembers: the camera and the capture time are gone.
    forgetful = make_pipeline(tmp_path, None).process(
        photo, Options(wait_for_request=False, record=False), request
    )
    assert forgetful.metadata is not None and forgetful.metadata["had_gps"] is False
    assert forgetful.status == "fail"

    # A lost state directory: the verdict beside the photo, of these very bytes, remembers.
    write_verdict(verdict_path(photo, tmp_path, None), first)
    recalled = make_pipeline(tmp_path, None).process(
        photo, Options(wait_for_request=False, record=False), request
    )
    assert recalled.metadata == first.metadata
    assert recalled.status == "pass", recalled.reason
    state.close()


def test_auto_mode_falls_back_to_ocr_for_the_photo_that_finds_ollama_gone(
    tmp_path: Path,
) -> None:
    from ollama_server import FakeOllama

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "code.toml").write_text(
        'name = "code"\nkind = "text"\nquestion = "Transcribe the number."\n'
        'answer = "^[0-9]{5}$"\nexpect = "request.expect.code"\n'
    )
    fake = FakeOllama().start()
    config = Config(watch=tmp_path, rules=rules, state_dir=tmp_path).with_overrides(
        engine="auto", **{"ollama.host": fake.url}
    )
    engines = EngineSet(config)
    try:
        assert engines.check_ollama() is not None and engines.availability().ollama_ready
        fake.stop()  # gone between the health check and this photo
        photo = tmp_path / "code.jpg"
        photo.write_bytes(proof_jpeg("48213", seed=3))
        pipeline = Pipeline(config, load_rules(rules), engines)
        verdict = pipeline.process(
            photo, Options(wait_for_request=False, record=False), Request(expect={"code": "48213"})
        )
    finally:
        engines.close()
        fake.stop()
    assert verdict.status == "pass", verdict.reason
    assert verdict.rules[0].engine == "ocr:rapidocr"


def test_a_photo_that_cannot_be_stripped_is_moved_out_with_its_metadata(tmp_path: Path) -> None:
    whole = proof_jpeg("48213", camera=Camera())  # GPS, make and model
    cut = whole[: len(whole) // 2]
    photo = tmp_path / "cut.jpg"
    photo.write_bytes(cut)
    bare = tmp_path / "bare.jpg"
    bare.write_bytes(proof_jpeg("48213", camera=None)[:5000])
    pipeline = make_pipeline(tmp_path, None)

    verdict = pipeline.process(photo, Options(wait_for_request=False, record=False))
    assert verdict.status == "rejected" and "truncated" in verdict.reason
    assert verdict.quarantined and "quarantine" in verdict.reason
    assert verdict.metadata is not None and verdict.metadata["had_gps"] is True
    assert not photo.exists()
    (kept,) = (tmp_path / "quarantine").iterdir()
    assert kept.read_bytes() == cut and kept.stat().st_mode & 0o777 == 0o600

    # Nothing to hide: a broken file without metadata stays where the tracker put it.
    verdict = pipeline.process(bare, Options(wait_for_request=False, record=False))
    assert verdict.status == "rejected" and not verdict.quarantined
    assert bare.exists()

    # `proofwatch check` never moves anything.
    photo.write_bytes(cut)
    verdict = pipeline.process(photo, Options(modify=False, wait_for_request=False, record=False))
    assert verdict.status == "rejected" and photo.exists()
