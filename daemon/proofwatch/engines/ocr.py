"""The embedded OCR engine: PP-OCR (rapidocr 3) and two digit readers, on the CPU, never online.

The weights ship inside wheels: PP-OCRv6 small det + rec in the `rapidocr` wheel, the digit
CNN (`models/digits.onnx`) and the line recogniser (`models/lines.onnx`) in this package.
Every model is opened from an explicit file path,
so rapidocr's downloader is never reached; tests/test_ocr_offline.py proves it with sockets
blocked.

How a photo is read (each step measured on the tune split, see bench/bench_ocr.py):

1. the PP-OCR detector finds text lines on a copy no larger than `max_side`; when no line
   holds a code-length run of digits (or only a printed one, beside larger digits: a code
   cut into pieces), it looks again at `RETRY_SIDE` (hard photos only), then once more on
   a blurred copy (a dot-matrix number's dots merge into strokes); for handwriting, last
   inside the largest boxes that hold no line (a sheet with small writing, boxed whole),
   and a line read as a few digits short of a code is read again in a longer box (a digit
   at its end that the detector left out);
2. each line is cut out of the full image the engine was given (rectified, `boxes.py`) and
   scaled to the recogniser's own height, instead of reading a downscaled photo;
3. the paper may lie at any rotation: lines are read in both possible directions (0/180 for
   wide boxes, 90/270 for tall ones) and the direction the recogniser is surer of, over all
   lines of the photo, wins; a line whose own evidence is torn keeps both readings;
4. the recogniser's per-frame probabilities give each character its probability and
   P(0..9) at its place (`ctc.py`, `vocabulary.Char`);
5. two readers of handwritten digits read the same line: the digit CNN glyph by glyph
   (`digits.py`; when its pieces of ink are not as many as the digits that the line
   recogniser and PP-OCR both read there, the line is cut where the line recogniser read
   them), the line recogniser as a whole (`lines.py`, CTC like PP-OCR's rec);
   a candidate counts every reader that read exactly its digits (`Candidate.agree`, 1-3).

The engine only reads: `ask` returns every candidate, most confident first; `read_candidates`
returns them with their confidences, for the rules to judge (`rules/judge.py`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from proofwatch.config import OcrConfig
from proofwatch.engines.base import EngineError, EngineUnavailable, Question, Reading
from proofwatch.engines.boxes import (
    LINE_ASPECT,
    Array,
    Quad,
    area,
    crop,
    digit_gray,
    is_tall,
    joined_lines,
    measure,
    rotated,
    upright,
    widened,
)
from proofwatch.engines.ctc import ctc_decode, ctc_frames, digit_runs
from proofwatch.engines.digits import MODEL_PATH as DIGITS_MODEL
from proofwatch.engines.digits import DigitLine, DigitModel
from proofwatch.engines.lines import CHARSET as LINE_CHARSET
from proofwatch.engines.lines import MODEL_PATH as LINES_MODEL
from proofwatch.engines.lines import LineModel, frame_x, prepare_line
from proofwatch.engines.onnx import give_back_free_memory, no_telemetry, open_session
from proofwatch.vocabulary import Candidate, Char, mean_char

# The defaults live with every other setting, in config.py (tune split: 53/60 codes read
# with the detector at 400-480 px, 51 at 640).
DEFAULT_MAX_SIDE = OcrConfig().max_image_side
DEFAULT_MIN_SCORE = OcrConfig().min_score
LABEL = "ocr:rapidocr"
MAX_CANDIDATES = 64
REC_HEIGHT = 48  # PP-OCR rec input height
REC_MAX_WIDTH = 1600
REC_MIN_WIDTH = 160
REC_BATCH = 8
# The detector keeps a box whose mean text score is at least this (rapidocr's default: 0.5).
# A faint or thin handwritten digit scores less: from 0.3, 2 more of 600 right tune codes
# pass (69982 was boxed without its 2), shaken ones 255 instead of 254 of 300, and 104
# instead of 103 of 200 shaken one digit off fail; no code one digit off passed, no right
# code failed. Print stays at 0.5: the looks for handwriting below (0.3, widened lines, the
# sheets) passed 191 instead of 196 of 200 tune seals, most of them printed in dots.
HANDWRITING_BOX_SCORE = 0.3
PRINT_BOX_SCORE = 0.5
ORIENT_LINES = 8  # the largest lines, read both ways to settle the sheet's direction
MAX_LINES = 24  # a photo of a printed page: read the largest lines only
TORN = 0.08  # a line whose two directions score within this of each other keeps both
# A second look on hard photos only: when no line read at `max_side` holds a run of at least
# RETRY_DIGITS digits read by PP-OCR or by two readers (a code split by the detector, or
# small writing missed; the line recogniser alone reads digits into a seal's dots: with
# the ninth session's recogniser, 182 instead of 187 of 200 tune seals), the detector
# runs again at RETRY_SIDE and both looks' candidates are kept (tune: 42 -> 45 of 60 codes
# pass, seals 26 -> 28 of 30; 720 px gave 44; retrying also on unsure codes gave 46 but
# tripled the median time).
# A printed number on the sheet ("Item 4963699") is such a run, yet the handwritten code may
# be cut into pieces beside it: the second look is also taken when no two readers read any
# code-length run alike and a shorter run of digits is written PIECES times larger than
# every code-length one (tune: right codes 824 -> 832 of 900 pass, one digit off 309 -> 312
# of 400 fail, no false pass).
# For handwriting it is taken whenever no two readers read a code-length run alike: the
# larger look boxes a code the first one missed among print, or cut differently (tune, 900
# right codes: 840 -> 849 pass, 400 one digit off: 289 -> 291 fail; median time 0.19 s
# both ways, p90 0.35 -> 0.38 s). Not for print, which PP-OCR reads alone: nearly every
# seal photo would take that look (tune, 200 seals: 196 -> 198 pass, 0.21 -> 0.75 s median).
RETRY_SIDE = 960
RETRY_DIGITS = 5
PIECES = 1.2
# A third look when the second found no code either, at a copy blurred by this share of its
# long side (6 px at 1,600), detected at `max_side`: the dots of a dot-matrix number merge
# into strokes PP-OCR reads (tune: seal numbers 181 -> 184 of 200 pass, handwriting 274 ->
# 276 of 300; no wrong code passed, no right one failed; 3 px read 6 of 8 dot-matrix seals,
# 6 px 8 of 8; detected at 960 px, the same counts for twice the detector's memory). A
# photo without a code costs 0.2 s more (blank paper: 0.63 -> 0.83 s median).
SOFT_SHARE = 6 / 1600
# Handwriting sought, a line read as SHORT_RUN or more digits but fewer than a code's
# RETRY_DIGITS, and nothing else, is read again in a box longer by WIDEN heights at each
# end: the detector often leaves out a lone digit at the end of a handwritten line, a round 0
# most of all. Tune, with the look inside sheets below (both new at once): right codes 572
# -> 575 of 600 pass (29320 and 01937 read so, 09611 inside its sheet), shaken 255 -> 257 of
# 300; one digit off 444 -> 446 of 600 fail, shaken 104 -> 105 of 200; no right code
# failed, none one digit off passed.
SHORT_RUN = 3
WIDEN = 0.75
# When no look read a handwritten code, the SHEETS largest boxes that hold no line of text
# (a sheet with small writing, boxed whole) are looked at on their own, at up to RETRY_SIDE:
# their writing then fills the detector's view (tune: see WIDEN). Boxes smaller than
# SHEET_MIN px hold no line worth it; one covering SHEET_MAX_SHARE of the photo or more is
# the photo, seen already.
SHEETS = 2
SHEET_MIN = 32
SHEET_MAX_SHARE = 0.9

PRESENCE_PROBLEM = "the OCR engine reads text only; it cannot judge whether something is visible"
NOTHING_READ = "the OCR engine read no text with enough confidence"


def model_files() -> dict[str, Path]:
    """The PP-OCR weights inside the installed rapidocr wheel (not imported: found on disk)."""
    import importlib.util

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        raise EngineUnavailable("the OCR engine is not installed (rapidocr)")
    models = Path(spec.origin).parent / "models"
    files = {
        "det": models / "PP-OCRv6_det_small.onnx",
        "rec": models / "PP-OCRv6_rec_small.onnx",
        "cls": models
        / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",  # never run; named so none is fetched
    }
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise EngineUnavailable(f"the OCR engine's model files are missing: {', '.join(missing)}")
    return files


def rapidocr_params(files: dict[str, Path], det_side: int = DEFAULT_MAX_SIDE) -> dict[str, Any]:
    """rapidocr settings that name every model file: with a path given it downloads nothing."""
    return {
        # The detector sees the copy at its own size (rapidocr's default would enlarge a
        # 960 px photo to 736 px on its short side: 1 s of CPU for no better boxes).
        "Det.limit_type": "max",
        "Det.limit_side_len": det_side,
        "Global.log_level": "error",
        "Global.use_cls": False,
        "Global.use_rec": False,  # our own rec session reads the lines (per-frame output)
        "Global.text_score": 0.0,
        "Det.model_path": str(files["det"]),
        "Cls.model_path": str(files["cls"]),
        "Rec.model_path": str(files["rec"]),
        "EngineConfig.onnxruntime.intra_op_num_threads": 2,
    }


# --- pure parts: the readers' candidates of a line -----------------------------------------


def merge(
    ocr: Sequence[Candidate], cnn: DigitLine | None, line: Candidate | None = None
) -> list[Candidate]:
    """PP-OCR's digit runs of one line, with the CNN's and the line reader's readings of it.

    Readings of the same text are one candidate: `agree` counts the readers that read it,
    each character's probabilities are their mean (and the least sure reader's is kept).
    """
    readings: list[list[Candidate]] = [list(ocr)]
    if cnn is not None and cnn.text:
        cnn_chars = tuple(
            Char(ch, max(p[:10]), tuple(p[:10])) for ch, p in zip(cnn.text, cnn.probs, strict=True)
        )
        readings.append([Candidate(cnn.text, cnn_chars, "cnn")])
    if line is not None and line.text:
        readings.append([line])
    out: list[Candidate] = []
    for reader in readings:
        for cand in reader:
            same = next((i for i, c in enumerate(out) if c.text == cand.text), None)
            if same is None:
                out.append(cand)
                continue
            known = out[same]
            if cand.source in known.readers:
                continue  # one reader's second run of the same digits is no second opinion
            own = (*(known.own or (known.chars,)), cand.chars)
            chars = tuple(mean_char(place) for place in zip(*own, strict=True))
            source = f"{known.source}+{cand.source}"
            out[same] = Candidate(known.text, chars, source, known.agree + 1, own=own)
    return out


def values_of(candidates: Iterable[Candidate]) -> tuple[str, ...]:
    """The plain strings for `Reading.values`: most agreed and most confident first."""
    ordered = sorted(candidates, key=lambda c: (-c.agree, -c.confidence))
    return tuple(dict.fromkeys(c.text for c in ordered if c.text))[:MAX_CANDIDATES]


# --- the engine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One detected line: its corners in the image read, and its readings (both directions
    when the evidence was torn)."""

    box: Quad
    text: str
    score: float
    turn: int  # degrees the crop was turned to read it (0, 90, 180, 270)
    candidates: tuple[Candidate, ...]


class OcrEngine:
    """PP-OCRv6 detector + recogniser and the two digit readers, loaded once, shared by threads.

    Inference is serialised (each model already uses both cores). Lines read with a mean
    confidence below `min_score` (0..1) are dropped.
    """

    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    def __init__(
        self,
        max_side: int = DEFAULT_MAX_SIDE,
        min_score: float = DEFAULT_MIN_SCORE,
        digits_model: Path | None = DIGITS_MODEL,
        lines_model: Path | None = LINES_MODEL,
    ) -> None:
        if max_side < 64:
            raise ValueError(f"max_side must be at least 64 pixels, not {max_side}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        self.max_side = max_side
        self.min_score = min_score
        self.digits_path = digits_model
        self.lines_path = lines_model
        self._model: Any = None
        self._rec: Any = None
        self._charset: list[str] = []
        self._digits: DigitModel | None = None
        self._lines: LineModel | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def label(self) -> str:
        return LABEL

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load every model now (else on first use); idempotent, thread-safe."""
        if self._model is not None:
            return
        with self._load_lock:
            if self._model is not None:
                return
            no_telemetry()
            try:
                from rapidocr import RapidOCR  # slow import: only when needed
            except ImportError as exc:
                raise EngineUnavailable(
                    f"the OCR engine is not installed (rapidocr): {exc}"
                ) from exc
            files = model_files()
            try:
                # The detector's own limit is the larger look's: `_detect` shrinks each copy.
                side = max(self.max_side, RETRY_SIDE)
                model = RapidOCR(params=rapidocr_params(files, side))
                # rapidocr opens its detector lazily; open it now, on a blank page.
                model(np.full((64, 64, 3), 255, np.uint8), use_det=True, use_rec=False)
                # It runs its own session's settings; ours (no memory pattern) held 140 MiB
                # less after a 960 px look, and lean (basic optimisations) peaks 60 MiB lower
                # there for 14 % more time. rapidocr is pinned; tests check the swap holds.
                detector: Any = model.text_det
                detector.session.session = open_session(files["det"], threads=2, lean=True)
                rec = open_session(files["rec"], threads=2)
                listed = rec.get_modelmeta().custom_metadata_map["character"].splitlines()
                digits = None
                if self.digits_path is not None and self.digits_path.is_file():
                    digits = DigitModel(self.digits_path)
                    digits.load()
                lines = None
                if self.lines_path is not None and self.lines_path.is_file():
                    lines = LineModel(self.lines_path)
                    lines.load()
            except EngineError:
                raise
            except Exception as exc:
                raise EngineUnavailable(
                    f"the OCR engine failed to load ({type(exc).__name__}: {exc})"
                ) from exc
            self._rec = rec
            self._charset = ["blank", *listed, " "]
            self._digits = digits
            self._lines = lines
            self._model = model

    # - reading -

    def _detect(self, bgr: Array, side: int, min_score: float) -> list[Quad]:
        """The boxes of text whose mean text score is `min_score` or more, largest first,
        with the lines that several of them make up (`joined_lines`)."""
        h, w = bgr.shape[:2]
        scale = min(1.0, side / max(h, w))
        import cv2

        small = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        # rapidocr returns the boxes sorted and their scores not: its own filter is the one
        # that knows which score is whose (the engine reads under `_run_lock`).
        self._model.text_det.postprocess_op.box_thresh = min_score
        out = self._model(small, use_det=True, use_cls=False, use_rec=False)
        boxes = getattr(out, "boxes", None)
        if boxes is None:
            return []
        found = [tuple((float(x) / scale, float(y) / scale) for x, y in box) for box in boxes]
        found = sorted(found, key=area, reverse=True)[:MAX_LINES]
        return sorted(found + joined_lines(found), key=area, reverse=True)

    def _recognise(self, crops: Sequence[Array]) -> list[tuple[str, tuple[Char, ...]]]:
        """PP-OCR rec on upright BGR line crops, batched; each with per-char detail."""
        import cv2

        if not crops:
            return []
        widths = [
            min(REC_MAX_WIDTH, max(8, math.ceil(REC_HEIGHT * c.shape[1] / max(1, c.shape[0]))))
            for c in crops
        ]
        out: list[tuple[str, tuple[Char, ...]]] = [("", ())] * len(crops)
        # Batches of similar widths: padding a short line to the longest one costs time.
        order = sorted(range(len(crops)), key=lambda i: widths[i])
        for start in range(0, len(order), REC_BATCH):
            group = order[start : start + REC_BATCH]
            width = max(max(widths[i] for i in group), REC_MIN_WIDTH)
            batch = np.zeros((len(group), 3, REC_HEIGHT, width), np.float32)
            for row, i in enumerate(group):
                resized = cv2.resize(
                    crops[i], (widths[i], REC_HEIGHT), interpolation=cv2.INTER_AREA
                )
                batch[row, :, :, : widths[i]] = resized.transpose(2, 0, 1) / 127.5 - 1.0
            (probs,) = self._rec.run(None, {self._rec.get_inputs()[0].name: batch})
            for row, i in enumerate(group):
                out[i] = ctc_decode(np.asarray(probs[row]), self._charset)
        return out

    def read_lines(self, image: Image.Image, handwriting: bool = True) -> list[Line]:
        """Every line of text in `image` (upright as the pipeline decoded it), read; looked at
        harder when `handwriting` is sought."""
        self.load()
        try:
            with self._run_lock:
                try:
                    return self._read_lines(image, handwriting)
                finally:
                    give_back_free_memory()
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"the OCR engine failed ({type(exc).__name__}: {exc})") from exc

    def _read_lines(self, image: Image.Image, handwriting: bool) -> list[Line]:
        rgb = np.asarray(image.convert("RGB"))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        lines = self._read_at(bgr, self.max_side, handwriting)
        if (
            self.max_side < RETRY_SIDE
            and max(bgr.shape[:2]) > self.max_side
            and _worth_a_larger_look(lines, handwriting)
        ):
            lines += self._read_at(bgr, RETRY_SIDE, handwriting)
        if _weak(lines):
            import cv2

            soft = cv2.GaussianBlur(bgr, (0, 0), SOFT_SHARE * max(bgr.shape[:2]))
            lines += self._read_at(np.asarray(soft), self.max_side, handwriting)
        if handwriting and _weak(lines):
            lines += self._read_inside(bgr, lines)
        return lines

    def _read_inside(self, bgr: Array, lines: Sequence[Line]) -> list[Line]:
        """The lines found inside the largest boxes that hold no line of text (a sheet with
        small writing, boxed whole), each looked at on its own."""
        inside: list[Line] = []
        for x0, y0, x1, y1 in _sheets(lines, bgr.shape[:2])[:SHEETS]:
            sheet = np.ascontiguousarray(bgr[y0:y1, x0:x1])
            for line in self._read_at(sheet, RETRY_SIDE, handwriting=True):
                box = tuple((x + x0, y + y0) for x, y in line.box)
                inside.append(replace(line, box=box))
        return inside

    def _read_at(self, bgr: Array, side: int, handwriting: bool) -> list[Line]:
        min_score = HANDWRITING_BOX_SCORE if handwriting else PRINT_BOX_SCORE
        lines = self._read_boxes(bgr, self._detect(bgr, side, min_score))
        if not handwriting:
            return lines
        # A digit at a line's end that the detector left out (a lone 0 looks like no text to
        # it): such lines are read again, longer.
        longer = [widened(ln.box, WIDEN) for ln in lines if _cut_short(ln)]
        return lines + self._read_boxes(bgr, longer) if longer else lines

    def _read_boxes(self, bgr: Array, found: Sequence[Quad]) -> list[Line]:
        """The lines in these boxes, read."""
        if not found:
            return []
        crops = [crop(bgr, quad) for quad in found]
        tall = sum(area(q) for q, c in zip(found, crops, strict=True) if is_tall(c))
        wide = sum(area(q) for q in found) - tall
        # The lines of one sheet share its direction: read all at both candidates.
        turns = (90, 270) if tall > wide else (0, 180)
        turned = {t: [rotated(upright(c), t) for c in crops] for t in turns}
        # The direction is settled on the largest lines (the code is among them); the
        # rest are read in that direction only.
        probe = {t: self._recognise(turned[t][:ORIENT_LINES]) for t in turns}
        weight = {t: sum(_line_weight(chars) for _, chars in probe[t]) for t in turns}
        first, second = sorted(turns, key=lambda t: -weight[t])
        reads = probe[first] + self._recognise(turned[first][ORIENT_LINES:])
        lines: list[Line] = []
        for i, quad in enumerate(found):
            text, chars = reads[i]
            keep = [(first, text, chars)]
            alt_text, alt_chars = probe[second][i] if i < ORIENT_LINES else reads[i]
            if abs(_mean_prob(alt_chars) - _mean_prob(chars)) < TORN or (
                _mean_prob(alt_chars) > _mean_prob(chars) + TORN
            ):
                keep.append((second, alt_text, alt_chars))
            cands: list[Candidate] = []
            best_score = 0.0
            for turn, t_text, t_chars in keep:
                score = _mean_prob(t_chars)
                best_score = max(best_score, score)
                if score < self.min_score:
                    continue
                ocr = [
                    Candidate(run, run_chars, "ppocr")
                    for run, run_chars in digit_runs(t_text, t_chars)
                ]
                cnn = line = None
                if ocr and (self._digits is not None or self._lines is not None):
                    gray = digit_gray(turned[turn][i])
                    places: list[float] = []
                    if self._lines is not None:
                        prepared = prepare_line(gray)
                        (frames,) = self._lines.frames([prepared])
                        digits, line_chars = ctc_decode(frames, LINE_CHARSET)
                        line = Candidate(digits, line_chars, "line")
                        if any(len(c.text) == len(digits) for c in ocr):
                            # PP-OCR read as many digits there: the CNN may cut at them.
                            scale = gray.shape[1] / prepared.shape[1]
                            places = [frame_x(f) * scale for f in ctc_frames(frames)]
                    if self._digits is not None:
                        cnn = self._digits.read_line(gray, places)
                cands.extend(replace(c, turn=turn) for c in merge(ocr, cnn, line))
            lines.append(Line(quad, text.strip(), best_score, first, tuple(cands)))
        return lines

    def read_candidates(
        self, image: Image.Image, handwriting: bool = True
    ) -> tuple[Candidate, ...]:
        """Every digit string read in `image`, with its confidence, best first."""
        cands = numbered(self.read_lines(image, handwriting))
        return tuple(sorted(cands, key=lambda c: (-c.agree, -c.confidence)))

    def ask(self, image: Image.Image, questions: Sequence[Question]) -> dict[str, Reading]:
        answers: dict[str, Reading] = {}
        text_questions = [q for q in questions if q.kind == "text"]
        if text_questions:
            handwriting = any(q.writing == "handwriting" for q in text_questions)
            lines = self.read_lines(image, handwriting)
            cands = numbered(lines)
            words = [line.text for line in lines if line.score >= self.min_score and line.text]
            values = tuple(dict.fromkeys([*values_of(cands), *words]))[:MAX_CANDIDATES]
            problem = None if values else NOTHING_READ
            for question in text_questions:
                answers[question.key] = _reading(values, problem, tuple(cands))
        for question in questions:
            if question.kind != "text":
                answers[question.key] = Reading(LABEL, (), PRESENCE_PROBLEM)
        return answers


def numbered(lines: Sequence[Line]) -> list[Candidate]:
    """Every line's candidates, each marked with the number of the line it was read on."""
    return [replace(c, line=i) for i, line in enumerate(lines) for c in line.candidates]


def _reading(values: tuple[str, ...], problem: str | None, cands: tuple[Candidate, ...]) -> Reading:
    return Reading(LABEL, values, problem, candidates=cands)


def _sheets(lines: Sequence[Line], shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """The bounds (left, top, right, bottom) of boxes that are no line of text (less than
    `LINE_ASPECT` times longer than high) and read no code, largest first; not the whole
    photo (it was looked at), nor a box too small to hold a line."""
    height, width = shape[:2]
    found = []
    for line in lines:
        _, _, _, length, across = measure(line.box)
        if length >= LINE_ASPECT * across or any(
            len(c.text) >= RETRY_DIGITS for c in line.candidates
        ):
            continue
        xs, ys = [x for x, _ in line.box], [y for _, y in line.box]
        x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
        x1, y1 = min(width, math.ceil(max(xs))), min(height, math.ceil(max(ys)))
        area = (x1 - x0) * (y1 - y0)
        if min(x1 - x0, y1 - y0) >= SHEET_MIN and area <= SHEET_MAX_SHARE * width * height:
            found.append((area, (x0, y0, x1, y1)))
    return [bounds for _, bounds in sorted(found, key=lambda item: -item[0])]


def _cut_short(line: Line) -> bool:
    """The whole line was read as a run of digits just shorter than a code, by two readers or
    more: a digit at its end may lie outside the box."""
    return any(
        c.agree >= 2 and c.text == line.text and SHORT_RUN <= len(c.text) < RETRY_DIGITS
        for c in line.candidates
    )


def _weak(lines: Sequence[Line]) -> bool:
    """No line gave a code-length run of digits that PP-OCR or two readers read: worth a
    second look. The handwriting readers alone see digits in any print (a seal's dots)."""
    return not any(
        len(c.text) >= RETRY_DIGITS and (c.agree >= 2 or "ppocr" in c.readers)
        for line in lines
        for c in line.candidates
    )


def _worth_a_larger_look(lines: Sequence[Line], handwriting: bool) -> bool:
    """No code read at all; or, unless two readers read a code alike, handwriting sought or
    the code cut into pieces."""
    if _weak(lines):
        return True
    agreed = any(
        len(c.text) >= RETRY_DIGITS and c.agree >= 2 for ln in lines for c in ln.candidates
    )
    return not agreed and (handwriting or _in_pieces(lines))


def _in_pieces(lines: Sequence[Line]) -> bool:
    """A shorter run of digits is written larger than every code-length one: a handwritten
    code cut into pieces, most likely."""
    runs = [(measure(ln.box)[4], c) for ln in lines for c in ln.candidates]
    code = [height for height, c in runs if len(c.text) >= RETRY_DIGITS]
    short = [height for height, c in runs if 0 < len(c.text) < RETRY_DIGITS]
    return bool(code and short) and max(short) >= PIECES * max(code)


def _mean_prob(chars: Sequence[Char]) -> float:
    real = [c.prob for c in chars if c.text.strip()]
    return sum(real) / len(real) if real else 0.0


def _line_weight(chars: Sequence[Char]) -> float:
    """How much a line says about the direction: sure characters, many of them."""
    return sum(c.prob for c in chars if c.text.strip())
