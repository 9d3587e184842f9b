"""The container's HEALTHCHECK: `proofwatch status`, and the status must be fresh.

`proofwatch status` exits 0 whenever a status file exists in the state directory, and the
state directory is a volume that outlives the container: after a restart, or with a daemon
that hangs, the file left behind would still say "healthy". The daemon rewrites the file
every 2 seconds while it runs; `proofwatch status` itself calls a file older than 30 seconds
"not updated (stopped?)", and so does this check. It prints the human status, which
`docker inspect` / `podman inspect` keep as the health log.

Runs inside the image as /usr/local/lib/proofwatch/healthcheck.py with the venv's Python.
Exit 0: healthy; 1: unhealthy (the reason on stdout).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

FRESH_SECONDS = 30.0


def main() -> int:
    raw = subprocess.run(
        ["proofwatch", "status", "--json"], capture_output=True, text=True, timeout=20
    )
    if raw.returncode != 0:
        print(raw.stderr.strip() or f"proofwatch status exited {raw.returncode}")
        return 1
    try:
        updated_at = float(json.loads(raw.stdout).get("updated_at", 0))
    except (ValueError, AttributeError, TypeError):
        print("proofwatch status --json printed no status")
        return 1
    age = time.time() - updated_at
    human = subprocess.run(["proofwatch", "status"], capture_output=True, text=True, timeout=20)
    print(human.stdout.strip())
    if age > FRESH_SECONDS:
        print(f"unhealthy: the status file was last written {age:.0f}s ago")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
