"""The daemon through model outages: `proofwatch run` as a subprocess against FakeOllama.

- model missing at start: one clear line in the log and in the status file, not a stream of
  failed verdicts. engine = "ollama": photos wait (up to model_wait) and go through once the
  model is pulled. engine = "auto": text rules fall back to OCR, presence rules are review
  saying why.
- server down: photos wait in the queue and drain when it is back; past model_wait they get
  verdict `error` with the reason, and the ones queued behind do not wait it again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from proofgen.samples import proof_jpeg

from conftest import StartDaemon
from daemon_process import RunningDaemon, clean_env, drop_photo
from ollama_server import MODEL, VISION, FakeOllama

pytestmark = pytest.mark.slow

CODE = "48213"
REQUEST = {"expect": {"code": CODE}, "rules": ["control-code"]}
SIZE = (800, 600)  # small photos: quick to draw


def proof(seed: int) -> bytes:
    return proof_jpeg(CODE, seed=seed, size=SIZE)


def config(fake: FakeOllama | None, engine: str, model_wait: str, host: bool = True) -> str:
    lines = [f'engine = "{engine}"', "[ollama]", f'model_wait = "{model_wait}"', "retries = 1"]
    lines += ['timeout = "5s"', 'connect_timeout = "1s"']
    if host and fake is not None:
        lines.append(f'host = "{fake.url}"')
    return "\n".join(lines) + "\n"


def model_state(daemon: RunningDaemon) -> str:
    try:
        status = json.loads((daemon.state / "status.json").read_bytes())
    except (OSError, ValueError):
        return ""
    return str(status.get("model", {}).get("state", ""))


def wait_for_state(daemon: RunningDaemon, text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = model_state(daemon)
        if text in state:
            return state
        time.sleep(0.1)
    raise AssertionError(f"model state never said {text!r}: {model_state(daemon)!r}")


def no_verdict_for(photo: Path, seconds: float) -> bool:
    time.sleep(seconds)
    return not photo.with_name(photo.name + ".verdict.json").exists()


def rules_by_name(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["rule"]: rule for rule in verdict["rules"]}


def test_model_missing_at_start_in_ollama_mode_waits_for_the_pull(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.models = {}
    fake_ollama.answers = {"control_code": CODE}
    daemon = run_daemon(config_body=config(fake_ollama, "ollama", "60s"))
    daemon.wait_for_log("Ollama model not usable: model qwen2.5vl:7b is not on the Ollama server")
    assert "run `ollama pull qwen2.5vl:7b`" in daemon.log()
    state = wait_for_state(daemon, "ollama pull qwen2.5vl:7b")
    assert state.startswith("down: model qwen2.5vl:7b is not on the Ollama server")

    photo = drop_photo(daemon.watch, "waiting.jpg", proof(4), REQUEST)
    assert no_verdict_for(photo, 2.0), "a verdict was written while the model was missing"
    fake_ollama.models = {MODEL: list(VISION)}  # the operator runs `ollama pull`
    verdict = daemon.wait_for_verdict(photo, timeout=30)
    assert verdict["status"] == "pass", verdict
    assert wait_for_state(daemon, "up") == "up"
    assert len(fake_ollama.chat_requests()) == 2  # the 404, then the answer
    log = daemon.log()
    assert log.count("Ollama model not usable") == 1, log  # one line, not one per photo


def test_model_missing_in_auto_mode_falls_back_to_ocr_and_presence_is_review(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.models = {}
    daemon = run_daemon(config_body=config(fake_ollama, "auto", "60s"))
    daemon.wait_for_log("Ollama model not usable")
    state = wait_for_state(daemon, "OCR fallback for text rules")
    assert "ollama pull qwen2.5vl:7b" in state

    request = {"expect": {"code": CODE}, "rules": ["control-code", "device-visible"]}
    photo = drop_photo(
        daemon.watch / "devices",
        "check.jpg",
        proof(5),
        request,
    )
    verdict = daemon.wait_for_verdict(photo, timeout=60)
    rules = rules_by_name(verdict)
    assert rules["control-code"]["engine"].startswith("ocr"), rules
    assert rules["device-visible"]["status"] == "review", rules
    assert "no vision model is available" in rules["device-visible"]["detail"]
    assert "ollama pull qwen2.5vl:7b" in rules["device-visible"]["detail"]
    assert verdict["status"] != "pass"
    assert fake_ollama.chat_requests() == []  # the photo never went to a server without it


def test_server_down_then_back_queued_photos_drain(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": CODE}
    fake_ollama.stop()  # down from the start; it comes back on the same port
    daemon = run_daemon(
        config_body=config(fake_ollama, "ollama", "60s", host=False),
        env=clean_env(OLLAMA_HOST=f"127.0.0.1:{fake_ollama.port}"),  # honoured by the daemon
    )
    daemon.wait_for_log("Ollama not usable: Ollama at 127.0.0.1:")
    photos = [drop_photo(daemon.watch, f"queued-{n}.jpg", proof(10 + n), REQUEST) for n in range(3)]
    daemon.wait_for_log("waiting up to")
    assert all(no_verdict_for(p, 0) for p in photos)
    assert no_verdict_for(photos[0], 1.5)
    fake_ollama.start()
    for photo in photos:
        verdict = daemon.wait_for_verdict(photo, timeout=30)
        assert verdict["status"] == "pass", verdict
    assert len(fake_ollama.chat_requests()) == 3  # one call per photo once it was back
    assert wait_for_state(daemon, "up") == "up"


def test_server_down_past_model_wait_is_an_error_with_the_reason(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": CODE}
    fake_ollama.stop()
    daemon = run_daemon(config_body=config(fake_ollama, "ollama", "2s"))
    first = drop_photo(daemon.watch, "first.jpg", proof(20), REQUEST)
    second = drop_photo(daemon.watch, "second.jpg", proof(21), REQUEST)
    verdicts = [daemon.wait_for_verdict(photo, timeout=30) for photo in (first, second)]
    for verdict in verdicts:
        assert verdict["status"] == "error", verdict
        detail = rules_by_name(verdict)["control-code"]["detail"]
        assert "is not reachable" in detail and "gave up waiting for it after 2s" in detail
        assert "control-code:" in verdict["reason"]
    # The second photo did not wait model_wait again behind the first.
    assert verdicts[1]["timings_ms"]["model"] < 1500, verdicts[1]["timings_ms"]

    fake_ollama.start()
    later = drop_photo(daemon.watch, "later.jpg", proof(22), REQUEST)
    assert daemon.wait_for_verdict(later, timeout=30)["status"] == "pass"
