"""Intake: rename -> verdict with an instantly answering model server, the rate at which a
backlog and a burst drain, and the daemon's resident memory as photos accumulate.

The model is the fake Ollama server from the tests (it answers at once), so what is
measured is proofwatch itself: watching, reading, stripping, decoding, hashing, writing.
With `--baseline REV` (default: where this branch left main, when that is not HEAD) the
daemon of that revision is measured in the same run, side by side: the latency rounds
alternate between the two daemons, so load drift hits both alike.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "daemon"), str(REPO)]

from PIL import Image  # noqa: E402
from proofgen.demo import stage_photo  # noqa: E402
from proofgen.samples import Camera, to_jpeg  # noqa: E402

from daemon_process import RunningDaemon, clean_env, drop_photo, start_daemon  # noqa: E402
from ollama_server import FakeOllama  # noqa: E402
from proofwatch.config import Config  # noqa: E402
from proofwatch.engines import EngineSet  # noqa: E402
from proofwatch.pipeline.process import Pipeline  # noqa: E402
from proofwatch.pipeline.setup import Options, Setup  # noqa: E402
from proofwatch.rules.loader import load_rules  # noqa: E402

RULES = REPO / "tests" / "rules_presence"
REQUEST = {"id": "bench"}  # written before its photo, as a tracker does


def photo(width: int, height: int, seed: int, quality: int = 95) -> bytes:
    """A camera-like JPEG: smooth gradients plus sensor-like noise, with Exif and GPS."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    image.putpixel((seed % width, 0), (rng.randrange(256), 0, 0))
    return to_jpeg(image, Camera(), quality=quality)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    """A process's resident memory now (or, with key="VmHWM", at its peak), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def config_body(fake: FakeOllama, request_wait: str | None = "0s") -> str:
    wait = f'request_wait = "{request_wait}"\n' if request_wait is not None else ""
    intake = f'[intake]\n{wait}rescan_interval = "1h"\n'
    return f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\n' + intake


def wait_verdict(path: Path, timeout: float = 120) -> float:
    target = path.with_name(path.name + ".verdict.json")
    deadline = time.monotonic() + timeout
    while not target.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path.name)
        time.sleep(0.001)
    return time.monotonic()


@dataclass(frozen=True)
class Contender:
    """A daemon's code: this checkout's, or a baseline revision's (exported to a folder)."""

    name: str
    daemon_dir: Path

    def start(self, tmp: Path, **kwargs: object) -> RunningDaemon:
        env = clean_env(PYTHONPATH=str(self.daemon_dir))
        return start_daemon(tmp, env=env, **kwargs)  # type: ignore[arg-type]


def baseline_checkout(rev: str, into: Path) -> Contender:
    """The daemon package of `rev`, exported (git archive) to `into`."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "daemon"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    short = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", rev],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    return Contender(f"baseline ({short})", into / "daemon")


def default_baseline() -> str | None:
    """Where this branch left main, when that is not this very commit."""
    try:
        base = subprocess.run(
            ["git", "-C", str(REPO), "merge-base", "HEAD", "main"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True, capture_output=True,
            text=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return base if base != head else None


def in_process_floor(data: bytes, folder: Path, fake: FakeOllama) -> float:
    """The same photo through the pipeline in this process: no watching, no daemon."""
    config = Config(watch=folder, rules=RULES).with_overrides(
        engine="ollama", **{"ollama.host": fake.url}
    )
    engines = EngineSet(config)
    engines.check_ollama()
    pipeline = Pipeline(Setup.from_config(config, load_rules(RULES), engines))
    times = []
    for i in range(9):
        target = folder / f"floor-{i}.jpg"
        target.write_bytes(data)
        started = time.monotonic()
        pipeline.process(target, Options(wait_for_request=False, record=False))
        times.append(time.monotonic() - started)
    engines.close()
    return statistics.median(times)


def latency(
    tmp: Path, fake: FakeOllama, big: bytes, rounds: int, contenders: list[Contender]
) -> dict[str, list[float]]:
    """Renames one at a time, each waiting for its verdict; the daemons take turns."""
    daemons = [
        c.start(tmp / f"latency-{i}", config_body=config_body(fake), rules=RULES)
        for i, c in enumerate(contenders)
    ]
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    try:
        for daemon in daemons:  # untimed: the first photo meets the warm-up's imports
            wait_verdict(drop_photo(daemon.watch, "warm-up.jpg", big, REQUEST))
        for i in range(rounds):
            for contender, daemon in zip(contenders, daemons, strict=True):
                dropped = daemon.watch / f"IMG_{i:04d}.jpg"
                staged = stage_photo(daemon.watch, dropped.name, big, REQUEST)
                started = time.monotonic()  # from the rename: writing 5 MB is the tracker's
                os.rename(staged, dropped)
                samples[contender.name].append(wait_verdict(dropped) - started)
    finally:
        for daemon in daemons:
            daemon.stop()
    return samples


def backlog(
    tmp: Path, fake: FakeOllama, contender: Contender, count: int, checkpoints: tuple[int, ...]
) -> dict[str, float]:
    """`count` photos present before the daemon starts: from its start to the last verdict."""
    watch = tmp / "uploads"
    watch.mkdir(parents=True)
    small = [photo(640, 480, seed) for seed in range(50)]
    names = []
    for i in range(count):
        path = watch / f"B{i:05d}.jpg"
        path.write_bytes(small[i % len(small)])
        names.append(path)
    os.sync()
    started = time.monotonic()
    daemon = contender.start(tmp, config_body=config_body(fake), rules=RULES, watch=watch)
    out: dict[str, float] = {}
    try:
        for i, path in enumerate(names, start=1):
            wait_verdict(path, timeout=900)
            if i in checkpoints:
                out[f"rss_after_{i}"] = rss_kib(daemon.proc.pid) / 1024
            if i == count:
                out["rate"] = count / (time.monotonic() - started)
    finally:
        daemon.stop()
    return out


def burst(tmp: Path, fake: FakeOllama, contender: Contender, count: int) -> float:
    """`count` photos renamed in at once, no request sidecars, the default request wait:
    photos per second from the first rename to the last verdict."""
    daemon = contender.start(tmp, config_body=config_body(fake, None), rules=RULES)
    try:
        small = [photo(640, 480, seed) for seed in range(50)]
        staged = []
        for i in range(count):
            temp = daemon.watch / f".P{i:05d}.jpg.part"
            temp.write_bytes(small[i % len(small)])
            staged.append(temp)
        os.sync()
        started = time.monotonic()
        final = [temp.with_name(temp.name[1:].removesuffix(".part")) for temp in staged]
        for temp, path in zip(staged, final, strict=True):
            os.rename(temp, path)
        for path in final:
            wait_verdict(path, timeout=900)
        return count / (time.monotonic() - started)
    finally:
        daemon.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=default_baseline(), help="a git revision")
    parser.add_argument("--rounds", type=int, default=60, help="12 MP renames per daemon")
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=300)
    args = parser.parse_args(argv if argv is not None else [])
    fake = FakeOllama(answers={"device_visible": "yes"}).start()
    try:
        with tempfile.TemporaryDirectory(prefix="pw-bench-") as name:
            tmp = Path(name)
            contenders = [Contender("this checkout", REPO / "daemon")]
            if args.baseline:
                contenders.append(baseline_checkout(args.baseline, tmp / "baseline"))
            big = photo(4000, 3000, 1, quality=90)  # 5.1 MB, as in issue #17
            floor = in_process_floor(big, tmp, fake)
            samples = latency(tmp, fake, big, args.rounds, contenders)
            checkpoints = (200, 1000, args.backlog)
            drained = {
                c.name: backlog(tmp / f"backlog-{i}", fake, c, args.backlog, checkpoints)
                for i, c in enumerate(contenders)
            }
            bursts = {
                c.name: burst(tmp / f"burst-{i}", fake, c, args.burst)
                for i, c in enumerate(contenders)
            }
    finally:
        fake.stop()
    report(big, floor, samples, drained, bursts, args.backlog, args.burst)


def report(
    big: bytes,
    floor: float,
    samples: dict[str, list[float]],
    drained: dict[str, dict[str, float]],
    bursts: dict[str, float],
    backlog_count: int,
    burst_count: int,
) -> None:
    names = list(samples)
    print("## Intake\n")
    rounds = len(samples[names[0]])
    print(
        f"12 MP JPEG ({len(big) / 1e6:.1f} MB, 4000x3000, camera Exif with GPS), its request "
        f"written first, instant model server, {rounds} renames per daemon, the daemons "
        "taking turns:\n"
    )
    print("| measure | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    print(
        "| in-process pipeline of this checkout, median | "
        + f"{floor * 1000:.0f} ms | " * len(names)
    )
    for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        cells = [f"{percentile(samples[n], q) * 1000:.0f} ms" for n in names]
        print(f"| rename -> verdict, {label} | " + " | ".join(cells) + " |")
    print()
    print(f"Backlog of {backlog_count:,} photos (640x480 JPEG, camera Exif) present at start, "
          f"and {burst_count} renamed in one burst without request sidecars:\n")  # fmt: skip
    print("| measure | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    print(
        "| backlog: photos per second | "
        + " | ".join(f"{drained[n]['rate']:.1f}" for n in names)
        + " |"
    )
    print("| burst: photos per second | " + " | ".join(f"{bursts[n]:.1f}" for n in names) + " |")
    for key in sorted(
        (k for k in drained[names[0]] if k.startswith("rss")),
        key=lambda k: int(k.rsplit("_", 1)[1]),
    ):
        count = int(key.rsplit("_", 1)[1])
        cells = [f"{drained[n][key]:.0f} MiB" for n in names]
        print(f"| resident memory after {count:,} photos | " + " | ".join(cells) + " |")
    last = f"rss_after_{backlog_count}"
    growth = [f"{drained[n][last] / drained[n]['rss_after_200']:.2f}x" for n in names]
    print(f"| memory growth from 200 to {backlog_count:,} | " + " | ".join(growth) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
