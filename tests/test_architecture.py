"""The import structure of the package (DESIGN.md, "The way data flows"): no import cycles,
torch only where a model runs, and layers that import only downward.

Imports are read with ``ast`` from every module under ``src/netanatomy``: module level and
inside functions, ``if TYPE_CHECKING:`` blocks skipped (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import netanatomy

SOURCE = Path(netanatomy.__file__).parent
PACKAGE = "netanatomy"

TORCH_MODULES = ("netanatomy.frontends.torch", "netanatomy.diagnostics", "netanatomy.layers",
                 "netanatomy.api", "netanatomy.attribution", "netanatomy.lab",
                 "netanatomy.training_api", "netanatomy.inference_api")
"""Modules (and packages, with everything below them) that may import torch."""

LAYERS = ("ir", "rules", "analysis", "render", "cli")
FORBIDDEN = {
    "ir": ("rules", "analysis", "render", "cli", "frontends"),
    "rules": ("analysis", "render", "cli", "frontends"),
    "analysis": ("render", "cli"),
    "render": ("cli",),
}
"""Layer → the layers it must never import (frontends → ir → rules → analysis → render →
cli)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of a ``from X import`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def collect(tree: ast.AST, module: str, is_package: bool, top_level_only: bool
            ) -> list[tuple[str, list[str]]]:
    """``(imported module, names)`` of every import that runs; ``top_level_only`` skips
    imports inside functions."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                ast.Lambda)):
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((resolve(node, module, is_package), [a.name for a in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@cache
def sources() -> dict[str, tuple[Path, ast.Module]]:
    return {module_name(path): (path, ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(SOURCE.rglob("*.py"))}


@cache
def import_graph(top_level_only: bool = False) -> dict[str, set[str]]:
    """Module → the package modules it imports (``from pkg import mod`` names ``pkg.mod``
    when that is a module, else ``pkg``)."""
    modules = sources()
    graph: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        edges: set[str] = set()
        for target, names in collect(tree, name, path.name == "__init__.py", top_level_only):
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            edges.update(submodules or [target])
        graph[name] = {edge for edge in edges if edge in modules and edge != name}
    return graph


def external_imports(name: str, top_level_only: bool) -> set[str]:
    path, tree = sources()[name]
    return {target.split(".")[0] for target, _ in
            collect(tree, name, path.name == "__init__.py", top_level_only)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the list of its members (first repeated last), or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in (*LAYERS, "frontends") else None


def in_any(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_checker_sees_imports_and_cycles() -> None:
    tree = ast.parse("from a import b\nif TYPE_CHECKING:\n    import c\n"
                     "def f():\n    import d\n")
    assert [t for t, _ in collect(tree, "m", False, False)] == ["a", "d"]
    assert [t for t, _ in collect(tree, "m", False, True)] == ["a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "netanatomy.analysis.summary" in import_graph()
    assert "netanatomy.analysis.cost" in import_graph()["netanatomy.analysis.summary"]


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_only_the_model_running_parts_import_torch() -> None:
    offenders = sorted(name for name in sources()
                       if "torch" in external_imports(name, top_level_only=False)
                       and not in_any(name, TORCH_MODULES))
    assert offenders == []


def spec_path_closure() -> set[str]:
    """Modules that ``import netanatomy.spec`` runs: module-level imports, transitively,
    with the parent packages Python imports first."""
    graph = import_graph(top_level_only=True)
    seen: set[str] = set()
    todo = ["netanatomy.spec"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend([*graph.get(name, ()), *parents])
    return seen


def test_the_spec_path_does_not_import_torch_at_module_level() -> None:
    closure = spec_path_closure()
    assert {"netanatomy", "netanatomy.spec", "netanatomy.frontends.spec"} <= closure
    offenders = sorted(name for name in closure
                       if "torch" in external_imports(name, top_level_only=True))
    assert offenders == []


def test_importing_the_spec_path_loads_no_torch() -> None:
    """The same, for real: a fresh interpreter imports the spec API and analyses a spec."""
    code = ("import sys; import netanatomy.spec as s; s.analyze('example:alexnet'); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downward(layer: str) -> None:
    offenders = sorted(f"{source} → {target}" for source, targets in import_graph().items()
                       if layer_of(source) == layer for target in targets
                       if layer_of(target) in FORBIDDEN[layer])
    assert offenders == []
