"""Every verdict the test suite makes must match the published schema.

conftest.py imports `verdicts_match_the_schema`, a session fixture that, once every test has
run, validates each *.verdict.json under the session's temp folder (daemons, backfills and the
example client all write there) against daemon/proofwatch/contract/schema/verdict.schema.json, and
fails the run naming each file and what is wrong. So a field added to the verdict without the
schema (or the other way round) cannot go unnoticed; the schema is proofwatch.verdict/1.1, so
every verdict and rule result must carry a `reason_code` from its enum, and `hints`.

Only files that claim to be verdicts (`"schema": "proofwatch.verdict/..."`) are checked: a
test may plant a corrupt file on purpose to see it redone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "daemon" / "proofwatch" / "contract" / "schema"


@cache
def validator(name: str) -> Draft202012Validator:
    """The validator for `name` ("verdict" or "request"), formats asserted."""
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def problems(name: str, document: Any) -> list[str]:
    """Every way `document` breaks the schema, one line each (empty when valid)."""
    errors = sorted(validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def claims_to_be_a_verdict(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(loaded, dict) and str(loaded.get("schema", "")).startswith("proofwatch.verdict/"):
        return loaded
    return None


def check_tree(base: Path) -> tuple[int, list[str]]:
    """(verdicts checked, one line per problem) for every verdict file under `base`."""
    checked, found = 0, []
    for path in sorted(base.rglob("*.verdict.json")):
        verdict = claims_to_be_a_verdict(path)
        if verdict is None:
            continue
        checked += 1
        found += [
            f"{path.relative_to(base)}: {problem}" for problem in problems("verdict", verdict)
        ]
    return checked, found


@pytest.fixture(scope="session", autouse=True)
def verdicts_match_the_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = tmp_path_factory.getbasetemp()
    _checked, found = check_tree(base)
    assert not found, "verdicts that break verdict.schema.json:\n" + "\n".join(found[:50])
