"""The module graph of ``scratch``, ``torch_ref`` and ``parity_tests`` has no circles.

The graph is drawn statically, from the ``import`` statements ``ast`` finds in each module:

- **What counts**: module-level imports — those that run when the module is imported, including
  imports inside a module-level ``if``/``try``/``with`` and class bodies. Imports inside a
  function do not count: a lazy import inside a function is the sanctioned way to load an
  optional part (SciPy, gymnasium, ONNX) or a heavy one only when it is used, and it runs after
  every module involved has finished importing. ``if TYPE_CHECKING:`` blocks never run and do
  not count either.
- **Edges** go to the most specific module of the three packages an import names:
  ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; relative
  imports are resolved. The parent packages Python imports on the way (``a`` for ``a.b``) are
  not edges: a package's ``__init__`` importing its own submodules is ordinary layering.

Beyond the module-level rule, no package has a circle even counting imports inside functions
(a lazy import must not be a way to hide one): the registry names its plug-ins and the concept
modules only as strings (``checks.CHECK_PLUGINS``, ``load_concepts``), the store of checks
(:mod:`parity_tests.checks`) sits below both the registry and the trajectory checker, the
course checker's child process is its own module, and the report and its workers share
:mod:`parity_tests.rows`.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("scratch", "torch_ref", "parity_tests")

Graph = dict[str, set[str]]


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module under ``packages`` (tests included)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when a module with this ``body`` is imported."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # runs when called: a lazy import
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _module_level(node.orelse)
        else:  # if/try/with/for/class bodies run at import time
            for field in ("body", "orelse", "finalbody"):
                yield from _module_level(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from _module_level(handler.body)


def _all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    return (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))


def import_graph(files: Mapping[str, Path], lazy: bool = False) -> Graph:
    """``{module: modules it imports}`` among ``files``; module-level imports only unless
    ``lazy`` (then imports inside functions count too)."""
    graph: Graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _all_imports(tree) if lazy else _module_level(tree.body):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, *([node.module] if node.module else [])])
                named = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in named:
                while target not in files and "." in target:
                    target = target.rpartition(".")[0]
                if target in files and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """One circle per strongly connected component of more than one module, as a path that
    starts and ends at the same module (``[a, b, a]``), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_circle(graph, component) for component in components)


def _circle(graph: Graph, component: set[str]) -> list[str]:
    """A shortest circle through the first module of ``component`` (breadth first)."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no circle through {start} in {sorted(component)}")


def _named(found: list[list[str]]) -> str:
    return "; ".join(" -> ".join(c) for c in found)


# --- the detector itself ----------------------------------------------------------------------
def test_the_detector_names_a_circle_and_passes_a_tree() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]  # a self-import is not a circle between modules
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert _named(cycles(graph)) == "a -> b -> c -> a"


def test_only_module_level_imports_count(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.low import x\n")
    (pkg / "low.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.high import y\n"
        "def lazy():\n    from pkg import high\n"
        "x = 1\n"
    )
    (pkg / "high.py").write_text("try:\n    from . import low\nexcept ImportError:\n    pass\ny = 2\n")
    files = module_files(tmp_path, ["pkg"])
    assert import_graph(files) == {"pkg": {"pkg.low"}, "pkg.low": set(), "pkg.high": {"pkg.low"}}
    assert cycles(import_graph(files)) == []
    assert cycles(import_graph(files, lazy=True)) == [["pkg.high", "pkg.low", "pkg.high"]]


# --- the project ------------------------------------------------------------------------------
def test_the_module_graph_has_no_circle() -> None:
    files = module_files()
    graph = import_graph(files)
    assert len(graph) > 100 and graph["torch_ref.layout"] == {"torch_ref._convert"}
    found = cycles(graph)
    assert not found, f"import circles (module-level imports): {_named(found)}"


@pytest.mark.parametrize("package", ["scratch", "torch_ref", "parity_tests"])
def test_no_package_has_a_circle_even_through_lazy_imports(package: str) -> None:
    found = cycles(import_graph(module_files(packages=[package]), lazy=True))
    assert not found, f"{package}: import circles (imports inside functions included): {_named(found)}"


def test_layout_and_its_converters_import_one_way() -> None:
    """``torch_ref.layout`` imports ``torch_ref._convert``; ``_convert`` imports nothing of it,
    and ``layout`` offers the converters as plain names, not through a module ``__getattr__``."""
    graph = import_graph(module_files(packages=["torch_ref"]), lazy=True)
    assert "torch_ref._convert" in graph["torch_ref.layout"]
    assert "torch_ref.layout" not in graph["torch_ref._convert"]
    layout = importlib.import_module("torch_ref.layout")
    convert = importlib.import_module("torch_ref._convert")
    assert not hasattr(layout, "__getattr__")
    for name in layout.__all__:
        assert hasattr(layout, name), f"torch_ref.layout.__all__ names {name!r}, which it lacks"
    assert set(convert.__all__) <= set(layout.__all__), "every converter is offered by torch_ref.layout"


def test_the_registry_knows_its_plugins_only_by_name() -> None:
    """No import of ``parity_tests.production`` in the registry, even inside a function: the
    production checks are a plug-in the registry calls through ``CHECK_PLUGINS``."""
    from parity_tests import registry

    graph = import_graph(module_files(packages=["parity_tests"]), lazy=True)
    production = sorted(m for m in graph["parity_tests.registry"] if m.startswith("parity_tests.production"))
    assert not production, f"parity_tests.registry imports {production}"
    assert registry.CHECK_PLUGINS
    for plugin in registry.CHECK_PLUGINS:
        module, _, function = plugin.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), plugin
