"""The package's layers point one way: no import cycle between i2dl's top-level modules and packages.

Imports are read with `ast` (never executed), including the ones inside functions: a deferred
import still ties two units together, it only hides the cycle from the interpreter.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "cli" / "i2dl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    """Whether `name` (i2dl.x.y) is a module or package of i2dl, not a name defined in one."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _unit(name: str) -> str:
    """The top-level unit a module belongs to: i2dl.grade.score -> i2dl.grade; the package's own init -> i2dl."""
    return ".".join(name.split(".")[:2])


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The i2dl modules one import statement reads (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # `from i2dl.exam import build` reads the submodule when there is one, else the module itself.
    return [f"{source}.{a.name}" if _is_module(f"{source}.{a.name}") else source for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """unit -> the other i2dl units it imports, anywhere in its modules."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        unit = _unit(module)
        graph.setdefault(unit, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for name in _imported(node, module, path.name == "__init__.py"):
                if (name == "i2dl" or name.startswith("i2dl.")) and _unit(name) != unit:
                    graph[unit].add(_unit(name))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one unit (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
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
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_import_graph_sees_deferred_and_relative_imports():
    graph = import_graph()
    assert "i2dl.spec" in graph["i2dl.explain"]  # explain/api.py imports spec.load inside a function
    assert "i2dl.explain" in graph["i2dl.generate"]
    assert "i2dl.exam" in graph["i2dl.export"] and "i2dl.export" not in graph["i2dl.exam"]


def test_cycles_finds_a_two_unit_loop_and_ignores_a_chain():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_engine_and_ops_import_nothing_above_them():
    graph = import_graph()
    assert graph.get("i2dl.engine", set()) <= {"i2dl.errors"}
    assert graph.get("i2dl.ops", set()) == set()


def test_kinds_import_only_errors_io_and_render():
    # Answer kinds sit below everything that grades, generates or explains: those units read the registry.
    graph = import_graph()
    assert graph.get("i2dl.kinds", set()) <= {"i2dl.errors", "i2dl.io", "i2dl.render"}
    users = ("i2dl.spec", "i2dl.grade", "i2dl.exam", "i2dl.export", "i2dl.explain", "i2dl.validate")
    assert [u for u in users if "i2dl.kinds" not in graph.get(u, set())] == []


def test_no_module_outside_kinds_spells_out_a_list_of_answer_kinds():
    import ast

    from i2dl.kinds import NAMES

    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "kinds":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and e.value in NAMES for e in node.elts):
                found.add(str(path.relative_to(PACKAGE)))
    assert found == set()


def test_grading_and_explain_do_not_import_each_other():
    # explain --student takes a grading result as data; grading never needs the worked steps.
    graph = import_graph()
    assert "i2dl.grade" not in graph.get("i2dl.explain", set())
    assert "i2dl.explain" not in graph.get("i2dl.grade", set())
