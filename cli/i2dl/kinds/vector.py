"""The vector kind: a 1-D array, read from a YAML list or text such as '[1, 2, 3]', '1 2 3' or '(1; 2; 3)'."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.kinds.arrays import ArrayKind
from i2dl.kinds.read import (
    as_written,
    describe,
    is_real,
    missing,
    split_entries,
    text_body,
    to_array,
)

VECTOR_FIX = "write a vector such as [1, 2, 3] or 1 2 3"


def parse_vector(value: Any, one_entry: bool = False) -> np.ndarray:
    """A 1-D float array from a YAML list or text such as '[1, 2, 3]', '1 2 3' or '(1; 2; 3)'."""
    value = as_written(value)
    if value is None:
        raise missing()
    if isinstance(value, str):
        body = text_body(value)
        if "[" in body or "]" in body:
            raise AnswerParseError("a vector is a flat list, found nested brackets", fix=VECTOR_FIX)
        entries: list[Any] = split_entries(body, one_entry)
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        entries = list(value)
    elif isinstance(value, (list, tuple)):
        entries = list(value)
    elif is_real(value):
        entries = [value]
    else:
        raise AnswerParseError(f"expected a vector, got {describe(value)}", fix=VECTOR_FIX)
    return to_array(entries, VECTOR_FIX)


class VectorKind(ArrayKind):
    """A vector v in R^n, right entrywise within a tolerance."""

    name = "vector"
    tol: ClassVar[tuple[float, float]] = (0.01, 0.01)
    example = [1.5, -2.0, 0.25]
    summary = "a 1-D array of reals"

    def holds(self, value: Any) -> bool:
        return isinstance(value, np.ndarray) and value.ndim == 1

    def coerce(self, value: Any) -> np.ndarray:
        a = np.asarray(value, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"a vector was declared but the value has shape {a.shape}")
        return a

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> np.ndarray:
        return parse_vector(raw, one_entry=shape == (1,))

    def form(self, expected: Any, n_options: int = 0) -> str:
        n = len(expected)
        return f"a vector of {n} numbers, e.g. [{', '.join(['1'] * min(n, 3))}{', ...' if n > 3 else ''}]"

    def dims_problem(self, shape: tuple[int, ...]) -> str | None:
        if len(shape) != 1:
            return f"expected a vector (a flat list of numbers), got {len(shape)} dimensions"
        return None


VECTOR = VectorKind()
