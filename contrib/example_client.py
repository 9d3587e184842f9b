#!/usr/bin/env python3
"""A tracker's side of the proofwatch file contract, in the standard library only.

Drops PHOTO into the watched folder with its request, the way docs/integration.md says
(the request first, each file written under a temp name and renamed in), then waits for
the verdict and prints it with what a tracker would do about it.

    python3 contrib/example_client.py --watch /srv/proofwatch/uploads --subdir controls \\
        --id control-981 --rule control-code --expect code=48213 IMG_0042.jpg

Exit status: 0 pass, 1 any other verdict, 2 usage (or the name is taken), 3 no verdict
within --timeout. Copy what you need; it is a sketch of the contract, not a library.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

# Major version 1: /1 and /1.1 (which added reason_code and hints) read alike.
VERDICT_SCHEMAS = ("proofwatch.verdict/1", "proofwatch.verdict/1.1")

# What a tracker might do with each status (docs/integration.md, "Statuses").
ACTIONS = {
    "pass": "accept the proof",
    "fail": "refuse the proof and tell the wearer what did not match (reason)",
    "review": "put the photo in front of a person; do not decide automatically",
    "rejected": "ask for a new photo: this file is not usable (and was not stripped: delete it)",
    "error": "not a judgement: retry later or put it in front of a person; tell the operator",
}


def write_renamed(target: Path, data: bytes) -> None:
    """Write under a dot-name proofwatch ignores, make it durable, then rename it in."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    with open(temp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(temp, target)  # atomic within one filesystem: the daemon sees a complete file


def verdict_file(watch: Path, photo: Path, verdict_dir: Path | None) -> Path:
    """Beside the photo, or under verdict_dir at the photo's place relative to watch."""
    name = photo.name + ".verdict.json"
    if verdict_dir is None:
        return photo.with_name(name)
    return verdict_dir / photo.parent.relative_to(watch) / name


def wait_for(path: Path, timeout: float, interval: float = 0.25) -> dict[str, Any] | None:
    """Poll for the verdict (inotify would do too); it appears whole, never half-written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            verdict: dict[str, Any] = json.loads(path.read_bytes())
        except FileNotFoundError:
            time.sleep(interval)
            continue
        if verdict.get("schema") not in VERDICT_SCHEMAS:
            raise SystemExit(f"unknown verdict format {verdict.get('schema')!r} in {path}")
        return verdict
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Drop a photo and its request into the folder proofwatch watches, then "
        "wait for its verdict and print it.",
        epilog="exit status: 0 pass, 1 fail/review/rejected/error, 2 usage or name taken, "
        "3 no verdict within --timeout",
    )
    parser.add_argument("photo", type=Path, metavar="PHOTO", help="the photo file to submit")
    parser.add_argument(
        "--watch",
        type=Path,
        required=True,
        metavar="DIR",
        help="the folder proofwatch watches (its `watch` setting)",
    )
    parser.add_argument(
        "--subdir",
        default="",
        metavar="PATH",
        help="subfolder of DIR to drop into, e.g. controls (rules match paths)",
    )
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="file name in the folder (default: PHOTO's name); must be new",
    )
    parser.add_argument("--id", metavar="ID", help="request id, echoed back in the verdict")
    parser.add_argument(
        "--rule",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this rule (repeat for more; default: every rule "
        "whose match selects the path)",
    )
    parser.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an expected value, e.g. code=48213 (repeat for more)",
    )
    parser.add_argument(
        "--issued-at",
        metavar="TIME",
        help="when the check-in was requested, ISO 8601 with offset "
        "(default: none; freshness rules then ask for review)",
    )
    parser.add_argument(
        "--verdict-dir",
        type=Path,
        metavar="DIR",
        help="where verdicts go when proofwatch's verdict_dir is set (default: beside the photo)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long to wait for the verdict (default: 300)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict JSON as is")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    expect = {}
    for item in args.expect:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"--expect {item!r}: write KEY=VALUE", file=sys.stderr)
            return 2
        expect[key] = value
    folder = args.watch / args.subdir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (args.name or args.photo.name)
    verdict_path = verdict_file(args.watch, target, args.verdict_dir)
    if target.exists() or verdict_path.exists():
        # A new upload under an old name would leave the old verdict in view until the new
        # one replaces it: give every submission a name of its own.
        print(f"{target} (or its verdict) already exists: choose another --name", file=sys.stderr)
        return 2

    request: dict[str, Any] = {}
    if args.id:
        request["id"] = args.id
    if args.rule:
        request["rules"] = args.rule
    if expect:
        request["expect"] = expect
    if args.issued_at:
        request["issued_at"] = args.issued_at
    if request:  # the request first: it is there when the daemon takes the photo
        write_renamed(target.with_name(target.name + ".request.json"), json.dumps(request).encode())
    write_renamed(target, args.photo.read_bytes())
    started = time.monotonic()

    verdict = wait_for(verdict_path, args.timeout)
    if verdict is None:
        print(
            f"no verdict for {target} within {args.timeout:g}s: is the daemon running? "
            "(`proofwatch status`)",
            file=sys.stderr,
        )
        return 3
    if args.json:
        print(json.dumps(verdict, indent=2))
    else:
        status = verdict["status"]
        print(
            f"{verdict['photo']}: {status} after {time.monotonic() - started:.1f}s: "
            f"{verdict['reason']} [{verdict.get('reason_code', '?')}]"
        )
        for hint in verdict.get("hints", []):
            print(f"  retake hint: {hint['code']} ({hint['detail']})")
        for rule in verdict["rules"]:
            seen = f" (read {rule['observed']!r})" if "observed" in rule else ""
            print(f"  {rule['rule']}: {rule['status']}{seen}: {rule['detail']}")
        print(f"tracker: {ACTIONS.get(status, 'unknown status: treat as review')}")
    return 0 if verdict["status"] == "pass" else 1


if __name__ == "__main__":
    sys.exit(main())
