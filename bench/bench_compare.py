"""What each tool leaves behind: `proofwatch strip` against `exiftool -all=` and `mat2`, on
every photo of ../shared/corpus (camera, formats, orientation), each on a fresh copy.

Per tool and photo:
- metadata left: the tags exiftool can still read afterwards, less the file's structure
  (the File, System, Composite and ExifTool groups; JFIF, ICC, Adobe, PNG, RIFF, QuickTime
  and JPEG groups describe how to show the pixels, not who took them, where or when);
  Orientation is counted apart, as "upright";
- same pixels: the first frame decodes (Pillow) to exactly the original's pixels;
- upright: the photo is displayed the same way up as before (Exif orientation applied);
- refused: the tool said it could not strip the photo (its exit status).

exiftool (libimage-exiftool-perl) and mat2 are installed from Debian when missing and we
are root. Run alone with `python bench/bench_compare.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests"), str(HERE.parent / "daemon")]

from bench_strip import debian_tool  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from corpus import CORPUS, corpus_files, corpus_id  # noqa: E402

STRUCTURE = {"System", "File", "Composite", "ExifTool", "JFIF", "Adobe", "PNG", "RIFF",
             "QuickTime", "JPEG", "Meta"}  # fmt: skip
ORIENTATION = "Orientation"


def metadata_left(exiftool: str, path: Path) -> list[str]:
    """Group:Tag of every tag exiftool still reads that is not the file's structure."""
    done = subprocess.run(
        [exiftool, "-j", "-a", "-G1", "-s", str(path)], capture_output=True, text=True
    )
    try:
        record = json.loads(done.stdout)[0]
    except (ValueError, IndexError):
        return []
    left = []
    for key in record:
        group, _, tag = key.partition(":")
        if tag and group not in STRUCTURE and not group.startswith("ICC"):
            left.append(key)
    return left


def pixels(path: Path) -> tuple[str, str]:
    """Digests of the first frame's pixels as stored, and as displayed (upright)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(path)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Exception as exc:
        return (f"unreadable: {type(exc).__name__}",) * 2

    def digest(im: Image.Image) -> str:
        return f"{im.size} " + hashlib.sha256(im.tobytes()).hexdigest()

    return digest(image), digest(upright)


@dataclass
class Tally:
    photos: int = 0
    refused: list[str] = field(default_factory=list)
    tags_left: dict[str, list[str]] = field(default_factory=dict)  # photo -> tags
    same_pixels: int = 0
    upright: int = 0


def version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True).stdout.strip()


def run() -> tuple[dict[str, Tally], str]:
    exiftool = debian_tool("exiftool", "libimage-exiftool-perl")
    photos = corpus_files("camera", "formats", "orientation")
    if exiftool is None or not photos:
        return {}, "it needs ../shared/corpus, and exiftool to read what is left"
    contenders = {
        "proofwatch strip": [sys.executable, "-m", "proofwatch", "strip"],
        "exiftool -all=": [exiftool, "-q", "-q", "-all=", "-overwrite_original"],
    }
    versions = f"exiftool {version([exiftool, '-ver'])}"
    if mat2 := debian_tool("mat2", "mat2"):
        contenders["mat2 --inplace"] = [mat2, "--inplace"]
        versions += f", {version([mat2, '--version'])}"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "daemon")}
    before = {original: pixels(original) for original in photos}  # decoded once, not per tool
    tallies: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        for name, command in contenders.items():
            tally = tallies[name] = Tally()
            for original in photos:
                copy = Path(tmp) / original.name
                shutil.copyfile(original, copy)
                done = subprocess.run([*command, str(copy)], env=env, capture_output=True)
                key = corpus_id(original)
                tally.photos += 1
                if done.returncode != 0:
                    tally.refused.append(key)
                left = [tag for tag in metadata_left(exiftool, copy) if ORIENTATION not in tag]
                if left:
                    tally.tags_left[key] = left
                (stored, shown), (stored_before, shown_before) = pixels(copy), before[original]
                tally.same_pixels += stored == stored_before
                tally.upright += shown == shown_before
                copy.unlink()
    return tallies, versions


def table(tallies: dict[str, Tally], versions: str) -> str:
    lines = ["## What is left", ""]
    if not tallies:
        return "\n".join([*lines, f"not run: {versions}"])
    count = next(iter(tallies.values())).photos
    lines += [
        f"Every photo of {CORPUS.name}/camera, formats and orientation ({count} files), "
        f"stripped by each tool on a fresh copy ({versions}).",
        "",
        "| tool | refused (left as they were) | stripped, yet metadata left | tags left "
        "| same pixels | upright |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, t in tallies.items():
        leaky = {key: tags for key, tags in t.tags_left.items() if key not in t.refused}
        total = sum(len(tags) for tags in leaky.values())
        lines.append(
            f"| {name} | {len(t.refused)} | {len(leaky)} | {total} | "
            f"{t.same_pixels}/{t.photos} | {t.upright}/{t.photos} |"
        )
    lines.append("")
    for name, t in tallies.items():
        for key, tags in t.tags_left.items():
            why = " (refused, so left as it was)" if key in t.refused else ""
            shown = ", ".join(tags[:3]) + (f" and {len(tags) - 3} more" if len(tags) > 3 else "")
            lines.append(f"- {name}, {key}{why}: {len(tags)} tags left: {shown}")
    return "\n".join(lines)


def main() -> None:
    print(table(*run()))


if __name__ == "__main__":
    main()
