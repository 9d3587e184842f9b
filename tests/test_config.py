"""The config file: config.example.toml stays complete and true, errors name line and key,
`proofwatch config check` and `proofwatch config show` do what their help says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from proofwatch.cli import config as config_commands
from proofwatch.cli import main
from proofwatch.config import Config, iter_settings, load_config
from proofwatch.tomlsource import SourceError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config.example.toml"


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the machine running the tests: no env config, no /etc file."""
    for name in ("PROOFWATCH_CONFIG", "OLLAMA_HOST", "STATE_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config_commands, "DEFAULT_CONFIG", tmp_path / "absent.toml")
    monkeypatch.setattr("proofwatch.cli.common.DEFAULT_CONFIG", tmp_path / "absent.toml")


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- config.example.toml


def test_example_parses_and_equals_the_defaults() -> None:
    assert load_config(EXAMPLE) == Config()


def test_example_sets_every_key_and_only_known_ones() -> None:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    written: set[tuple[str, str]] = set()
    for name, value in raw.items():
        if isinstance(value, dict):
            written |= {(name, key) for key in value}
        else:
            written.add(("", name))
    known = {(table, key) for table, key, _default, _doc in iter_settings()}
    assert known - written == set(), "keys missing from config.example.toml"
    assert written - known == set(), "config.example.toml sets keys the daemon does not know"


def test_every_key_in_the_example_has_a_comment_and_its_default() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    defaults = {(table, key): default for table, key, default, _doc in iter_settings()}
    table = ""
    for number, line in enumerate(lines):
        header = re.match(r"^\[(\w+)\]$", line)
        if header:
            table = header.group(1)
            continue
        setting = re.match(r"^(\w+) = (.+)$", line)
        if not setting:
            continue
        key = setting.group(1)
        assert lines[number - 1].startswith("# "), f"{table}.{key} has no comment above it"
        value = tomllib.loads(line)[key]
        assert value == defaults[(table, key)], f"{table}.{key} is not written as its default"


# -- loading: errors name the line and the key


def test_unknown_top_level_key_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'engine = "ocr"\nwatchh = "/srv/uploads"\n')
    with pytest.raises(SourceError) as caught:
        load_config(path)
    assert caught.value.line == 2
    assert caught.value.key == "watchh"
    assert str(caught.value).startswith(f"{path}:2: watchh: unknown key")


def test_unknown_key_in_a_table_names_the_dotted_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[intake]\nstability_delay = "2s"\n\n[ollama]\nmodle = "x"\n')
    with pytest.raises(SourceError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.key) == (5, "ollama.modle")
    assert "known:" in caught.value.message and "model" in caught.value.message


@pytest.mark.parametrize(
    ("written", "seconds"),
    [('"500ms"', 0.5), ('"5s"', 5.0), ('"10m"', 600.0), ('"4h"', 14400.0), ('"2d"', 172800.0),
     ('"1.5s"', 1.5), ("7", 7.0), ("0.25", 0.25)],
)  # fmt: skip
def test_durations_parse(tmp_path: Path, written: str, seconds: float) -> None:
    config = load_config(write(tmp_path, f"[intake]\nstability_delay = {written}\n"))
    assert config.intake.stability_delay == seconds


@pytest.mark.parametrize(
    ("written", "size"),
    [('"50MB"', 50_000_000), ('"1GiB"', 1 << 30), ('"512KB"', 512_000), ('"10 MiB"', 10 << 20),
     ("1234", 1234)],
)  # fmt: skip
def test_sizes_parse(tmp_path: Path, written: str, size: int) -> None:
    config = load_config(write(tmp_path, f"[intake]\nmax_file_size = {written}\n"))
    assert config.intake.max_file_size == size


@pytest.mark.parametrize(
    ("body", "line", "key", "message"),
    [
        ('[ollama]\ntimeout = "soon"\n', 2, "ollama.timeout", "not a duration"),
        ('\n[intake]\nmax_file_size = "lots"\n', 3, "intake.max_file_size", "not a size"),
        ("[ollama]\nretries = true\n", 2, "ollama.retries", "whole number"),
        ('engine = "gpu"\n', 1, "engine", "must be one of auto, model, ollama, ocr"),
        ("[intake]\nignore = \"*.bak\"\n", 2, "intake.ignore", "list of strings"),
    ],
)  # fmt: skip
def test_bad_values_name_line_and_key(
    tmp_path: Path, body: str, line: int, key: str, message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        load_config(write(tmp_path, body))
    assert (caught.value.line, caught.value.key) == (line, key)
    assert message in caught.value.message


# -- proofwatch config check


def test_config_check_accepts_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "uploads").mkdir()
    path = write(tmp_path, f'watch = "{tmp_path / "uploads"}"\nrules = "{REPO / "rules"}"\n')
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert out == f"{path}: OK\n"


def test_config_check_reports_file_line_key_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '[intake]\nstability_delay = "2s"\nstabilty_delay = "3s"\n')
    assert main(["config", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{path}:3: intake.stabilty_delay: unknown key")


def test_config_check_reports_every_problem_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        'engine = "gpu"\n[intake]\nstabilty_delay = "3s"\nmax_file_size = "huge"\n'
        "[ollama]\nconcurrency = 0\n",
    )
    assert main(["config", "check", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"{path}:1", "engine"],
        [f"{path}:3", "intake.stabilty_delay"],
        [f"{path}:4", "intake.max_file_size"],
        [f"{path}:6", "ollama.concurrency"],
    ], lines


def test_config_check_warns_about_what_would_stop_the_daemon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rules").mkdir()
    path = write(tmp_path, f'watch = "{tmp_path / "nowhere"}"\nrules = "{tmp_path / "rules"}"\n')
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out
    assert f"warning: watch: {tmp_path / 'nowhere'} is not a folder here" in out
    assert "warning: rules: no *.toml rule" in out


def test_config_check_uses_the_environment_file_and_needs_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check"]) == 2
    assert "no config file given" in capsys.readouterr().err
    path = write(tmp_path, 'engine = "ocr"\n')
    monkeypatch.setenv("PROOFWATCH_CONFIG", str(path))
    assert main(["config", "check"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK")


def test_config_check_missing_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


# -- proofwatch config show


def test_config_show_prints_every_key_and_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path, f'state_dir = "{tmp_path / "state"}"\n[intake]\nmax_file_size = "20MB"\n'
    )
    assert main(["config", "show", "--config", str(path), "--model", "minicpm-v"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# effective configuration ({path};")
    shown = tomllib.loads(out)
    for table, key, _default, _doc in iter_settings():
        assert key in (shown[table] if table else shown), f"{table}.{key} not shown"
    assert shown["intake"]["max_file_size"] == "20MB"  # written the way operators write it
    assert shown["model"]["model"] == "minicpm-v"  # the flag wins
    assert shown["intake"]["stability_delay"] == "2s"  # a default filled in
    # The output is itself a config file that gives the same configuration.
    again = load_config(write(tmp_path, out, "shown.toml"))
    assert again.intake.max_file_size == 20_000_000
    assert again.model.model == "minicpm-v"
    assert again.state_dir == tmp_path / "state"


def test_config_show_without_a_file_shows_defaults_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:11500")
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "st"))
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "no config file: built-in defaults" in out.splitlines()[0]
    shown = tomllib.loads(out)
    assert shown["model"]["host"] == "http://127.0.0.1:11500"
    assert shown["state_dir"] == str(tmp_path / "st")
    assert shown["engine"] == "auto"


def test_config_show_refuses_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "[ocr]\nmin_scor = 0.4\n")
    assert main(["config", "show", "--config", str(path)]) == 2
    assert f"{path}:2: ocr.min_scor: unknown key" in capsys.readouterr().err


@pytest.mark.parametrize("action", ["check", "show"])
def test_config_help_explains_the_flags(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["config", action, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "FILE" in out
    if action == "show":
        assert "--model-host" in out and "--ollama-host" in out and "override" in out


def test_a_state_dir_written_in_the_file_is_honoured_even_when_it_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proofwatch.cli import build_parser
    from proofwatch.cli.common import resolve_config

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "from-systemd"))
    written = tmp_path / "written.toml"
    written.write_text('state_dir = "/var/lib/proofwatch"\n')
    silent = tmp_path / "silent.toml"
    silent.write_text('engine = "ocr"\n')
    parse = build_parser().parse_args
    assert resolve_config(parse(["status", "--config", str(written)])).state_dir == Path(
        "/var/lib/proofwatch"
    )
    assert resolve_config(parse(["status", "--config", str(silent)])).state_dir == (
        tmp_path / "from-systemd"
    )


# -- [model], and its old name [ollama]


def test_the_old_ollama_section_and_engine_name_still_work(tmp_path: Path) -> None:
    old = load_config(write(tmp_path, 'engine = "ollama"\n[ollama]\nmodel = "minicpm-v"\n'))
    new = load_config(write(tmp_path, 'engine = "model"\n[model]\nmodel = "minicpm-v"\n', "n.toml"))
    assert old == new
    assert old.engine == "model" and old.ollama.model == "minicpm-v"
    assert Config(engine="ollama").engine == "model"


def test_both_names_of_the_model_section_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[model]\nmodel = "a"\n[ollama]\nmodel = "b"\n')
    with pytest.raises(SourceError) as caught:
        load_config(path)
    assert caught.value.key == "ollama" and "old name of [model]" in str(caught.value)


def test_hosts_api_and_remote_hosts_allowed_one_by_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[model]\napi = "openai"\nhost = "http://127.0.0.1:8080"\n'
        'hosts = ["http://10.0.0.5:8080", "http://127.0.0.1:8080"]\n'
        'allow_remote = ["http://10.0.0.5:8080"]\n',
    )
    model = load_config(path).model
    assert model.api == "openai"
    assert model.all_hosts == ["http://127.0.0.1:8080", "http://10.0.0.5:8080"]
    assert model.allow_remote == ["http://10.0.0.5:8080"]
    with pytest.raises(SourceError) as caught:
        load_config(write(tmp_path, "[model]\nallow_remote = 1\n", "bad.toml"))
    assert "true, false or a list of hosts" in str(caught.value)


def test_model_host_flags_repeat_and_keep_their_old_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["config", "show", "--model-api", "openai", "--engine", "ollama"]
    args += ["--model-host", "127.0.0.1:8080", "--ollama-host", "127.0.0.1:8081"]
    assert main(args) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["engine"] == "model"
    assert shown["model"]["api"] == "openai"
    assert shown["model"]["host"] == "127.0.0.1:8080"
    assert shown["model"]["hosts"] == ["127.0.0.1:8081"]
