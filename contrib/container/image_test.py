"""Run the proofwatch image as a user would, and check what it promises.

    .venv/bin/python contrib/container/image_test.py [--image localhost/proofwatch:latest]

`make image-test` and tests/test_container.py both run this. It starts the container on a
temporary upload folder (read-only root, no capabilities, the config and rules mounted, the
state in a fresh named volume), then renames photos in as a tracker would: a generated proof
photo with GPS added, and a real camera photo with GPS from the shared corpus when there is
one. It reads each verdict, checks on the host with exifread and Pillow that the photo lost
its metadata, that every process in the container runs as the image's user and not root,
that no socket listens (the container's own /proc/net tables), that the root is read-only,
that the HEALTHCHECK passes, and that SIGTERM stops the daemon cleanly (exit 0).

Exit 0: all checks passed; 1: a check failed; 77: cannot run here (the reason on stderr:
podman missing, containers cannot start, no image). Needs the host's exifread and Pillow
(the project's .venv has both).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import exifread
from PIL import ExifTags, Image

ROOT = Path(__file__).resolve().parents[2]
CORPUS_PHOTO = ROOT.parent / "shared" / "corpus" / "camera" / "DSCN0010.jpg"
CODE_PHOTO = ROOT / "rules" / "examples" / "code-48213.jpg"
IMAGE = "localhost/proofwatch:latest"
UID = GID = 10001  # the image's defaults (Containerfile: PROOFWATCH_UID, PROOFWATCH_GID)
TRACKER_UID = 33  # www-data: the tracker owns its uploads; proofwatch has only the group
SKIP = 77

# runc where installed (crun fails on hybrid cgroups) and explicit limits (the host's are
# refused on these machines); contrib/container/build-image.sh builds with the same.
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


class Skip(Exception):
    """This machine cannot run the test; the message says why."""


class Failed(AssertionError):
    pass


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    runtime = shutil.which("runc")
    command = ["podman", *(["--runtime", runtime] if runtime else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise Failed(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr.strip()}")
    return done


def say(text: str) -> None:
    print(text, flush=True)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if "systemd connection" not in line]
    return lines[-1] if lines else "(no output)"


def probe(image: str) -> None:
    """Skip with the exact reason when podman, the image or running a container fails."""
    if shutil.which("podman") is None:
        raise Skip("podman is not installed (make image installs podman and runc with apt-get)")
    if podman("image", "exists", image, check=False).returncode != 0:
        raise Skip(f"no image {image} here: `make image` builds it")
    tried = podman(
        "run", "--rm", "--network", "none", *LIMITS, image, "--version", check=False, timeout=60
    )
    if tried.returncode != 0:
        raise Skip(f"podman cannot run containers here: {last_line(tried.stderr)}")


# -- photos, as a tracker writes them


def gps_photo(source: Path) -> bytes:
    """The example proof photo re-saved with a phone's GPS position and camera tags."""
    with Image.open(source) as image:
        exif = image.getexif()
        exif[ExifTags.Base.Make] = "PhoneMaker"
        exif[ExifTags.Base.Model] = "Phone 12"
        exif[ExifTags.IFD.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.25),
        }
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def tags(data: bytes) -> dict[str, str]:
    return {k: str(v) for k, v in exifread.process_file(io.BytesIO(data), details=False).items()}


def pillow_metadata(data: bytes) -> dict[str, Any]:
    with Image.open(io.BytesIO(data)) as image:
        info = {k: v for k, v in image.info.items() if k not in ("jfif", "jfif_version",
                "jfif_unit", "jfif_density", "dpi", "progressive", "progression")}  # fmt: skip
        exif = dict(image.getexif())
        return {"info": sorted(info), "exif": exif, "gps": dict(image.getexif().get_ifd(0x8825))}


def submit(uploads: Path, name: str, data: bytes, request: dict[str, Any] | None) -> Path:
    """Request first, then the photo under a dotfile name, group-readable, renamed in."""
    photo = uploads / name
    photo.parent.mkdir(parents=True, exist_ok=True)
    share(photo.parent, 0o2770)
    if request is not None:
        sidecar = photo.with_name(photo.name + ".request.json")
        sidecar.write_text(json.dumps(request))
        share(sidecar, 0o640)
    temp = photo.with_name("." + photo.name + ".part")
    temp.write_bytes(data)
    share(temp, 0o640)
    temp.rename(photo)
    return photo


def share(path: Path, mode: int) -> None:
    """Owned by the tracker, group the shared one (as the setgid folder makes it)."""
    if os.geteuid() == 0:
        os.chown(path, TRACKER_UID, GID)
    os.chmod(path, mode if os.geteuid() == 0 else mode | 0o007)


def wait_for(path: Path, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
        time.sleep(0.2)
    raise Failed(f"no verdict {path.name} after {seconds:.0f}s")


# -- the container


@contextmanager
def running(image: str, work: Path) -> Iterator[str]:
    uploads = work / "uploads"
    uploads.mkdir()
    share(uploads, 0o2770)
    if os.geteuid() == 0:
        os.chown(uploads, UID, GID)  # the volume as the image's mount point would start it
    config = work / "config.toml"
    config.write_text(
        "# image-test: the embedded OCR only (no Ollama here)\n"
        'engine = "ocr"\n'
        "[intake]\n"
        'request_wait = "1s"\n'
    )
    config.chmod(0o644)
    name = f"proofwatch-image-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-state"
    podman(
        "run", "--detach", "--name", name, *LIMITS,
        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--network", "none",
        "--volume", f"{volume}:/var/lib/proofwatch",
        "--volume", f"{uploads}:/srv/proofwatch/uploads",
        "--volume", f"{config}:/etc/proofwatch/config.toml:ro",
        "--volume", f"{ROOT / 'rules'}:/etc/proofwatch/rules:ro",
        image,
    )  # fmt: skip
    try:
        yield name
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)
        podman("volume", "rm", "--force", volume, check=False)


def exec_in(name: str, *command: str) -> subprocess.CompletedProcess[str]:
    return podman("exec", name, *command, check=False, timeout=60)


def wait_healthy(name: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "running":
            logs = podman("logs", name, check=False)
            raise Failed(f"container {state}:\n{logs.stdout}{logs.stderr}")
        check = podman("healthcheck", "run", name, check=False, timeout=60)
        last = (check.stdout + check.stderr).strip()
        if check.returncode == 0:
            return exec_in(name, "proofwatch", "status").stdout
        time.sleep(1)
    raise Failed(f"not healthy after {seconds:.0f}s: {last}")


def processes(name: str) -> list[tuple[str, str, str]]:
    """(pid, Uid line, Gid line) of every process but the `podman exec` one itself."""
    script = (
        "import os\n"
        "for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):\n"
        "    if int(pid) == os.getpid(): continue\n"
        "    try: lines = open(f'/proc/{pid}/status').read().splitlines()\n"
        "    except OSError: continue\n"
        "    f = dict(l.split(':', 1) for l in lines if ':' in l)\n"
        "    print(pid, f['Name'].strip(), f['Uid'].split()[0], f['Uid'].split()[1],"
        " f['Gid'].split()[0], f['Groups'].strip() or '-', sep='|')\n"
    )
    out = exec_in(name, "python3", "-c", script).stdout
    return [tuple(line.split("|", 2)) for line in out.splitlines()]  # type: ignore[misc]


def sockets(name: str) -> dict[str, list[str]]:
    """Listening TCP sockets and bound UDP sockets in the container's network namespace."""
    found: dict[str, list[str]] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        text = exec_in(name, "cat", f"/proc/net/{table}").stdout
        rows = [line.split() for line in text.splitlines()[1:] if line.strip()]
        bound = [r[1] for r in rows if table.startswith("udp") or r[3] == "0A"]
        found[table] = bound
    return found


# -- the checks


def run(image: str) -> None:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="proofwatch-image-test-"))
    work.chmod(0o755)
    try:
        with running(image, work) as name:
            say(f"== started {name} from {image}")
            status = wait_healthy(name, 120)
            say(f"== healthy after {time.monotonic() - started:.1f}s; proofwatch status:")
            say(status.rstrip())
            uploads = work / "uploads"

            photos: list[tuple[str, bytes, dict[str, Any] | None, str | None]] = [
                (
                    "controls/IMG_1001.jpg",
                    gps_photo(CODE_PHOTO),
                    {
                        "id": "image-test-1",
                        "expect": {"code": "48213"},
                        "issued_at": "2026-11-22T10:00:00+01:00",  # the photo: 10:41
                    },
                    "pass",
                ),
            ]
            if CORPUS_PHOTO.is_file():
                photos.append(("photos/DSCN0010.jpg", CORPUS_PHOTO.read_bytes(), None, None))
            else:
                say(f"(no {CORPUS_PHOTO}: only the generated photo)")
            for rel, data, request, expected in photos:
                before = tags(data)
                gps_before = sorted(k for k in before if k.startswith("GPS"))
                say(f"== {rel}: {len(before)} exifread tags before, GPS: {gps_before}")
                if not gps_before:
                    raise Failed(f"{rel}: the test photo has no GPS to begin with")
                photo = submit(uploads, rel, data, request)
                t0 = time.monotonic()
                verdict = wait_for(photo.with_name(photo.name + ".verdict.json"), 60)
                say(f"   verdict after {time.monotonic() - t0:.1f}s: {verdict['status']}: "
                    f"{verdict.get('reason')}")  # fmt: skip
                for rule in verdict.get("rules", []):
                    observed, engine = rule.get("observed"), rule.get("engine")
                    say(f"     {rule.get('rule')}: {rule.get('status')} {observed=} {engine=}")
                say(f"     metadata: {json.dumps(verdict.get('metadata'))}")
                after_bytes = photo.read_bytes()
                after = tags(after_bytes)
                pil = pillow_metadata(after_bytes)
                say(f"   after: {len(after)} exifread tags {sorted(after)}; Pillow: {pil}")
                st = photo.stat()
                say(f"   the stripped file: uid {st.st_uid} gid {st.st_gid} "
                    f"mode {st.st_mode & 0o7777:o}")  # fmt: skip
                if any(k.startswith("GPS") for k in after) or pil["gps"]:
                    raise Failed(f"{rel}: GPS still in the photo: {after}")
                if set(after) - {"Image Orientation"} or set(pil["exif"]) - {0x0112}:
                    raise Failed(f"{rel}: metadata left: {after} {pil}")
                if not verdict.get("metadata", {}).get("had_gps"):
                    raise Failed(f"{rel}: the verdict does not say the photo had GPS")
                if expected is not None and verdict["status"] != expected:
                    raise Failed(f"{rel}: verdict {verdict['status']}, expected {expected}")

            procs = processes(name)
            say("== processes (pid|name|uid|euid|gid|groups):")
            for proc in procs:
                say("   " + "|".join(proc))
            for proc in procs:
                fields = "|".join(proc).split("|")
                if fields[2] == "0" or fields[3] == "0" or fields[2] != str(UID):
                    raise Failed(f"a process runs as uid {fields[2]}: {proc}")
            listening = sockets(name)
            say(f"== listening/bound sockets in the container's netns: {listening}")
            if any(listening.values()):
                raise Failed(f"something listens: {listening}")
            wrote = exec_in(name, "python3", "-c", "open('/opt/proofwatch/x', 'w')")
            say(f"== write to the root file system: {last_line(wrote.stderr)}")
            if wrote.returncode == 0 or "Read-only file system" not in wrote.stderr:
                raise Failed("the root file system is writable")
            logs = podman("logs", name).stderr
            say("== the daemon's log (stderr), last lines:")
            for line in logs.strip().splitlines()[-6:]:
                say("   " + line)
            t0 = time.monotonic()
            podman("stop", "--time", "30", name)
            code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
            say(f"== SIGTERM: stopped in {time.monotonic() - t0:.1f}s, exit code {code}")
            if code != "0":
                raise Failed(f"the daemon exited {code} on SIGTERM")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"== image-test passed in {time.monotonic() - started:.1f}s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--image", default=os.environ.get("IMAGE", IMAGE))
    args = parser.parse_args(argv)
    try:
        probe(args.image)
        run(args.image)
    except Skip as why:
        print(f"SKIP: {why}", file=sys.stderr)
        return SKIP
    except Failed as why:
        print(f"FAILED: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
