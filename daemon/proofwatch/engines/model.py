"""A vision model on local model servers: one structured call per photo, whatever the API.

The API (Ollama's own, or the OpenAI-compatible one of llama.cpp, vLLM, LM Studio, LocalAI)
is a `Wire`: how to send the call, read the answer and name what went wrong. Everything
else is here, the same for every API: the hosts and which one takes a photo, votes, the
concurrency cap per host, and what each failure means:

- busy (503: queue full or model loading; 429): that host is skipped for a growing
  backoff and the next host that is up takes the photo at once; with none left, ModelBusy,
  and the pipeline sets the photo aside (no worker sleeps on it);
- down (connection refused, no connection within connect_timeout, a server that cannot
  read images): the same with ModelDown, which auto mode falls back from;
- model missing (404): EngineUnavailable: auto mode falls back, the model mode says
  `error` at once with what to run;
- transient (500/502/504, no reply within timeout, connection cut mid-reply): retried
  `retries` times with backoff, then EngineError;
- anything else (400, a redirect, a reply that is not the API's): EngineError at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import httpx
from PIL import Image

from ..config import ModelConfig
from .base import EngineError, EngineUnavailable, ModelBusy, ModelDown, Question, Reading
from .hosts import Backoff, HostPool, HostState, check_hosts_allowed, host_url
from .image import jpeg_for
from .questions import Answer, attachments, majority, read_answer, settled

log = logging.getLogger(__name__)


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


class Wire(Protocol):
    """One model server API: the call, the health check, what an exception means."""

    server: ClassVar[str]  # how the log and verdicts name the server ("Ollama")
    api: ClassVar[str]  # the engine label's prefix ("ollama", "openai")

    def chat(self, host: str, images: Sequence[bytes], questions: Sequence[Question]) -> Answer:
        """One call: the photo's JPEG first, then any reference sheets (`attachments`)."""
        ...

    def check(self, host: str) -> Health: ...

    def preload(self, host: str) -> None: ...

    def classify(self, exc: BaseException, host: str) -> Failure | None: ...

    def close(self) -> None: ...


def classify_transport(
    exc: BaseException, server: str, host: str, config: ModelConfig
) -> Failure | None:
    """What a failure below HTTP means, the same for every API."""
    if isinstance(exc, httpx.ConnectTimeout):
        within = f"{config.connect_timeout:g}s"
        return Failure("down", f"{server} at {host} did not accept a connection within {within}")
    if isinstance(exc, ConnectionError | httpx.ConnectError):  # the ollama client wraps it
        return Failure("down", f"{server} at {host} is not reachable (connection refused)")
    if isinstance(exc, httpx.TimeoutException):
        return Failure("transient", f"no reply from {server} within {config.timeout:g}s")
    if isinstance(exc, httpx.TransportError):
        return Failure(
            "transient", f"the connection to {server} broke mid-reply ({type(exc).__name__})"
        )
    if isinstance(exc, ValueError):  # JSON or pydantic: the reply was not the API's shape
        return Failure("fatal", f"{server}'s reply could not be read ({type(exc).__name__})")
    return None


def by_status(code: int, error: str, server: str, missing: Callable[[str], str]) -> Failure:
    """What an HTTP error status means, the same for every API."""
    if code == 404:
        return Failure("missing", missing(error))
    if code in (503, 429):
        return Failure("busy", f"{server} is busy ({code}: {error})")
    if "image input is not supported" in error:  # llama-server started without --mmproj
        return Failure("down", f"{server} cannot read images ({error})")
    if code in (500, 502, 504):
        return Failure("transient", f"{server} failed ({code}: {error})")
    return Failure("fatal", f"{server} refused the request ({code}: {error})")


def vote_side(longest: int, max_side: int, vote: int) -> int:
    """The longest side of the copy vote number `vote` (0-based) sees.

    At temperature 0 the same input gives the same answer, so asking again would only
    repeat it: each vote sees the photo at a slightly different size (100%, 90%, 80%...,
    never under 60%) while the options stay identical.
    """
    start = min(longest, max_side)
    return max(1, round(start * max(0.6, 1.0 - 0.1 * vote)))


class ModelEngine:
    kinds: ClassVar[frozenset[str]] = frozenset({"text", "presence", "reference"})

    def __init__(
        self,
        config: ModelConfig,
        wire: Wire,
        stop: threading.Event | None = None,
        *,
        backoff: Backoff | None = None,
        on_health: Callable[[Health], None] | None = None,
    ):
        """`on_health` hears every state the engine observes (checks and calls), for the
        log and STATUS."""
        check_hosts_allowed(config.all_hosts, config.allow_remote)
        self.config = config
        self.wire = wire
        self.stop = stop or threading.Event()
        self.on_health = on_health
        self.pool = HostPool([host_url(h) for h in config.all_hosts], backoff or Backoff())
        self._slots = {
            host.url: threading.BoundedSemaphore(config.concurrency) for host in self.pool.hosts
        }

    @property
    def backoff(self) -> Backoff:
        return self.pool.backoff

    @backoff.setter
    def backoff(self, value: Backoff) -> None:
        self.pool.backoff = value

    @property
    def label(self) -> str:
        return f"{self.wire.api}:{self.config.model}"

    @property
    def where(self) -> str:
        return ", ".join(host.url for host in self.pool.hosts)

    # -- health

    def _report(self, health: Health) -> None:
        if self.on_health is not None:
            self.on_health(health)

    def health(self) -> Health:
        """Is a server up, is the model there, can it see images: the best host's state."""
        states = [self.wire.check(host.url) for host in self.pool.hosts]
        for host, state in zip(self.pool.hosts, states, strict=True):
            if state.model_ready:
                self.pool.answered(host)
        health = next((s for s in states if s.model_ready), None) or next(
            (s for s in states if s.up), states[0]
        )
        self._report(health)
        return health

    def preload(self) -> None:
        """Load the model on every host now, so the first photo does not pay for it."""
        for host in self.pool.hosts:
            try:
                self.wire.preload(host.url)
            except Exception as exc:  # a preload is a courtesy: the calls report failures
                log.debug("preload on %s failed: %s", host.url, exc)

    # -- asking

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        if not questions:
            return {}
        total = self.config.votes
        sheets = attachments(questions)
        votes: list[dict[str, Reading]] = []
        for number in range(total):
            side = vote_side(max(image.size), self.config.max_image_side, number)
            votes.append(self._ask_once([jpeg_for(image, side), *sheets], questions))
            if total > 1 and all(settled([v[q.key] for v in votes], total) for q in questions):
                break  # the remaining votes could not change any majority
        return {
            q.key: majority([vote[q.key] for vote in votes], self.label, total) for q in questions
        }

    def _ask_once(
        self, images: Sequence[bytes], questions: Sequence[Question]
    ) -> dict[str, Reading]:
        """One call on the first host that is up and least busy; a host busy or down hands
        the photo to the next one at once."""
        tried: list[HostState] = []
        last: Failure | None = None
        while (host := self.pool.take(tried)) is not None:
            tried.append(host)
            try:
                with self._slots[host.url]:
                    answer = self._call_with_retries(host, images, questions)
            except _HostTrouble as trouble:
                last = trouble.failure
                continue
            finally:
                self.pool.give_back(host)
            return read_answer(answer, questions, self.label)
        retry_after, since, busy = self.pool.wait_hint()
        reason = last.reason if last else f"every model host is waited for ({self.where})"
        if busy:
            self._report(Health(True, True, reason, busy=True))
            raise ModelBusy(reason, retry_after, since)
        self._report(Health(False, False, reason))
        raise ModelDown(reason, retry_after, since)

    def _call_with_retries(
        self, host: HostState, images: Sequence[bytes], questions: Sequence[Question]
    ) -> Answer:
        failures = 0  # transient ones, against `retries`
        while True:
            try:
                answer = self.wire.chat(host.url, images, questions)
            except Exception as exc:
                failure = self.wire.classify(exc, host.url)
                if failure is None:
                    raise
            else:
                self.pool.answered(host)
                self._report(Health(True, True))
                return answer
            if failure.kind in ("busy", "down"):
                log.info("%s; another host or a later try takes the photo", failure.reason)
                self.pool.troubled(host, busy=failure.kind == "busy")
                raise _HostTrouble(failure)
            self.pool.answered(host)  # the server is there (whatever it said)
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

    def close(self) -> None:
        self.wire.close()


class _HostTrouble(Exception):
    def __init__(self, failure: Failure):
        super().__init__(failure.reason)
        self.failure = failure
