"""The detail renderers by function name: `renders` registers one, RENDERERS looks it up."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .steps import Step

if TYPE_CHECKING:
    from .forward import View


RENDERERS: dict[str, Callable[[View], list[Step]]] = {}


def renders(*names: str) -> Callable:
    """Register a detail renderer for the named functions."""

    def deco(f: Callable[[View], list[Step]]) -> Callable[[View], list[Step]]:
        for n in names:
            RENDERERS[n] = f
        return f

    return deco
