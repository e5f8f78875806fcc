"""The `layers` figure: an input box with its shape, then one box per layer with its hyper-parameters."""

from __future__ import annotations

from typing import Any

from i2dl.errors import SpecError
from i2dl.figures.base import FigureKind, Givens, plain
from i2dl.figures.svg import FILL, SIZE, SMALL, Canvas, text_width, value_text

PER_ROW, GAP, LINE = 5, 20.0, 12.0
_KEYS = ("out", "k", "stride", "padding")


def build(decl: Any, g: Givens) -> dict[str, Any]:
    """The input shape's sizes and each layer's type, label and hyper-parameters (only those given)."""
    if isinstance(decl.input, list):
        shape = [g.number(f"input[{i}]", n) for i, n in enumerate(decl.input)]
    else:
        shape = g.vector("input", decl.input)
    layers = []
    if isinstance(decl.layers, str):
        stack = g.get("layers", decl.layers)
        if isinstance(stack, str) or (isinstance(stack, list) and all(isinstance(d, dict) for d in stack)):
            from i2dl.errors import EngineError
            from i2dl.shapes import as_stack

            try:  # the compact text form, and `kernel` for `k`, read as the shape algebra reads them
                stack = as_stack(stack)
            except EngineError:
                stack = None
        if not isinstance(stack, list) or not all(isinstance(d, dict) and "type" in d for d in stack):
            raise SpecError(f"figure slot 'layers' names '{decl.layers}', which is not a list of layer() values",
                            where=f"{g.where}.layers", fix="name a stack made with layer(...), or list the boxes")
        for d in stack:
            layers.append({"type": str(d["type"]), "label": None,
                           **{k: _size(d[k]) for k in _KEYS if d.get(k) not in (None, 0)},
                           **({"bias": False} if d.get("bias") is False else {})})
    else:
        for n, box in enumerate(decl.layers):
            entry: dict[str, Any] = {"type": box.type, "label": g.label(f"layers[{n}].label", box.label)}
            for k in _KEYS:
                name = getattr(box, k)
                if name is not None:
                    entry[k] = g.number(f"layers[{n}].{k}", name)
            layers.append(entry)
    return {"input": {"label": g.label("input_label", decl.input_label), "shape": shape}, "layers": layers}


def _size(v: Any) -> Any:
    return [plain(t) for t in v] if isinstance(v, list) else plain(v)


def _dims(v: Any, two_d: bool) -> str:
    if isinstance(v, list):
        return " × ".join(value_text(t) for t in v)
    return f"{value_text(v)} × {value_text(v)}" if two_d else value_text(v)


def lines_of(layer: dict[str, Any]) -> list[str]:
    """The box's text below its title: filters or outputs, kernel or window, stride, padding."""
    kind = layer["type"]
    two_d = kind.endswith("2d")
    out = []
    if "out" in layer:
        out.append(f"{value_text(layer['out'])} {'outputs' if kind == 'linear' else 'filters'}")
    if "k" in layer:
        out.append(f"{'window' if 'pool' in kind else 'kernel'} {_dims(layer['k'], two_d)}")
    if "stride" in layer:
        out.append(f"stride {_dims(layer['stride'], False)}")
    if "padding" in layer:
        out.append(f"padding {value_text(layer['padding'])}")
    if layer.get("bias") is False:
        out.append("no bias")
    return out


def render(data: dict[str, Any], title: str) -> str:
    """Boxes left to right, at most five a row, joined by arrows; the input box first."""
    boxes = [(data["input"]["label"], [" × ".join(value_text(t) for t in data["input"]["shape"])], "input")]
    for la in data["layers"]:
        head = la["type"] if not la.get("label") else f"{la['label']}: {la['type']}"
        boxes.append((head, lines_of(la), "layer"))
    width = max(max([text_width(h, SIZE)] + [text_width(t, SMALL) for t in lines]) for h, lines, _ in boxes) + 14
    height = 22 + LINE * max(len(lines) for _, lines, _ in boxes) + 4
    cv = Canvas()
    spots = []
    for n, (head, lines, cls) in enumerate(boxes):
        row, col = divmod(n, PER_ROW)
        x, y = 4 + col * (width + GAP), 4 + row * (height + 2 * GAP)
        cv.rect(x, y, width, height, fill="#ffffff" if cls == "input" else FILL, cls=cls, rx=3)
        cv.text(x + width / 2, y + 15, head, bold=cls == "layer")
        for k, t in enumerate(lines):
            cv.text(x + width / 2, y + 29 + k * LINE, t, size=SMALL)
        spots.append((x, y))
    for n in range(1, len(spots)):
        (x0, y0), (x1, y1) = spots[n - 1], spots[n]
        if y0 == y1:
            cv.arrow(x0 + width + 1, y0 + height / 2, x1 - 1, y1 + height / 2, cls="flow")
        else:  # the next row: down from the last box, back to the left, down into the first
            mid = y0 + height + GAP
            cv.path(f"M {x0 + width / 2:.2f} {y0 + height:.2f} L {x0 + width / 2:.2f} {mid:.2f} "
                    f"L {x1 + width / 2:.2f} {mid:.2f}", cls="flow")
            cv.arrow(x1 + width / 2, mid, x1 + width / 2, y1 - 1)
    return cv.document(title)


KIND = FigureKind("layers", build, render, "The layers in order, each with its given hyper-parameters.")
