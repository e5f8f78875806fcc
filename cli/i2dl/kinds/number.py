"""The number kind: one real value, read as a number or an arithmetic expression, right within a tolerance."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from i2dl.kinds.approx import within
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type, finite_number
from i2dl.kinds.read import is_real, parse_number


class NumberKind(AnswerKind):
    """A real number x; a read value g is right when |g - x| <= max(abs, rel |x|)."""

    name = "number"
    tol: ClassVar[tuple[float, float]] = (0.01, 0.01)
    numeric = True
    example = 0.52
    summary = "a real number (an integer stays an integer)"

    def holds(self, value: Any) -> bool:
        return is_real(value)

    def coerce(self, value: Any) -> Any:
        a = np.asarray(value, dtype=np.float64)
        if a.size != 1:
            raise ValueError(f"a number was declared but the value has shape {a.shape}")
        f = float(a.reshape(()))
        # An integer key (a parameter count) stays one, so the key prints 34944, not 34944.0.
        return int(f) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else f

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> float:
        return parse_number(raw)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        ok = within(np.asarray(float(got)), np.asarray(float(expected), dtype=float), *tol)
        return (1.0, "") if bool(ok) else (0.0, "")

    def form(self, expected: Any, n_options: int = 0) -> str:
        return "a number, e.g. 0.52, -3, 27/9 or -log(0.35)"

    def answer_text(self, value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else value

    def to_data(self, value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else value

    def from_data(self, data: Any) -> Any:
        return data

    def data_problem(self, data: Any, n_options: int) -> str | None:
        return None if finite_number(data) else f"expected a finite number, got {data_type(data)}"


NUMBER = NumberKind()
