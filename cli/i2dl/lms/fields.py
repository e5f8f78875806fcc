"""A part's blanks as the fields an LMS question can hold, and LMS responses read back into answers.

An LMS knows numbers with an absolute tolerance, short text matched exactly, and choices. So a
vector or matrix blank becomes one number field per entry, a shape one field per dimension, a
formula a short-text field with the key's text; free text has no field (an essay question holds
it). Every exporter uses this one decomposition, and the responses reader inverts it, so the
order of fields in a question is the order of parts in an LMS response.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from typing import Any

import numpy as np

from i2dl.kinds.shape import is_symbol
from i2dl.render import fmt_number
from i2dl.spec.instance import Blank, PartInstance

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Field:
    """One answer field: which blank (and entry) it fills, how an LMS checks it, what it is worth."""

    part: str
    blank: str
    index: tuple[int, ...] | None   # the entry of a vector, matrix or shape blank; None: the whole blank
    kind: str                        # numerical | shortanswer | multichoice | multiresponse | essay
    label: str
    points: float
    value: Any = None                # numerical: float; shortanswer: str
    tolerance: float = 0.0           # numerical: absolute
    choices: tuple[tuple[str, bool, str], ...] = ()   # (text, correct, feedback) of a choice field
    mistakes: tuple[tuple[float, float, str], ...] = ()  # numerical: (value, credit, feedback) of named mistakes
    of: str = ""                     # the kind of the blank it fills


def blank_points(part: PartInstance) -> dict[str, float]:
    """Each blank's points, as the grader splits the part (PartInstance.blank_points)."""
    return {b.name: w for b, w in zip(part.blanks, part.blank_points(), strict=True)}


def _abs_tol(b: Blank, value: Any, index: tuple[int, ...] | None) -> float:
    t_abs, t_rel = b.tolerance(b.expected)
    t_abs = np.asarray(t_abs, dtype=float)
    a = float(t_abs[index]) if index is not None and t_abs.ndim else float(t_abs)
    return max(a, float(t_rel) * abs(float(value)))


def part_fields(part: PartInstance) -> list[Field]:
    """The fields of a part, in order: blank by blank, entries row by row."""
    pts = blank_points(part)
    out: list[Field] = []
    for b in part.blanks:
        out += blank_fields(part, b, pts[b.name])
    return out


def question_fields(parts: list[PartInstance]) -> list[Field]:
    """The fields of one LMS question: a written answer alone (an essay question), else every checkable field
    (a spec's free text has none in a Cloze or a QTI item: it is graded by hand)."""
    fields = [f for part in parts for f in part_fields(part)]
    if len(fields) == 1 and fields[0].kind == "essay":
        return fields
    return [f for f in fields if f.kind != "essay"]


def blank_fields(part: PartInstance, b: Blank, points: float) -> list[Field]:
    """The fields of one blank worth `points` (none for free text)."""
    return FIELDS[b.kind](part, b, points, dict(part=part.number, blank=b.name, of=b.kind))


def _number(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    v = float(b.expected)
    mistakes = tuple((float(a["value"]), float(a.get("credit", 0)), str(a.get("feedback") or ""))
                     for a in b.alternatives if _is_real(a.get("value")))
    return [Field(**f, index=None, kind="numerical", label=b.label, points=points, value=v,
                  tolerance=_abs_tol(b, v, None), mistakes=mistakes)]


def _array(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    arr = np.asarray(b.expected, dtype=float)
    cells = list(product(*(range(n) for n in arr.shape)))
    return [Field(**f, index=idx, kind="numerical", label=f"{b.label} {_entry_name(idx)}",
                  points=points / len(cells), value=float(arr[idx]), tolerance=_abs_tol(b, arr[idx], idx))
            for idx in cells]


def _shape(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    dims = tuple(b.expected)
    return [Field(**f, index=(i,), kind="shortanswer" if is_symbol(d) else "numerical",
                  label=f"{b.label}, size {i + 1}", points=points / len(dims),
                  value=d if is_symbol(d) else float(d)) for i, d in enumerate(dims)]


def _choice(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    correct = set(b.expected)
    if part.options:
        choices = tuple((o.text, o.letter in correct, o.reason) for o in part.options)
    else:
        choices = tuple((LETTERS[i], LETTERS[i] in correct, "") for i in range(b.options))
    kind = "multichoice" if len(correct) == 1 else "multiresponse"
    return [Field(**f, index=None, kind=kind, label=b.label, points=points, choices=choices)]


def _bool(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    truth = bool(b.expected)
    return [Field(**f, index=None, kind="multichoice", label=b.label, points=points,
                  choices=(("true", truth, ""), ("false", not truth, "")))]


def _formula(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    return [Field(**f, index=None, kind="shortanswer", label=b.label, points=points, value=str(b.expected))]


def _text(part: PartInstance, b: Blank, points: float, f: dict) -> list[Field]:
    """Written text: an essay field, graded by hand (in the LMS, or by `i2dl review` after regrading)."""
    return [Field(**f, index=None, kind="essay", label=b.label, points=points, value=b.model_answer or "")]


#: Each answer kind's LMS fields; a kind without an entry fails tests/test_lms.py.
FIELDS = {"number": _number, "vector": _array, "matrix": _array, "shape": _shape, "choice": _choice,
          "bool": _bool, "formula": _formula, "text": _text}
#: The kinds whose fields are entries of the blank (an array's cells, a shape's sizes).
ENTRYWISE = {"vector": "array", "matrix": "array", "shape": "sizes"}


def not_expressible(part: PartInstance) -> list[str]:
    """What of the part's grading an LMS field cannot do (for the export's report)."""
    notes = []
    for b in part.blanks:
        if b.kind == "text":
            notes.append(f"{part.number} {b.name}: written answers are essay questions, graded by hand (in the LMS, "
                         "or with `i2dl review` after `i2dl grade --responses`)")
        if b.kind == "formula":
            notes.append(f"{part.number} {b.name}: a formula is matched as exact text by the LMS "
                         "(i2dl compares it at sample points: regrade the responses with i2dl)")
        if b.kind == "choice" and len(set(b.expected)) == 0:
            notes.append(f"{part.number}: no option is correct; the LMS needs one, so 'none of these' is added")
    return notes


def _is_real(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and np.isfinite(v)


def _entry_name(idx: tuple[int, ...]) -> str:
    return "entry " + ",".join(str(i + 1) for i in idx)


def fmt(x: float) -> str:
    """A number as an LMS reads it: plain decimal notation, no exponent, at most 10 significant digits."""
    text = fmt_number(float(x), 10)
    if "e" in text.lower():
        text = np.format_float_positional(float(x), precision=12, trim="-")
    return text


def integer_weights(points: list[float], limit: int = 100) -> list[int]:
    """Whole-number weights in the ratio of `points` (Cloze weights are integers), as small as possible."""
    fracs = [Fraction(p).limit_denominator(limit) for p in points]
    lcm = 1
    for f in fracs:
        lcm = lcm * f.denominator // np.gcd(lcm, f.denominator)
    weights = [int(f * lcm) for f in fracs]
    g = 0
    for w in weights:
        g = int(np.gcd(g, w))
    return [max(1, w // (g or 1)) for w in weights]


def answers_from_fields(fields: list[Field], responses: list[str | None],
                        expected_shapes: dict[tuple[str, str], tuple[int, ...]]) -> dict[str, dict[str, Any]]:
    """The answers {part: {blank: value}} that LMS field responses make (None or '' for no response)."""
    out: dict[str, dict[str, Any]] = {}
    grid: dict[tuple[str, str], dict[tuple[int, ...], str]] = {}
    for fld, resp in zip(fields, responses, strict=True):
        text = (resp or "").strip()
        if fld.kind == "essay":  # a written answer is the part's own value, as in an answer file
            if text:
                out[fld.part] = text
            continue
        if fld.index is None:
            if text:
                out.setdefault(fld.part, {})[fld.blank] = text
        elif text:
            grid.setdefault((fld.part, fld.blank), {})[fld.index] = text
    for (part, blank), cells in grid.items():
        out.setdefault(part, {})[blank] = _nested(cells, expected_shapes[(part, blank)], ())
    return out


def _nested(cells: dict[tuple[int, ...], str], shape: tuple[int, ...], at: tuple[int, ...]) -> str:
    """Entry texts as a nested list literal, '?' (unreadable, so invalid) where an entry was left empty."""
    if len(at) == len(shape):
        return cells.get(at, "?")
    return "[" + ", ".join(_nested(cells, shape, (*at, i)) for i in range(shape[len(at)])) + "]"


def field_shapes(part: PartInstance) -> dict[tuple[str, str], tuple[int, ...]]:
    """(part, blank) -> the shape its entry fields fill: an array's shape, a shape blank's length."""
    out = {}
    for b in part.blanks:
        if ENTRYWISE.get(b.kind) == "array":
            out[(part.number, b.name)] = tuple(np.asarray(b.expected).shape)
        elif ENTRYWISE.get(b.kind) == "sizes":
            out[(part.number, b.name)] = (len(tuple(b.expected)),)
    return out
