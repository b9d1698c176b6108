"""The package's shape, checked from its source: no giant classes, no import cycle in ``sim/``.

Both read the source with :mod:`ast` (nothing is imported), so they are quick
and cannot be fooled by lazy imports: an import inside a function or under
``TYPE_CHECKING`` counts like any other.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from kfresearch.sim.routing import Route

PACKAGE = Path(__file__).resolve().parents[2] / "kfresearch"
MAX_CLASS_LINES = 600


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``root`` (a package)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path) -> set[str]:
    """Every module name ``path`` imports (absolute and relative, at any depth in the file)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names.add(source)
            # ``from kfresearch.sim import margin`` imports the module ``margin``
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same tree it imports."""
    modules = _modules(root)
    return {
        name: {other for other in _imported(name, path) if other in modules and other != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_simulator_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE / "sim")
    assert len(graph) > 30  # the walk found the package
    assert "kfresearch.sim.account_api" in graph["kfresearch.sim.routes"]
    assert cycles(graph) == []


def test_routing_does_not_import_the_exchange() -> None:
    graph = import_graph(PACKAGE / "sim")
    assert "kfresearch.sim.exchange" not in graph["kfresearch.sim.routing"]


def _class_lengths() -> list[tuple[int, str]]:
    lengths: list[tuple[int, str]] = []
    for name, path in _modules(PACKAGE).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                lengths.append((length, f"{name}.{node.name}"))
    return sorted(lengths, reverse=True)


def test_no_class_in_the_package_is_over_600_lines() -> None:
    lengths = _class_lengths()
    assert len(lengths) > 100
    too_long = [(n, c) for n, c in lengths if n > MAX_CLASS_LINES]
    assert too_long == [], "split these classes along their seams"


@pytest.mark.parametrize(
    "handler",
    ["account_api", "analytics_api", "auth_api", "history_api", "private_api", "public_api"],
)
def test_handler_modules_export_route_tables(handler: str) -> None:
    module = importlib.import_module(f"kfresearch.sim.{handler}")
    assert module.ROUTES
    assert all(isinstance(r, Route) for r in module.ROUTES)
    source = (PACKAGE / "sim" / f"{handler}.py").read_text(encoding="utf-8")
    assert "@route(" not in source  # nothing registers itself on import


@pytest.mark.parametrize("module", ["client", "trading", "clientstate", "environments"])
def test_the_client_does_not_import_the_simulator(module: str) -> None:
    name = f"kfresearch.{module}"
    imported = _imported(name, PACKAGE / f"{module}.py")
    assert "kfresearch.sim" not in imported
    assert not [other for other in imported if other.startswith("kfresearch.sim.")]
