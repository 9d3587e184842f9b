"""Strip: `proofwatch strip` against `exiftool -all=` and against plain read+write+rename.

A batch of 12 MP, ~5 MB JPEGs with a camera's Exif block (GPS, MakerNote, thumbnail; copied
from the corpus's DSCN0010.jpg when ../shared/corpus is there, else built with Pillow),
fresh copies for every round and every contender, each contender timed on the whole batch:

- plain floor: read, write a temp file, rename; nothing synced (the issue's floor);
- durable floor: the same bytes through the command's own writer (fdatasync before each
  rename, folder synced once): what crash-safety costs, with no stripping;
- command: `proofwatch strip FILE...`, in process, and as a new process (Python's start
  and imports included, as exiftool's figure includes Perl's);
- exiftool: one `exiftool -all= -overwrite_original` process for the whole batch (its best
  case), without and with an fsync of every file afterwards. It is installed from Debian
  when missing and we are root;
- one at a time: `in_place.strip_photo` per photo, as the daemon strips.

strip_bytes and read_metadata are also timed alone, in memory, to show where CPU goes.
The page cache is flushed (os.sync) before each contender so none pays for another's
writes. Medians over rounds; ratios against contenders of the same run.
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
from proofwatch.atomic import Staged, fsync_dir  # noqa: E402
from proofwatch.cli.strip import commit_overlapped  # noqa: E402
from proofwatch.intake.reader import read_photo  # noqa: E402
from proofwatch.metadata import read_metadata  # noqa: E402
from proofwatch.pipeline.in_place import PendingStrip, strip_photo  # noqa: E402
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


def debian_tool(command: str, package: str) -> str | None:
    """A tool the benchmarks compare against, installed from Debian for the benchmark only
    when missing and we are root; None when it cannot be had."""
    found = shutil.which(command)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", package]
        for step in (install, ["apt-get", "update", "-qq"], install):
            try:
                done = subprocess.run(
                    step, env=env, check=False, timeout=600,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except (OSError, subprocess.SubprocessError):
                break
            if step is install and done.returncode == 0:
                break
        found = shutil.which(command)
    return found


def exiftool_path() -> str | None:
    return debian_tool("exiftool", "libimage-exiftool-perl")


def fresh_batch(folder: Path, data: bytes, count: int) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(count)]
    for path in paths:
        path.write_bytes(data)
    return paths


def plain_floor(paths: list[Path]) -> None:
    """The issue's floor: read, write a temp file, rename. Nothing is synced."""
    for path in paths:
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_bytes(path.read_bytes())
        os.replace(tmp, path)


def durable_floor(paths: list[Path]) -> None:
    """The same bytes written back through the command's own writer (safe read, staged
    temp file, fdatasync and rename in a second thread, folder synced once): the least a
    crash-safe in-place rewrite costs, so the difference to the command is the stripping."""

    def stage(path: Path) -> tuple[PendingStrip | None, tuple[bool, str]]:
        data, snapshot, mode = read_photo(path, MAX_SIZE)
        return PendingStrip(path, snapshot, Staged(path, data, mode)), (True, "")

    assert all(done for done, _ in commit_overlapped(paths, stage))


def command(paths: list[Path]) -> None:
    """`proofwatch strip FILE...`, in process, its output discarded."""
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["strip", *map(str, paths)]) == 0


def command_process(paths: list[Path]) -> None:
    """`proofwatch strip FILE...` as a user runs it: a new process, Python's start and the
    imports included, as exiftool's row includes Perl's."""
    # Compiled modules are cached as on any installed system (a CI or sandbox environment
    # may forbid writing them, which would add compiling every module to every start).
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "daemon")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    strip = [sys.executable, "-m", "proofwatch", "strip", *map(str, paths)]
    subprocess.run(strip, check=True, stdout=subprocess.DEVNULL, env=env)


def one_at_a_time(paths: list[Path]) -> None:
    """As the daemon strips: each photo synced and its folder synced before the next."""
    for path in paths:
        strip_photo(path, MAX_SIZE)


def exiftool_batch(exiftool: str, fsync: bool) -> Callable[[list[Path]], None]:
    """One exiftool process for the whole batch (its fastest mode). exiftool does not sync;
    with `fsync`, every file and the folder are synced afterwards: proofwatch's durability."""

    def run(paths: list[Path]) -> None:
        command = [exiftool, "-q", "-q", "-all=", "-overwrite_original", *map(str, paths)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        if fsync:
            for path in paths:
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
            fsync_dir(paths[0].parent)

    return run


def median_ms(run: Callable[[], object], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# (key, label); the order of the table.
CONTENDERS = (
    ("plain", "read, write, rename: the plain floor (no sync)"),
    ("durable", "read, write, sync, rename via the command's writer: the durable floor"),
    ("command", "`proofwatch strip FILE...` (in process)"),
    ("process", "`proofwatch strip FILE...` (a new process, as a user runs it)"),
    ("exiftool", "`exiftool -all= -overwrite_original FILE...` (no sync)"),
    ("exiftool+fsync", "exiftool, then fsync of each file and the folder"),
    ("one-at-a-time", "one photo at a time, as the daemon strips (`strip_photo`)"),
)


@dataclass
class Figures:
    file_mb: float
    count: int
    rounds: int
    exif_source: str
    batch_ms: dict[str, float] = field(default_factory=dict)  # median per batch
    memory_ms: dict[str, float] = field(default_factory=dict)  # in memory, no I/O


def run(count: int = 50, rounds: int = 5) -> Figures:
    data = photo()
    exiftool = exiftool_path()
    contenders: dict[str, Callable[[list[Path]], None]] = {
        "plain": plain_floor,
        "durable": durable_floor,
        "command": command,
        "process": command_process,
        "one-at-a-time": one_at_a_time,
    }
    if exiftool is not None:
        contenders["exiftool"] = exiftool_batch(exiftool, fsync=False)
        contenders["exiftool+fsync"] = exiftool_batch(exiftool, fsync=True)
    batches: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(prefix="bench-strip-") as tmp:
        work = Path(tmp)
        for _ in range(rounds):
            # Interleaved, so drift in the machine's load hits every contender alike; the
            # dirty pages of one contender are flushed before the next starts.
            for name, contender in contenders.items():
                paths = fresh_batch(work / name, data, count)
                os.sync()
                started = time.perf_counter()
                contender(paths)
                batches[name].append(time.perf_counter() - started)
        for name in ("command", "process", "one-at-a-time"):  # what each left behind
            assert not read_metadata((work / name / "IMG_0000.jpg").read_bytes()).had_gps
    figures = Figures(len(data) / 1e6, count, rounds, camera_exif()[1])
    for name, values in batches.items():
        figures.batch_ms[name] = statistics.median(values) * 1000
    figures.memory_ms["strip_bytes"] = median_ms(lambda: strip_bytes(data, 1))
    figures.memory_ms["read_metadata"] = median_ms(lambda: read_metadata(data))
    return figures


def table(f: Figures) -> str:
    lines = [
        "## Strip",
        "",
        f"{f.count} files of {f.file_mb:.1f} MB each (12 MP JPEG, q{QUALITY}, with the "
        f"{f.exif_source}: GPS, MakerNote, thumbnail), fresh copies every round, median of "
        f"{f.rounds} rounds.",
        "",
        "| contender | batch | per file | vs plain floor | vs durable floor | vs exiftool |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def ratio(batch: float, key: str) -> str:
        base = f.batch_ms.get(key)
        return f"{batch / base:.2f}x" if base else "-"

    for key, label in CONTENDERS:
        batch = f.batch_ms.get(key)
        if batch is None:
            lines.append(f"| {label} | not available | | | | |")
            continue
        ratios = " | ".join(ratio(batch, base) for base in ("plain", "durable", "exiftool"))
        lines.append(f"| {label} | {batch:.0f} ms | {batch / f.count:.1f} ms | {ratios} |")
    memory = ", ".join(f"{name} {ms:.1f} ms" for name, ms in f.memory_ms.items())
    lines += ["", f"In memory, per file: {memory}."]
    return "\n".join(lines)


def main() -> None:
    args = [int(a) for a in sys.argv[1:3] if a.isdigit()] if __name__ == "__main__" else []
    print(table(run(*args)))


if __name__ == "__main__":
    main()
