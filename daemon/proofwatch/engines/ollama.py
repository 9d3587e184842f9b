"""Ollama's own API (/api/chat, /api/show) through the official client: the wire of the
model engine (model.py) for Ollama.

Every call uses the same load options (a different num_ctx makes Ollama reload the
model), a bounded reply sized to the questions, and think=false, with the answer read from
`thinking` when a reasoning model puts it there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
import ollama

from ..config import ModelConfig
from .base import Question
from .hosts import RemoteHostRefused, check_hosts_allowed, host_url, is_loopback
from .model import Failure, Health, by_status, classify_transport
from .questions import SYSTEM_PROMPT, Answer, context_for, prompt, reply_budget, schema

__all__ = [
    "OllamaWire",
    "RemoteHostRefused",
    "check_hosts_allowed",
    "host_url",
    "is_loopback",
    "keep_alive_value",
]

PROBE_TIMEOUT = 10.0  # seconds a `show` probe may take; it never waits for a generation


def keep_alive_value(value: str) -> str | int:
    """Ollama reads a bare number as seconds (-1: forever) but only as a JSON number."""
    value = value.strip()
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def missing_model(config: ModelConfig, host: str, error: str = "") -> str:
    said = f" ({error})" if error else ""
    return (
        f"model {config.model} is not on the Ollama server at {host}{said}: "
        f"run `ollama pull {config.model}`"
    )


def load_options(config: ModelConfig) -> dict[str, Any]:
    """The options every call and the preload send, identical so that Ollama never
    reloads the model between them."""
    return {
        "temperature": 0,
        "seed": config.seed,
        "num_ctx": context_for(config.max_image_side, config.num_predict),
        "repeat_penalty": config.repeat_penalty,
    }


class OllamaWire:
    server: ClassVar[str] = "Ollama"
    api: ClassVar[str] = "ollama"

    def __init__(self, config: ModelConfig):
        self.config = config
        self.keep_alive = keep_alive_value(config.keep_alive)
        self.options = load_options(config)
        # trust_env=False: no proxy from the environment ever sees a photo; no redirects:
        # a photo goes to the configured host or nowhere.
        urls = [host_url(host) for host in config.all_hosts]
        self._clients = {url: self._client(url, config.timeout) for url in urls}
        self._probes = {url: self._client(url, min(config.timeout, PROBE_TIMEOUT)) for url in urls}

    def _client(self, url: str, timeout: float) -> ollama.Client:
        return ollama.Client(
            host=url,
            timeout=httpx.Timeout(timeout, connect=self.config.connect_timeout),
            trust_env=False,
            follow_redirects=False,
        )

    def chat(self, host: str, images: Sequence[bytes], questions: Sequence[Question]) -> Answer:
        reply = self._clients[host].chat(
            model=self.config.model,
            messages=[
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": prompt(questions), "images": list(images)},
            ],
            format=schema(questions),
            options={
                **self.options,
                "num_predict": reply_budget(questions, self.config.num_predict),
            },
            keep_alive=self.keep_alive,
            think=False,
            stream=False,
        )
        message = reply.message
        return Answer(message.content or "", message.thinking or "", reply.done_reason)

    def preload(self, host: str) -> None:
        """An empty chat loads the model (Ollama's documented way), with the options the
        calls use, so the first photo finds it loaded."""
        self._clients[host].chat(
            model=self.config.model, messages=[], options=self.options, keep_alive=self.keep_alive
        )

    def check(self, host: str) -> Health:
        try:
            shown = self._probes[host].show(self.config.model)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                return Health(True, False, missing_model(self.config, host))
            return Health(True, False, f"Ollama answered {exc.status_code}: {exc.error}")
        except (ConnectionError, httpx.HTTPError) as exc:
            failure = self.classify(exc, host)
            reason = failure.reason if failure else str(exc)
            if failure is None or failure.kind != "down":
                reason = f"Ollama at {host} does not answer ({reason})"
            return Health(False, False, reason)
        except ValueError as exc:
            return Health(True, False, f"Ollama's reply could not be read ({exc})")
        capabilities = shown.capabilities or []  # servers before 0.6 do not list them
        if capabilities and "vision" not in capabilities:
            problem = (
                f"model {self.config.model} cannot see images (its capabilities: "
                f"{', '.join(capabilities)}): set model.model to a vision model"
            )
            return Health(True, False, problem)
        return Health(True, True)

    def classify(self, exc: BaseException, host: str) -> Failure | None:
        """What a failed call means; None for exceptions that are not the server's doing."""
        if isinstance(exc, ollama.ResponseError):
            code, error = exc.status_code, str(exc.error).strip()
            if code == -1:  # an error line inside a streamed reply: the runner failed mid-way
                return Failure("transient", f"Ollama failed mid-reply ({error})")
            return by_status(
                code, error, "Ollama", lambda said: missing_model(self.config, host, said)
            )
        return classify_transport(exc, "Ollama", host, self.config)

    def close(self) -> None:
        for client in (*self._clients.values(), *self._probes.values()):
            client.close()
