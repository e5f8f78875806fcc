"""The bool kind: true or false, read from YAML booleans, 0/1, or text such as yes/no."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type
from i2dl.kinds.read import missing, show

BOOL_FIX = "write true or false (yes/no, y/n, t/f and 1/0 also work)"
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def parse_bool(value: Any) -> bool:
    """True/false from YAML bools, 0/1, or text true/false, yes/no, y/n, t/f, 1/0."""
    if value is None:
        raise missing()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        raise AnswerParseError(f"expected true or false, got {show(value)}", fix=BOOL_FIX)
    word = value.strip().lower()
    if not word:
        raise missing()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise AnswerParseError(f"could not read {show(value.strip())} as true or false", fix=BOOL_FIX)


class BoolKind(AnswerKind):
    """A truth value b, right only when equal."""

    name = "bool"
    few_values = True
    example = True
    summary = "true or false"

    def holds(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def coerce(self, value: Any) -> bool:
        return bool(value)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> bool:
        return parse_bool(raw)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        return (1.0, "") if bool(got) == bool(expected) else (0.0, "")

    def form(self, expected: Any, n_options: int = 0) -> str:
        return "true or false"

    def answer_text(self, value: Any) -> Any:
        return bool(value)

    def to_data(self, value: Any) -> Any:
        return bool(value)

    def from_data(self, data: Any) -> Any:
        return data

    def data_problem(self, data: Any, n_options: int) -> str | None:
        return None if isinstance(data, bool) else f"expected true or false, got {data_type(data)}"


BOOL = BoolKind()
