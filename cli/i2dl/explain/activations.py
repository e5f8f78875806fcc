"""Activation functions entry by entry: f(x) and f'(x) in symbols and in numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from i2dl.expr import Call

from .context import _Ctx
from .steps import _arr, _f, _n, _tx

_ACT_NAMES = {"relu": r"\operatorname{ReLU}", "leaky_relu": r"\operatorname{LReLU}", "sigmoid": r"\sigma",
              "sigma": r"\sigma", "tanh": r"\tanh", "elu": r"\operatorname{ELU}", "identity": r"\operatorname{id}"}


def _sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow: e^x / (1 + e^x) for x < 0."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _act_forward(kind: str, x: float, alpha: float) -> tuple[str, str, float]:
    """(symbolic, numeric, value) of one activation entry; `x` written as X in the symbolic form."""
    if kind == "relu":
        return r"\max(0, X)", rf"\max(0, {_n(x)})", max(0.0, x)
    if kind == "leaky_relu":
        return (r"\max(\alpha X, X)", rf"\max({_n(alpha)} \cdot {_f(x)}, {_n(x)})", x if x > 0 else alpha * x)
    if kind in ("sigmoid", "sigma"):
        return r"\frac{1}{1 + e^{-X}}", rf"\frac{{1}}{{1 + e^{{-{_f(x)}}}}}", _sigmoid(x)
    if kind == "tanh":
        return r"\tanh(X)", rf"\tanh({_n(x)})", math.tanh(x)
    if kind == "elu":
        return (r"X \text{ if } X > 0 \text{ else } \alpha(e^{X} - 1)",
                _n(x) if x > 0 else rf"{_n(alpha)}(e^{{{_n(x)}}} - 1)", x if x > 0 else alpha * (math.exp(x) - 1))
    return "X", _n(x), x


def _act_derivative(kind: str, x: float, alpha: float) -> tuple[str, str, float]:
    """(symbolic, numeric, value) of one activation derivative entry."""
    if kind == "relu":
        return r"\mathbb{1}[X > 0]", rf"\mathbb{{1}}[{_n(x)} > 0]", 1.0 if x > 0 else 0.0
    if kind == "leaky_relu":
        return (r"1 \text{ if } X > 0 \text{ else } \alpha", "1" if x > 0 else rf"\alpha = {_n(alpha)}",
                1.0 if x > 0 else alpha)
    if kind in ("sigmoid", "sigma"):
        sv = _sigmoid(x)
        return r"\sigma(X)(1 - \sigma(X))", rf"{_n(sv)}(1 - {_n(sv)})", sv * (1 - sv)
    if kind == "tanh":
        t = math.tanh(x)
        return r"1 - \tanh^{2}(X)", rf"1 - {_f(t)}^{{2}}", 1 - t * t
    if kind == "elu":
        return (r"1 \text{ if } X > 0 \text{ else } \alpha e^{X}", "1" if x > 0 else rf"{_n(alpha)} e^{{{_n(x)}}}",
                1.0 if x > 0 else alpha * math.exp(x))
    return "1", "1", 1.0


def _fprime_tex(kind: str, x: str) -> str:
    if kind == "relu":
        return rf"\mathbb{{1}}[{x} > 0]"
    if kind in ("sigmoid", "sigma"):
        return rf"\sigma({x})(1 - \sigma({x}))"
    if kind == "tanh":
        return rf"(1 - \tanh^{{2}}({x}))"
    if kind == "identity":
        return "1"
    if kind == "leaky_relu":
        return rf"(\mathbb{{1}}[{x} > 0] + \alpha \, \mathbb{{1}}[{x} \le 0])"
    return f"{_ACT_NAMES.get(kind, _tx(kind))}'({x})"


def _fprime_value(ctx: _Ctx, node: Call) -> Any:
    x, kind, alpha = node.args
    k = str(ctx.value(kind))
    al = ctx.value(alpha)
    xs = _arr(ctx.value(x))
    alpha_v = float(al) if al is not None else (0.01 if k == "leaky_relu" else 1.0)
    vals = np.vectorize(lambda t: _act_derivative(k, float(t), alpha_v)[2])(xs) if xs.size else xs
    return float(vals) if np.ndim(vals) == 0 else vals
