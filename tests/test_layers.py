"""Imports only go down: no cycle between modules, and no module imports from a higher layer.
Every import counts, function-level ones included, because a lazy import is still a
dependency. The layers, highest first:

    depth_ros > training/ scripts > depth_core.cli > runtime, export, training, checkpoint,
    evaluation, bench, the benchmarks > data, models, losses > processing, metrics, geometry,
    metadata and the other plain modules of depth_core
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UPPER = {"runtime", "export", "training", "checkpoint", "evaluation", "bench"}
MIDDLE = {"data", "models", "losses"}


def layer(module: str) -> int:
    if module.startswith("depth_ros"):
        return 5
    if module.startswith("training."):  # the scripts in training/, not depth_core.training
        return 4
    if module == "depth_core.cli":
        return 3
    first = module.split(".")[1] if "." in module else ""
    if first in UPPER or first.endswith("_benchmark"):
        return 2
    return 1 if first in MIDDLE else 0


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for folder in ("depth_core", "depth_ros", "training"):
        for path in (root / folder).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the project modules it imports (a name resolves to its longest known
    module prefix: `from depth_core.models import build_model` is `depth_core.models`)."""
    known = modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, up level - 1
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            targets |= {t for t in map(resolve, names) if t and t != module}
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer(target) > layer(module)
    ]


def test_the_project_has_no_import_cycle_and_no_upward_import():
    graph = import_graph(ROOT)
    assert len(graph) > 40 and "depth_ros.monocular_node" in graph
    assert cycles(graph) == []
    assert upward_imports(graph) == []


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path):
    for folder in ("depth_core/models", "depth_ros", "training"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "depth_core/__init__.py").write_text("")
    (tmp_path / "depth_core/models/__init__.py").write_text("from . import registry\n")
    (tmp_path / "depth_core/models/registry.py").write_text(
        "def build():\n    from depth_core.models import transfer  # lazy, still a cycle\n"
    )
    (tmp_path / "depth_core/models/transfer.py").write_text(
        "from depth_core.models.registry import build\n"
    )
    (tmp_path / "depth_core/geometry.py").write_text("import depth_ros.node\n")
    (tmp_path / "depth_ros/__init__.py").write_text("")
    (tmp_path / "depth_ros/node.py").write_text("from depth_core import geometry\n")
    graph = import_graph(tmp_path)
    # Importing from a package runs its __init__: an edge to the package as well.
    assert graph["depth_core.models.registry"] == {
        "depth_core.models",
        "depth_core.models.transfer",
    }
    assert sorted(cycles(graph)) == [
        ["depth_core.geometry", "depth_ros.node"],
        ["depth_core.models", "depth_core.models.registry", "depth_core.models.transfer"],
    ]
    assert upward_imports(graph) == [
        "depth_core.geometry (layer 0) imports depth_ros.node (layer 5)"
    ]
