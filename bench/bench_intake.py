"""Intake overhead: rename -> verdict with an instantly answering model server, the rate at
which a backlog drains, and the daemon's resident memory as photos accumulate.

The model is the fake Ollama server from the tests (it answers at once), so what is
measured is proofwatch itself: watching, reading, stripping, decoding, hashing, writing.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "daemon")]

from PIL import Image  # noqa: E402
from proofgen.samples import Camera, to_jpeg  # noqa: E402

from daemon_process import RunningDaemon, drop_photo, start_daemon  # noqa: E402
from ollama_server import FakeOllama  # noqa: E402
from proofwatch.config import Config  # noqa: E402
from proofwatch.engines import EngineSet  # noqa: E402
from proofwatch.pipeline.process import Pipeline  # noqa: E402
from proofwatch.pipeline.setup import Options, Setup  # noqa: E402
from proofwatch.rules.loader import load_rules  # noqa: E402

RULES = HERE.parent / "tests" / "rules_presence"


def photo(width: int, height: int, seed: int) -> bytes:
    """A camera-like JPEG: smooth gradients plus sensor-like noise, with Exif and GPS."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    image.putpixel((seed % width, 0), (rng.randrange(256), 0, 0))
    return to_jpeg(image, Camera(), quality=95)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def config_body(fake: FakeOllama) -> str:
    return (
        f'engine = "ollama"\n[ollama]\nhost = "{fake.url}"\n'
        '[intake]\nrequest_wait = "0s"\nrescan_interval = "1h"\n'
    )


def wait_verdict(path: Path, timeout: float = 120) -> float:
    target = path.with_name(path.name + ".verdict.json")
    deadline = time.monotonic() + timeout
    while not target.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path.name)
        time.sleep(0.002)
    return time.monotonic()


def in_process_floor(data: bytes, folder: Path, fake: FakeOllama) -> float:
    """The same photo through the pipeline in this process: no watching, no daemon."""
    config = Config(watch=folder, rules=RULES).with_overrides(
        engine="ollama", **{"ollama.host": fake.url}
    )
    engines = EngineSet(config)
    engines.check_ollama()
    pipeline = Pipeline(Setup.from_config(config, load_rules(RULES), engines))
    times = []
    for i in range(7):
        target = folder / f"floor-{i}.jpg"
        target.write_bytes(data)
        started = time.monotonic()
        pipeline.process(target, Options(wait_for_request=False, record=False))
        times.append(time.monotonic() - started)
    engines.close()
    return statistics.median(times)


def latency(tmp: Path, fake: FakeOllama, big: bytes, rounds: int) -> list[float]:
    daemon = start_daemon(tmp / "latency", config_body=config_body(fake), rules=RULES)
    try:
        samples = []
        for i in range(rounds):
            started = time.monotonic()
            dropped = drop_photo(daemon.watch, f"IMG_{i:04d}.jpg", big)
            samples.append(wait_verdict(dropped) - started)
        return samples
    finally:
        daemon.stop()


def backlog(
    tmp: Path, fake: FakeOllama, count: int, checkpoints: tuple[int, ...]
) -> dict[str, float]:
    watch = tmp / "backlog" / "uploads"
    watch.mkdir(parents=True)
    small = [photo(640, 480, seed) for seed in range(50)]
    names = []
    for i in range(count):
        path = watch / f"B{i:05d}.jpg"
        path.write_bytes(small[i % len(small)])
        names.append(path)
    started = time.monotonic()
    daemon: RunningDaemon = start_daemon(
        tmp / "backlog", config_body=config_body(fake), rules=RULES, watch=watch
    )
    out: dict[str, float] = {}
    try:
        for i, path in enumerate(names, start=1):
            wait_verdict(path, timeout=600)
            if i in checkpoints:
                out[f"rss_after_{i}"] = rss_kib(daemon.proc.pid) / 1024
            if i == count:
                out["rate"] = count / (time.monotonic() - started)
    finally:
        daemon.stop()
    return out


def main() -> None:
    fake = FakeOllama(answers={"device_visible": "yes"}).start()
    try:
        with tempfile.TemporaryDirectory(prefix="pw-bench-") as name:
            tmp = Path(name)
            big = photo(4000, 3000, 1)
            floor = in_process_floor(big, tmp, fake)
            samples = latency(tmp, fake, big, rounds=25)
            drained = backlog(tmp, fake, 2000, checkpoints=(200, 1000, 2000))
    finally:
        fake.stop()
    p50, p99 = statistics.median(samples), percentile(samples, 0.99)
    print("## Intake\n")
    size = f"{len(big) / 1e6:.1f} MB"
    print(f"12 MP JPEG ({size}, 4000x3000), instant model server, {len(samples)} renames:\n")
    print("| measure | value | vs. in-process pipeline (same photo) |")
    print("| --- | --- | --- |")
    print(f"| in-process pipeline (baseline), median | {floor * 1000:.0f} ms | 1.00x |")
    print(f"| rename -> verdict, p50 | {p50 * 1000:.0f} ms | {p50 / floor:.2f}x |")
    print(f"| rename -> verdict, p99 | {p99 * 1000:.0f} ms | {p99 / floor:.2f}x |")
    print()
    print("Backlog of 2,000 photos (640x480 JPEG) present at start, drained by one worker:\n")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| photos per second | {drained['rate']:.1f} |")
    for key in ("rss_after_200", "rss_after_1000", "rss_after_2000"):
        print(f"| resident memory after {key.rsplit('_', 1)[1]} photos | {drained[key]:.0f} MiB |")
    growth = drained["rss_after_2000"] / drained["rss_after_200"]
    print(f"| growth from 200 to 2,000 | {growth:.2f}x |")


if __name__ == "__main__":
    main()
