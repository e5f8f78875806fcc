"""Answer kinds as plugins: one class per kind of blank, and the registry every other unit reads.

A kind says how a key value is coerced from the answer graph, how a student's answer is read, how the
two are compared (with tolerance, under a rubric's array mode), the answer-file hint, the answer-file
text of a key, the exam.json codec, and formatting (through render.fmt_value). A new kind is one
module here plus its line in `_ALL`; the registry test and the docs test then cover it.
"""

from __future__ import annotations

from typing import Any

from i2dl.errors import AnswerParseError
from i2dl.kinds.approx import approx_equal, within
from i2dl.kinds.base import AnswerKind, ArrayScheme, plain
from i2dl.kinds.boolean import BOOL
from i2dl.kinds.choice import CHOICE
from i2dl.kinds.formula import FORMULA
from i2dl.kinds.matrix import MATRIX
from i2dl.kinds.number import NUMBER
from i2dl.kinds.read import MissingAnswer, holds_surrogate
from i2dl.kinds.shape import SHAPE
from i2dl.kinds.text import TEXT
from i2dl.kinds.vector import VECTOR

# The order is the one messages and the docs list the kinds in.
_ALL: tuple[AnswerKind, ...] = (NUMBER, VECTOR, MATRIX, SHAPE, CHOICE, BOOL, FORMULA, TEXT)

#: every answer kind by name
KINDS: dict[str, AnswerKind] = {k.name: k for k in _ALL}
#: the kind names, in order (the spec schema's and exam.json's Literal)
NAMES: tuple[str, ...] = tuple(KINDS)

__all__ = ["KINDS", "NAMES", "AnswerKind", "ArrayScheme", "MissingAnswer", "answer_text", "approx_equal", "get",
           "parse_answer", "value_kind", "within"]


def get(name: str) -> AnswerKind:
    """The kind called `name`; ValueError listing the kinds if there is none."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown answer kind {name!r}; expected one of {', '.join(NAMES)}") from None


def value_kind(value: Any) -> AnswerKind | None:
    """The kind whose key type `value` has (float -> number, tuple -> shape, frozenset -> choice, ...), or None."""
    return next((k for k in KINDS.values() if k.holds(value)), None)


def answer_text(value: Any) -> Any:
    """A key value as a student writes it in the answer file; a value of no kind as plain data."""
    kind = value_kind(value)
    return kind.answer_text(value) if kind is not None else plain(value)


def parse_answer(value: Any, kind: str, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> Any:
    """What a student wrote for a blank of `kind`, read; choice needs n_options, `shape` (the key's) helps."""
    if holds_surrogate(value):
        raise AnswerParseError("the answer holds a lone surrogate escape (such as \\ud800), which is not text",
                               fix="retype the answer as plain characters")
    return get(kind).read(value, n_options=n_options, shape=shape)
