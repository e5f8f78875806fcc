"""The `network` figure: columns of nodes, weights on the edges, biases beside the nodes, skips drawn over."""

from __future__ import annotations

from typing import Any

from i2dl.errors import SpecError
from i2dl.figures.base import FigureKind, Givens
from i2dl.figures.svg import FAINT, SMALL, Canvas, sub, text_width, value_text

ROW, LEFT = 58.0, 46.0


def build(decl: Any, g: Givens) -> dict[str, Any]:
    """The network's givens: input values, per layer its weights (W[i][j] joins i to j), biases, activation."""
    x = g.vector("input", decl.input)
    layers, size = [], len(x)
    for n, layer in enumerate(decl.layers):
        slot = f"layers[{n}]"
        weights = None if layer.weights is None else g.matrix(f"{slot}.weights", layer.weights)
        if weights is not None and len(weights) != size:
            raise SpecError(f"figure slot '{slot}.weights': '{layer.weights}' has {len(weights)} rows, but the "
                            f"layer before has {size} nodes", where=f"{g.where}.{slot}.weights",
                            fix="W[i, j] joins node i of the layer before to node j: give it one row per node")
        size = size if weights is None else len(weights[0])
        bias = None if layer.bias is None else g.vector(f"{slot}.bias", layer.bias)
        if bias is not None and len(bias) != size:
            raise SpecError(f"figure slot '{slot}.bias': '{layer.bias}' has {len(bias)} entries for {size} nodes",
                            where=f"{g.where}.{slot}.bias", fix="give one bias per node of the layer")
        layers.append({"label": g.label(slot, layer.label), "size": size, "weights": weights, "bias": bias,
                       "activation": g.label(f"{slot}.activation", layer.activation)})
    sizes = [len(x)] + [la["size"] for la in layers]
    skips = []
    for s in decl.skips:
        if sizes[s.from_] != sizes[s.to]:
            raise SpecError(f"a skip joins columns of {sizes[s.from_]} and {sizes[s.to]} nodes",
                            where=f"{g.where}.skips", fix="a skip adds one node to one node: join equal columns")
        skips.append({"from": s.from_, "to": s.to, "label": g.label("skips", s.label)})
    target = None
    if decl.target is not None:
        target = {"label": decl.target, "values": g.vector("target", decl.target)}
        if len(target["values"]) != sizes[-1]:
            raise SpecError(f"the target '{decl.target}' has {len(target['values'])} entries for {sizes[-1]} outputs",
                            where=f"{g.where}.target", fix="name a target with one entry per output")
    return {"input": {"label": g.label("input_label", decl.input_label), "values": x}, "layers": layers,
            "skips": skips, "target": target}


def _symbol(label: str, j: int, size: int) -> str:
    return sub(label, j + 1) if size > 1 else label


def render(data: dict[str, Any], title: str) -> str:
    """Columns left to right; W[i][j] is written on the edge i -> j, at a column of its own per source i."""
    cols = [{"label": data["input"]["label"], "size": len(data["input"]["values"])}] + data["layers"]
    dense = any(la["weights"] is not None and (len(la["weights"]) > 1 or len(la["weights"][0]) > 1)
                for la in data["layers"])
    gap = 160.0 if dense else 84.0
    tallest = max(c["size"] for c in cols)
    lift = 26.0 if data["skips"] else 0.0
    top = 24.0 if any(la["activation"] for la in data["layers"]) else 4.0
    radius = max(14.0, max(text_width(_symbol(c["label"], 0, c["size"])) for c in cols) / 2 + 4)
    left = LEFT + max(text_width(value_text(v)) for v in data["input"]["values"])

    def at(c: int, j: int) -> tuple[float, float]:
        size = cols[c]["size"]
        return left + c * gap, top + lift + (tallest - size) * ROW / 2 + j * ROW + ROW / 2

    cv = Canvas()
    for c in range(1, len(cols)):
        layer, n_from = cols[c], cols[c - 1]["size"]
        if layer["activation"]:
            cv.text(at(c, 0)[0], at(c, 0)[1] - radius - 20, layer["activation"], size=SMALL, italic=True)
        for i in range(n_from):
            for j in range(layer["size"]):
                if layer["weights"] is None and i != j:
                    continue
                (x1, y1), (x2, y2) = at(c - 1, i), at(c, j)
                cv.line(x1 + radius, y1, x2 - radius, y2, cls="edge")
                if layer["weights"] is not None:
                    t = 0.5 if n_from == 1 else 0.24 + 0.52 * i / (n_from - 1)
                    xs, xe = x1 + radius, x2 - radius
                    cv.text(xs + t * (xe - xs), y1 + t * (y2 - y1) + 3, value_text(layer["weights"][i][j]),
                            size=SMALL, cls="weight", backdrop=True)
    for s in data["skips"]:
        for j in range(cols[s["from"]]["size"]):
            (x1, y1), (x2, y2) = at(s["from"], j), at(s["to"], j)
            top = min(y1, y2) - radius - lift - 8 * j
            cv.path(f"M {x1:.2f} {y1 - radius:.2f} C {x1:.2f} {top:.2f} {x2:.2f} {top:.2f} {x2:.2f} {y2 - radius:.2f}",
                    cls="edge skip", dash="4 2")
            if s["label"] and j == 0:
                cv.text((x1 + x2) / 2, top + 0.75 * (min(y1, y2) - radius - top) - 3, s["label"], size=SMALL,
                        italic=True, backdrop=True)
    for c, col in enumerate(cols):
        for j in range(col["size"]):
            x, y = at(c, j)
            cv.circle(x, y, radius, cls="node")
            cv.text(x, y + 3.5, _symbol(col["label"], j, col["size"]), italic=True)
            if c > 0 and col.get("bias") is not None:
                cv.text(x + radius * 0.6, y - radius - 3, f"b = {value_text(col['bias'][j])}", size=SMALL,
                        anchor="start", cls="bias", backdrop=True)
    for j, v in enumerate(data["input"]["values"]):
        x, y = at(0, j)
        cv.text(x - radius - 14, y + 3.5, value_text(v), anchor="end", cls="value")
        cv.arrow(x - radius - 12, y, x - radius - 1, y)
    if data["target"]:
        for j, v in enumerate(data["target"]["values"]):
            x, y = at(len(cols) - 1, j)
            symbol = _symbol(data["target"]["label"], j, cols[-1]["size"])
            cv.text(x + radius + 8, y + 3.5, f"{symbol} = {value_text(v)}", anchor="start", color=FAINT, cls="target")
    return cv.document(title)


KIND = FigureKind("network", build, render,
                  "The network: the input values on the left, each weight on its edge, each bias beside its node.")
