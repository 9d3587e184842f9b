"""The rules language: what loads, and every error naming the file, the line and the key."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from proofwatch.contract.request import RequestError, parse_request
from proofwatch.rules.loader import (
    check_rules,
    load_rules,
    read_rule_file,
)
from proofwatch.rules.model import Rule
from proofwatch.tomlsource import SourceError

SHIPPED = Path(__file__).resolve().parents[1] / "rules"

TEXT = """\
name = "code"
kind = "text"
question = "Transcribe the code."
answer = "^[0-9]{5}$"
expect = "request.expect.code"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, name: str = "rule.toml") -> list[SourceError]:
    path = write(tmp_path / "rules", name, text)
    rule, errors, _ = read_rule_file(path)
    assert (rule is None) == bool(errors)
    return errors


def only_error(tmp_path: Path, text: str) -> SourceError:
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def test_the_shipped_rules_load_and_check_with_their_example_photos() -> None:
    rules = load_rules(SHIPPED)
    assert [r.name for r in rules.rules] == [
        "control-code",
        "device-match",
        "device-visible",
        "fresh",
        "not-reused",
        "seal-number",
    ]
    by_name = rules.by_name()
    assert by_name["control-code"].normalize == ("digits", "strip-spaces", "strip-dashes")
    assert by_name["seal-number"].answer == "^[0-9]{5,8}$"
    assert by_name["fresh"].max_age == 4 * 3600 and by_name["fresh"].clock_skew == 120
    assert by_name["not-reused"].max_distance == 6
    assert all(rule.examples for rule in rules.rules)
    checked = check_rules(SHIPPED, examples=True)
    assert checked.ok, [str(e) for e in checked.errors]
    assert checked.digest == rules.digest


def test_a_text_rule_with_defaults() -> None:
    rule = Rule(name="x", kind="text")
    assert (rule.engine, rule.undecided, rule.tolerance, rule.match) == (
        "auto",
        "review",
        0,
        ("**",),
    )


def test_the_digest_follows_every_byte_of_the_rules(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    path = write(folder, "code.toml", TEXT)
    first = load_rules(folder).digest
    assert load_rules(folder).digest == first
    path.write_text(TEXT + "# a comment\n", encoding="utf-8")
    assert load_rules(folder).digest != first


def test_an_unknown_key_is_an_error_with_file_line_and_key(tmp_path: Path) -> None:
    error = only_error(tmp_path, TEXT + "tolerence = 1\n")
    assert (error.line, error.key) == (6, "tolerence")
    assert str(error).startswith(f"{tmp_path / 'rules' / 'rule.toml'}:6: tolerence: unknown key")


def test_a_key_of_another_kind_says_so(tmp_path: Path) -> None:
    error = only_error(tmp_path, TEXT + 'max_age = "4h"\n')
    assert error.key == "max_age"
    assert "not a key of a text rule (it belongs to metadata rules)" in error.message
    engine = only_error(tmp_path, 'kind = "duplicate"\nengine = "ollama"\n')
    assert (engine.line, engine.key) == (2, "engine")


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    text = 'kind = "text"\nquestion = ""\nanswer = "[0-9"\ntolerance = -1\nnormalise = []\n'
    errors = errors_of(tmp_path, text)
    assert sorted((e.line, e.key) for e in errors) == [
        (2, "question"),
        (3, "answer"),
        (4, "tolerance"),
        (5, "normalise"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "key", "message"),
    [
        ('name = "x"\n', 1, "kind", "missing: one of text, presence, metadata, duplicate"),
        ('kind = "txt"\n', 1, "kind", "must be one of"),
        ('kind = "text"\nquestion = "q"\nanswer = "[0-9"\n', 3, "answer", "not a valid regular"),
        ('kind = "text"\nquestion = "q"\nexpect = "code"\n', 3, "expect", "request.expect.code"),
        ('kind = "text"\nquestion = "q"\nnormalize = ["digit"]\n', 3, "normalize", "'digit'"),
        ('kind = "text"\nquestion = "q"\nnormalize = "digits"\n', 3, "normalize", "a list"),
        ('kind = "text"\nquestion = "q"\ntolerance = "1"\n', 3, "tolerance", "a whole number"),
        ('kind = "text"\nquestion = "q"\ntolerance = 4\n', 3, "tolerance", "between 0 and 3"),
        ('kind = "text"\n', 1, "question", "missing"),
        ('kind = "text"\nquestion = "q"\nengine = "gpt"\n', 3, "engine", "auto, ollama"),
        ('kind = "presence"\nquestion = "q"\nengine = "ocr"\n', 3, "engine", "OCR cannot"),
        ('kind = "presence"\nquestion = "q"\nexpect = "true"\n', 3, "expect", '"yes" or "no"'),
        ('kind = "metadata"\n', 1, "kind", "needs max_age, require_camera"),
        ('kind = "metadata"\nmax_age = "4 hours"\n', 2, "max_age", "not a duration"),
        ('kind = "metadata"\nmax_age = "0s"\n', 2, "max_age", "longer than 0"),
        ('kind = "metadata"\nrequire_camera = 1\n', 2, "require_camera", "true or false"),
        ('kind = "metadata"\nmin_width = true\n', 2, "min_width", "a whole number"),
        (
            'kind = "metadata"\nrequire_camera = true\nclock_skew = "2m"\n',
            3,
            "clock_skew",
            "only matters with max_age",
        ),
        ('kind = "duplicate"\nmax_distance = 40\n', 2, "max_distance", "between 0 and 32"),
        ('kind = "duplicate"\nmatch = "/uploads/**"\n', 2, "match", "relative to the watched"),
        ('kind = "duplicate"\nmatch = []\n', 2, "match", "a glob or a list"),
        ('kind = "duplicate"\nundecided = "pass"\n', 2, "undecided", '"review" or "fail"'),
        ('kind = "duplicate"\nname = "Not Reused"\n', 2, "name", "lowercase"),
        ('kind = "duplicate"\n[examples]\nphoto = "a.jpg"\n', 2, "examples", "a list"),
    ],
)
def test_each_error_names_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, message: str
) -> None:
    error = only_error(tmp_path, text)
    assert (error.line, error.key) == (line, key), str(error)
    assert message in error.message


def test_invalid_toml_names_the_line_and_the_key_being_written(tmp_path: Path) -> None:
    error = only_error(tmp_path, TEXT + "tolerance = \n")
    assert (error.line, error.key) == (6, "tolerance")
    assert error.message.startswith("invalid TOML: ")
    unterminated = only_error(tmp_path, 'kind = "text"\nmatch = ["a",\n')
    assert unterminated.line == 2


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'kind = "text"\nquestion = "\xe9"\n')
    _, errors, _ = read_rule_file(path)
    assert [(e.line, e.message) for e in errors] == [(2, "not UTF-8 text")]


def test_keys_inside_multiline_strings_are_not_taken_for_keys(tmp_path: Path) -> None:
    text = 'kind = "text"\nquestion = """\nanswer = nothing\n"""\nanswer = "[0-9"\n'
    error = only_error(tmp_path, text)
    assert (error.line, error.key) == (5, "answer")


def test_the_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "seal-2.toml", 'kind = "duplicate"\n')
    rule, errors, _ = read_rule_file(path)
    assert not errors and rule is not None and rule.name == "seal-2"
    bad = write(tmp_path, "Seal 2.toml", 'kind = "duplicate"\n')
    _, errors, _ = read_rule_file(bad)
    assert [(e.line, e.key) for e in errors] == [(1, "name")]


def test_every_file_is_checked_and_load_names_every_problem(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    write(folder, "a.toml", TEXT.replace('"code"', '"a"') + "tolerence = 1\n")
    write(folder, "b.toml", 'kind = "metadata"\nmax_age = "soon"\n')
    write(folder, "c.toml", 'kind = "duplicate"\n')
    checked = check_rules(folder)
    assert [(Path(e.path).name, e.line, e.key) for e in checked.errors] == [
        ("a.toml", 6, "tolerence"),
        ("b.toml", 2, "max_age"),
    ]
    assert [rule.name for rule in checked.rules] == ["c"]
    with pytest.raises(SourceError) as raised:
        load_rules(folder)
    assert str(raised.value).startswith(f"{folder / 'a.toml'}:6: tolerence: unknown key")
    assert str(raised.value).splitlines()[1].startswith(f"{folder / 'b.toml'}:2: max_age: ")


def test_names_must_be_unique_and_distinct_as_model_fields(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    write(folder, "a.toml", TEXT)
    write(folder, "b.toml", TEXT)
    write(folder, "c.toml", TEXT.replace('"code"', '"co_de"'))
    write(folder, "d.toml", TEXT.replace('"code"', '"co-de"'))
    errors = check_rules(folder).errors
    assert [(Path(e.path).name, e.line, e.key) for e in errors] == [
        ("b.toml", 1, "name"),
        ("d.toml", 1, "name"),
    ]
    assert "already used by" in errors[0].message
    assert "both answer as co_de" in errors[1].message


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_rules(tmp_path / "nowhere")


def test_globs_select_paths_inside_the_watched_folder() -> None:
    rule = Rule(name="x", kind="duplicate", match=("controls/**", "*"))
    assert rule.matches("controls/IMG_1.jpg")
    assert rule.matches("controls/2026/11/IMG_1.jpg")
    assert rule.matches("IMG_1.jpg")
    assert not rule.matches("seals/IMG_1.jpg")
    assert Rule(name="y", kind="duplicate", match=("**/*.png",)).matches("a/b/c.png")
    assert Rule(name="y", kind="duplicate", match=("**/*.png",)).matches("c.png")
    assert not Rule(name="z", kind="duplicate", match=("seal?.jpg",)).matches("seal/1.jpg")


# -- examples

EXAMPLES = (
    TEXT
    + """
[[examples]]
photo = "examples/a.jpg"
status = "pass"
request = { expect = { code = "48213" } }

[[examples]]
photo = "examples/a.jpg"
status = "passed"

[[examples]]
photo = "examples/a.jpg"
status = "fail"
colour = "blue"
[examples.request]
rules = ["code"]
"""
)


def test_example_errors_name_the_example_and_its_line(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, EXAMPLES)
    assert [(e.line, e.key) for e in errors] == [
        (14, "examples[2].status"),
        (19, "examples[3].colour"),
        (20, "examples[3].request"),
    ]
    assert "must be one of pass, review, fail, error, rejected" in errors[0].message
    assert "leave out rules" in errors[2].message


def test_examples_load_with_their_lines_and_requests(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    text = TEXT + EXAMPLES.split("\n\n")[1] + "\n"  # the first example only
    text += '\n[[examples]]\nphoto = "b.jpg"\nstatus = "review"\n'
    text += "request = { issued_at = 2026-11-22T10:00:00+01:00 }\n"
    write(folder, "code.toml", text)
    (rule,) = load_rules(folder).rules
    first, second = rule.examples
    assert (first.photo, first.status, first.line) == ("examples/a.jpg", "pass", 6)
    assert first.request == {"expect": {"code": "48213"}}
    assert second.line == 11
    # A TOML date-time is accepted where the request JSON has a string.
    request = parse_request(second.request)
    assert request.issued_at == datetime(2026, 11, 22, 10, tzinfo=timezone(timedelta(hours=1)))


def test_example_photos_must_exist_for_check_but_not_for_the_daemon(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    write(folder, "code.toml", TEXT + '\n[[examples]]\nphoto = "gone.jpg"\nstatus = "pass"\n')
    assert load_rules(folder).rules  # the daemon never looks at example photos
    (error,) = check_rules(folder, examples=True).errors
    assert (error.line, error.key, error.message) == (
        8,
        "examples[1].photo",
        "no such photo: gone.jpg",
    )


def test_earlier_photos_belong_to_duplicate_rules_only(tmp_path: Path) -> None:
    text = TEXT + '[[examples]]\nphoto = "a.jpg"\nstatus = "pass"\nearlier = ["b.jpg"]\n'
    (error,) = errors_of(tmp_path, text)
    assert (error.line, error.key) == (9, "examples[1].earlier")
    folder = tmp_path / "dup"
    folder.mkdir()
    shutil.copy(SHIPPED / "not-reused.toml", folder / "not-reused.toml")
    (rule,) = load_rules(folder).rules
    assert rule.examples[0].earlier == ("examples/code-48213.jpg",)


# -- the request


def test_parse_request() -> None:
    request = parse_request(
        {
            "id": 981,
            "rules": ["control-code"],
            "expect": {"code": 48213},
            "issued_at": "2026-11-22T09:00:00Z",
        }
    )
    assert request.id == "981"
    assert request.rules == ("control-code",)
    assert request.expect == {"code": "48213"}
    assert request.issued_at == datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert parse_request({}).rules is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "a JSON object"),
        ({"expected": {}}, "unknown field(s) in the request: expected"),
        ({"rules": "control-code"}, "a list of rule names"),
        ({"expect": {"code": True}}, "an object of strings"),
        ({"expect": {"code": None}}, "an object of strings"),
        ({"issued_at": "tomorrow"}, "not an ISO 8601 time"),
        ({"id": True}, "id must be a string"),
    ],
)
def test_bad_requests(raw: object, message: str) -> None:
    with pytest.raises(RequestError) as raised:
        parse_request(raw)
    assert message in str(raised.value)
