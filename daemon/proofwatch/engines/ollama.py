"""The Ollama engine: one structured call per photo through the official client.

Every call uses the same options (changing them makes Ollama reload the model), a bounded
reply, timeouts on connect and read, and retries only where retrying can help.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import ollama
from PIL import Image

from ..config import OllamaConfig
from .base import EngineError, EngineUnavailable, Question, Reading
from .image import encode_jpeg
from .questions import SYSTEM_PROMPT, majority, parse_reply, prompt, schema

log = logging.getLogger(__name__)


def host_url(host: str) -> str:
    """OLLAMA_HOST is often written without a scheme or a port."""
    if "://" not in host:
        host = "http://" + host
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 11434)
    name = parts.hostname or "127.0.0.1"
    shown = f"[{name}]" if ":" in name else name
    return f"{parts.scheme}://{shown}:{port}"


def is_loopback(host: str) -> bool:
    name = urlsplit(host_url(host)).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RemoteHostRefused(ValueError):
    pass


def check_host_allowed(config: OllamaConfig) -> None:
    if not config.allow_remote and not is_loopback(config.host):
        raise RemoteHostRefused(
            f"ollama.host {config.host} is not on this machine; photos would leave it. "
            "Set ollama.allow_remote = true in the config to allow that on purpose."
        )


@dataclass(frozen=True)
class Health:
    up: bool
    model_ready: bool
    problem: str | None = None


class _Retryable(Exception):
    pass


class OllamaEngine:
    kinds: ClassVar[frozenset[str]] = frozenset({"text", "presence"})

    def __init__(
        self,
        config: OllamaConfig,
        stop: threading.Event | None = None,
        wait_when_down: bool = True,
    ):
        """`wait_when_down`: wait for a down server (up to model_wait); else fail at once,
        so that engine = "auto" can fall back to OCR."""
        check_host_allowed(config)
        self.config = config
        self.wait_when_down = wait_when_down
        self.stop = stop or threading.Event()
        # trust_env=False: no proxy from the environment ever sees a photo.
        self.client = ollama.Client(
            host=host_url(config.host),
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            trust_env=False,
        )
        self._slots = threading.BoundedSemaphore(config.concurrency)
        # When the server went down: photos queued behind the first one do not each wait
        # model_wait again; once it has been down that long they fail fast until it is back.
        self._down_since: float | None = None
        self.options: dict[str, Any] = {
            "temperature": 0,
            "seed": config.seed,
            "num_predict": config.num_predict,
        }

    @property
    def label(self) -> str:
        return f"ollama:{self.config.model}"

    def health(self) -> Health:
        """Is the server up, is the model there, can it see images."""
        try:
            shown = self.client.show(self.config.model)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                problem = (
                    f"model {self.config.model} is not on the Ollama server at "
                    f"{self.config.host}: run `ollama pull {self.config.model}`"
                )
                return Health(True, False, problem)
            return Health(True, False, f"Ollama answered {exc.status_code}: {exc.error}")
        except (ConnectionError, httpx.HTTPError) as exc:
            return Health(False, False, f"Ollama at {self.config.host} is unreachable: {exc}")
        capabilities = shown.capabilities or []
        if capabilities and "vision" not in capabilities:
            problem = f"model {self.config.model} cannot see images (no vision capability)"
            return Health(True, False, problem)
        return Health(True, True)

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        jpeg = encode_jpeg(image)
        votes = [self._ask_once(jpeg, questions) for _ in range(self.config.votes)]
        return {q.key: majority([vote[q.key] for vote in votes], self.label) for q in questions}

    def _ask_once(self, jpeg: bytes, questions: Sequence[Question]) -> dict[str, Reading]:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt(questions), "images": [jpeg]},
        ]
        with self._slots:
            reply = self._call_with_retries(
                lambda: self.client.chat(
                    model=self.config.model,
                    messages=messages,
                    format=schema(questions),
                    options=self.options,
                    keep_alive=self.config.keep_alive,
                    think=False,
                    stream=False,
                )
            )
        return parse_reply(reply.message.content or "", reply.done_reason, questions, self.label)

    def _call_with_retries(self, call: Any) -> Any:
        """Retry what can pass (refused, 503, timeouts); wait out a down server up to model_wait."""
        started = time.monotonic()
        failures = 0
        while True:
            try:
                reply = call()
                self._down_since = None
                return reply
            except ollama.ResponseError as exc:
                if exc.status_code == 404:
                    missing = f"model {self.config.model} not found: {exc.error}"
                    raise EngineUnavailable(missing) from None
                if exc.status_code not in (429, 500, 502, 503, 504):
                    refused = f"Ollama refused the request ({exc.status_code}: {exc.error})"
                    raise EngineError(refused) from None
                reason, down = (
                    f"Ollama answered {exc.status_code}: {exc.error}",
                    exc.status_code == 503,
                )
            except ConnectionError:
                reason, down = f"Ollama at {self.config.host} is unreachable", True
            except httpx.TimeoutException:
                reason, down = f"no reply from Ollama within {self.config.timeout:g}s", False
            except httpx.HTTPError as exc:
                reason, down = f"connection to Ollama failed ({type(exc).__name__})", True
            failures += 1
            if down and not self.wait_when_down:
                raise EngineUnavailable(reason)
            now = time.monotonic()
            if down and self._down_since is None:
                self._down_since = now
            # A down server is waited for, up to model_wait; a sick one is retried `retries` times.
            waited = now - (self._down_since if down and self._down_since else started)
            if (not down and failures > self.config.retries) or waited >= self.config.model_wait:
                raise EngineError(f"{reason} (gave up after {failures} attempt(s), {waited:.0f}s)")
            delay = min(30.0, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.8, 1.2)
            delay = min(delay, max(0.05, self.config.model_wait - waited))
            log.warning("%s; retrying in %.1fs", reason, delay)
            if self.stop.wait(delay):
                raise EngineError(f"{reason} (stopped while waiting)")

    def close(self) -> None:
        self.client.close()
