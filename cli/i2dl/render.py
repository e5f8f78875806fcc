"""Values as text: short numbers, vectors, matrices (LaTeX or plain), and `{{ expr }}` templates."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import numpy as np

from i2dl.errors import ExprError

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)


#: Below this magnitude a number is written with a power of ten (eps = 1e-8 is not "0").
TINY = 1e-4
#: `style`: "text" (answer files, the terminal), "latex" (statements and keys in Markdown, where
#: text is already text) and "math" (inside a formula, where text must be wrapped in \text{}).
STYLES = ("text", "latex", "math")


def fmt_number(x: Any, digits: int = 6, style: str = "text") -> str:
    """A number as an exam writes it: 3, -0.5, 0.519979 (at most `digits` decimals), 1e-08 as 1e-8."""
    kind = type(x)
    if kind is not float:  # the common case first: this runs for every number of every feedback file
        if isinstance(x, (bool, np.bool_)):
            word = "true" if x else "false"
            return rf"\text{{{word}}}" if style == "math" else word
        if isinstance(x, (int, np.integer)):
            return str(int(x))
    return _fmt_float(float(x), digits, style)


# Floats repeat (a key's numbers appear in its steps, sheet and record): each text is made once.
@lru_cache(maxsize=65536)  # -0.0 and 0.0 share an entry: both are written "0"
def _fmt_float(f: float, digits: int, style: str) -> str:
    """fmt_number of a float."""
    if not math.isfinite(f):
        return str(f)
    if f != 0 and abs(f) < TINY:
        mant, exp = f"{f:.3e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        if style == "text":
            return f"{mant}e{int(exp)}"
        power = f"10^{{{int(exp)}}}"
        return power if mant == "1" else ("-" + power if mant == "-1" else f"{mant} \\cdot {power}")
    r = round(f, digits)
    if r == int(r) and abs(r) < 1e15:
        return str(int(r))
    text = f"{r:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def tex_text(s: Any) -> str:
    """Text inside LaTeX maths, escaped."""
    s = str(s)
    for a, b in (("\\", r"\backslash "), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("%", r"\%"),
                 ("&", r"\&"), ("#", r"\#"), ("$", r"\$")):
        s = s.replace(a, b)
    return rf"\text{{{s}}}"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def fmt_value(v: Any, style: str = "text") -> str:
    """Any answer value as text: numbers, vectors [a, b], matrices, shapes a x b, letter sets, text.

    'latex' and 'math' write matrices as bmatrix and shapes with \\times; 'math' also wraps
    text, letter sets and None in \\text{} so that the value can stand inside a formula.
    """
    math_mode = style == "math"
    num = partial(fmt_number, style=style)
    if v is None and math_mode:
        return tex_text("none")
    if isinstance(v, str):
        return tex_text(v) if math_mode else v
    if isinstance(v, (bool, np.bool_)) or (math_mode and _is_number(v)):
        return num(v)
    if isinstance(v, (frozenset, set)):
        letters = ", ".join(sorted(v)) if v else "none"
        return tex_text(letters) if math_mode else letters
    if isinstance(v, dict):
        if math_mode:
            return r"\{" + ", ".join(f"{tex_text(k)}: {fmt_value(x, style)}" for k, x in v.items()) + r"\}"
        return "{" + ", ".join(f"{k}: {fmt_value(x, style)}" for k, x in v.items()) + "}"
    if isinstance(v, tuple) and v and all(isinstance(t, (int, np.integer)) for t in v) and not hasattr(v, "_fields"):
        return (" x " if style == "text" else r" \times ").join(str(int(t)) for t in v)
    if isinstance(v, (list, tuple)) and not all(_is_number(t) for t in v):
        return "[" + ", ".join(fmt_value(t, style) for t in v) + "]"
    a = np.asarray(v)
    if math_mode and a.dtype.kind not in "biuf":
        return tex_text(fmt_value(v))
    if a.ndim == 0:
        return num(a.item() if a.dtype.kind in "iub" else float(a))
    if a.ndim == 1:
        return "[" + ", ".join(num(t) for t in a.tolist()) + "]"
    if a.ndim == 2 and style != "text":
        rows = [" & ".join(num(t) for t in row) for row in a.tolist()]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
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
