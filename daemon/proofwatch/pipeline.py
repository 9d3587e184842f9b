"""One photo, start to finish: read -> strip -> rules -> engines -> verdict.

The same code path serves the daemon, `proofwatch check` and `proofwatch backfill`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagehash
from PIL import Image

from .config import Config
from .engines import EngineError, EngineSet, EngineUnavailable, Question, Reading
from .engines.image import ImageRejected, open_checked, upright_copy
from .engines.router import plan
from .in_place import quarantine, strip_photo
from .intake.names import REQUEST_SUFFIX
from .intake.reader import FileChanged, Rejected
from .metadata import PhotoMetadata
from .rules.decide import Facts, RuleResult, decide
from .rules.loader import RequestError, RuleSet, parse_request
from .rules.model import Request, Rule
from .state import StateStore
from .status import Status
from .strip import StripError
from .verdict import (
    QUARANTINED,
    Verdict,
    metadata_block,
    metadata_from_block,
    read_verdict,
    summarize,
    verdict_path,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    modify: bool = True  # strip the file in place (the daemon); False for `check`
    wait_for_request: bool = True  # give a late request sidecar request_wait to arrive
    record: bool = True  # remember the photo (and its metadata facts) in the state store


class Pipeline:
    def __init__(
        self,
        config: Config,
        rules: RuleSet,
        engines: EngineSet,
        state: StateStore | None = None,
        stop: threading.Event | None = None,
    ):
        self.config = config
        self.rules = rules
        self.engines = engines
        self.state = state
        self.stop = stop or threading.Event()

    def relative(self, photo: Path) -> str:
        root = self.config.watch
        try:
            return str(photo.relative_to(root)) if root else photo.name
        except ValueError:
            return photo.name

    def process(
        self, photo: Path, options: Options = Options(), request: Request | None = None
    ) -> Verdict:
        timer = _Timer()
        relative = self.relative(photo)
        verdict = Verdict(photo=relative, status="error", reason="not processed")
        phash = None
        try:
            phash = self._process(photo, relative, options, request, verdict, timer)
        except FileChanged:
            raise  # the caller looks again once the file settles
        except StripError as exc:
            verdict.status, verdict.reason = "rejected", str(exc)
            if options.modify and self.config.intake.quarantine:
                self._quarantine(photo, verdict)
        except (Rejected, ImageRejected) as exc:
            verdict.status, verdict.reason = "rejected", str(exc)
        except RequestError as exc:
            verdict.status, verdict.reason = "error", f"the request file is invalid: {exc}"
        except Exception as exc:  # a verdict, never a crash: the daemon must keep running
            log.exception("unexpected failure on %r", relative)
            verdict.status, verdict.reason = "error", f"internal error ({type(exc).__name__})"
        verdict.timings_ms["total"] = timer.total()
        if options.record and self.state is not None and verdict.photo_sha256:
            digest = self.rules.digest
            self.state.record(relative, verdict.photo_sha256, phash, verdict.status, digest)
        return verdict

    def _process(
        self,
        photo: Path,
        relative: str,
        options: Options,
        request: Request | None,
        verdict: Verdict,
        timer: _Timer,
    ) -> str:
        """Fill in `verdict`; return the photo's perceptual hash for the history."""
        limits = self.config.intake
        store = self.state if options.record else None
        meta, stripped = strip_photo(photo, limits.max_file_size, options.modify, store)
        verdict.metadata = metadata_block(meta, stripped.removed, stripped.method)
        verdict.photo_sha256 = stripped.sha256
        if meta.is_empty:
            meta = self._facts_from_verdict(photo, verdict)
        verdict.timings_ms["strip"] = timer.lap()

        opened = open_checked(stripped.data, limits.max_pixels)  # headers only, bombs refused
        width, height = opened.size
        if request is None:
            # Wait for a late sidecar only where the rules that would run need its values.
            wait = options.wait_for_request and any(
                rule.needs_request for rule in self._select(relative, Request())[0]
            )
            request = self._load_request(photo, wait)
        # Apart from the model's time: waiting for a late request sidecar can take seconds.
        verdict.timings_ms["request"] = timer.lap()
        verdict.request_id = request.id
        rules, unknown = self._select(relative, request)
        needs_model = any(rule.asks_model for rule in rules)
        sides = [self.config.ollama.max_image_side, self.config.ocr.max_image_side]
        image = upright_copy(opened, max(sides))
        phash = str(imagehash.phash(image))
        earlier = (
            self.state.earlier_hashes(relative, verdict.photo_sha256)
            if self.state is not None and any(r.kind == "duplicate" for r in rules)
            else []
        )
        facts = Facts(request, meta, width, height, phash, earlier)
        readings, unanswerable = self._ask(rules, image) if needs_model else ({}, {})
        verdict.timings_ms["model"] = timer.lap()
        results = [
            RuleResult(rule.name, *unanswerable[rule.name])
            if rule.name in unanswerable
            else decide(rule, facts, readings.get(rule.name, ()))
            for rule in rules
        ]
        missing = "the request names a rule that does not exist"
        results += [RuleResult(name, "error", missing) for name in unknown]
        verdict.rules = results
        verdict.rules_digest = self.rules.digest
        verdict.status, verdict.reason = summarize(results)
        return phash

    def _facts_from_verdict(self, photo: Path, verdict: Verdict) -> PhotoMetadata:
        """An already stripped photo whose facts the state store does not hold (a new or
        lost state directory): the verdict it already has for these very bytes recorded
        them. Otherwise nothing is known, and rules that need the facts say so."""
        root = self.config.watch or photo.parent
        earlier = read_verdict(verdict_path(photo, root, self.config.verdict_dir))
        block = (earlier or {}).get("metadata")
        if not isinstance(block, dict) or earlier is None:
            return PhotoMetadata()
        if earlier.get("photo_sha256") != verdict.photo_sha256:
            return PhotoMetadata()
        verdict.metadata = dict(block)
        return metadata_from_block(block)

    def _quarantine(self, photo: Path, verdict: Verdict) -> None:
        """A photo that cannot be stripped must not stay readable with its metadata: move
        it to the daemon's own folder, where the tracker (and the web) cannot serve it."""
        moved = quarantine(photo, self.config.intake.max_file_size, self.config.state_dir)
        if moved is not None:
            verdict.metadata = metadata_block(moved, (), QUARANTINED)
            verdict.reason += (
                "; it still carried metadata, so it was moved out of the upload folder into "
                "the daemon's quarantine"
            )

    def _select(self, relative: str, request: Request) -> tuple[list[Rule], list[str]]:
        if request.rules is None:
            return [rule for rule in self.rules.rules if rule.matches(relative)], []
        by_name = self.rules.by_name()
        chosen = [by_name[name] for name in request.rules if name in by_name]
        return chosen, [name for name in request.rules if name not in by_name]

    def _load_request(self, photo: Path, wait: bool) -> Request:
        sidecar = photo.with_name(photo.name + REQUEST_SUFFIX)
        deadline = time.monotonic() + (self.config.intake.request_wait if wait else 0)
        while True:
            try:
                raw = sidecar.read_bytes()
            except FileNotFoundError:
                if time.monotonic() >= deadline or self.stop.wait(0.1):
                    return Request()
                continue
            try:
                return parse_request(json.loads(raw))
            except ValueError as exc:
                raise RequestError(str(exc)) from None

    def _ask(
        self, rules: Sequence[Rule], image: Image.Image
    ) -> tuple[dict[str, list[Reading]], dict[str, tuple[Status, str]]]:
        """One call per engine with every question for it; readings per rule name.

        Rules no engine could answer come back with the status and reason they get.
        """
        by_engine, reasons = plan(rules, self.engines.availability())
        by_name = {rule.name: rule for rule in rules}
        unanswerable = {name: (by_name[name].undecided, why) for name, why in reasons.items()}
        readings: dict[str, list[Reading]] = {}
        for name, engine_rules in by_engine.items():
            questions = [
                Question(r.question_key, r.question_kind, r.question) for r in engine_rules
            ]
            engine = self.engines.engine(name)
            try:
                answers = engine.ask(image, questions)
            except EngineUnavailable as exc:
                # auto mode found the server gone: rules that may fall back are asked again
                # (Ollama is marked down now, so the plan sends text rules to OCR); rules
                # that named Ollama themselves get the reason, which makes them review.
                self.engines.mark_ollama_down(str(exc))
                answers = {q.key: Reading(engine.label, (), f"{exc}") for q in questions}
                fallback = [r for r in engine_rules if r.engine == "auto"]
                if self.engines.mode == "auto" and fallback:
                    more, more_reasons = self._ask(fallback, image)
                    readings.update(more)
                    unanswerable.update(more_reasons)
                    engine_rules = [r for r in engine_rules if r.engine != "auto"]
            except EngineError as exc:
                unanswerable.update({rule.name: ("error", str(exc)) for rule in engine_rules})
                continue
            for rule in engine_rules:
                readings.setdefault(rule.name, []).append(answers[rule.question_key])
        return readings, unanswerable


class _Timer:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.start = self.last = clock()

    def lap(self) -> int:
        now = self.clock()
        lap, self.last = now - self.last, now
        return round(lap * 1000)

    def total(self) -> int:
        return round((self.clock() - self.start) * 1000)
