"""Model engines: Ollama (a vision model) and embedded OCR, behind one interface."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from ..config import Config
from .base import Engine, EngineError, EngineUnavailable, Question, Reading
from .router import Availability

if TYPE_CHECKING:
    from .ollama import Health, OllamaEngine

log = logging.getLogger(__name__)

HEALTH_TTL = 30.0  # seconds a health check is trusted before asking the server again


class EngineSet:
    """The engines this daemon runs, and whether Ollama is usable right now."""

    def __init__(self, config: Config, stop: threading.Event | None = None):
        self.mode = config.engine
        self.ollama: OllamaEngine | None = None
        if self.mode != "ocr":
            from .ollama import OllamaEngine

            self.ollama = OllamaEngine(config.ollama, stop, wait_when_down=self.mode == "ollama")
        self._ocr_config = config.ocr
        self._ocr: Engine | None = None
        self._ocr_lock = threading.Lock()
        self._health: Health | None = None
        self._checked_at = float("-inf")

    def ocr(self) -> Engine:
        """The OCR engine, loaded on first use (its model takes a second to load)."""
        with self._ocr_lock:
            if self._ocr is None:
                from .ocr import OcrEngine

                self._ocr = OcrEngine(
                    max_side=self._ocr_config.max_image_side, min_score=self._ocr_config.min_score
                )
            return self._ocr

    def check_ollama(self) -> Health | None:
        """Ask the server now; logs a clear line when the state changes."""
        if self.ollama is None:
            return None
        health = self.ollama.health()
        previous, self._health = self._health, health
        self._checked_at = time.monotonic()
        if previous is None or previous != health:
            if health.model_ready:
                log.info(
                    "Ollama ready: %s at %s", self.ollama.config.model, self.ollama.config.host
                )
            else:
                log.warning("Ollama not usable: %s", health.problem)
        return health

    def ollama_problem(self) -> str | None:
        return None if self._health is None else self._health.problem

    def mark_ollama_down(self, reason: str) -> None:
        from .ollama import Health

        self._health = Health(False, False, reason)
        self._checked_at = time.monotonic()

    def availability(self) -> Availability:
        ready = False
        if self.ollama is not None:
            if time.monotonic() - self._checked_at > HEALTH_TTL:
                self.check_ollama()
            ready = self._health is not None and self._health.model_ready
        return Availability(self.mode, ready, ocr_installed=self.mode != "ollama")

    def engine(self, name: str) -> Engine:
        if name == "ollama":
            assert self.ollama is not None
            return self.ollama
        return self.ocr()

    def close(self) -> None:
        if self.ollama is not None:
            self.ollama.close()


__all__ = ["Engine", "EngineError", "EngineSet", "EngineUnavailable", "Question", "Reading"]
