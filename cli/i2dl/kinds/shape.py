"""The shape kind: a tuple of positive whole dimensions, read from '16x21x21', '(16, 21, 21)' or a list.

A dimension may also be a symbol (an unknown size such as the batch size N, or K classes): one letter
other than x (which separates dimensions), then at most a short index (C1) or suffix (C_hat), compared
without regard to case. A key such as `['N', K, 28, 28]` is then read from 'N x 2 x 28 x 28'.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type, tagged
from i2dl.kinds.read import (
    MAX_ABS,
    MAX_DIMS,
    NORMALIZE,
    TOO_LARGE,
    as_written,
    describe,
    missing,
    show,
    text_body,
)

SHAPE_FIX = "write a shape such as 16x21x21 or (16, 21, 21)"

_SHAPE_SEP = re.compile(r"\s*[xX*,;]\s*|\s+")
_DIGITS = re.compile(r"([0-9]{1,16})(\.0*)?")  # 2.0 as text, as YAML's float 2.0 is read (a CSV cell is text)
# a letter, then at most a short index or _suffix (N, K, C1, C_hat): a word such as 'twelve' stays invalid
_SYMBOL = re.compile(r"[A-WYZa-wyz](?:[0-9]{1,2}|_[A-WYZa-wyz0-9]{1,5})?")

Dim = int | str


def is_symbol(entry: Any) -> bool:
    """Whether `entry` is a symbolic dimension (a name, not a number)."""
    return isinstance(entry, str) and _SYMBOL.fullmatch(entry) is not None


def _same_dim(a: Dim, b: Dim) -> bool:
    """Equal sizes, or the same symbol in any letter case."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    return a == b


def same_shape(got: tuple[Dim, ...], expected: tuple[Dim, ...]) -> bool:
    """Every dimension equal (symbols without regard to case)."""
    return len(got) == len(expected) and all(_same_dim(a, b) for a, b in zip(got, expected, strict=True))


def _dim(entry: Any, i: int) -> Dim:
    """One positive whole dimension, or a symbol."""
    if isinstance(entry, str) and is_symbol(entry.strip()):
        return entry.strip()
    if isinstance(entry, str) and (m := _DIGITS.fullmatch(entry.strip())):
        n = int(m.group(1))
    elif isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
        n = int(entry)
    elif isinstance(entry, (float, np.floating)) and float(entry).is_integer():
        n = int(entry)
    elif isinstance(entry, str) and not entry.strip():
        raise AnswerParseError(f"dimension {i} is empty", fix=SHAPE_FIX)
    else:
        named = isinstance(entry, str) and any(ch.isalpha() for ch in entry)
        raise AnswerParseError(f"dimension {i} ({show(entry)}) is not a whole number"
                               + (" or a size name such as N" if named else ""), fix=SHAPE_FIX)
    if n <= 0:
        raise AnswerParseError(f"dimension {i} is {n}, but dimensions must be positive",
                               fix=SHAPE_FIX)
    if n > MAX_ABS:
        raise AnswerParseError(f"dimension {i}: {TOO_LARGE}", fix=SHAPE_FIX)
    return n


def parse_shape(value: Any) -> tuple[Dim, ...]:
    """A shape from '16x21x21', '16 × 21 × 21', '(16, 21, 21)', '16*21*21', a list, or one int."""
    value = as_written(value)
    if value is None:
        raise missing()
    if isinstance(value, str):
        body = text_body(value.translate(NORMALIZE))  # '×' becomes '*', also a separator
        parts: list[Any] = _SHAPE_SEP.split(body)
        if len(parts) > 1 and body.endswith(","):  # Python's one-element tuple: (16,)
            parts.pop()
    elif isinstance(value, (list, tuple)):
        if not value:
            raise missing()
        parts = list(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        parts = [value]
    else:
        raise AnswerParseError(f"expected a shape, got {describe(value)}", fix=SHAPE_FIX)
    if len(parts) > MAX_DIMS:
        raise AnswerParseError(f"too many dimensions (> {MAX_DIMS})", fix=SHAPE_FIX)
    return tuple(_dim(p, i) for i, p in enumerate(parts, 1))


def other_form(got: tuple[Dim, ...], expected: tuple[Dim, ...], forms: tuple[str, ...]) -> str:
    """Which accepted way of writing the per-sample shape `expected` (C, H, W) `got` is, or ''."""
    if len(expected) != 3:  # only a per-sample C x H x W has these conventions
        return ""
    c, h, w = expected
    if "channels-last" in forms and same_shape(got, (h, w, c)):
        return f"channels last (H x W x C = {h}x{w}x{c})"
    if "singleton-dropped" in forms and c == 1 and same_shape(got, (h, w)):
        return f"the single channel left out ({h}x{w} for 1x{h}x{w})"
    return ""


class ShapeKind(AnswerKind):
    """A shape (n_1, ..., n_k) of positive integers or symbols, right only when every dimension is equal."""

    name = "shape"
    example = [16, 21, 21]
    summary = "positive whole dimensions, or size names: `['N', 2, 28, 28]` for a batch of N"

    def holds(self, value: Any) -> bool:
        return isinstance(value, tuple)

    def coerce(self, value: Any) -> tuple[Dim, ...]:
        if isinstance(value, (list, tuple)) and any(isinstance(t, str) for t in value):
            bad = [t for t in value if isinstance(t, str) and not is_symbol(t)]
            if bad:
                raise ValueError(f"a symbolic dimension is a name such as 'N' (no letter x), got {bad[0]!r}")
            return tuple(t if isinstance(t, str) else self.coerce([t])[0] for t in value)
        a = np.asarray(value, dtype=np.float64).ravel()
        if not np.all(a == np.round(a)) or np.any(a < 1):
            raise ValueError(f"a shape needs positive whole numbers, got {value!r}")
        return tuple(int(t) for t in a)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> tuple[Dim, ...]:
        return parse_shape(raw)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        got, expected = tuple(got), tuple(expected)
        if same_shape(got, expected):
            return 1.0, ""
        form = other_form(got, expected, tuple(getattr(arrays, "shape_forms", ())))
        if form:
            return 1.0, f"read as {form}, which this rubric accepts"
        return 0.0, ""

    def form(self, expected: Any, n_options: int = 0) -> str:
        return "a shape, e.g. 16x21x21"

    def answer_text(self, value: Any) -> Any:
        return "x".join(str(t) for t in value)

    def to_data(self, value: Any) -> Any:
        return {"tuple": [t if isinstance(t, str) else int(t) for t in value]}

    def from_data(self, data: Any) -> Any:
        return tuple(data["tuple"])

    def data_problem(self, data: Any, n_options: int) -> str | None:
        dims = tagged(data, "tuple")
        if not isinstance(dims, list) or not dims or not all((type(d) is int and d >= 1) or is_symbol(d)
                                                             for d in dims):
            return f"expected {{\"tuple\": [positive whole numbers or names]}} (a shape), got {data_type(data)}"
        return None


SHAPE = ShapeKind()
