"""`proofwatch rules check | new | test`, through the real command line entry point."""

from __future__ import annotations

import importlib.util
import io
import logging
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from proofgen.samples import Camera, draw_code, to_jpeg

from ollama_server import FakeOllama, text_sent
from proofwatch.cli import main
from proofwatch.metadata import read_metadata
from proofwatch.rules.loader import check_rules, read_rule_file

SHIPPED = Path(__file__).resolve().parents[1] / "rules"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No config file or Ollama host from the environment; logging restored afterwards."""
    monkeypatch.delenv("PROOFWATCH_CONFIG", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["rules", *argv])
    return code, capsys.readouterr().out.splitlines()


def copy_shipped(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return folder


# -- check


def test_check_lists_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "check", str(SHIPPED))
    assert code == 0, out
    assert out[0].startswith(
        f"{SHIPPED}/control-code.toml: control-code: text, answer ^[0-9]{{5}}$"
    )
    assert len(out) == 7  # six rules and the summary
    assert out[-1].startswith(f"6 rule(s) OK in {SHIPPED} (digest ")


def test_check_reports_every_problem_in_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_shipped(tmp_path)
    code_rule = folder / "control-code.toml"
    code_rule.write_text(code_rule.read_text().replace("tolerance = 0", "tolerence = 0"))
    fresh = folder / "fresh.toml"
    fresh.write_text(fresh.read_text().replace('max_age = "4h"', 'max_age = "4 hours"'))
    (folder / "examples" / "blank.jpg").unlink()
    code, out = main(["rules", "check", "--rules", str(folder)]), capsys.readouterr().out
    assert code == 1
    assert out.splitlines() == [
        f"{code_rule}:14: tolerence: unknown key for a text rule (known: answer, description, "
        "engine, examples, expect, kind, match, name, normalize, question, tolerance, undecided, "
        "writing)",
        f"{folder / 'device-visible.toml'}:15: examples[1].photo: no such photo: "
        "examples/blank.jpg",
        f'{fresh}:8: max_age: \'4 hours\' is not a duration (use e.g. "5s", "10m", "4h")',
        f"{folder / 'not-reused.toml'}:18: examples[2].photo: no such photo: examples/blank.jpg",
        f"4 problem(s) in 4 of 6 file(s) in {folder}; the daemon refuses these rules "
        "(a running one keeps its last good rules)",
    ]


def test_check_an_empty_folder_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "check", str(tmp_path))
    assert code == 1
    assert "no rule files" in out[0]
    assert main(["rules", "check", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().out


# -- new


@pytest.mark.parametrize("kind", ["text", "presence", "metadata", "duplicate"])
def test_new_writes_a_commented_rule_that_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    folder = tmp_path / "rules"
    code, out = run(capsys, "new", kind, f"my-{kind}", "--dir", str(folder))
    assert code == 0, out
    path = folder / f"my-{kind}.toml"
    assert out == [f"wrote {path}: edit it, then run `proofwatch rules check {folder}`"]
    rule, errors, _ = read_rule_file(path)
    assert not errors and rule is not None
    assert (rule.name, rule.kind) == (f"my-{kind}", kind)
    text = path.read_text()
    for key in tomllib.loads(text):  # every key comes with its comment
        before = text.split(f"\n{key} = ")[0].splitlines()[-1]
        assert before.startswith("# "), key
    assert list(folder.iterdir()) == [path]  # no temp file left behind
    # The commented example, uncommented, is a valid example too.
    example = text.split("# [[examples]]")[1]
    uncommented = "[[examples]]" + "".join(
        line.removeprefix("# ") + "\n" for line in example.splitlines()
    )
    path.write_text(text + uncommented)
    rule, errors, _ = read_rule_file(path)
    assert not errors and rule is not None and len(rule.examples) == 1


def test_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "code.toml").write_text("# mine\n")
    assert main(["rules", "new", "text", "code", "--dir", str(folder)]) == 1
    assert "already exists; not overwritten" in capsys.readouterr().err
    assert (folder / "code.toml").read_text() == "# mine\n"
    (folder / "code.toml").unlink()
    (folder / "other.toml").write_text('name = "code"\nkind = "duplicate"\n')
    assert main(["rules", "new", "text", "code", "--dir", str(folder)]) == 1
    assert not (folder / "code.toml").exists()
    assert main(["rules", "new", "text", "My Rule", "--dir", str(folder)]) == 2


# -- test


def test_test_runs_the_shipped_examples_with_ocr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "test", str(SHIPPED), "--engine", "ocr")
    assert code == 0, "\n".join(out)
    assert out[-1] == "17 example(s): 16 ok, 0 failed, 1 skipped"
    skipped = [line for line in out if ": skipped: " in line]
    assert len(skipped) == 1 and "device-visible" in skipped[0]
    assert f"{SHIPPED}/control-code.toml:19: control-code: examples/code-48213.jpg: ok: pass" in (
        "\n".join(out)
    )


CODE_RULE = """\
name = "control-code"
kind = "text"
question = "Transcribe the number handwritten on the paper."
answer = "^[0-9]{5}$"
expect = "request.expect.code"
normalize = ["digits"]

[[examples]]
photo = "code.jpg"
status = "pass"
request = { expect = { code = "48213" } }

[[examples]]
photo = "code.jpg"
status = "fail"
request = { expect = { code = "12345" } }

[[examples]]
photo = "code.jpg"
status = "review"
request = { expect = { code = "48213" } }
"""

DEVICE_RULE = """\
name = "device-visible"
kind = "presence"
question = "Is the device clearly visible in this photo?"

[[examples]]
photo = "code.jpg"
status = "pass"
"""

DUPLICATE_RULE = """\
kind = "duplicate"

[[examples]]
photo = "code.jpg"
earlier = ["code.jpg"]
status = "fail"

[[examples]]
photo = "other.jpg"
earlier = ["code.jpg"]
status = "pass"
"""


def test_test_with_a_model_reports_each_example_and_fails_on_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_ollama: FakeOllama
) -> None:
    fake_ollama.answers = {"control_code": "48213", "device_visible": "yes"}
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "code.toml").write_text(CODE_RULE)
    (folder / "device.toml").write_text(DEVICE_RULE)
    (folder / "not-reused.toml").write_text(DUPLICATE_RULE)
    small = (640, 480)
    (folder / "code.jpg").write_bytes(to_jpeg(draw_code("48213", seed=1, size=small)))
    (folder / "other.jpg").write_bytes(to_jpeg(draw_code("77305", seed=5, size=small)))
    before = (folder / "code.jpg").read_bytes()

    flags = ["--engine", "ollama", "--ollama-host", fake_ollama.url]
    code, out = run(capsys, "test", str(folder), *flags)
    assert code == 1, out
    assert out[0] == f"{folder}: engine ollama qwen2.5vl:7b at {fake_ollama.url}: up"
    code_file = folder / "code.toml"
    assert out[1:4] == [
        f"{code_file}:8: control-code: code.jpg: ok: pass (ollama:qwen2.5vl:7b: read 48213)",
        f"{code_file}:13: control-code: code.jpg: ok: fail "
        "(ollama:qwen2.5vl:7b: read 48213, expected 12345)",
        f"{code_file}:18: control-code: code.jpg: FAILED: got pass, expected review "
        "(ollama:qwen2.5vl:7b: read 48213)",
    ]
    assert out[4].endswith(
        "device-visible: code.jpg: ok: pass (ollama:qwen2.5vl:7b: visible: "
        "Is the device clearly visible in this photo?)"
    )
    assert (
        "not-reused: code.jpg: ok: fail (proofwatch: near-identical to (earlier)/code.jpg"
        in (out[5])
    )
    assert out[6].endswith(
        "not-reused: other.jpg: ok: pass (proofwatch: unlike the 1 earlier photo(s))"
    )
    assert out[7] == "6 example(s): 5 ok, 1 failed, 0 skipped"

    chats = fake_ollama.chat_requests()
    assert len(chats) == 4  # one call per example that asks the model
    for chat in chats:
        sent = text_sent(chat)
        assert "48213" not in sent and "12345" not in sent
    assert (folder / "code.jpg").read_bytes() == before  # photos are never modified

    # --rule narrows; all good then.
    code, out = run(capsys, "test", str(folder), "--rule", "not-reused", *flags)
    assert code == 0 and out[-1] == "2 example(s): 2 ok, 0 failed, 0 skipped"
    assert main(["rules", "test", str(folder), "--rule", "nope", *flags]) == 2


def test_test_refuses_broken_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "code.toml").write_text(CODE_RULE + "colour = 1\n")
    code, out = run(capsys, "test", str(tmp_path), "--engine", "ocr")
    assert code == 1
    assert out[0].startswith(f"{tmp_path / 'code.toml'}:")
    assert not any(": ok: " in line for line in out)


def test_rules_without_an_action_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 2
    assert "check" in capsys.readouterr().out


# -- the example photos


def test_make_examples_writes_small_photos_matching_the_shipped_ones(tmp_path: Path) -> None:
    script = SHIPPED / "examples" / "make_examples.py"
    spec = importlib.util.spec_from_file_location("make_examples", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["make_examples.py", str(tmp_path)]) == 0
    made = sorted(p.name for p in tmp_path.glob("*.jpg"))
    assert made == sorted(p.name for p in (SHIPPED / "examples").glob("*.jpg"))
    for name in made:
        for folder in (tmp_path, SHIPPED / "examples"):
            data = (folder / name).read_bytes()
            assert len(data) < 60_000, (folder, name)
            with Image.open(io.BytesIO(data)) as image:
                assert image.size == (800, 600)
    code = read_metadata((SHIPPED / "examples" / "code-48213.jpg").read_bytes())
    assert code.camera and code.captured_at == "2026-11-22T10:41:07+01:00"
    assert not code.had_gps  # nothing worth stripping is committed
    screenshot = read_metadata((SHIPPED / "examples" / "screenshot.jpg").read_bytes())
    assert not screenshot.camera and screenshot.captured_at is None
    assert check_rules(SHIPPED, examples=True).ok
    assert Camera().make  # the samples module the script builds on is importable
