"""A tiny deterministic SVG writer: shapes and text in pt, numbers rounded, no ids, no clock."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from i2dl.render import fmt_number

#: one generic family everywhere: Typst and browsers each substitute their own serif font
FONT = "serif"
#: the sizes of text, in pt (one user unit is one pt: the document is width x height pt with a matching viewBox)
SIZE, SMALL = 10.0, 8.5
INK, FAINT, FILL, HIGHLIGHT = "#000000", "#777777", "#f2f2f2", "#1f5fbf"


def num(x: float) -> str:
    """A coordinate as short text: two decimals at most, no trailing zeros."""
    text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def value_text(v: Any) -> str:
    """A given number as the sheet writes it."""
    return fmt_number(v)


def text_width(text: str, size: float = SIZE) -> float:
    """An estimate of the width of `text` in a serif font (layout only: no font is measured)."""
    return 0.52 * size * len(text) + 1.0


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sub(label: str, index: int | str) -> str:
    """`label` with a Unicode subscript index (x, 1 -> x₁); subscripts are labels, never values."""
    return f"{label}{str(index).translate(_SUBSCRIPTS)}"


class Canvas:
    """SVG elements in drawing order; `document` wraps them in a standalone file."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.right = 0.0
        self.bottom = 0.0

    def _grow(self, x: float, y: float) -> None:
        self.right, self.bottom = max(self.right, x), max(self.bottom, y)

    def _attrs(self, attrs: dict[str, Any]) -> str:
        out = []
        for k, v in attrs.items():
            if v is None:
                continue
            text = num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
            out.append(f"{k.rstrip('_').replace('_', '-')}={quoteattr(text)}")
        return " ".join(out)

    def add(self, tag: str, body: str | None = None, **attrs: Any) -> None:
        a = self._attrs(attrs)
        self.items.append(f"<{tag} {a}/>" if body is None else f"<{tag} {a}>{body}</{tag}>")

    def rect(self, x: float, y: float, w: float, h: float, *, cls: str | None = None, fill: str = "none",
             stroke: str = INK, width: float = 0.8, dash: str | None = None, rx: float | None = None) -> None:
        self._grow(x + w, y + h)
        self.add("rect", x=x, y=y, width=w, height=h, rx=rx, class_=cls, fill=fill, stroke=stroke,
                 stroke_width=width, stroke_dasharray=dash)

    def circle(self, cx: float, cy: float, r: float, *, cls: str | None = None, fill: str = "#ffffff",
               stroke: str = INK) -> None:
        self._grow(cx + r, cy + r)
        self.add("circle", cx=cx, cy=cy, r=r, class_=cls, fill=fill, stroke=stroke, stroke_width=0.9)

    def line(self, x1: float, y1: float, x2: float, y2: float, *, cls: str | None = None, stroke: str = INK,
             width: float = 0.7, dash: str | None = None) -> None:
        self._grow(max(x1, x2), max(y1, y2))
        self.add("line", x1=x1, y1=y1, x2=x2, y2=y2, class_=cls, stroke=stroke, stroke_width=width,
                 stroke_dasharray=dash)

    def path(self, d: str, *, cls: str | None = None, stroke: str = INK, width: float = 0.7,
             fill: str = "none", dash: str | None = None) -> None:
        self.add("path", d=d, class_=cls, fill=fill, stroke=stroke, stroke_width=width, stroke_dasharray=dash)

    def arrow(self, x1: float, y1: float, x2: float, y2: float, *, cls: str | None = None) -> None:
        """A line with a filled head at (x2, y2), drawn as a polygon (no marker, so no id)."""
        import math

        self.line(x1, y1, x2, y2, cls=cls)
        ang = math.atan2(y2 - y1, x2 - x1)
        pts = [(x2, y2)] + [(x2 - 6 * math.cos(ang + s * 0.4), y2 - 6 * math.sin(ang + s * 0.4)) for s in (-1, 1)]
        self.add("polygon", points=" ".join(f"{num(a)},{num(b)}" for a, b in pts), fill=INK)

    def text(self, x: float, y: float, text: str, *, size: float = SIZE, anchor: str = "middle",
             cls: str | None = None, italic: bool = False, bold: bool = False, color: str = INK,
             backdrop: bool = False) -> None:
        """Text whose baseline centre (or start/end, by `anchor`) is at (x, y); `backdrop` clears the lines below."""
        w = text_width(text, size)
        left = x - w / 2 if anchor == "middle" else (x if anchor == "start" else x - w)
        if backdrop:
            self.add("rect", x=left - 1, y=y - size * 0.8, width=w + 2, height=size * 1.05, fill="#ffffff")
        self._grow(left + w, y + size * 0.3)
        self.add("text", escape(text), x=x, y=y, class_=cls, font_family=FONT, font_size=size,
                 font_style="italic" if italic else None, font_weight="bold" if bold else None,
                 text_anchor=anchor, fill=color)

    def document(self, title: str, margin: float = 4.0) -> str:
        """The standalone SVG file: size in pt, a matching viewBox, a title for screen readers."""
        w, h = self.right + margin, self.bottom + margin
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{num(w)}pt" height="{num(h)}pt" '
                f'viewBox="0 0 {num(w)} {num(h)}">')
        return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, f"<title>{escape(title)}</title>",
                          f'<rect x="0" y="0" width="{num(w)}" height="{num(h)}" fill="#ffffff"/>',
                          *self.items, "</svg>"]) + "\n"
