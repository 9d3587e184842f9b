"""`make bench`: every benchmark in one run, so figures share the same machine and moment.

Each module prints a markdown section; medians and ratios against a baseline measured in
the same run, never bare wall-clock claims. Run one alone with `python bench/bench_X.py`.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "daemon")]

MODULES = (
    "bench_stages",
    "bench_strip",
    "bench_compare",
    "bench_intake",
    "bench_model",
    "bench_ocr",
    "bench_handwriting",
    "bench_memory",
    "bench_reference",
)


def main() -> int:
    only = sys.argv[1:] or list(MODULES)
    print(f"# proofwatch benchmarks ({time.strftime('%Y-%m-%d %H:%M')})\n")
    python = platform.python_version()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}\n")
    failed = []
    for name in only:
        if not (HERE / f"{name}.py").exists():
            print(f"## {name}\n\nnot present\n")
            continue
        started = time.monotonic()
        try:
            importlib.import_module(name).main()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"\n{name} failed: {type(exc).__name__}: {exc}\n")
            failed.append(name)
        print(f"\n({name} took {time.monotonic() - started:.0f}s)\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
