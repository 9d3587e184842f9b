"""Phone photos of a code handwritten on paper, composed from real MNIST digits.

Each digit of the code is a real handwritten digit (`proofgen.mnist`) from the split asked
for, inked as a pen would (colour, width, pressure), sized, spaced, slanted and jittered as
a hand writes, on paper (white, cream, sticky-note yellow; sometimes ruled or squared,
sometimes with printed text and numbers) lying on a surface with clutter, photographed in
perspective at any rotation under uneven light, then blurred, noised and stored as a
phone's JPEG (`proofgen.camera`). A photo is a pure function of (code, seed, split).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from proofgen import camera, mnist
from proofgen.camera import Array, Rng, Shot

# Pens: (name, ink RGB 0..1, stroke threshold range: higher is thinner, opacity range).
PENS = (
    ("blue ballpoint", (0.1, 0.16, 0.55), (0.45, 0.7), (0.75, 0.95)),
    ("black ballpoint", (0.1, 0.1, 0.12), (0.45, 0.7), (0.75, 0.95)),
    ("black felt-tip", (0.06, 0.06, 0.08), (0.2, 0.4), (0.9, 1.0)),
    ("blue gel", (0.08, 0.12, 0.65), (0.3, 0.55), (0.85, 1.0)),
    ("red ballpoint", (0.65, 0.1, 0.12), (0.45, 0.65), (0.8, 0.95)),
    ("pencil", (0.3, 0.3, 0.32), (0.45, 0.65), (0.55, 0.75)),
    ("green felt-tip", (0.05, 0.4, 0.2), (0.2, 0.4), (0.85, 1.0)),
)
_PEN_WEIGHTS = np.array([0.28, 0.24, 0.16, 0.12, 0.07, 0.08, 0.05])
PAPERS = (
    ("white", (0.95, 0.95, 0.94)),
    ("cream", (0.95, 0.92, 0.83)),
    ("recycled", (0.88, 0.87, 0.83)),
    ("sticky note", (0.98, 0.92, 0.5)),
)
_WORDS = (
    "Notes", "Meeting", "Room", "Tel.", "Order", "Invoice", "Total", "Page", "Date",
    "Shopping", "milk", "bread", "call", "Mon", "Tue", "ref", "No.", "Item", "qty",
)  # fmt: skip


@dataclass(frozen=True)
class PhotoInfo:
    """How a photo was made, for a person reading the harness's misses."""

    shot: Shot
    pen: str
    paper: str
    lines: str  # plain | ruled | squared
    printed: bool  # other printed text and numbers on the paper
    rotation: float  # degrees the paper lies turned in the upright view
    digit_height: int  # px of a digit in the photo as stored (full size)
    # The MNIST row of each digit written: the few digits a person would misread too recur
    # in a split's misses (a row is drawn into about two of 400 codes).
    rows: tuple[int, ...] = ()


def _ink_digit(
    rng: Rng, image: npt.NDArray[np.uint8], height: float, threshold: float, ballpoint: bool
) -> Array:
    """One MNIST digit as an ink alpha mask `height` px high, cropped to its strokes."""
    mask = image.astype(np.float32) / 255
    ys, xs = np.nonzero(mask > 0.1)
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = height / mask.shape[0]
    size = (max(2, round(mask.shape[1] * scale)), max(2, round(height)))
    big = cv2.resize(np.pad(mask, 1), (size[0] + 2, size[1] + 2), interpolation=cv2.INTER_CUBIC)
    # MNIST strokes are ~12 % of the height; a threshold higher on the soft mask thins them
    # to a ballpoint's line, a lower one keeps a felt-tip's.
    edge = 0.08
    alpha = np.clip((big - threshold + edge) / (2 * edge), 0, 1)
    if ballpoint:
        # Pressure varies along the stroke; a ballpoint also skips a little.
        pressure = 0.8 + 0.2 * camera.smooth_noise(rng, alpha.shape, 4)
        skips = 1 - 0.25 * np.clip(camera.smooth_noise(rng, alpha.shape, 30), 0, 1)
        alpha = alpha * pressure * skips
    return np.asarray(np.clip(alpha, 0, 1), dtype=np.float32)


@dataclass(frozen=True)
class Writing:
    """A code written by hand: its ink alpha, and the MNIST row of each digit."""

    ink: Array
    rows: tuple[int, ...]


def write_code(
    rng: Rng,
    code: str,
    split: mnist.Source,
    glyph: float,
    threshold: float,
    ballpoint: bool,
    gaps: tuple[float, float] = (0.1, 0.45),
) -> Writing:
    """The code's ink alpha, tight around the writing, digits from `split` only, and the
    MNIST row of each digit.

    `gaps`: the range of the writer's mean gap between digits, in glyph heights (the line
    recogniser's training also draws touching and wide-spaced writing).
    """
    images, _, indices = mnist.digits(split)
    pools = mnist.by_label(split)
    rows: list[int] = []
    slant = rng.uniform(-0.12, 0.22)
    gap = rng.uniform(*gaps)
    pieces: list[tuple[Array, float, float]] = []
    x = 0.0
    for char in code:
        pool = pools[int(char)]
        position = int(pool[int(rng.integers(len(pool)))])
        rows.append(int(indices[position]))
        digit = images[position]
        height = glyph * rng.uniform(0.88, 1.1)
        alpha = _ink_digit(rng, digit, height, threshold, ballpoint)
        angle = rng.normal(0, 4)
        # Each digit turned a little and sheared by the writer's slant.
        h, w = alpha.shape
        pad = int(0.3 * h)
        alpha = np.pad(alpha, pad)
        turn = cv2.getRotationMatrix2D((w / 2 + pad, h / 2 + pad), angle, 1.0)
        turn[0, 1] -= slant
        turn[0, 2] += slant * (h / 2 + pad)
        alpha = np.asarray(
            cv2.warpAffine(alpha, turn, (alpha.shape[1], alpha.shape[0])), np.float32
        )
        ys, xs = np.nonzero(alpha > 0.05)
        alpha = alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        baseline = rng.normal(0, 0.05) * glyph
        pieces.append((alpha, x, baseline - alpha.shape[0]))
        x += alpha.shape[1] + glyph * max(min(0.04, gaps[0]), gap + rng.normal(0, 0.08))
    top = min(y for _, _, y in pieces)
    bottom = max(y + a.shape[0] for a, _, y in pieces)
    out = np.zeros((int(np.ceil(bottom - top)) + 2, int(np.ceil(x)) + 2), np.float32)
    for alpha, left, y in pieces:
        r, c = int(y - top), int(left)
        region = out[r : r + alpha.shape[0], c : c + alpha.shape[1]]
        np.maximum(region, alpha[: region.shape[0], : region.shape[1]], out=region)
    return Writing(out, tuple(rows))


def _number(rng: Rng, length: int, avoid: tuple[str, ...]) -> str:
    while True:
        value = "".join(str(d) for d in rng.integers(0, 10, length))
        if value not in avoid and not any(a and a in value for a in avoid):
            return value


def _printed_line(rng: Rng, avoid: tuple[str, ...]) -> str:
    words = [str(rng.choice(_WORDS)) for _ in range(int(rng.integers(1, 4)))]
    # Numbers as printed matter has them; a 5-digit one now and then, never the code.
    length = int(rng.choice([2, 2, 3, 4, 4, 5, 6, 7]))
    number = _number(rng, length, avoid)
    if rng.random() < 0.3:
        number = f"{number[:2]}.{number[2:]}" if length > 3 else number
    words.insert(int(rng.integers(0, len(words) + 1)), number)
    return " ".join(words)


def _paper(
    rng: Rng, ink: Array, glyph: float, avoid: tuple[str, ...]
) -> tuple[Array, Array, tuple[float, float, float, float], str, str, bool]:
    """The paper with the writing on it: RGB, its alpha, the code's box, and what it is."""
    name, tint = PAPERS[int(rng.choice(len(PAPERS), p=[0.55, 0.2, 0.15, 0.1]))]
    code_w = max(ink.shape[1], 4 * glyph)
    if name == "sticky note":
        width = code_w / rng.uniform(0.5, 0.8)
        height = width * rng.uniform(0.95, 1.05)
    else:
        width = code_w / rng.uniform(0.25, 0.75)
        height = width * rng.choice([1.414, 0.707, 1.3, 0.75])
    width, height = int(min(width, 3000)), int(min(height, 3000))
    base = camera._colour(rng, tint, 0.02)
    grain = 1 + 0.015 * rng.standard_normal((height, width), dtype=np.float32)
    grain += 0.02 * camera.smooth_noise(rng, (height, width), 6)
    paper = base[None, None, :] * grain[..., None]
    lines = str(rng.choice(["plain", "plain", "ruled", "squared"]))
    sheet = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(sheet)
    thin = max(1, round(glyph / 40))
    if lines == "ruled":
        step = glyph * rng.uniform(0.9, 1.5)
        for y in np.arange(rng.uniform(0, step), height, step):
            draw.line([(0, y), (width, y)], fill=255, width=thin)
    elif lines == "squared":
        step = glyph * rng.uniform(0.45, 0.7)
        for y in np.arange(rng.uniform(0, step), height, step):
            draw.line([(0, y), (width, y)], fill=255, width=thin)
        for x in np.arange(rng.uniform(0, step), width, step):
            draw.line([(x, 0), (x, height)], fill=255, width=thin)
    rule_alpha = np.asarray(sheet, np.float32) / 255 * rng.uniform(0.25, 0.5)
    rule_ink = np.array([0.45, 0.6, 0.85], np.float32)
    paper = paper * (1 - rule_alpha[..., None] * (1 - rule_ink))
    # Where the code goes: anywhere on the paper with a margin.
    left = rng.uniform(0.06, 0.94) * (width - ink.shape[1]) if width > ink.shape[1] else 0
    top = rng.uniform(0.1, 0.9) * (height - ink.shape[0]) if height > ink.shape[0] else 0
    box = (left, top, left + ink.shape[1], top + ink.shape[0])
    printed = rng.random() < 0.35
    if printed:
        text = Image.new("L", (width, height), 0)
        write = ImageDraw.Draw(text)
        font = ImageFont.load_default(size=max(8, int(glyph * rng.uniform(0.25, 0.5))))
        for _ in range(int(rng.integers(2, 7))):
            for _attempt in range(10):  # printed lines never cross the handwritten code
                x, y = rng.uniform(0.03, 0.7) * width, rng.uniform(0.02, 0.95) * height
                line = _printed_line(rng, avoid)
                x0, y0, x1, y1 = write.textbbox((x, y), line, font=font)
                if x1 < box[0] or x0 > box[2] or y1 < box[1] - 0.2 * glyph or y0 > box[3]:
                    write.text((x, y), line, fill=255, font=font)
                    break
        alpha = np.asarray(text, np.float32) / 255 * rng.uniform(0.7, 0.95)
        paper = paper * (1 - alpha[..., None] * 0.9)
    pen_ink = np.zeros((height, width), np.float32)
    r, c = int(top), int(left)
    region = pen_ink[r : r + ink.shape[0], c : c + ink.shape[1]]
    region[...] = ink[: region.shape[0], : region.shape[1]]
    return paper, pen_ink, box, name, lines, printed


def handwritten_photo(code: str, seed: int, split: mnist.Rows) -> tuple[bytes, PhotoInfo]:
    """A phone photo (camera JPEG bytes) of `code` handwritten on paper; "" for blank paper.

    Digits come only from the MNIST rows of `split`. Deterministic in (code, seed, split).
    """
    rng = np.random.default_rng([seed, 0x5EED])
    framed = camera.framing(rng, (0.035, 0.16), (40, 200))
    shot, view, work = framed.shot, framed.view, framed.work
    height_work, glyph = framed.height_work, framed.glyph
    pen_index = int(rng.choice(len(PENS), p=_PEN_WEIGHTS))
    pen, ink_rgb, thresholds, opacities = PENS[pen_index]
    ballpoint = "felt" not in pen
    threshold = rng.uniform(*thresholds)
    avoid = tuple(v for v in (code,) if v)
    if code:
        writing = write_code(rng, code, split, glyph, threshold, ballpoint)
    else:
        writing = Writing(np.zeros((int(glyph), int(4.5 * glyph)), np.float32), ())
    paper, pen_ink, box, paper_name, lines, printed = _paper(rng, writing.ink, glyph, avoid)
    opacity = rng.uniform(*opacities)
    ink_colour = np.array(ink_rgb, np.float32)
    paper = paper * (1 - (pen_ink * opacity)[..., None] * (1 - ink_colour))
    rotation = camera.rotation_angle(rng)
    matrix = camera.homography(
        rng, (paper.shape[1], paper.shape[0]), box, work, height_work, glyph, rotation
    )
    frame = camera.surface(rng, (work[1], work[0]))
    warped = cv2.warpPerspective(paper, matrix, work, flags=cv2.INTER_LINEAR)
    ones = np.ones(paper.shape[:2], np.float32)
    alpha = np.asarray(cv2.warpPerspective(ones, matrix, work, flags=cv2.INTER_LINEAR), np.float32)
    frame = camera.drop_shadow(frame, alpha, rng)
    scene = frame * (1 - alpha[..., None]) + warped * alpha[..., None]
    scene = camera.lighting(rng, scene.astype(np.float32))
    image = camera.develop(rng, scene, shot)
    seen_scale = np.sqrt(abs(np.linalg.det(matrix[:2, :2])))
    info = PhotoInfo(
        shot=shot,
        pen=pen,
        paper=paper_name,
        lines=lines,
        printed=printed,
        rotation=float(np.rad2deg(rotation)) % 360,
        digit_height=round(glyph * seen_scale * view[0] / work[0]),
        rows=writing.rows,
    )
    return camera.to_jpeg(image, shot), info


def preview(data: bytes) -> Image.Image:
    """The photo upright as a viewer shows it (for people and tests)."""
    import io

    from PIL import ImageOps

    return ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
