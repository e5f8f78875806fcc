"""The `grid` figure: an input matrix with its zero padding and the kernel's first window, the kernel beside it."""

from __future__ import annotations

from typing import Any

from i2dl.figures.base import FigureKind, Givens
from i2dl.figures.svg import FAINT, FILL, HIGHLIGHT, SMALL, Canvas, text_width, value_text

CELL, TOP = 22.0, 22.0


def build(decl: Any, g: Givens) -> dict[str, Any]:
    """The input and kernel matrices, the padding (0 without one) and the stride, if declared."""
    kernel = None if decl.kernel is None else g.matrix("kernel", decl.kernel)
    padding = 0 if decl.padding is None else g.number("padding", decl.padding)
    return {"input": {"label": decl.input_label or decl.input, "values": g.matrix("input", decl.input)},
            "kernel": None if kernel is None else {"label": decl.kernel_label or decl.kernel, "values": kernel},
            "padding": int(padding), "stride": None if decl.stride is None else g.number("stride", decl.stride),
            "show_padding": decl.padding is not None}


def _matrix(cv: Canvas, x0: float, y0: float, values: list[list[Any]], cls: str, size: float) -> None:
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            cv.rect(x0 + j * size, y0 + i * size, size, size, cls=cls, width=0.6)
            cv.text(x0 + j * size + size / 2, y0 + i * size + size / 2 + 3.5, value_text(v), cls="value")


def render(data: dict[str, Any], title: str) -> str:
    """The padded input (padding cells dashed and empty), the first window outlined, the kernel on the right."""
    values, p = data["input"]["values"], data["padding"]
    rows, cols = len(values) + 2 * p, len(values[0]) + 2 * p
    size = max(CELL, max(text_width(value_text(v)) + 6 for row in values for v in row))
    cv = Canvas()
    x0, y0 = 4.0, TOP
    cv.text(x0 + cols * size / 2, TOP - 8, data["input"]["label"], italic=True)
    for i in range(rows):
        for j in range(cols):
            if not (p <= i < rows - p and p <= j < cols - p):
                cv.rect(x0 + j * size, y0 + i * size, size, size, cls="pad", fill=FILL, stroke=FAINT,
                        width=0.5, dash="2 2")
    _matrix(cv, x0 + p * size, y0 + p * size, values, "cell", size)
    notes = []
    if data["show_padding"]:
        notes.append(f"zero padding {value_text(p)}" if p else "no padding")
    if data["stride"] is not None:
        notes.append(f"stride {value_text(data['stride'])}")
    if data["kernel"] is not None:
        kv = data["kernel"]["values"]
        k_rows, k_cols = len(kv), len(kv[0])
        cv.rect(x0, y0, k_cols * size, k_rows * size, cls="window", stroke=HIGHLIGHT, width=2.2)
        kx = x0 + cols * size + 36
        ky = y0 + max(0.0, (rows - k_rows) * size / 2)
        cv.text(kx + k_cols * size / 2, ky - 8, data["kernel"]["label"], italic=True)
        _matrix(cv, kx, ky, kv, "kcell", size)
        cv.rect(kx, ky, k_cols * size, k_rows * size, stroke=HIGHLIGHT, width=2.2)
    if notes:
        cv.text(x0 + cols * size / 2, y0 + rows * size + 14, ", ".join(notes), size=SMALL)
    return cv.document(title)


KIND = FigureKind("grid", build, render,
                  "The input with its padding and the kernel's first window outlined; the kernel beside it.")
