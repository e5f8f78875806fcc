"""The `pipeline` figure: tensors and operations left to right, with the given vectors and kernels as cells."""

from __future__ import annotations

from typing import Any

from i2dl.figures.base import FigureKind, Givens
from i2dl.figures.svg import FILL, SIZE, SMALL, Canvas, text_width, value_text

CELL_W, CELL_H, MID, GAP = 24.0, 16.0, 16.0, 22.0
WIDTH = 440.0  # about the text width of an A4 page, in pt


def build(decl: Any, g: Givens) -> dict[str, Any]:
    """Each stage's symbol or operation, its note, and its values (a given vector, or one number)."""
    stages = []
    for n, s in enumerate(decl.stages):
        slot = f"stages[{n}]"
        values = None if s.value is None else g.vector(f"{slot}.value", s.value)
        stages.append({"tensor": g.label(f"{slot}.tensor", s.tensor), "op": g.label(f"{slot}.op", s.op),
                       "note": g.label(f"{slot}.note", s.note), "name": s.value, "values": values})
    return {"stages": stages}


def _cells_width(values: list[Any] | None) -> float:
    if not values:
        return 0.0
    return len(values) * max(CELL_W, max(text_width(value_text(v), SMALL) + 6 for v in values))


def render(data: dict[str, Any], title: str) -> str:
    """A box per stage (tensors rounded and italic, operations square) left to right, values below each;
    a row that would run past WIDTH pt continues below, so the figure fits a page."""
    cv = Canvas()
    widths = []
    for s in data["stages"]:
        head = s["tensor"] or s["op"]
        cells = _cells_width(s["values"]) + (text_width(f"{s['name']} =", SMALL) + 4 if s["op"] and s["values"] else 0)
        widths.append(max(text_width(head, SIZE) + 14, text_width(s["note"] or "", SMALL) + 4, cells, 30.0))
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        if rows[-1] and used + GAP + w > WIDTH:
            rows.append([])
            used = 0.0
        used += (GAP if rows[-1] else 0.0) + w
        rows[-1].append(i)
    tall = any(s["values"] for s in data["stages"]) and any(s["note"] for s in data["stages"])
    row_h = 24 + 18 + (6 + CELL_H if tall else 0) + 20
    boxes: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * len(widths)
    for r, row in enumerate(rows):
        x, mid = (14.0 if len(rows) > 1 else 4.0), MID + r * row_h
        for i in row:
            s, w = data["stages"][i], widths[i]
            head = s["tensor"] or s["op"]
            bw = text_width(head, SIZE) + 14
            bx = x + (w - bw) / 2
            if s["tensor"]:
                cv.rect(bx, mid - 12, bw, 24, rx=10, cls="tensor")
                cv.text(bx + bw / 2, mid + 4, head, italic=True)
            else:
                cv.rect(bx, mid - 12, bw, 24, fill=FILL, cls="op")
                cv.text(bx + bw / 2, mid + 4, head)
            y = mid + 26
            if s["note"]:
                cv.text(x + w / 2, y, s["note"], size=SMALL)
                y += 6
            if s["values"]:
                cw = _cells_width(s["values"]) / len(s["values"])
                cx = x + (w - _cells_width(s["values"])) / 2
                if s["op"]:
                    label = f"{s['name']} ="
                    lw = text_width(label, SMALL) + 4
                    cx = x + (w - _cells_width(s["values"]) - lw) / 2 + lw
                    cv.text(cx - 3, y + CELL_H - 4.5, label, size=SMALL, anchor="end", italic=True)
                for k, v in enumerate(s["values"]):
                    cv.rect(cx + k * cw, y, cw, CELL_H, cls="cell", width=0.6)
                    cv.text(cx + k * cw + cw / 2, y + CELL_H - 4.5, value_text(v), size=SMALL, cls="value")
            boxes[i] = (bx, bx + bw, mid)
            x += w + GAP
    for (_, e0, m0), (s1, _, m1) in zip(boxes, boxes[1:], strict=False):
        if m0 == m1:
            cv.arrow(e0 + 1, m0, s1 - 1, m1, cls="flow")
        else:  # on to the next row: right of the last box, down, back to the left, into the first box
            turn = m1 - 22
            cv.path(f"M {e0 + 1:.2f} {m0:.2f} L {e0 + 10:.2f} {m0:.2f} L {e0 + 10:.2f} {turn:.2f} "
                    f"L {s1 - 10:.2f} {turn:.2f} L {s1 - 10:.2f} {m1:.2f}", cls="flow")
            cv.arrow(s1 - 10, m1, s1 - 1, m1)
    return cv.document(title)


KIND = FigureKind("pipeline", build, render,
                  "The network as a chain of operations, with the given input, kernel and weights.")
