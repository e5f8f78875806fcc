"""An LMS's responses report read back for grading: Moodle's quiz Responses report and Canvas's
Student Analysis CSV, one student a row.

Each response is matched to its variant by the tag the exported question text starts with
(i2dl:EXAM:SLOT:vK:DIGEST; Moodle: the report's "Question N" column, Canvas: the question's
column header); the pool is rebuilt from exam.json and each digest checked, so a pool made by
another version is refused rather than graded against other numbers. A Moodle Cloze response
("part 1: 0.52; part 2: 3") is split into the exported fields; choices are read back from
their option texts. The LMS's own marks, where the report has them, are kept to compare.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2dl.errors import SubmissionError
from i2dl.exam.model import Exam
from i2dl.grade.responses import MAX_RESPONSES_BYTES, _decode
from i2dl.grade.score import Grader, Submission, SubmissionResult
from i2dl.io import display_path
from i2dl.lms.fields import (
    LETTERS,
    Field,
    answers_from_fields,
    field_shapes,
    fmt,
    question_fields,
)
from i2dl.lms.html import inline_html, plain_text
from i2dl.lms.moodle import NONE_OF_THESE
from i2dl.lms.pool import TAG, Category, Variant, find_variant

MOODLE_RESPONSE = re.compile(r"^Response (\d+)$")
MOODLE_QUESTION = re.compile(r"^Question (\d+)$")
MOODLE_MARK = re.compile(r"^Q\. ?(\d+) ?/ ?(\d+(?:[.,]\d+)?)$")
MOODLE_GRADE = re.compile(r"^Grade ?/ ?(\d+(?:[.,]\d+)?)$")
CANVAS_QUESTION = re.compile(r"^(\d+): (.*)$", re.S)
CLOZE_PART = re.compile(r"(?:^|; )part (\d+): ")
NO_RESPONSE = {"", "-", "–"}
DIFFERS = re.compile(r"^(Moodle|Canvas|the LMS) gave ")  # the note lms_differences writes
MOODLE_IDS = ("ID number", "Email address", "Username")
CANVAS_IDS = ("sis_id", "id")
FIX_TAGS = ("export the report with the question text shown (Moodle: Responses report, 'Question text' "
            "ticked), so each response names its variant")


def lms_layout(header: list[str]) -> str | None:
    """'moodle' or 'canvas' when the header is that LMS's report, else None."""
    cells = [h.strip() for h in header]
    if any(MOODLE_RESPONSE.match(c) for c in cells):
        return "moodle"
    if "sis_id" in cells and any(CANVAS_QUESTION.match(c) for c in cells):
        return "canvas"
    return None


def sniff_layout(path: Path) -> str | None:
    """The LMS layout of a CSV file's header (None for i2dl's own responses layout or no CSV at all)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024).decode("utf-8-sig", errors="replace")
    except OSError:
        return None
    first = head.split("\n", 1)[0]
    delim = max((",", ";", "\t"), key=first.count)
    return lms_layout(next(csv.reader([first], delimiter=delim), []))


@dataclass
class LmsSubmission(Submission):
    """A row of an LMS report: the answers, the variant per slot, and what the LMS gave."""

    selection: dict[str, int] = field(default_factory=dict)   # slot -> variant k
    lms_points: dict[str, float] = field(default_factory=dict)  # slot -> the LMS's points (exam units)
    lms_total: float | None = None
    lms: str = ""
    pool: list[Category] = field(default_factory=list)


def _norm_choice(text: str) -> str:
    return re.sub(r"\s+|\\\(|\\\)", "", plain_text(text)).casefold()


def _letters(f: Field, response: str) -> str:
    """A choice response (the option texts, '; '-joined by Moodle, ','-joined by Canvas) as letters."""
    options = list(f.choices)
    if not any(c for _, c, _ in options):
        options.append((NONE_OF_THESE, True, ""))
    texts = {_norm_choice(inline_html(t)): (LETTERS[i] if i < len(f.choices) else "none")
             for i, (t, _, _) in enumerate(options)}
    if f.of == "bool":
        return response.strip().casefold()
    rest, picked = _norm_choice(response), []
    while rest:  # option texts may hold the separators themselves: the longest option that fits first
        fits = [t for t in texts if rest.startswith(t) and (len(rest) == len(t) or rest[len(t)] in ";,")]
        if not fits:
            raise ValueError(f"'{response.strip()}' is not a list of the options")
        best = max(fits, key=len)
        picked.append(texts[best])
        rest = rest[len(best) + 1:]
    return "none" if picked == ["none"] else ", ".join(p for p in picked if p != "none")


def split_response(v: Variant, fields: list[Field], text: str, lms: str) -> list[str | None]:
    """One question's response as one text per field, in field order."""
    text = text.strip()
    if text in NO_RESPONSE:
        return [None] * len(fields)
    if len(fields) == 1:
        pieces = [text]
    elif lms == "moodle":
        marks = list(CLOZE_PART.finditer(text))
        got: dict[int, str] = {}
        for m, nxt in zip(marks, [*marks[1:], None], strict=True):
            got[int(m.group(1))] = text[m.end(): nxt.start() if nxt else len(text)]
        pieces = [got.get(i) for i in range(1, len(fields) + 1)]
    else:
        pieces = [p.strip() for p in text.split(",")]
        if len(pieces) != len(fields):
            raise ValueError(f"{len(pieces)} comma-separated answers for {len(fields)} fields")
    out: list[str | None] = []
    for f, p in zip(fields, pieces, strict=True):
        p = None if p is None or p.strip() in NO_RESPONSE else p.strip()
        out.append(_letters(f, p) if p is not None and f.kind in ("multichoice", "multiresponse") else p)
    return out


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


def _slot_part(slot: str) -> tuple[int, str | None]:
    n, _, part = slot.partition(".")
    return int(n), (slot if part else None)


@dataclass
class LmsReport:
    """A read report: which LMS, its rows as submissions (or the error of each bad row), its notices."""

    lms: str
    rows: list[tuple[str, Any]]  # (where, LmsSubmission or SubmissionError)
    notices: list[str]


def read_lms_report(path: Path, exam: Exam, *, engine_name: str | None = None) -> LmsReport:
    """Every row of a Moodle or Canvas report as a submission for `exam`; file-level problems raise."""
    from i2dl.lms import lms_pool

    where = display_path(path)
    raw = path.read_bytes()
    if len(raw) > MAX_RESPONSES_BYTES:
        raise SubmissionError(f"is larger than {MAX_RESPONSES_BYTES // 2**20} MB", where=where,
                              fix="split the report into several files")
    text = _decode(raw, where)
    first = text.split("\n", 1)[0]
    delim = max((",", ";", "\t"), key=first.count)
    table = list(csv.reader(io.StringIO(text), delimiter=delim))
    header = [h.strip() for h in table[0]]
    lms = lms_layout(header)
    if lms is None:
        raise SubmissionError("is neither a Moodle responses report nor a Canvas student analysis", where=where,
                              fix="download the quiz's Responses report (Moodle) or Student Analysis (Canvas)")
    slots = _columns(header, lms)
    tags = [TAG.search(cell) for row in table[1:] for cell in row] + [TAG.search(h) for h in header]
    ks = [int(m.group("k")) for m in tags if m]
    pool = lms_pool(exam, max(ks, default=1), engine_name)
    by_slot = {c.slot: c for c in pool}
    rows, notices = [], []
    id_col = _id_column(header, lms)
    for n, row in enumerate(table[1:], start=2):
        rw = f"{where} row {n}"
        if not any(c.strip() for c in row):
            continue
        cells = dict(zip(header, [*row, *[""] * (len(header) - len(row))], strict=False))
        sid = cells.get(id_col, "").strip()
        if not sid:
            if lms == "moodle" and any("average" in c.casefold() for c in row[:3]):
                continue  # the report's average line
            rows.append((rw, SubmissionError(f"has no student id in column '{id_col}'", where=rw,
                                             fix="keep the identity columns in the downloaded report")))
            continue
        state = cells.get("State", "Finished").strip()
        if lms == "moodle" and state and state not in ("Finished", "Beendet"):
            notices.append(f"{rw}: attempt of '{sid}' is '{state}', not finished: skipped")
            continue
        try:
            rows.append((rw, _row(exam, pool, by_slot, slots, cells, sid, lms, rw)))
        except SubmissionError as exc:
            rows.append((rw, exc))
    return LmsReport(lms, rows, notices)


@dataclass
class _Slot:
    number: int            # the report's question number (Moodle) or the question's column (Canvas)
    response: str          # the column holding the response
    question: str | None   # the column holding the question text (Moodle), None: the header has it
    mark: str | None       # the column holding the LMS's points
    max_mark: float | None
    header_text: str = ""


def _columns(header: list[str], lms: str) -> list[_Slot]:
    out: list[_Slot] = []
    if lms == "moodle":
        marks = {int(m.group(1)): (h, float(m.group(2).replace(",", "."))) for h in header
                 if (m := MOODLE_MARK.match(h))}
        questions = {int(m.group(1)): h for h in header if (m := MOODLE_QUESTION.match(h))}
        for h in header:
            if m := MOODLE_RESPONSE.match(h):
                n = int(m.group(1))
                mark, top = marks.get(n, (None, None))
                out.append(_Slot(n, h, questions.get(n), mark, top))
        return out
    for i, h in enumerate(header):
        if m := CANVAS_QUESTION.match(h):
            nxt = header[i + 1] if i + 1 < len(header) else ""
            top = _number(nxt)
            out.append(_Slot(int(m.group(1)), h, None, nxt if top is not None else None, top, m.group(2)))
    return out


def _id_column(header: list[str], lms: str) -> str:
    for name in (MOODLE_IDS if lms == "moodle" else CANVAS_IDS):
        if name in header:
            return name
    raise SubmissionError(f"has no student id column (looked for {', '.join(MOODLE_IDS if lms == 'moodle' else CANVAS_IDS)})",
                          where="header", fix="keep the identity columns in the downloaded report")


def _row(exam: Exam, pool: list[Category], by_slot: dict[str, Category], slots: list[_Slot], cells: dict[str, str],
         sid: str, lms: str, where: str) -> LmsSubmission:
    answers: dict[str, Any] = {}
    selection: dict[str, int] = {}
    lms_points: dict[str, float] = {}
    for i, s in enumerate(slots):
        qtext = cells.get(s.question, "") if s.question else s.header_text
        m = TAG.search(qtext or "")
        if m is None:
            if all(len(c.variants) == 1 for c in pool) and i < len(pool):
                slot, k = pool[i].slot, 1  # one variant everywhere: the report's order is the pool's
            else:
                raise SubmissionError(f"question {s.number} does not name its variant", where=where, fix=FIX_TAGS)
        else:
            if m.group("exam") != exam.exam_id:
                raise SubmissionError(f"question {s.number} is from exam '{m.group('exam')}', not '{exam.exam_id}'",
                                      where=where, fix="grade the report with --exam pointing at the exam exported")
            slot, k = m.group("slot"), int(m.group("k"))
        v = find_variant(pool, slot, k)
        if v is None or (m is not None and v.digest != m.group("digest")):
            raise SubmissionError(f"question {s.number} ({slot} variant {k}) is not the variant this exam's pool "
                                  "holds now", where=where,
                                  fix="regrade with the i2dl version and exam folder the questions were exported from")
        selection[slot] = k
        fields = question_fields(v.parts)
        try:
            texts = split_response(v, fields, cells.get(s.response, ""), lms)
        except ValueError as exc:
            raise SubmissionError(f"question {s.number}: {exc}", where=f"{where}, column {s.response}",
                                  fix="keep the report's responses as the LMS wrote them") from None
        shapes: dict[tuple[str, str], tuple[int, ...]] = {}
        for part in v.parts:
            shapes.update(field_shapes(part))
        for part_no, blanks in answers_from_fields(fields, texts, shapes).items():
            if isinstance(blanks, str):  # a written answer
                answers[part_no] = blanks
            else:
                answers.setdefault(part_no, {}).update(blanks)
        if s.mark and (got := _number(cells.get(s.mark, ""))) is not None and s.max_mark:
            lms_points[slot] = got * by_slot[slot].points / s.max_mark
    name = " ".join(x for x in (cells.get("First name", ""), cells.get("Last name", cells.get("Surname", "")))
                    if x).strip() or cells.get("name", "")
    total = None
    for h, val in cells.items():
        if (m := MOODLE_GRADE.match(h)) and (got := _number(val)) is not None:
            total = got * exam.points / float(m.group(1).replace(",", "."))
        if lms == "canvas" and h == "score" and (got := _number(val)) is not None:
            total = got
    return LmsSubmission(where, sid, name, exam.exam_id, answers, selection=selection, lms_points=lms_points,
                         lms_total=total, lms=lms, pool=pool)


def variant_exam(exam: Exam, sub: LmsSubmission) -> Exam:
    """The exam this student sat: each slot's variant from the pool, the rest as the exam's own."""
    problems = []
    from i2dl.lms.pool import PER_PART

    for prob in exam.problems:
        if prob.kind in PER_PART:
            parts = []
            for part in prob.parts:
                v = find_variant(sub.pool, part.number, sub.selection.get(part.number, 1))
                parts.append(v.parts[0] if v else part)
            problems.append(dataclasses.replace(prob, parts=parts))
        else:
            v = find_variant(sub.pool, str(prob.number), sub.selection.get(str(prob.number), 1))
            problems.append(v.problem if v else prob)
    return dataclasses.replace(exam, problems=problems)


class LmsGrader:
    """Grades LMS rows against the variants their students were shown; anything else as before."""

    def __init__(self, base: Any, engine_name: str | None = None, library: Any = None):
        self.base = base
        self.exam = base.exam
        self.engine_name = engine_name
        self.library = library
        self._graders: dict[tuple, Grader] = {}

    def grade(self, sub: Submission) -> SubmissionResult:
        if not isinstance(sub, LmsSubmission):
            return self.base.grade(sub)
        key = tuple(sorted(sub.selection.items()))
        if key not in self._graders:
            grader = Grader(variant_exam(self.exam, sub), self.engine_name, library=self.library)
            if self._graders:
                grader._engine = next(iter(self._graders.values()))._engine  # one engine for the report
            self._graders[key] = grader
        result = self._graders[key].grade(sub)
        result.notes += lms_differences(result, sub)
        return result

    @staticmethod
    def notices(rows: list[Any], shown: int = 20) -> list[str]:
        """The report's lines on where i2dl's points differ from the LMS's (from the graded rows' notes,
        so a batch graded in worker processes says the same as one graded here)."""
        differ = [(r.student_id, [n for n in r.notes if DIFFERS.match(n)]) for r in rows]
        differ = [(sid, d) for sid, d in differ if d]
        if not differ:
            return []
        out = [f"{len(differ)} student(s) get other points from i2dl than from the LMS"]
        out += [f"{sid}: " + "; ".join(d) for sid, d in differ[:shown]]
        if len(differ) > shown:
            out.append(f"... and {len(differ) - shown} more (each student's feedback file says where)")
        return out

    def missing(self, graded: list[str]) -> list[dict[str, str]]:
        return self.base.missing(graded) if hasattr(self.base, "missing") else []


def lms_differences(result: SubmissionResult, sub: LmsSubmission) -> list[str]:
    """Where i2dl's points differ from the LMS's: per slot where the report has marks, else the total."""
    name = {"moodle": "Moodle", "canvas": "Canvas"}.get(sub.lms, "the LMS")
    scores: dict[str, float] = {}
    for p in result.parts:
        n, _, _ = p.number.partition(".")
        slot = p.number if p.number in sub.selection else n
        scores[slot] = scores.get(slot, 0.0) + p.score
    out = []
    for slot, lms in sorted(sub.lms_points.items()):
        mine = scores.get(slot, 0.0)
        if abs(mine - lms) > 1e-6:
            out.append(f"{name} gave {fmt(round(lms, 3))} for {slot}, i2dl gives {fmt(round(mine, 3))}"
                       + (" (i2dl's rubric: follow-through, named mistakes, per-entry credit)" if mine > lms else ""))
    if not sub.lms_points and sub.lms_total is not None and abs(sub.lms_total - result.total) > 1e-6:
        out.append(f"{name} gave {fmt(round(sub.lms_total, 3))} in total, i2dl gives {fmt(round(result.total, 3))}")
    return out
