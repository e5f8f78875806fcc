"""One engine interface, two backends (torch autograd and hand-written numpy), float64 throughout.

Every operation takes and returns numpy float64 arrays (or Python scalars), whatever the
backend: torch is an implementation detail, imported only when the torch engine is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from functools import cache
from typing import Any

from i2dl.errors import EngineUnavailable, UsageError

#: The topic modules each backend provides; both backends export the same names.
TOPICS = ("conv", "pool", "linear", "activations", "losses", "optim", "batchnorm")
ENGINE_ENV = "I2DL_ENGINE"
CHOICES = ("auto", "torch", "numpy")


class Engine:
    """A backend's operations by name: `engine.conv2d(x, w)`."""

    def __init__(self, name: str, ops: dict[str, Callable[..., Any]]):
        self.name = name
        self.ops = ops

    def __getattr__(self, op: str) -> Callable[..., Any]:
        try:
            return self.__dict__["ops"][op]
        except KeyError:
            raise AttributeError(f"engine '{self.name}' has no operation '{op}'") from None

    def __repr__(self) -> str:
        return f"<Engine {self.name}: {len(self.ops)} ops>"


def torch_available() -> bool:
    """True when torch can be imported (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def resolve_name(name: str | None = None) -> str:
    """The concrete backend for a requested name: argument, then $I2DL_ENGINE, then auto."""
    requested = (name or os.environ.get(ENGINE_ENV) or "auto").strip().lower()
    if requested not in CHOICES:
        raise UsageError(
            f"unknown engine '{requested}'",
            where=f"--engine / ${ENGINE_ENV}",
            fix="use one of: " + ", ".join(CHOICES),
        )
    if requested == "auto":
        return "torch" if torch_available() else "numpy"
    if requested == "torch" and not torch_available():
        raise EngineUnavailable(
            "the torch engine was requested but torch is not installed",
            fix="pip install 'torch==2.13.0', or use --engine numpy",
        )
    return requested


@cache
def _load(backend: str) -> Engine:
    package = {"numpy": "np_backend", "torch": "torch_backend"}[backend]
    ops: dict[str, Callable[..., Any]] = {}
    for topic in TOPICS:
        module = importlib.import_module(f"i2dl.engine.{package}.{topic}")
        for op in module.__all__:
            ops[op] = getattr(module, op)
    return Engine(backend, ops)


def get_engine(name: str | None = None) -> Engine:
    """The engine for `name` (auto, torch, numpy), loaded once per process."""
    return _load(resolve_name(name))
