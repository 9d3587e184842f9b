"""The copy of a photo the engines see: decoded once, and sent to the model server as the
photo's own bytes when those are the copy already (no re-encode)."""

from __future__ import annotations

import io

from PIL import Image
from proofgen.samples import Camera, to_jpeg

from proofwatch.engines.image import SOURCE_JPEG, as_stored, jpeg_for, open_checked, upright_copy
from proofwatch.metadata import read_metadata
from proofwatch.strip import strip_bytes


def stripped_photo(size: tuple[int, int], orientation: int = 1) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    data = to_jpeg(image, Camera())
    if orientation != 1:  # the Orientation tag is what stripping keeps
        out = io.BytesIO()
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, format="JPEG", exif=exif.tobytes())
        data = out.getvalue()
    return strip_bytes(data, read_metadata(data).orientation).data


def model_copy(data: bytes, max_side: int = 1600) -> tuple[Image.Image, bytes]:
    opened = open_checked(data, 100_000_000)
    stored = opened.size
    image = upright_copy(opened, max_side)
    if as_stored(opened, stored, image):
        image.info[SOURCE_JPEG] = data
    return image, jpeg_for(image, max_side)


def test_an_upright_jpeg_within_the_size_is_sent_as_it_is() -> None:
    data = stripped_photo((640, 480))
    image, sent = model_copy(data)
    assert sent == data
    assert image.size == (640, 480)


def test_a_larger_or_turned_photo_is_sent_as_its_own_copy() -> None:
    large, sent = model_copy(stripped_photo((2000, 1500)))
    assert max(large.size) == 1600
    assert Image.open(io.BytesIO(sent)).size == large.size
    turned, sent = model_copy(stripped_photo((640, 480), orientation=6))
    assert turned.size == (480, 640)
    assert Image.open(io.BytesIO(sent)).size == (480, 640)  # upright, not the stored bytes


def test_a_smaller_vote_is_encoded_from_the_copy() -> None:
    data = stripped_photo((640, 480))
    image, _ = model_copy(data)
    smaller = jpeg_for(image, 512)
    assert smaller != data
    assert max(Image.open(io.BytesIO(smaller)).size) == 512


def test_a_copy_no_ocr_reads_stays_faithful_to_the_bicubic_one() -> None:
    """Shrunk the fast way (bilinear under 1.5x, the area filter beyond), a copy differs
    from Pillow's bicubic one by under two levels on average, and has the same size."""
    import numpy as np

    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    scene = Image.fromarray(base).resize((2000, 1500), Image.Resampling.BICUBIC)
    for side in (1600, 1000):  # 1.25x and 2x to go
        data = io.BytesIO()
        scene.save(data, format="PNG")  # no draft: the whole step is the resize's
        fast = upright_copy(open_checked(data.getvalue(), 100_000_000), side, area=True)
        slow = upright_copy(open_checked(data.getvalue(), 100_000_000), side)
        assert fast.size == slow.size == (side, side * 3 // 4)
        gap = np.abs(np.asarray(fast, np.int16) - np.asarray(slow, np.int16)).mean()
        assert gap < 2.0, (side, gap)
