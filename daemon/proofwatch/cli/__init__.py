"""The `proofwatch` command line: one module per command, each with `register(commands)`
adding its parser, and its handler. The command line sits on top: it imports the service,
the pipeline and the stages, and nothing below imports it.

Flags override the config file; the same flags mean the same thing in every command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..tomlsource import SourceError
from .common import EXIT_USAGE

DESCRIPTION = """\
proofwatch watches the folder a photo-proof tracker uploads into. For every photo it
removes all metadata in place, checks the verification rules through a local model
(Ollama, or the embedded OCR engine) and writes NAME.EXT.verdict.json beside it.
It opens no network port; its only connection is to the model server (loopback by default).
"""

# Command name -> its module in this package, in the order `--help` lists them.
COMMANDS = ("run", "check", "strip", "status", "rules", "config", "backfill")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given the command about to run, only what it needs (a
    one-off `proofwatch strip` then imports nothing the others need, and starts fast)."""
    parser = argparse.ArgumentParser(
        prog="proofwatch", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `proofwatch COMMAND --help` for each command's flags.",
    )  # fmt: skip
    parser.add_argument("--version", action="version", version=f"proofwatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(commands)
    return parser


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
