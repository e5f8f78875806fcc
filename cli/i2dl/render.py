"""Values as text: short numbers, vectors, matrices (LaTeX or plain), and `{{ expr }}` templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from i2dl.errors import ExprError

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)


def fmt_number(x: Any, digits: int = 6) -> str:
    """A number as an exam writes it: 3, -0.5, 0.519979 (at most `digits` decimals)."""
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    f = float(x)
    if not np.isfinite(f):
        return str(f)
    r = round(f, digits)
    if r == int(r) and abs(r) < 1e15:
        return str(int(r))
    text = f"{r:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_value(v: Any, style: str = "text") -> str:
    """Any answer value as text; style 'latex' renders matrices as bmatrix."""
    if isinstance(v, (frozenset, set)):
        return ", ".join(sorted(v)) if v else "none"
    if isinstance(v, tuple) and all(isinstance(t, (int, np.integer)) for t in v):
        return " x ".join(str(int(t)) for t in v) if style == "text" else r" \times ".join(str(int(t)) for t in v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt_value(x, style)}" for k, x in v.items()) + "}"
    if isinstance(v, list) and not all(isinstance(t, (int, float, np.integer, np.floating)) for t in v):
        return "[" + ", ".join(fmt_value(t, style) for t in v) + "]"
    a = np.asarray(v)
    if a.ndim == 0:
        return fmt_number(a.item() if a.dtype.kind in "iub" else float(a))
    if a.ndim == 1:
        return "[" + ", ".join(fmt_number(t) for t in a.tolist()) + "]"
    if a.ndim == 2:
        if style == "latex":
            rows = [" & ".join(fmt_number(t) for t in row) for row in a.tolist()]
            return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
        return "[" + ", ".join(fmt_value(r) for r in a) + "]"
    return "[" + ", ".join(fmt_value(r, style) for r in a) + "]"


def fmt_grid(v: Any) -> str:
    """A matrix as aligned rows for the terminal."""
    a = np.asarray(v)
    if a.ndim != 2:
        return fmt_value(v)
    cells = [[fmt_number(t) for t in row] for row in a.tolist()]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("[ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells)


def render_template(text: str, evaluate: Callable[[str], Any], style: str = "latex") -> str:
    """Replace each `{{ expr }}` by its value; errors name the expression."""

    def sub(m: re.Match) -> str:
        expr = m.group(1)
        try:
            return fmt_value(evaluate(expr), style)
        except ExprError as exc:
            exc.message = f"in template '{{{{{expr}}}}}': {exc.message}"
            raise

    return _TEMPLATE.sub(sub, text)
