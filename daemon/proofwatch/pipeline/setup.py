"""What a photo is judged with: the few settings the pipeline needs, one immutable Setup
(settings, rules, engines) taken once per photo, and the Options a caller passes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..engines import EngineSet
from ..rules.loader import RuleSet


@dataclass(frozen=True)
class Settings:
    """The few settings the pipeline needs, out of the whole configuration."""

    root: Path  # the watched folder, resolved: photo paths in verdicts are relative to it
    state_dir: Path  # where the quarantine is
    verdict_dir: Path | None = None
    max_file_size: int = 50_000_000
    max_pixels: int = 100_000_000
    quarantine: bool = True
    image_side: int = 1600  # the largest copy any engine needs
    model_wait: float = 600.0  # how long a photo waits for a busy or down model server

    @classmethod
    def from_config(cls, config: Config, root: Path | None = None) -> Settings:
        """`root`: the watched folder when the config names none (a one-off check)."""
        watch = config.watch if config.watch is not None else root
        if watch is None:
            raise ValueError("no watched folder to name photos against")
        intake = config.intake
        return cls(
            root=watch.resolve(),
            state_dir=config.state_dir,
            verdict_dir=config.verdict_dir,
            max_file_size=intake.max_file_size,
            max_pixels=intake.max_pixels,
            quarantine=intake.quarantine,
            image_side=max(config.ollama.max_image_side, config.ocr.max_image_side),
            model_wait=config.ollama.model_wait,
        )

    def relative(self, photo: Path) -> str:
        """The photo's place below the watched folder, however the folder was named (relative,
        through a symlink); the photo itself is not resolved: a symlink is rejected, not
        followed."""
        for candidate in (photo, photo.parent.resolve() / photo.name):
            try:
                return str(candidate.relative_to(self.root))
            except ValueError:
                continue
        return photo.name


@dataclass(frozen=True)
class Setup:
    """Everything a photo is judged with; swapped whole on reload, never edited."""

    settings: Settings
    rules: RuleSet
    engines: EngineSet

    @classmethod
    def from_config(
        cls, config: Config, rules: RuleSet, engines: EngineSet, root: Path | None = None
    ) -> Setup:
        return cls(Settings.from_config(config, root), rules, engines)


@dataclass(frozen=True)
class Options:
    modify: bool = True  # strip the file in place (the daemon); False for `check`
    wait_for_request: bool = False  # raise AwaitingRequest while a needed sidecar is missing
    record: bool = True  # remember the photo (and its metadata facts) in the state store
    waited: float = 0.0  # seconds the photo already waited for its request (for timings)
    # True (the daemon): raise AwaitingModel and let the caller hold the photo; False (the
    # one-off commands): wait here, in this thread, which has nothing else to do.
    park: bool = False
    model_since: float | None = None  # when this photo began waiting for the model (monotonic)
    # The daemon's workers judge photos at once: this photo's place in their arrival order
    # (order.ArrivalOrder), whose turn it takes to read and write the history.
    turn: Callable[[], AbstractContextManager[None]] = nullcontext
