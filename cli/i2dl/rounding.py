"""The rounding rule: how many decimals a result is written with, and the tolerance that follows from it.

A rule `{decimals: d, significant: s}` asks for every number that is not whole to be written to d
decimals, with more decimals where d would keep fewer than s significant digits: x is written
with d(x) = max(d, s - 1 - floor(log10 |x|)) decimals, between 0 and MAX_DECIMALS. Whole numbers
are written as they are. The tolerance of a key x is one unit in that last place, 10^-d(x): a value
rounded as the rule says is at most half a unit off, and the other half absorbs a rounded
intermediate step that the sheet does not ask for.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

#: At most this many decimals are ever asked for: a key such as 2e-8 (an epsilon's trace in an
#: Adam step) is 0 to a student, not a number to copy to ten decimals.
MAX_DECIMALS = 6


class Rounding(BaseModel):
    """Write non-whole x to max(decimals, significant - 1 - floor(log10 |x|)) decimals, at most MAX_DECIMALS."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    decimals: int | None = Field(default=None, ge=0, le=MAX_DECIMALS)
    significant: int | None = Field(default=None, ge=1, le=MAX_DECIMALS)

    @model_validator(mode="after")
    def _something(self):
        if self.decimals is None and self.significant is None:
            raise ValueError("give 'decimals', 'significant' or both, e.g. {decimals: 3, significant: 2}")
        return self

    def places(self, x: Any) -> np.ndarray:
        """Entrywise d(x): the decimals a value x is written with under this rule."""
        a = np.abs(np.asarray(x, dtype=np.float64))
        low = self.decimals or 0  # validated: 0 <= decimals <= MAX_DECIMALS
        if self.significant is None:
            return np.full(a.shape, low, dtype=np.int64)
        positive = a > 0  # 0 and nan have no leading digit: the rule's decimals alone
        exp = np.zeros(a.shape)
        np.log10(a, out=exp, where=positive)
        need = np.where(positive, (self.significant - 1) - np.floor(exp), 0.0)
        # max(decimals, need) within 0..MAX_DECIMALS (an infinite x needs -inf: the decimals)
        return np.clip(need, low, MAX_DECIMALS).astype(np.int64)

    def round(self, x: Any) -> Any:
        """x written as the rule says (entrywise for arrays), as a number again."""
        arr = np.asarray(x, dtype=np.float64)
        d = self.places(arr)
        flat = [float(round(float(v), int(k))) for v, k in zip(arr.ravel(), d.ravel(), strict=True)]
        out = np.asarray(flat, dtype=np.float64).reshape(arr.shape)
        return float(out) if out.ndim == 0 else out

    def unit(self, x: Any) -> np.ndarray:
        """Entrywise 10^-d(x): the tolerance of a key x (one unit in the last place asked for)."""
        a = np.asarray(x, dtype=np.float64)
        # a hair more than one unit, so that float noise in a rounded value never falls outside
        return 10.0 ** (-self.places(a).astype(np.float64)) * (1 + 1e-9) + 4e-16 * np.abs(a)

    def sentence(self) -> str:
        """The instruction the sheet prints for this rule, in words."""
        d, s = self.decimals, self.significant
        if s is None:
            return f"Give every result that is not a whole number to {_n(d, 'decimal')}."
        example = _example(self)
        if d is None:
            return (f"Give every result that is not a whole number to {_n(s, 'significant digit')}, "
                    f"with at most {MAX_DECIMALS} decimals (for example {example}).")
        more = f"to more (at most {MAX_DECIMALS})" if d < MAX_DECIMALS else "to more"
        return (f"Give every result that is not a whole number to {_n(d, 'decimal')}, and {more} where "
                f"that would keep fewer than {_n(s, 'significant digit')} (for example {example}).")

    def hint(self) -> str:
        """The rule in a few words, for the comments of the answer file."""
        parts = [f"{self.decimals} decimals"] if self.decimals is not None else []
        if self.significant is not None:
            parts.append(f"{'at least ' if parts else ''}{self.significant} significant digits")
        return "round to " + ", ".join(parts)

    def data(self) -> dict[str, int | None]:
        """The rule as exam.json data."""
        return {"decimals": self.decimals, "significant": self.significant}


def _n(k: int | None, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _example(rule: Rounding) -> str:
    """A small number written as the rule asks: one whose significant digits need extra decimals."""
    s = rule.significant or 1
    digits = "2468013579"[:s]
    lead = (rule.decimals or 0) + 1  # the first significant digit sits just past the asked decimals
    text = "0." + "0" * (lead - 1) + digits
    return text.rstrip(".")


#: The exam-wide rule when neither the course nor the blueprint declares one.
DEFAULT_ROUNDING = Rounding(decimals=3, significant=3)


def default_rounding(course: Rounding | dict[str, Any] | None = None) -> Rounding:
    """The exam-wide rule: the course's setting when it gives one, else DEFAULT_ROUNDING."""
    if course is None:
        return DEFAULT_ROUNDING
    return course if isinstance(course, Rounding) else Rounding.model_validate(course)


def rule_of(data: dict[str, Any] | Rounding | None) -> Rounding | None:
    """A rule from exam.json data (None stays None: blanks that are not numbers, older exams)."""
    if data is None or isinstance(data, Rounding):
        return data
    try:
        key = tuple(sorted(data.items()))
        hash(key)
    except (TypeError, AttributeError):  # not a mapping of plain values: validation says what is wrong
        return Rounding.model_validate(data)
    rule = _RULES.get(key)
    if rule is None:
        rule = Rounding.model_validate(data)
        if len(_RULES) < 64:  # an exam has a handful of rules; each is validated once
            _RULES[key] = rule
    return rule


_RULES: dict[tuple, Rounding] = {}


def tolerance(expected: Any, rule: Rounding | None, tol_abs: float, tol_rel: float) -> tuple[Any, float]:
    """(absolute, relative) tolerance of a key: the rule's unit, widened by an explicit spec tolerance."""
    if rule is None:
        return tol_abs, tol_rel
    unit = rule.unit(expected)
    return np.maximum(unit, tol_abs), tol_rel


def is_whole(x: Any) -> bool:
    """Every entry of x is a whole number."""
    a = np.asarray(x, dtype=np.float64)
    return bool(np.all(np.isfinite(a)) and np.all(a == np.round(a)))

