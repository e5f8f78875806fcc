"""One instance's graph and values: what is not stored is evaluated once, with a lazily loaded engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.evaluate import Evaluator, Graph
from i2dl.expr import Const, Name, Node

from .steps import MAX_ENTRIES, _arr

MAX_JACOBIAN = 4096  # entries of a local Jacobian worth computing for a hand-sized problem


class _LazyEngine:
    """An engine loaded on first use, so explaining from stored values loads none at all."""

    def __init__(self, name: str):
        self._name = name
        self._loaded = None

    def __getattr__(self, op: str) -> Any:
        if self._loaded is None:
            from i2dl.engine import get_engine

            self._loaded = get_engine(self._name)
        return getattr(self._loaded, op)


class _Ctx:
    """One instance's graph and values; evaluates what is not stored, once, with the engine."""

    def __init__(self, graph: Graph, values: dict[str, Any], engine_name: str | None,
                 entry: tuple[int, ...] | None, answers: set[str], base: int = 1,
                 whys: dict[str, str] | None = None):
        self.base = base  # how the problem's sheet counts entries (1 or 0)
        self.whys = whys or {}  # blank -> the spec's templated reason for its answer
        self.graph = graph
        self.values = values
        self.entry = entry
        self.answers = answers
        # The numbers are the same on both engines; numpy keeps torch unloaded.
        self.engine = _LazyEngine(engine_name or "numpy")
        self._cache: dict[Node, Any] = {}
        self._evaluator: Evaluator | None = None
        self._traces: dict[tuple, dict[str, Any]] = {}
        self._jacobians: dict[tuple[str, str], np.ndarray | None] = {}
        self.shown: set[str] = set()
        self.memo: dict[tuple, Any] = {}  # what the renderers derive once per instance (keyed by node ids)

    def value(self, node: Node | None) -> Any:
        """The value of an expression: stored when it is a node, else evaluated once."""
        if node is None:
            return None
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Name) and node.id in self.values:
            return self.values[node.id]
        if node not in self._cache:
            if self._evaluator is None:  # one for the instance: its values do not change while it is explained
                self._evaluator = Evaluator(self.engine, self.values, self.graph)
            self._cache[node] = self._evaluator.eval(node)
        return self._cache[node]

    def trace(self, out: str, wrt: str, upstream: Any) -> dict[str, Any]:
        """d L / d node for every named node between out and wrt (out first, wrt last)."""
        key = (out, wrt, _key(upstream))
        if key not in self._traces:
            trace: dict[str, Any] = {}
            Evaluator(self.engine, self.values, self.graph).gradient(out, wrt, upstream, trace=trace)
            self._traces[key] = trace
        return self._traces[key]

    def jacobian(self, n: str, u: str) -> np.ndarray | None:
        """The local Jacobian d n / d u (rows: entries of n, columns: entries of u), other inputs fixed."""
        if (n, u) not in self._jacobians:
            self._jacobians[(n, u)] = self._local_jacobian(n, u)
        return self._jacobians[(n, u)]

    def _local_jacobian(self, n: str, u: str) -> np.ndarray | None:
        vn, vu = _arr(self.values[n]), _arr(self.values[u])
        if vn.size * vu.size > MAX_JACOBIAN:
            return None
        # A one-node graph: the gradient flows through n's own expression only.
        mini = Graph({n: self.graph.nodes[n]}, [n], {n: self.graph.deps.get(n, frozenset())})
        seeds = list(np.eye(vn.size).reshape(vn.size, *vn.shape)) if vn.ndim else [1.0]  # row k: d n_k / d u
        rows = Evaluator(self.engine, self.values, mini).gradients(n, u, seeds)
        return np.array([_arr(g).ravel() for g in rows]).reshape(vn.size, vu.size)

    def pick(self, shape: tuple[int, ...]) -> tuple[list[tuple[int, ...]], int]:
        """The entries to write out (the asked one, or the first few) and how many are left out."""
        every = list(np.ndindex(*shape)) if shape else [()]
        if self.entry is not None and len(self.entry) <= len(shape):
            chosen = [p for p in every if p[len(p) - len(self.entry):] == self.entry]
            if chosen:
                return chosen, 0
        return every[:MAX_ENTRIES], max(0, len(every) - MAX_ENTRIES)


def _key(v: Any) -> Any:
    if v is None:
        return None
    a = _arr(v)
    return (a.shape, tuple(np.round(a.ravel(), 12)))


def branch_taken(node: Node, ctx: _Ctx) -> Node | None:
    """The branch `a if c else b` takes when c is one value (None: not such a node, or c is elementwise)."""
    from i2dl.errors import I2dlError
    from i2dl.expr import Call

    if not (isinstance(node, Call) and node.fn == "where" and len(node.args) == 3):
        return None
    try:
        cond = ctx.value(node.args[0])
    except I2dlError:
        return None
    if np.size(cond) != 1:
        return None
    return node.args[1] if bool(np.all(cond)) else node.args[2]
