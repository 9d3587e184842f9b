"""The embedded OCR engine: real PP-OCR on generated photos, and its edges with a fake model."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from proofwatch.engines.base import EngineError, EngineUnavailable, Question
from proofwatch.engines.ocr import (
    LABEL,
    NOTHING_READ,
    PRESENCE_PROBLEM,
    Block,
    OcrEngine,
    candidates,
)
from proofwatch.samples import blank_paper, draw_code

CODE = Question("code", "text", "Transcribe the code handwritten on the paper, exactly.")
DEVICE = Question("device", "presence", "Is the device visible?")
_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "S": "5", "B": "8", "Z": "2"})


def _normalised(values: tuple[str, ...]) -> set[str]:
    return {"".join(v.split()).translate(_DIGITS) for v in values}


@pytest.fixture(scope="module")
def engine() -> Iterator[OcrEngine]:
    ocr = OcrEngine()
    ocr.load()  # once for the whole module
    yield ocr


# --- the real engine on generated photos ----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "seed", "style"),
    [
        ("48213", 1, "neat"),
        ("90517", 2, "font"),
        ("36074", 3, "tilted"),
        ("51962", 4, "distractors"),
    ],
)
def test_reads_the_code_on_a_proof_photo(
    engine: OcrEngine, code: str, seed: int, style: str
) -> None:
    image = draw_code(code, seed=seed, style=style)
    reading = engine.ask(image, [CODE])["code"]
    assert reading.engine == LABEL
    assert reading.problem is None
    assert code in _normalised(reading.values), reading.values


def test_a_code_one_digit_off_is_not_read_as_the_expected_one(engine: OcrEngine) -> None:
    # 48213 expected, 48218 written (3 and 8 look alike): the expected code is never offered.
    reading = engine.ask(draw_code("48218", seed=7, avoid=("48213",)), [CODE])["code"]
    assert "48218" in _normalised(reading.values)
    assert "48213" not in _normalised(reading.values)


def test_blank_paper_gives_no_code(engine: OcrEngine) -> None:
    for seed in (5, 6):
        reading = engine.ask(blank_paper(seed), [CODE])["code"]
        # Table clutter may pass for a stray character, never for a number.
        assert not [v for v in _normalised(reading.values) if re.search(r"\d{3}", v)]
        assert reading.problem == (None if reading.values else NOTHING_READ)


def test_printed_distractors_are_read_but_never_the_avoided_code(engine: OcrEngine) -> None:
    image = blank_paper(8, distractors=True, avoid=("48213",))
    reading = engine.ask(image, [CODE])["code"]
    assert reading.values, "the printed numbers should be read"
    assert any("ignore" in v.lower() for v in reading.values)
    assert "48213" not in _normalised(reading.values)


def test_presence_gets_a_problem_and_text_still_answered(engine: OcrEngine) -> None:
    readings = engine.ask(draw_code("48213", seed=1), [DEVICE, CODE])
    assert set(readings) == {"device", "code"}
    device = readings["device"]
    assert device.values == () and device.problem == PRESENCE_PROBLEM
    assert device.engine == LABEL
    assert "48213" in _normalised(readings["code"].values)


def test_caller_image_is_untouched(engine: OcrEngine) -> None:
    image = draw_code("48213", seed=1)
    before = image.tobytes()
    engine.ask(image, [CODE])
    assert image.size == (1600, 1200) and image.tobytes() == before


# --- edges, with a fake model in place of PP-OCR --------------------------------------------


class FakeModel:
    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.result = result
        self.error = error
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, image: Image.Image) -> tuple[Any, Any]:
        self.sizes.append(image.size)
        if self.error is not None:
            raise self.error
        return self.result, [0.1]


def _fake_engine(model: FakeModel, **kwargs: Any) -> OcrEngine:
    engine = OcrEngine(**kwargs)
    engine._model = model  # skip loading PP-OCR
    return engine


def _box(left: float, top: float, right: float, bottom: float) -> list[list[float]]:
    return [[left, top], [right, top], [right, bottom], [left, bottom]]


def test_nothing_found_is_handled() -> None:
    engine = _fake_engine(FakeModel(result=None))
    reading = engine.ask(Image.new("RGB", (100, 80), "white"), [CODE])["code"]
    assert reading.values == () and reading.problem == NOTHING_READ


def test_low_confidence_blocks_are_dropped() -> None:
    result = [[_box(0, 0, 100, 30), "48213", 0.2], [_box(0, 50, 100, 80), "77", 0.95]]
    reading = _fake_engine(FakeModel(result), min_score=0.5).ask(
        Image.new("RGB", (100, 80)), [CODE]
    )["code"]
    assert reading.values == ("77",)
    everything = _fake_engine(FakeModel(result), min_score=0.1).ask(
        Image.new("RGB", (100, 80)), [CODE]
    )["code"]
    assert "48213" in everything.values


def test_runtime_errors_become_engine_errors() -> None:
    engine = _fake_engine(FakeModel(error=RuntimeError("onnx exploded")))
    with pytest.raises(EngineError, match="onnx exploded"):
        engine.ask(Image.new("RGB", (100, 80)), [CODE])


def test_malformed_results_become_engine_errors() -> None:
    engine = _fake_engine(FakeModel(result=["not a block"]))
    with pytest.raises(EngineError, match="unexpected"):
        engine.ask(Image.new("RGB", (100, 80)), [CODE])


def test_the_image_is_downscaled_to_max_side() -> None:
    model = FakeModel(result=None)
    engine = _fake_engine(model, max_side=640)
    engine.ask(Image.new("RGB", (4000, 3000)), [CODE])
    engine.ask(Image.new("RGB", (300, 200)), [CODE])  # never scaled up
    assert model.sizes == [(640, 480), (300, 200)]


def test_no_model_call_without_text_questions() -> None:
    model = FakeModel(error=RuntimeError("must not run"))
    readings = _fake_engine(model).ask(Image.new("RGB", (10, 10)), [DEVICE])
    assert readings["device"].problem == PRESENCE_PROBLEM and model.sizes == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        OcrEngine(max_side=10)
    with pytest.raises(ValueError):
        OcrEngine(min_score=1.5)


def test_loads_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import rapidocr_onnxruntime

    made: list[int] = []

    class SlowRapidOCR:
        def __init__(self, **kwargs: Any) -> None:
            time.sleep(0.05)
            made.append(1)

    monkeypatch.setattr(rapidocr_onnxruntime, "RapidOCR", SlowRapidOCR)
    engine = OcrEngine()
    threads = [threading.Thread(target=engine.load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == [1] and engine.loaded


def test_missing_package_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)
    with pytest.raises(EngineUnavailable, match="not installed"):
        OcrEngine().load()


def test_failing_load_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import rapidocr_onnxruntime

    def broken(**kwargs: Any) -> None:
        raise OSError("model file missing")

    monkeypatch.setattr(rapidocr_onnxruntime, "RapidOCR", broken)
    with pytest.raises(EngineUnavailable, match="model file missing"):
        OcrEngine().load()


def test_importing_the_engine_does_not_import_rapidocr() -> None:
    code = (
        "import sys, proofwatch.engines.ocr; "
        "sys.exit('rapidocr_onnxruntime' in sys.modules or 'onnxruntime' in sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- candidates: what a reading offers the rules ---------------------------------------------


def test_candidates_offer_text_tokens_and_digit_runs() -> None:
    blocks = [Block(((0, 0), (200, 0), (200, 40), (0, 40)), "Code: 48 213.", 0.9)]
    values = candidates(blocks, 0.5)
    assert values[0] == "48"  # digit runs first
    assert {"48", "213", "48213", "Code: 48 213.", "Code:48213.", "Code"} <= set(values)
    assert len(values) == len(set(values))


def test_candidates_keep_digit_look_alikes_for_the_rules() -> None:
    values = candidates([Block(((0, 0), (9, 0), (9, 9), (0, 9)), "N° 4B2l3", 0.9)], 0.5)
    assert "4B2l3" in values  # the rules map B->8, l->1; the engine does not judge


def test_candidates_join_a_code_split_along_a_line() -> None:
    blocks = [
        Block(((200, 10), (300, 10), (300, 90), (200, 90)), "13", 0.95),
        Block(((20, 0), (180, 0), (180, 80), (20, 80)), "482", 0.9),
        Block(((20, 300), (180, 300), (180, 380), (20, 380)), "77", 0.9),  # another line
    ]
    values = candidates(blocks, 0.5)
    assert "48213" in values
    assert "4821377" not in values and "1377" not in values


def test_candidates_drop_low_scores_and_order_by_confidence() -> None:
    blocks = [
        Block(((0, 0), (9, 0), (9, 9), (0, 9)), "111", 0.7),
        Block(((0, 50), (9, 50), (9, 59), (0, 59)), "222", 0.99),
        Block(((0, 90), (9, 90), (9, 99), (0, 99)), "333", 0.3),
    ]
    assert candidates(blocks, 0.5) == ("222", "111")
