"""Symbolic d/dw of an expression tree, so that grad(grad(f, w), w) = f''(w) runs through the ordinary VJPs.

The first derivative of a scalar f(w) is built as an expression (the rules below), and the outer
grad() differentiates that expression on the tape like any other: the second derivative comes
from the same recorded operations and their VJPs on both engines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from i2dl.errors import ExprError
from i2dl.expr import Call, Const, Dict, Name, Node, Parsed, Seq

ZERO, ONE = Const(0.0), Const(1.0)


def _c(fn: str, *args: Node) -> Node:
    """A call with constants folded where the result is obvious (0 * x, 1 * x, x + 0)."""
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if isinstance(a, Const) and isinstance(b, Const) and fn in _FOLD and _real(a) and _real(b):
        return Const(_FOLD[fn](a.value, b.value))
    if fn == "mul":
        if a == ZERO or b == ZERO:
            return ZERO
        if a == ONE:
            return b
        if b == ONE:
            return a
    if fn == "add":
        if a == ZERO:
            return b
        if b == ZERO:
            return a
    if fn == "sub":
        if b == ZERO:
            return a
        if a == ZERO:
            return _c("neg", b)
    if fn == "div" and a == ZERO:
        return ZERO
    if fn == "neg" and a == ZERO:
        return ZERO
    return Call(fn, tuple(args))


_FOLD = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y}


def _real(c: Const) -> bool:
    return isinstance(c.value, (int, float)) and not isinstance(c.value, bool)


def _chain(outer: Callable[[Node], Node]) -> Callable[[Node, Node], Node]:
    """The rule f(a)' = outer(a) * a' of a one-argument function."""
    return lambda a, da: _c("mul", outer(a), da)


#: d f(a) = rule(a, da) for the one-argument functions a student differentiates by hand
UNARY: dict[str, Callable[[Node, Node], Node]] = {
    "neg": lambda a, da: _c("neg", da),
    "pos": lambda a, da: da,
    "exp": _chain(lambda a: Call("exp", (a,))),
    "log": lambda a, da: _c("div", da, a),
    "ln": lambda a, da: _c("div", da, a),
    "log10": lambda a, da: _c("div", da, _c("mul", a, Const(math.log(10)))),
    "log2": lambda a, da: _c("div", da, _c("mul", a, Const(math.log(2)))),
    "sin": _chain(lambda a: Call("cos", (a,))),
    "cos": _chain(lambda a: _c("neg", Call("sin", (a,)))),
    "sqrt": lambda a, da: _c("div", da, _c("mul", Const(2.0), Call("sqrt", (a,)))),
    "tanh": _chain(lambda a: _c("sub", ONE, Call("pow", (Call("tanh", (a,)), Const(2))))),
    "sigmoid": _chain(lambda a: _c("mul", Call("sigmoid", (a,)), _c("sub", ONE, Call("sigmoid", (a,))))),
    "sigma": _chain(lambda a: _c("mul", Call("sigma", (a,)), _c("sub", ONE, Call("sigma", (a,))))),
}


def derivative(node: Node, wrt: str, nodes: Mapping[str, Parsed], depends: Callable[[str, str], bool]) -> Node:
    """d node / d wrt as an expression tree; graph nodes that depend on `wrt` are differentiated through."""

    def d(n: Node) -> Node:
        if isinstance(n, Const):
            return ZERO
        if isinstance(n, Name):
            if n.id == wrt:
                return ONE
            if n.id in nodes and depends(n.id, wrt):
                return d(nodes[n.id].node)
            return ZERO
        if isinstance(n, (Seq, Dict)):
            raise _unsupported("a list")
        if not isinstance(n, Call):
            raise _unsupported(repr(n))
        if n.kwargs:
            raise _unsupported(f"{n.fn}() with keyword arguments")
        args = n.args
        if n.fn in ("add", "sub"):
            return _c(n.fn, d(args[0]), d(args[1]))
        if n.fn == "mul":
            return _c("add", _c("mul", d(args[0]), args[1]), _c("mul", args[0], d(args[1])))
        if n.fn == "div":
            a, b = args
            da, db = d(a), d(b)
            if db == ZERO:
                return _c("div", da, b)
            return _c("div", _c("sub", _c("mul", da, b), _c("mul", a, db)), Call("pow", (b, Const(2))))
        if n.fn == "pow":
            a, b = args
            da, db = d(a), d(b)
            if db == ZERO:  # power rule: b a^(b - 1) a'
                return _c("mul", _c("mul", b, Call("pow", (a, _c("sub", b, ONE)))), da)
            # a^b = exp(b ln a)
            inner = _c("add", _c("mul", db, Call("log", (a,))), _c("div", _c("mul", b, da), a))
            return _c("mul", n, inner)
        if n.fn == "where" and len(args) == 3:
            return Call("where", (args[0], d(args[1]), d(args[2])))
        if n.fn in UNARY and len(args) == 1:
            return UNARY[n.fn](args[0], d(args[0]))
        if n.fn == "grad":
            raise _unsupported("a third derivative (grad of a grad of a grad)")
        raise _unsupported(f"{n.fn}()")

    return d(node)


def _unsupported(what: str) -> ExprError:
    return ExprError(f"a second derivative (grad of a grad) cannot go through {what}",
                     fix="write f(w) with + - * / ^, exp, log, sin, cos, sqrt, tanh and sigmoid of a scalar w")
