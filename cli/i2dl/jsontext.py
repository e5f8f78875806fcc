"""Indented JSON text: byte for byte what `json.dumps(value, indent=1)` writes, in about half the time.

With an indent the standard library encodes through a chain of Python generators, one per container;
a cohort's exam.json holds millions of values. Here one recursive function appends every piece to one
list, writing scalars the way the library does (its own string escaper, float and int repr).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_INF = float("inf")
_NUMBERS = frozenset((int, float))
#: json.dumps's compact encoder in C: a number's text is the same as _scalar's, and holds no comma.
_compact = json.JSONEncoder(separators=(",", ":")).encode


class _NotPlain(TypeError):
    """A value outside plain JSON data (dicts with str keys, lists, str, int, float, bool, None)."""


def indented_json(value: Any, step: str = " ", *, indent: str = "", default: Any = None) -> str:
    """json.dumps(value, indent=len(step), default=default) for plain JSON data (anything else: json.dumps
    itself), every line after the first starting with `indent` (a value placed inside a larger document)."""
    out: list[str] = []
    try:
        _encode(value, indent, step, out.append)
    except _NotPlain:  # a non-string key, a subclass, another type: the library's rules
        text = json.dumps(value, indent=len(step), default=default)
        return text.replace("\n", "\n" + indent) if indent else text
    return "".join(out)


def _scalar(x: Any) -> str | None:
    """x as JSON when it is a scalar, else None."""
    kind = type(x)
    if kind is str:
        return encode_basestring_ascii(x)
    if kind is int:
        return int.__repr__(x)
    if kind is float:
        if x != x:
            return "NaN"
        if x in (_INF, -_INF):
            return "Infinity" if x > 0 else "-Infinity"
        return float.__repr__(x)
    if x is None:
        return "null"
    if x is True:
        return "true"
    if x is False:
        return "false"
    return None


def _encode(v: Any, indent: str, step: str, app: Any) -> None:
    text = _scalar(v)
    if text is not None:
        app(text)
        return
    kind = type(v)
    if kind is not dict and kind is not list and kind is not tuple:  # json writes a tuple as a list
        raise _NotPlain(kind.__name__)
    if not v:
        app("{}" if kind is dict else "[]")
        return
    inner = indent + step
    if kind is not dict and _NUMBERS.issuperset(map(type, v)):  # a row of numbers: the C encoder writes each one
        app("[\n" + inner + (",\n" + inner).join(_compact(v)[1:-1].split(",")) + "\n" + indent + "]")
        return
    sep = ("{" if kind is dict else "[") + "\n" + inner
    for item in (v.items() if kind is dict else v):
        app(sep)
        if kind is dict:
            k, item = item
            if type(k) is not str:
                raise _NotPlain("key")
            app(encode_basestring_ascii(k))
            app(": ")
        text = _scalar(item)
        if text is not None:
            app(text)
        else:
            _encode(item, inner, step, app)
        sep = ",\n" + inner
    app("\n" + indent + ("}" if kind is dict else "]"))
