"""The package's layers point one way: no import cycle between the top-level units of i2dl."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cli" / "i2dl"


def _unit(module: str) -> str:
    """The top-level unit of a module: i2dl.grade.score -> i2dl.grade."""
    return ".".join(module.split(".")[:2])


def _is_unit(name: str) -> bool:
    """True when i2dl.<name> is a module or package (not a name such as __version__)."""
    return (PACKAGE / f"{name}.py").is_file() or (PACKAGE / name / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """unit -> units it imports (anywhere in its modules, function-level imports included)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                targets = [".".join(base + ([node.module] if node.module else []))]
                if targets == ["i2dl"]:  # `from i2dl import kinds` imports the unit i2dl.kinds
                    targets = [f"i2dl.{a.name}" for a in node.names if _is_unit(a.name)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t.startswith("i2dl.") and _unit(t) != _unit(module):
                    graph[_unit(module)].add(_unit(t))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_top_level_units():
    assert cycles(import_graph()) == []


def test_engine_and_ops_import_nothing_above_them():
    graph = import_graph()
    assert graph.get("i2dl.engine", set()) <= {"i2dl.errors"}
    assert graph.get("i2dl.ops", set()) == set()


def test_kinds_import_only_errors_io_and_render():
    # Answer kinds sit below everything that grades, generates or explains: those units read the registry.
    graph = import_graph()
    assert graph.get("i2dl.kinds", set()) <= {"i2dl.errors", "i2dl.io", "i2dl.render"}
    users = ("i2dl.spec", "i2dl.grade", "i2dl.exam", "i2dl.exam_data", "i2dl.explain", "i2dl.validate")
    assert [u for u in users if "i2dl.kinds" not in graph.get(u, set())] == []


#: Modules that still spell out kind names, each to be switched to the registry. This set may only shrink.
KIND_LISTS_LEFT = {"exam_data.py"}  # the tolerance sanity check, switched when exam_data.py moves into exam/


def test_no_module_outside_kinds_spells_out_a_list_of_answer_kinds():
    from i2dl.kinds import NAMES

    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "kinds":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and e.value in NAMES for e in node.elts):
                found.add(str(path.relative_to(PACKAGE)))
    assert found == KIND_LISTS_LEFT
