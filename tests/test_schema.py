"""The published JSON Schemas: one source, valid, and true to what proofwatch writes and reads.

Every verdict file the whole suite writes is also checked at the end of the session
(tests/schema_check.py); here are the verdicts of each status made on purpose, the verdict
`proofwatch check` prints, and the request contract compared with the daemon's own parser.
"""

from __future__ import annotations

import json
import re
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from proofgen.samples import proof_jpeg

from ollama_server import FakeOllama
from proofwatch.cli import main
from proofwatch.config import Config
from proofwatch.contract.request import RequestError, parse_request
from proofwatch.contract.verdict import write_verdict
from proofwatch.engines import EngineSet
from proofwatch.pipeline.process import Pipeline
from proofwatch.pipeline.setup import Options, Setup
from proofwatch.rules.loader import load_rules
from proofwatch.state import StateStore
from proofwatch.vocabulary import Request
from schema_check import SCHEMA_DIR, check_tree, problems

REPO = Path(__file__).resolve().parents[1]
CONTRIB = REPO / "contrib" / "schema"
NAMES = ("request", "verdict")

RULES = {
    "code.toml": 'name = "code"\nkind = "text"\nquestion = "Transcribe the number."\n'
    'answer = "^[0-9]{5}$"\nexpect = "request.expect.code"\nengine = "ollama"\n',
    "camera.toml": 'name = "camera"\nkind = "metadata"\nrequire_camera = true\nmax_age = "4h"\n',
    "reused.toml": 'name = "reused"\nkind = "duplicate"\n',
}


# -- the files


def schema_of(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_bytes())
    return loaded


@pytest.mark.parametrize("name", NAMES)
def test_contrib_copy_is_the_packaged_schema(name: str) -> None:
    """contrib/schema/ is for people browsing the repository; the package ships the same."""
    packaged = (
        files("proofwatch").joinpath("contract", "schema", f"{name}.schema.json").read_bytes()
    )
    assert (CONTRIB / f"{name}.schema.json").read_bytes() == packaged
    assert (SCHEMA_DIR / f"{name}.schema.json").read_bytes() == packaged


VERSIONS = {"request": "1", "verdict": "1.1"}


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_draft_2020_12_and_versioned(name: str) -> None:
    schema = schema_of(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:proofwatch:schema:{name}:{VERSIONS[name]}"
    assert schema["title"].endswith(f"version {VERSIONS[name]}")


def test_verdict_schema_names_the_version_the_daemon_writes() -> None:
    from proofwatch.contract.verdict import SCHEMA

    assert schema_of("verdict")["properties"]["schema"]["const"] == SCHEMA
    assert SCHEMA.endswith("/1.1")


@pytest.mark.parametrize("version", ["proofwatch.verdict/1", "proofwatch.verdict/1.1"])
def test_verdicts_written_before_still_count_as_done(version: str) -> None:
    from proofwatch.contract.verdict import read_verdict

    # Outside the session's temp folder: these are not whole verdicts.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "old.jpg.verdict.json"
        path.write_text(json.dumps({"schema": version, "status": "pass"}))
        assert read_verdict(path) == {"schema": version, "status": "pass"}
        path.write_text(json.dumps({"schema": "proofwatch.verdict/2", "status": "pass"}))
        assert read_verdict(path) is None


# -- verdicts, one of each status


@pytest.fixture
def pipeline(tmp_path: Path, fake_ollama: FakeOllama) -> Pipeline:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in RULES.items():
        (rules / name).write_text(text, encoding="utf-8")
    config = Config(watch=tmp_path / "in", rules=rules, state_dir=tmp_path / "state")
    config = config.with_overrides(engine="ollama", **{"ollama.host": fake_ollama.url})
    (tmp_path / "in").mkdir()
    fake_ollama.answers = {"code": "48213"}
    state = StateStore(tmp_path / "state" / "db.sqlite3")
    return Pipeline(Setup.from_config(config, load_rules(rules), EngineSet(config)), state)


def made(pipeline: Pipeline, name: str, data: bytes, request: Request | None) -> dict[str, Any]:
    photo = pipeline.setup.settings.root / name
    photo.write_bytes(data)
    verdict = pipeline.process(photo, Options(wait_for_request=False), request or Request())
    # Written where the session check will see it too.
    write_verdict(photo.with_name(photo.name + ".verdict.json"), verdict)
    document: dict[str, Any] = json.loads(json.dumps(verdict.as_json()))
    return document


def test_a_verdict_of_every_status_matches_the_schema(pipeline: Pipeline) -> None:
    first = proof_jpeg("48213", seed=5, size=(640, 480))
    other = proof_jpeg("48213", seed=6, size=(640, 480))
    code = {"code": "48213"}
    cases = {
        "pass": made(pipeline, "first.jpg", first, Request(id="c-0", rules=("code",), expect=code)),
        "fail": made(pipeline, "wrong.jpg", other, Request(id="7", expect={"code": "11111"})),
        # Same photo again: the duplicate rule fails, observed is the earlier photo's path.
        "fail-reused": made(pipeline, "again.jpg", first, Request(rules=("reused",))),
        # No issued_at: the capture time cannot be compared, a person must look.
        "review": made(pipeline, "late.jpg", other, Request(rules=("code", "camera"), expect=code)),
        "rejected": made(pipeline, "junk.jpg", b"\x89PNG\r\n\x1a\n truncated", Request()),
        "error": made(pipeline, "odd.jpg", other, Request(rules=("no-such-rule",))),
    }
    for status, verdict in cases.items():
        assert verdict["status"] == status.split("-")[0], verdict
        assert problems("verdict", verdict) == [], (status, verdict)
    codes = {status: verdict["reason_code"] for status, verdict in cases.items()}
    assert codes == {
        "pass": "code_matches",
        "fail": "code_mismatch",
        "fail-reused": "reused_photo",
        "review": "request_missing_value",
        "rejected": "damaged_image",
        "error": "unknown_rule",
    }
    assert [r["reason_code"] for r in cases["review"]["rules"]] == [
        "code_matches",
        "request_missing_value",
    ]
    assert cases["rejected"]["metadata"] is None and cases["rejected"]["rules"] == []
    assert cases["pass"]["metadata"]["had_gps"] is True
    assert cases["fail-reused"]["rules"][0]["observed"] == "first.jpg"


def test_the_schema_refuses_what_the_contract_forbids(pipeline: Pipeline) -> None:
    good = made(pipeline, "x.jpg", proof_jpeg("48213", seed=8, size=(640, 480)),
                Request(rules=("code",), expect={"code": "48213"}))  # fmt: skip
    assert good["status"] == "pass"
    broken = [
        {**good, "status": "maybe"},
        {**good, "rules": []},  # pass with no rule at all
        {**good, "rules": [{**good["rules"][0], "status": "review"}]},  # pass over a review
        {**good, "surprise": 1},
        {**good, "photo_sha256": "ABC"},
        {**good, "decided_at": "yesterday"},
        {k: v for k, v in good.items() if k != "reason"},
        {**good, "metadata": {**good["metadata"], "gps": [48.8, 2.3]}},
        {**good, "reason_code": "looks_fine"},
        {k: v for k, v in good.items() if k != "reason_code"},
        {**good, "hints": [{"code": "wobbly", "detail": "?"}]},
        {**good, "schema": "proofwatch.verdict/1"},  # a 1.1 file says so
    ]
    for document in broken:
        assert problems("verdict", document), document


def test_proofwatch_check_prints_a_valid_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(proof_jpeg("48213", seed=9, size=(640, 480)))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "camera.toml").write_text(RULES["camera.toml"], encoding="utf-8")
    code = main(["check", str(photo), "--rules", str(rules), "--engine", "ocr",
                 "--state-dir", str(tmp_path / "state")])  # fmt: skip
    verdict = json.loads(capsys.readouterr().out)
    assert code == 1 and verdict["status"] == "review"  # no issued_at to compare with
    assert problems("verdict", verdict) == []


def test_the_session_check_finds_a_bad_verdict_and_skips_other_files() -> None:
    # Outside the session's temp folder, so the real end-of-session check never sees these.
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "a").mkdir()
        (base / "a" / "bad.jpg.verdict.json").write_text(
            json.dumps({"schema": "proofwatch.verdict/1.1", "status": "maybe"})
        )
        (base / "corrupt.jpg.verdict.json").write_text("{not json")
        (base / "other.jpg.verdict.json").write_text('{"schema": "something else"}')
        checked, found = check_tree(base)
    assert checked == 1
    assert any(line.startswith("a/bad.jpg.verdict.json: status: 'maybe'") for line in found)
    assert any("'reason' is a required property" in line for line in found)


# -- requests: the schema against the daemon's parser

ACCEPTED: list[Any] = [
    {},
    {"id": "control-981", "rules": ["control-code", "device-visible"],
     "expect": {"code": "48213"}, "issued_at": "2026-11-22T10:00:00+01:00"},
    {"id": 981},
    {"id": None, "rules": None, "issued_at": None},
    {"expect": {"code": 48213, "seal": "00412345"}},
    {"issued_at": "2026-11-22T09:00:00Z"},
    {"issued_at": "2026-11-22T10:00:00.250+01:00"},
    {"issued_at": "2026-11-22 10:00"},
    {"issued_at": "2026-11-22"},
    {"rules": []},
]  # fmt: skip
REFUSED: list[Any] = [
    [],
    "control-981",
    {"extra": 1},
    {"ID": "x"},
    {"id": ["x"]},
    {"rules": "control-code"},
    {"rules": [1]},
    {"expect": None},
    {"expect": ["48213"]},
    {"expect": {"code": ["48213"]}},
    {"expect": {"code": None}},
    {"issued_at": "yesterday"},
    {"issued_at": 1763800000},
]


@pytest.mark.parametrize("request_json", ACCEPTED, ids=lambda r: json.dumps(r)[:40])
def test_requests_the_schema_accepts_the_daemon_accepts(request_json: Any) -> None:
    assert problems("request", request_json) == []
    parse_request(request_json)


@pytest.mark.parametrize("request_json", REFUSED, ids=lambda r: json.dumps(r)[:40])
def test_requests_the_daemon_refuses_the_schema_refuses(request_json: Any) -> None:
    assert problems("request", request_json)
    with pytest.raises(RequestError):
        parse_request(request_json)


def test_schema_examples_are_valid_requests() -> None:
    for example in schema_of("request")["examples"]:
        assert problems("request", example) == []
        parse_request(example)


def json_blocks(markdown: Path) -> list[Any]:
    text = markdown.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


@pytest.mark.parametrize("doc", ["docs/integration.md", "DESIGN-request"])
def test_documented_examples_match_the_schemas(doc: str) -> None:
    if doc == "DESIGN-request":
        design = REPO.parents[0] / "shared" / "DESIGN.md"
        if not design.exists():
            pytest.skip("../shared/DESIGN.md not found")
        blocks = [b for b in json_blocks(design) if "schema" not in b]  # its verdict has "…"
    else:
        blocks = json_blocks(REPO / doc)
        assert any("schema" in b for b in blocks) and any("schema" not in b for b in blocks)
    for block in blocks:
        name = "verdict" if "schema" in block else "request"
        assert problems(name, block) == [], (doc, block)
        if name == "request":
            parse_request(block)
