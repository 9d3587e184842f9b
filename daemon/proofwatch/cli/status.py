"""`proofwatch status`: what the running daemon is doing, from its status file."""

from __future__ import annotations

import argparse
import json
import sys

from .common import EXIT_NOT_PASS, EXIT_OK, Subcommands, add_config_flags, resolve_config


def register(commands: Subcommands) -> None:
    status = commands.add_parser(
        "status", help="what the running daemon is doing, and its last problems",
        description="Read the status file the daemon keeps in its state directory.",
    )  # fmt: skip
    status.set_defaults(handler=cmd_status)
    status.add_argument("--json", action="store_true", help="print the raw status JSON")
    add_config_flags(status)


def cmd_status(args: argparse.Namespace) -> int:
    from ..service.status_file import format_status, read_status

    config = resolve_config(args)
    status = read_status(config.state_dir)
    if status is None:
        print(f"proofwatch: no status in {config.state_dir} (is the daemon running there?)",
              file=sys.stderr)  # fmt: skip
        return EXIT_NOT_PASS
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return EXIT_OK
