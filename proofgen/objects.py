"""Phone photos of registered objects, for the `reference` rule's matcher and benchmark.

The objects are real photos the project did not take, as they ship inside installed wheels
(scikit-image's `skimage/data` folder, matplotlib's sample data), read from the files
directly so nothing is ever downloaded. Each is shown as a flat print, except the
motorcycle: scikit-image ships it as a stereo pair, so its references come from the left
camera and its proof photos from the right one, a true change of viewpoint on a 3-D object.

References are what an operator would take: the object filling most of a plain, evenly
lit frame, from three sides (three overlapping windows of the object). Proof photos are a
phone's: another window of the object, at any rotation, in perspective, small or large, on
a surface with clutter, in uneven light, blurred, partly covered by a hand, with
unregistered objects beside it. A photo is a pure function of its seed.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw

from proofgen import camera
from proofgen.camera import Array, Rng, Shot

# name -> (file, package); the file is read where the package is installed.
SOURCES: dict[str, tuple[str, str]] = {
    "coffee": ("coffee.png", "skimage"),
    "chelsea": ("chelsea.png", "skimage"),
    "astronaut": ("astronaut.png", "skimage"),
    "rocket": ("rocket.jpg", "skimage"),
    "motorcycle": ("motorcycle_left.png", "skimage"),
    "camera": ("camera.png", "skimage"),
    "coins": ("coins.png", "skimage"),
    "retina": ("retina.jpg", "skimage"),
    "grace": ("grace_hopper.jpg", "matplotlib"),
    "hubble": ("hubble_deep_field.jpg", "skimage"),
    # unregistered: what else lies on the table
    "ihc": ("ihc.png", "skimage"),
    "page": ("page.png", "skimage"),
    "text": ("text.png", "skimage"),
    "moon": ("moon.png", "skimage"),
    "clock": ("clock_motion.png", "skimage"),
    "brick": ("brick.png", "skimage"),
    "gravel": ("gravel.png", "skimage"),
    "cell": ("cell.png", "skimage"),
    # low texture: a silhouette and a logo (colour and shape, hardly any texture)
    "horse": ("horse.png", "skimage"),
    "logo": ("logo.png", "skimage"),
    "present": ("Minduka_Present_Blue_Pack.png", "matplotlib"),
}
REGISTERED = (
    "coffee", "chelsea", "astronaut", "rocket", "motorcycle",
    "camera", "coins", "retina", "grace", "hubble",
)  # fmt: skip
UNREGISTERED = ("ihc", "page", "text", "moon", "clock", "brick", "gravel", "cell")
# Low texture: real flat-coloured shapes, and registered photos smoothed flat (a plain
# plastic or metal object has its shape and colour, not a print's detail).
LOW_TEXTURE = ("horse", "logo", "present", "smooth-chelsea", "smooth-coffee", "smooth-rocket")

Kind = Literal["right", "other-view", "wrong", "none"]
KINDS: tuple[Kind, ...] = ("right", "other-view", "wrong", "none")
SPLITS = {"tune": 0, "report": 100_000}  # seeds of the two splits never meet
PHOTO_SIZES = ((1200, 900), (1600, 1200), (2016, 1512))  # small phone photos keep bench fast
WORK_SIDE = 1280  # scenes are drawn this large at most, then scaled to the photo


def _folder(package: str) -> Path:
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data"
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


@functools.cache
def source(name: str) -> tuple[Array, Array]:
    """The object's RGB (0..1) and its alpha (1 where the object is)."""
    if name.startswith("smooth-"):
        rgb, alpha = source(name.removeprefix("smooth-"))
        flat = cv2.GaussianBlur(cv2.bilateralFilter(rgb, 15, 0.25, 25), (0, 0), 6)
        return np.asarray(np.round(flat * 6) / 6, np.float32), alpha  # posterised: flat areas
    file, package = SOURCES[name]
    image: Image.Image = Image.open(_folder(package) / file)
    if name == "horse":  # a black silhouette on white: give it a coat
        shape = _unit(image.convert("L"))
        coat = np.array([0.45, 0.27, 0.12], np.float32)
        return np.asarray(np.ones((*shape.shape, 3)) * coat, np.float32), 1 - shape
    if image.mode in ("RGBA", "LA", "P"):
        pixels = _unit(image.convert("RGBA"))
        return np.ascontiguousarray(pixels[..., :3]), np.ascontiguousarray(pixels[..., 3])
    if max(image.size) > 800:
        scale = 800 / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    rgb = _unit(image.convert("RGB"))
    return rgb, np.ones(rgb.shape[:2], np.float32)


def _unit(image: Image.Image) -> Array:
    return np.asarray(np.asarray(image, np.float32) / 255, np.float32)


@functools.cache
def other_view(name: str) -> tuple[Array, Array]:
    """The motorcycle seen by the right camera of the stereo pair."""
    assert name == "motorcycle"
    rgb = _unit(Image.open(_folder("skimage") / "motorcycle_right.png").convert("RGB"))
    return rgb, np.ones(rgb.shape[:2], np.float32)


Window = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the object
REFERENCE_WINDOWS: tuple[Window, ...] = (
    (0.0, 0.0, 0.8, 1.0),
    (0.2, 0.0, 1.0, 1.0),
    (0.05, 0.1, 0.95, 0.9),
)


def _window(rgb: Array, alpha: Array, window: Window) -> tuple[Array, Array]:
    height, width = alpha.shape
    x0, y0, x1, y1 = (round(window[0] * width), round(window[1] * height),
                      round(window[2] * width), round(window[3] * height))  # fmt: skip
    return rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1]


def _place(
    rng: Rng, frame: Array, rgb: Array, alpha: Array, share: float, tilt: float
) -> tuple[Array, Array]:
    """The object laid on `frame`, its long side `share` of the frame's short side."""
    height, width = frame.shape[:2]
    size = (alpha.shape[1], alpha.shape[0])
    target = share * min(width, height)
    rotation = camera.rotation_angle(rng) if tilt > 0.2 else float(np.deg2rad(rng.normal(0, 4)))
    matrix = camera.homography(
        rng, size, (0, 0, size[0], size[1]), (width, height), target, max(size), rotation
    )
    # The shared homography tilts by up to 0.35; scale that to this shot's tilt.
    matrix = matrix / matrix[2, 2]
    matrix[2, :2] *= tilt
    warped = cv2.warpPerspective(rgb, matrix, (width, height), flags=cv2.INTER_AREA)
    mask = np.asarray(
        cv2.warpPerspective(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR), np.float32
    )
    frame = camera.drop_shadow(frame, mask, rng)
    scene = frame * (1 - mask[..., None]) + warped * mask[..., None]
    return np.asarray(scene, np.float32), mask


def _hand(rng: Rng, scene: Array, mask: Array, cover: float) -> Array:
    """A finger or hand over part of the object: a skin-toned blob on about `cover` of it."""
    ys, xs = np.nonzero(mask > 0.5)
    if not len(xs):
        return scene
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    w, h = x1 - x0, y1 - y0
    side = rng.integers(4)
    # A blob from one side of the object reaching in by `cover` of its width or height.
    if side < 2:
        reach = cover * w
        edge = x0 if side == 0 else x1
        box = [edge - reach, y0 - 0.1 * h, edge + reach, y1 + 0.1 * h]
    else:
        reach = cover * h
        edge = y0 if side == 2 else y1
        box = [x0 - 0.1 * w, edge - reach, x1 + 0.1 * w, edge + reach]
    layer = Image.new("L", (scene.shape[1], scene.shape[0]), 0)
    ImageDraw.Draw(layer).ellipse(box, fill=255)
    blob = cv2.GaussianBlur(np.asarray(layer, np.float32) / 255, (0, 0), 3)
    skin = np.array(rng.choice([[0.87, 0.68, 0.56], [0.62, 0.43, 0.32], [0.4, 0.27, 0.2]]))
    shade = 0.85 + 0.15 * camera.smooth_noise(rng, blob.shape, 4)[..., None]
    return np.asarray(scene * (1 - blob[..., None]) + skin * shade * blob[..., None], np.float32)


def _small_shot(rng: Rng) -> Shot:
    shot = camera.choose_shot(rng)
    return dataclasses.replace(shot, size=PHOTO_SIZES[int(rng.integers(len(PHOTO_SIZES)))])


def _work(shot: Shot) -> tuple[int, int]:
    view = camera.view_size(shot)
    scale = min(1.0, WORK_SIDE / max(view))
    return round(view[0] * scale), round(view[1] * scale)


def reference_photo(name: str, view: int) -> bytes:
    """Reference photo `view` (0..2) of an object: as an operator takes it, the object
    filling most of the frame, straight on, in even light."""
    rng = np.random.default_rng([view, 0x2EF, *name.encode()])
    rgb, alpha = _window(*source(name), REFERENCE_WINDOWS[view % len(REFERENCE_WINDOWS)])
    shot = dataclasses.replace(_small_shot(rng), size=(1024, 768), orientation=1, motion=0.0)
    shot = dataclasses.replace(shot, blur=0.5, noise=2.0)
    width, height = 1024, 768
    grey = rng.choice([0.3, 0.55, 0.85])
    frame = np.full((height, width, 3), grey, np.float32)
    scene, _ = _place(rng, frame, rgb, alpha, float(rng.uniform(0.75, 0.9)), 0.3)
    image = camera.develop(rng, scene, shot)
    return camera.to_jpeg(image, shot)


@dataclass(frozen=True)
class ObjectCase:
    """One proof photo to make: which object it shows, which one the request expects."""

    kind: Kind
    seed: int
    expected: str  # what the request names
    shown: str | None  # the registered object in the photo (None: none)
    registered: tuple[str, ...] = REGISTERED


@dataclass(frozen=True)
class Scene:
    """How the photo came out, for the benchmark's list of misses."""

    shot: Shot
    share: float  # the object's long side, as a share of the frame's short side
    tilt: float  # perspective strength, 0..1
    cover: float  # how far a hand reaches over the object (0: not at all)
    window: Window  # the part of the object in the photo
    extras: tuple[str, ...]  # unregistered objects beside it

    def describe(self) -> str:
        parts = [f"share {self.share:.2f}", f"tilt {self.tilt:.2f}",
                 f"blur {self.shot.blur:.1f}", f"motion {self.shot.motion:.0f}"]  # fmt: skip
        if self.cover:
            parts.append(f"hand {self.cover:.2f}")
        if self.extras:
            parts.append("with " + "+".join(self.extras))
        return ", ".join(parts)


def build_cases(
    split: str, per_kind: int, registered: tuple[str, ...] = REGISTERED
) -> list[ObjectCase]:
    """`per_kind` cases of each kind; `split` picks seeds no other split uses."""
    cases = []
    base = SPLITS[split]
    for k, kind in enumerate(KINDS):
        if kind == "other-view" and "motorcycle" not in registered:
            continue
        for i in range(per_kind):
            seed = base + 1000 * k + i
            rng = np.random.default_rng([seed, 0x0B1])
            expected = registered[int(rng.integers(len(registered)))]
            shown: str | None = expected
            if kind == "other-view":
                expected = shown = "motorcycle"
            elif kind == "wrong":
                shown = str(rng.choice([n for n in registered if n != expected]))
            elif kind == "none":
                shown = None
            cases.append(ObjectCase(kind, seed, expected, shown, registered))
    return cases


def case_photo(case: ObjectCase) -> tuple[bytes, Scene]:
    """The proof photo's camera JPEG bytes, and how it came out."""
    rng = np.random.default_rng([case.seed, 0x0B2])
    shot = _small_shot(rng)
    width, height = _work(shot)
    frame = camera.surface(rng, (height, width))
    count = int(rng.choice([0, 0, 1, 2]))
    extras = tuple(str(n) for n in rng.choice(UNREGISTERED, count, replace=False))
    if case.shown is None and not extras:
        extras = (str(rng.choice(UNREGISTERED)),)
    for extra in extras:  # beside the object: smaller, anywhere
        rgb, alpha = source(extra)
        frame, _ = _place(rng, frame, rgb, alpha, float(rng.uniform(0.15, 0.35)), 0.5)
    share, tilt, cover = 0.0, 0.0, 0.0
    window: Window = (0.0, 0.0, 1.0, 1.0)
    if case.shown is not None:
        if case.kind == "other-view":
            rgb, alpha = other_view(case.shown)
        else:
            rgb, alpha = source(case.shown)
        x0, y0 = rng.uniform(0, 0.15, 2)
        window = (float(x0), float(y0), float(1 - rng.uniform(0, 0.15)),
                  float(1 - rng.uniform(0, 0.15)))  # fmt: skip
        rgb, alpha = _window(rgb, alpha, window)
        share = float(np.exp(rng.uniform(np.log(0.3), np.log(0.95))))
        tilt = float(rng.uniform(0, 1))
        frame, mask = _place(rng, frame, rgb, alpha, share, tilt)
        if rng.random() < 0.3:
            cover = float(rng.uniform(0.1, 0.35))
            frame = _hand(rng, frame, mask, cover)
    scene = camera.lighting(rng, frame)
    image = camera.develop(rng, scene, shot)
    return camera.to_jpeg(image, shot), Scene(shot, share, tilt, cover, window, extras)
