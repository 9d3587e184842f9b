"""`proofwatch rules ...`: check, new, test. (Being built: see issue 5.)"""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    """Add the `rules` command group to the top-level subparsers."""
    rules: argparse.ArgumentParser = commands.add_parser(
        "rules", help="check, create and test rule files"
    )
    rules.set_defaults(handler=_usage, parser=rules)


def _usage(args: argparse.Namespace) -> int:
    args.parser.print_help()
    return 2
