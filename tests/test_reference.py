"""Reference rules: the pure decision, and the CPU matcher on a real stereo pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from proofwatch.engines import matcher
from proofwatch.rules.decide import Facts, Similarity, decide, decide_reference
from proofwatch.rules.loader import check_rules, load_rules
from proofwatch.rules.model import Rule
from proofwatch.vocabulary import Request

RULE = Rule(
    name="device-match",
    kind="reference",
    references="references/devices",
    expect="request.expect.device",
    min_score=12,
    margin=8,
)
WANT_A = Request(expect={"device": "cage-a"})


def judge(scores: dict[str, float], request: Request = WANT_A, **extra: Any) -> Any:
    return decide_reference(RULE, request, Similarity("cpu:sift", scores, **extra))


def test_the_expected_object_clearly_best_passes_and_reports_score_and_margin() -> None:
    result = judge({"cage-a": 40, "cage-b": 3, "cage-c": 0})
    assert result.status == "pass"
    assert result.observed == {"object": "cage-a", "score": 40, "margin": 37}
    assert result.expected == "cage-a"
    assert "cage-b" in result.detail


def test_another_object_clearly_best_fails() -> None:
    result = judge({"cage-a": 2, "cage-b": 55})
    assert result.status == "fail"
    assert result.observed["object"] == "cage-b"
    assert "expected cage-a" in result.detail


@pytest.mark.parametrize(
    "scores",
    [
        {"cage-a": 30, "cage-b": 25},  # two objects too close: never pass, never fail
        {"cage-a": 25, "cage-b": 30},
        {"cage-a": 11, "cage-b": 0},  # below min_score: not recognised with confidence
        {"cage-a": 0, "cage-b": 0},  # nothing: a blurred right photo scores 0 too
    ],
)
def test_anything_unclear_is_undecided(scores: dict[str, float]) -> None:
    assert judge(scores).status == "review"


def test_a_single_registered_object_needs_min_score_over_no_object() -> None:
    assert judge({"cage-a": 12}).status == "pass"
    assert judge({"cage-a": 11}).status == "review"


def test_request_without_the_value_or_naming_an_unknown_object_is_undecided() -> None:
    missing = judge({"cage-a": 40}, Request())
    assert (missing.status, missing.reason_code) == ("review", "request_missing_value")
    unknown = judge({"cage-a": 40}, Request(expect={"device": "cage-z"}))
    assert (unknown.status, unknown.reason_code) == ("review", "expected_value_invalid")
    assert "cage-z" in unknown.detail


def test_an_engine_problem_is_undecided() -> None:
    result = judge({}, problem="no features")
    assert (result.status, result.reason_code) == ("review", "model_no_answer")


def test_decide_dispatches_and_two_engines_must_agree() -> None:
    sure = Similarity("cpu:sift", {"cage-a": 40, "cage-b": 0})
    other = Similarity("model", {"cage-a": 0, "cage-b": 1})
    assert decide(RULE, Facts(WANT_A, similarity={RULE.name: [sure]})).status == "pass"
    both = decide(RULE, Facts(WANT_A, similarity={RULE.name: [sure, other]}))
    assert both.status == "review"
    assert decide(RULE, Facts(WANT_A)).reason_code == "no_engine"


# -- the matcher, on scikit-image's stereo pair: one motorcycle, two viewpoints


@pytest.fixture(scope="module")
def stereo() -> tuple[Image.Image, Image.Image]:
    objects = pytest.importorskip("proofgen.objects")
    left = Image.open(objects._folder("skimage") / "motorcycle_left.png").convert("RGB")
    right = Image.open(objects._folder("skimage") / "motorcycle_right.png").convert("RGB")
    return left, right


def test_the_other_viewpoint_matches_and_an_unrelated_photo_does_not(
    stereo: tuple[Image.Image, Image.Image],
) -> None:
    left, right = stereo
    unrelated = Image.effect_mandelbrot((640, 480), (-2, -1.2, 1, 1.2), 60).convert("RGB")
    gallery = matcher.Gallery(
        {"motorcycle": [matcher.reference_features(left)],
         "fractal": [matcher.reference_features(unrelated)]}
    )  # fmt: skip
    seen = gallery.scores(matcher.features(right.rotate(25, expand=True)))
    assert seen["motorcycle"] >= 40
    assert seen["fractal"] < 12


def test_an_object_seen_steeply_matches_its_reference_seen_at_a_slant(
    stereo: tuple[Image.Image, Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    left = stereo[0]
    steep = left.resize((left.width // 3, left.height))  # seen from far to its side

    def score() -> int:
        cv2.setRNGSeed(5)  # RANSAC's draws: the same whatever ran before
        gallery = matcher.Gallery({"motorcycle": [matcher.reference_features(left)]})
        return gallery.scores(matcher.features(steep))["motorcycle"]

    slanted = score()
    monkeypatch.setattr(matcher, "TILTS", ())  # the reference seen square on only
    square_on = score()
    assert slanted >= 30 and square_on * 3 < slanted  # 8-12 points square on: hardly a match


def test_an_object_in_a_dim_soft_photo_still_matches(
    stereo: tuple[Image.Image, Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    left, right = stereo
    # The other camera's view, small in the frame, in poor light and a little out of focus.
    dim = ImageEnhance.Brightness(ImageEnhance.Contrast(right).enhance(0.25)).enhance(0.5)
    soft = dim.resize((right.width // 2, right.height // 2)).filter(ImageFilter.GaussianBlur(1))
    photo = Image.new("RGB", (right.width, right.height), (40, 38, 36))
    photo.paste(soft, (right.width // 4, right.height // 4))

    def score() -> int:
        cv2.setRNGSeed(5)
        gallery = matcher.Gallery({"motorcycle": [matcher.reference_features(left)]})
        return gallery.scores(matcher.features(photo))["motorcycle"]

    found = score()
    monkeypatch.setattr(matcher, "CONTRAST", 0.04)  # SIFT's default: too few corners here
    default = score()
    assert found >= RULE.min_score + RULE.margin and default * 2 < found


def test_features_survive_the_cache_round_trip(stereo: tuple[Image.Image, Image.Image]) -> None:
    found = matcher.reference_features(stereo[0].resize((200, 135)))
    again = matcher.Features.from_bytes(found.to_bytes())
    assert len(again) == len(found) > 0
    assert (again.descriptors == found.descriptors).all()


def test_a_blank_image_has_no_features_and_scores_nothing() -> None:
    blank = matcher.features(Image.new("RGB", (300, 200), "grey"))
    assert len(blank) == 0
    assert matcher.Gallery({"a": [blank]}).scores(blank) == {"a": 0}


# -- the references folder: checked, stripped in place, reloaded


RULE_TOML = """
name = "device-match"
kind = "reference"
references = "references/devices"
expect = "request.expect.device"
"""


def _textured(seed: int) -> Image.Image:
    box = (-2 + seed * 0.1, -1.2, 1, 1.2)
    return Image.effect_mandelbrot((640, 480), box, 80).convert("RGB")


def test_reference_photos_are_checked_stripped_and_named_in_errors(tmp_path: Path) -> None:
    (tmp_path / "device-match.toml").write_text(RULE_TOML)
    good = tmp_path / "references" / "devices" / "cage-a"
    good.mkdir(parents=True)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make: metadata the load must strip
    _textured(0).save(good / "front.jpg", exif=exif.tobytes())
    blank = tmp_path / "references" / "devices" / "cage-b"
    blank.mkdir()
    Image.new("RGB", (400, 300), "grey").save(blank / "front.jpg")
    checked = check_rules(tmp_path)
    assert any("'cage-b' has no usable photo" in str(e) for e in checked.errors), checked.errors
    assert b"PhoneMaker" in (good / "front.jpg").read_bytes()  # `rules check` only reads
    (blank / "front.jpg").unlink()
    _textured(3).save(blank / "front.jpg")
    rules = load_rules(tmp_path)
    assert sorted(rules.references["device-match"].gallery.names) == ["cage-a", "cage-b"]
    assert b"PhoneMaker" not in (good / "front.jpg").read_bytes()


def test_a_missing_references_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "device-match.toml").write_text(RULE_TOML)
    errors = check_rules(tmp_path).errors
    assert [e.key for e in errors] == ["references"]
    assert "no such folder" in errors[0].message
