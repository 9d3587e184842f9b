"""The OpenAI-compatible chat API (POST /v1/chat/completions) of llama.cpp's llama-server,
vLLM, LM Studio, LocalAI and Ollama's own /v1: the wire of the model engine for them.

The photo goes as an `image_url` data URI; the answer is held to the same JSON schema as
on Ollama, in the nested `response_format` form ({"type": "json_schema", "json_schema":
{"name", "strict", "schema"}}), the one llama-server honours (it ignores a flat
`"schema"`). Requests go through httpx, which the ollama client already depends on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from ..config import ModelConfig
from .base import Question
from .model import Failure, Health, by_status, classify_transport
from .questions import SYSTEM_PROMPT, Answer, prompt, reply_budget, schema

SCHEMA_NAME = "proofwatch_answers"
PROBE_TIMEOUT = 10.0


def request_body(
    config: ModelConfig, images: Sequence[bytes], questions: Sequence[Question]
) -> dict[str, Any]:
    """The chat completion request for one photo (pure: tested without a server)."""
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + b64}}
        for b64 in (base64.b64encode(jpeg).decode("ascii") for jpeg in images)
    ]
    return {
        "model": config.model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt(questions)},
                    *parts,
                ],
            },
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema(questions)},
        },
        "temperature": 0,
        "seed": config.seed,
        "max_tokens": reply_budget(questions, config.num_predict),
        # llama-server's name for it; vLLM and LM Studio take it too, others ignore it.
        "repeat_penalty": config.repeat_penalty,
        "stream": False,
    }


def answer_of(reply: Any) -> Answer:
    """The answer in a chat completion; ValueError when the reply is not one."""
    try:
        choice = reply["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ValueError("not a chat completion") from None
    # vLLM's reasoning parser names it reasoning_content, Ollama's /v1 `reasoning`.
    thinking = message.get("reasoning_content") or message.get("reasoning") or ""
    return Answer(message.get("content") or "", str(thinking), choice.get("finish_reason"))


def error_text(response: httpx.Response) -> str:
    """The server's own words: {"error": {"message"}} (OpenAI, llama-server, vLLM),
    {"error": "..."} (LM Studio, Ollama), or the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error)).strip()
    if error is not None:
        return str(error).strip()
    return str(body.get("message", body) if isinstance(body, dict) else body)[:200]


class OpenAIWire:
    server: ClassVar[str] = "the model server"
    api: ClassVar[str] = "openai"

    def __init__(self, config: ModelConfig):
        self.config = config
        # trust_env=False: no proxy from the environment ever sees a photo; no redirects.
        self._client = httpx.Client(
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            trust_env=False,
            follow_redirects=False,
        )
        self._probe_timeout = httpx.Timeout(
            min(config.timeout, PROBE_TIMEOUT), connect=config.connect_timeout
        )

    def chat(self, host: str, images: Sequence[bytes], questions: Sequence[Question]) -> Answer:
        body = request_body(self.config, images, questions)
        response = self._client.post(f"{host}/v1/chat/completions", json=body)
        response.raise_for_status()
        return answer_of(response.json())

    def preload(self, host: str) -> None:
        """These servers load their model when they start: nothing to do."""

    def check(self, host: str) -> Health:
        """Up, serving the model, able to see: llama-server says so in /props (its
        modalities); vLLM, LM Studio and LocalAI list their models in /v1/models."""
        try:
            props = self._client.get(f"{host}/props", timeout=self._probe_timeout)
            if props.status_code == 200 and isinstance(props.json().get("modalities"), dict):
                if not props.json()["modalities"].get("vision"):
                    return Health(True, False, self._blind(host))
                return Health(True, True)
            if props.status_code == 503:
                return Health(True, True, f"{host} is loading its model", busy=True)
            models = self._client.get(f"{host}/v1/models", timeout=self._probe_timeout)
            models.raise_for_status()
            served = [str(m.get("id")) for m in models.json().get("data", [])]
        except httpx.HTTPStatusError as exc:
            failure = self.classify(exc, host)
            return Health(True, False, failure.reason if failure else str(exc))
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            failure = self.classify(exc, host)
            return Health(False, False, failure.reason if failure else str(exc))
        if served and self.config.model not in served:
            problem = (
                f"model {self.config.model} is not served at {host} (it serves: "
                f"{', '.join(served)}): set model.model to one of them"
            )
            return Health(True, False, problem)
        return Health(True, True)

    def _blind(self, host: str) -> str:
        return (
            f"the model server at {host} cannot read images (no vision projector: start "
            "llama-server with --mmproj, or serve a vision model)"
        )

    def classify(self, exc: BaseException, host: str) -> Failure | None:
        if isinstance(exc, httpx.HTTPStatusError):
            code, error = exc.response.status_code, error_text(exc.response)
            retry = exc.response.headers.get("Retry-After")
            said = f"{error}; Retry-After {retry}" if retry else error
            return by_status(code, said, f"the model server at {host}", self._missing(host))
        if isinstance(exc, json.JSONDecodeError | ValueError) and not isinstance(
            exc, httpx.HTTPError
        ):
            return Failure("fatal", f"the model server's reply could not be read ({exc})")
        return classify_transport(exc, "the model server", host, self.config)

    def _missing(self, host: str) -> Any:
        def missing(error: str) -> str:
            return (
                f"model {self.config.model} or the chat API is not at {host} ({error}): "
                "check model.model and that the server speaks the OpenAI API (model.api)"
            )

        return missing

    def close(self) -> None:
        self._client.close()
