"""Reading a responses CSV (one row per student, one column per blank) into the Submissions answer files give.

The layout is the one `generate` writes as responses-template.csv: a student id column, optional
`name` and `exam` columns, then one column per blank headed `3.2:z` (a lone choice blank: `1.1`).
A file-level problem (not UTF-8, no id column, columns of another exam) fails the whole file; a
bad row fails that row only, with its row number, column and fix, and never stops the batch.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from i2dl.errors import SubmissionError
from i2dl.exam import Exam
from i2dl.export.answers import (
    EXAM_COLUMN,
    ID_COLUMN,
    NAME_COLUMN,
    RESPONSES_FILE,
    response_columns,
)
from i2dl.grade.score import Submission, read_submission
from i2dl.io import display_path, printable

#: A responses CSV of 10,000 students with long matrix answers stays far below this.
MAX_RESPONSES_BYTES = 64 * 1024 * 1024
#: One row holds one student's answers: the same cap as one answer file.
MAX_ROW_CHARS = 256 * 1024
DELIMITERS = (",", ";", "\t")  # Excel writes ';' where the decimal mark is a comma
_BLANK_HEADER = re.compile(r"^\d+\.\d+(:.*)?$")  # what names a blank: 3.2 or 3.2:z
_QUOTE_FIX = ("put every cell that holds the delimiter in double quotes (a decimal comma such as \"0,52\", "
              "a list such as \"[1, 2]\"), as a spreadsheet's CSV export does")


class NotResponses(Exception):
    """The CSV is not a responses file at all (no column names a blank): skipped with a notice."""


@dataclass(slots=True)
class Row:
    """One data row: its 1-based row number (the header is row 1) and its cells."""

    number: int
    cells: list[str] | None  # None: the row could not be read as CSV
    error: str = ""


@dataclass
class Responses:
    """A read responses CSV: where each column goes, its rows, and notices about its columns."""

    where: str
    header: list[str]
    id_index: int
    name_index: int | None
    exam_index: int | None
    blanks: dict[int, tuple[str, str | None]]  # column index -> (part number, blank name or None)
    rows: list[Row]
    notices: list[str] = field(default_factory=list)
    empty_rows: int = 0

    def row_where(self, row: Row) -> str:
        return f"{self.where} row {row.number}"


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SubmissionError(f"is not UTF-8 text (line {line}, byte {column} of the line)", where=where,
                              fix="save the sheet as 'CSV UTF-8' (Excel) or 'Text CSV, UTF-8' (LibreOffice)") from None


def _delimiter(text: str, known: set[str]) -> str:
    """The delimiter that splits the header into the most recognised columns (',' when none does)."""
    first = text.split("\n", 1)[0]
    best, score = ",", 0
    for d in DELIMITERS:
        cells = [_norm(c) for c in next(csv.reader([first], delimiter=d), [])]
        n = sum(1 for c in cells if c in known or _BLANK_HEADER.match(c) or c.casefold() == ID_COLUMN)
        if n > score:
            best, score = d, n
    return best


def _norm(header: str) -> str:
    """A header as compared: outer spaces and spaces around the colon dropped."""
    return re.sub(r"\s*:\s*", ":", header.strip())


def read_responses(path: Path, exam: Exam, *, id_column: str | None = None) -> Responses:
    """The columns and rows of a responses CSV for `exam`; SubmissionError when the file as a whole is unusable."""
    where = display_path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RESPONSES_BYTES + 1)
    except OSError as exc:
        raise SubmissionError(f"cannot be read: {exc.strerror}", where=where) from None
    if len(raw) > MAX_RESPONSES_BYTES:
        raise SubmissionError(f"is larger than {MAX_RESPONSES_BYTES // 2**20} MB", where=where,
                              fix="split the responses into several CSV files")
    text = _decode(raw, where)
    columns = {h: (part, blank) for h, part, blank in response_columns(exam)}
    delimiter = _delimiter(text, set(columns))
    # Not strict: an unclosed quote reads the rest into one cell, which row_submission names.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise NotResponses("is empty") from None
    except csv.Error as exc:
        raise SubmissionError(f"its header row cannot be read as CSV ({exc})", where=f"{where} row 1",
                              fix=_QUOTE_FIX) from None
    header = [_norm(h) for h in header]
    id_names = {ID_COLUMN} | ({id_column.strip().casefold()} if id_column else set())
    ids = [i for i, h in enumerate(header) if h.casefold() in id_names]
    blankish = [h for h in header if _BLANK_HEADER.match(h)]
    if not blankish:
        raise NotResponses("no column names a blank of the exam (such as 1.1 or 3.2:z): not a responses file")
    unknown = [h for h in blankish if h not in columns]
    if unknown:
        shown = ", ".join(printable(h) for h in unknown[:6]) + (", ..." if len(unknown) > 6 else "")
        raise SubmissionError(f"has columns that are not blanks of exam '{exam.exam_id}': {shown}",
                              where=f"{where} row 1",
                              fix=f"grade it with --exam pointing at the exam it was written for, or rename the "
                                  f"columns as in {RESPONSES_FILE} of this exam")
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        key = h.casefold() if h.casefold() in (ID_COLUMN, NAME_COLUMN, EXAM_COLUMN) else h
        if h and key in seen:
            raise SubmissionError(f"column '{printable(h)}' appears twice (columns {seen[key] + 1} and {i + 1})",
                                  where=f"{where} row 1", fix="keep one column per blank")
        seen[key] = i
    if not ids:
        names = " or ".join(f"'{n}'" for n in sorted(id_names))
        raise SubmissionError(f"has no student id column (a column headed {names})", where=f"{where} row 1",
                              fix="head the column of student ids student_id, or pass --id-column with its name")
    if len(ids) > 1:
        raise SubmissionError(f"has two student id columns ({', '.join(header[i] for i in ids)})",
                              where=f"{where} row 1", fix="keep one of them")
    lower = [h.casefold() for h in header]
    name_index = lower.index(NAME_COLUMN) if NAME_COLUMN in lower else None
    exam_index = lower.index(EXAM_COLUMN) if EXAM_COLUMN in lower else None
    blanks = {i: columns[h] for i, h in enumerate(header) if h in columns}
    resp = Responses(where, header, ids[0], name_index, exam_index, blanks, [])
    used = {ids[0], name_index, exam_index, *blanks}
    ignored = [h for i, h in enumerate(header) if i not in used and h]
    if ignored:
        resp.notices.append(f"{where}: columns ignored (not an id, name, exam or blank): "
                            + ", ".join(printable(h) for h in ignored[:8]) + (", ..." if len(ignored) > 8 else ""))
    missing = [h for h in columns if h not in header]
    if missing:
        resp.notices.append(f"{where}: no column for {len(missing)} blank{'s' if len(missing) > 1 else ''} "
                            f"({', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''}): missing for every "
                            "student in this file")
    if exam_index is None:
        resp.notices.append(f"{where}: no exam column, so its rows are graded as answers to exam '{exam.exam_id}'")
    number = 1
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            resp.rows.append(Row(number, None, f"cannot be read as CSV ({exc})"))
            continue
        if not any(c.strip() for c in cells):
            resp.empty_rows += 1  # a spreadsheet's trailing empty lines
            continue
        resp.rows.append(Row(number, cells))
    if resp.empty_rows:
        resp.notices.append(f"{where}: {resp.empty_rows} empty row{'s' if resp.empty_rows > 1 else ''} skipped")
    others = {r.cells[exam_index].strip() for r in resp.rows
              if exam_index is not None and r.cells and exam_index < len(r.cells) and r.cells[exam_index].strip()}
    if others and exam.exam_id not in others and len(others) == 1:
        other = others.pop()
        raise SubmissionError(f"holds responses to exam '{printable(other[:60])}', not '{exam.exam_id}'",
                              where=f"{where} exam", fix="grade it with --exam pointing at the exam it was written for")
    return resp


def row_submission(resp: Responses, row: Row, exam_id: str) -> Submission:
    """One row as a Submission (checked as an answer file is); SubmissionError naming the row and column."""
    where = resp.row_where(row)
    if row.cells is None:
        raise SubmissionError(row.error, where=where, fix=_QUOTE_FIX)
    cells, width = row.cells, len(resp.header)
    if len(cells) > width and not any(c.strip() for c in cells[width:]):
        cells = cells[:width]  # trailing empty cells, as some spreadsheets write them
    if len(cells) != width:
        unclosed = any("\n" in c for c in cells)
        raise SubmissionError(f"has {len(cells)} cells, the header has {width} columns"
                              + ("; a quote opened in this row is never closed, so the rows after it were read "
                                 "into it" if unclosed else ""), where=where,
                              fix=("close the quote (\")" if unclosed else _QUOTE_FIX))
    if sum(len(c) for c in cells) > MAX_ROW_CHARS:
        raise SubmissionError(f"is longer than {MAX_ROW_CHARS // 1024} kB of text", where=where,
                              fix="keep each answer as short as on paper")
    answers: dict[str, object] = {}
    for i, (part, blank) in resp.blanks.items():
        if blank is None:
            answers[part] = cells[i]
        else:
            answers.setdefault(part, {})[blank] = cells[i]
    exam = cells[resp.exam_index].strip() if resp.exam_index is not None else ""
    data = {"exam": exam or exam_id, "student_id": cells[resp.id_index],
            "name": cells[resp.name_index] if resp.name_index is not None else "", "answers": answers}
    try:
        return read_submission(data, where, exam_id)
    except SubmissionError as exc:  # name the column as the sheet heads it
        if exc.where and exc.where.startswith(where + " "):
            key = exc.where[len(where) + 1:]
            column = {"student_id": resp.header[resp.id_index], "exam": EXAM_COLUMN, "name": NAME_COLUMN}.get(key, key)
            exc.where = f"{where}, column {column}"
            if key == "student_id":
                exc.fix = f"write the student's id, on one line, in column {column}"
        raise
