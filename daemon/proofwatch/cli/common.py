"""What every command shares: exit codes, the config flags, and how the configuration a
command runs with is found (file, environment, flags)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tomlsource import read_toml

if TYPE_CHECKING:
    from ..config import Config

# What add_subparsers returns: where each command adds its parser.
Subcommands = Any

EXIT_OK, EXIT_NOT_PASS, EXIT_USAGE = 0, 1, 2
DEFAULT_CONFIG = Path("/etc/proofwatch/config.toml")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    from ..config import APIS, ENGINES

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
        help="auto: the vision model when its server is reachable, else OCR for text rules; "
        "model: always the vision model (photos wait for its server); ocr: OCR only "
        "(ollama: the old name of model; default: auto)",
    )  # fmt: skip
    group.add_argument(
        "--model-api", choices=APIS,
        help="the model server's API: ollama, or openai (/v1/chat/completions: llama.cpp's "
        "llama-server, vLLM, LM Studio, LocalAI; default: ollama)",
    )  # fmt: skip
    group.add_argument(
        "--model-host", "--ollama-host", metavar="URL", action="append", dest="model_host",
        help="a model server; repeat it for several (one per GPU), each photo going to one "
        "that is up and least busy (default: $OLLAMA_HOST, else http://127.0.0.1:11434; a "
        "host off this machine needs model.allow_remote; --ollama-host is the old name)",
    )  # fmt: skip
    group.add_argument(
        "--model", metavar="NAME", help="vision model on the server (default: qwen2.5vl:7b)"
    )
    group.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), help="default: info"
    )


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
    from ..config import host_from_environment, load_config

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
        **{
            "model.api": args.model_api,
            "model.host": args.model_host[0] if args.model_host else None,
            "model.hosts": args.model_host[1:] if args.model_host else None,
            "model.model": args.model,
        },
    )
