"""The matrix kind: a 2-D array (or more), read row by row from a YAML list of lists or text."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.kinds.arrays import ArrayKind
from i2dl.kinds.read import (
    MAX_ENTRIES,
    as_written,
    describe,
    is_real,
    missing,
    show,
    split_entries,
    text_body,
    to_array,
    unwrap,
)

MATRIX_FIX = "write a matrix row by row, such as [[1, 2], [3, 4]] or 1 2; 3 4"

_ROW = re.compile(r"\[([^\[\]]*)\]")
_ROW_GAP = " \t\r\n,;"


def _text_rows(text: str, one_entry: bool = False) -> list[list[str]]:
    """Rows of entry texts: '[[1, 2], [3, 4]]', numpy's printout, '1 2; 3 4' or one row a line."""
    body = text_body(text)
    if "[" not in body and "]" not in body:
        return [split_entries(r, one_entry) for r in re.split(r"[;\n]", body) if r.strip()]
    rows, end = [], 0
    for match in _ROW.finditer(body):
        _check_gap(body[end:match.start()])
        rows.append(split_entries(unwrap(match.group(1).strip()), one_entry))
        end = match.end()
    _check_gap(body[end:])
    return rows


def _check_gap(gap: str) -> None:
    """Only separators may stand between bracketed rows."""
    rest = gap.strip(_ROW_GAP)
    if not rest:
        return
    if "[" in rest or "]" in rest:
        raise AnswerParseError("brackets are unbalanced or nested too deeply", fix=MATRIX_FIX)
    raise AnswerParseError(f"unexpected {show(rest)} outside the rows", fix=MATRIX_FIX)


def _entries(n: int) -> str:
    """'1 entry', '3 entries'."""
    return f"{n} entry" if n == 1 else f"{n} entries"


def _list_rows(value: list[Any] | tuple[Any, ...], one_entry: bool = False) -> list[list[Any]]:
    """Rows from a YAML list whose items are lists or row texts."""
    rows: list[list[Any]] = []
    for r, row in enumerate(value, 1):
        row = as_written(row)
        if isinstance(row, (list, tuple, np.ndarray)):
            rows.append(list(row))
        elif isinstance(row, str) and row.strip():
            rows.append(split_entries(unwrap(row.strip()), one_entry))
        else:
            raise AnswerParseError(f"row {r} is {describe(row) if row is not None else 'empty'}, "
                                   "expected a list of numbers", fix=MATRIX_FIX)
    return rows


def parse_matrix(value: Any, one_entry: bool = False) -> np.ndarray:
    """A 2-D float array from a YAML list of lists or text such as '[[1, 2], [3, 4]]' or '1 2; 3 4'."""
    value = as_written(value)
    if value is None:
        raise missing()
    if isinstance(value, str):
        rows: list[list[Any]] = _text_rows(value, one_entry)
    elif isinstance(value, np.ndarray) and value.ndim == 2:
        rows = [list(r) for r in value]
    elif isinstance(value, (list, tuple)):
        rows = _list_rows(value, one_entry)
    elif is_real(value):
        rows = [[value]]
    else:
        raise AnswerParseError(f"expected a matrix, got {describe(value)}", fix=MATRIX_FIX)
    if not rows:
        raise missing()
    if sum(len(r) for r in rows) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    arrays: list[np.ndarray] = []
    for r, row in enumerate(rows, 1):
        if not row:
            raise AnswerParseError(f"row {r} is empty", fix=MATRIX_FIX)
        try:
            arrays.append(to_array(row, MATRIX_FIX))
        except AnswerParseError as exc:
            raise AnswerParseError(f"row {r}, {exc.message}", fix=exc.fix) from None
        if len(arrays[-1]) != len(arrays[0]):
            raise AnswerParseError(
                f"row {r} has {_entries(len(arrays[-1]))} but row 1 has {_entries(len(arrays[0]))}",
                fix="every row needs the same number of entries")
    return np.vstack(arrays)


class MatrixKind(ArrayKind):
    """A matrix A in R^(m x n) (or a higher array), right entrywise within a tolerance."""

    name = "matrix"
    tol: ClassVar[tuple[float, float]] = (0.01, 0.01)
    example = [[1.0, -2.0], [0.5, 3.0]]
    summary = "an array of reals with 2 or more dimensions"

    def holds(self, value: Any) -> bool:
        return isinstance(value, np.ndarray) and value.ndim >= 2

    def coerce(self, value: Any) -> np.ndarray:
        a = np.asarray(value, dtype=np.float64)
        if a.ndim < 2:
            raise ValueError(f"a matrix was declared but the value has shape {a.shape}")
        return a

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> np.ndarray:
        return parse_matrix(raw, one_entry=bool(shape) and shape[-1] == 1)

    def form(self, expected: Any, n_options: int = 0) -> str:
        r, c = np.shape(expected)[:2]
        return f"a {r}x{c} matrix, e.g. [[1, 2], [3, 4]] row by row"

    def dims_problem(self, shape: tuple[int, ...]) -> str | None:
        if len(shape) < 2:
            return "expected a matrix (a list of equally long rows of numbers), got 1 dimension"
        return None


MATRIX = MatrixKind()
