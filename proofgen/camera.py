"""What a phone does to a scene: surfaces, light, blur, noise, orientation, Exif and JPEG.

Shared by the handwriting (`proofgen.photo`) and seal (`proofgen.seal`) generators. Images
are float32 RGB arrays in 0..1 at a working size (long side at most WORK_SIDE); the camera
scales them to the photo's size, adds sensor noise at that size and encodes a JPEG with a
phone's Exif. Every random choice comes from the numpy Generator passed in, so a photo is a
pure function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from .exif import camera_exif, jpeg_bytes

Array = npt.NDArray[np.float32]
Rng = np.random.Generator

WORK_SIDE = 2000  # scenes are drawn at most this large, then scaled to the photo (fast 12 MP)
# Photo sizes as phones write them (4:3 landscape; portrait comes from Exif or the sensor).
SIZES = ((1200, 900), (1600, 1200), (2016, 1512), (2560, 1920), (3264, 2448), (4000, 3000))
PHONES = (
    ("Apple", "iPhone 13"),
    ("Apple", "iPhone 15 Pro"),
    ("samsung", "SM-S911B"),
    ("samsung", "SM-A546B"),
    ("Google", "Pixel 7"),
    ("Xiaomi", "Redmi Note 12"),
    ("OnePlus", "CPH2449"),
    ("motorola", "moto g54 5G"),
)
# Exif Orientation -> the transpose that stores an upright view as the sensor would.
_STORE = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,  # viewer rotates 90 clockwise to show it
    8: Image.Transpose.ROTATE_270,
}
_BASE_TIME = datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class Shot:
    """How the phone took one photo (for the harness's list of misses and for tests)."""

    size: tuple[int, int]  # stored pixels, width x height (before Exif orientation)
    orientation: int  # Exif Orientation: 1, 3, 6 or 8
    quality: int
    blur: float  # defocus sigma, px at the photo's size
    motion: float  # motion blur length, px at the photo's size (0: none)
    noise: float  # sensor noise sigma, in 0..255 levels
    make: str
    model: str
    taken_at: datetime
    gps: tuple[float, float]


def choose_shot(rng: Rng) -> Shot:
    """The photo's size, orientation, JPEG quality, blur, noise and phone."""
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    # Most phones store the sensor's landscape pixels and an Orientation tag; a portrait
    # photo is a landscape one tagged 6 (or 8), and some apps bake the rotation in (tag 1).
    orientation = int(rng.choice([1, 1, 1, 6, 6, 3, 8]))
    make, model = PHONES[int(rng.integers(len(PHONES)))]
    scale = max(width, height) / 1600  # blur and noise are drawn for a 1600 px photo
    blur = float(rng.uniform(0.3, 1.6)) * scale
    if rng.random() < 0.15:
        blur += float(rng.uniform(0.5, 1.5)) * scale  # missed focus
    motion = float(rng.uniform(3, 11)) * scale if rng.random() < 0.25 else 0.0
    taken = _BASE_TIME + timedelta(seconds=int(rng.integers(0, 300 * 86400)))
    gps = (float(rng.uniform(-45, 60)), float(rng.uniform(-120, 150)))
    return Shot(
        size=(width, height),
        orientation=orientation,
        quality=int(rng.integers(75, 93)),
        blur=blur,
        motion=motion,
        noise=float(rng.uniform(1.5, 5.5)),
        make=make,
        model=model,
        taken_at=taken,
        gps=gps,
    )


@dataclass(frozen=True)
class Framing:
    """A shot, its upright and working sizes, and how tall the writing is drawn in it."""

    shot: Shot
    view: tuple[int, int]
    work: tuple[int, int]
    height_work: float  # the writing's height in the working image
    glyph: float  # the height it is drawn at, before it is laid into the photo


def framing(rng: Rng, share: tuple[float, float], glyph: tuple[float, float]) -> Framing:
    """Choose the shot, then the writing's height as a share of the photo's short side
    (log-uniform in `share`: a whole sheet to a close-up), drawn at about the size it is
    seen, within `glyph` pixels."""
    shot = choose_shot(rng)
    view = view_size(shot)
    work = work_size(view)
    height_work = float(np.exp(rng.uniform(np.log(share[0]), np.log(share[1])))) * min(work)
    return Framing(shot, view, work, height_work, float(np.clip(height_work, *glyph)))


def work_size(view: tuple[int, int]) -> tuple[int, int]:
    """The working size for a photo viewed upright at `view` (width, height)."""
    scale = min(1.0, WORK_SIDE / max(view))
    return max(1, round(view[0] * scale)), max(1, round(view[1] * scale))


def view_size(shot: Shot) -> tuple[int, int]:
    """The upright size a viewer shows: stored size, turned for tags 6 and 8."""
    width, height = shot.size
    return (height, width) if shot.orientation in (6, 8) else (width, height)


# -- noise fields and surfaces


def smooth_noise(rng: Rng, shape: tuple[int, int], cells: int) -> Array:
    """Low-frequency noise in about -1..1: a coarse random grid, smoothly enlarged."""
    height, width = shape
    grid_w = max(2, cells)
    grid_h = max(2, round(cells * height / max(width, 1)))
    grid = rng.standard_normal((grid_h, grid_w)).astype(np.float32)
    out = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(np.clip(out / 1.5, -1.5, 1.5), dtype=np.float32)


def _colour(rng: Rng, base: tuple[float, float, float], spread: float) -> Array:
    jitter = rng.uniform(-spread, spread, 3)
    return np.clip(np.array(base) + jitter, 0, 1).astype(np.float32)


def surface(rng: Rng, shape: tuple[int, int]) -> Array:
    """What the paper or seal lies on: wood, fabric, a desk or a bed sheet, maybe clutter.

    Drawn at half size (it is out of focus and soft anyway), then enlarged.
    """
    small = _surface(rng, ((shape[0] + 1) // 2, (shape[1] + 1) // 2))
    return np.asarray(
        cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), np.float32
    )


def _surface(rng: Rng, shape: tuple[int, int]) -> Array:
    height, width = shape
    kind = rng.choice(["wood", "fabric", "desk", "sheet"])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "wood":
        angle = rng.uniform(0, np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        across = -xs * np.sin(angle) + ys * np.cos(angle)
        warp = smooth_noise(rng, shape, 4) * rng.uniform(20, 60)
        period = rng.uniform(4, 15) * width / 800
        grain = np.sin((across + warp + 0.02 * along) / period) * 0.5 + 0.5
        fine = smooth_noise(rng, shape, 200) * 0.3
        base = _colour(rng, (0.55, 0.36, 0.2), 0.12)
        shade = 0.78 + 0.22 * grain + 0.05 * fine
        image = base[None, None, :] * shade[..., None]
    elif kind == "fabric":
        period = rng.uniform(1.5, 3.5) * width / 800
        weave = (np.sin(xs / period) * np.sin(ys / period)) * 0.5 + 0.5
        base = _colour(rng, tuple(rng.uniform(0.15, 0.7, 3)), 0.0)
        folds = smooth_noise(rng, shape, 5) * 0.12
        image = base[None, None, :] * (0.85 + 0.15 * weave + folds)[..., None]
    elif kind == "desk":
        base = _colour(rng, tuple(rng.choice([0.25, 0.5, 0.8, 0.92]) * np.ones(3)), 0.08)
        speckle = rng.standard_normal(shape).astype(np.float32) * 0.015
        image = base[None, None, :] * (1 + 0.06 * smooth_noise(rng, shape, 3) + speckle)[..., None]
    else:
        base = _colour(rng, (0.85, 0.85, 0.88), 0.1)
        folds = smooth_noise(rng, shape, 6)
        image = base[None, None, :] * (0.85 + 0.1 * np.tanh(2 * folds))[..., None]
    image = np.clip(image, 0, 1).astype(np.float32)
    for _ in range(int(rng.integers(0, 4))):
        image = _clutter(rng, image)
    return np.asarray(image, np.float32)


def _clutter(rng: Rng, image: Array) -> Array:
    """A pen, a coin, keys or a phone near the paper, with its soft shadow."""
    height, width = image.shape[:2]
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    size = rng.uniform(0.05, 0.25) * width
    kind = rng.choice(["pen", "coin", "phone"])
    if kind == "pen":
        angle = rng.uniform(0, np.pi)
        dx, dy = np.cos(angle) * size, np.sin(angle) * size
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=255, width=max(2, int(size / 12)))
    elif kind == "coin":
        radius = size / 5
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
    else:
        draw.rounded_rectangle(
            [cx - size / 2, cy - size, cx + size / 2, cy + size], radius=size / 8, fill=255
        )
    alpha = np.asarray(mask, dtype=np.float32) / 255
    shadow = cv2.GaussianBlur(np.roll(alpha, (int(size / 15), int(size / 15)), (0, 1)), (0, 0), 6)
    colour = _colour(rng, tuple(rng.uniform(0.05, 0.8, 3)), 0.0)
    out = image * (1 - 0.35 * shadow[..., None])
    return np.asarray(out * (1 - alpha[..., None]) + colour * alpha[..., None], dtype=np.float32)


def drop_shadow(background: Array, alpha: Array, rng: Rng) -> Array:
    """The soft shadow an object (its alpha in frame coordinates) casts on the surface."""
    width = alpha.shape[1]
    shift = (rng.uniform(-0.01, 0.012, 2) * width).astype(int)
    soft = cv2.GaussianBlur(np.roll(alpha, (int(shift[0]), int(shift[1])), (0, 1)), (0, 0), 8)
    return np.asarray(background * (1 - rng.uniform(0.2, 0.45) * soft[..., None]), np.float32)


# -- the perspective of a flat object


def homography(
    rng: Rng,
    source: tuple[int, int],
    keep: tuple[float, float, float, float],
    frame: tuple[int, int],
    height_px: float,
    glyph_height: float,
    rotation: float,
) -> npt.NDArray[np.float64]:
    """Map an object drawn `source` (w, h) onto the frame: rotated, scaled, tilted.

    `keep` (x0, y0, x1, y1, in source pixels) is the part that must stay in the frame (the
    code); it is scaled so glyphs of `glyph_height` source px are about `height_px` high.
    """
    width, height = frame
    x0, y0, x1, y1 = keep
    scale = height_px / glyph_height
    for _ in range(40):
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        cos, sin = np.cos(rotation) * scale, np.sin(rotation) * scale
        place = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height])
        similar = np.array(
            [
                [cos, -sin, place[0] - cos * centre[0] + sin * centre[1]],
                [sin, cos, place[1] - sin * centre[0] - cos * centre[1]],
                [0, 0, 1],
            ]
        )
        # A camera tilted against the table: a projective term, about the code's place.
        tilt = rng.uniform(-0.35, 0.35, 2) / np.array([width, height])
        to_origin = np.array([[1, 0, -place[0]], [0, 1, -place[1]], [0, 0, 1]])
        back = np.array([[1, 0, place[0]], [0, 1, place[1]], [0, 0, 1]])
        project = np.array([[1, 0, 0], [0, 1, 0], [tilt[0], tilt[1], 1]])
        matrix = back @ project @ to_origin @ similar
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], dtype=float).T
        mapped = matrix @ corners
        xy = mapped[:2] / mapped[2]
        margin = 0.04 * min(width, height)
        if (
            np.all(mapped[2] > 0)
            and xy[0].min() > margin
            and xy[0].max() < width - margin
            and xy[1].min() > margin
            and xy[1].max() < height - margin
        ):
            return np.asarray(matrix, np.float64)
        scale *= 0.93  # too large for the frame here: a bit smaller, somewhere else
    return np.asarray(matrix, np.float64)


def rotation_angle(rng: Rng) -> float:
    """How the object lies in the upright frame: mostly near straight, also sideways or
    upside down (the photo taken from another side of the table), in radians."""
    base = rng.choice([0.0, 0.0, 0.0, 0.0, 90.0, 180.0, 270.0])
    return float(np.deg2rad(base + rng.normal(0, 6)))


# -- light and lens


def lighting(rng: Rng, image: Array) -> Array:
    """Uneven light: a gradient, vignetting, maybe a soft-edged shadow; a colour cast.

    The light field is smooth, so it is computed at a quarter of the size and enlarged.
    """
    full_height, full_width = image.shape[:2]
    height, width = (full_height + 3) // 4, (full_width + 3) // 4
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)) * 2
    light = 1 + rng.uniform(0.05, 0.3) * ramp + 0.06 * smooth_noise(rng, (height, width), 3)
    radius = ((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) * 2
    light *= 1 - rng.uniform(0.05, 0.3) * radius
    if rng.random() < 0.4:
        # The phone's or the hand's shadow: a soft-edged region, darker.
        mask = Image.new("L", (width, height), 0)
        points = [(rng.uniform(-0.3, 1.3) * width, rng.uniform(-0.3, 1.3) * height)]
        points += [(rng.uniform(-0.3, 1.3) * width, rng.uniform(-0.3, 1.3) * height)]
        points += [(p[0] + rng.uniform(0.3, 0.8) * width, p[1]) for p in points[::-1]]
        ImageDraw.Draw(mask).polygon(points, fill=255)
        soft = cv2.GaussianBlur(np.asarray(mask, np.float32) / 255, (0, 0), width * 0.01 + 1)
        light *= 1 - rng.uniform(0.2, 0.45) * soft
    light = cv2.resize(light.astype(np.float32), (full_width, full_height))
    exposure = rng.uniform(0.85, 1.12)
    cast = rng.choice(
        [
            np.array([1.0, 1.0, 1.0]),
            np.array([1.0, 0.94, 0.82]),  # warm indoor light
            np.array([0.95, 0.98, 1.04]),  # daylight shade
            np.array([1.0, 0.97, 0.9]),
        ]
    ).astype(np.float32)
    return np.asarray(image * (light * exposure)[..., None] * cast, dtype=np.float32)


def glare(rng: Rng, image: Array, centre: tuple[float, float], size: float) -> Array:
    """A specular highlight (a lamp on glossy plastic): an elongated bright ellipse."""
    height, width = image.shape[:2]
    mask = Image.new("L", (width, height), 0)
    cx, cy = centre
    rx, ry = size * rng.uniform(0.5, 1.5), size * rng.uniform(0.1, 0.35)
    ImageDraw.Draw(mask).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    soft = cv2.GaussianBlur(np.asarray(mask, np.float32) / 255, (0, 0), size * 0.15 + 1)
    angle = rng.uniform(0, 360)
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    soft = cv2.warpAffine(soft, turn, (width, height))
    strength = rng.uniform(0.25, 0.55)
    return np.asarray(image + strength * soft[..., None], dtype=np.float32)


def _motion_kernel(length: float, angle: float) -> npt.NDArray[np.float32]:
    """A camera shake: a line `length` px long at `angle` (radians), summing to 1."""
    size = max(3, int(np.ceil(length)) | 1)
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    cv2.line(
        kernel,
        (round(centre - dx), round(centre - dy)),
        (round(centre + dx), round(centre + dy)),
        1.0,
        1,
        cv2.LINE_AA,
    )
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)


def shaken(image: npt.NDArray[Any], length: float, angle: float) -> npt.NDArray[Any]:
    """The image smeared by a camera shake `length` px long at `angle` (radians)."""
    kernel = _motion_kernel(length, angle)
    return np.asarray(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT))


def develop(rng: Rng, scene: Array, shot: Shot) -> Image.Image:
    """The scene (upright, working size) as the phone stores it: blur, noise, size, turn."""
    view = view_size(shot)
    work_scale = scene.shape[1] / view[0]
    blurred = scene
    if shot.blur * work_scale > 0.3:
        blurred = np.asarray(cv2.GaussianBlur(blurred, (0, 0), shot.blur * work_scale), np.float32)
    if shot.motion:
        moved = shaken(blurred, shot.motion * work_scale, rng.uniform(0, np.pi))
        blurred = np.asarray(moved, np.float32)
    # Sensor noise, stronger in the dark (shot noise), with a little chroma noise. It is
    # added at the working size: a phone's denoised, demosaiced noise is not per-pixel
    # anyway, and 12 MP of random numbers would triple the time of a photo.
    levels = blurred * 255
    sigma = shot.noise * (1.2 - 0.6 * np.minimum(blurred.mean(axis=2), 1))
    grain = rng.standard_normal(levels.shape[:2], dtype=np.float32) * sigma
    chroma = rng.standard_normal(levels.shape, dtype=np.float32) * (0.35 * shot.noise)
    levels += grain[..., None]
    levels += chroma
    np.clip(levels + 0.5, 0, 255, out=levels)
    pixels = levels.astype(np.uint8)
    if (pixels.shape[1], pixels.shape[0]) != view:
        pixels = np.asarray(cv2.resize(pixels, view, interpolation=cv2.INTER_CUBIC), np.uint8)
    image = Image.fromarray(pixels, "RGB")
    turn = _STORE[shot.orientation]
    return image.transpose(turn) if turn is not None else image


def to_jpeg(image: Image.Image, shot: Shot) -> bytes:
    """The JPEG a phone writes: make, model, capture time, GPS and Orientation in Exif."""
    software = "17.4.1" if shot.make == "Apple" else f"{shot.model} camera 4.2"
    exif = camera_exif(
        shot.make,
        shot.model,
        taken_at=shot.taken_at,
        gps=shot.gps,
        orientation=shot.orientation,
        software=software,
    )
    return jpeg_bytes(image, exif, shot.quality)
