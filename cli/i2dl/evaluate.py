"""Evaluating expression trees, and reverse-mode differentiation through the answer graph.

`grad(out, wrt)` re-evaluates the answer nodes between `wrt` and `out` on a tape and runs
the recorded operations backwards through their VJPs. Overridden nodes (a student's own
upstream values, for follow-through credit) keep the student's value in the forward pass
while gradients still flow through the node's own operation, so a later part is computed
exactly as the student would have computed it from their earlier answer.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from i2dl import limits
from i2dl.errors import BudgetError, EngineError, ExprError, I2dlError
from i2dl.expr import Call, Const, Dict, Name, Node, Parsed, Seq
from i2dl.functions import CONSTANTS, lookup, unbroadcast

#: numpy's floating-point checks while evaluating: overflow, division by zero and invalid
#: operations are errors; underflow is not, since torch too rounds exp(-800) to 0.
FP_ERRORS = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}
#: While an Evaluator.eval has FP_ERRORS set in this thread: the settings it replaced (no registered function
#: evaluates expressions itself, so no function's own errstate can sit between that eval and a call it makes).
_FP_SET: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("i2dl_fp_errors_set", default=None)


class fp_errors:
    """FP_ERRORS in force for a run of evaluations; inside one, eval sets nothing of its own (nesting is free)."""

    __slots__ = ("_state", "_token")

    def __enter__(self) -> fp_errors:
        self._token = None
        if _FP_SET.get() is None:
            self._token = _FP_SET.set(np.geterr())
            self._state = np.errstate(**FP_ERRORS)
            self._state.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            try:
                self._state.__exit__(*exc)
            finally:
                _FP_SET.reset(self._token)


def args_text(bound: Mapping[str, Any], width: int = 120) -> str:
    """`name=value, ...` for an error message, each array cut to a few entries."""
    parts = []
    for name, value in bound.items():
        if isinstance(value, (np.ndarray, list, tuple)):
            try:
                text = np.array2string(np.asarray(value, dtype=float), threshold=6, edgeitems=2,
                                       separator=", ", max_line_width=10**6)
            except (TypeError, ValueError):
                text = repr(value)
        else:
            text = repr(value)
        parts.append(f"{name}={text}")
    joined = ", ".join(parts)
    return joined if len(joined) <= width else joined[:width - 3] + "..."


@dataclass
class Graph:
    """Named expressions (derived values and answers) in an order where inputs come first."""

    nodes: dict[str, Parsed]
    order: list[str]
    deps: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def grad_nodes(self) -> dict[str, tuple[str, str]]:
        """Nodes that are exactly grad(out, wrt), as {node: (out, wrt)}: a student's answer to one is
        their own dout/dwrt, which later gradients through `wrt` take as their upstream."""
        if "_grad_nodes" not in self.__dict__:
            self.__dict__["_grad_nodes"] = {
                n: (p.node.args[0].id, p.node.args[1].id) for n, p in self.nodes.items()
                if isinstance(p.node, Call) and p.node.fn == "grad" and len(p.node.args) == 2
                and not p.node.kwargs and all(isinstance(a, Name) for a in p.node.args)}
        return self.__dict__["_grad_nodes"]

    def grad_calls(self, name: str) -> set[tuple[str, str]]:
        """The (out, wrt) of every grad(out, wrt, ...) call in node `name`'s expression."""
        found: set[tuple[str, str]] = set()
        stack: list[Any] = [self.nodes[name].node]
        while stack:
            n = stack.pop()
            if isinstance(n, Call):
                if n.fn == "grad" and len(n.args) >= 2 and all(isinstance(a, Name) for a in n.args[:2]):
                    found.add((n.args[0].id, n.args[1].id))
                stack.extend(n.args)
                stack.extend(v for _, v in n.kwargs)
            elif isinstance(n, Seq):
                stack.extend(n.items)
            elif isinstance(n, Dict):
                stack.extend(v for _, v in n.items)
        return found

    def depends_on(self, name: str, wrt: str) -> bool:
        """True when node `name` reads `wrt`, directly or through other nodes."""
        return wrt in self.ancestors(name)

    def ancestors(self, name: str) -> frozenset[str]:
        """Every name node `name` reads, directly or through other nodes (cached: grading asks often)."""
        cache = self.__dict__.setdefault("_ancestors", {})
        found = cache.get(name)
        if found is None:
            seen: set[str] = set()
            stack = [name]
            while stack:
                for d in self.deps.get(stack.pop(), ()):
                    if d not in seen:
                        seen.add(d)
                        stack.append(d)
            found = cache[name] = frozenset(seen)
        return found

    def between(self, out: str, wrt: str) -> tuple[str, ...]:
        """The nodes a gradient d out / d wrt passes through (out included), in evaluation order (cached)."""
        cache = self.__dict__.setdefault("_between", {})
        found = cache.get((out, wrt))
        if found is None:
            found = cache[(out, wrt)] = tuple(n for n in self.order if (n == out or self.depends_on(out, n))
                                              and self.depends_on(n, wrt))
        return found

    def has_grad(self, name: str) -> bool:
        """True when node `name`'s expression calls grad() (its value then hangs on more than its inputs)."""
        cache = self.__dict__.setdefault("_has_grad", {})
        if name not in cache:
            cache[name] = name in self.nodes and bool(self.grad_calls(name))
        return cache[name]


def build_graph(nodes: Mapping[str, Parsed], known: set[str], *, where: Mapping[str, str] | None = None) -> Graph:
    """Topologically order `nodes`; unknown names and cycles are errors naming the node."""
    where = where or {}
    deps: dict[str, frozenset[str]] = {}
    defined = set(known) | set(nodes) | set(CONSTANTS)
    for name, parsed in nodes.items():
        names = set(parsed.names)
        unknown = sorted(n for n in names if n not in defined)
        if unknown:
            import difflib

            near = difflib.get_close_matches(unknown[0], sorted(defined), n=3)
            raise ExprError(
                f"'{name}' uses unknown name{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}",
                where=where.get(name),
                fix=("did you mean " + ", ".join(near) + "?") if near else
                "define it under params or as an earlier answer")
        deps[name] = frozenset(n for n in names if n not in CONSTANTS)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, trail: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = trail[trail.index(n):] + [n]
            raise ExprError("cycle in the answer graph: " + " -> ".join(cycle), where=where.get(n),
                            fix="an answer may only use parameters and earlier answers")
        state[n] = 1
        for d in sorted(deps[n]):
            if d in nodes:
                visit(d, trail + [n])
        state[n] = 2
        order.append(n)

    for n in nodes:
        visit(n, [])
    return Graph(dict(nodes), order, deps)


@dataclass
class _Entry:
    fn: Any
    bound: dict[str, Any]
    ids: dict[str, int | None]
    out: Any
    out_id: int


class Evaluator:
    """Evaluates expressions over an environment of values with one engine."""

    def __init__(self, engine, env: Mapping[str, Any], graph: Graph | None = None,
                 overrides: Mapping[str, Any] | None = None, budget: limits.Budget | None = None):
        self.engine = engine
        self.env = dict(env)
        self.graph = graph
        self.overrides = dict(overrides or {})
        self.budget = budget or limits.current_budget()

    # -- plain evaluation

    def eval(self, node: Node, where: str | None = None) -> Any:
        """The value of `node` in this environment."""
        if _FP_SET.get() is not None:
            return self._value(node, where)
        # FP_ERRORS set once for the whole expression, not once per call (each call's own errstate cost more
        # than most calls); between calls only the size checks compute with numpy floats, and they run
        # again under the caller's own settings when that raises (see _call).
        with fp_errors():
            return self._value(node, where)

    def eval_node(self, name: str, where: str | None = None) -> Any:
        """Evaluate graph node `name` (its inputs must already be in the environment)."""
        assert self.graph is not None
        value = self.eval(self.graph.nodes[name].node, where)
        if name in self.overrides:
            value = self.overrides[name]
        self.env[name] = value
        return value

    def run(self, where: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Evaluate every graph node in order; returns the environment."""
        assert self.graph is not None
        for name in self.graph.order:
            self.eval_node(name, (where or {}).get(name))
        return self.env

    def _value(self, node: Node, where: str | None) -> Any:
        """The value of `node` off the tape: what _eval gives with no tape, without its tape ids (the common case)."""
        kind = type(node)
        if kind is Call:
            name = node.fn
            if name == "grad":
                return self._grad(node, {}, None, where)  # off the tape, a grad of a grad is taken numerically
            args = node.args
            if name == "where" and len(args) == 3 and not node.kwargs:
                cond = self._value(args[0], where)
                if np.ndim(cond) == 0:  # `a if c else b` with one c: only the branch taken
                    return self._value(args[1] if bool(cond) else args[2], where)
            fn = lookup(name, where)
            bound = fn.bind([self._value(a, where) for a in args],
                            {k: self._value(v, where) for k, v in node.kwargs}, where)
            return self._call(fn, bound, where, node)
        if kind is Name:
            env = self.env
            if node.id in env:
                return env[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise ExprError(f"unknown name '{node.id}'", where=where)
        if kind is Const:
            return node.value
        return self._eval(node, {}, None, where)[0]

    # -- the tape

    def _eval(self, node: Node, ids: dict[str, int], tape: list[_Entry] | None,
              where: str | None) -> tuple[Any, int | None]:
        if isinstance(node, Const):
            return node.value, None
        if isinstance(node, Name):
            if node.id in ids:
                return self.env[node.id], ids[node.id]
            if node.id in self.env:
                return self.env[node.id], None
            if node.id in CONSTANTS:
                return CONSTANTS[node.id], None
            raise ExprError(f"unknown name '{node.id}'", where=where)
        if isinstance(node, Seq):
            pairs = [self._eval(i, ids, tape, where) for i in node.items]
            values = [v for v, _ in pairs]
            # the entries of a list of arrays are checked before they are joined into one
            limits.check_elements(sum(v.size for v in values if isinstance(v, np.ndarray)), self.budget, where, node)
            value = _seq_value(values)
            limits.check_value(value, self.budget, where, node)
            if tape is not None and any(i is not None for _, i in pairs):
                return self._record(tape, _SEQ_FN, {f"x{k}": v for k, v in enumerate(values)},
                                    {f"x{k}": i for k, (_, i) in enumerate(pairs)}, value)
            return value, None
        if isinstance(node, Dict):
            return {k: self._eval(v, ids, tape, where)[0] for k, v in node.items}, None
        if isinstance(node, Call):
            if node.fn == "grad":
                symbolic = self._second_order(node, ids, tape, where)
                if symbolic is not None:  # grad of a grad: this derivative goes on the tape as an expression
                    return self._eval(symbolic, ids, tape, where)
                return self._grad(node, ids, tape, where), None
            if node.fn == "where" and len(node.args) == 3 and not node.kwargs:
                cond, cid = self._eval(node.args[0], ids, tape, where)
                if cid is None and np.ndim(cond) == 0:  # `a if c else b` with one c: only the branch taken
                    return self._eval(node.args[1] if bool(cond) else node.args[2], ids, tape, where)
            fn = lookup(node.fn, where)
            pairs = [self._eval(a, ids, tape, where) for a in node.args]
            kwpairs = {k: self._eval(v, ids, tape, where) for k, v in node.kwargs}
            bound = fn.bind([v for v, _ in pairs], {k: v for k, (v, _) in kwpairs.items()}, where)
            bound_ids = ({"*": None} if "*" in bound else
                         dict(zip(fn.params, [i for _, i in pairs], strict=False)) | {k: i for k, (_, i) in kwpairs.items()})
            value = self._call(fn, bound, where, node)
            if tape is not None and any(i is not None for i in bound_ids.values()):
                if fn.vjp is None:
                    raise ExprError(f"cannot differentiate through {node.fn}()", where=where,
                                    fix="give the gradient of this step as a 'given' value")
                return self._record(tape, fn, bound, bound_ids, value)
            return value, None
        raise ExprError(f"cannot evaluate {node!r}", where=where)

    def _call(self, fn, bound: dict[str, Any], where: str | None, node: Node | None = None) -> Any:
        expr = node if node is not None else fn.name
        limits.check_clock(where, expr)
        outer = _FP_SET.get()
        try:
            limits.check_call(fn.name, bound, self.budget, where, expr)
        except FloatingPointError:  # an estimate beyond float range: under the caller's settings, as before
            with np.errstate(**outer):
                limits.check_call(fn.name, bound, self.budget, where, expr)
        try:
            if outer is not None:  # already inside eval()'s errstate
                value = fn.call(self.engine, bound)
            else:
                with np.errstate(**FP_ERRORS):
                    value = fn.call(self.engine, bound)
            # torch, and Python's own float arithmetic, return inf where numpy raises: one error for all.
            if not _finite(value) and all(_finite(v) for v in bound.values()):
                raise FloatingPointError
        except I2dlError as exc:
            if isinstance(exc, EngineError) or exc.where is None:
                exc.where = where if exc.where is None else exc.where
            raise
        except FloatingPointError:
            raise ExprError(f"{fn.name}({args_text(bound)}): the result overflows or is undefined",
                            where=where, fix="choose smaller or valid values for these arguments") from None
        except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError, OverflowError) as exc:
            raise ExprError(f"{fn.name}(): {exc}", where=where,
                            fix=f"call it as {fn.signature()}") from None
        except MemoryError:
            raise BudgetError(f"`{limits.expr_text(expr)}` ran out of memory", where=where,
                              fix="keep values hand-sized") from None
        limits.check_value(value, self.budget, where, expr)
        return value

    def _record(self, tape, fn, bound, bound_ids, value) -> tuple[Any, int]:
        out_id = len(tape) + 1_000_000
        tape.append(_Entry(fn, bound, bound_ids, value, out_id))
        return value, out_id

    def _given_gradients(self, out: str, ids: dict[str, int], env: Mapping[str, Any]) -> dict[int, np.ndarray]:
        """{tape id of u: the overridden value of a node grad(out, u)} for the u on this tape."""
        given: dict[int, np.ndarray] = {}
        for node, (o, u) in self.graph.grad_nodes.items():
            if o == out and node in self.overrides and u in ids:
                value = np.asarray(self.overrides[node], dtype=float)
                if value.shape == np.shape(env[u]):  # a wrong-shaped answer cannot stand in
                    given[ids[u]] = value
        return given

    def _second_order(self, node: Call, ids: dict[str, int], tape, where: str | None) -> Node | None:
        """d out / d wrt of grad(out, wrt) as an expression, when an outer grad() differentiates it; else None."""
        if tape is None or self.graph is None or node.kwargs or len(node.args) != 2 \
                or not all(isinstance(a, Name) for a in node.args):
            return None
        out, wrt = node.args[0].id, node.args[1].id
        if out not in self.graph.nodes or not (out in ids or wrt in ids):
            return None
        if np.ndim(self.env.get(wrt)) != 0 or np.ndim(self.env.get(out)) != 0:
            raise ExprError(f"grad of grad({out}, {wrt}): second derivatives are taken of a scalar function "
                            "of a scalar", where=where, fix="differentiate a scalar f(w) with respect to a scalar w")
        from i2dl.derivative import derivative

        try:
            return derivative(self.graph.nodes[out].node, wrt, self.graph.nodes, self.graph.depends_on)
        except ExprError as exc:
            exc.where = exc.where or where
            raise

    # -- grad(out, wrt, upstream)

    def _grad(self, node: Call, ids, tape, where: str | None) -> Any:
        if self.graph is None:
            raise ExprError("grad() needs the answer graph", where=where)
        args = list(node.args) + [v for _, v in node.kwargs]
        names = dict(zip(("out", "wrt", "upstream"), node.args, strict=False)) | dict(node.kwargs)
        if not 2 <= len(args) <= 3 or not isinstance(names.get("out"), Name) or not isinstance(names.get("wrt"), Name):
            raise ExprError("grad() takes grad(out, wrt) or grad(out, wrt, upstream) where out and wrt are names",
                            where=where)
        out, wrt = names["out"].id, names["wrt"].id
        upstream = self._eval(names["upstream"], {}, None, where)[0] if "upstream" in names else None
        return self.gradient(out, wrt, upstream, where)

    def gradient(self, out: str, wrt: str, upstream: Any = None, where: str | None = None,
                 trace: dict[str, Any] | None = None) -> Any:
        """d sum(upstream * out) / d wrt, differentiating the graph nodes between them.

        With `trace`, the gradient with respect to every named node on the path (the chain
        rule's intermediate factors, from `out` back to `wrt`) is stored in it, in that order.
        """
        return self.gradients(out, wrt, [upstream], where, trace)[0]

    def gradients(self, out: str, wrt: str, upstreams: list[Any], where: str | None = None,
                  trace: dict[str, Any] | None = None) -> list[Any]:
        """gradient(out, wrt, u) for each u in `upstreams`, the forward pass taken once (`trace`: of the last)."""
        assert self.graph is not None
        if out != wrt and out in self.graph.nodes and not self.graph.depends_on(out, wrt):
            raise ExprError(f"'{out}' does not depend on '{wrt}'", where=where)
        if wrt not in self.env:
            raise ExprError(f"grad(): '{wrt}' has no value yet", where=where,
                            fix="differentiate with respect to a parameter or an earlier answer")
        wrt_value = self.env[wrt]
        if out == wrt:
            return [_plain(np.ones_like(np.asarray(wrt_value, dtype=float)) if u is None else u) for u in upstreams]
        path = self.graph.between(out, wrt)
        sub = Evaluator(self.engine, self.env, self.graph, self.overrides, self.budget)
        tape: list[_Entry] = []
        ids = {wrt: 0}
        for n in path:
            value, vid = sub._eval(self.graph.nodes[n].node, ids, tape, where)
            if n in self.overrides:
                value = self.overrides[n]  # the student's value forward, the node's own op backward
                last = vid - 1_000_000 if vid is not None else -1
                if 0 <= last < len(tape) and np.shape(value) == np.shape(tape[last].out):
                    _differentiate_at(tape[last], value)
            sub.env[n] = value
            if vid is not None:
                ids[n] = vid
        if out not in ids:
            raise ExprError(f"'{out}' does not depend on '{wrt}'", where=where)
        return [self._backward(tape, ids, sub.env, out, wrt, u, where, trace if k == len(upstreams) - 1 else None)
                for k, u in enumerate(upstreams)]

    def _backward(self, tape: list[_Entry], ids: dict[str, int], env: dict[str, Any], out: str, wrt: str,
                  upstream: Any, where: str | None, trace: dict[str, Any] | None) -> Any:
        """d sum(upstream * out) / d wrt from the forward pass's tape (which it leaves as it is)."""
        wrt_value = self.env[wrt]
        out_value = env[out]
        seed = np.ones_like(np.asarray(out_value, dtype=float)) if upstream is None else np.asarray(upstream, dtype=float)
        if np.shape(seed) != np.shape(out_value):
            try:
                seed = np.broadcast_to(seed, np.shape(out_value)).astype(float)
            except ValueError:
                raise ExprError(f"grad(): upstream of shape {np.shape(seed)} does not match "
                                f"'{out}' of shape {np.shape(out_value)}", where=where) from None
        grads: dict[int, Any] = {ids[out]: seed}
        names_of = {i: n for n, i in ids.items()}
        # A student's own d(out)/du (an overridden grad(out, u) node) replaces the chain above u: the
        # later gradient is the one they would compute from it (follow-through through gradients).
        given = {} if upstream is not None else self._given_gradients(out, ids, env)
        for entry in reversed(tape):
            g = given.get(entry.out_id, grads.pop(entry.out_id, None))
            grads.pop(entry.out_id, None)
            if g is None:
                continue
            if trace is not None and entry.out_id in names_of:
                trace[names_of[entry.out_id]] = _plain(g)
            try:
                with np.errstate(**FP_ERRORS):
                    parts = entry.fn.vjp(self.engine, g, entry.out, **entry.bound)
                if not all(_finite(v) for v in parts.values()):
                    raise FloatingPointError
            except FloatingPointError:
                raise ExprError(f"grad through {entry.fn.name}({args_text(entry.bound)}): "
                                "the gradient overflows or is undefined", where=where,
                                fix="choose smaller or valid values for these arguments") from None
            for arg, aid in entry.ids.items():
                if aid is None or parts.get(arg) is None:
                    continue
                contrib = np.asarray(parts[arg], dtype=float)
                grads[aid] = grads[aid] + contrib if aid in grads else contrib
        result = given.get(0, grads.get(0))
        if trace is not None:
            trace[wrt] = _plain(result) if result is not None else None
        if result is None:
            result = np.zeros_like(np.asarray(wrt_value, dtype=float))
        return _plain(unbroadcast(result, wrt_value) if np.shape(result) != np.shape(wrt_value) else result)


def _differentiate_at(entry: _Entry, value: Any) -> None:
    """Let the op that made a node take its VJP at the student's own output of it: a one-to-one op
    (sigmoid, tanh, softmax) at the input that gives that output, so dp/dz is their p(1 - p)."""
    entry.out = value
    if entry.fn.inverse is None:
        return
    try:
        with np.errstate(**FP_ERRORS):
            entry.bound = {**entry.bound, **entry.fn.inverse(value)}
    except (ValueError, FloatingPointError):
        pass  # outside the op's range (p = 1.2): differentiated at the key's input


def _finite(x: Any) -> bool:
    """False only for a number or numeric array holding inf or nan (other values pass)."""
    kind = type(x)
    if kind is float:
        return math.isfinite(x)
    if kind is np.ndarray:
        return x.dtype.kind != "f" or bool(np.isfinite(x).all())
    if kind in (int, bool, str, dict) or x is None or not isinstance(x, (np.floating, list)):
        return True  # ints, text, records (a receptive field's None is no overflow)
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):
        return True
    return a.dtype.kind != "f" or bool(np.all(np.isfinite(a)))


def _plain(x: Any) -> Any:
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


def _seq_value(values: list[Any]) -> Any:
    """A numeric list literal is an array; anything else (strings, dicts, ragged) stays a list."""
    if all(isinstance(v, (int, float, np.integer, np.floating, np.ndarray)) and not isinstance(v, bool)
           for v in values):
        try:
            return np.asarray(values, dtype=np.float64)
        except ValueError:
            return list(values)
    return list(values)


class _SeqFn:
    name = "list"
    inverse = None  # a student's own stack of values: its VJP is the same at any output

    @staticmethod
    def vjp(E, g, out, **items):
        g = np.asarray(g, dtype=float)
        return {k: g[int(k[1:])] for k in items}


_SEQ_FN = _SeqFn()
