"""`proofwatch config check` and `proofwatch config show`: the config file, checked and shown.

check answers "will the daemon accept this file?" before a reload or a restart finds out;
show answers "what is it actually using?", every default and override filled in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import Config, load_config, to_toml
from ..tomlsource import SourceError
from .common import (
    DEFAULT_CONFIG,
    EXIT_OK,
    EXIT_USAGE,
    Subcommands,
    add_config_flags,
    config_file,
    resolve_config,
)

CHECK_DESCRIPTION = """\
Validate a config file the way the daemon reads it: TOML syntax, every key known (a typo is
an error, never silently ignored), every value of the right type and unit ("5s", "4h",
"50MB"). Errors print as FILE:LINE: KEY: MESSAGE. Then, as warnings, what would still stop the
daemon on this machine: a watch folder or rules folder that does not exist, rules that do
not load.
"""

CHECK_EPILOG = """\
exit status: 0 the file is valid (warnings may follow); 2 it is not, or no file was found.
"""

SHOW_DESCRIPTION = """\
Print the configuration the daemon would run with, as TOML: the config file, then the
environment (OLLAMA_HOST, STATE_DIRECTORY), then the flags given here, every key the file
leaves out filled in with its default. The output is itself a valid config file.
"""


def register(commands: Subcommands) -> None:
    """Add the `config` command group to the top-level subparsers."""
    config: argparse.ArgumentParser = commands.add_parser(
        "config", help="validate a config file, or show the effective configuration",
        description="Check a config file, or show the configuration in effect. Every key, "
        "its default and why it exists: config.example.toml.",
    )  # fmt: skip
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check", help="validate a config file (unknown keys, types, units)",
        description=CHECK_DESCRIPTION, epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    check.add_argument(
        "file", type=Path, nargs="?", metavar="FILE",
        help=f"the config file (default: $PROOFWATCH_CONFIG, else {DEFAULT_CONFIG})",
    )  # fmt: skip
    check.set_defaults(handler=cmd_check)

    show = actions.add_parser(
        "show", help="print the effective configuration as TOML, defaults filled in",
        description=SHOW_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_config_flags(show)
    show.set_defaults(handler=cmd_show)


def cmd_check(args: argparse.Namespace) -> int:
    path = config_file(args.file)
    if path is None:
        print(f"proofwatch config check: no config file given, none in $PROOFWATCH_CONFIG "
              f"and no {DEFAULT_CONFIG}; without one the daemon runs on built-in defaults "
              "(see `proofwatch config show`)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    try:
        config = load_config(path)
    except SourceError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(f"{path}: OK")
    for warning in _setup_warnings(config):
        print(f"warning: {warning}")
    return EXIT_OK


def _setup_warnings(config: Config) -> list[str]:
    """What would stop the daemon here even though the file itself is valid."""
    from ..rules.loader import load_rules

    warnings = []
    if config.watch is None:
        warnings.append("watch is not set: `proofwatch run` then needs --watch DIR")
    elif not config.watch.is_dir():
        warnings.append(f"watch: {config.watch} is not a folder here")
    if config.verdict_dir is not None and not config.verdict_dir.is_dir():
        warnings.append(f"verdict_dir: {config.verdict_dir} is not a folder here")
    if not config.rules.is_dir():
        warnings.append(f"rules: {config.rules} is not a folder here")
    else:
        try:
            rules = load_rules(config.rules)
        except SourceError as exc:
            warnings.append(f"the rules do not load: {exc}")
        else:
            if not rules.rules:
                warnings.append(f"rules: no *.toml rule in {config.rules}; every photo is review")
    return warnings


def cmd_show(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    source = config_file(args.config)
    origin = str(source) if source is not None else "no config file: built-in defaults"
    sys.stdout.write(f"# effective configuration ({origin}; environment and flags applied)\n")
    sys.stdout.write(to_toml(config))
    return EXIT_OK
