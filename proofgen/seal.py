"""Phone photos of a numbered plastic seal: a coloured strip with a printed 5-8 digit number.

The tag is drawn flat (plastic colour with a sheen, a printed brand line, sometimes a
barcode, the number in Pillow's bundled font or a dot-matrix print, printed or embossed),
bent along its length, photographed at any rotation in perspective on a surface, with
glare, and given the same camera degradations as the handwriting photos. Only Pillow's own
font is used, so a photo is the same on every machine. Pure function of (number, seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from proofgen import camera
from proofgen.camera import Array, Rng, Shot

COLOURS = {
    "red": (0.78, 0.1, 0.1),
    "yellow": (0.95, 0.8, 0.1),
    "blue": (0.1, 0.3, 0.75),
    "green": (0.1, 0.6, 0.25),
    "orange": (0.95, 0.45, 0.05),
    "white": (0.92, 0.92, 0.9),
    "black": (0.12, 0.12, 0.13),
}
BRANDS = ("SECURITY SEAL", "TAMPER EVIDENT", "SEALTECH", "PULL TIGHT", "DO NOT REMOVE")
# 5x7 dot-matrix digits (inkjet coders print seal numbers this way).
_DOTS = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}


@dataclass(frozen=True)
class SealInfo:
    shot: Shot
    colour: str
    print_style: str  # font | bold | dot-matrix | embossed
    rotation: float
    glare: bool
    digit_height: int  # px in the stored photo


def _dot_matrix(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, h: float) -> None:
    pitch = h / 7
    radius = pitch * 0.42
    x, y = xy
    for char in text:
        for row, bits in enumerate(_DOTS[char]):
            for col, bit in enumerate(bits):
                if bit == "1":
                    cx, cy = x + (col + 0.5) * pitch, y + (row + 0.5) * pitch
                    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
        x += 6.2 * pitch


def _tag(
    rng: Rng, number: str, glyph: float
) -> tuple[Array, Array, tuple[float, float, float, float], str, str]:
    """The flat tag: RGB, alpha, the number's box, colour name and print style."""
    colour_name = str(rng.choice(list(COLOURS)))
    colour = np.array(COLOURS[colour_name], np.float32)
    style = str(rng.choice(["font", "font", "bold", "dot-matrix", "embossed"]))
    font = ImageFont.load_default(size=max(8, round(glyph * 1.35)))
    digits_width = 7.5 * glyph if not number else 0.0
    if number and style == "dot-matrix":
        digits_width = len(number) * glyph / 7 * 6.2
    elif number:
        digits_width = ImageDraw.Draw(Image.new("L", (1, 1))).textlength(number, font=font)
    width = int(digits_width + glyph * rng.uniform(1.5, 3.5))
    height = int(glyph * rng.uniform(2.6, 3.6))
    strap = int(width * rng.uniform(0.6, 1.4))  # the thin band the tag locks with
    canvas_w = width + strap
    alpha_img = Image.new("L", (canvas_w, height), 0)
    shape = ImageDraw.Draw(alpha_img)
    shape.rounded_rectangle([0, 0, width, height - 1], radius=glyph * 0.5, fill=255)
    band = height * rng.uniform(0.18, 0.3)
    shape.rectangle([width - 2, height / 2 - band / 2, canvas_w, height / 2 + band / 2], fill=255)
    alpha = np.asarray(alpha_img, np.float32) / 255
    # Plastic: a sheen across the strip, fine moulding texture.
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    sheen = 1 + 0.12 * np.cos(ys * rng.uniform(1.5, 3)) - 0.06
    texture = 1 + 0.02 * camera.smooth_noise(rng, (height, canvas_w), 40)
    rgb = colour[None, None, :] * (sheen * texture)[..., None]
    light_plastic = float(colour @ np.array([0.3, 0.59, 0.11], np.float32)) > 0.45
    ink = np.array([0.05, 0.05, 0.06] if light_plastic else [0.95, 0.95, 0.93], np.float32)
    marks = Image.new("L", (canvas_w, height), 0)
    draw = ImageDraw.Draw(marks)
    small = ImageFont.load_default(size=max(6, round(glyph * 0.45)))
    draw.text((glyph * 0.6, glyph * 0.25), str(rng.choice(BRANDS)), fill=255, font=small)
    x0 = (width - digits_width) / 2
    y0 = height * 0.42
    if rng.random() < 0.4:  # a barcode under or beside the number
        bar_x = glyph * 0.6
        while bar_x < width - glyph * 0.6:
            step = glyph * rng.choice([0.05, 0.1, 0.15])
            if rng.random() < 0.5:
                draw.rectangle(
                    [bar_x, height - glyph * 0.55, bar_x + step, height - glyph * 0.2], fill=255
                )
            bar_x += step
        y0 = height * 0.3
    box = (x0, y0, x0 + digits_width, y0 + glyph)
    text = Image.new("L", (canvas_w, height), 0)
    write = ImageDraw.Draw(text)
    if number:
        if style == "dot-matrix":
            _dot_matrix(write, (x0, y0), number, glyph)
        else:
            stroke = round(glyph * 0.05) if style == "bold" else 0
            # Pillow's font puts digits' tops ~0.3 em below y; align the digits to the box.
            top = write.textbbox((0, 0), number, font=font)[1]
            write.text(
                (x0, y0 - top), number, fill=255, font=font, stroke_width=stroke, stroke_fill=255
            )
        ys_, xs_ = np.nonzero(np.asarray(text) > 0)
        box = (float(xs_.min()), float(ys_.min()), float(xs_.max()), float(ys_.max()))
    marks_a = np.asarray(marks, np.float32) / 255
    text_a = np.asarray(text, np.float32) / 255
    rgb = rgb * (1 - marks_a[..., None]) + ink * marks_a[..., None]
    if style == "embossed":
        # Raised digits in the plastic's own colour: lit on one side, shaded on the other.
        shift = max(1, round(glyph * 0.05))
        lit = np.roll(text_a, (-shift, -shift), (0, 1))
        shade = np.roll(text_a, (shift, shift), (0, 1))
        relief = 0.5 * lit - 0.6 * shade
        # The raised face catches light or is filled in, so the digits stay readable.
        face = (0.55 if light_plastic else 2.2) - 1
        rgb = rgb * (1 + relief[..., None]) * (1 + face * text_a[..., None])
        rgb = rgb + (0.12 if not light_plastic else 0) * text_a[..., None]
    else:
        rgb = rgb * (1 - text_a[..., None]) + ink * text_a[..., None]
    return rgb.astype(np.float32), alpha.astype(np.float32), box, colour_name, style


def _bend(rng: Rng, rgb: Array, alpha: Array) -> tuple[Array, Array, float]:
    """The strip bent along its length (a gentle arc); returns the vertical pad added."""
    height, width = alpha.shape
    depth = rng.uniform(-0.12, 0.12) * width
    pad = abs(depth) + 2
    xs = np.arange(width, dtype=np.float32)
    offset = depth * np.sin(np.pi * xs / width)
    map_x = np.tile(xs, (int(height + 2 * pad), 1))
    map_y = np.arange(int(height + 2 * pad), dtype=np.float32)[:, None] - pad - offset[None, :]
    shade = 1 - 0.1 * np.cos(np.pi * xs / width) * np.sign(depth)
    bent = cv2.remap(rgb * shade[None, :, None], map_x, map_y.astype(np.float32), cv2.INTER_LINEAR)
    bent_a = cv2.remap(alpha, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR)
    return np.asarray(bent, np.float32), np.asarray(bent_a, np.float32), pad


def seal_photo(number: str, seed: int) -> tuple[bytes, SealInfo]:
    """A phone photo (camera JPEG bytes) of a seal printed with `number` ("" for none)."""
    rng = np.random.default_rng([seed, 0x5EA1])
    framed = camera.framing(rng, (0.04, 0.15), (30, 160))
    shot, view, work = framed.shot, framed.view, framed.work
    height_work, glyph = framed.height_work, framed.glyph
    rgb, alpha, box, colour, style = _tag(rng, number, glyph)
    rgb, alpha, pad = _bend(rng, rgb, alpha)
    box = (box[0], box[1], box[2], box[3] + 2 * pad)  # the arc moves the number up or down
    rotation = float(np.deg2rad(rng.uniform(0, 360))) if rng.random() < 0.5 else 0.0
    rotation = rotation or camera.rotation_angle(rng)
    matrix = camera.homography(
        rng, (rgb.shape[1], rgb.shape[0]), box, work, height_work, glyph, rotation
    )
    frame = camera.surface(rng, (work[1], work[0]))
    warped = cv2.warpPerspective(rgb, matrix, work, flags=cv2.INTER_LINEAR)
    mask = np.asarray(cv2.warpPerspective(alpha, matrix, work, flags=cv2.INTER_LINEAR), np.float32)
    frame = camera.drop_shadow(frame, mask, rng)
    scene = frame * (1 - mask[..., None]) + warped * mask[..., None]
    seen_scale = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    has_glare = bool(rng.random() < 0.5)
    if has_glare:
        # On the plastic, near the number but rarely right across it.
        cx = (box[0] + box[2]) / 2 + rng.uniform(-0.8, 0.8) * (box[2] - box[0])
        cy = box[1] - rng.uniform(0.2, 1.0) * glyph
        point = matrix @ np.array([cx, cy, 1.0])
        centre = (float(point[0] / point[2]), float(point[1] / point[2]))
        scene = camera.glare(rng, scene.astype(np.float32), centre, glyph * 1.5 * seen_scale)
    scene = camera.lighting(rng, np.asarray(scene, np.float32))
    image = camera.develop(rng, scene, shot)
    info = SealInfo(
        shot=shot,
        colour=colour,
        print_style=style,
        rotation=float(np.rad2deg(rotation)) % 360,
        glare=has_glare,
        digit_height=round(glyph * seen_scale * view[0] / work[0]),
    )
    return camera.to_jpeg(image, shot), info
