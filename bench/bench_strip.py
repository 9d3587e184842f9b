"""Strip: `proofwatch strip` against `exiftool -all=` and against plain read+write+rename.

A batch of 12 MP, ~5 MB JPEGs with a camera's Exif block (GPS, MakerNote, thumbnail; copied
from the corpus's DSCN0010.jpg when ../shared/corpus is there, else built with Pillow),
fresh copies for every round and every contender:

- floor: read the bytes, write them back through `write_atomic` (temp file, fsync, rename);
- strip: read, strip_bytes, write_atomic: the stripping itself, nothing else;
- proofwatch: what `proofwatch strip` does per file (`pipeline.strip_photo`: the intake's
  safe read, read_metadata, strip_bytes, write_atomic); strip_bytes and read_metadata are
  also timed alone, in memory, to show where the time goes;
- exiftool: one `exiftool -all= -overwrite_original` process for the whole batch (its
  batch mode, its best case). It is installed from Debian when missing and we are root.

Medians over rounds; ratios are against the floor and exiftool of the same run.
Run alone with `python bench/bench_strip.py [files-per-batch] [rounds]`.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "daemon")]

from PIL import Image  # noqa: E402

from proofwatch import cli  # noqa: E402
from proofwatch.atomic import fsync_dir, write_atomic  # noqa: E402
from proofwatch.metadata import read_metadata  # noqa: E402
from proofwatch.strip import strip_bytes  # noqa: E402

CORPUS_PHOTO = HERE.parent.parent / "shared" / "corpus" / "camera" / "DSCN0010.jpg"
SIZE = (4000, 3000)  # 12 MP
QUALITY = 92
MAX_SIZE = 64 << 20


def camera_exif() -> tuple[bytes, str]:
    """An APP1 Exif segment as a camera writes it, and where it came from."""
    if CORPUS_PHOTO.is_file():
        data = CORPUS_PHOTO.read_bytes()
        pos = 2
        while data[pos + 1] != 0xDA:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            if data[pos + 1] == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
                return data[pos : pos + 2 + length], "Exif of corpus camera/DSCN0010.jpg"
            pos += 2 + length
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "NIKON", "COOLPIX P6000", 1
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (43.0, 28.0, 2.814), 3: "E", 4: (11.0, 53.0, 6.45599999)})
    exif.get_ifd(0x8769)[0x927C] = bytes(random.Random(1).randbytes(30000))  # a MakerNote
    raw = exif.tobytes()  # Pillow adds the Exif header itself
    return b"\xff\xe1" + struct.pack(">H", len(raw) + 2) + raw, "Exif built with Pillow"


def photo() -> bytes:
    """A 12 MP JPEG of about 5 MB: gradients under fine noise, like a phone photo of paper."""
    noise = Image.frombytes("L", SIZE, random.Random(7).randbytes(SIZE[0] * SIZE[1]))
    ramp = Image.linear_gradient("L").resize(SIZE)
    channels = [Image.blend(ramp, noise, share) for share in (0.18, 0.14, 0.22)]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, format="JPEG", quality=QUALITY)
    plain = out.getvalue()
    app1, _ = camera_exif()
    return plain[:2] + app1 + plain[2:]


def exiftool_path() -> str | None:
    """exiftool, installed from Debian for the benchmark only when missing and we are root."""
    found = shutil.which("exiftool")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "libimage-exiftool-perl"]
        for command in (install, ["apt-get", "update", "-qq"], install):
            try:
                done = subprocess.run(
                    command, env=env, check=False, timeout=600,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except (OSError, subprocess.SubprocessError):
                break
            if command is install and done.returncode == 0:
                break
        found = shutil.which("exiftool")
    return found


def fresh_batch(folder: Path, data: bytes, count: int) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(count)]
    for path in paths:
        path.write_bytes(data)
    return paths


def floor(path: Path) -> None:
    write_atomic(path, path.read_bytes())


def strip_only(path: Path) -> None:
    """The stripping itself: read, strip_bytes, write_atomic (the photo is upright)."""
    write_atomic(path, strip_bytes(path.read_bytes(), 1).data)


def proofwatch_strip() -> Callable[[Path], None]:
    """What `proofwatch strip FILE` runs per file: pipeline.strip_photo (safe read,
    read_metadata, strip_bytes, write_atomic), or its equivalent if the pipeline is absent."""
    try:
        from proofwatch.pipeline import strip_photo
    except ImportError:

        def equivalent(path: Path) -> None:
            data = path.read_bytes()
            write_atomic(path, strip_bytes(data, read_metadata(data).orientation).data)

        return equivalent

    def via_pipeline(path: Path) -> None:
        strip_photo(path, MAX_SIZE)

    return via_pipeline


def median_ms(run: Callable[[], object], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@dataclass
class Figures:
    file_mb: float
    count: int
    rounds: int
    exif_source: str
    batch_ms: dict[str, float] = field(default_factory=dict)  # median per batch
    file_ms: dict[str, float] = field(default_factory=dict)  # median per single file
    memory_ms: dict[str, float] = field(default_factory=dict)  # in memory, no I/O


def run(count: int = 20, rounds: int = 7) -> Figures:
    data = photo()
    exiftool = exiftool_path()
    per_file: dict[str, Callable[[Path], None]] = {
        "floor": floor,
        "strip": strip_only,
        "proofwatch": proofwatch_strip(),
    }
    batches: dict[str, list[float]] = {
        name: [] for name in [*per_file, "command", "exiftool", "exiftool+fsync"]
    }
    singles: dict[str, list[float]] = {name: [] for name in per_file}
    with tempfile.TemporaryDirectory(prefix="bench-strip-") as tmp:
        work = Path(tmp)
        for _ in range(rounds):
            # Interleaved, so drift in the machine's load hits every contender alike.
            for name, one in per_file.items():
                paths = fresh_batch(work / name, data, count)
                started = time.perf_counter()
                for path in paths:
                    t0 = time.perf_counter()
                    one(path)
                    singles[name].append(time.perf_counter() - t0)
                batches[name].append(time.perf_counter() - started)
            paths = fresh_batch(work / "command", data, count)
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(["strip", *map(str, paths)]) == 0
            batches["command"].append(time.perf_counter() - started)
            if exiftool is not None:
                paths = fresh_batch(work / "exiftool", data, count)
                command = [exiftool, "-q", "-q", "-all=", "-overwrite_original", *map(str, paths)]
                started = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
                batches["exiftool"].append(time.perf_counter() - started)
                # exiftool does not fsync; proofwatch does (a crash never leaves a photo
                # half-written). The same durability, added after the fact:
                for path in paths:
                    with open(path, "rb") as fh:
                        os.fsync(fh.fileno())
                fsync_dir(paths[0].parent)
                batches["exiftool+fsync"].append(time.perf_counter() - started)
        for name in per_file:  # what each left behind
            if name != "floor":
                assert not read_metadata((work / name / "IMG_0000.jpg").read_bytes()).had_gps
    figures = Figures(len(data) / 1e6, count, rounds, camera_exif()[1])
    for name, values in batches.items():
        if values:
            figures.batch_ms[name] = statistics.median(values) * 1000
    for name, values in singles.items():
        figures.file_ms[name] = statistics.median(values) * 1000
    figures.memory_ms["strip_bytes"] = median_ms(lambda: strip_bytes(data, 1))
    figures.memory_ms["read_metadata"] = median_ms(lambda: read_metadata(data))
    return figures


def table(f: Figures) -> str:
    floor_ms = f.batch_ms["floor"]
    rows = [
        ("read + write_atomic (the floor)", "floor"),
        ("read + strip_bytes + write_atomic", "strip"),
        ("one file at a time: + safe read, read_metadata (`strip_photo`)", "proofwatch"),
        ("`proofwatch strip FILE...` (the command itself, in process)", "command"),
        ("exiftool -all= -overwrite_original, one process (no fsync)", "exiftool"),
        ("exiftool, then fsync of every file and the folder (same durability)", "exiftool+fsync"),
    ]
    lines = [
        "## Strip",
        "",
        f"{f.count} files of {f.file_mb:.1f} MB each (12 MP JPEG, q{QUALITY}, with the "
        f"{f.exif_source}: GPS, MakerNote, thumbnail), fresh copies every round, median of "
        f"{f.rounds} rounds. Per file: median single-file time (exiftool: batch / {f.count}).",
        "",
        "| contender | batch | per file | vs floor | vs exiftool |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    exiftool_ms = f.batch_ms.get("exiftool")
    for label, key in rows:
        batch = f.batch_ms.get(key)
        if batch is None:
            lines.append(f"| {label} | not available | | | |")
            continue
        each = f.file_ms.get(key, batch / f.count)
        versus = f"{batch / exiftool_ms:.2f}x" if exiftool_ms else "-"
        lines.append(
            f"| {label} | {batch:.0f} ms | {each:.1f} ms | {batch / floor_ms:.2f}x | {versus} |"
        )
    memory = ", ".join(f"{name} {ms:.1f} ms" for name, ms in f.memory_ms.items())
    lines += ["", f"In memory, per file: {memory}."]
    return "\n".join(lines)


def main() -> None:
    args = [int(a) for a in sys.argv[1:3] if a.isdigit()] if __name__ == "__main__" else []
    print(table(run(*args)))


if __name__ == "__main__":
    main()
