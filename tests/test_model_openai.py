"""The model engine on the OpenAI-compatible API, on several hosts, and only on loopback:
through real HTTP (httpx, the real `ollama` client) against fake servers on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from ollama_server import BUSY, FakeOllama
from openai_server import LOADING, NO_MMPROJ, SERVED, FakeOpenAI, Reply
from proofwatch.config import Config, ModelConfig
from proofwatch.engines import EngineSet, model_engine
from proofwatch.engines.base import EngineError, EngineUnavailable, ModelBusy, ModelDown, Question
from proofwatch.engines.hosts import (
    Backoff,
    HostState,
    RemoteHostRefused,
    check_hosts_allowed,
    pick,
)
from proofwatch.engines.model import ModelEngine
from proofwatch.engines.openai import answer_of, request_body
from proofwatch.engines.questions import Answer, context_for, image_tokens, read_answer

CODE = Question("control_code", "text", "Transcribe the number handwritten on the paper.")
DEVICE = Question("device_visible", "presence", "Is the device clearly visible?")
FAST = Backoff(base=0.01, cap=0.05, jitter=0.0)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every connection these tests make is recorded; one off loopback fails the test."""
    seen: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        host = address[0] if isinstance(address, tuple) else address
        assert host in ("127.0.0.1", "::1", "localhost"), f"a connection left loopback: {host}"
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield seen


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    server.start()
    yield server
    server.stop()


def engine_for(
    *urls: str, api: str = "openai", backoff: Backoff = FAST, **changes: Any
) -> ModelEngine:
    settings: dict[str, Any] = {"model": SERVED, "timeout": 2.0, "connect_timeout": 0.5}
    settings |= {"retries": 0, **changes}
    config = ModelConfig(api=api, host=urls[0], hosts=list(urls[1:]), **settings)
    return model_engine(Config(model=config), backoff=backoff)


def photo() -> Image.Image:
    return Image.new("RGB", (640, 480), (230, 230, 220))


# -- pure: the request and the answer


def test_the_request_is_the_documented_chat_completion() -> None:
    body = request_body(ModelConfig(model=SERVED, seed=3), [b"\xff\xd8jpeg"], [CODE, DEVICE])
    user = body["messages"][1]["content"]
    assert user[1]["image_url"]["url"] == "data:image/jpeg;base64," + base64.b64encode(
        b"\xff\xd8jpeg"
    ).decode("ascii")
    # The nested form: llama-server ignores a flat {"type": "json_schema", "schema": ...}.
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == [
        "control_code",
        "device_visible",
    ]
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0, 3, 64 + 48 + 24)
    assert body["stream"] is False


def test_an_answer_in_reasoning_content_is_read_and_an_empty_one_is_a_problem() -> None:
    message = {"content": None, "reasoning_content": '{"control_code": "7"}'}
    reply = {"choices": [{"message": message, "finish_reason": "stop"}]}
    assert read_answer(answer_of(reply), [CODE], "e")["control_code"].values == ("7",)
    empty = read_answer(Answer("", ""), [CODE], "e")["control_code"]
    assert empty.values == () and empty.problem == "the model gave an empty answer"
    with pytest.raises(ValueError):
        answer_of({"object": "error"})


def test_the_context_holds_the_largest_image_sent() -> None:
    # A 12 MP photo (4000x3000) sent at 1600 px becomes 1600x1200: 58x43 Qwen tokens.
    assert image_tokens(1600, 1200) == 2494
    assert image_tokens(4000, 3000) == 15_444  # sent whole, it would not fit any default
    # 3,364 photo tokens, 1,369 for a reference sheet (always: a new num_ctx reloads the
    # model), prompt and reply: Ollama's default 4096 would overflow.
    assert context_for(1600, 256) == 6144
    assert context_for(896, 256) == 4096


def test_the_least_busy_host_that_is_up_is_picked() -> None:
    a, b, c = HostState("a", in_flight=2), HostState("b", in_flight=1), HostState("c")
    assert pick([a, b, c], now=0.0) is c
    c.retry_at = 10.0  # backing off after a 503
    assert pick([a, b, c], now=0.0) is b
    assert pick([a, b, c], now=11.0) is c
    b.in_flight = c.in_flight = 0
    assert [pick([b, c], 11.0, turn) for turn in range(3)] == [b, c, b]  # round by turn
    assert pick([HostState("x", retry_at=5.0)], now=0.0) is None


def test_remote_hosts_are_allowed_one_by_one() -> None:
    check_hosts_allowed(["127.0.0.1:11434", "10.0.0.5:11434"], ["http://10.0.0.5:11434"])
    with pytest.raises(RemoteHostRefused) as refused:
        check_hosts_allowed(["127.0.0.1:11434", "10.0.0.6:11434"], ["http://10.0.0.5:11434"])
    assert "10.0.0.6" in str(refused.value)
    with pytest.raises(RemoteHostRefused):
        engine_for("http://127.0.0.1:8080", "http://10.0.0.6:8080")


# -- the OpenAI-compatible API, over HTTP


def test_a_photo_is_read_through_the_chat_completions_api(fake_openai: FakeOpenAI) -> None:
    fake_openai.answers = {"control_code": "48213", "device_visible": "yes"}
    engine = engine_for(fake_openai.url)
    readings = engine.ask(photo(), [CODE, DEVICE])
    assert readings["control_code"].values == ("48213",)
    assert readings["device_visible"].values == ("yes",)
    assert readings["control_code"].engine == f"openai:{SERVED}"
    [chat] = fake_openai.chat_requests()
    assert chat.body["model"] == SERVED
    assert engine.health().model_ready
    engine.close()


def test_reasoning_content_busy_and_refusals(fake_openai: FakeOpenAI) -> None:
    engine = engine_for(fake_openai.url)
    fake_openai.script.append(Reply(thinking={"control_code": "11811"}))
    assert engine.ask(photo(), [CODE])["control_code"].values == ("11811",)
    fake_openai.busy_for(float("inf"))
    with pytest.raises(ModelBusy) as busy:
        engine.ask(photo(), [CODE])
    assert LOADING in busy.value.reason
    fake_openai.busy_until = 0.0
    fake_openai.script.append(Reply(status=400, error="'messages' must be an array"))
    with pytest.raises(EngineError) as refused:
        engine.ask(photo(), [CODE])
    assert "refused the request (400" in str(refused.value)
    fake_openai.script.append(Reply(done_reason="length", content='{"control_code": "4'))
    assert "cut off" in (engine.ask(photo(), [CODE])["control_code"].problem or "")
    engine.close()


def test_a_server_that_cannot_read_images_is_an_operator_error_not_a_verdict(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.vision = False
    engines = EngineSet(Config(engine="model", model=ModelConfig(
        api="openai", host=fake_openai.url, model=SERVED)))  # fmt: skip
    health = engines.check_ollama()
    assert health is not None and health.up and not health.model_ready
    assert "cannot read images" in (health.problem or "") and "--mmproj" in (health.problem or "")
    assert engines.ollama is not None
    engines.ollama.backoff = FAST
    with pytest.raises(ModelDown) as down:  # the photo waits for the operator, no verdict
        engines.ollama.ask(photo(), [CODE])
    assert NO_MMPROJ in down.value.reason
    engines.close()


def test_a_model_the_server_does_not_serve_is_named(fake_openai: FakeOpenAI) -> None:
    fake_openai.props = False  # vLLM, LM Studio: only /v1/models
    engine = engine_for(fake_openai.url, model="llava")
    health = engine.health()
    assert not health.model_ready and f"it serves: {SERVED}" in (health.problem or "")
    with pytest.raises(EngineUnavailable) as missing:
        engine.ask(photo(), [CODE])
    assert "does not exist" in str(missing.value)
    engine.close()


# -- several hosts


def test_a_busy_or_down_host_hands_the_photo_to_another_at_once() -> None:
    first, second = FakeOllama().start(), FakeOllama().start()
    try:
        second.answers = {"control_code": "48213"}
        first.busy_for(float("inf"))
        # A back-off long enough that a loaded machine cannot see it end during three asks
        # (10 ms did, once), waited out before the next part.
        slow = Backoff(base=2.0, cap=2.0, jitter=0.0)
        engine = engine_for(first.url, second.url, api="ollama", model="qwen2.5vl:7b", backoff=slow)
        for _ in range(3):
            assert engine.ask(photo(), [CODE])["control_code"].values == ("48213",)
        assert len(first.chat_requests()) == 1  # tried once, then left to back off
        assert len(second.chat_requests()) == 3
        time.sleep(slow.cap + 0.1)  # the first's back-off is over
        second.stop()  # now one is busy, the other down: the photo waits
        first.busy_until = 0.0
        first.answers = {"control_code": "48213"}
        assert engine.ask(photo(), [CODE])["control_code"].values == ("48213",)
        first.busy_for(float("inf"))
        with pytest.raises(ModelBusy) as waiting:  # busy beats down: the server is there
            for _ in range(5):
                engine.ask(photo(), [CODE])
        assert BUSY in waiting.value.reason or "not reachable" in waiting.value.reason
        engine.close()
    finally:
        first.stop()
        second.stop()


def test_photos_spread_over_hosts_that_are_up(loopback_only: list[Any]) -> None:
    hosts = [FakeOllama(answers={"control_code": "1"}).start() for _ in range(2)]
    try:
        engine = engine_for(*(h.url for h in hosts), api="ollama", model="qwen2.5vl:7b")
        for _ in range(4):
            engine.ask(photo(), [CODE])
        assert [len(h.chat_requests()) for h in hosts] == [2, 2]
        engine.close()
    finally:
        for host in hosts:
            host.stop()
    assert loopback_only  # connections were made, every one of them on loopback
