"""Model engines: a vision model on model servers (Ollama's API or the OpenAI-compatible
one) and the embedded OCR, behind one interface."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ..config import Config
from .base import Availability, Engine, EngineError, EngineUnavailable

if TYPE_CHECKING:
    from .model import Health, ModelEngine
    from .ocr import OcrEngine  # heavy imports: only where the engine is used

log = logging.getLogger(__name__)

HEALTH_TTL = 30.0  # seconds a health check is trusted before asking the server again


def model_engine(config: Config, stop: threading.Event | None = None, **kwargs: Any) -> ModelEngine:
    """The vision model engine for the configured API."""
    from .model import ModelEngine

    model = config.model
    if model.api == "openai":
        from .openai import OpenAIWire

        return ModelEngine(model, OpenAIWire(model), stop, **kwargs)
    from .ollama import OllamaWire

    return ModelEngine(model, OllamaWire(model), stop, **kwargs)


class EngineSet:
    """The engines this daemon runs, and whether the model server is usable right now.

    (`ollama` names the vision model engine, whatever its API: rules say engine = "ollama".)
    The model server's state comes from health checks (at start, on reload, every HEALTH_TTL when
    a photo needs it) and from what the engine sees on each call; a change of state is
    logged once, not per photo.
    """

    def __init__(self, config: Config, stop: threading.Event | None = None):
        # The plan's name for the model mode is the rules' engine name for it.
        self.mode = "ollama" if config.engine == "model" else config.engine
        self.ollama: ModelEngine | None = None
        self._preloaded = False
        self._lock = threading.Lock()
        self._health: Health | None = None
        self._checked_at = float("-inf")
        self._since = time.time()  # when the server's state last changed (wall clock, shown)
        if self.mode != "ocr":
            self.ollama = model_engine(config, stop, on_health=self._record)
        self._ocr_config = config.ocr
        self._ocr: OcrEngine | None = None
        self._ocr_lock = threading.Lock()

    @property
    def ocr_ready(self) -> bool:
        """The OCR model is loaded: a photo that needs it does not wait for it."""
        return self._ocr is not None and self._ocr.loaded

    def ocr(self) -> OcrEngine:
        """The OCR engine; its model loads on first use (about a second) or by `load()`."""
        with self._ocr_lock:
            if self._ocr is None:
                from .ocr import OcrEngine

                self._ocr = OcrEngine(
                    max_side=self._ocr_config.max_image_side, min_score=self._ocr_config.min_score
                )
            return self._ocr

    def _record(self, health: Health) -> None:
        """Remember what was seen; log when the state changes (not on every photo)."""
        with self._lock:
            previous, self._health = self._health, health
            self._checked_at = time.monotonic()
            if previous is not None and _state(previous) == _state(health):
                return
            self._since = time.time()
        assert self.ollama is not None
        server = self.ollama.wire.server
        server = server[0].upper() + server[1:]
        if health.busy:
            log.warning("%s busy: %s; photos wait for it", server, health.problem)
        elif health.model_ready:
            log.info("%s ready: %s at %s", server, self.ollama.config.model, self.ollama.where)
        elif health.up:
            # The server answers but the model cannot be used: the operator must act.
            log.error("%s model not usable: %s", server, health.problem)
        else:
            log.warning("%s not usable: %s", server, health.problem)

    def check_ollama(self) -> Health | None:
        """Ask the model servers now (logs a clear line when the state changes); the first
        time they are ready, load the model, so that the first photo does not wait for it."""
        if self.ollama is None:
            return None
        health = self.ollama.health()  # recorded through _record
        if health.model_ready and not health.busy and not self._preloaded:
            self._preloaded = True
            self.ollama.preload()
        return health

    def ollama_problem(self) -> str | None:
        with self._lock:
            return None if self._health is None else self._health.problem

    def mark_ollama_down(self, reason: str) -> None:
        """The pipeline found the model server unusable on a photo (engine = "auto")."""
        from .model import Health

        with self._lock:
            known = self._health is not None and self._health.problem == reason
        if self.ollama is not None and not known:  # the engine usually reported it already
            self._record(Health(False, False, reason))

    def availability(self) -> Availability:
        ready, problem = False, None
        if self.ollama is not None:
            with self._lock:
                stale = time.monotonic() - self._checked_at > HEALTH_TTL
            if stale:
                self.check_ollama()
            with self._lock:
                health = self._health
            ready = health is not None and health.model_ready
            problem = None if health is None else health.problem
        return Availability(self.mode, ready, ocr_installed=self.mode != "ollama",
                            ollama_problem=problem)  # fmt: skip

    def describe(self) -> tuple[str, str]:
        """Which engine reads photos, and its state, as a person reads it (status, logs)."""
        if self.mode == "ocr":
            return "ocr", "embedded OCR, " + ("ready" if self.ocr_ready else "loading")
        assert self.ollama is not None
        engine = f"{self.ollama.wire.api} {self.ollama.config.model} at {self.ollama.where}"
        with self._lock:
            health, since = self._health, self._since
        if health is None or not health.problem:
            return engine, "up"
        if health.busy:
            return engine, f"busy: {health.problem}; photos wait for it"
        fallback = ", OCR fallback for text rules" if self.mode == "auto" else ""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
        return engine, f"down since {when}: {health.problem}{fallback}"

    def engine(self, name: str) -> Engine:
        if name == "ollama":
            assert self.ollama is not None
            return self.ollama
        return self.ocr()

    def close(self) -> None:
        if self.ollama is not None:
            self.ollama.close()


def _state(health: Health) -> tuple[bool, bool, bool]:
    return health.up, health.model_ready, health.busy


__all__ = ["Availability", "Engine", "EngineError", "EngineSet", "EngineUnavailable"]
