"""Numbers and values written as LaTeX, and the step records a worked solution is made of."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.io import to_plain
from i2dl.render import fmt_number, fmt_value, tex_text

MAX_ENTRIES = 6  # entries written out before "... and N more"

Step = dict[str, Any]


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _plain(v: Any) -> Any:
    """JSON-ready data (see io.to_plain)."""
    return to_plain(v)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _n(v: Any) -> str:
    """A number in LaTeX; tiny numbers such as eps as powers of ten."""
    return fmt_number(v, style="math")


def _f(v: Any) -> str:
    """A number as a factor: negative numbers in parentheses."""
    t = _n(v)
    return f"({t})" if t.startswith("-") else t


def _tx(s: Any) -> str:
    """Text inside LaTeX, escaped."""
    return tex_text(s)


def _v(v: Any) -> str:
    """Any value in LaTeX: numbers, vectors [a, b], matrices as bmatrix, shapes a x b, text."""
    return fmt_value(v, "math")


def _sum_products(rows: list[tuple[Any, ...]]) -> str:
    """'0.5 \\cdot 2 + 1.5 \\cdot (-1)': every factor but the very first in parentheses when negative."""
    terms = []
    for i, row in enumerate(rows):
        terms.append(r" \cdot ".join(_n(f) if i == 0 and j == 0 else _f(f) for j, f in enumerate(row)))
    return " + ".join(terms) if terms else "0"


def _sum_terms(terms: list[str]) -> str:
    """Terms written out as a sum: every term but the first in parentheses when it starts with a minus."""
    return " + ".join(t if i == 0 or not t.startswith("-") else rf"\left({t}\right)"
                      for i, t in enumerate(terms)) if terms else "0"


def _sum_values(values: list[Any]) -> str:
    """'1 + 4.5 + (-0.5)'."""
    return " + ".join(_n(t) if i == 0 else _f(t) for i, t in enumerate(values)) if values else "0"


def _step(lhs: str = "", *rhs: str, text: str = "", value: Any = None, ref: tuple[str, Any] | None = None,
          role: str = "step") -> Step:
    """One line of working: text, then lhs = rhs[0] = rhs[1] = ..., repeats dropped."""
    chain: list[str] = []
    for r in rhs:
        if r and r != lhs and (not chain or r != chain[-1]):
            chain.append(r)
    return {"role": role, "text": text, "lhs": lhs, "rhs": chain, "value": _plain(value),
            "ref": None if ref is None else {"node": ref[0], "index": None if ref[1] is None else list(ref[1])}}


def _note(text: str) -> Step:
    return _step(text=text, role="note")


def _more(hidden: int) -> Step:
    return _note(f"... and {hidden} more entries, computed the same way (--entry i,j shows one)")
