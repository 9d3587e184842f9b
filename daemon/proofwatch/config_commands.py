"""`proofwatch config ...`: check and show. (Being built: see issue 8.)"""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add the `config` command group to the top-level subparsers."""
    config: argparse.ArgumentParser = commands.add_parser(
        "config", help="validate a config file, or show the effective configuration"
    )
    config.set_defaults(handler=_usage, parser=config)


def _usage(args: argparse.Namespace) -> int:
    args.parser.print_help()
    return 2
