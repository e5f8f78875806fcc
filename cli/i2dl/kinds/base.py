"""The answer-kind interface: what every kind of blank (number, vector, ...) must say about its values."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from i2dl.render import fmt_value


class ArrayScheme(Protocol):
    """How a rubric credits vector and matrix answers (spec.rubric.Arrays has these fields)."""

    mode: str
    shape_credit: float
    deduct: float
    shape_forms: tuple[str, ...] | list[str]


#: Other ways a per-sample shape C x H x W is written that graders accept: H x W x C (channels last),
#: and H x W for a single channel.
SHAPE_FORMS = ("channels-last", "singleton-dropped")


@dataclass(frozen=True)
class DefaultArrays:
    """The default rubric's array scheme: an array earns credit only when every entry is right."""

    mode: str = "whole"
    shape_credit: float = 0.5
    deduct: float = 0.5
    shape_forms: tuple[str, ...] = SHAPE_FORMS


WHOLE = DefaultArrays()


class AnswerKind(ABC):
    """One kind of answer blank: its key coerced, a student's answer read, the two compared, and its forms."""

    # A key value is a Python value of one type per kind (float or int, 1-D or n-D float64 array,
    # tuple of ints, frozenset of letters, bool, str), so `holds` finds a value's kind from the value
    # alone. coerce raises ValueError or TypeError saying what is wrong (the spec loader adds which
    # answer and where); read raises AnswerParseError (MissingAnswer for a blank), which grading turns
    # into an invalid or missing blank, never an exit.

    #: the name a spec's `kind:` and exam.json use
    name: ClassVar[str] = ""
    #: the tolerance (absolute, relative) of a blank with no rounding rule: other kinds, exams before format 4
    tol: ClassVar[tuple[float, float]] = (0.0, 0.0)
    #: real entries compared within a tolerance (validate reports their ranges; exam.json checks the tolerance)
    numeric: ClassVar[bool] = False
    #: a key is one of a few values (true/false, a set of letters): validate flags one that is the same in most instances
    few_values: ClassVar[bool] = False
    #: graded by a person: grading marks the blank for hand grading and never reads it
    by_hand: ClassVar[bool] = False
    #: a key value as a spec expression could produce it (the registry test starts from it)
    example: ClassVar[Any] = None
    #: what a key value is, in words: the docs table's second column
    summary: ClassVar[str] = ""

    @abstractmethod
    def holds(self, value: Any) -> bool:
        """True when `value` has this kind's key type (what coerce returns)."""

    @abstractmethod
    def coerce(self, value: Any) -> Any:
        """The key value computed by the answer graph, as this kind's type; ValueError/TypeError if it is not one."""

    @abstractmethod
    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> Any:
        """What a student wrote (text, or a YAML scalar or list), as this kind's type; AnswerParseError if unreadable.

        `shape` is the key's shape where it helps to read: '[0,5]' for a one-entry vector is 0.5.
        """

    @abstractmethod
    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        """Credit in [0, 1] of a read value against a key value, and a note when the credit is partial."""

    @abstractmethod
    def form(self, expected: Any, n_options: int = 0) -> str:
        """The hint in the answer file that tells a student what form this blank takes."""

    def answer_text(self, value: Any) -> Any:
        """A key value as a student writes it in the answer file (read of it gives the value back)."""
        return value

    @abstractmethod
    def to_data(self, value: Any) -> Any:
        """A key value as exam.json data (JSON types; arrays, shapes and sets tagged)."""

    @abstractmethod
    def from_data(self, data: Any) -> Any:
        """The key value back from exam.json data written by to_data (and checked by data_problem)."""

    @abstractmethod
    def data_problem(self, data: Any, n_options: int) -> str | None:
        """Why exam.json data is not a key value of this kind, in words, or None when it is one."""

    def format(self, value: Any, style: str = "text") -> str:
        """A key or read value as text in a render style; render.fmt_value is the one formatter."""
        return fmt_value(value, style)

    def __repr__(self) -> str:
        return f"<answer kind {self.name}>"


# ---------------------------------------------------------------------------- exam.json data in words
# exam/data.py describes the data it finds with these same helpers.


def finite_number(v: Any) -> bool:
    """A finite JSON number (bools excluded)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def data_shape(v: Any) -> tuple[int, ...] | None:
    """The shape of a rectangular nested list of finite numbers, or None."""
    if finite_number(v):
        return ()
    if not isinstance(v, list):
        return None
    if not v:
        return (0,)
    inner = {data_shape(x) for x in v}
    if None in inner or len(inner) != 1:
        return None
    return (len(v),) + inner.pop()  # type: ignore[operator]


def tagged(v: Any, tag: str) -> Any:
    """The content of {tag: content}, or None when `v` is not exactly that."""
    return v.get(tag) if isinstance(v, dict) and set(v) == {tag} else None


def data_type(v: Any) -> str:
    """What a piece of JSON data is, in words: null, true (a boolean), the number 3, the text 'x', a list."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"{str(v).lower()} (a boolean)"
    if isinstance(v, (int, float)):
        return f"the number {short_json(v)}"
    if isinstance(v, str):
        return f"the text {short_json(v)}"
    return {"list": "a list", "dict": "an object"}.get(type(v).__name__, type(v).__name__)


def short_json(v: Any, limit: int = 40) -> str:
    """A JSON value in at most `limit` characters (its type name if it is not a scalar)."""
    text = json.dumps(v) if isinstance(v, (str, int, float, bool)) or v is None else type(v).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def plain(v: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists; anything else as it is."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v
