"""Approximate equality of answer values: the one rule grading, validate and explain share."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Added to every bound so that a value rounded to the key's printed digits is never a hair outside.
SLACK = 1e-12


def within(got: Any, expected: Any, tol_abs: float, tol_rel: float) -> np.ndarray:
    """Entrywise |got - expected| <= max(tol_abs, tol_rel |expected|): a value within either tolerance is right."""
    return np.abs(got - expected) <= np.maximum(tol_abs, tol_rel * np.abs(expected)) + SLACK


def approx_equal(a: Any, b: Any, tol_abs: float = 1e-6, tol_rel: float = 1e-6) -> bool:
    """a = b up to tolerance (relative to b): equal shapes, every entry within; values not numbers equal exactly."""
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        try:
            return bool(a == b)
        except (TypeError, ValueError):  # an array against a value it cannot be compared with
            return False
    return x.shape == y.shape and bool(np.all(within(x, y, tol_abs, tol_rel)))
