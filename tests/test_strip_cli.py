"""`proofwatch strip FILE...`: in place, in order, and honest about what it could not do."""

from __future__ import annotations

import io
from pathlib import Path

import exifread
import pytest

from proofwatch import cli
from proofwatch.samples import Camera, proof_jpeg


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
