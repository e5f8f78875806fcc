"""Activation functions entry by entry: f(x) and f'(x) in symbols and in numbers.

Everything here is read from the activation's record (`i2dl.ops.activations`); the values come
from the numpy engine's own kernels, the ones that computed the instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.expr import Call
from i2dl.ops.activations import ACTIVATIONS, ALIASES, activation

from .context import _Ctx
from .steps import _arr, _f, _n, _tx

#: Function names that are activations (and so have f'(x) in the chain rule).
ACTIVATION_NAMES = frozenset(ACTIVATIONS) | frozenset(ALIASES)


def _kernels():
    from i2dl.engine import get_engine

    return get_engine("numpy")


def _alpha(kind: str, alpha: Any) -> float | None:
    """The kind's alpha: the given one, else the record's default (None if it takes none)."""
    act = activation(kind)
    if act is None or act.alpha is None:
        return None
    return float(alpha) if alpha is not None else act.alpha


def _values(kind: str, x: float, alpha: float | None) -> tuple[float, float]:
    """(f(x), f'(x)) from the engine's kernels."""
    act = activation(kind)
    E, kw = _kernels(), ({} if alpha is None else {"alpha": alpha})
    return float(getattr(E, act.name)(x, **kw)), float(getattr(E, f"{act.name}_grad")(x, **kw))


def _act_rule(kind: str, x: float, alpha: Any, derivative: bool) -> tuple[str, str, float]:
    """(symbolic, numeric, value) of one entry of f or f'; x written as X in the symbolic form."""
    act = activation(kind)
    if act is None:
        raise KeyError(kind)  # the renderer's caller notes "worked steps not available"
    a = _alpha(kind, alpha)
    y, dy = _values(kind, x, a)
    rule = act.derivative if derivative else act.forward
    fill = {"x": _n(x), "xp": _f(x), "a": _n(a) if a is not None else "", "y": _n(y), "yp": _f(y)}
    return rule.symbolic, rule.numbers(x, fill), dy if derivative else y


def _act_tex(kind: str) -> str:
    """The activation's name in formulas."""
    act = activation(kind)
    return act.tex if act is not None else _tx(kind)


def _fprime_tex(kind: str, x: str) -> str:
    """f'(x) as a factor of the chain rule."""
    act = activation(kind)
    return act.factor(x) if act is not None else f"{_tx(kind)}'({x})"


def _fprime_value(ctx: _Ctx, node: Call) -> Any:
    """f'(x) entry by entry for a chain-rule factor _fprime(x, kind, alpha)."""
    x, kind, alpha = node.args
    k = str(ctx.value(kind))
    xs = _arr(ctx.value(x))
    a = _alpha(k, ctx.value(alpha))
    vals = np.vectorize(lambda t: _values(k, float(t), a)[1])(xs) if xs.size else xs
    return float(vals) if np.ndim(vals) == 0 else vals
