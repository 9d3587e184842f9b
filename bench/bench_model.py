"""Model engine: what one photo costs the model, and what preparing it costs the daemon.

A generated 12 MP proof photo (4000x3000, ~5 MB JPEG: a handwritten code on paper with
camera Exif and sensor-like noise, so it compresses like a phone photo) goes through the
real Pipeline against FakeOllama, in-process, with three model rules (control-code and
seal-number: text; device-visible: presence):

- bytes and pixels of the image the model server received, against the original file;
- model calls per photo (the design says 1, whatever the number of rules), and with
  votes = 3 when the answers agree (the third vote is skipped once two agree);
- the time to prepare the copy (`engines.image.prepare`: JPEG draft mode, orientation,
  LANCZOS to max_image_side) and to encode it, against a full decode of the same JPEG.

Medians over rounds; the ratio is against the full decode of the same run.
Run alone with `python bench/bench_model.py`.
"""

from __future__ import annotations

import base64
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "daemon"), str(HERE.parent / "tests")]

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from proofgen.samples import Camera, draw_code, to_jpeg  # noqa: E402

from daemon_process import model_rules  # noqa: E402
from ollama_server import FakeOllama  # noqa: E402
from proofwatch.config import Config, IntakeConfig, OllamaConfig  # noqa: E402
from proofwatch.engines import EngineSet  # noqa: E402
from proofwatch.engines.image import encode_jpeg, prepare  # noqa: E402
from proofwatch.pipeline.process import Pipeline  # noqa: E402
from proofwatch.pipeline.setup import Options, Setup  # noqa: E402
from proofwatch.vocabulary import Request  # noqa: E402

SIZE = (4000, 3000)  # 12 MP
QUALITY = 95
NOISE = 8.0  # sigma, in 8-bit levels: a phone sensor's grain at ISO 400 or so
PHOTOS = 5
ROUNDS = 11
CODE, SEAL = "48213", "20931187"


def phone_photo() -> bytes:
    """A 12 MP proof photo that weighs what a phone's does (~5 MB)."""
    image = draw_code(CODE, seed=1, size=SIZE)
    pixels = np.asarray(image).astype(np.int16)
    grain = np.random.default_rng(1).normal(0.0, NOISE, pixels.shape).astype(np.int16)
    noisy = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    return to_jpeg(noisy, Camera(), quality=QUALITY)


def medians_ms(actions: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each action; rounds interleaved so load drift hits all alike."""
    for action in actions.values():
        action()  # warm up
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def prepare_with_a_square_draft_box(data: bytes, max_side: int) -> Image.Image:
    """`prepare` as it was: a square draft box keeps a 4:3 JPEG at full size."""
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (max_side, max_side))
    upright = ImageOps.exif_transpose(image).convert("RGB")
    upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return upright


def run_pipeline(data: bytes, folder: Path, votes: int) -> tuple[list[int], FakeOllama, int]:
    """Photos through the real Pipeline; model calls per photo, the server, verdict total ms."""
    fake = FakeOllama(answers={"control_code": CODE, "seal_number": SEAL}).start()
    fake.answers["device_visible"] = "yes"
    config = Config(
        watch=folder,
        rules=folder,
        state_dir=folder,
        engine="ollama",
        intake=IntakeConfig(),
        model=OllamaConfig(host=fake.url, votes=votes),
    )
    engines = EngineSet(config)
    pipeline = Pipeline(Setup.from_config(config, model_rules(), engines))
    options = Options(modify=False, wait_for_request=False, record=False)
    request = Request(expect={"code": CODE, "seal": SEAL})
    calls, totals = [], []
    try:
        for number in range(PHOTOS):
            photo = folder / f"IMG_{number:04d}.jpg"
            photo.write_bytes(data)
            before = len(fake.chat_requests())
            verdict = pipeline.process(photo, options, request)
            if verdict.status != "pass":
                raise RuntimeError(f"expected pass, got {verdict.status}: {verdict.reason}")
            calls.append(len(fake.chat_requests()) - before)
            totals.append(verdict.timings_ms.get("total", 0))
    finally:
        engines.close()
        fake.stop()
    return calls, fake, int(statistics.median(totals))


def mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB"


def mp(size: tuple[int, int]) -> str:
    return f"{size[0] * size[1] / 1e6:.2f} MP ({size[0]}x{size[1]})"


def main() -> None:
    print("## Model engine\n")
    data = phone_photo()
    with Image.open(io.BytesIO(data)) as original:
        original_size = original.size

    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        calls, fake, total_ms = run_pipeline(data, Path(tmp), votes=1)
        sent = fake.images()
        chat = fake.chat_requests()[0]
        with tempfile.TemporaryDirectory(prefix="bench-model-votes-") as tmp_votes:
            vote_calls, _, _ = run_pipeline(data, Path(tmp_votes), votes=3)

    image = sent[0]
    sent_bytes = len(base64.b64decode(chat.body["messages"][-1]["images"][0]))
    request_bytes = len(chat.raw)
    pixels_original = original_size[0] * original_size[1]
    pixels_sent = image.size[0] * image.size[1]

    print(f"One {mp(original_size)} JPEG of {mb(len(data))} (quality {QUALITY}, camera Exif),")
    print(f"through the real Pipeline against FakeOllama, {PHOTOS} photos, three model rules.\n")
    print("| per photo | original | sent to the model | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| bytes (JPEG) | {mb(len(data))} | {mb(sent_bytes)} "
        f"| {len(data) / sent_bytes:.1f}x smaller |"
    )
    print(
        f"| pixels | {mp(original_size)} | {mp(image.size)} "
        f"| {pixels_original / pixels_sent:.2f}x fewer |"
    )
    print(f"| HTTP request body (base64 image, prompt, schema) | | {mb(request_bytes)} | |")
    print(
        f"| model calls, 3 model rules | | {min(calls)}-{max(calls)} "
        f"(over {PHOTOS} photos) | must be 1 |"
    )
    print(
        f"| model calls, 3 rules, votes = 3, answers agree | | "
        f"{min(vote_calls)}-{max(vote_calls)} | third vote skipped |"
    )
    print()

    copy = prepare(data, 1600, 100_000_000)
    timed = medians_ms(
        {
            "full": lambda: Image.open(io.BytesIO(data)).convert("RGB"),
            "prepare": lambda: prepare(data, 1600, 100_000_000),
            "square": lambda: prepare_with_a_square_draft_box(data, 1600),
            "encode": lambda: encode_jpeg(copy),
        },
        ROUNDS,
    )
    full = timed["full"]
    rows = [
        ("full decode of the 12 MP JPEG (baseline)", full),
        ("`prepare`: draft decode at 1/2 (2000x1500), upright, bicubic to 1600", timed["prepare"]),
        ("before: square draft box, so a full decode, then Lanczos to 1600", timed["square"]),
        ("`encode_jpeg` of the 1600 px copy (quality 90)", timed["encode"]),
        ("whole Pipeline.process (strip, prepare, phash, 1 call; 5 photos, apart)", total_ms),
    ]
    print(f"Preparing the copy, median of {ROUNDS} interleaved rounds:\n")
    print("| step | median | vs full decode |")
    print("| --- | --- | --- |")
    for label, ms in rows:
        print(f"| {label} | {ms:.0f} ms | {ms / full:.2f} |")


if __name__ == "__main__":
    main()
