"""`proofwatch strip FILE...`: in place, in order, and honest about what it could not do."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import exifread
import pytest
from proofgen.samples import Camera, proof_jpeg

from proofwatch import cli
from proofwatch.atomic import Staged, is_temp_name
from proofwatch.intake.reader import FileChanged
from proofwatch.pipeline.in_place import stage_strip


def test_strip_command_strips_in_place_and_reports_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [tmp_path / f"IMG_{i}.jpg" for i in range(5)]
    for i, photo in enumerate(photos):
        photo.write_bytes(proof_jpeg(str(10000 + i), seed=i, size=(400, 300), camera=Camera()))
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"not a photo\n")
    files = [*photos[:2], text, *photos[2:]]

    assert cli.main(["strip", *map(str, files)]) == 1  # one file could not be stripped
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(f) for f in files]  # in order
    assert "not stripped: not an image" in lines[2]
    for photo, line in zip(photos, [*lines[:2], *lines[3:]], strict=True):
        assert "exif" in line and "gps" in line and "lossless" in line
        assert not exifread.process_file(io.BytesIO(photo.read_bytes()), details=False)
    assert text.read_bytes() == b"not a photo\n"

    assert cli.main(["strip", str(photos[0])]) == 0  # a second strip has nothing to do
    assert "nothing to remove" in capsys.readouterr().out


def camera_photo(seed: int) -> bytes:
    return proof_jpeg(str(20000 + seed), seed=seed, size=(320, 240), camera=Camera())


def test_a_long_batch_keeps_its_order_leaves_no_temp_file_and_does_each_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [tmp_path / f"IMG_{i:02d}.jpg" for i in range(12)]
    for seed, photo in enumerate(photos):
        photo.write_bytes(camera_photo(seed))
    gone = tmp_path / "gone.jpg"
    files = [*photos[:5], gone, photos[3], *photos[5:]]  # more than are ever in flight

    assert cli.main(["strip", *map(str, files)]) == 1
    lines = capsys.readouterr().out.splitlines()
    expected = [*photos[:5], gone, *photos[5:]]  # the repeated photo is done once
    assert [line.split(":")[0] for line in lines] == [str(f) for f in expected]
    assert "not stripped: the file disappeared" in lines[5]
    assert all("exif" in line for i, line in enumerate(lines) if i != 5)
    assert sorted(tmp_path.iterdir()) == photos  # no temp file left behind
    for photo in photos:
        assert not exifread.process_file(io.BytesIO(photo.read_bytes()), details=False)


def test_a_photo_that_changes_after_staging_is_left_as_it_now_is(tmp_path: Path) -> None:
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(camera_photo(1))
    _meta, _result, pending = stage_strip(photo, 1 << 20)
    assert pending is not None and pending.staged.tmp.is_file()
    newer = camera_photo(2)  # the uploader rewrote it meanwhile
    photo.write_bytes(newer)

    with pytest.raises(FileChanged, match="changed while it was being stripped"):
        pending.commit()
    assert photo.read_bytes() == newer
    assert list(tmp_path.iterdir()) == [photo]


def test_a_staged_write_is_invisible_until_committed(tmp_path: Path) -> None:
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"old")
    staged = Staged(target, b"new", mode=0o640)
    assert target.read_bytes() == b"old" and is_temp_name(staged.tmp.name)
    staged.commit(sync_folder=False)
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert list(tmp_path.iterdir()) == [target]

    Staged(target, b"newer").discard()
    assert target.read_bytes() == b"new" and list(tmp_path.iterdir()) == [target]


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    for command in ("run", "check", "strip", "status", "rules", "config", "backfill"):
        assert f"    {command} " in listed or f"    {command}\n" in listed, command


def test_a_strip_run_loads_neither_the_command_groups_nor_the_heif_plugin(tmp_path: Path) -> None:
    """A one-off `proofwatch strip` starts as fast as it can: what it never needs is not
    imported (in a fresh interpreter, so nothing this test process loaded counts)."""
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(camera_photo(1))
    probe = (
        "import sys; from proofwatch import cli; "
        f"assert cli.main(['strip', {str(photo)!r}]) == 0; "
        "print(sorted(m for m in sys.modules if m.startswith(('pillow_heif', 'proofwatch.'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.splitlines()[-1]
    for absent in ("pillow_heif", "proofwatch.cli.backfill", "proofwatch.cli.rules",
                   "proofwatch.config", "proofwatch.state", "proofwatch.pipeline.process",
                   "proofwatch.engines"):  # fmt: skip
        assert f"'{absent}'" not in loaded, loaded
    assert "'proofwatch.cli.strip'" in loaded  # the probe really ran the strip
    assert not exifread.process_file(io.BytesIO(photo.read_bytes()), details=False)
