"""The package's imports point one way: command line, service, pipeline, stages, vocabulary.

Read from the source (every import, including those inside functions and under
TYPE_CHECKING), so a new module or a lazy import cannot slip past.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "proofwatch"

# Bottom to top; a module may import its own layer or lower ones, never a higher one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vocabulary", (
        "proofwatch", "proofwatch.vocabulary", "proofwatch.units", "proofwatch.tomlsource",
        "proofwatch.atomic", "proofwatch.imaging", "proofwatch.metadata", "proofwatch.config",
    )),
    ("stages", (
        "proofwatch.watch", "proofwatch.intake", "proofwatch.strip", "proofwatch.rules",
        "proofwatch.engines", "proofwatch.contract", "proofwatch.state", "proofwatch.quality",
    )),
    ("pipeline", ("proofwatch.pipeline",)),
    ("service", ("proofwatch.service",)),
    ("command line", ("proofwatch.cli", "proofwatch.__main__")),
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """The modules `path` imports (absolute names; `from . import x` counts as the package)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target


def graph() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[module_name(path)] = {
            target for target in imports(path) if target.split(".")[0] == "proofwatch"
        }
    return found


def layer(module: str) -> int:
    best = max(
        ((rank, prefix) for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
         if module == prefix or module.startswith(prefix + ".")),
        key=lambda found: len(found[1]),
        default=None,
    )  # fmt: skip
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS")
    return best[0]


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle in the graph, as the list of its nodes, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_imports_only_its_own_layer_or_lower() -> None:
    wrong = [
        f"{module} ({LAYERS[layer(module)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for module, targets in graph().items()
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_import_cycle() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_no_cycle_between_the_stages() -> None:
    """Stages may use one another (watch uses intake's names), but never both ways."""

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in graph().items():
        packages.setdefault(unit(module), set()).update(
            unit(t) for t in targets if unit(t) != unit(module)
        )
    assert find_cycle(packages) is None, " -> ".join(find_cycle(packages) or [])


def test_the_product_never_imports_the_dev_tools() -> None:
    for path in PACKAGE.rglob("*.py"):
        for target in imports(path):
            assert target.split(".")[0] not in ("proofgen", "tests", "bench", "training"), path


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"a"}}, ["a", "a"]),
    ],
)
def test_find_cycle_finds_cycles(edges: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(edges) == cycle


def test_a_higher_import_would_be_caught() -> None:
    assert layer("proofwatch.rules.decide") < layer("proofwatch.pipeline.process")
    assert layer("proofwatch.cli.strip") == len(LAYERS) - 1
    assert layer("proofwatch.config") == 0
