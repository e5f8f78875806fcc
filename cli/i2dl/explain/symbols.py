"""How a node name is written as maths: W1 -> W_1, dLdz -> dL/dz, x_hat -> x-hat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .steps import _tx

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "nu", "rho",
          "sigma", "tau", "phi", "psi", "omega", "pi", "kappa", "xi", "zeta", "chi"}
_ALIASES = {"eps": r"\epsilon", "sig2": r"\sigma^{2}", "sigma2": r"\sigma^{2}", "var": r"\sigma^{2}"}
_GRAD_NAME = re.compile(r"d([A-Z][a-z]?\d*|[a-z])d([A-Za-z][A-Za-z0-9_]*)")


#: How the sheet of the problem being explained counts entries: 1 (the default) or 0.
_INDEX_BASE: ContextVar[int] = ContextVar("index_base", default=1)


def index_base() -> int:
    """The first index of the problem being explained (a spec's `index_base`, 1 unless it says 0)."""
    return _INDEX_BASE.get()


@contextmanager
def counting_from(base: int) -> Iterator[None]:
    """Write entries counting from `base` inside the block, as the problem's sheet does."""
    token = _INDEX_BASE.set(int(base))
    try:
        yield
    finally:
        _INDEX_BASE.reset(token)


@dataclass(frozen=True)
class Sym:
    """How a quantity is written: its base symbol, and a numerator when it is a gradient dnum/dbase."""

    base: str
    num: str | None = None

    def tex(self) -> str:
        return _partial(self.num, self.base) if self.num else self.base

    def at(self, idx: Any) -> str:
        """The entry idx (0-based ints, or LaTeX subscripts) written as the sheet counts (1-based unless it says 0)."""
        if idx is None or (isinstance(idx, tuple) and not idx):
            return self.tex()
        base = index_base()
        subs = [s if isinstance(s, str) else str(int(s) + base) for s in idx]
        return self.at_tex(subs)

    def at_tex(self, subs: list[str]) -> str:
        base = self.base
        if any(t in base for t in ("_", "\\frac", " ", "^", "(")):
            base = rf"\left({base}\right)"
        entry = f"{base}_{{{','.join(subs)}}}"
        return _partial(self.num, entry) if self.num else entry

    def grad(self, num: str) -> Sym:
        return Sym(self.base, num)


def _partial(num: str, den: str) -> str:
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"


def _word(w: str) -> str:
    if w in _GREEK:
        return "\\" + w
    if len(w) == 1 or w.isdigit():
        return w
    return rf"\mathrm{{{w}}}"


@lru_cache(maxsize=4096)  # a pure function of the name, asked for every step of every key
def _plain_symbol(name: str) -> Sym:
    parts = [p for p in name.split("_") if p]
    if not parts:
        return Sym(_tx(name))
    head, subs = parts[0], parts[1:]
    if len(head) > 1 and head not in _GREEK and any(len(t) > 1 and not t.isdigit() and t != "hat" for t in subs):
        return Sym(_tx(name).replace(r"\text", r"\mathrm", 1))  # params_conv1, lands_on_minimum: a word
    if subs == ["star"]:
        return Sym(f"{_word(head)}^{{*}}")
    hat = bool(subs) and subs[-1] == "hat"
    if hat:
        subs = subs[:-1]
    if head in _ALIASES and not subs:
        return Sym(_ALIASES[head])
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)
    digits = []
    if m and (len(m.group(1)) <= 2 or m.group(1) in _GREEK):
        head, digits = m.group(1), [m.group(2)]
    if subs and re.fullmatch(r"hat\d*", subs[0]):  # m_hat1: m-hat with index 1
        hat, digits, subs = True, digits + ([subs[0][3:]] if subs[0][3:] else []), subs[1:]
    if re.fullmatch(r"[a-z]{1,2}hat", head):  # xhat
        hat, head = True, head[:-3]
    base = _word(head)
    if hat:
        base = rf"\hat{{{base}}}"
    idx = digits + [_word(s) for s in subs]
    return Sym(f"{base}_{{{','.join(idx)}}}" if idx else base)


def symbol(name: str) -> Sym:
    """How a node name is written: W1 -> W_1, g_y -> g_y, dLdz -> dL/dz, x_hat -> x-hat, beta -> beta."""
    m = _GRAD_NAME.fullmatch(name)
    if m:
        return Sym(_plain_symbol(m.group(2)).base, _plain_symbol(m.group(1)).base)
    return _plain_symbol(name)
