"""`proofwatch run`: the daemon in the foreground."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_USAGE, Subcommands, add_config_flags, resolve_config


def register(commands: Subcommands) -> None:
    run = commands.add_parser(
        "run", help="run the daemon in the foreground (logs to stderr)",
        description="Watch the upload folder and verify every photo that arrives, until "
        "SIGTERM or SIGINT. SIGHUP reloads the config and the rules. Photos already in the "
        "folder without a verdict are processed at start.",
    )  # fmt: skip
    add_config_flags(run)
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from ..service.daemon import AlreadyRunning, Daemon
    from ..service.logs import setup_logging

    config = resolve_config(args)
    setup_logging(config.log_level)
    try:
        daemon = Daemon(config, reload_config=lambda: resolve_config(args))
        return daemon.run()
    except AlreadyRunning as exc:
        print(f"proofwatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
