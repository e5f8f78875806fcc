"""The `pipeline` figure: tensors and operations left to right, with the given vectors and kernels as cells."""

from __future__ import annotations

from typing import Any

from i2dl.figures.base import FigureKind, Givens
from i2dl.figures.svg import FILL, SIZE, SMALL, Canvas, text_width, value_text

CELL_W, CELL_H, MID = 24.0, 16.0, 40.0


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
    """A box per stage (tensors rounded and italic, operations square), arrows between, values below."""
    cv = Canvas()
    widths = []
    for s in data["stages"]:
        head = s["tensor"] or s["op"]
        cells = _cells_width(s["values"]) + (text_width(f"{s['name']} =", SMALL) + 4 if s["op"] and s["values"] else 0)
        widths.append(max(text_width(head, SIZE) + 14, text_width(s["note"] or "", SMALL) + 4, cells, 30.0))
    x, gap = 4.0, 22.0
    boxes = []
    for s, w in zip(data["stages"], widths, strict=True):
        head = s["tensor"] or s["op"]
        bw = text_width(head, SIZE) + 14
        bx = x + (w - bw) / 2
        if s["tensor"]:
            cv.rect(bx, MID - 12, bw, 24, rx=10, cls="tensor")
            cv.text(bx + bw / 2, MID + 4, head, italic=True)
        else:
            cv.rect(bx, MID - 12, bw, 24, fill=FILL, cls="op")
            cv.text(bx + bw / 2, MID + 4, head)
        y = MID + 26
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
        boxes.append((bx, bx + bw))
        x += w + gap
    for (_, end), (start, _) in zip(boxes, boxes[1:], strict=False):
        cv.arrow(end + 1, MID, start - 1, MID, cls="flow")
    return cv.document(title)


KIND = FigureKind("pipeline", build, render,
                  "The network as a chain of operations, with the given input, kernel and weights.")
