"""One photo, start to finish: read -> strip -> request -> rules -> engines -> verdict.

The same code path serves the daemon, `proofwatch check`, `rules test` and `backfill`. What
a photo is judged with (settings, rules, engines) is one immutable `Setup`, taken once per
photo: a reload swaps in a new one without touching photos already in hand.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..contract.request import RequestError, read_request
from ..contract.verdict import (
    QUARANTINED,
    Verdict,
    metadata_block,
    metadata_from_block,
    read_verdict,
    summarize,
    verdict_path,
)
from ..engines import EngineSet
from ..engines.base import ModelWait
from ..engines.image import SOURCE_JPEG, ImageRejected, as_stored, open_checked, upright_copy
from ..intake.reader import FileChanged, Rejected, Snapshot, unchanged_since
from ..metadata import PhotoMetadata
from ..quality import perceptual_hash, retake_hints
from ..rules.decide import Facts, decide
from ..rules.model import Rule
from ..state import StateStore
from ..strip import StripError
from ..vocabulary import Hint, ReasonCode, Request, RuleResult, Status
from .ask import ask, match_references, model_picks, select
from .faults import machine_fault
from .held import hide
from .in_place import quarantine, stripping
from .setup import Options, Setup
from .waits import AwaitingModel, AwaitingRequest, MachineFault, Postponed

log = logging.getLogger(__name__)

# Side work of the photos in hand (one per worker): hints and hashes, GIL-free mostly.
_BESIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="look")


class Pipeline:
    def __init__(
        self,
        setup: Setup,
        state: StateStore | None = None,
        stop: threading.Event | None = None,
    ):
        self._setup = setup
        self.state = state
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self._users: dict[int, int] = {}  # id(EngineSet) -> photos using it right now
        self._retired: list[EngineSet] = []  # swapped out, closed once no photo uses them

    @property
    def setup(self) -> Setup:
        return self._setup

    def swap(self, setup: Setup) -> None:
        """Judge the next photos with `setup`. Engines no longer used are closed once the
        photos in hand that use them are done, never under a model call in flight."""
        with self._lock:
            old, self._setup = self._setup, setup
            if old.engines is not setup.engines:
                self._retired.append(old.engines)
            idle = self._idle_retired()
        for engines in idle:
            engines.close()

    def close(self) -> None:
        with self._lock:
            everything = [*self._retired, self._setup.engines]
            self._retired = []
        for engines in everything:
            engines.close()

    def _idle_retired(self) -> list[EngineSet]:
        idle = [e for e in self._retired if not self._users.get(id(e))]
        self._retired = [e for e in self._retired if self._users.get(id(e))]
        return idle

    @contextmanager
    def _lease(self) -> Iterator[Setup]:
        with self._lock:
            setup = self._setup
            key = id(setup.engines)
            self._users[key] = self._users.get(key, 0) + 1
        try:
            yield setup
        finally:
            with self._lock:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key]
                idle = self._idle_retired()
            for engines in idle:
                engines.close()

    def process(self, photo: Path, options: Options, request: Request | None = None) -> Verdict:
        """The photo's verdict. FileChanged (look again once it settles) and Postponed (set
        it aside: already stripped) are raised; every other outcome is a verdict."""
        while True:
            try:
                with self._lease() as setup:
                    return _Run(setup, self.state, photo, options).verdict(request)
            except AwaitingModel as wait:
                if options.park:
                    raise
                options = dataclasses.replace(options, model_since=wait.since)
                if self.stop.wait(wait.retry_after or 0.0):
                    options = dataclasses.replace(options, model_since=float("-inf"))


class _Run:
    """One photo through one setup: each step adds what it learnt; the Verdict is built
    once, at the end, from what the steps reached."""

    def __init__(self, setup: Setup, state: StateStore | None, photo: Path, options: Options):
        self.setup = setup
        self.settings = setup.settings
        self.state = state  # the history: reuse checks read it even when not recording
        self.store = state if options.record else None  # where this photo is remembered
        self.photo = photo
        self.options = options
        self.relative = self.settings.relative(photo)
        self.timer = _Timer()
        self.timings: dict[str, int] = {}
        self.metadata: dict[str, object] | None = None
        self.sha256: str | None = None
        self.request_id: str | None = None
        self.hints: list[Hint] = []
        self._turn = ExitStack()  # holds this photo's turn at the history, once taken
        self._turn_taken = False
        self.placed: Snapshot | None = None  # the stripped file put in place

    def verdict(self, request: Request | None) -> Verdict:
        with self._turn:
            return self._verdict(request)

    def _no_ocr_reads(self, rules: Sequence[Rule]) -> bool:
        """Whether the photo's copy is for the vision model alone (and the hints and the
        hash): no OCR in this daemon, and no reference photos to be compared with."""
        return self.setup.engines.mode == "ollama" and all(r.kind != "reference" for r in rules)

    def _take_turn(self) -> None:
        """Wait for the photos taken before this one to read and write the history first:
        which of two copies is the original must not depend on which finished first."""
        if not self._turn_taken and any(r.kind == "duplicate" for r in self.setup.rules.rules):
            self._turn.enter_context(self.options.turn())
            self._turn_taken = True

    def _verdict(self, request: Request | None) -> Verdict:
        results: Sequence[RuleResult] = ()
        phash: str | None = None
        digest: str | None = None
        try:
            with self._faults_postponed():
                results, phash = self._judge(request)
            digest = self.setup.rules.digest
            status, code, reason = summarize(results)
        except (FileChanged, Postponed):
            raise
        except StripError as exc:
            status, code, reason = "rejected", rejection_code(exc), str(exc)
            if self.options.modify and self.settings.quarantine:
                moved = self._quarantine()
                if moved:
                    code, reason = "quarantined", reason + moved
        except (Rejected, ImageRejected) as exc:
            status, code, reason = "rejected", rejection_code(exc), str(exc)
        except RequestError as exc:
            status, code, reason = "error", "request_invalid", f"the request file is invalid: {exc}"
        except Exception as exc:  # a verdict, never a crash: the daemon must keep running
            log.exception("unexpected failure on %r", self.relative)
            status, code, reason = (
                "error",
                "internal_error",
                f"internal error ({type(exc).__name__})",
            )
        self.timings["total"] = self.timer.total() + round(self.options.waited * 1000)
        if self.placed is not None and not unchanged_since(self.photo, self.placed):
            # A newer upload was renamed over the photo while it was judged: this verdict
            # is not its verdict (it would pass for done, unstripped). Taken again.
            raise FileChanged(f"{self.relative} was replaced while it was being judged")
        if self.store is not None and self.sha256:
            self._take_turn()
            with self._faults_postponed():
                self.store.record(
                    self.relative, self.sha256, phash, status, self.setup.rules.digest
                )
        return Verdict(
            photo=self.relative,
            status=status,
            reason=reason,
            reason_code=code,
            hints=self.hints,
            request_id=self.request_id,
            rules=results,
            metadata=self.metadata,
            photo_sha256=self.sha256,
            rules_digest=digest,
            timings_ms=self.timings,
        )

    def _judge(self, request: Request | None) -> tuple[list[RuleResult], str]:
        """The rules' results, and the photo's perceptual hash for the history."""
        settings = self.settings
        # The stripped bytes are decoded while their replacement is synced and renamed over
        # the photo; nothing leaves this block before the photo is in place.
        photo, modify = self.photo, self.options.modify
        with stripping(photo, settings.max_file_size, modify, self.store) as in_hand:
            meta, stripped = in_hand.meta, in_hand.stripped
            opened = open_checked(stripped.data, settings.max_pixels)  # headers only
            width, height = opened.size
            request = self._request(request)
            rules, unknown = select(self.setup.rules, self.relative, request)
            decoding = _Timer()
            image = upright_copy(opened, settings.image_side, self._no_ocr_reads(rules))
            preparing = decoding.lap()  # counted with the model's time, as it always was
            if as_stored(opened, (width, height), image):
                image.info[SOURCE_JPEG] = stripped.data  # the model server takes it as it is
        self.placed = in_hand.placed
        self.metadata = metadata_block(meta, stripped.removed, stripped.method)
        self.sha256 = stripped.sha256
        if meta.is_empty:
            meta = self._recalled(stripped.method) or meta
        self.timings["strip"] = self.timer.lap() - preparing
        self.timings["request"] = round(self.options.waited * 1000)
        self.request_id = request.id
        # The retake hints and the perceptual hash are worked out while the engines read.
        looked = _BESIDE.submit(lambda: (retake_hints(image), perceptual_hash(image)))
        try:
            similarity = match_references(self.setup.rules, rules, image)
            needs_model = any(rule.asks_model for rule in rules)
            readings, unanswerable = (
                ask(self.setup.engines, rules, image, self._model_wait, self.setup.rules)
                if needs_model
                else ({}, {})
            )
        except BaseException:
            wait([looked])  # done with the image before leaving; what it found no longer counts
            raise
        self.hints, phash = looked.result()
        self.timings["model"] = self.timer.lap() + preparing
        self._take_turn()
        earlier = (
            self.state.earlier_hashes(self.relative, stripped.sha256)
            if self.state is not None and any(r.kind == "duplicate" for r in rules)
            else []
        )
        for name, picks in model_picks(self.setup.rules, rules, readings).items():
            similarity.setdefault(name, []).extend(picks)
        facts = Facts(request, meta, width, height, phash, earlier, similarity=similarity)
        results = [
            _unanswered(rule.name, *unanswerable[rule.name])
            if rule.name in unanswerable
            else decide(rule, facts, readings.get(rule.name, ()))
            for rule in rules
        ]
        missing = "the request names a rule that does not exist"
        results += [
            RuleResult(name, "error", missing, reason_code="unknown_rule") for name in unknown
        ]
        return results, phash

    @contextmanager
    def _faults_postponed(self) -> Iterator[None]:
        """A fault of the machine sets the photo aside (MachineFault) instead of making a
        verdict; one met before the photo was stripped hides it first (held.hide)."""
        try:
            yield
        except (FileChanged, Postponed):
            raise
        except Exception as exc:
            fault = machine_fault(exc, self.photo.parent)
            if fault is None:
                raise
            hidden = self.options.modify and self.sha256 is None and hide(self.photo) is not None
            raise MachineFault(fault, hidden) from exc

    def _model_wait(self, trouble: ModelWait) -> str:
        """A busy or down server: set the photo aside (AwaitingModel) while its wait lasts,
        counted from when the trouble began or the photo first met it, whichever is
        earlier; past model_wait, the reason its rules get `error` with."""
        began = min(trouble.since, self.options.model_since or trouble.since)
        wait = self.settings.model_wait
        if time.monotonic() - began < wait:
            raise AwaitingModel(trouble.reason, trouble.retry_after, began)
        return f"{trouble.reason}; gave up waiting for it after {wait:g}s"

    def _recalled(self, method: str) -> PhotoMetadata | None:
        """The facts of a photo stripped before (a redo after a crash, a reverify): kept by
        the state store under the stripped file's hash, else recorded by the verdict it
        already has for these very bytes (a new or lost state directory). None: unknown,
        and rules that need the facts say so."""
        assert self.sha256 is not None
        kept = self.store.recall_facts(self.sha256) if self.store is not None else None
        if kept is not None:
            meta, removed = kept
            self.metadata = metadata_block(meta, removed, method)
            return meta
        target = verdict_path(self.photo, self.settings.root, self.settings.verdict_dir)
        earlier = read_verdict(target) or {}
        block = earlier.get("metadata")
        if not isinstance(block, dict) or earlier.get("photo_sha256") != self.sha256:
            return None
        self.metadata = dict(block)
        return metadata_from_block(block)

    def _request(self, given: Request | None) -> Request:
        """The request given, else the sidecar; a photo whose rules need a request that has
        not come yet is set aside (AwaitingRequest) while the caller lets it wait."""
        if given is not None:
            return given
        found = read_request(self.photo)
        if found is not None:
            return found
        if self.options.wait_for_request:
            would_run, _ = select(self.setup.rules, self.relative, Request())
            if any(rule.needs_request for rule in would_run):
                raise AwaitingRequest(f"{self.relative} waits for its request")
        return Request()

    def _quarantine(self) -> str:
        """A photo that cannot be stripped must not stay readable with its metadata: move
        it to the daemon's own folder, where the tracker (and the web) cannot serve it."""
        settings = self.settings
        moved = quarantine(self.photo, settings.max_file_size, settings.state_dir)
        if moved is None:
            return ""
        self.metadata = metadata_block(moved, (), QUARANTINED)
        return (
            "; it still carried metadata, so it was moved out of the upload folder into "
            "the daemon's quarantine"
        )


def _unanswered(rule: str, status: Status, why: str) -> RuleResult:
    # `ask` gives `error` when the model failed past its retries or its wait, and the
    # rule's undecided status when no engine the daemon runs can answer the rule.
    code: ReasonCode = "model_unavailable" if status == "error" else "no_engine"
    return RuleResult(rule, status, why, reason_code=code)


def rejection_code(exc: Exception) -> ReasonCode:
    """Why a file is no usable photo: the stage that refused it said so."""
    code: ReasonCode = getattr(exc, "reason_code", "file_unreadable")
    return code


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
