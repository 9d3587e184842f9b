"""The `proofwatch` command: run the daemon, check or strip photos, inspect state.

Flags override the config file; the same flags mean the same thing in every subcommand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .tomlsource import SourceError, read_toml

if TYPE_CHECKING:
    from .config import Config

    # What add_subparsers returns: where each command adds its parser.
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_NOT_PASS, EXIT_USAGE = 0, 1, 2
DEFAULT_CONFIG = Path("/etc/proofwatch/config.toml")

DESCRIPTION = """\
proofwatch watches the folder a photo-proof tracker uploads into. For every photo it
removes all metadata in place, checks the verification rules through a local model
(Ollama, or the embedded OCR engine) and writes NAME.EXT.verdict.json beside it.
It opens no network port; its only connection is to the model server (loopback by default).
"""


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    from .config import ENGINES

    group = parser.add_argument_group("configuration (flags override the config file)")
    group.add_argument(
        "--config", type=Path, metavar="FILE",
        help="config file (default: $PROOFWATCH_CONFIG, else /etc/proofwatch/config.toml "
        "when it exists, else built-in defaults; see config.example.toml)",
    )  # fmt: skip
    group.add_argument("--watch", type=Path, metavar="DIR", help="the upload folder to watch")
    group.add_argument(
        "--rules", type=Path, metavar="DIR",
        help="folder of rule files (default: /etc/proofwatch/rules, else ./rules)",
    )  # fmt: skip
    group.add_argument(
        "--state-dir", type=Path, metavar="DIR",
        help="the daemon's database, lock and status file (default: $STATE_DIRECTORY, else "
        "/var/lib/proofwatch as root, else ~/.local/state/proofwatch)",
    )  # fmt: skip
    group.add_argument(
        "--engine", choices=ENGINES,
        help="auto: Ollama when reachable, else OCR for text rules (default: auto)",
    )  # fmt: skip
    group.add_argument(
        "--ollama-host", metavar="URL",
        help="Ollama server (default: $OLLAMA_HOST, else http://127.0.0.1:11434; "
        "a non-loopback host needs ollama.allow_remote = true)",
    )  # fmt: skip
    group.add_argument(
        "--model", metavar="NAME", help="vision model on Ollama (default: qwen2.5vl:7b)"
    )
    group.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default: info"
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given the command about to run, only what it needs."""
    parser = argparse.ArgumentParser(
        prog="proofwatch", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `proofwatch COMMAND --help` for each command's flags.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"proofwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command in CORE_COMMANDS:
        # A one-off `proofwatch strip` should start fast: only its own parser is built, so
        # nothing the others need (config, rules, backfill) is imported.
        CORE_COMMANDS[command](commands)
        return parser
    for add in CORE_COMMANDS.values():
        add(commands)
    # Command groups that live beside what they operate on.
    from . import backfill, config_commands
    from .rules import commands as rules_commands

    for module in (rules_commands, config_commands, backfill):
        module.register(commands)
    return parser


def _add_run(commands: Subcommands) -> None:
    run = commands.add_parser(
        "run", help="run the daemon in the foreground (logs to stderr)",
        description="Watch the upload folder and verify every photo that arrives, until "
        "SIGTERM or SIGINT. SIGHUP reloads the config and the rules. Photos already in the "
        "folder without a verdict are processed at start.",
    )  # fmt: skip
    add_config_flags(run)
    run.set_defaults(handler=cmd_run)


def _add_check(commands: Subcommands) -> None:
    check = commands.add_parser(
        "check", help="verify one photo without touching it; print the verdict JSON",
        description="Run the rules on PHOTO as the daemon would, on a stripped copy held in "
        "memory: the file is not changed and no verdict file is written. Exit 0 when the "
        "verdict is pass, 1 otherwise, 2 on a usage or configuration error.",
    )  # fmt: skip
    check.set_defaults(handler=cmd_check)
    check.add_argument("photo", type=Path, metavar="PHOTO")
    check.add_argument(
        "--request", type=Path, metavar="FILE",
        help="the request JSON (default: PHOTO.request.json beside the photo, if any)",
    )  # fmt: skip
    add_config_flags(check)


def _add_strip(commands: Subcommands) -> None:
    strip = commands.add_parser(
        "strip", help="remove all metadata from files in place",
        description="Remove every piece of metadata (GPS, EXIF, XMP, IPTC, MakerNotes, "
        "thumbnails, trailers) from each FILE in place, atomically, keeping the pixels: a "
        "file is replaced only once its stripped bytes are on disk, so a crash leaves it "
        "whole. Prints what was removed, file by file, in order. Exit 1 if any file could "
        "not be stripped.",
    )  # fmt: skip
    strip.set_defaults(handler=cmd_strip)
    strip.add_argument(
        "files", type=Path, nargs="+", metavar="FILE",
        help="a JPEG, MPO, PNG, WebP or HEIC/HEIF photo; other files are refused, untouched",
    )  # fmt: skip
    strip.add_argument(
        "--max-size", default="50MB", metavar="SIZE",
        help="refuse larger files (default: 50MB)",
    )  # fmt: skip


def _add_status(commands: Subcommands) -> None:
    status = commands.add_parser(
        "status", help="what the running daemon is doing, and its last problems",
        description="Read the status file the daemon keeps in its state directory.",
    )  # fmt: skip
    status.set_defaults(handler=cmd_status)
    status.add_argument("--json", action="store_true", help="print the raw status JSON")
    add_config_flags(status)


# The commands this module defines; the groups (rules, config, backfill) live beside what
# they operate on.
CORE_COMMANDS: dict[str, Callable[[Subcommands], None]] = {
    "run": _add_run, "check": _add_check, "strip": _add_strip, "status": _add_status,
}  # fmt: skip


# -- configuration


def default_state_dir(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    if environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/proofwatch")
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "proofwatch"


def config_file(given: Path | None) -> Path | None:
    """The file every command reads: the one given, $PROOFWATCH_CONFIG, or the default
    path when it exists; None means built-in defaults."""
    if given is not None:
        return given
    if os.environ.get("PROOFWATCH_CONFIG"):
        return Path(os.environ["PROOFWATCH_CONFIG"])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def resolve_config(args: argparse.Namespace) -> Config:
    """The config file (if any), then the environment, then the command line."""
    from .config import host_from_environment, load_config

    path = config_file(args.config)
    config = host_from_environment(load_config(path))
    # Keys the file does not set get defaults that depend on who runs where.
    written = read_toml(path)[0] if path is not None else {}
    if "state_dir" not in written:
        config = config.with_overrides(state_dir=default_state_dir())
    if "rules" not in written and not config.rules.is_dir() and Path("rules").is_dir():
        config = config.with_overrides(rules=Path("rules").resolve())
    return config.with_overrides(
        watch=args.watch,
        rules=args.rules,
        state_dir=args.state_dir,
        engine=args.engine,
        log_level=args.log_level,
        **{"ollama.host": args.ollama_host, "ollama.model": args.model},
    )


# -- commands


def cmd_run(args: argparse.Namespace) -> int:
    from .service.daemon import AlreadyRunning, Daemon
    from .service.logs import setup_logging

    config = resolve_config(args)
    setup_logging(config.log_level)
    try:
        daemon = Daemon(config, reload_config=lambda: resolve_config(args))
        return daemon.run()
    except AlreadyRunning as exc:
        print(f"proofwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE


def cmd_check(args: argparse.Namespace) -> int:
    from .engines import EngineSet
    from .pipeline import Options, Pipeline
    from .rules.loader import load_rules, parse_request
    from .service.logs import setup_logging
    from .verdict import encode

    config = resolve_config(args)
    setup_logging(config.log_level if args.log_level else "warning")
    if config.watch is None:
        config = config.with_overrides(watch=args.photo.resolve().parent)
    request = None
    if args.request is not None:
        try:
            request = parse_request(json.loads(args.request.read_bytes()))
        except (OSError, ValueError) as exc:
            raise SourceError(args.request, f"not a valid request: {exc}") from None
    engines = EngineSet(config)
    try:
        engines.check_ollama()
        pipeline = Pipeline(config, load_rules(config.rules), engines)
        options = Options(modify=False, wait_for_request=False, record=False)
        verdict = pipeline.process(args.photo.absolute(), options, request)
    finally:
        engines.close()
    sys.stdout.write(encode(verdict).decode())
    return EXIT_OK if verdict.status == "pass" else EXIT_NOT_PASS


def cmd_strip(args: argparse.Namespace) -> int:
    from .batch_strip import strip_files
    from .units import parse_size

    failed = 0
    for stripped, line in strip_files(args.files, parse_size(args.max_size)):
        failed += not stripped
        print(line, flush=True)
    return EXIT_NOT_PASS if failed else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from .service.status_file import format_status, read_status

    config = resolve_config(args)
    status = read_status(config.state_dir)
    if status is None:
        print(f"proofwatch: no status in {config.state_dir} (is the daemon running there?)",
              file=sys.stderr)  # fmt: skip
        return EXIT_NOT_PASS
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SourceError as exc:
        print(f"proofwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a folder the user may not write, a disk that is full: say which
        where = f": {exc.filename}" if exc.filename else ""
        print(f"proofwatch: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
