"""What every figure kind shares: the record of a kind, and reading an instance's givens by slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.errors import SpecError
from i2dl.render import fmt_value
from i2dl.spec.figure import LABEL_FIELD


@dataclass(frozen=True)
class FigureKind:
    """A figure kind: `build(declaration, givens) -> data` (plain JSON data), `render(data, title) -> svg text`."""

    name: str
    build: Callable[[Any, Givens], dict[str, Any]]
    render: Callable[[dict[str, Any], str], str]
    caption: str  # the caption of a figure that declares none


def plain(x: Any) -> Any:
    """A number as a plain int or float (numpy scalars and whole floats made plain, for JSON and for text)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    f = float(x)
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


class Givens:
    """The values a statement shows (an instance's values without its answers), read by figure slot."""

    def __init__(self, values: dict[str, Any], where: str):
        self.values, self.where = values, where

    def _wrong(self, slot: str, name: str, what: str) -> SpecError:
        return SpecError(f"figure slot '{slot}' names '{name}', which is {what}", where=f"{self.where}.{slot}",
                         fix="name a given of the right shape (docs/spec-format.md, Figures)")

    def get(self, slot: str, name: str) -> Any:
        if name not in self.values:
            raise self._wrong(slot, name, "not a given of this instance")
        return self.values[name]

    def array(self, slot: str, name: str, ndim: int) -> np.ndarray:
        """A given as an array of `ndim` dimensions (a number is a 1-vector or a 1 x 1 matrix)."""
        v = self.get(slot, name)
        try:
            a = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._wrong(slot, name, f"not numbers ({fmt_value(v)})") from None
        if a.ndim == 0:
            a = a.reshape((1,) * ndim)
        if a.ndim != ndim:
            raise self._wrong(slot, name, f"{'a vector' if a.ndim == 1 else f'{a.ndim}-dimensional'}, "
                                          f"not {'a vector' if ndim == 1 else 'a matrix'}")
        return a

    def vector(self, slot: str, name: str) -> list[Any]:
        return [plain(t) for t in self.array(slot, name, 1).tolist()]

    def matrix(self, slot: str, name: str) -> list[list[Any]]:
        return [[plain(t) for t in row] for row in self.array(slot, name, 2).tolist()]

    def number(self, slot: str, name: str) -> Any:
        v = self.get(slot, name)
        if np.ndim(v) != 0 or isinstance(v, str):
            raise self._wrong(slot, name, f"not one number ({fmt_value(v)})")
        return plain(v)

    def label(self, slot: str, text: str | None) -> str | None:
        """A label with each `{{name}}` replaced by the given as the sheet writes it."""
        if text is None:
            return None
        return LABEL_FIELD.sub(lambda m: fmt_value(self.get(slot, m.group(1))), text)
