"""The package's shape: no import cycles, and the layers import only downwards.

Every ``import`` statement counts, function-local ones included (they hide a cycle, they do
not remove it); only ``if TYPE_CHECKING:`` blocks are left out, since they never run. The
folders ``search/`` and ``schedulers/`` are installed as ``raysweep.search`` and
``raysweep.schedulers`` and are walked under those names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Folder -> the package name it installs as (pyproject.toml's package-dir).
FOLDERS = {
    "raysweep": "raysweep", "search": "raysweep.search", "schedulers": "raysweep.schedulers",
}
# The stand-in `wandb` package is imported by trial programs under its own name, never by
# raysweep's modules; it is walked as a layer of its own.
SHIM = "raysweep.program.wandb_shim"

# Each layer may import only itself and the layers listed after it (the data flow, top down).
LAYERS = [
    ("faces", ["raysweep", "raysweep.api", "raysweep.cli", "raysweep.__main__",
               "raysweep.agent_host", "raysweep.wandb"]),
    # The dashboard reads sweep folders (analysis) and asks drivers to stop (execution).
    ("the dashboard", ["raysweep.dashboard"]),
    ("execution", ["raysweep.execution"]),
    ("search and schedulers", ["raysweep.search", "raysweep.schedulers"]),
    ("analysis", ["raysweep.analysis"]),
    ("the wandb stand-in", [SHIM]),
    ("the sweep and the program's side", ["raysweep.sweep", "raysweep.program"]),
    ("errors, files, numbers and Ray internals",
     ["raysweep.errors", "raysweep.files", "raysweep.numeric", "raysweep.ray_internals"]),
]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    base = FOLDERS[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join([base, *parts])


def _modules() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (s for n in node.orelse for s in _statements(n))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _statements(node)


def _resolve(name: str) -> str | None:
    """The raysweep module ``name`` is, or the closest package holding it."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """The raysweep modules that ``module``'s code imports (TYPE_CHECKING blocks left out)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - (node.level - 1)]
                base = ".".join([*up, base]) if base else ".".join(up)
            # `from pkg import name` imports the submodule pkg.name when there is one.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                       for a in node.names]
        for target in targets:
            if target.startswith("raysweep"):
                resolved = _resolve(target)
                if resolved is not None and resolved != module:
                    found.add(resolved)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def _layer(module: str) -> int:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact_only = prefix in ("raysweep",)
            hit = module == prefix if exact_only else (
                module == prefix or module.startswith(prefix + "."))
            if hit and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best


def test_the_walk_sees_the_package() -> None:
    # A walk that found nothing would pass every check below.
    assert {"raysweep.api", "raysweep.search.bayes", "raysweep.schedulers.hyperband",
            "raysweep.sweep.config", "raysweep.execution.tuner"} <= set(MODULES)
    assert "raysweep.execution.tuner" in GRAPH["raysweep.api"]
    assert "raysweep.sweep.space" in GRAPH["raysweep.search.grid"]


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_function_local_imports_count_and_type_checking_ones_do_not() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from raysweep.api import run\n"
        "def f():\n    from raysweep.errors import RaysweepError\n"
    )
    names = {n.module for n in _statements(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"typing", "raysweep.errors"}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    mine = _layer(module)
    upward = sorted(m for m in GRAPH[module] if _layer(m) < mine)
    assert upward == [], f"{module} ({LAYERS[mine][0]}) imports from a layer above it"


def _is_ray(module: str) -> bool:
    return module == "ray" or module.startswith("ray.")


def _reaches_into_ray(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _is_ray(node.module or ""):
            names = [node.module or "", *(a.name for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if _is_ray(a.name)]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "ray":
            names = [f"ray.{node.attr}"]
        else:
            continue
        found += [n for n in names if any(p.startswith("_") for p in n.split("."))]
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES
                                          if not m.startswith("raysweep.ray_internals")))
def test_only_ray_internals_uses_rays_private_api(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    assert _reaches_into_ray(tree) == []


def test_the_private_api_check_sees_private_uses() -> None:
    tree = ast.parse("import ray\nfrom ray._private.state import state\n"
                     "from ray.experimental.internal_kv import _internal_kv_get\n"
                     "x = ray._private.worker\nfrom ray import tune\n")
    assert sorted(_reaches_into_ray(tree)) == [
        "_internal_kv_get", "ray._private", "ray._private.state"]
