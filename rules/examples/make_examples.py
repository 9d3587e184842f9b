"""Make the example photos the shipped rules list for `proofwatch rules test`.

    python rules/examples/make_examples.py [OUT_DIR]    (default: this folder)

The photos are generated (no photo of a person is needed) and deterministic for a given
Pillow and proofwatch version. They are committed small (800x600, about 30 KB each) so that
`proofwatch rules test` works on a fresh checkout; run this to remake them.
"""

from __future__ import annotations

import io
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from proofgen.samples import Camera, blank_paper, draw_code, to_jpeg

SIZE = (800, 600)
QUALITY = 70
TAKEN_AT = datetime(2026, 11, 22, 10, 41, 7, tzinfo=timezone(timedelta(hours=1)))
CAMERA = Camera(make="ProofCam", model="PC-1", taken_at=TAKEN_AT, gps=None)
CODE = "48213"
SEAL = "4471902"


def seal_photo(number: str, seed: int = 3) -> Image.Image:
    """A numbered plastic seal (a strap and a flag with the number printed) on a table."""
    rng = random.Random(seed)
    width, height = SIZE
    wood = (122, 96, 70)
    image = Image.new("RGB", SIZE, wood)
    draw = ImageDraw.Draw(image)
    for _ in range(14):  # grain
        y = rng.randint(0, height)
        shade = tuple(c + rng.randint(-25, 25) for c in wood)
        draw.line((0, y, width, y + rng.randint(-40, 40)), fill=shade, width=rng.randint(3, 12))
    seal = Image.new("RGBA", (520, 200), (0, 0, 0, 0))
    s = ImageDraw.Draw(seal)
    red = (200, 30, 35, 255)
    s.rounded_rectangle((0, 70, 520, 110), radius=18, fill=red)  # the strap
    s.rounded_rectangle((120, 10, 470, 190), radius=22, fill=red)  # the flag
    s.rounded_rectangle((140, 60, 450, 140), radius=8, fill=(245, 240, 230, 255))
    font = ImageFont.load_default(size=58)
    s.text((295, 100), number, fill=(15, 15, 20, 255), font=font, anchor="mm")
    seal = seal.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, expand=True)
    image.paste(seal, ((width - seal.width) // 2, (height - seal.height) // 2), seal)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def examples() -> dict[str, bytes]:
    """File name -> JPEG bytes of every example photo."""
    code = draw_code(CODE, seed=1, size=SIZE)
    return {
        # The control code, taken by a camera at TAKEN_AT.
        f"code-{CODE}.jpg": to_jpeg(code, CAMERA, quality=QUALITY),
        # The same picture with no camera data at all: a screenshot, or a re-saved copy.
        "screenshot.jpg": to_jpeg(code, None, quality=QUALITY),
        # Nothing written on the paper.
        "blank.jpg": to_jpeg(blank_paper(seed=2, size=SIZE), CAMERA, quality=QUALITY),
        # A numbered plastic seal.
        f"seal-{SEAL}.jpg": to_jpeg(seal_photo(SEAL), CAMERA, quality=QUALITY),
    }


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, data in examples().items():
        (out / name).write_bytes(data)
        with Image.open(io.BytesIO(data)) as image:
            print(f"{out / name}: {image.width}x{image.height}, {len(data) // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
