"""`proofwatch check PHOTO`: one photo judged as the daemon would, nothing written."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..tomlsource import SourceError
from .common import EXIT_NOT_PASS, EXIT_OK, Subcommands, add_config_flags, resolve_config


def register(commands: Subcommands) -> None:
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


def cmd_check(args: argparse.Namespace) -> int:
    from ..contract.request import parse_request
    from ..contract.verdict import encode
    from ..engines import EngineSet
    from ..pipeline.process import Pipeline
    from ..pipeline.setup import Options, Setup
    from ..pipeline.waits import MachineFault
    from ..rules.loader import load_rules
    from ..service.logs import setup_logging

    config = resolve_config(args)
    setup_logging(config.log_level if args.log_level else "warning")
    request = None
    if args.request is not None:
        try:
            request = parse_request(json.loads(args.request.read_bytes()))
        except (OSError, ValueError) as exc:
            raise SourceError(args.request, f"not a valid request: {exc}") from None
    engines = EngineSet(config)
    try:
        engines.check_ollama()
        root = args.photo.absolute().parent
        pipeline = Pipeline(Setup.from_config(config, load_rules(config.rules), engines, root))
        options = Options(modify=False, wait_for_request=False, record=False)
        verdict = pipeline.process(args.photo.absolute(), options, request)
    except MachineFault as exc:  # no verdict: the machine, not the photo
        print(f"proofwatch: no verdict: {exc}", file=sys.stderr)
        return EXIT_NOT_PASS
    finally:
        engines.close()
    sys.stdout.write(encode(verdict).decode())
    return EXIT_OK if verdict.status == "pass" else EXIT_NOT_PASS
