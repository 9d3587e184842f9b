"""`proofwatch backfill`: verify photos already in a folder, with progress, resumable.

For the photos the daemon never saw (installed after they arrived) and, with --reverify, for
verdicts decided by rules that have since changed. Each photo goes through the daemon's own
unit of work (intake/work.py): the same pipeline, the same done-check, the same verdict
file, under the same lock, so a backfill and the daemon can never disagree or race.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ..config import Config
from ..vocabulary import STATUSES
from .common import (
    EXIT_NOT_PASS,
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    add_config_flags,
    resolve_config,
)

if TYPE_CHECKING:
    from ..engines import EngineSet
    from ..pipeline.process import Pipeline
    from ..rules.loader import RuleSet

EXIT_INTERRUPTED = 130  # what a shell reports for a command stopped by Ctrl-C

DESCRIPTION = """\
Verify the photos already in a folder, as the daemon would: each photo is stripped of its
metadata in place and gets NAME.EXT.verdict.json, through the daemon's own code path.

Use it after installing (photos that arrived before the daemon ran), or after changing the
rules, with --reverify. Photos that already have their verdict are skipped, so an interrupted
run resumes where it stopped when started again. Ctrl-C stops after the photo in hand (press
it again to abandon that photo; it is redone next time) and prints the summary.

It takes the daemon's lock on the folder and refuses to run while the daemon watches it:
stop the service first (systemctl stop proofwatch), then start it again afterwards. Run it
as the service user with the daemon's config and state directory, so both share the lock
and the history that duplicate rules compare against: the service's state directory is
/var/lib/proofwatch; name it with --state-dir, since another user's default differs.
Log lines (stderr) show warnings only, unless --log-level says otherwise.
"""

EPILOG = """\
exit status: 0 every photo got its verdict; 1 some verdicts are `error` (the model or the
daemon failed; --reverify retries them); 2 a configuration problem, or the daemon runs;
130 interrupted (run the same command again to resume).

examples:
  sudo -u proofwatch proofwatch backfill --config /etc/proofwatch/config.toml \
      --state-dir /var/lib/proofwatch
  proofwatch backfill /srv/proofwatch/uploads/controls --reverify
"""


def register(commands: Subcommands) -> None:
    """Add the `backfill` command to the top-level subparsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "backfill", help="verify photos already in a folder, with progress (resumable)",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument(
        "folder", type=Path, nargs="?", metavar="DIR",
        help="the folder to process (default: watch from the config). A folder inside the "
        "configured watch folder is processed as part of it, so rules match the same paths "
        "and verdicts land where the daemon puts them",
    )  # fmt: skip
    parser.add_argument(
        "--reverify", action="store_true",
        help="also re-run the rules on photos that already have a verdict, when that verdict "
        "was decided by other rules than the current ones (its rules_digest differs) or is "
        "`error`; each verdict is replaced atomically. Resumable like a plain backfill",
    )  # fmt: skip
    parser.add_argument(
        "--all", dest="everything", action="store_true",
        help="with --reverify: redo every verdict, even those decided by the current rules "
        "(after changing the model or the config rather than the rules). Not resumable: "
        "an interrupted --all run starts over",
    )  # fmt: skip
    parser.add_argument(
        "--progress", choices=("auto", "bar", "lines"), default="auto",
        help="bar: a progress bar; lines: one plain line per photo (for logs and pipes); "
        "auto (default): a bar when standard output is a terminal, else lines",
    )  # fmt: skip
    add_config_flags(parser)
    parser.set_defaults(handler=cmd_backfill)


# -- deciding what to do


@dataclass
class Plan:
    root: Path
    todo: list[Path] = field(default_factory=list)
    done: int = 0  # verdict present (and current, with --reverify)
    settling: int = 0  # empty placeholders the tracker is still writing


def place(config: Config, folder: Path | None) -> tuple[Path, Path]:
    """(watched root, folder to walk): a folder inside the configured watch folder keeps
    that root, so relative paths, rule matches and verdict places stay the daemon's."""
    configured = config.watch.resolve() if config.watch is not None else None
    if folder is None:
        if configured is None:
            raise _Usage("no folder: pass DIR, --watch DIR, or set watch in the config")
        return configured, configured
    target = folder.resolve()
    if not target.is_dir():
        raise _Usage(f"{folder} is not a folder")
    if configured is not None and target.is_relative_to(configured):
        return configured, target
    return target, target


def make_plan(
    config: Config, root: Path, folder: Path, digest: str, reverify: bool, everything: bool
) -> Plan:
    from ..contract.verdict import read_verdict, verdict_path
    from ..pipeline.work import arrival_order, is_done, is_placeholder, walk_photos

    plan = Plan(root)
    now = time.time()
    for photo in arrival_order(walk_photos(root, folder, config.intake.ignore)):
        if is_placeholder(photo, config.intake.empty_timeout, now):
            plan.settling += 1
            continue
        target = verdict_path(photo, root, config.verdict_dir)
        redo = reverify and (everything or _outdated(read_verdict(target), digest))
        if redo or not is_done(photo, target):
            plan.todo.append(photo)
        else:
            plan.done += 1
    return plan


def _outdated(verdict: dict[str, Any] | None, digest: str) -> bool:
    """Decided by other rules, or not decided at all (an error is retried). A rejected
    photo was refused before any rule ran (no digest): the rules cannot change that."""
    if verdict is None or verdict.get("status") == "error":
        return True
    decided_by = verdict.get("rules_digest")
    return decided_by is not None and decided_by != digest


# -- progress


class Progress:
    """One plain line per photo: for logs, pipes and CI."""

    def __init__(self, total: int, out: TextIO):
        self.total, self.out, self.count = total, out, 0
        self.by_status: Counter[str] = Counter()

    def photo(self, name: str, status: str, detail: str, millis: int | None) -> None:
        self.count += 1
        self.by_status[status] += 1
        took = f" ({millis} ms)" if millis is not None else ""
        width = len(str(self.total))
        line = f"[{self.count:>{width}}/{self.total}] {name}: {status}"
        self.show(line + (f": {_short(detail)}" if detail else "") + took)

    def show(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def close(self) -> None:
        pass


class BarProgress(Progress):
    """A tqdm bar with the counts by status; problems are printed above it as they happen."""

    def __init__(self, total: int, out: TextIO):
        super().__init__(total, out)
        from tqdm import tqdm

        # A terminal that reports no size (0x0: some serial consoles, `script`) would make
        # tqdm hide the bar; shutil's fallback (COLUMNS, LINES, else 80x24) shows it.
        size = shutil.get_terminal_size()
        sized = {"dynamic_ncols": True} if _reports_size(out) else {"ncols": size.columns}
        self.bar = tqdm(total=total, unit="photo", file=out, leave=True, nrows=size.lines, **sized)

    def photo(self, name: str, status: str, detail: str, millis: int | None) -> None:
        self.count += 1
        self.by_status[status] += 1
        if status in ("error", "rejected", "changed", "held"):
            self.bar.write(f"{name}: {status}: {_short(detail)}", file=self.out)
        self.bar.set_postfix_str(_counts(self.by_status), refresh=False)
        self.bar.update(1)

    def show(self, line: str) -> None:
        self.bar.write(line, file=self.out)

    def close(self) -> None:
        self.bar.close()


def _reports_size(out: TextIO) -> bool:
    try:
        return os.get_terminal_size(out.fileno()).columns > 0
    except (OSError, ValueError):
        return False


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _counts(by_status: Counter[str]) -> str:
    order = [*STATUSES, "changed", "abandoned"]
    return ", ".join(f"{by_status[s]} {s}" for s in order if by_status[s])


# -- interruption


@contextmanager
def _interruptible(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM): finish the photo in hand, then stop. Second: abandon it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        # os.write, not print: a signal can land while print() holds the stream's lock.
        os.write(2, b"\nstopping after the photo in hand (Ctrl-C again to abandon it)\n")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- the command


class _Usage(Exception):
    pass


def cmd_backfill(args: argparse.Namespace) -> int:
    from ..service.logs import setup_logging

    config = resolve_config(args)
    # The progress display is the output; the log only speaks up about problems.
    setup_logging(args.log_level or "warning")
    try:
        root, folder = place(config, args.folder)
    except _Usage as exc:
        print(f"proofwatch backfill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.everything and not args.reverify:
        print("proofwatch backfill: --all goes with --reverify", file=sys.stderr)
        return EXIT_USAGE
    return _run(config.with_overrides(watch=root), folder, args)


def _run(config: Config, folder: Path, args: argparse.Namespace) -> int:
    from ..atomic import sweep_temp_files
    from ..rules.loader import load_rules
    from ..service.lock import AlreadyRunning, take_watch_lock

    assert config.watch is not None
    root = config.watch
    rules = load_rules(config.rules)
    owner = _foreign_owner(config.state_dir)
    if owner is not None:
        print(f"proofwatch backfill: {config.state_dir} belongs to {owner}; as root this would "
              f"leave files there the daemon cannot write. Run it as that user: sudo -u {owner} "
              "proofwatch backfill ...", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        lock = take_watch_lock(config.state_dir, root)
    except AlreadyRunning as exc:
        print(f"proofwatch backfill: {exc}.\nThe running daemon already verifies every photo "
              "without a verdict; to reverify, stop it (systemctl stop proofwatch), run "
              "backfill, then start it again.", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        sweep_temp_files(root)  # temp files a crash left; nobody else writes them under the lock
        return _with_engines(config, rules, folder, args)
    finally:
        os.close(lock)


def _foreign_owner(state_dir: Path) -> str | None:
    """The service user, when root is about to write into that user's state directory."""
    import pwd

    try:
        uid = state_dir.stat().st_uid
    except OSError:
        return None
    if os.geteuid() != 0 or uid == 0:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _with_engines(config: Config, rules: RuleSet, folder: Path, args: argparse.Namespace) -> int:
    from ..engines import EngineSet
    from ..engines.ollama import RemoteHostRefused
    from ..pipeline.process import Pipeline
    from ..pipeline.setup import Setup
    from ..state import StateStore

    stop = threading.Event()
    try:
        engines = EngineSet(config, stop)
    except RemoteHostRefused as exc:
        print(f"proofwatch backfill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    state = StateStore(config.state_dir / "proofwatch.sqlite3")
    try:
        engine_line = _engine_state(engines)
        if engine_line is None:
            return EXIT_USAGE
        pipeline = Pipeline(Setup.from_config(config, rules, engines), state, stop)
        assert config.watch is not None
        plan = make_plan(config, config.watch, folder, rules.digest, args.reverify, args.everything)
        return _process(pipeline, plan, folder, engine_line, args, config.rules)
    finally:
        state.close()
        engines.close()


def _engine_state(engines: EngineSet) -> str | None:
    """What will read the photos, for the header; None (after saying why) when nothing can."""
    health = engines.check_ollama()
    if engines.mode == "ollama" and not (health is not None and health.model_ready):
        print(f"proofwatch backfill: {health.problem if health else 'Ollama is not usable'}\n"
              "engine is ollama: start Ollama or pull the model first, or pass --engine ocr "
              "(text rules only).", file=sys.stderr)  # fmt: skip
        return None
    engine, state = engines.describe()
    return f"{engine}: {state}"


def _process(
    pipeline: Pipeline,
    plan: Plan,
    folder: Path,
    engine_line: str,
    args: argparse.Namespace,
    rules_folder: Path,
) -> int:
    from ..contract.verdict import verdict_path
    from ..intake.reader import FileChanged
    from ..pipeline.setup import Options
    from ..pipeline.waits import MachineFault
    from ..pipeline.work import handle_photo

    out = sys.stdout
    setup = pipeline.setup
    found = len(plan.todo) + plan.done + plan.settling
    kept = "up to date" if args.reverify else "already verified"
    print(f"backfill {folder}: {found} photo(s), {plan.done} {kept}, {len(plan.todo)} to "
          f"process\nrules: {len(setup.rules.rules)} from {rules_folder} (digest "
          f"{setup.rules.digest}); model: {engine_line}", file=out, flush=True)  # fmt: skip
    use_bar = args.progress == "bar" or (args.progress == "auto" and out.isatty())
    progress = (BarProgress if use_bar and plan.todo else Progress)(len(plan.todo), out)
    problems: list[str] = []
    started = time.monotonic()
    interrupted = False
    name = ""
    try:
        with _interruptible(pipeline.stop):
            for photo in plan.todo:
                if pipeline.stop.is_set():
                    interrupted = True
                    break
                name = setup.settings.relative(photo)
                target = verdict_path(photo, plan.root, setup.settings.verdict_dir)
                # No waiting for late request sidecars: these photos are not arriving, they
                # are here. A verdict already there keeps the metadata facts it recorded.
                options = Options(wait_for_request=False)
                try:
                    verdict = handle_photo(pipeline, photo, target, options)
                except FileChanged as exc:
                    progress.photo(name, "changed", f"{exc}; run backfill again", None)
                    continue
                except MachineFault as exc:  # no verdict: the machine, not the photo
                    progress.photo(name, "held", f"{exc}; run backfill again once fixed", None)
                    problems.append(f"  {name}: held: {_short(str(exc))}")
                    continue
                if verdict is None:
                    progress.photo(name, "abandoned", "stopped before its verdict", None)
                    interrupted = interrupted or pipeline.stop.is_set()
                    continue
                progress.photo(
                    name,
                    verdict.status,
                    "" if verdict.status == "pass" else verdict.reason,
                    verdict.timings_ms.get("total"),
                )
                if verdict.status in ("error", "rejected"):
                    problems.append(f"  {name}: {verdict.status}: {_short(verdict.reason)}")
            interrupted = interrupted or pipeline.stop.is_set()
    except KeyboardInterrupt:
        interrupted = True
        progress.photo(name, "abandoned", "abandoned; it is redone next time", None)
    finally:
        progress.close()
    _summary(out, plan, progress, time.monotonic() - started, problems, interrupted, args)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_NOT_PASS if progress.by_status["error"] else EXIT_OK


def _summary(
    out: TextIO,
    plan: Plan,
    progress: Progress,
    seconds: float,
    problems: list[str],
    interrupted: bool,
    args: argparse.Namespace,
) -> None:
    counts = _counts(progress.by_status) or "nothing"
    processed = sum(n for s, n in progress.by_status.items() if s in STATUSES)
    pace = f", {seconds / processed:.1f} s per photo" if processed else ""
    head = "interrupted" if interrupted else "done"
    lines = [f"{head} in {seconds:.1f} s: {processed} verdict(s) written{pace}: {counts}"]
    if plan.done:
        why = (
            "verdict stands (decided by these rules, or rejected before any rule ran; "
            "--all redoes them)"
            if args.reverify
            else "already verified (--reverify re-runs changed rules)"
        )
        lines.append(f"skipped {plan.done}: {why}")
    if plan.settling:
        lines.append(f"skipped {plan.settling}: empty files still being written")
    if problems:
        lines.append("problems:")
        lines += problems[:20]
        if len(problems) > 20:
            lines.append(f"  … and {len(problems) - 20} more")
    if interrupted:
        left = len(plan.todo) - processed
        again = (
            "--all starts over when run again"
            if args.everything
            else "run the same command again to resume"
        )
        lines.append(f"{left} photo(s) left: {again}")
    print("\n".join(lines), file=out, flush=True)
