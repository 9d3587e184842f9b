"""The Ollama engine: one structured call per photo through the official client.

Every call uses the same options (changing them makes Ollama reload the model), a bounded
reply, timeouts on connect and read, and what each failure means decides what happens:

- busy (503: its queue is full or the model is loading; 429): ModelBusy at once, and the
  pipeline sets the photo aside to try again later (no worker sleeps on it);
- down (connection refused, no connection within connect_timeout): ModelDown at once; the
  pipeline falls back to OCR in auto mode, else sets the photo aside the same way;
- model missing (404): EngineUnavailable, which auto mode falls back from and the model
  mode reports as `error` at once, saying to pull it;
- transient (500/502/504, no reply within timeout, connection cut mid-reply): retried
  `retries` times with backoff, then EngineError;
- anything else (400, a redirect, a reply that is not Ollama's): EngineError at once.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

import httpx
import ollama
from PIL import Image

from ..config import OllamaConfig
from ..tomlsource import SourceError
from .base import (
    EngineError,
    EngineUnavailable,
    ModelBusy,
    ModelDown,
    ModelWait,
    Question,
    Reading,
)
from .image import encode_jpeg, fit
from .questions import SYSTEM_PROMPT, majority, parse_reply, prompt, schema, settled

log = logging.getLogger(__name__)

DEFAULT_PORT = 11434
PROBE_TIMEOUT = 10.0  # seconds a `show` probe may take; it never waits for a generation

T = TypeVar("T")


# -- where the server is


def host_url(host: str) -> str:
    """OLLAMA_HOST as Ollama itself reads it: "host", "host:port", "http://host[:port]".

    Without a scheme the port defaults to 11434; with one, to the scheme's own (80, 443).
    The unspecified address (OLLAMA_HOST=0.0.0.0 is how servers are told to listen
    everywhere) means this machine, so it is reached on loopback.
    """
    host = host.strip() or f"127.0.0.1:{DEFAULT_PORT}"
    if "://" not in host:
        parts = urlsplit("http://" + host)
        default = DEFAULT_PORT
    else:
        parts = urlsplit(host)
        default = 443 if parts.scheme == "https" else 80
    scheme = parts.scheme if parts.scheme in ("http", "https") else "http"
    try:
        port = parts.port or default
    except ValueError:
        port = default
    name = parts.hostname or "127.0.0.1"
    if name == "0.0.0.0":
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}:{port}"


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and localhost count: names are not resolved."""
    name = (urlsplit(host_url(host)).hostname or "").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class RemoteHostRefused(SourceError, ValueError):
    """A model host off this machine without allow_remote: refused at start and on reload."""


def check_host_allowed(config: OllamaConfig) -> None:
    if not config.allow_remote and not is_loopback(config.host):
        raise RemoteHostRefused(
            "configuration",
            f"{config.host} is not on this machine: photos sent to it would leave it. "
            "Set allow_remote = true under [ollama] to allow that on purpose "
            "(OLLAMA_HOST and --ollama-host set this key too)",
            key="ollama.host",
        )


def keep_alive_value(value: str) -> str | int:
    """Ollama reads a bare number as seconds (-1: forever) but only as a JSON number."""
    value = value.strip()
    return int(value) if re.fullmatch(r"-?\d+", value) else value


# -- what went wrong, and what to do about it


@dataclass(frozen=True)
class Health:
    up: bool
    model_ready: bool
    problem: str | None = None
    busy: bool = False  # it answered 503/429: up, and the photos wait for it


FailureKind = Literal["busy", "down", "missing", "transient", "fatal"]


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str  # for a person: the verdict's reason and the log


def classify(exc: BaseException, config: OllamaConfig) -> Failure | None:
    """What a failed call means; None for exceptions that are not the server's doing."""
    host = config.host
    if isinstance(exc, ollama.ResponseError):
        code, error = exc.status_code, str(exc.error).strip()
        if code == 404:
            return Failure("missing", missing_model(config, error))
        if code in (503, 429):
            return Failure("busy", f"Ollama is busy ({code}: {error})")
        if code in (500, 502, 504):
            return Failure("transient", f"Ollama failed ({code}: {error})")
        if code == -1:  # an error line inside a streamed reply: the runner failed mid-way
            return Failure("transient", f"Ollama failed mid-reply ({error})")
        return Failure("fatal", f"Ollama refused the request ({code}: {error})")
    if isinstance(exc, ConnectionError):  # the client's wrapper of httpx.ConnectError
        return Failure("down", f"Ollama at {host} is not reachable (connection refused)")
    if isinstance(exc, httpx.ConnectTimeout):
        within = f"{config.connect_timeout:g}s"
        return Failure("down", f"Ollama at {host} did not accept a connection within {within}")
    if isinstance(exc, httpx.TimeoutException):
        return Failure("transient", f"no reply from Ollama within {config.timeout:g}s")
    if isinstance(exc, httpx.TransportError):
        return Failure(
            "transient", f"the connection to Ollama broke mid-reply ({type(exc).__name__})"
        )
    if isinstance(exc, ValueError):  # JSON or pydantic: the reply was not Ollama's shape
        return Failure("fatal", f"Ollama's reply could not be read ({type(exc).__name__})")
    return None


def missing_model(config: OllamaConfig, error: str = "") -> str:
    said = f" ({error})" if error else ""
    return (
        f"model {config.model} is not on the Ollama server at {config.host}{said}: "
        f"run `ollama pull {config.model}`"
    )


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: base * 2**(n-1), capped, with +-jitter.

    The cap is also how often a waiting photo probes a down server: a server that comes
    back is noticed within about 5 s.
    """

    base: float = 0.5
    cap: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raw = min(self.cap, self.base * 2 ** min(max(attempt, 1) - 1, 16))
        low, high = 1 - self.jitter, 1 + self.jitter
        spread = rng.uniform(low, high) if rng is not None else random.uniform(low, high)
        return float(raw * spread)


def vote_side(longest: int, max_side: int, vote: int) -> int:
    """The longest side of the copy vote number `vote` (0-based) sees.

    At temperature 0 the same input gives the same answer, so asking again would only
    repeat it: each vote sees the photo at a slightly different size (100%, 90%, 80%...,
    never under 60%) while the options stay identical.
    """
    start = min(longest, max_side)
    return max(1, round(start * max(0.6, 1.0 - 0.1 * vote)))


# -- the engine


class OllamaEngine:
    kinds: ClassVar[frozenset[str]] = frozenset({"text", "presence"})

    def __init__(
        self,
        config: OllamaConfig,
        stop: threading.Event | None = None,
        *,
        backoff: Backoff | None = None,
        on_health: Callable[[Health], None] | None = None,
    ):
        """`on_health` hears every state the engine observes (probes and calls), for the
        log and STATUS."""
        check_host_allowed(config)
        self.config = config
        self.stop = stop or threading.Event()
        self.backoff = backoff or Backoff()
        self.on_health = on_health
        url = host_url(config.host)
        # trust_env=False: no proxy from the environment ever sees a photo; no redirects:
        # a photo goes to the configured host or nowhere.
        self.client = ollama.Client(
            host=url,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            trust_env=False,
            follow_redirects=False,
        )
        self._probe = ollama.Client(
            host=url,
            timeout=httpx.Timeout(
                min(config.timeout, PROBE_TIMEOUT), connect=config.connect_timeout
            ),
            trust_env=False,
            follow_redirects=False,
        )
        self._slots = threading.BoundedSemaphore(config.concurrency)
        self._lock = threading.Lock()
        # When the current spell of busy or down began, and how many calls met it: every
        # photo's wait counts from the start of the outage, and its next try backs off.
        self._trouble_since: float | None = None
        self._trouble_calls = 0
        self.options: dict[str, Any] = {
            "temperature": 0,
            "seed": config.seed,
            "num_predict": config.num_predict,
        }
        self.keep_alive = keep_alive_value(config.keep_alive)

    @property
    def label(self) -> str:
        return f"ollama:{self.config.model}"

    # -- health

    def _report(self, health: Health) -> None:
        if self.on_health is not None:
            self.on_health(health)

    def health(self) -> Health:
        """Is the server up, is the model there, can it see images."""
        health = self._check()
        self._report(health)
        return health

    def _check(self) -> Health:
        try:
            shown = self._probe.show(self.config.model)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                return Health(True, False, missing_model(self.config))
            return Health(True, False, f"Ollama answered {exc.status_code}: {exc.error}")
        except (ConnectionError, httpx.HTTPError) as exc:
            failure = classify(exc, self.config)
            reason = failure.reason if failure else str(exc)
            if failure is None or failure.kind != "down":
                reason = f"Ollama at {self.config.host} does not answer ({reason})"
            return Health(False, False, reason)
        except ValueError as exc:
            return Health(True, False, f"Ollama's reply could not be read ({exc})")
        capabilities = shown.capabilities or []  # servers before 0.6 do not list them
        if capabilities and "vision" not in capabilities:
            problem = (
                f"model {self.config.model} cannot see images (its capabilities: "
                f"{', '.join(capabilities)}): set ollama.model to a vision model"
            )
            return Health(True, False, problem)
        return Health(True, True)

    # -- asking

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        if not questions:
            return {}
        total = self.config.votes
        votes: list[dict[str, Reading]] = []
        for number in range(total):
            side = vote_side(max(image.size), self.config.max_image_side, number)
            votes.append(self._ask_once(encode_jpeg(fit(image, side)), questions))
            if total > 1 and all(settled([v[q.key] for v in votes], total) for q in questions):
                break  # the remaining votes could not change any majority
        return {
            q.key: majority([vote[q.key] for vote in votes], self.label, total) for q in questions
        }

    def _ask_once(self, jpeg: bytes, questions: Sequence[Question]) -> dict[str, Reading]:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": prompt(questions), "images": [jpeg]},
        ]
        format_ = schema(questions)

        def call() -> Any:
            return self.client.chat(
                model=self.config.model,
                messages=messages,
                format=format_,
                options=self.options,
                keep_alive=self.keep_alive,
                think=False,
                stream=False,
            )

        with self._slots:
            reply = self._call_with_retries(call)
        return parse_reply(reply.message.content or "", reply.done_reason, questions, self.label)

    def _call_with_retries(self, call: Callable[[], T]) -> T:
        failures = 0  # transient ones, against `retries`
        while True:
            try:
                reply = call()
            except Exception as exc:
                failure = classify(exc, self.config)
                if failure is None:
                    raise
            else:
                self._trouble_over()
                self._report(Health(True, True))
                return reply
            if failure.kind in ("busy", "down"):
                raise self._trouble(failure)
            self._trouble_over()  # the server is there (whatever it said)
            if failure.kind == "missing":
                self._report(Health(True, False, failure.reason))
                raise EngineUnavailable(failure.reason)
            if failure.kind == "fatal":
                raise EngineError(failure.reason)
            failures += 1
            if failures > self.config.retries:
                raise EngineError(f"{failure.reason}; gave up after {failures} attempt(s)")
            delay = self.backoff.delay(failures)
            log.warning("%s; retrying in %.1fs", failure.reason, delay)
            if self.stop.wait(delay):
                raise EngineError(f"{failure.reason} (stopped while retrying)")

    def _trouble(self, failure: Failure) -> ModelWait:
        """Busy or down: what the pipeline needs to set the photo aside (when to try again,
        since when), with no wait here."""
        busy = failure.kind == "busy"
        # Busy is up and usable: auto mode keeps sending photos to it (they wait).
        self._report(Health(busy, busy, failure.reason, busy=busy))
        with self._lock:
            if self._trouble_since is None:
                self._trouble_since = time.monotonic()
            self._trouble_calls += 1
            since, calls = self._trouble_since, self._trouble_calls
        kind = ModelBusy if busy else ModelDown
        return kind(failure.reason, self.backoff.delay(calls), since)

    def _trouble_over(self) -> None:
        with self._lock:
            self._trouble_since, self._trouble_calls = None, 0

    def close(self) -> None:
        self.client.close()
        self._probe.close()
