"""The daemon's configuration: one TOML file, every key documented, unknown keys refused.

The dataclasses below are the single source of truth: their defaults and docs drive
validation, `proofwatch config show` and the tests that keep config.example.toml complete.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import tomli_w

from .tomlsource import KeyLines, SourceError, raise_any, read_toml
from .units import format_duration, format_size, parse_duration, parse_size

# "model": a vision model on a model server; "ollama" is its old name, still accepted.
ENGINES = ("auto", "model", "ollama", "ocr")
APIS = ("ollama", "openai")


def setting(default: Any, doc: str, unit: str = "", choices: tuple[str, ...] = ()) -> Any:
    """A config key: its default, a one-line why, and how it is written ("duration", "size")."""
    meta = {"doc": doc, "unit": unit, "choices": choices}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class IntakeConfig:
    stability_delay: float = setting(
        2.0, "a file written in place is taken once size and mtime hold this long", "duration"
    )
    empty_timeout: float = setting(
        60.0,
        "a file still empty (0 bytes) this long is rejected; before, it is a placeholder",
        "duration",
    )
    request_wait: float = setting(
        3.0, "how long to wait for NAME.request.json when rules need it", "duration"
    )
    rescan_interval: float = setting(
        300.0, "periodic full rescan that catches anything events missed", "duration"
    )
    polling: str = setting(
        "auto", '"auto" polls on nfs/cifs/fuse/9p mounts, "off" never, or an interval like "5s"'
    )
    ignore: list[str] = setting([], "extra glob patterns (file or folder names) never taken")
    quarantine: bool = setting(
        True,
        "move a photo that cannot be stripped but still carries metadata out of the "
        "upload folder, into state_dir/quarantine (0600)",
    )
    max_file_size: int = setting(50_000_000, "larger files are rejected unread", "size")
    max_pixels: int = setting(
        100_000_000, "images with more pixels are rejected as decompression bombs"
    )


@dataclass(frozen=True)
class ModelConfig:
    api: str = setting(
        "ollama",
        "the server's API: ollama (Ollama's own), or openai (/v1/chat/completions: llama.cpp's "
        "llama-server, vLLM, LM Studio, LocalAI, Ollama's /v1)",
        choices=APIS,
    )
    host: str = setting("http://127.0.0.1:11434", "the model server; OLLAMA_HOST also sets it")
    hosts: list[str] = setting(
        [],
        "more servers with the same model (one Ollama per GPU): each photo goes to one "
        "that is up and least busy, and a host that is busy or down hands its photos on",
    )
    model: str = setting("qwen2.5vl:7b", "a vision model on that server")
    allow_remote: bool | list[str] = setting(
        False,
        "true, or the list of hosts allowed off this machine (photos sent there leave it)",
    )
    connect_timeout: float = setting(5.0, "giving up on connecting to the server", "duration")
    timeout: float = setting(120.0, "giving up on one model reply", "duration")
    retries: int = setting(3, "retries of one call on 5xx answers, timeouts and dropped replies")
    model_wait: float = setting(
        600.0,
        "how long a photo waits for a busy or down server (set aside, holding no worker) "
        "before verdict error",
        "duration",
    )
    keep_alive: str = setting("30m", "how long Ollama keeps the model loaded after a call")
    num_predict: int = setting(
        256, "cap on tokens per reply; each call asks for what its questions need, at most this"
    )
    repeat_penalty: float = setting(
        1.05, "mild: stops runaway repetition, while codes like 11811 still read right"
    )
    seed: int = setting(42, "fixed seed, with temperature 0, for repeatable answers")
    concurrency: int = setting(
        1, "calls in flight at once per host (Ollama's default is 1 per model)"
    )
    max_image_side: int = setting(1600, "longest side in pixels of the copy sent to the model")
    votes: int = setting(1, "ask N times and take the majority; disagreement becomes review")

    @property
    def all_hosts(self) -> list[str]:
        """`host` then `hosts`, each once."""
        return list(dict.fromkeys([self.host, *self.hosts]))


OllamaConfig = ModelConfig  # the section's old name


@dataclass(frozen=True)
class OcrConfig:
    max_image_side: int = setting(
        480,
        "longest side in pixels of the copy the text detector sees; the lines it finds are "
        "read from the full image (measured on real handwriting: as good as 960, 4x faster)",
    )
    min_score: float = setting(0.5, "lines read with a mean confidence below this are dropped")


@dataclass(frozen=True)
class Config:
    watch: Path | None = setting(None, "the upload folder the tracker writes photos into")
    rules: Path = setting(Path("/etc/proofwatch/rules"), "folder of rule files (*.toml)")
    state_dir: Path = setting(
        Path("/var/lib/proofwatch"), "the daemon's own state: database, lock, status"
    )
    verdict_dir: Path | None = setting(
        None, "write verdicts here, mirroring paths, instead of beside each photo"
    )
    engine: str = setting(
        "auto",
        "auto: the vision model when its server is reachable, else OCR for text rules; "
        'model: always the vision model (photos wait for it); ocr ("ollama" is the old name '
        "of model)",
        choices=ENGINES,
    )
    stop_timeout: float = setting(
        20.0,
        "on SIGTERM, how long the photo in hand may finish before it is abandoned",
        "duration",
    )
    log_level: str = setting(
        "info", "debug, info, warning or error", choices=("debug", "info", "warning", "error")
    )
    intake: IntakeConfig = field(default_factory=IntakeConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)

    def __post_init__(self) -> None:
        if self.engine == "ollama":  # the old name
            object.__setattr__(self, "engine", "model")

    @property
    def ollama(self) -> ModelConfig:
        """The [model] section by its old name."""
        return self.model

    def with_overrides(self, **changes: Any) -> Config:
        """A copy with command-line overrides applied; None means "not given"."""
        top = {k: v for k, v in changes.items() if v is not None and "." not in k}
        config = dataclasses.replace(self, **top)
        for dotted, value in changes.items():
            if value is None or "." not in dotted:
                continue
            section, key = dotted.split(".", 1)
            section = OLD_NAMES.get(section, section)
            inner = dataclasses.replace(getattr(config, section), **{key: value})
            config = dataclasses.replace(config, **{section: inner})
        return config


SECTIONS = {"intake": IntakeConfig, "model": ModelConfig, "ocr": OcrConfig}
OLD_NAMES = {"ollama": "model"}  # [ollama] is still read as [model]


def _convert(
    path: Path, lines: KeyLines, table: tuple[str, ...], spec: dataclasses.Field[Any], raw: Any
) -> Any:
    """Check one raw TOML value against its field and turn it into the typed value."""
    hints = get_type_hints(Config if not table else SECTIONS[OLD_NAMES.get(table[0], table[0])])
    expected = hints[spec.name]
    unit, choices = spec.metadata.get("unit", ""), spec.metadata.get("choices", ())

    def fail(message: str) -> SourceError:
        return SourceError(
            path, message, lines.find(*table, spec.name), ".".join((*table, spec.name))
        )

    try:
        if unit == "duration":
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return float(raw)
            return parse_duration(str(raw)) if isinstance(raw, str) else _type_error(raw)
        if unit == "size":
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            return parse_size(raw) if isinstance(raw, str) else _type_error(raw)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if expected in (Path, Path | None):
        if not isinstance(raw, str):
            raise fail("expected a path (a string)")
        return Path(raw) if raw else None
    if expected == bool | list[str]:
        if isinstance(raw, bool) or (
            isinstance(raw, list) and all(isinstance(item, str) for item in raw)
        ):
            return raw
        raise fail("expected true, false or a list of hosts")
    if expected is bool and not isinstance(raw, bool):
        raise fail("expected true or false")
    if expected is int and (not isinstance(raw, int) or isinstance(raw, bool)):
        raise fail("expected a whole number")
    if expected is float and (not isinstance(raw, int | float) or isinstance(raw, bool)):
        raise fail("expected a number")
    if expected is str and not isinstance(raw, str):
        raise fail("expected a string")
    if expected == list[str] and not (
        isinstance(raw, list) and all(isinstance(item, str) for item in raw)
    ):
        raise fail("expected a list of strings")
    if choices and raw not in choices:
        raise fail(f"must be one of {', '.join(choices)}, not {raw!r}")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw < 0:
        raise fail("must not be negative")
    return float(raw) if expected is float else raw


def _type_error(raw: Any) -> Any:
    raise ValueError(f"{raw!r} has the wrong type")


def _build(
    path: Path,
    lines: KeyLines,
    table: tuple[str, ...],
    cls: type,
    raw: dict[str, Any],
    errors: list[SourceError],
) -> Any:
    """`cls` from its TOML table; every problem is added to `errors`, and the key it is
    about keeps its default, so that one check reports them all."""
    fields = {spec.name: spec for spec in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = fields.get(key)
        name = ".".join((*table, key))
        if spec is None and not (key in OLD_NAMES and not table):
            known = ", ".join(sorted(fields))
            errors.append(
                SourceError(path, f"unknown key (known: {known})", lines.find(*table, key), name)
            )
        elif key in SECTIONS and not table:
            if isinstance(value, dict):
                values[key] = _build(path, lines, (key,), SECTIONS[key], value, errors)
            else:
                errors.append(SourceError(path, "expected a table", lines.find(key), key))
        elif key in OLD_NAMES and not table:
            new = OLD_NAMES[key]
            if new in raw:
                errors.append(SourceError(path, f"[{key}] is the old name of [{new}]: "
                                          "keep one of them", lines.find(key), key))  # fmt: skip
            elif isinstance(value, dict):
                values[new] = _build(path, lines, (key,), SECTIONS[new], value, errors)
            else:
                errors.append(SourceError(path, "expected a table", lines.find(key), key))
        else:
            assert spec is not None
            try:
                values[key] = _convert(path, lines, table, spec, value)
            except SourceError as exc:
                errors.append(exc)
    return cls(**values)


def load_config(path: Path | None) -> Config:
    """The configuration in `path`, or the defaults when no file is given."""
    config = Config()
    errors: list[SourceError] = []
    lines = KeyLines("")
    if path is not None:
        raw, text = read_toml(path)
        lines = KeyLines(text)
        config = _build(path, lines, (), Config, raw, errors)
    errors += validate(config, path or "<defaults>", lines)
    raise_any(sorted(errors, key=lambda error: error.line or 0))
    return config


def validate(config: Config, origin: Path | str, lines: KeyLines) -> list[SourceError]:
    """Checks of values that parse but make no sense, each naming its key and line."""
    problems = []
    # Errors name the section as the file wrote it: [model], or its old name [ollama].
    section = "ollama" if lines.find("ollama") and not lines.find("model") else "model"
    if config.model.concurrency < 1:
        problems.append((f"{section}.concurrency", "must be at least 1"))
    if config.model.votes < 1:
        problems.append((f"{section}.votes", "must be at least 1"))
    polling = config.intake.polling
    if polling not in ("auto", "off"):
        try:
            parse_duration(polling)
        except ValueError as exc:
            problems.append(("intake.polling", f'"auto", "off" or an interval: {exc}'))
    return [
        SourceError(origin, message, lines.find(*key.split(".")), key) for key, message in problems
    ]


def host_from_environment(config: Config, environ: dict[str, str] | None = None) -> Config:
    """OLLAMA_HOST applies when the config file left the host at its default."""
    env = os.environ if environ is None else environ
    if env.get("OLLAMA_HOST") and config.model.host == ModelConfig().host:
        return config.with_overrides(**{"model.host": env["OLLAMA_HOST"]})
    return config


def _plain(cls_value: Any) -> dict[str, Any]:
    """A config section as TOML-ready values, written the way operators write them."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(cls_value):
        value = getattr(cls_value, spec.name)
        unit = spec.metadata.get("unit", "")
        if dataclasses.is_dataclass(value):
            continue
        if unit == "duration":
            value = format_duration(value)
        elif unit == "size":
            value = format_size(value)
        elif isinstance(value, Path):
            value = str(value)
        elif value is None:
            value = ""
        out[spec.name] = value
    return out


def to_toml(config: Config) -> str:
    """The effective configuration, every default filled in (for `proofwatch config show`)."""
    document = _plain(config)
    for name in SECTIONS:
        document[name] = _plain(getattr(config, name))
    return tomli_w.dumps(document)


def iter_settings() -> list[tuple[str, str, Any, str]]:
    """(table, key, default as written, doc) for every key: docs and tests walk this."""
    rows: list[tuple[str, str, Any, str]] = []
    defaults = Config()
    for table, section in [("", defaults), *((n, getattr(defaults, n)) for n in SECTIONS)]:
        plain = _plain(section)
        for spec in dataclasses.fields(section):
            if spec.name in plain:
                rows.append((table, spec.name, plain[spec.name], spec.metadata["doc"]))
    return rows
