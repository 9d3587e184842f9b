"""`proofwatch backfill`: process a folder that already holds photos. (Being built: issue 8.)"""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add the `backfill` command to the top-level subparsers."""
    backfill: argparse.ArgumentParser = commands.add_parser(
        "backfill", help="process photos already in a folder, with progress"
    )
    backfill.set_defaults(handler=_usage, parser=backfill)


def _usage(args: argparse.Namespace) -> int:
    args.parser.print_help()
    return 2
