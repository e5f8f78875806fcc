"""Figures drawn from a problem's givens: a spec declares one (`figure:`), a renderer per kind draws it as SVG.

`figures_of(problem)` reads only what the statement gives (the instance's values without its answers), so a
figure never shows a key, and it needs nothing but the instance: an exam loaded back from exam.json gives
the same figures. Every exporter embeds the same SVG text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from i2dl.figures import grid, layers, network, pipeline
from i2dl.figures.base import FigureKind, Givens

if TYPE_CHECKING:
    from i2dl.spec.instance import ProblemInstance

#: the registry: figure kind -> how it is built from the givens and drawn (one entry per declared kind)
KINDS: dict[str, FigureKind] = {k.name: k for k in (network.KIND, pipeline.KIND, layers.KIND, grid.KIND)}


@dataclass(frozen=True)
class Figure:
    """One figure of a problem: id, kind, caption, the id of the part it belongs to (None: the statement), data."""

    id: str
    kind: str
    caption: str
    part: str | None
    data: dict[str, Any]

    def svg(self) -> str:
        """The figure as a standalone SVG document (same data -> byte-identical text)."""
        return KINDS[self.kind].render(self.data, self.caption)


def figures_of(problem: ProblemInstance) -> list[Figure]:
    """The figures the problem's spec declares, filled from the instance's givens (none for multiple choice)."""
    compiled = problem.compiled_spec()
    if compiled is None or compiled.spec.figure is None:
        return []
    decl = compiled.spec.figure
    kind = KINDS[decl.kind]
    givens = Givens(problem.givens(), where=f"{compiled.path} figure")
    data = kind.build(decl, givens)
    caption = givens.label("caption", decl.caption) or kind.caption
    return [Figure(decl.id or decl.kind, decl.kind, caption, decl.part, data)]


__all__ = ["KINDS", "Figure", "FigureKind", "figures_of"]
