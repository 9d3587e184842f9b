"""The long-running daemon: threads, signals, the start-up scan, reloads, a clean stop.

Threads: the watchdog observer (enqueues only), N workers (the pipeline), the systemd
watchdog pinger, and this main loop (settling in-place writes, rescans, reloads, status).
Signal handlers only set flags; the main loop acts on them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from watchdog.observers.api import BaseObserver

from .. import __version__
from ..atomic import sweep_temp_files
from ..config import Config
from ..contract.request import request_path, still_waiting
from ..contract.verdict import Verdict, verdict_path
from ..engines import EngineSet
from ..intake.names import is_photo_name
from ..intake.queue import WorkQueue
from ..intake.reader import FileChanged
from ..intake.stability import StabilityWatch
from ..pipeline.faults import backoff
from ..pipeline.history import rebuilder
from ..pipeline.order import ArrivalOrder
from ..pipeline.process import Pipeline
from ..pipeline.setup import Options, Settings, Setup
from ..pipeline.waits import AwaitingModel, AwaitingRequest, MachineFault, Postponed
from ..pipeline.work import arrival_order, handle_photo, is_done, is_placeholder, walk_photos
from ..rules.loader import RuleSet, load_rules
from ..rules.references import PHOTO_SUFFIXES
from ..state import StateStore
from ..tomlsource import SourceError
from ..watch.observer import PhotoEvents, Sinks, polling_interval, start_observer
from .fault_board import FaultBoard, FaultKey, fault_key
from .lock import AlreadyRunning as AlreadyRunning  # re-exported: the CLI catches it here
from .lock import take_watch_lock
from .logs import printable
from .notify import Notifier, WatchdogPinger
from .status_file import Counters, write_status

log = logging.getLogger("proofwatch")

TICK = 0.25  # seconds between main-loop turns
STATUS_EVERY = 2.0


class Daemon:
    def __init__(self, config: Config, reload_config: Callable[[], Config] | None = None):
        """`reload_config` re-reads the config file with the command line applied (SIGHUP)."""
        if config.watch is None:
            raise SourceError(
                "config", "no folder to watch: set watch or pass --watch", key="watch"
            )
        if not config.watch.is_dir():
            problem = "does not exist" if not config.watch.exists() else "is not a folder"
            raise SourceError("config", f"{config.watch} {problem}", key="watch")
        self.config = config
        self.root = config.watch.resolve()
        self.reload_config = reload_config
        self.stop = threading.Event()
        self.queue = WorkQueue()
        self.order = ArrivalOrder()  # photos in hand at once make history in arrival order
        self.counters = Counters()
        self.notifier = Notifier()
        self._reload_requested = threading.Event()
        self._rescan_requested = threading.Event()
        self._lock_fd: int | None = None
        self._workers: list[threading.Thread] = []
        self._rules_signature: tuple[tuple[str, int, int], ...] = ()
        self.state: StateStore | None = None
        self.pipeline: Pipeline | None = None
        # Photos set aside (their request is late, the model server is busy or down), taken
        # again when their cause clears: no worker waits on them meanwhile.
        self._parked: dict[Path, Parked] = {}
        self._parked_lock = threading.Lock()
        self.faults = FaultBoard()  # faults of the machine parked photos wait on
        self._warm_up_thread: threading.Thread | None = None
        self.stability = StabilityWatch(
            config.intake.stability_delay, config.intake.empty_timeout, self.queue.put
        )
        self._watch_mode = ""
        self.observer: BaseObserver

    # -- start-up

    def _take_lock(self) -> None:
        self._lock_fd = take_watch_lock(self.config.state_dir, self.root)

    def _load_rules(self, folder: Path) -> RuleSet:
        rules = load_rules(folder)
        self._rules_signature = _folder_signature(folder)
        log.info("loaded %d rule(s) from %s (digest %s)", len(rules.rules), folder, rules.digest)
        return rules

    def run(self) -> int:
        self._take_lock()
        swept = sweep_temp_files(self.root)
        if swept:
            log.info("removed %d temp file(s) left by an earlier run", swept)
        setup = Setup(
            Settings.from_config(self.config), self._load_rules(self.config.rules), self._engines()
        )
        self.state = StateStore(
            self.config.state_dir / "proofwatch.sqlite3", rebuilder(setup.settings)
        )
        self.pipeline = Pipeline(setup, self.state, self.stop)
        self._install_signals()
        interval, why = polling_interval(self.root, self.config.intake.polling)
        self._watch_mode = why
        handler = PhotoEvents(self.root, self.config.intake.ignore, Sinks(
            arrived=self.queue.put, writing=self.stability.track, folder=self._scan_folder,
        ))  # fmt: skip
        self.observer = start_observer(self.root, handler, interval)
        log.info("watching %s: %s", self.root, why)
        for number in range(worker_count(self.config, os.cpu_count())):
            worker = threading.Thread(target=self._work, name=f"worker-{number}", daemon=True)
            worker.start()
            self._workers.append(worker)
        queued = self._scan_folder(self.root)
        log.info("start-up scan queued %d photo(s)", queued)
        self._warm_up_thread = threading.Thread(target=self._warm_up, name="warm-up", daemon=True)
        self._warm_up_thread.start()
        _OverflowAlarm.install(self._rescan_requested)
        self.notifier.ready()
        pinger = WatchdogPinger(self.notifier, self._healthy, self._status_line)
        pinger.start()
        try:
            self._main_loop(handler, interval)
        finally:
            self._shutdown(pinger)
        return 0

    # -- the main loop

    def _main_loop(self, handler: PhotoEvents, interval: float | None) -> None:
        next_rescan = time.monotonic() + self.config.intake.rescan_interval
        next_status = 0.0
        while not self.stop.wait(TICK):
            self.stability.tick()
            self._release_parked()
            now = time.monotonic()
            if not self.observer.is_alive():
                log.error("the file watcher died; restarting it and rescanning")
                self.observer = start_observer(self.root, handler, interval)
                self._rescan_requested.set()
            if self._rescan_requested.is_set() or now >= next_rescan:
                self._rescan_requested.clear()
                queued = self._scan_folder(self.root)
                if queued:
                    log.info("rescan queued %d photo(s) that events missed", queued)
                next_rescan = now + self.config.intake.rescan_interval
            if self._reload_requested.is_set() or self._rules_changed():
                self._reload_requested.clear()
                self._reload()
            if now >= next_status:
                assert self.state is not None
                self.state.check()  # deleted or truncated under us: rebuilt now
                self._write_status()
                next_status = now + STATUS_EVERY

    def _engines(self, config: Config | None = None) -> EngineSet:
        return EngineSet(config or self.config, self.stop)

    @property
    def engines(self) -> EngineSet:
        assert self.pipeline is not None
        return self.pipeline.setup.engines

    def _warm_up(self) -> None:
        """Check the model server and load OCR now, not on the first photo."""
        from PIL import Image

        from ..quality import perceptual_hash

        perceptual_hash(Image.new("L", (32, 32)))  # its first call imports scipy (~1 s)
        engines = self.engines
        health = engines.check_ollama()
        if engines.mode != "ollama" and (health is None or not health.model_ready):
            try:
                engines.ocr().load()
            except Exception as exc:
                log.error("the OCR engine cannot be loaded: %s", exc)

    def _rules_changed(self) -> bool:
        return _folder_signature(self.config.rules) != self._rules_signature

    def _reload(self) -> None:
        self.notifier.reloading()
        assert self.pipeline is not None
        try:
            fresh = self.reload_config() if self.reload_config is not None else self.config
            rules = self._load_rules(fresh.rules)
            engines = self.engines if fresh == self.config else self._apply_config(fresh)
            self.pipeline.swap(Setup(Settings.from_config(self.config), rules, engines))
        except (SourceError, OSError, ValueError) as exc:
            self._rules_signature = _folder_signature(self.config.rules)  # do not retry every tick
            log.error("reload failed, keeping the previous configuration and rules: %s", exc)
            self.counters.problem("(reload)", "error", str(exc))
        self.notifier.ready()

    def _apply_config(self, fresh: Config) -> EngineSet:
        """Settings that can change live; the rest need a restart, and the log says so.
        The engines the new settings ask for (the old ones close once idle)."""
        needs_restart = [
            name for name in ("watch", "state_dir", "verdict_dir")
            if getattr(fresh, name) != getattr(self.config, name)
        ]  # fmt: skip
        if needs_restart:
            log.warning("%s changed: takes effect after a restart", ", ".join(needs_restart))
        for name in needs_restart:  # until then, the folders in use stay as they are
            fresh = fresh.with_overrides(**{name: getattr(self.config, name)})
        engines = self._engines(fresh)
        self.config = fresh
        self.stability.delay = fresh.intake.stability_delay
        threading.Thread(target=engines.check_ollama, name="health", daemon=True).start()
        log.info("configuration reloaded")
        return engines

    # -- scanning

    def _scan_folder(self, folder: Path) -> int:
        """Queue every photo below `folder` that has no valid verdict yet."""
        queued = 0
        if folder != self.root and is_photo_name(
            folder.relative_to(self.root), self.config.intake.ignore
        ):
            queued += self.queue.put(folder)  # a folder named x.jpg: rejected, with a verdict
        with self._parked_lock:
            parked = set(self._parked)
        for photo in arrival_order(walk_photos(self.root, folder, self.config.intake.ignore)):
            if photo in parked:
                continue  # taken again when its request comes, or its wait ends
            if not self.queue.is_busy(photo) and not self._is_done(photo):
                queued += self.queue.put(photo)
        return queued

    def _verdict_path(self, photo: Path) -> Path:
        return verdict_path(photo, self.root, self.config.verdict_dir)

    def _is_done(self, photo: Path) -> bool:
        return is_done(photo, self._verdict_path(photo))

    # -- workers

    def _work(self) -> None:
        while not self.stop.is_set():
            photo = self.queue.get(timeout=0.5)
            if photo is None:
                continue
            self.counters.progress()
            ticket = self.order.ticket()  # taken in queue order, as photos arrived
            try:
                if is_placeholder(photo, self.config.intake.empty_timeout):
                    self.stability.track(photo)  # taken once written (or empty too long)
                elif not self._is_done(photo):
                    self._handle(photo, functools.partial(self.order.turn, ticket))
            except FileChanged as exc:
                log.info("%s; taken again once it settles", exc)
                self.stability.track(photo)
            except Exception:
                log.exception("failed on %r", str(photo))
            finally:
                self.order.passed(ticket)
                self.queue.done(photo)

    def _handle(self, photo: Path, turn: Callable[[], AbstractContextManager[None]]) -> None:
        assert self.pipeline is not None
        now = time.monotonic()
        with self._parked_lock:
            parked = self._parked.pop(photo, None) or Parked(now)
        wait = self.config.intake.request_wait
        options = Options(
            wait_for_request=still_waiting(parked.since, now, wait),
            waited=now - parked.since,
            park=True,
            model_since=parked.model_since,
            turn=turn,
        )
        try:
            verdict = handle_photo(self.pipeline, photo, self._verdict_path(photo), options)
        except Postponed as why:
            parked = parked.again(why, time.monotonic())
            with self._parked_lock:
                self._parked[photo] = parked
            if isinstance(why, MachineFault):
                self.faults.report(why.fault)  # after parking: settle() sees it waiting
            log.debug("%s set aside: %s", printable(str(photo)), printable(why.reason))
            return
        if verdict is not None:
            self._log_verdict(verdict)

    def _release_parked(self) -> None:
        """Parked photos whose cause has cleared (the request has come, its wait is over, the
        time to try the model again has come) go back in line."""
        now = time.monotonic()
        wait = self.config.intake.request_wait
        with self._parked_lock:
            faults = [parked.fault for parked in self._parked.values() if parked.fault]
        self.faults.settle(faults)
        over = self.faults.cleared() if faults else set()
        with self._parked_lock:
            due = [
                photo
                for photo, parked in self._parked.items()
                if parked.fault in over or parked.due(photo, now, wait)
            ]
        for photo in due:
            self.queue.put(photo)  # _handle finds why and since when it was parked

    def _log_verdict(self, verdict: Verdict) -> None:
        self.counters.count(verdict.status)
        level = logging.INFO if verdict.status in ("pass", "fail", "review") else logging.WARNING
        log.log(level, "%s %s: %s (%d ms)", verdict.status.upper(), printable(verdict.photo),
                printable(verdict.reason), verdict.timings_ms.get("total", 0))  # fmt: skip
        if verdict.status in ("error", "rejected"):
            self.counters.problem(verdict.photo, verdict.status, verdict.reason)

    # -- health and status

    def _healthy(self) -> bool:
        """False when the systemd watchdog should fire: a worker died, or work waits and
        nothing has finished for longer than one photo can legitimately take."""
        ollama = self.config.ollama
        bound = ollama.timeout * (ollama.retries + 1) * ollama.votes + ollama.model_wait + 60
        return not is_stalled(
            self.queue.pending + self.queue.in_flight,
            self.counters.last_progress,
            time.monotonic(),
            bound,
        ) and all(worker.is_alive() for worker in self._workers)

    def _status_line(self) -> str:
        engine, state = self.engines.describe()
        last = self.counters.last_errors[-1]["reason"] if self.counters.last_errors else "none"
        return self.faults.headline() + (
            f"watching {self.root}; queue {self.queue.pending}; done {self.counters.done}; "
            f"model {state} ({engine}); last error: {last}"
        )

    def _write_status(self) -> None:
        assert self.pipeline is not None
        engine, state = self.engines.describe()
        rules = self.pipeline.setup.rules
        with self._parked_lock:
            for_fault = sum(parked.fault is not None for parked in self._parked.values())
            for_model = sum(parked.retry_at is not None for parked in self._parked.values())
            for_model -= for_fault
            parked = len(self._parked) - for_model - for_fault
        status = {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": self.counters.started_at,
            "updated_at": time.time(),
            "watching": str(self.root),
            "watch_mode": self._watch_mode,
            "queued": self.queue.pending + len(self.stability),
            "awaiting_request": parked,
            "awaiting_model": for_model,
            "awaiting_machine": for_fault,
            "machine_faults": self.faults.describe(),
            "in_flight": self.queue.in_flight,
            "done_by_status": dict(self.counters.by_status),
            "model": {"engine": engine, "state": state},
            "rules_count": len(rules.rules),
            "rules_digest": rules.digest,
            "last_errors": list(self.counters.last_errors),
        }
        try:
            write_status(self.config.state_dir, status)
        except OSError as exc:
            log.debug("status file not written: %s", exc)

    # -- signals and stopping

    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info(
                "%s received: finishing the photo in hand, then stopping",
                signal.Signals(signum).name,
            )
            self.stop.set()

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self._reload_requested.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def _shutdown(self, pinger: WatchdogPinger) -> None:
        self.notifier.stopping()
        with contextlib.suppress(Exception):
            self.observer.stop()
        self.queue.close()
        deadline = time.monotonic() + self.config.stop_timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in self._workers):
            log.warning("a photo was still in hand at the stop deadline; it is redone next start")
        if self._warm_up_thread is not None:
            # A model still loading in native code must not be cut off at exit (abort).
            self._warm_up_thread.join(self.config.stop_timeout)
        pinger.stop()
        self._write_status()
        assert self.pipeline is not None
        self.pipeline.close()
        if self.state is not None:
            self.state.close()
        log.info("stopped")


@dataclass(frozen=True)
class Parked:
    """A photo set aside: since when (its request wait and timings count from there), and,
    while it waits for the model server, when to try again and since when it waits."""

    since: float
    retry_at: float | None = None
    model_since: float | None = None
    fault: FaultKey | None = None  # a fault of the machine: retried on backoff, or once clear
    faults: int = 0  # faults met in a row (the backoff grows with them)

    def again(self, why: Postponed, now: float) -> Parked:
        if isinstance(why, MachineFault):
            retry_at = now + backoff(self.faults)
            return Parked(
                self.since, retry_at, self.model_since, fault_key(why.fault), self.faults + 1
            )
        if isinstance(why, AwaitingModel):
            return Parked(self.since, now + (why.retry_after or 0.0), why.since)
        assert isinstance(why, AwaitingRequest)
        return Parked(self.since, None, self.model_since)

    def due(self, photo: Path, now: float, request_wait: float) -> bool:
        if self.retry_at is not None:
            return now >= self.retry_at
        return not still_waiting(self.since, now, request_wait) or request_path(photo).exists()


def worker_count(config: Config, cores: int | None) -> int:
    """One worker per model call that may be in flight (per host, on every host), and one
    per core besides: while some wait for the model, the others strip and decode."""
    model = config.model
    return max(1, model.concurrency * len(model.all_hosts)) + max(1, cores or 1)


def is_stalled(waiting: int, last_progress: float, now: float, bound: float) -> bool:
    """Work is waiting and nothing has finished for `bound` seconds."""
    return waiting > 0 and now - last_progress > bound


class _OverflowAlarm(logging.Handler):
    """watchdog rebuilds its inotify watches after a queue overflow and only logs it;
    events were lost, so this turns that log line into an immediate rescan."""

    def __init__(self, rescan: threading.Event):
        super().__init__(logging.WARNING)
        self.rescan = rescan

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            log.warning("inotify queue overflowed: rescanning the whole tree now")
            self.rescan.set()

    @classmethod
    def install(cls, rescan: threading.Event) -> None:
        for name in ("watchdog.observers.inotify_c", "watchdog.observers.inotify"):
            logger = logging.getLogger(name)
            logger.handlers = [h for h in logger.handlers if not isinstance(h, cls)]
            logger.addHandler(cls(rescan))


def _folder_signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Changes when a rule file or a reference photo (any photo in a folder below, where
    reference rules keep one subfolder per object) is added, removed, renamed or edited. The
    size is in it so that an edit read half-written and finished within one mtime tick is
    still seen."""
    try:
        files = [*folder.glob("*.toml"), *folder.glob("*/**/*")]
        return tuple(
            sorted(
                (str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size)
                for p in files
                if p.suffix == ".toml" or p.suffix.lower() in PHOTO_SUFFIXES
            )
        )
    except OSError:
        return ()
