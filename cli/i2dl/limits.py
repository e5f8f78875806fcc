"""Evaluation budgets: no spec expression may build a huge value, and no spec may sample for minutes.

Every function call of the expression language is checked twice: before it runs, from the sizes of
its arguments (so `'ab' * 1000000000` or `ones([40000, 40000])` is refused without allocating),
and after, on the value it returned. Sampling one spec runs on a wall-clock budget. The limits
come from a `Budget` passed in, or from environment variables (see `ENV`).
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from i2dl.errors import BudgetError, SamplingTimeout, UsageError

#: The environment variable that sets each budget.
ENV = {"elements": "I2DL_MAX_ELEMENTS", "string": "I2DL_MAX_STRING", "digits": "I2DL_MAX_DIGITS",
       "seconds": "I2DL_SAMPLING_SECONDS"}

_LOG10_2 = math.log10(2)


@dataclass(frozen=True)
class Budget:
    """The largest value one expression may build, and how long sampling one spec may take."""

    elements: int = 1_000_000  # entries of one array (or items of one list)
    string: int = 100_000  # characters of one string
    digits: int = 4_300  # decimal digits of one integer (Python's own limit for printing one)
    seconds: float = 60.0  # wall-clock time to sample one instance of a spec, every try included

    @classmethod
    def from_env(cls) -> Budget:
        """The defaults, overridden by I2DL_MAX_ELEMENTS, I2DL_MAX_STRING, I2DL_MAX_DIGITS, I2DL_SAMPLING_SECONDS."""
        # Read for every Evaluator made outside a sampling scope: parsed once per distinct setting.
        get = os.environ.get
        return _budget_of(tuple(get(name) for name in _ENV_NAMES))

    @classmethod
    def _parse(cls, raws: tuple[str | None, ...]) -> Budget:
        values: dict[str, Any] = {}
        for f, raw in zip(fields(cls), raws, strict=True):
            if raw is None or not raw.strip():
                continue
            try:
                v = float(raw) if f.name == "seconds" else int(raw)
            except ValueError:
                v = -1
            if not v > 0 or not math.isfinite(v):
                raise UsageError(f"{ENV[f.name]}={raw!r} is not a positive number",
                                 fix=f"unset it or give a positive {'number' if f.name == 'seconds' else 'integer'}")
            values[f.name] = v
        return cls(**values)


#: Budget._parse(raws), kept: a Budget is frozen, and a refused setting (an exception) is never kept.
_budget_of = functools.lru_cache(maxsize=64)(Budget._parse)
#: The environment variables of Budget's fields, in their order (what Budget._parse reads).
_ENV_NAMES = tuple(ENV[f.name] for f in fields(Budget))


@dataclass(frozen=True)
class _Clock:
    deadline: float
    seconds: float


_BUDGET: ContextVar[Budget | None] = ContextVar("i2dl_budget", default=None)
_CLOCK: ContextVar[_Clock | None] = ContextVar("i2dl_clock", default=None)


def current_budget() -> Budget:
    """The budget of the innermost `sampling` scope, else the one from the environment."""
    return _BUDGET.get() or Budget.from_env()


@contextmanager
def sampling(budget: Budget | None = None) -> Iterator[Budget]:
    """A scope with `budget` (default: the current one) and its sampling clock started."""
    budget = budget or current_budget()
    outer = _CLOCK.get()
    clock = _Clock(time.monotonic() + budget.seconds, budget.seconds)
    if outer is not None and outer.deadline < clock.deadline:
        clock = outer  # a nested scope never extends the time an enclosing one has left
    tokens = _BUDGET.set(budget), _CLOCK.set(clock)
    try:
        yield budget
    finally:
        _CLOCK.reset(tokens[1])
        _BUDGET.reset(tokens[0])


def check_clock(where: str | None = None, expr: Any = None) -> None:
    """A SamplingTimeout (with the budget and what was running) once the sampling scope's time is up."""
    clock = _CLOCK.get()
    if clock is not None and time.monotonic() > clock.deadline:
        doing = f"`{expr_text(expr)}`" + (f" at {where}" if where else "") if expr is not None else ""
        exc = SamplingTimeout(f"sampling ran out of its {clock.seconds:g} s time budget", where=where,
                              fix=f"make the constraints easier to meet or the values smaller; "
                                  f"{ENV['seconds']} raises the budget")
        exc.seconds, exc.doing = clock.seconds, doing
        raise exc


# ---------------------------------------------------------------------------- sizes


def int_digits(n: int) -> int:
    """Decimal digits of |n|, from its bit length (exact to within one, without printing it)."""
    return int(abs(n).bit_length() * _LOG10_2) + 1


def expr_text(expr: Any) -> str:
    """The expression as text: given as a string, or a parsed node written back (only on error)."""
    if isinstance(expr, str):
        return expr
    from i2dl.expr import node_text

    return node_text(expr)


def _over(what: str, n: int | float, limit: int, unit: str, expr: Any, where: str | None, env: str) -> BudgetError:
    amount = f"{n:,.0f}" if n < 1e15 else f"about 10^{math.log10(n):.0f}"
    return BudgetError(f"`{expr_text(expr)}` is too large: it would make {what} of {amount} {unit}, "
                       f"over the budget of {limit:,} {unit}",
                       where=where, fix=f"keep values hand-sized (the budget is set by {env})")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _broadcast(*xs: Any) -> int | None:
    """Entries of the elementwise result of arrays `xs`, or None when they do not broadcast."""
    shapes = [x.shape for x in xs if isinstance(x, np.ndarray)]
    if len(shapes) < 2:
        return None  # one array and scalars: no larger than that array, which was checked
    try:
        return math.prod(np.broadcast_shapes(*shapes))
    except ValueError:
        return None  # the operation reports the mismatch itself


def _shape_product(shape: Any) -> float:
    """The number of entries of an array of `shape` (floats so 10^30 does not overflow)."""
    try:
        dims = np.asarray(shape, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return 0.0  # not a shape: the function reports it
    return float(np.prod(np.maximum(dims, 0))) if dims.size else 1.0


class _Shaped:
    """Stands for an array of `shape` without allocating it."""

    def __init__(self, shape: Any):
        try:
            self.shape = tuple(float(d) for d in np.asarray(shape, dtype=np.float64).ravel())
        except (TypeError, ValueError):
            self.shape = ()  # not a shape: the function reports it


def _padded(x: Any, padding: Any, dims: int) -> float:
    """Entries of `x` (an array or a _Shaped) padded by `padding` on both sides of its last `dims` axes."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) < dims:
        return 0.0
    if type(padding) is int:  # the common case, without numpy's per-call overhead
        return float(math.prod(max(n, 0) for n in shape[:-dims])) * float(
            math.prod(max(n + 2 * max(padding, 0), 0) for n in shape[-dims:]))
    try:
        p = np.broadcast_to(np.asarray(padding, dtype=np.float64).ravel(), (dims,))
    except (TypeError, ValueError):
        return 0.0
    other = float(np.prod(np.maximum(shape[:-dims], 0))) if len(shape) > dims else 1.0
    return other * float(np.prod(np.maximum(np.asarray(shape[-dims:], dtype=np.float64) + 2 * np.maximum(p, 0), 0)))


_Estimate = tuple[str, float] | None


def _binary(fn: str):
    """The estimator of an arithmetic or comparison operator on (a, b)."""

    def est(bound: dict[str, Any]) -> _Estimate:
        a, b = bound.get("a"), bound.get("b")
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            n = _broadcast(a, b)
            return ("array", n) if n is not None else None
        if fn == "mul":
            for x, y in ((a, b), (b, a)):
                if isinstance(x, (str, list, tuple)) and _is_int(y):
                    return ("string" if isinstance(x, str) else "list", len(x) * max(int(y), 0))
            if _is_int(a) and _is_int(b):
                return "digits", int_digits(int(a)) + int_digits(int(b))
        elif fn == "add":
            if isinstance(a, str) and isinstance(b, str):
                return "string", len(a) + len(b)
            if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
                return "list", len(a) + len(b)
        elif fn == "pow" and _is_int(a) and _is_int(b) and int(b) > 0 and abs(int(a)) > 1:
            return "digits", int(b) * math.log10(abs(int(a)))
        return None

    return est


def _elementwise(*names: str):
    """The estimator of a function whose result broadcasts the arrays among `names`."""

    def est(bound: dict[str, Any]) -> _Estimate:
        n = _broadcast(*(bound.get(k) for k in names))
        return ("array", n) if n is not None else None

    return est


def _matmul(bound: dict[str, Any]) -> _Estimate:
    a, b = bound.get("a"), bound.get("b")
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim and b.ndim):
        return None
    rows = a.size / max(a.shape[-1], 1)
    cols = b.size / max(b.shape[-2], 1) if b.ndim >= 2 else 1
    return "array", rows * cols


def _prod(bound: dict[str, Any]) -> _Estimate:
    x = bound.get("x")
    if isinstance(x, (list, tuple)) and all(_is_int(v) for v in x):
        return "digits", sum(int_digits(int(v)) for v in x)
    return None


def _conv_matrix(size_arg: str, dims: int):
    """T maps every (padded) input entry to every output entry: (input entries)^2 at most."""

    def est(bound: dict[str, Any]) -> _Estimate:
        n = _padded(_Shaped(bound.get(size_arg)), bound.get("padding", 0), dims)
        return "array", n * n

    return est


def _conv_transpose(dims: int):
    """The scattered output before cropping: C_out (n - 1)s + k per axis, known from the shapes."""

    def est(bound: dict[str, Any]) -> _Estimate:
        x, w = np.shape(bound.get("x")), np.shape(bound.get("w"))
        try:
            s = [float(v) for v in np.atleast_1d(np.asarray(bound.get("stride", 1), dtype=float)).ravel()]
        except (TypeError, ValueError):
            return None  # the operation's own check names the bad stride
        if len(x) < dims or len(w) < dims or len(s) not in (1, dims):
            return None
        spatial = [(n - 1) * st + k for n, k, st in zip(x[-dims:], w[-dims:], s * dims if len(s) == 1 else s,
                                                        strict=False)]
        return "array", float(np.prod(spatial)) * float(w[1] if len(w) == dims + 2 else 1)

    return est


_ESTIMATORS = {
    **{fn: _binary(fn) for fn in ("add", "sub", "mul", "div", "floordiv", "mod", "pow")},
    **{fn: _elementwise("a", "b") for fn in ("lt", "le", "gt", "ge", "eq", "ne")},
    "where": _elementwise("cond", "a", "b"),
    "clip": _elementwise("x", "lo", "hi"),
    "zeros": lambda bound: ("array", _shape_product(bound.get("shape"))),
    "ones": lambda bound: ("array", _shape_product(bound.get("shape"))),
    "eye": lambda bound: ("array", _shape_product([bound.get("n"), bound.get("n")])),
    "onehot": lambda bound: ("array", _shape_product([bound.get("n")])),
    "outer": lambda bound: ("array", float(np.size(bound.get("a"))) * float(np.size(bound.get("b")))),
    "matmul": _matmul,
    "dot": _matmul,
    "prod": _prod,
    "conv1d_matrix": _conv_matrix("n", 1),
    "conv2d_matrix": _conv_matrix("in_shape", 2),
    "conv_transpose1d": _conv_transpose(1),
    "conv_transpose2d": _conv_transpose(2),
    "concat": lambda bound: ("array", float(sum(v.size for v in bound.get("*", []) if isinstance(v, np.ndarray)))),
    "stack": lambda bound: ("array", float(sum(v.size for v in bound.get("*", []) if isinstance(v, np.ndarray)))),
}


def _estimate(fn: str, bound: dict[str, Any]) -> _Estimate:
    """(kind, size) of what calling `fn` would build, where that is known before it runs."""
    est = _ESTIMATORS.get(fn)
    if est is not None:
        return est(bound)
    if "padding" in bound and "x" in bound:  # convolutions pad their input first
        return "array", _padded(bound["x"], bound["padding"], 2 if "2d" in fn else 1)
    return None


def _limit(kind: str, budget: Budget) -> tuple[str, int, str, str]:
    """(what, limit, unit, env var) of a size kind."""
    if kind == "string":
        return "a string", budget.string, "characters", ENV["string"]
    if kind == "digits":
        return "an integer", budget.digits, "digits", ENV["digits"]
    if kind == "list":
        return "a list", budget.elements, "items", ENV["elements"]
    return "an array", budget.elements, "entries", ENV["elements"]


def check_call(fn: str, bound: dict[str, Any], budget: Budget, where: str | None, expr: Any) -> None:
    """A BudgetError before `fn` runs when its arguments show the result would be too large."""
    est = _estimate(fn, bound)
    if est is None:
        return
    kind, n = est
    what, limit, unit, env = _limit(kind, budget)
    if n > limit:
        raise _over(what, n, limit, unit, expr, where, env)


#: Result types no budget can refuse: checked first, since most results are one of them.
_NEVER_LARGE = frozenset((float, bool, np.float64, np.bool_))


def check_value(value: Any, budget: Budget, where: str | None, expr: Any) -> None:
    """A BudgetError when `value` (a function's result) is larger than the budget allows."""
    if type(value) in _NEVER_LARGE:  # the common results
        return
    if isinstance(value, np.ndarray):
        kind, n = "array", value.size
    elif isinstance(value, str):
        kind, n = "string", len(value)
    elif _is_int(value):
        if int(value).bit_length() * _LOG10_2 <= budget.digits:
            return
        kind, n = "digits", int_digits(int(value))
    elif isinstance(value, (list, tuple)):
        kind, n = "list", len(value)
    else:
        return
    what, limit, unit, env = _limit(kind, budget)
    if n > limit:
        raise _over(what, n, limit, unit, expr, where, env)


def check_elements(n: float, budget: Budget, where: str | None, expr: Any) -> None:
    """A BudgetError when an array of `n` entries (a sampled parameter, a value grid) is too large."""
    if n > budget.elements:
        raise _over("an array", n, budget.elements, "entries", expr, where, ENV["elements"])
