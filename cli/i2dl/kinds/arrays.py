"""What the vector and matrix kinds share: float64 arrays compared entrywise under the rubric's array mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.kinds.approx import within
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_shape, data_type, tagged


def _shape(a: np.ndarray) -> str:
    return "x".join(str(s) for s in a.shape) or "scalar"


class ArrayKind(AnswerKind):
    """An array of reals, right entrywise within a tolerance; the rubric's mode turns right entries into credit."""

    numeric = True

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        g, e = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
        mode = arrays.mode
        if g.shape != e.shape:
            return 0.0, f"shape {_shape(g)} instead of {_shape(e)}"
        ok = within(g, e, *tol)
        n_wrong = int(ok.size - ok.sum())
        if n_wrong == 0:
            return 1.0, ""
        if mode == "per-entry":
            return float(ok.mean()), f"{int(ok.sum())} of {ok.size} entries right"
        if mode == "shape-then-values":
            return arrays.shape_credit, f"shape right, {n_wrong} of {ok.size} entries wrong"
        if mode == "deduct-per-entry":
            credit = max(0.0, 1.0 - arrays.deduct * n_wrong / points) if points else 0.0
            return credit, f"{n_wrong} wrong entr{'y' if n_wrong == 1 else 'ies'}, -{arrays.deduct:g} each"
        return 0.0, f"{n_wrong} of {ok.size} entries wrong"

    def answer_text(self, value: Any) -> Any:
        return value.tolist()

    def to_data(self, value: Any) -> Any:
        return {"array": np.asarray(value).tolist()}

    def from_data(self, data: Any) -> Any:
        return np.asarray(data["array"], dtype=np.float64)

    def data_problem(self, data: Any, n_options: int) -> str | None:
        shape = data_shape(tagged(data, "array"))
        if shape is None:
            return f"expected {{\"array\": [...]}} of finite numbers (a {self.name}), got {data_type(data)}"
        return self.dims_problem(shape)

    def dims_problem(self, shape: tuple[int, ...]) -> str | None:
        """Why an array of this shape is not of this kind, or None."""
        return None
