"""The formula kind: an expression in named symbols ("2*(y - t)"), right when it agrees with the key's
formula at sample points of its symbols; read by the shared reader, never eval'd."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type, tagged
from i2dl.kinds.read import (
    FORMULA_FIX,
    check_len,
    describe,
    evaluate_formula,
    formula_names,
    missing,
    show,
)

#: how many points of the symbols two formulas are compared at, and where the points lie
POINTS = 7
LOW, HIGH = 0.15, 2.35


class Formula(str):
    """A formula as written, e.g. '2*(y - t)'; its symbols are the names that are not functions."""

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(formula_names(self)[0])


def parse_formula(value: Any) -> Formula:
    """A student's formula: text that tokenizes and evaluates somewhere in its symbols' range."""
    if value is None:
        raise missing()
    if not isinstance(value, str):
        raise AnswerParseError(f"expected a formula, got {describe(value)}", fix=FORMULA_FIX)
    check_len(value, 500, "formula")
    text = value.strip()
    if not text:
        raise missing()
    names = sorted(formula_names(text)[0])
    problem = None
    for point in _points(names)[:3]:
        try:
            evaluate_formula(text, point)
            return Formula(text)
        except AnswerParseError as exc:
            problem = problem or exc
    raise problem  # type: ignore[misc]


def _points(names: list[str]) -> list[dict[str, float]]:
    """The same sample points for the same symbols, every run (a fixed generator, not the exam's seed)."""
    rng = np.random.default_rng(20_240_213)
    grid = rng.uniform(LOW, HIGH, size=(POINTS, max(len(names), 1)))
    return [{n: float(row[i]) for i, n in enumerate(names)} for row in grid]


def agree(got: str, expected: str) -> tuple[bool, str]:
    """Whether two formulas take the same value at every sample point where the key's is defined."""
    key_names = formula_names(expected)[0]
    extra = sorted(formula_names(got)[0] - key_names)
    if extra:
        return False, f"uses {', '.join(extra)}, which the answer is not written in"
    compared = 0
    for point in _points(sorted(key_names)):
        try:
            e = evaluate_formula(expected, point)
        except AnswerParseError:
            continue
        try:
            g = evaluate_formula(got, point)
        except AnswerParseError:
            return False, "undefined where the answer is defined"
        if not np.isclose(g, e, rtol=1e-7, atol=1e-10):
            return False, ""
        compared += 1
    return compared >= 3, "" if compared >= 3 else "could not be compared at enough points"


class FormulaKind(AnswerKind):
    """A formula f(s_1, ..., s_k) in named symbols, right when equal to the key's at sample points."""

    name = "formula"
    example = Formula("2*(y - t)")
    summary = "an expression in named symbols"

    def holds(self, value: Any) -> bool:
        return isinstance(value, Formula)

    def coerce(self, value: Any) -> Formula:
        if not isinstance(value, str):
            raise TypeError(f"a formula is text such as '2*(y - t)', got {type(value).__name__}")
        return parse_formula(value)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> Formula:
        return parse_formula(raw)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        ok, note = agree(str(got), str(expected))
        return (1.0, "") if ok else (0.0, note)

    def form(self, expected: Any, n_options: int = 0) -> str:
        names = sorted(Formula(expected).symbols) if isinstance(expected, str) else []
        return f"a formula in {', '.join(names) or 'its symbols'}, with * for products"

    def answer_text(self, value: Any) -> Any:
        return str(value)

    def to_data(self, value: Any) -> Any:
        return {"formula": str(value)}

    def from_data(self, data: Any) -> Any:
        return Formula(data["formula"])

    def data_problem(self, data: Any, n_options: int) -> str | None:
        text = tagged(data, "formula")
        if not isinstance(text, str):
            return f"expected {{\"formula\": text}} (a formula), got {data_type(data)}"
        try:
            parse_formula(text)
        except AnswerParseError as exc:
            return f"the formula {show(text)} cannot be read: {exc.message}"
        return None


FORMULA = FormulaKind()
