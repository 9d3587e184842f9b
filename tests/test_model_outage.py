"""The daemon through model outages: `proofwatch run` as a subprocess against FakeOllama.

- model missing at start: one clear line in the log and in the status file. engine =
  "ollama": a photo is `error` at once, saying to pull the model (the operator must act);
  once it is pulled, photos pass. engine = "auto": text rules fall back to OCR, presence
  rules are review saying why.
- server down: photos are set aside and go through when it is back; past model_wait they
  get verdict `error` with the reason, and the ones queued behind do not wait it again.
- server busy (503, a storm): no verdict is lost; photos whose rules need no model are not
  held back meanwhile; every waiting photo gets its true verdict once the storm ends.
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


def test_model_missing_in_ollama_mode_is_an_error_at_once_saying_to_pull_it(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.models = {}
    fake_ollama.answers = {"control_code": CODE}
    daemon = run_daemon(config_body=config(fake_ollama, "ollama", "60s"))
    daemon.wait_for_log("Ollama model not usable: model qwen2.5vl:7b is not on the Ollama server")
    state = wait_for_state(daemon, "ollama pull qwen2.5vl:7b")
    assert state.startswith("down since ") and "is not on the Ollama server" in state

    photo = drop_photo(daemon.watch, "first.jpg", proof(4), REQUEST)
    verdict = daemon.wait_for_verdict(photo, timeout=30)
    assert verdict["status"] == "error", verdict
    assert "run `ollama pull qwen2.5vl:7b`" in rules_by_name(verdict)["control-code"]["detail"]
    fake_ollama.models = {MODEL: list(VISION)}  # the operator runs `ollama pull`
    later = drop_photo(daemon.watch, "later.jpg", proof(6), REQUEST)
    assert daemon.wait_for_verdict(later, timeout=30)["status"] == "pass"
    assert wait_for_state(daemon, "up") == "up"
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
    daemon.wait_for_log("Ollama not usable: Ollama at http://127.0.0.1:")
    photos = [drop_photo(daemon.watch, f"queued-{n}.jpg", proof(10 + n), REQUEST) for n in range(3)]
    wait_for_state(daemon, "down since")
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


def test_a_503_storm_loses_no_photo_and_holds_no_other_photo_back(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    """Ollama answers 503 (queue full) to every call until the storm ends: the photos that
    need the model are set aside, one worker serves the others meanwhile, and every photo
    gets its true verdict after recovery; none gets `error`."""
    fake_ollama.answers = {"control_code": CODE}
    fake_ollama.busy_for(float("inf"))
    daemon = run_daemon(config_body=config(fake_ollama, "ollama", "120s"))
    waiting = [drop_photo(daemon.watch, f"storm-{n}.jpg", proof(30 + n), REQUEST) for n in range(4)]
    state = wait_for_state(daemon, "busy")
    assert "server busy, please try again" in state and "photos wait for it" in state
    # Photos whose rules need no model go through while the others wait.
    no_model = {"rules": ["not-reused"]}
    others = [drop_photo(daemon.watch, f"other-{n}.jpg", proof(40 + n), no_model) for n in range(2)]
    for photo in others:
        assert daemon.wait_for_verdict(photo, timeout=30)["status"] == "pass"
    assert all(no_verdict_for(photo, 0) for photo in waiting)
    tried = len(fake_ollama.chat_requests())
    assert tried >= len(waiting)  # each was tried, and answered 503
    fake_ollama.busy_until = 0.0  # the storm ends
    for photo in waiting:
        verdict = daemon.wait_for_verdict(photo, timeout=30)
        assert verdict["status"] == "pass", verdict
    answered = len(fake_ollama.chat_requests()) - tried
    assert answered >= len(waiting)
    assert wait_for_state(daemon, "up") == "up"
    status = json.loads((daemon.state / "status.json").read_bytes())
    assert "error" not in status["done_by_status"], status


def test_a_busy_server_in_auto_mode_is_waited_for_not_replaced_by_ocr(
    run_daemon: StartDaemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": CODE}
    fake_ollama.busy_for(float("inf"))
    daemon = run_daemon(config_body=config(fake_ollama, "auto", "120s"))
    photo = drop_photo(daemon.watch, "busy.jpg", proof(50), REQUEST)
    wait_for_state(daemon, "busy")
    assert no_verdict_for(photo, 0)
    fake_ollama.busy_until = 0.0
    verdict = daemon.wait_for_verdict(photo, timeout=30)
    assert verdict["status"] == "pass", verdict
    assert rules_by_name(verdict)["control-code"]["engine"].startswith("ollama"), verdict
