"""Where the time goes: each stage of one photo's way from file to verdict, timed alone.

The stages are the pipeline's own functions called one after the other on a fresh copy of
the photo, in this process (no watcher, no queue), with the fake Ollama server of the tests
answering at once. Medians over interleaved rounds; the sum is compared with the whole
pipeline (`Pipeline.process`) measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "daemon")]

from bench_intake import RULES, photo  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from ollama_server import FakeOllama  # noqa: E402
from proofwatch.atomic import Staged, fsync_dir, write_atomic  # noqa: E402
from proofwatch.config import Config  # noqa: E402
from proofwatch.contract.verdict import Verdict, encode  # noqa: E402
from proofwatch.engines import EngineSet  # noqa: E402
from proofwatch.engines.base import Question  # noqa: E402
from proofwatch.engines.image import draft_size, encode_jpeg, open_checked  # noqa: E402
from proofwatch.engines.model import ModelEngine  # noqa: E402
from proofwatch.intake.reader import read_photo  # noqa: E402
from proofwatch.metadata import read_metadata  # noqa: E402
from proofwatch.pipeline.process import Pipeline  # noqa: E402
from proofwatch.pipeline.setup import Options, Setup  # noqa: E402
from proofwatch.quality import perceptual_hash, retake_hints  # noqa: E402
from proofwatch.rules.loader import load_rules  # noqa: E402
from proofwatch.state import StateStore  # noqa: E402
from proofwatch.strip import strip_bytes  # noqa: E402

T = TypeVar("T")
SIDE = 1600  # the copy the engines are given (Settings.image_side by default)
MAX_PIXELS = 100_000_000


def one_round(path: Path, data: bytes, engines: EngineSet, store: StateStore) -> dict[str, float]:
    """Every stage once on a fresh copy of `data` at `path`: milliseconds per stage."""
    path.write_bytes(data)
    os.sync()
    out: dict[str, float] = {}
    clock = time.perf_counter

    def timed(name: str, work: Callable[[], T]) -> T:
        started = clock()
        result = work()
        out[name] = (clock() - started) * 1000
        return result

    raw, _snapshot, mode = timed("read the file", lambda: read_photo(path, 1 << 30))
    meta = timed("read the facts (exifread)", lambda: read_metadata(raw))
    stripped = timed("strip the bytes", lambda: strip_bytes(raw, meta.orientation))
    timed("sha256 of the stripped file", lambda: stripped.sha256)
    staged = timed("write the temp file", lambda: Staged(path, stripped.data, mode=mode))
    timed("fdatasync + rename", lambda: staged.commit(sync_folder=False))
    timed("fsync the folder", lambda: fsync_dir(path.parent))
    opened = open_checked(stripped.data, MAX_PIXELS)

    def decode() -> Image.Image:
        if opened.format == "JPEG":
            opened.draft("RGB", draft_size(opened.size, SIDE))
        opened.load()
        return opened

    decoded = timed(f"decode (JPEG draft for {SIDE} px)", decode)
    upright = timed("exif_transpose + RGB", lambda: ImageOps.exif_transpose(decoded))

    def shrink() -> Image.Image:
        copy = upright  # thumbnail works in place; the decoded image is not reused
        copy.thumbnail((SIDE, SIDE), Image.Resampling.BICUBIC)
        return copy

    image: Image.Image = timed(f"resize to {SIDE} px", shrink)
    timed("retake hints (quality.py)", lambda: retake_hints(image))
    timed("perceptual hash (quality.py)", lambda: perceptual_hash(image))
    jpeg: bytes = timed("encode the model's JPEG", lambda: encode_jpeg(image))
    engine = engines.engine("ollama")
    assert isinstance(engine, ModelEngine)
    wire = engine.wire
    host = engine.pool.hosts[0].url
    question = [Question("device_visible", "presence", "Is a device visible in this photo?")]
    timed("model call over HTTP (instant server)", lambda: wire.chat(host, [jpeg], question))
    verdict = Verdict(photo=path.name, status="pass", reason="ok", reason_code="object_visible")
    target = path.with_name(path.name + ".verdict.json")
    timed(
        "write the verdict (sync, rename, folder sync)",
        lambda: write_atomic(target, encode(verdict)),
    )
    timed("state database row", lambda: store.record(path.name, "0" * 64, None, "pass", "d"))
    return out


def whole(pipeline: Pipeline, path: Path, data: bytes) -> float:
    path.write_bytes(data)
    os.sync()
    started = time.perf_counter()
    pipeline.process(path, Options(wait_for_request=False, record=False))
    return (time.perf_counter() - started) * 1000


def measure(
    data: bytes, folder: Path, fake: FakeOllama, rounds: int
) -> tuple[dict[str, float], float]:
    config = Config(watch=folder, rules=RULES).with_overrides(
        engine="ollama", **{"ollama.host": fake.url}
    )
    engines = EngineSet(config)
    engines.check_ollama()
    pipeline = Pipeline(Setup.from_config(config, load_rules(RULES), engines))
    store = StateStore(folder / "state.sqlite3")
    stages: dict[str, list[float]] = {}
    totals = []
    for i in range(rounds):  # stages and the whole pipeline interleaved
        for name, ms in one_round(folder / f"s{i}.jpg", data, engines, store).items():
            stages.setdefault(name, []).append(ms)
        totals.append(whole(pipeline, folder / f"w{i}.jpg", data))
    engines.close()
    store.close()
    return {k: statistics.median(v) for k, v in stages.items()}, statistics.median(totals)


def main(rounds: int = 15) -> None:
    fake = FakeOllama(answers={"device_visible": "yes"}).start()
    try:
        with tempfile.TemporaryDirectory(
            prefix="pw-stages-", dir=HERE / "out" if (HERE / "out").is_dir() else None
        ) as name:
            tmp = Path(name)
            big, small = photo(4000, 3000, 1), photo(640, 480, 2)
            perceptual_hash(Image.new("L", (32, 32)))  # scipy's first import, not a stage
            measured = {
                "12 MP": measure(big, tmp, fake, rounds),
                "640x480": measure(small, tmp, fake, rounds),
            }
    finally:
        fake.stop()
    print("## Where the time goes\n")
    print(f"Each stage alone, median of {rounds} rounds, milliseconds:\n")
    print("| stage | 12 MP | 640x480 |")
    print("| --- | ---: | ---: |")
    (big_stages, big_total), (small_stages, small_total) = measured["12 MP"], measured["640x480"]
    for stage in big_stages:
        print(f"| {stage} | {big_stages[stage]:.1f} | {small_stages[stage]:.1f} |")
    print(
        f"| sum of the stages | {sum(big_stages.values()):.1f} | {sum(small_stages.values()):.1f} |"
    )
    whole_row = "`Pipeline.process` whole (no verdict file, no state row)"
    print(f"| {whole_row} | {big_total:.1f} | {small_total:.1f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
