"""The pipeline in process: what a redo after a crash (or a reverify) still knows."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from proofgen.samples import Camera, proof_jpeg

from ollama_server import FakeOllama, Reply
from proofwatch.config import Config
from proofwatch.contract.verdict import Verdict, verdict_path, write_verdict
from proofwatch.engines import EngineSet
from proofwatch.pipeline.process import Pipeline
from proofwatch.pipeline.setup import Options, Setup
from proofwatch.rules.loader import load_rules
from proofwatch.state import StateStore
from proofwatch.vocabulary import Request

REPO = Path(__file__).resolve().parents[1]
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
    return Pipeline(Setup.from_config(config, load_rules(rules), EngineSet(config)), state)


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
        pipeline = Pipeline(Setup.from_config(config, load_rules(rules), engines))
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


def test_a_reload_mid_photo_leaves_the_photo_in_hand_as_it_was(
    tmp_path: Path, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo is judged with the setup it started with: the verdict names the rules that
    decided it, and the engine it asked is closed only once its call has returned."""
    rules_a = tmp_path / "rules-a"
    shutil.copytree(REPO / "rules", rules_a)
    rules_b = tmp_path / "rules-b"
    shutil.copytree(rules_a, rules_b)
    (rules_b / "fresh.toml").write_text(FRESH)  # another rule set, another digest
    config = Config(watch=tmp_path, rules=rules_a, state_dir=tmp_path).with_overrides(
        engine="ollama", **{"ollama.host": fake_ollama.url}
    )
    fake_ollama.answers = {"control_code": "48213"}
    fake_ollama.script.append(Reply(delay=1.5))  # the first call is slow
    first = load_rules(rules_a)
    engines_a = EngineSet(config)
    closed: list[str] = []
    close_a = engines_a.close

    def close_and_note() -> None:
        closed.append("a")
        close_a()

    monkeypatch.setattr(engines_a, "close", close_and_note)
    pipeline = Pipeline(Setup.from_config(config, first, engines_a))
    photo = tmp_path / "IMG_2.jpg"
    photo.write_bytes(proof_jpeg("48213"))
    request = Request(rules=("control-code",), expect={"code": "48213"})
    verdicts: list[Verdict] = []
    worker = threading.Thread(
        target=lambda: verdicts.append(pipeline.process(photo, Options(), request))
    )
    worker.start()
    deadline = time.monotonic() + 10
    while not fake_ollama.chat_requests() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_ollama.chat_requests(), "the model was never asked"

    second = load_rules(rules_b)
    assert second.digest != first.digest
    pipeline.swap(Setup.from_config(config, second, EngineSet(config)))
    assert closed == []  # the call in flight still has its engine
    worker.join(10)
    assert closed == ["a"]  # and loses it as soon as the photo is done
    (verdict,) = verdicts
    assert verdict.status == "pass", verdict.reason
    assert verdict.rules_digest == first.digest
    later = pipeline.process(photo, Options(), request)
    assert later.status == "pass" and later.rules_digest == second.digest
    pipeline.close()
