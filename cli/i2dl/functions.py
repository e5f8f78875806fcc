"""The functions spec expressions may call: a whitelist of engine operations and maths helpers.

Each entry knows its parameters (for binding and error messages), how to compute (with an
engine), and, where it is differentiable, its vector-Jacobian product. The VJPs of layers call
the engine's own gradient operations, so on the torch engine every layer gradient of the
answer graph comes from autograd, and on the numpy engine from the hand-written backward.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.errors import ExprError
from i2dl.ops.activations import ACTIVATIONS, Activation

Value = Any


@dataclass(frozen=True)
class Fn:
    """A callable of the expression language."""

    name: str
    impl: Callable[..., Value]
    params: tuple[str, ...]
    defaults: dict[str, Any]
    doc: str
    category: str
    vjp: Callable[..., dict[str, Value]] | None = None
    needs_engine: bool = False
    #: LaTeX name in formulas; None writes \operatorname{name}.
    tex: str | None = None
    #: No worked step of its own (operators, array plumbing, checks): the formula shows it.
    quiet: bool = False
    #: Written out inline where it is used (min(1, 2) = 1), not as a step of its own.
    inline: bool = False
    #: Reached through the expression syntax (a + b, x[i]), so not listed by `i2dl functions`.
    hidden: bool = False
    #: For a one-to-one op of one argument: {argument: its value} recovered from an output, so a
    #: gradient through a student's own output is taken where they are (sigma'(logit(p)) = p(1 - p)).
    inverse: Callable[[Any], dict[str, Any]] | None = None

    @property
    def latex(self) -> str:
        """The function's name as LaTeX."""
        return self.tex if self.tex is not None else rf"\operatorname{{{self.name.replace('_', chr(92) + '_')}}}"

    def bind(self, args: list, kwargs: dict, where: str | None = None) -> dict[str, Any]:
        """Arguments by parameter name, defaults filled, or an ExprError naming the function."""
        if not kwargs and len(args) == len(self.params) and "*" not in self.params:
            return dict(zip(self.params, args, strict=True))  # every argument by position: the common call
        if "*" in self.params:  # variadic helpers (max, min, distinct, ...)
            if kwargs:
                raise ExprError(f"{self.name}() takes no keyword arguments", where=where)
            return {"*": list(args)}
        if len(args) > len(self.params):
            raise ExprError(
                f"{self.name}() takes at most {len(self.params)} arguments "
                f"({', '.join(self.params)}), got {len(args)}", where=where)
        bound = dict(zip(self.params, args, strict=False))
        for k, v in kwargs.items():
            if k not in self.params:
                raise ExprError(f"{self.name}() has no argument '{k}'",
                                where=where, fix="arguments: " + ", ".join(self.params))
            if k in bound:
                raise ExprError(f"{self.name}() got '{k}' twice", where=where)
            bound[k] = v
        for p in self.params:
            if p not in bound:
                if p not in self.defaults:
                    raise ExprError(f"{self.name}() is missing argument '{p}'", where=where,
                                    fix=f"call it as {self.signature()}")
                bound[p] = self.defaults[p]
        return bound

    def call(self, engine, bound: dict[str, Any]) -> Value:
        if "*" in bound:
            return self.impl(*bound["*"])
        if self.needs_engine:
            return self.impl(engine, **bound)
        return self.impl(**bound)

    def signature(self) -> str:
        if "*" in self.params:
            return f"{self.name}(a, b, ...)"
        parts = [p if p not in self.defaults else f"{p}={self.defaults[p]!r}" for p in self.params]
        return f"{self.name}({', '.join(parts)})"


FUNCTIONS: dict[str, Fn] = {}


#: Categories whose functions have no worked steps of their own unless a renderer says otherwise.
QUIET_CATEGORIES = ("arithmetic", "logic", "arrays", "checks", "text")  # text builds statements, not answers


def register(category: str, *, vjp: Callable | None = None, name: str | None = None, tex: str | None = None,
             quiet: bool | None = None, inline: bool = False, hidden: bool = False,
             inverse: Callable[[Any], dict[str, Any]] | None = None):
    """Add a function to the whitelist; its Python signature is its expression signature."""

    def deco(f: Callable) -> Callable:
        sig = inspect.signature(f)
        params = list(sig.parameters.values())
        needs_engine = bool(params) and params[0].name == "E"
        if needs_engine:
            params = params[1:]
        if any(p.kind is p.VAR_POSITIONAL for p in params):
            names: tuple[str, ...] = ("*",)
            defaults: dict[str, Any] = {}
        else:
            names = tuple(p.name for p in params)
            defaults = {p.name: p.default for p in params if p.default is not p.empty}
        fname = name or f.__name__.rstrip("_")
        FUNCTIONS[fname] = Fn(fname, f, names, defaults, (f.__doc__ or "").strip().splitlines()[0]
                              if f.__doc__ else "", category, vjp, needs_engine, tex=tex,
                              quiet=category in QUIET_CATEGORIES if quiet is None else quiet,
                              inline=inline, hidden=hidden, inverse=inverse)
        return f

    return deco


# ---------------------------------------------------------------------------- helpers


def _arr(x: Value) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _is_array(x: Value) -> bool:
    return isinstance(x, np.ndarray) or isinstance(x, (list, tuple))


def unbroadcast(g: Value, like: Value) -> Value:
    """Sum a broadcast gradient back to the shape of the operand it belongs to."""
    g = _arr(g)
    shape = np.shape(like)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g.reshape(shape) if shape else float(g)


def _num(x: Value) -> Value:
    """Plain Python numbers stay exact ints where they are ints; arrays become float64."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return float(x)
    return x


def _as_int(x: Value, what: str) -> int:
    f = float(x)
    if f != int(f):
        raise ExprError(f"{what} must be a whole number, got {x!r}")
    return int(f)


# ---------------------------------------------------------------------------- arithmetic


def _vjp_add(E, g, out, a, b):
    return {"a": unbroadcast(g, a), "b": unbroadcast(g, b)}


def _vjp_sub(E, g, out, a, b):
    return {"a": unbroadcast(g, a), "b": unbroadcast(-_arr(g), b)}


def _vjp_mul(E, g, out, a, b):
    return {"a": unbroadcast(_arr(g) * _arr(b), a), "b": unbroadcast(_arr(g) * _arr(a), b)}


def _vjp_div(E, g, out, a, b):
    ga = _arr(g) / _arr(b)
    return {"a": unbroadcast(ga, a), "b": unbroadcast(-ga * _arr(a) / _arr(b), b)}


def _vjp_pow(E, g, out, a, b):
    a_, b_ = _arr(a), _arr(b)
    ga = _arr(g) * b_ * np.power(a_, b_ - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gb = np.where(a_ > 0, _arr(g) * _arr(out) * np.log(np.where(a_ > 0, a_, 1.0)), 0.0)
    return {"a": unbroadcast(ga, a), "b": unbroadcast(gb, b)}


def _vjp_neg(E, g, out, a):
    return {"a": -_arr(g) if np.ndim(g) else -float(g)}


def _vjp_matmul(E, g, out, a, b):
    a_, b_, g_ = _arr(a), _arr(b), _arr(g)
    if a_.ndim == 1 and b_.ndim == 1:
        return {"a": g_ * b_, "b": g_ * a_}
    if a_.ndim == 1:
        return {"a": b_ @ g_, "b": np.outer(a_, g_)}
    if b_.ndim == 1:
        return {"a": np.outer(g_, b_), "b": a_.T @ g_}
    return {"a": g_ @ b_.T, "b": a_.T @ g_}


@register("arithmetic", vjp=_vjp_add, hidden=True)
def add(a, b):
    """a + b"""
    return _num(np.add(a, b)) if _is_array(a) or _is_array(b) else a + b


@register("arithmetic", vjp=_vjp_sub, hidden=True)
def sub(a, b):
    """a - b"""
    return _num(np.subtract(a, b)) if _is_array(a) or _is_array(b) else a - b


@register("arithmetic", vjp=_vjp_mul, hidden=True)
def mul(a, b):
    """a * b (elementwise)"""
    return _num(np.multiply(a, b)) if _is_array(a) or _is_array(b) else a * b


@register("arithmetic", vjp=_vjp_div, hidden=True)
def div(a, b):
    """a / b (elementwise)"""
    if not _is_array(b) and float(b) == 0:
        raise ExprError("division by zero")
    if _is_array(b) and np.any(_arr(b) == 0):
        raise ExprError("division by zero")
    return _num(np.divide(_arr(a), _arr(b))) if _is_array(a) or _is_array(b) else a / b


@register("arithmetic", hidden=True)
def floordiv(a, b):
    """floor(a / b)"""
    if np.any(_arr(b) == 0):
        raise ExprError("division by zero")
    return _num(np.floor_divide(a, b)) if _is_array(a) or _is_array(b) else a // b


@register("arithmetic", hidden=True)
def mod(a, b):
    """a mod b"""
    if np.any(_arr(b) == 0):
        raise ExprError("modulo by zero")
    return _num(np.mod(a, b)) if _is_array(a) or _is_array(b) else a % b


@register("arithmetic", vjp=_vjp_pow)
def pow(a, b):  # noqa: A001 - the maths name
    """a ** b"""
    if not _is_array(b) and abs(float(b)) > 64:
        raise ExprError(f"exponent {b} is too large for a hand-computable problem")
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a**b
    return _num(np.power(_arr(a), _arr(b)))


@register("arithmetic", vjp=_vjp_neg, hidden=True)
def neg(a):
    """-a"""
    return _num(np.negative(a)) if _is_array(a) else -a


@register("arithmetic", vjp=lambda E, g, out, a: {"a": g}, hidden=True)
def pos(a):
    """+a"""
    return a


@register("arithmetic", vjp=_vjp_matmul)
def matmul(a, b):
    """a @ b (matrix product)"""
    return _num(np.matmul(_arr(a), _arr(b)))


@register("arithmetic", vjp=_vjp_matmul)
def dot(a, b):
    """a . b for vectors, a @ b otherwise"""
    return _num(np.matmul(_arr(a), _arr(b)))


# ---------------------------------------------------------------------------- logic


_EXACT = 2**53  # Python ints below this in size are exact as float64, so numpy compares them as Python does


def _plain_number(x: Value) -> bool:
    """A Python float, or an int that float64 holds exactly: one that Python compares as numpy does."""
    kind = type(x)
    return kind is float or (kind is int and -_EXACT < x < _EXACT)


def _cmp(op, py):
    def f(a, b):
        if _plain_number(a) and _plain_number(b):
            return py(a, b)  # numpy's own comparison of two such numbers, without its call overhead
        r = op(np.asarray(a), np.asarray(b)) if _is_array(a) or _is_array(b) else op(a, b)
        return _num(r)

    return f


for _n, _op, _py in (("lt", np.less, operator.lt), ("le", np.less_equal, operator.le),
                     ("gt", np.greater, operator.gt), ("ge", np.greater_equal, operator.ge),
                     ("eq", np.equal, operator.eq), ("ne", np.not_equal, operator.ne)):
    _f = _cmp(_op, _py)
    _f.__doc__ = f"a {_n} b"
    register("logic", name=_n, hidden=True)(_f)


def holds(x: Value) -> bool:
    """bool(np.all(x)): a Python bool as it is, an array by its own all() (the same reduction)."""
    kind = type(x)
    if kind is bool:
        return x
    if kind is np.ndarray:
        return bool(x.all())
    return bool(np.all(x))


@register("logic", name="and_", hidden=True)
def and_(*xs):
    """all of the conditions"""
    return all(holds(x) for x in xs)


@register("logic", name="or_", hidden=True)
def or_(*xs):
    """any of the conditions"""
    return any(holds(x) for x in xs)


@register("logic", name="not_", hidden=True)
def not_(a):
    """not a"""
    return not holds(a)


def _vjp_where(E, g, out, cond, a, b):
    c = np.asarray(cond, dtype=bool)
    return {"a": unbroadcast(np.where(c, g, 0.0), a), "b": unbroadcast(np.where(c, 0.0, g), b)}


@register("logic", vjp=_vjp_where, hidden=True)
def where(cond, a, b):
    """a where cond holds, else b (elementwise)"""
    if np.ndim(cond) == 0 and not isinstance(cond, (list, tuple)):
        return a if bool(cond) else b  # one condition picks a whole branch (lists of layers too)
    return _num(np.where(np.asarray(cond, dtype=bool), a, b))


@register("logic", name="all")
def all_(x):
    """true when every entry is true (nonzero)"""
    return bool(np.asarray(x).all())


@register("logic", name="any")
def any_(x):
    """true when some entry is true (nonzero)"""
    return bool(np.asarray(x).any())


# ---------------------------------------------------------------------------- maths


def _elementwise(name: str, f: Callable, df: Callable | None, doc: str, tex: str | None = None):
    def impl(x):
        r = f(_arr(x))
        return _num(r)

    impl.__doc__ = doc
    vjp = (lambda E, g, out, x: {"x": unbroadcast(_arr(g) * df(_arr(x), _arr(out)), x)}) if df else None
    register("maths", vjp=vjp, name=name, tex=tex, quiet=True, inline=True)(impl)


def _safe_log(x):
    if np.any(x <= 0):
        raise ExprError("log of a number <= 0")
    return np.log(x)


def _safe_sqrt(x):
    if np.any(x < 0):
        raise ExprError("sqrt of a negative number")
    return np.sqrt(x)


_elementwise("exp", np.exp, lambda x, y: y, "e^x")
_elementwise("log", _safe_log, lambda x, y: 1.0 / x, "natural logarithm ln x", tex=r"\ln")
_elementwise("ln", _safe_log, lambda x, y: 1.0 / x, "natural logarithm ln x", tex=r"\ln")
_elementwise("log2", lambda x: _safe_log(x) / math.log(2), lambda x, y: 1.0 / (x * math.log(2)), "log base 2", tex=r"\log_{2}")
_elementwise("log10", lambda x: _safe_log(x) / math.log(10), lambda x, y: 1.0 / (x * math.log(10)), "log base 10", tex=r"\log_{10}")
_elementwise("sqrt", _safe_sqrt, lambda x, y: 0.5 / y, "square root")
_elementwise("abs", np.abs, lambda x, y: np.sign(x), "|x|")
_elementwise("sign", np.sign, lambda x, y: np.zeros_like(x), "sign of x")
_elementwise("sin", np.sin, lambda x, y: np.cos(x), "sin x", tex=r"\sin")
_elementwise("cos", np.cos, lambda x, y: -np.sin(x), "cos x", tex=r"\cos")


@register("maths", name="floor", quiet=True, inline=True)
def floor_(x):
    """floor(x), an int for scalars"""
    return int(math.floor(x)) if not _is_array(x) else np.floor(_arr(x))


@register("maths", name="ceil", quiet=True, inline=True)
def ceil_(x):
    """ceil(x), an int for scalars"""
    return int(math.ceil(x)) if not _is_array(x) else np.ceil(_arr(x))


@register("maths", name="round", quiet=True, inline=True)
def round_(x, ndigits=0):
    """x rounded half away from zero to ndigits decimals (as on paper, not banker's rounding)"""
    n = _as_int(ndigits, "round's ndigits")
    scale = 10.0**n
    r = np.sign(_arr(x)) * np.floor(np.abs(_arr(x)) * scale + 0.5) / scale
    if n <= 0 and not _is_array(x):
        return int(r)
    return _num(r)


@register("maths", name="int", quiet=True)
def int_(x):
    """x as a whole number (error if it is not one)"""
    return _as_int(x, "int()")


@register("maths", name="float", quiet=True)
def float_(x):
    """x as a decimal number"""
    return float(x)


@register("maths", name="max", tex=r"\max", inline=True)
def max_(*xs):
    """largest entry of one array, or the largest of several values"""
    vals = xs[0] if len(xs) == 1 else xs
    return _num(np.max(_arr(vals) if len(xs) > 1 else _arr(vals)))


@register("maths", name="min", tex=r"\min", inline=True)
def min_(*xs):
    """smallest entry of one array, or the smallest of several values"""
    vals = xs[0] if len(xs) == 1 else xs
    return _num(np.min(_arr(vals)))


def _vjp_sum(E, g, out, x, axis=None):
    x_ = _arr(x)
    if axis is None:
        return {"x": np.full_like(x_, float(g))}
    return {"x": np.broadcast_to(np.expand_dims(_arr(g), int(axis)), x_.shape).copy()}


@register("maths", vjp=_vjp_sum, name="sum")
def sum_(x, axis=None):
    """sum of the entries (along axis)"""
    if axis is None and isinstance(x, (list, tuple)) and all(isinstance(v, int) for v in x):
        return sum(x)
    return _num(np.sum(_arr(x), axis=None if axis is None else int(axis)))


@register("maths", vjp=lambda E, g, out, x, axis=None: {
    "x": _vjp_sum(E, g, out, x, axis)["x"] / (_arr(x).size if axis is None else _arr(x).shape[int(axis)])},
    tex=r"\operatorname{mean}")
def mean(x, axis=None):
    """mean of the entries (along axis)"""
    return _num(np.mean(_arr(x), axis=None if axis is None else int(axis)))


@register("maths")
def prod(x):
    """product of the entries"""
    if isinstance(x, (list, tuple)) and all(isinstance(v, int) for v in x):
        return math.prod(x)
    v = np.prod(_arr(x))
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)


@register("maths")
def var(x, ddof=0):
    """variance of the entries (biased unless ddof=1)"""
    return float(np.var(_arr(x), ddof=int(ddof)))


@register("maths")
def argmax(x):
    """index of the largest entry (first one on ties)"""
    return int(np.argmax(_arr(x)))


@register("maths")
def argmin(x):
    """index of the smallest entry (first one on ties)"""
    return int(np.argmin(_arr(x)))


@register("maths")
def clip(x, lo, hi):
    """x limited to [lo, hi]"""
    return _num(np.clip(_arr(x), lo, hi))


# ---------------------------------------------------------------------------- linear algebra


def _samples_matrix(X: Value, fn: str) -> np.ndarray:
    a = _arr(X)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ExprError(f"{fn}() needs a matrix of at least two samples (rows), got shape {list(a.shape)}",
                        fix="one sample per row, one feature per column")
    return a


def _square_symmetric(x: Value, fn: str) -> np.ndarray:
    a = _arr(x)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or not np.allclose(a, a.T):
        raise ExprError(f"{fn}() needs a symmetric square matrix, got shape {list(a.shape)}")
    return a


@register("linear algebra", tex=r"\operatorname{cov}")
def cov(X, ddof=1):
    """the covariance of the columns of X (one sample per row): Xc^T Xc / (N - ddof), Xc = X - mean"""
    a = _samples_matrix(X, "cov")
    centred = a - a.mean(axis=0)
    return centred.T @ centred / (a.shape[0] - int(ddof))


@register("linear algebra", tex=r"\operatorname{eig}")
def eigvalsh(x):
    """the eigenvalues of a symmetric matrix, largest first"""
    return np.linalg.eigvalsh(_square_symmetric(x, "eigvalsh"))[::-1].copy()


@register("linear algebra", tex=r"\operatorname{rank}")
def rank(x):
    """the rank of a matrix: its number of linearly independent rows (singular values above 1e-9 times the largest)"""
    a = _arr(x)
    if a.ndim != 2:
        raise ExprError(f"rank() needs a matrix, got shape {list(a.shape)}")
    s = np.linalg.svd(a, compute_uv=False)
    return int(np.sum(s > 1e-9 * max(1.0, float(s.max(initial=0.0)))))


# ---------------------------------------------------------------------------- arrays


def _vjp_index(E, g, out, x, i):
    gx = np.zeros_like(_arr(x))
    np.add.at(gx, _index_key(i), g)
    return {"x": gx}


def _index_key(i):
    if isinstance(i, slice):
        return i
    if isinstance(i, (list, tuple)):
        return tuple(_index_key(k) for k in i)
    if isinstance(i, np.ndarray):
        return tuple(_index_key(k) for k in i.tolist()) if i.ndim else _as_int(i, "an index")
    if isinstance(i, str):
        return i
    return _as_int(i, "an index")


@register("arrays", vjp=_vjp_index, hidden=True)
def index(x, i):
    """x[i] (0-based; i may be a tuple for matrices, or a key for results)"""
    key = _index_key(i)
    try:
        if isinstance(x, dict):
            return x[key]
        if isinstance(x, list) and not isinstance(key, tuple):
            return x[key]
        r = np.asarray(x)[key]
        # a copy: reversed slices (K[::-1]) are views with negative strides, which torch rejects
        return _num(r.copy() if isinstance(r, np.ndarray) else r)
    except (IndexError, KeyError, TypeError) as exc:
        raise ExprError(f"cannot index a value of shape {np.shape(x)} with {i!r}: {exc}") from None


@register("arrays", name="slice_", hidden=True)
def slice_(start=None, stop=None, step=None):
    """start:stop:step"""
    conv = [None if v is None else _as_int(v, "a slice bound") for v in (start, stop, step)]
    return slice(*conv)


@register("arrays", vjp=lambda E, g, out, x: {"x": _arr(g).T})
def transpose(x):
    """x transposed"""
    return _arr(x).T


@register("arrays", vjp=lambda E, g, out, x: {"x": _arr(g).reshape(np.shape(x))})
def flatten(x):
    """x as a vector (row-major)"""
    return _arr(x).ravel()


@register("arrays", vjp=lambda E, g, out, x, shape: {"x": _arr(g).reshape(np.shape(x))})
def reshape(x, shape):
    """x with a new shape (row-major)"""
    return _arr(x).reshape(tuple(int(s) for s in np.asarray(shape).ravel()))


@register("arrays")
def shape(x):
    """the shape of x as a list"""
    return [int(s) for s in np.shape(x)]


@register("arrays", name="len")
def len_(x):
    """number of entries along the first axis"""
    return int(len(x)) if isinstance(x, (list, tuple)) else int(np.shape(x)[0])


@register("arrays")
def zeros(shape):
    """an all-zero array"""
    return np.zeros(tuple(int(s) for s in np.asarray(shape).ravel()))


@register("arrays")
def ones(shape):
    """an all-one array"""
    return np.ones(tuple(int(s) for s in np.asarray(shape).ravel()))


@register("arrays")
def eye(n):
    """the n x n identity"""
    return np.eye(int(n))


@register("arrays")
def onehot(i, n):
    """the one-hot vector of class i among n"""
    v = np.zeros(int(n))
    v[_as_int(i, "a class index")] = 1.0
    return v


@register("arrays")
def outer(a, b):
    """a b^T"""
    return np.outer(_arr(a), _arr(b))


@register("arrays")
def concat(*xs):
    """the arrays joined end to end"""
    return np.concatenate([np.atleast_1d(_arr(x)) for x in xs])


@register("arrays")
def stack(*xs):
    """the arrays stacked along a new first axis"""
    return np.stack([_arr(x) for x in xs])


@register("arrays")
def count(x):
    """number of nonzero (true) entries"""
    return int(np.count_nonzero(np.asarray(x)))


@register("arrays")
def size(x):
    """number of entries"""
    return int(np.size(x))


# ---------------------------------------------------------------------------- exam-quality checks


@register("checks")
def is_int(x, tol=1e-9):
    """every entry is a whole number"""
    a = _arr(x)
    return bool(np.all(np.abs(a - np.round(a)) <= tol))


@register("checks")
def decimals(x, n):
    """every entry has at most n decimals"""
    a = _arr(x) * 10.0 ** int(n)
    return bool(np.all(np.abs(a - np.round(a)) <= 1e-6))


@register("checks")
def distinct(*xs):
    """the values are pairwise different (arrays compared whole)"""
    flat = [tuple(np.round(np.atleast_1d(_arr(x)).ravel(), 9)) for x in xs]
    return len(set(flat)) == len(flat)


@register("checks")
def statement_key(order, holds):
    """the letters (A, B, ...) of the shown statements that hold: position j shows statement order[j]"""
    idx = [int(i) for i in np.asarray(order, dtype=float).ravel()]
    flags = list(holds)
    if any(not 0 <= i < len(flags) for i in idx):
        raise ExprError(f"statement_key: an index of {idx} is outside the {len(flags)} statements")
    return [chr(65 + j) for j, i in enumerate(idx) if bool(np.all(flags[i]))]


@register("checks")
def statement_flip(order, holds, k):
    """the letters of statement_key(order, holds) with statement k judged the other way"""
    idx = [int(i) for i in np.asarray(order, dtype=float).ravel()]
    letters = set(statement_key(order, holds))
    if int(k) in idx:
        letters ^= {chr(65 + idx.index(int(k)))}
    return sorted(letters)


@register("checks")
def statement_shown(order, k):
    """statement k is among the shown ones (its index is in order)"""
    return int(k) in [int(i) for i in np.asarray(order, dtype=float).ravel()]


@register("checks")
def nonzero(x):
    """no entry is zero"""
    return bool(np.all(_arr(x) != 0))


@register("checks")
def mixed_sign(x):
    """some entries are > 0 and some are <= 0 (active and inactive ReLU units)"""
    a = _arr(x)
    return bool(np.any(a > 0) and np.any(a <= 0))


def _windows(a: np.ndarray, kernel, stride) -> list[np.ndarray]:
    a = _arr(a)
    if a.ndim == 1:
        k = int(kernel)
        s = int(stride) if stride is not None else k
        return [a[i:i + k] for i in range(0, len(a) - k + 1, s)]
    kh, kw = (kernel, kernel) if np.ndim(kernel) == 0 else tuple(kernel)
    if stride is None:
        sh, sw = kh, kw
    else:
        sh, sw = (stride, stride) if np.ndim(stride) == 0 else tuple(stride)
    kh, kw, sh, sw = int(kh), int(kw), int(sh), int(sw)
    planes = a.reshape((-1,) + a.shape[-2:])
    out = []
    for p in planes:
        for i in range(0, p.shape[0] - kh + 1, sh):
            for j in range(0, p.shape[1] - kw + 1, sw):
                out.append(p[i:i + kh, j:j + kw].ravel())
    return out


@register("checks")
def pool_ties(x, kernel, stride=None):
    """some max-pooling window has two equal maxima"""
    return any(int(np.sum(w == w.max())) > 1 for w in _windows(x, kernel, stride))


# ---------------------------------------------------------------------------- engine layers


def _vjp_conv(dim: int):
    def vjp(E, g, out, x, w, b=None, stride=1, padding=0):
        gi = getattr(E, f"conv{dim}d_grad_input")(x, w, g, stride, padding)
        gw = getattr(E, f"conv{dim}d_grad_weight")(x, w, g, stride, padding)
        gb = getattr(E, f"conv{dim}d_grad_bias")(g) if b is not None else None
        return {"x": gi, "w": gw, "b": gb}

    return vjp


@register("layers", vjp=_vjp_conv(1))
def conv1d(E, x, w, b=None, stride=1, padding=0):
    """1-D cross-correlation of x with kernel w (+ b)"""
    return E.conv1d(x, w, b, stride, padding)


@register("layers", vjp=_vjp_conv(2))
def conv2d(E, x, w, b=None, stride=1, padding=0):
    """2-D cross-correlation of x with kernel w (+ b)"""
    return E.conv2d(x, w, b, stride, padding)


@register("layers")
def conv1d_grad_input(E, x, w, grad_out, stride=1, padding=0):
    """dL/dx of a 1-D convolution given dL/dy"""
    return E.conv1d_grad_input(x, w, grad_out, stride, padding)


@register("layers")
def conv1d_grad_weight(E, x, w, grad_out, stride=1, padding=0):
    """dL/dw of a 1-D convolution given dL/dy"""
    return E.conv1d_grad_weight(x, w, grad_out, stride, padding)


@register("layers")
def conv2d_grad_input(E, x, w, grad_out, stride=1, padding=0):
    """dL/dx of a 2-D convolution given dL/dy"""
    return E.conv2d_grad_input(x, w, grad_out, stride, padding)


@register("layers")
def conv2d_grad_weight(E, x, w, grad_out, stride=1, padding=0):
    """dL/dw of a 2-D convolution given dL/dy"""
    return E.conv2d_grad_weight(x, w, grad_out, stride, padding)


@register("layers")
def conv_grad_bias(E, grad_out):
    """dL/db of a convolution given dL/dy (sum over positions)"""
    g = _arr(grad_out)
    return E.conv1d_grad_bias(g) if g.ndim <= 2 else E.conv2d_grad_bias(g)


@register("layers")
def conv1d_matrix(E, w, n, stride=1, padding=0):
    """the matrix T with conv1d(x, w) = T x for inputs of length n"""
    return E.conv1d_matrix(w, int(n), stride, padding)


@register("layers")
def conv2d_matrix(E, w, in_shape, stride=1, padding=0):
    """the matrix T with vec(conv2d(x, w)) = T vec(x)"""
    return E.conv2d_matrix(w, tuple(int(s) for s in np.asarray(in_shape).ravel()), stride, padding)


def _vjp_conv_transpose(dim: int):
    def vjp(E, g, out, x, w, stride=1, padding=0):
        gi = getattr(E, f"conv_transpose{dim}d_grad_input")(x, w, g, stride, padding)
        gw = getattr(E, f"conv_transpose{dim}d_grad_weight")(x, w, g, stride, padding)
        return {"x": gi, "w": gw}

    return vjp


@register("layers", vjp=_vjp_conv_transpose(1), tex=r"\operatorname{convT}")
def conv_transpose1d(E, x, w, stride=1, padding=0):
    """1-D transposed convolution: each x_i adds x_i w at positions i*s - p, ..., i*s - p + k - 1"""
    return E.conv_transpose1d(x, w, stride, padding)


@register("layers", vjp=_vjp_conv_transpose(2), tex=r"\operatorname{convT}")
def conv_transpose2d(E, x, w, stride=1, padding=0):
    """2-D transposed convolution (w as torch: C_in x C_out x k x k): each x_ij scatters x_ij w"""
    return E.conv_transpose2d(x, w, stride, padding)


@register("layers", quiet=True)
def conv_transpose_overwritten(x, w, stride=1, padding=0):
    """a transposed convolution whose overlapping copies overwrite instead of adding (a named mistake)"""
    xa, wa = _arr(x), _arr(w)
    if xa.ndim not in (1, 2) or wa.ndim != xa.ndim:
        raise ExprError("conv_transpose_overwritten() takes a single-channel x and w of the same dimension")
    s, p = int(stride), int(padding)
    full = np.zeros(tuple((n - 1) * s + k for n, k in zip(xa.shape, wa.shape, strict=True)))
    for pos in np.ndindex(*xa.shape):  # row-major, so a later entry's copy wins
        full[tuple(slice(i * s, i * s + k) for i, k in zip(pos, wa.shape, strict=True))] = xa[pos] * wa
    return full[tuple(slice(p, m - p) for m in full.shape)]


def _vjp_pool(kind: str, dim: int):
    def vjp(E, g, out, x, kernel, stride=None):
        return {"x": getattr(E, f"{kind}pool{dim}d_grad_input")(x, g, kernel, stride)}

    return vjp


@register("layers", vjp=_vjp_pool("max", 1))
def maxpool1d(E, x, kernel, stride=None):
    """max over windows of size kernel"""
    return E.maxpool1d(x, kernel, stride)


@register("layers", vjp=_vjp_pool("avg", 1))
def avgpool1d(E, x, kernel, stride=None):
    """mean over windows of size kernel"""
    return E.avgpool1d(x, kernel, stride)


@register("layers", vjp=_vjp_pool("max", 2))
def maxpool2d(E, x, kernel, stride=None):
    """max over kernel x kernel windows"""
    return E.maxpool2d(x, kernel, stride)


@register("layers", vjp=_vjp_pool("avg", 2))
def avgpool2d(E, x, kernel, stride=None):
    """mean over kernel x kernel windows"""
    return E.avgpool2d(x, kernel, stride)


@register("layers")
def maxpool1d_grad_input(E, x, grad_out, kernel, stride=None):
    """dL/dx of 1-D max pooling: each window's gradient goes to its maximum"""
    return E.maxpool1d_grad_input(x, grad_out, kernel, stride)


@register("layers")
def maxpool2d_grad_input(E, x, grad_out, kernel, stride=None):
    """dL/dx of 2-D max pooling: each window's gradient goes to its maximum"""
    return E.maxpool2d_grad_input(x, grad_out, kernel, stride)


@register("layers")
def avgpool1d_grad_input(E, x, grad_out, kernel, stride=None):
    """dL/dx of 1-D average pooling"""
    return E.avgpool1d_grad_input(x, grad_out, kernel, stride)


@register("layers")
def avgpool2d_grad_input(E, x, grad_out, kernel, stride=None):
    """dL/dx of 2-D average pooling"""
    return E.avgpool2d_grad_input(x, grad_out, kernel, stride)


def _vjp_linear(E, g, out, x, w, b=None, convention="xW"):
    return {
        "x": E.linear_grad_input(x, w, g, convention),
        "w": E.linear_grad_weight(x, w, g, convention),
        "b": E.linear_grad_bias(g, convention) if b is not None else None,
    }


@register("layers", vjp=_vjp_linear)
def linear(E, x, w, b=None, convention="xW"):
    """x W + b ("xW") or W x + b ("Wx")"""
    return E.linear(x, w, b, convention)


def _logit(y: Any) -> Any:
    a = np.asarray(y, dtype=float)
    if not np.all((a > 0) & (a < 1)):
        raise ValueError("logit needs values in (0, 1)")
    return np.log(a / (1 - a))


def _atanh(y: Any) -> Any:
    a = np.asarray(y, dtype=float)
    if not np.all(np.abs(a) < 1):
        raise ValueError("atanh needs values in (-1, 1)")
    return np.arctanh(a)


def _log_probs(y: Any) -> Any:
    a = np.asarray(y, dtype=float)
    if not np.all(a > 0):
        raise ValueError("the logits of probabilities need positive values")
    return np.log(a)  # softmax(log p) = p for probabilities that sum to 1


#: Inverse maps named by the activation records.
INVERSES: dict[str, Callable[[Any], Any]] = {"logit": _logit, "atanh": _atanh}


def _activation(act: Activation) -> None:
    """Register act.name(x[, alpha]) and act.name_grad(x[, alpha]) over the engine's kernels."""
    name = act.name

    def vjp(E, g, out, x, **kw):
        return {"x": _arr(g) * getattr(E, f"{name}_grad")(x, **kw)}

    def impl(E, x, **kw):
        return _num(getattr(E, name)(x, **kw))

    def dimpl(E, x, **kw):
        return _num(getattr(E, f"{name}_grad")(x, **kw))

    # Build real signatures so binding and error messages name the arguments.
    if act.alpha is not None:
        default = act.alpha

        def f(E, x, alpha=default):
            return impl(E, x, alpha=alpha)

        def df(E, x, alpha=default):
            return dimpl(E, x, alpha=alpha)

        def fv(E, g, out, x, alpha=default):
            return vjp(E, g, out, x, alpha=alpha)
    else:
        def f(E, x):
            return impl(E, x)

        def df(E, x):
            return dimpl(E, x)

        def fv(E, g, out, x):
            return vjp(E, g, out, x)

    f.__doc__ = f"{name}(x), elementwise"
    df.__doc__ = f"{name}'(x), elementwise derivative"
    inverse = None if act.inverse is None else (lambda y, _inv=act.inverse: {"x": INVERSES[_inv](y)})
    register("activations", vjp=fv, name=name, tex=act.tex, inverse=inverse)(f)
    register("activations", name=f"{name}_grad")(df)


for _act in ACTIVATIONS.values():
    _activation(_act)


@register("activations", name="sigma", vjp=lambda E, g, out, x: {"x": _arr(g) * E.sigmoid_grad(x)},
          tex=ACTIVATIONS["sigmoid"].tex, inverse=lambda y: {"x": _logit(y)})
def sigma(E, x):
    """the sigmoid 1 / (1 + e^-x)"""
    return _num(E.sigmoid(x))


@register("activations", vjp=lambda E, g, out, x, axis=-1: {"x": E.softmax_grad(x, g, axis)},
          inverse=lambda y: {"x": _log_probs(y)})
def softmax(E, x, axis=-1):
    """e^x_i / sum_j e^x_j"""
    return E.softmax(x, axis)


@register("activations")
def softmax_jacobian(E, x):
    """the Jacobian d softmax(x) / dx"""
    return E.softmax_jacobian(x)


def _loss(name: str, grad_arg: str, tex: str):
    def vjp(E, g, out, pred, target, reduction="mean"):
        return {"pred": _arr(g) * getattr(E, f"{name}_grad")(pred, target, reduction), "target": None}

    def f(E, pred, target, reduction="mean"):
        return _num(getattr(E, name)(pred, target, reduction))

    def df(E, pred, target, reduction="mean"):
        return _num(getattr(E, f"{name}_grad")(pred, target, reduction))

    f.__doc__ = f"{name} loss of pred against target"
    df.__doc__ = f"d {name} / d {grad_arg}"
    register("losses", vjp=vjp, name=name, tex=tex)(f)
    register("losses", name=f"{name}_grad")(df)


for _l, _g, _tex in (("mse", "pred", r"\operatorname{MSE}"), ("l1", "pred", r"\operatorname{L1}"),
                     ("bce", "p", r"\operatorname{BCE}"), ("bce_with_logits", "z", r"\operatorname{BCE}_{\sigma}"),
                     ("cross_entropy", "p", r"\operatorname{CE}"),
                     ("cross_entropy_with_logits", "z", r"\operatorname{CE}_{\operatorname{softmax}}")):
    _loss(_l, _g, _tex)


@register("optimizers")
def sgd(E, w0, grads, lr, weight_decay=0.0):
    """w <- w - lr (g + wd w), per step"""
    return E.sgd(w0, grads, lr, weight_decay=weight_decay)


@register("optimizers")
def momentum(E, w0, grads, lr, mu, form="pytorch"):
    """v <- mu v + g, w <- w - lr v (pytorch) or v <- mu v - lr g, w <- w + v (classic)"""
    return E.momentum(w0, grads, lr, mu, form=form)


@register("optimizers")
def nesterov(E, w0, grads, lr, mu):
    """Nesterov momentum (pytorch form)"""
    return E.nesterov(w0, grads, lr, mu)


@register("optimizers")
def adagrad(E, w0, grads, lr, eps=1e-10):
    """s <- s + g^2, w <- w - lr g / (sqrt(s) + eps)"""
    return E.adagrad(w0, grads, lr, eps=eps)


@register("optimizers")
def rmsprop(E, w0, grads, lr, beta=0.99, eps=1e-8):
    """s <- beta s + (1 - beta) g^2, w <- w - lr g / (sqrt(s) + eps)"""
    return E.rmsprop(w0, grads, lr, beta=beta, eps=eps)


@register("optimizers")
def adam(E, w0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
    """Adam with bias-corrected first and second moments"""
    return E.adam(w0, grads, lr, beta1=beta1, beta2=beta2, eps=eps, bias_correction=bias_correction)


@register("optimizers")
def adamw(E, w0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
    """Adam with decoupled weight decay"""
    return E.adamw(w0, grads, lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)


@register("optimizers")
def newton_step(E, w, grad, hess):
    """w - f'(w) / f''(w)"""
    return _num(E.newton_step(w, grad, hess))


@register("layers")
def batchnorm_train(E, x, gamma=None, beta=None, eps=1e-5):
    """batch normalization in training mode: mean, var, x_hat, y, running statistics"""
    return E.batchnorm_train(x, gamma, beta, eps)


# ---------------------------------------------------------------------------- shape algebra


def _shapes():
    from i2dl import shapes  # imported on use: shape algebra is its own module

    return shapes


@register("shapes")
def conv_transpose_out_size(n, k, stride=1, padding=0, output_padding=0, dilation=1):
    """(n - 1) s - 2p + d(k - 1) + output_padding + 1: the output length of a transposed convolution"""
    return _shapes().conv_transpose_out_size(int(n), int(k), int(stride), int(padding), int(output_padding),
                                             int(dilation))


@register("shapes")
def conv_out_size(n, k, stride=1, padding=0, dilation=1):
    """floor((n + 2p - d(k - 1) - 1) / s) + 1"""
    return _shapes().conv_out_size(int(n), int(k), int(stride), int(padding), int(dilation))


@register("shapes")
def pool_out_size(n, k, stride=None, padding=0):
    """floor((n + 2p - k) / s) + 1"""
    return _shapes().pool_out_size(int(n), int(k), None if stride is None else int(stride), int(padding))


@register("shapes")
def conv_params(c_in, c_out, k, bias=True, groups=1):
    """k_h k_w (c_in / groups) c_out (+ c_out biases); groups = c_in is a depthwise convolution"""
    kk = int(k) if np.ndim(k) == 0 else tuple(int(v) for v in k)
    return _shapes().conv_params(int(c_in), int(c_out), kk, bool(bias), int(groups))


@register("shapes")
def linear_params(n_in, n_out, bias=True):
    """n_in n_out (+ n_out biases)"""
    return _shapes().linear_params(int(n_in), int(n_out), bool(bias))


@register("shapes")
def batchnorm_params(c):
    """2c learnable parameters (gamma and beta)"""
    return _shapes().batchnorm_params(int(c))


@register("shapes")
def batchnorm_buffers(c):
    """2c running statistics (mean and variance)"""
    return _shapes().batchnorm_buffers(int(c))


def _stack(layers):
    """A stack as the shape algebra takes it: the compact text as it is, any other value as a list."""
    return str(layers) if isinstance(layers, str) else list(layers)


@register("shapes")
def propagate(input_shape, layers):
    """the shape after each layer of a stack"""
    return [list(s) for s in _shapes().propagate(tuple(int(v) for v in input_shape), _stack(layers))]


@register("shapes")
def receptive_fields(layers):
    """the receptive field size after each layer"""
    return _shapes().receptive_fields(_stack(layers))


@register("shapes")
def param_counts(input_shape, layers):
    """the learnable parameters of each layer of a stack"""
    return [int(n) for n in _shapes().param_counts(tuple(int(v) for v in input_shape), _stack(layers))]


@register("shapes")
def rf_size(layers, i=-1):
    """the receptive field side after layer i (whole-input layers give 0)"""
    rf = _shapes().receptive_fields(_stack(layers))[int(i)]
    size = rf.size if rf.size is not None else 0
    return int(size) if np.ndim(size) == 0 else [int(v) for v in size]


@register("shapes")
def layer_index(layers, kind):
    """the 0-based position of the first layer of type kind"""
    for i, spec in enumerate(_shapes().as_stack(_stack(layers))):
        if spec.get("type") == kind:
            return i
    raise ExprError(f"the layer stack has no '{kind}' layer")


# --- layer stacks without a forced flatten: per-layer facts, weight shapes, FC heads as convolutions


@register("shapes", quiet=True)
def as_stack(layers):
    """the stack as checked layer dicts, from dicts or the compact text ("conv(16,k3,p1) relu pool(2) gap linear(10)")"""
    return _shapes().as_stack(_stack(layers))


@register("shapes")
def rf_sides(input_shape, layers, axis=0):
    """the receptive field side after each layer along an axis (the input's side once a layer sees all of it)"""
    return [int(n) for n in _shapes().rf_sides(tuple(int(v) for v in input_shape), _stack(layers), int(axis))]


@register("shapes")
def weight_shapes(input_shape, layers):
    """each layer's weight shape (out, in, k_h, k_w) for conv2d, (out, in) for linear, [] without weights"""
    return [list(s) for s in _shapes().weight_shapes(tuple(int(v) for v in input_shape), _stack(layers))]


@register("shapes")
def fc_to_conv(input_shape, layers):
    """the stack with its linear head as convolutions: an H x W kernel for the first, 1 x 1 for the later ones"""
    return _shapes().fc_to_conv(tuple(int(v) for v in input_shape), _stack(layers))


@register("shapes")
def last_map_index(input_shape, layers):
    """the 0-based index of the last layer whose output is a feature map (not a vector)"""
    return _shapes().last_map_index(tuple(int(v) for v in input_shape), _stack(layers))


@register("shapes")
def head_index(layers):
    """the 0-based index of the first flatten, gap or linear layer (the number of layers when there is none)"""
    return _shapes().head_index(_stack(layers))


@register("shapes")
def stride_product(layers):
    """the product of the strides before the head (flatten, gap or linear): the step between windows"""
    j = _shapes().stride_product(_stack(layers))
    return int(j) if np.ndim(j) == 0 else [int(v) for v in j]


def _weighted(layers) -> list[int]:
    return [i for i, d in enumerate(_shapes().as_stack(_stack(layers))) if d["type"] in _shapes().WEIGHTED_TYPES]


@register("shapes")
def weighted_layers(layers):
    """the 0-based indices of the layers with a weight tensor (convolutions and linear layers)"""
    at = _weighted(layers)
    if not at:
        raise ExprError("the layer stack has no convolution or linear layer", fix="add a layer with weights")
    return at


@register("shapes")
def learnable_counts(input_shape, layers):
    """the learnable parameters of each layer that has any, in order"""
    stack = _shapes().as_stack(_stack(layers))
    counts = _shapes().param_counts(tuple(int(v) for v in input_shape), stack)
    return [int(n) for d, n in zip(stack, counts, strict=True) if _has_params(d)]


def _has_params(d: dict) -> bool:
    return d["type"] in _shapes().WEIGHTED_TYPES or (d["type"].startswith("batchnorm") and d.get("affine", True))


@register("shapes")
def first_downsampling(layers):
    """the 0-based index of the first pooling or strided layer (0 when no layer shrinks the map)"""
    for i, d in enumerate(_shapes().as_stack(_stack(layers))):
        if d["type"].startswith("conv_transpose"):  # a strided transposed convolution grows the map
            continue
        if "pool" in d["type"] or any(int(t) > 1 for t in np.atleast_1d(d.get("stride") or 1)):
            return i
    return 0


@register("checks")
def pools_tile(input_shape, layers):
    """whether every pooling window of the stack lies inside its input: (n + 2p - k) divisible by the stride"""
    sh = _shapes()
    stack = sh.as_stack(_stack(layers))
    shapes = [tuple(int(v) for v in input_shape), *sh.propagate(tuple(int(v) for v in input_shape), stack)]
    for d, shape in zip(stack, shapes, strict=False):
        if "pool" in d["type"] and d["type"] != "gap":
            nd = 1 if d["type"].endswith("1d") else 2
            k = np.broadcast_to(d["k"], (nd,))
            s = np.broadcast_to(d.get("stride") or d["k"], (nd,))
            p = np.broadcast_to(d.get("padding", 0), (nd,))
            if any((n + 2 * pp - kk) % ss for n, kk, ss, pp in zip(shape[-nd:], k, s, p, strict=True)):
                return False
    return True


_LAYER_WORDS = {"conv1d": "1-D convolution", "conv2d": "2-D convolution",
                "conv_transpose1d": "1-D transposed convolution", "conv_transpose2d": "2-D transposed convolution",
                "maxpool1d": "1-D max pooling",
                "maxpool2d": "2-D max pooling", "avgpool1d": "1-D average pooling",
                "avgpool2d": "2-D average pooling", "linear": "fully connected layer", "flatten": "flatten",
                "gap": "global average pooling (one mean per channel)"}


@register("text")
def describe_layers(layers):
    """the stack as a numbered Markdown list, one layer a line"""
    lines = []
    for i, spec in enumerate(_shapes().as_stack(_stack(layers)), start=1):
        kind = str(spec.get("type", "?"))
        words = [_LAYER_WORDS.get(kind, kind)]
        if "out" in spec:
            words.append(f"{spec['out']} {'outputs' if kind == 'linear' else 'filters'}")
        if "k" in spec:
            k = spec["k"]
            size = f"{k} x {k}" if np.ndim(k) == 0 and kind.endswith("2d") else (
                " x ".join(str(t) for t in k) if np.ndim(k) else str(k))
            words.append(f"{'window' if 'pool' in kind else 'kernel'} {size}")
        if "stride" in spec:
            words.append(f"stride {spec['stride']}")
        if spec.get("padding"):
            words.append(f"padding {spec['padding']}")
        if spec.get("output_padding"):
            words.append(f"output padding {spec['output_padding']}")
        if spec.get("groups", 1) != 1:
            words.append(f"{spec['groups']} groups")
        if spec.get("bias") is False:
            words.append("no bias")
        lines.append(f"{i}. " + ", ".join(words))
    return "\n".join(lines)


def _layer(kind, out=None, kernel=None, stride=None, padding=0, bias=True, k=None, groups=1):
    d: dict[str, Any] = {"type": str(kind)}
    if kernel is not None and k is not None:
        raise ExprError("layer() got both kernel and k", fix="give the kernel side once, as kernel=")
    for key, v in (("out", out), ("k", kernel if kernel is not None else k), ("stride", stride)):
        if v is not None:
            d[key] = int(v) if np.ndim(v) == 0 else [int(t) for t in v]
    if padding:
        d["padding"] = int(padding)
    if not bias:
        d["bias"] = False
    if int(groups) != 1:
        d["groups"] = int(groups)
    return d


_layer.__doc__ = ("a layer description {type, out, k, stride, padding, bias, groups}; kernel= or k= gives the "
                  "kernel side")
register("shapes", name="layer", quiet=True)(_layer)


#: How each named misreading changes one layer description (a copy; the stack itself is kept).
_MISREADINGS: dict[str, Any] = {
    "bias-forgotten": lambda d: {**d, "bias": False} if d.get("type") in _shapes().WEIGHTED_TYPES else d,
    "padding-ignored": lambda d: {k: v for k, v in d.items() if k != "padding"},
    "pool-ceil": lambda d: {**d, "ceil_mode": True} if str(d.get("type", "")).endswith(("pool1d", "pool2d")) else d,
    # receptive fields only: every layer steps by 1, or pooling adds nothing to the field
    "strides-ignored": lambda d: {**d, "stride": 1} if "k" in d else d,
    "pool-ignored": lambda d: {"type": "identity"} if "pool" in str(d.get("type", "")) else d,
    # a grouped (depthwise) convolution counted as a full one: every filter sees every input channel
    "groups-ignored": lambda d: {k: v for k, v in d.items() if k != "groups"},
}


@register("shapes", quiet=True)
def misread_layers(layers, mistake):
    """the stack as a student making the named mistake reads it (bias-forgotten, padding-ignored, pool-ceil,
    strides-ignored, pool-ignored, groups-ignored)"""
    change = _MISREADINGS.get(str(mistake))
    if change is None:
        raise ExprError(f"misread_layers knows no mistake '{mistake}'", fix=f"use one of: {', '.join(_MISREADINGS)}")
    return [change(dict(d)) for d in _shapes().as_stack(_stack(layers))]


@register("shapes", quiet=True)
def misread_size(input_shape, layers, mistake, i):
    """the number of values after layer i of the misread stack, 0 where that stack does not fit the input"""
    from i2dl.errors import EngineError

    try:
        return int(math.prod(propagate(input_shape, misread_layers(layers, mistake))[int(i)]))
    except EngineError:
        return 0


@register("shapes", quiet=True)
def misread_params(input_shape, layers, mistake):
    """the total learnable parameters of the misread stack, 0 where that stack does not fit the input"""
    from i2dl.errors import EngineError

    try:
        return int(sum(param_counts(input_shape, misread_layers(layers, mistake))))
    except EngineError:
        return 0


@register("shapes", quiet=True)
def misread_rf(input_shape, layers, mistake, axis=0):
    """the receptive field sides of the misread stack (strides-ignored, pool-ignored), the shapes left aside"""
    stack = misread_layers(layers, mistake)
    shape = tuple(int(v) for v in input_shape)
    side = shape[1 + int(axis)]
    out = []
    for rf in _shapes().receptive_fields(stack):
        size = rf.size
        out.append(side if size is None else int(size if np.ndim(size) == 0 else size[min(int(axis), 1)]))
    return out


@register("shapes", quiet=True)
def misread_weight(shape, mistake):
    """a weight shape as a student misreads it: in-out-swapped, in-left-out, channels-last (k_h, k_w, in, out)"""
    w = [int(v) for v in shape]
    if str(mistake) == "in-out-swapped":
        return [w[1], w[0], *w[2:]]
    if str(mistake) == "in-left-out":
        return [w[0], *w[2:]]
    if str(mistake) == "channels-last":
        return [*w[2:], w[1], w[0]]
    raise ExprError(f"misread_weight knows no mistake '{mistake}'", fix="use in-out-swapped, in-left-out or channels-last")


#: Names spec authors may use as constants.
CONSTANTS: dict[str, Any] = {"pi": math.pi, "e": math.e, "True": True, "False": False,
                             "true": True, "false": False, "None": None}

#: Special forms handled by the evaluator itself (they read the answer graph).
SPECIAL_FORMS = {"grad": "grad(out, wrt, upstream=None): d sum(upstream * out) / d wrt through the answer graph"}


def lookup(name: str, where: str | None = None) -> Fn:
    """The whitelisted function `name`, or an ExprError listing near names."""
    try:
        return FUNCTIONS[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, list(FUNCTIONS) + list(SPECIAL_FORMS), n=3)
        raise ExprError(f"unknown function '{name}'", where=where,
                        fix=("did you mean " + ", ".join(near) + "?") if near
                        else "run `i2dl functions` for the list") from None


# ---------------------------------------------------------------------------- choices of layers


def _check_activation(kind: str) -> str:
    if kind not in ACTIVATIONS:
        raise ExprError(f"unknown activation '{kind}'", fix="use one of: " + ", ".join(ACTIVATIONS))
    return kind


def _act_kwargs(kind: str, alpha) -> dict[str, Any]:
    """alpha for the kinds that take it, the kind's own default when not given."""
    default = ACTIVATIONS[kind].alpha
    return {} if default is None else {"alpha": default if alpha is None else alpha}


def _vjp_activate(E, g, out, x, kind, alpha=None):
    k = _check_activation(str(kind))
    return {"x": _arr(g) * getattr(E, f"{k}_grad")(x, **_act_kwargs(k, alpha))}


def activate(E, x, kind, alpha=None):
    k = _check_activation(str(kind))
    return _num(getattr(E, k)(x, **_act_kwargs(k, alpha)))


def activate_grad(E, x, kind, alpha=None):
    k = _check_activation(str(kind))
    return _num(getattr(E, f"{k}_grad")(x, **_act_kwargs(k, alpha)))


_KINDS = ", ".join(ACTIVATIONS)
activate.__doc__ = f"the activation named kind ({_KINDS}) of x; alpha defaults to the kind's own"
activate_grad.__doc__ = f"the derivative of the activation named kind ({_KINDS}) at x"
register("activations", vjp=_vjp_activate)(activate)
register("activations")(activate_grad)


@register("arrays")
def letters(mask):
    """the set of letters A, B, ... at the true entries of mask (for choice answers)"""
    return frozenset(chr(65 + i) for i, v in enumerate(np.asarray(mask).ravel().tolist()) if v)


@register("arrays")
def letter(i):
    """the letter of 0-based index i (0 is A)"""
    return frozenset(chr(65 + _as_int(i, "a letter index")))


@register("text")
def as_text(x: Any) -> str:
    """x written as a statement prints it (0.5, [1, 2]), to build text such as a definition"""
    from i2dl.render import fmt_value  # imported on use, as the shape algebra above

    return fmt_value(x)


@register("maths")
def argmax_rows(x: Value) -> np.ndarray:
    """index of the largest entry of each row (0-based, first one on ties), as a vector"""
    a = _arr(x)
    if a.ndim != 2:
        raise ExprError(f"argmax_rows() needs a matrix, got shape {a.shape}")
    return np.argmax(a, axis=1).astype(np.float64)


# ---------------------------------------------------------------------------- metrics, clipping, schedules


@register("metrics")
def confusion_matrix(t, y, n_classes):
    """C[i, j] = number of samples of true class i predicted as class j (classes counted from 1)"""
    n = _as_int(n_classes, "confusion_matrix's n_classes")
    t_, y_ = _arr(t).ravel(), _arr(y).ravel()
    if t_.shape != y_.shape:
        raise ExprError(f"confusion_matrix() needs t and y of one length, got {t_.size} and {y_.size}")
    if not (np.all(np.isin(t_, np.arange(1, n + 1))) and np.all(np.isin(y_, np.arange(1, n + 1)))):
        raise ExprError(f"confusion_matrix() needs class labels 1 to {n}",
                        fix="labels are counted from 1 (the first class is 1)")
    C = np.zeros((n, n))
    np.add.at(C, (t_.astype(int) - 1, y_.astype(int) - 1), 1.0)
    return C


@register("metrics")
def clip_by_norm(x, c):
    """x scaled by c / ||x||_2 when its L2 norm exceeds c, else x unchanged"""
    x_ = _arr(x)
    norm = float(np.linalg.norm(x_))
    return _num(x_ * (float(c) / norm) if norm > float(c) else x_)


@register("metrics")
def norm(x):
    """the L2 (Euclidean) norm sqrt(sum x_i^2)"""
    return float(np.linalg.norm(_arr(x)))


def _epoch(epoch: Value) -> np.ndarray:
    e = _arr(epoch)
    if np.any(e < 0) or np.any(e != np.floor(e)):
        raise ExprError(f"a schedule's epoch must be a whole number >= 0, got {epoch}")
    return e


@register("schedules")
def lr_step(lr, gamma, step_size, epoch):
    """lr gamma^floor(epoch / step_size): step decay, epochs counted from 0 (PyTorch's StepLR)"""
    s = _as_int(step_size, "lr_step's step_size")
    if s < 1:
        raise ExprError(f"lr_step's step_size must be >= 1, got {s}")
    return _num(float(lr) * float(gamma) ** np.floor(_epoch(epoch) / s))


@register("schedules")
def lr_cosine(lr, eta_min, T_max, epoch):
    """eta_min + (lr - eta_min)(1 + cos(pi epoch / T_max)) / 2, epochs from 0 (PyTorch's CosineAnnealingLR)"""
    T = float(T_max)
    if T <= 0:
        raise ExprError(f"lr_cosine's T_max must be > 0, got {T_max}")
    e = _epoch(epoch)
    return _num(float(eta_min) + (float(lr) - float(eta_min)) * (1 + np.cos(np.pi * e / T)) / 2)


@register("schedules")
def lr_warmup(lr, warmup, epoch):
    """lr (epoch + 1) / warmup while epoch < warmup, then lr: linear warm-up, epochs from 0"""
    W = _as_int(warmup, "lr_warmup's warmup")
    if W < 1:
        raise ExprError(f"lr_warmup's warmup must be >= 1, got {W}")
    e = _epoch(epoch)
    return _num(float(lr) * np.minimum(1.0, (e + 1) / W))


@register("arrays")
def arange(start, stop):
    """the whole numbers start, start + 1, ..., stop - 1 as a vector"""
    a, b = _as_int(start, "arange's start"), _as_int(stop, "arange's stop")
    if not 0 <= b - a <= 10000:
        raise ExprError(f"arange({a}, {b}) needs start <= stop and at most 10000 numbers")
    return np.arange(a, b, dtype=np.float64)


@register("metrics")
def first_below(x, v):
    """the 0-based index of the first entry of x that is below v"""
    hits = np.flatnonzero(_arr(x).ravel() < float(v))
    if not hits.size:
        raise ExprError(f"first_below(): no entry is below {v}", fix="give more entries or a larger value")
    return int(hits[0])


def function_rows() -> list[dict[str, str]]:
    """One row per function a spec may call (signature, category, meaning), from the records."""
    rows = [{"function": fn.signature(), "category": fn.category, "meaning": fn.doc}
            for name, fn in sorted(FUNCTIONS.items()) if not fn.hidden]
    rows += [{"function": doc.split(":")[0], "category": "graph", "meaning": doc.split(":", 1)[1].strip()}
             for doc in SPECIAL_FORMS.values()]
    return rows


def functions_markdown() -> str:
    """docs/functions.md: the function table as Markdown, generated from the records."""
    out = ["# Functions of the spec language", "",
           "Generated from the operation records by `i2dl functions --format md`; "
           "a test fails when this page and the records disagree.", "",
           "| function | category | meaning |", "|---|---|---|"]
    out += [f"| `{r['function']}` | {r['category']} | {r['meaning'].replace('|', chr(92) + '|')} |"
            for r in function_rows()]
    return "\n".join(out) + "\n"


@register("text")
def tex_terms(coefs: Any, terms: Any) -> str:
    """sum of coefs[i] * terms[i] as TeX, zero terms left out and signs merged (w^2 - 3\\,w)"""
    from i2dl.render import fmt_value  # imported on use, as as_text above

    cs, ts = list(np.atleast_1d(_arr(coefs))), list(terms)
    if len(cs) != len(ts):
        raise ExprError(f"tex_terms() has {len(cs)} coefficients for {len(ts)} terms")
    out = ""
    for c, t in zip(cs, ts, strict=True):
        if c == 0:
            continue
        mag = "" if abs(c) == 1 and t else fmt_value(float(abs(c))) + (r"\," if t else "")
        out += ("-" if c < 0 else "+" if out else "") + (" " if out else "") + mag + str(t)
        out += " "
    return out.strip().replace("  ", " ") or "0"
