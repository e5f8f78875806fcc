"""Grading a folder of answer files: one bad file never stops the batch; results swapped in whole.

Results are streamed: each student's feedback is written as soon as they are graded, into a fresh
folder beside `--out`; only a small row per student is kept for scores.csv and summary.json. The
folder gets a manifest (checksums of every file) last and then replaces `--out` in one rename, so
a killed run leaves either the complete earlier results or the complete new ones.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import gc
import hashlib
import io as _io
import itertools
import json
import os
import re
import secrets
import shutil
import stat
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from i2dl.errors import I2dlError, NotFoundError, OutputError, SubmissionError, UsageError
from i2dl.exam import EXAM_FILE, Exam, load_exam, spec_changes
from i2dl.export.answers import ANSWERS_FILE
from i2dl.grade import score
from i2dl.grade.lms import LmsGrader, sniff_layout
from i2dl.grade.manual import BLANK as BLANK_STATUS
from i2dl.grade.manual import MARKED, PENDING, Marks, auto_award_exact
from i2dl.grade.responses import NotResponses, read_responses, row_submission
from i2dl.grade.score import Grader, PartResult, Submission, SubmissionResult, read_submission
from i2dl.grade.variants import CohortGrader, id_key, make_grader
from i2dl.io import (
    display_path,
    file_kind,
    load_yaml,
    printable,
    slugify,
    spreadsheet_safe,
    sync_paths,
)
from i2dl.jsontext import indented_json
from i2dl.render import fmt_number

MAX_SUBMISSION_BYTES = 256 * 1024
SUFFIXES = (".yaml", ".yml", ".json", ".csv")
#: Keys read as the text written: YAML 1.1 would make an unquoted 012345 the number 5349.
TEXT_KEYS = frozenset({"exam", "student_id", "name"})
ID_CASES = ("insensitive", "sensitive")
SCORES_FILE, SUMMARY_FILE, FEEDBACK_DIR, MANIFEST_FILE = "scores.csv", "summary.json", "feedback", "manifest.json"
GRADEBOOK_FILE = "gradebook.csv"
#: The grading queue's (i2dl review): each student's free-text answers, and the TAs' marks store.
TEXTS_FILE, MARKS_FILE = "text-answers.jsonl", "marks.sqlite"
SPOOL_FILE = ".students.spool"  # summary.json's entries while grading; gone before the results are complete
#: The part of an edited item's key for a cohort's question, which has a part number per variant.
COHORT_PART = "*"
#: The gradebook's id column unless --id-column names the LMS's own.
GRADEBOOK_ID = "student_id"
MANIFEST_FORMAT = 1
#: What a results folder may hold; any other file means --out names some other folder.
_RESULT_ENTRIES = frozenset({SCORES_FILE, GRADEBOOK_FILE, SUMMARY_FILE, FEEDBACK_DIR, MANIFEST_FILE, TEXTS_FILE,
                             MARKS_FILE, *(MARKS_FILE + s for s in ("-wal", "-shm", "-journal"))})
_OLD_ATOMIC_TMP = re.compile(r"^\..*\.tmp$")  # temp files the earlier writer left inside results/

Observer = Callable[[int, int, "SubmissionResult | None"], None]


@dataclass(slots=True)
class StudentRow:
    """What scores.csv and summary.json need of one graded student (the full result is not kept).

    Compact on purpose (about 1 kB for a 45-part exam): scores as doubles, each blank's status as
    one character, so 10,000 students stay in a few MB.
    """

    student_id: str
    name: str
    file: str  # the answer file's name
    parts: array  # score per part, in exam order (doubles: the same floats, no boxing)
    problems: array  # score per problem, in exam order
    total: float
    max_points: float
    percent: float
    blanks: str  # the status of every blank in exam order, one code character each
    notes: tuple[str, ...]
    feedback: int = -1  # index of the pending feedback file in the new results folder
    texts: bytes = b""  # the student's line of text-answers.jsonl, until it is written
    # Only blanks with something to say: (blank index in exam order, letters chosen or None, named mistakes).
    picks: tuple[tuple[int, str | None, tuple[str, ...]], ...] = ()
    # Answers awaiting a TA: their points (not in total), and the indices of the parts and problems holding them.
    pending: float = 0.0
    pending_parts: tuple[int, ...] = ()
    pending_problems: tuple[int, ...] = ()
    # Its entry of summary.json, made where it was graded (in a worker, in parallel), until the parent
    # spools it; then where the spool holds it (offset, length).
    summary_text: str = ""
    summary_at: tuple[int, int] | None = None
    csv_text: str = ""  # its scores.csv line, made where it was graded too

    def statuses(self) -> list[str]:
        """The status of every blank, in exam order."""
        return [_STATUS_NAMES[c] for c in self.blanks]


_STATUS_CODES: dict[str, str] = {}  # status -> one character, assigned as statuses are first met
_STATUS_NAMES: dict[str, str] = {}


def _status_code(status: str) -> str:
    code = _STATUS_CODES.get(status)
    if code is None:
        code = _STATUS_CODES[status] = chr(0x100 + len(_STATUS_CODES))
        _STATUS_NAMES[code] = status
    return code


# The statuses grading gives, coded up front: a row made in a worker process means the same in the parent.
for _status in (score.CORRECT, score.FOLLOW, score.ALTERNATIVE, score.PARTIAL, score.WRONG, score.INVALID,
                score.MISSING, PENDING, BLANK_STATUS, MARKED):
    _status_code(_status)


@dataclass
class BatchResult:
    exam_id: str
    students: list[StudentRow]  # in grading (file) order
    failed: list[dict[str, str]]
    files: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    graded: list[SubmissionResult] = field(default_factory=list)  # full results: grade_files only
    notices: list[str] = field(default_factory=list)  # about the columns of responses CSVs
    exam: Exam | None = None
    # Specs changed on disk since the exam was generated (graded with the exam's own copies all the same).
    spec_changes: list[dict[str, Any]] = field(default_factory=list)
    # A cohort's roster students with no submission in the batch (id, name, variant), in roster order.
    missing: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing

    def pending(self) -> dict[str, Any]:
        """The answers still awaiting a TA's mark: how many, their points, how many students have any."""
        code = _STATUS_CODES.get(PENDING)
        answers = sum(r.blanks.count(code) for r in self.students) if code else 0
        return {"answers": answers, "points": round(sum(r.pending for r in self.students), 6),
                "students": sum(1 for r in self.students if r.pending_parts)}


@dataclass(slots=True)
class Entry:
    """A folder entry that looks like an answer file: a path to grade, or why it is not graded."""

    path: Path
    refused: I2dlError | None = None


# ---------------------------------------------------------------------------- finding answer files


def scan_submissions(target: Path) -> list[Entry]:
    """The answer-file entries of a folder (sorted), or the one file given; never opens a FIFO.

    Entries named like answer files that cannot be read (dangling or looping symlinks, FIFOs,
    folders, undecodable names) are kept as refusals, so they are reported rather than skipped.
    """
    try:
        st = target.stat()
    except FileNotFoundError:
        raise NotFoundError(f"no such folder or file '{display_path(target)}'",
                            fix="pass the folder of answer files") from None
    except OSError as exc:
        raise UsageError(f"cannot read '{display_path(target)}': {exc.strerror}",
                         fix="pass a folder of answer files or one answer file") from None
    if stat.S_ISREG(st.st_mode):
        return [_entry(target)]
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"'{display_path(target)}' is {file_kind(st.st_mode)}, not a folder or an answer file",
                         fix="pass a folder of answer files or one answer file")
    entries = []
    with os.scandir(target) as it:
        names = sorted(e.name for e in it)
    for name in names:
        if name.startswith(".") or name == EXAM_FILE or Path(name).suffix.lower() not in SUFFIXES:
            continue
        entries.append(_entry(target / name))
    return entries


def _entry(path: Path) -> Entry:
    """One candidate file, checked by stat only (a FIFO is never opened)."""
    where = display_path(path)
    if where != str(path):  # the name is not UTF-8 (e.g. a zip made on Windows)
        return Entry(path, SubmissionError("the file name is not UTF-8 text, so it cannot be written to the results",
                                           where=where, fix="rename the file using UTF-8 characters"))
    try:
        st = path.stat()
    except FileNotFoundError:
        return Entry(path, SubmissionError("is a symlink to a file that does not exist", where=where,
                                           fix="point the link at the answer file, or remove it"))
    except OSError as exc:
        reason = "is a symlink loop" if exc.errno == errno.ELOOP else f"cannot be read: {exc.strerror}"
        return Entry(path, SubmissionError(reason, where=where, fix="replace it with the answer file itself"))
    if not stat.S_ISREG(st.st_mode):
        return Entry(path, SubmissionError(f"is {file_kind(st.st_mode)}, not an answer file; it was not opened",
                                           where=where, fix="put the answer file itself in the folder"))
    return Entry(path)


def submission_files(folder: Path) -> list[Path]:
    """The answer files in `folder` that can be read (sorted); see scan_submissions for the others."""
    return [e.path for e in scan_submissions(Path(folder)) if e.refused is None]


def load_answer_data(path: Path) -> Any:
    """An answer file's data: size-capped, alias-safe YAML or JSON; ids and flow lists kept as written."""
    return load_yaml(path, max_bytes=MAX_SUBMISSION_BYTES, max_depth=20, max_nodes=20_000, error=SubmissionError,
                     text_keys=TEXT_KEYS, flow_text=True)


def load_submission(path: Path, grader: Grader | CohortGrader):
    """Read and check one answer file."""
    return read_submission(load_answer_data(path), display_path(path), grader.exam.exam_id)


def is_blank_form(data: Any) -> bool:
    """True for an answer file as `generate` wrote it: no student id and not one blank filled in."""
    if not isinstance(data, dict) or str(data.get("student_id") or "").strip() or str(data.get("name") or "").strip():
        return False
    stack = [data.get("answers")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not (isinstance(item, str) and not item.strip()):
            return False
    return True


# ---------------------------------------------------------------------------- grading


@dataclass(slots=True)
class Outcome:
    """What became of one submission: a result, a failure or a skip notice."""

    path: Path
    result: SubmissionResult | None = None
    failure: dict[str, str] | None = None
    skipped: dict[str, str] | None = None
    where: str = ""  # the file, or 'file row N' for a row of a responses CSV
    student_id: str | None = None  # the id read, if the submission could be read


class Skip(Exception):
    """An entry that is not a submission (the exam's blank form, a CSV that holds no responses)."""


@dataclass(slots=True)
class Item:
    """One submission to grade: where it comes from, and how to read it (raising I2dlError or Skip)."""

    path: Path
    where: str
    load: Callable[[], Submission]


def _raise(exc: BaseException) -> Callable[[], Submission]:
    def load() -> Submission:
        raise exc
    return load


def _answer_file(path: Path, where: str, exam_id: str) -> Callable[[], Submission]:
    """The loader of one answer file (read only when its turn comes: memory stays flat)."""
    def load() -> Submission:
        data = load_answer_data(path)
        if path.name == ANSWERS_FILE and is_blank_form(data):
            raise Skip("the exam's blank answer file (no student id, no answers): not a submission")
        return read_submission(data, where, exam_id)
    return load


def submission_items(entries: list[Entry], exam: Exam, *, id_column: str | None = None,
                     notices: list[str] | None = None) -> list[Item]:
    """Every submission in the entries: one per answer file, one per row of a responses CSV.

    Notices about a CSV's columns (ignored, missing, no exam column) are appended to `notices`.
    """
    items: list[Item] = []
    for entry in entries:
        where = display_path(entry.path)
        if entry.refused is not None:
            items.append(Item(entry.path, where, _raise(entry.refused)))
        elif entry.path.suffix.lower() == ".csv":
            items.extend(_csv_items(entry.path, where, exam, id_column, notices))
        else:
            items.append(Item(entry.path, where, _answer_file(entry.path, where, exam.exam_id)))
    return items


def _read_file(path: Path, where: str, read: Callable[[], Any]) -> tuple[Any, list[Item]]:
    """(what `read` returns, []) or (None, the one Item that fails this file): a file's problem never stops the batch."""
    try:
        return read(), []
    except NotResponses as exc:
        return None, [Item(path, where, _raise(Skip(f"{exc}")))]
    except I2dlError as exc:
        return None, [Item(path, where, _raise(exc))]
    except (Exception, RecursionError) as exc:  # a reader bug fails this file, not the batch
        return None, [Item(path, where, _raise(_Internal(_internal(where, exc)["error"])))]


def _csv_items(path: Path, where: str, exam: Exam, id_column: str | None,
               notices: list[str] | None) -> list[Item]:
    if sniff_layout(path) is not None:
        return _lms_items(path, where, exam, notices)
    resp, failed = _read_file(path, where, lambda: read_responses(path, exam, id_column=id_column))
    if failed:
        return failed
    if notices is not None:
        notices.extend(resp.notices)
    if not resp.rows:
        return [Item(path, where, _raise(Skip("a responses CSV with a header and no rows (the exam's template?): "
                                              "nothing to grade")))]
    return [Item(path, resp.row_where(row), partial(row_submission, resp, row, exam.exam_id)) for row in resp.rows]


def _lms_items(path: Path, where: str, exam: Exam, notices: list[str] | None) -> list[Item]:
    """The rows of a Moodle or Canvas report (i2dl.grade.lms), each graded against its student's variants."""
    from i2dl.grade.lms import read_lms_report

    report, failed = _read_file(path, where, lambda: read_lms_report(path, exam))
    if failed:
        return failed
    if notices is not None:
        notices.extend(report.notices)
    return [Item(path, rw, _raise(sub) if isinstance(sub, BaseException) else (lambda s=sub: s))
            for rw, sub in report.rows]


class _Internal(Exception):
    """A bug met while reading a submission, carried to its failure line."""


def grade_entries(entries: list[Entry], grader: Grader | CohortGrader, *, id_case: str = "insensitive",
                  id_column: str | None = None) -> Iterator[Outcome]:
    """Grade each entry's submissions in turn (see grade_items)."""
    return grade_items(submission_items(entries, grader.exam, id_column=id_column), grader, id_case=id_case)


def grade_items(items: list[Item], grader: Grader | CohortGrader, *,
               id_case: str = "insensitive") -> Iterator[Outcome]:
    """Grade each submission in turn; unreadable ones and colliding ids are failures, never fatal."""
    seen: dict[str, tuple[str, str]] = {}  # id key -> (where, id as graded)
    for item in items:
        yield _grade_item(item, grader, lambda sub, where: _check_id(sub.student_id, where, seen, id_case))


def _check_id(student_id: str, where: str, seen: dict[str, tuple[str, str]], id_case: str) -> None:
    """Record a submission's student id; SubmissionError when an earlier submission had it (or one like it)."""
    key = id_key(student_id, id_case)
    if key in seen:
        first, first_id = seen[key]
        if first_id == student_id:
            message = f"student id '{student_id}' was already graded from {first}"
        else:
            message = (f"student id '{student_id}' collides with '{first_id}', already graded from "
                       f"{first} (ids are compared ignoring case and Unicode composition)")
        raise SubmissionError(message, where=f"{where} student_id",
                              fix="give each student one submission; rename or remove the duplicate"
                                  + ("" if first_id == student_id or id_case == "sensitive" else
                                     ", or pass --id-case sensitive if these are two students"))
    seen[key] = (where, student_id)


def _grade_item(item: Item, grader: Grader | CohortGrader,
                check: Callable[[Submission, str], None] | None) -> Outcome:
    """One submission read, its id checked (`check` raises for a repeated id) and graded."""
    path, where = item.path, item.where
    sub = None
    try:
        try:
            sub = item.load()
        except Skip as skip:
            return Outcome(path, skipped={"file": where, "reason": str(skip)}, where=where)
        if check is not None:
            check(sub, where)
        result = grader.grade(sub)
    except I2dlError as exc:
        return Outcome(path, failure={"file": where, "error": str(exc)}, where=where, student_id=_sid(sub))
    except _Internal as exc:
        return Outcome(path, failure={"file": where, "error": str(exc)}, where=where, student_id=_sid(sub))
    except (Exception, RecursionError) as exc:  # a grading bug must not stop the batch either
        return Outcome(path, failure=_internal(where, exc), where=where, student_id=_sid(sub))
    return Outcome(path, result=result, where=where, student_id=sub.student_id)


def _sid(sub: Submission | None) -> str | None:
    return sub.student_id if sub is not None else None


def _internal(where: str, exc: BaseException) -> dict[str, str]:
    """The failure entry for a bug met while grading one file."""
    return {"file": where, "error": printable(f"{where}: internal error while grading ({type(exc).__name__}: {exc}); "
                                              "please report it with this file")}


def student_row(r: SubmissionResult, exam: Exam) -> StudentRow:
    """The small row kept of a result once its feedback is written."""
    probs = r.problem_scores()
    codes, held, held_problems, pending = [], [], set(), 0.0
    for i, p in enumerate(r.parts):
        d = _part_summary(p)
        codes.append(d["codes"])
        if d["pending"]:
            held.append(i)
            held_problems.add(p.number.split(".")[0])
            pending += d["pending_points"]
    return StudentRow(r.student_id, r.name, Path(r.file).name, array("d", (p.score for p in r.parts)),
                      array("d", (probs.get(str(p.number), 0.0) for p in exam.problems)), r.total, r.max_points,
                      r.percent, "".join(codes), tuple(r.notes),
                      picks=_picks(r, exam),
                      pending=round(pending, 6) if held else 0, pending_parts=tuple(held),  # as r.pending_points
                      pending_problems=tuple(i for i, p in enumerate(exam.problems) if str(p.number) in held_problems))


def _derived(p: PartResult) -> dict[str, Any]:
    if p.derived is None:
        p.derived = {}
    return p.derived


def _part_summary(p: PartResult) -> dict[str, Any]:
    """The part's status codes, whether it awaits a TA and its points that do (made once per result:
    memoised results are shared)."""
    d = _derived(p)
    if "codes" not in d:
        d["codes"] = "".join(_status_code(b.status) for b in p.blanks)
        d["pending"] = p.pending
        d["pending_points"] = p.pending_points
    return d


def _picks(r: SubmissionResult, exam: Exam) -> tuple[tuple[int, str | None, tuple[str, ...]], ...]:
    """For item statistics: the letters read in each choice blank, the named mistakes of each blank.

    A named mistake is an alternative credited below full marks, or a chosen wrong option of a
    multiple-choice part that names the mistake it comes from (the student's own variant's options).
    """
    options = None
    out, i = [], 0
    for p in r.parts:
        d = _derived(p)
        picks = d.get("picks")
        if picks is None:
            if options is None:
                options = _options(_variant_of(exam, r.student_id))
            picks = d["picks"] = _part_picks(p, options)
        out.extend(_PICKS.setdefault((i + k, c, m), (i + k, c, m)) for k, c, m in picks)
        i += len(p.blanks)
    return tuple(out)


def _per_exam(exam: Exam, name: str, make: Callable[[Exam], Any]) -> Any:
    """make(exam), made once per exam or variant and kept on it: a batch asks for it for every student."""
    found = exam.__dict__.get(name, _UNSET)
    if found is _UNSET:
        found = exam.__dict__[name] = make(exam)
    return found


_UNSET = object()


def _options(exam: Exam) -> dict[str, Any]:
    """The options of each multiple-choice part, by part number."""
    return _per_exam(exam, "_options",
                     lambda e: {part.number: part.options for _, part in e.parts() if part.options})


def _part_picks(p: PartResult, options: dict[str, Any]) -> tuple[tuple[int, str | None, tuple[str, ...]], ...]:
    """(blank index in the part, letters chosen or None, named mistakes) of the part's blanks with something to say."""
    out = []
    for k, b in enumerate(p.blanks):
        chosen = None
        mistakes: tuple[str, ...] = (b.alternative,) if b.alternative and b.credit < 1.0 else ()
        if isinstance(b.value, frozenset) and b.status not in ("invalid", "missing"):
            chosen = "".join(sorted(b.value))
            mistakes += tuple(o.mistake for o in options.get(p.number, ())
                              if o.letter in b.value and not o.correct and o.mistake)
        if chosen is not None or mistakes:
            out.append((k, chosen, mistakes))
    return tuple(out)


# Shared across students: 10,000 rows hold a few distinct texts, not one copy each.
_PICKS: dict[tuple[int, str | None, tuple[str, ...]], tuple[int, str | None, tuple[str, ...]]] = {}


def _variant_of(exam: Exam, student_id: str) -> Exam:
    """The variant a cohort's student was graded against (the exam itself for a single exam)."""
    if not exam.is_cohort:
        return exam
    labels = _per_exam(exam, "_variant_by_id", _variant_labels)
    label = labels.get(student_id) or labels.get(id_key(student_id, "insensitive"))
    return exam.variants.get(label, exam) if label else exam


def _variant_labels(exam: Exam) -> dict[str, str]:
    """A cohort student's variant by id, as written and in its case-insensitive form."""
    labels: dict[str, str] = {}
    for entry in exam.roster:
        labels[entry["student_id"]] = entry["variant"]
        labels.setdefault(id_key(entry["student_id"], "insensitive"), entry["variant"])
    return labels


def grade_files(paths: list[Path], exam: Exam, *, engine_name: str | None = None, library=None,
                id_case: str = "insensitive", id_column: str | None = None, marks: Marks | None = None,
                auto_award: bool | None = None) -> BatchResult:
    """Grade the files and keep every full result (for callers that inspect them; nothing is written).

    Follow-through uses each problem's own spec from the exam; `library` (a spec Library, the shipped
    specs by default) is only compared with those copies, and read for exams older than format 3.
    `marks` are the TAs' marks of text answers (grade.manual); `auto_award` defaults to the course's setting.
    """
    grader = make_grader(exam, engine_name, library, id_case, marks=marks, auto_award=_auto(auto_award))
    batch = BatchResult(exam.exam_id, [], [], exam=exam, spec_changes=spec_changes(exam, library))
    items = submission_items([_entry(Path(p)) for p in paths], exam, id_column=id_column, notices=batch.notices)
    for outcome in grade_items(items, grader, id_case=id_case):
        _collect(batch, outcome, exam)
        if outcome.result is not None:
            batch.graded.append(outcome.result)
    batch.missing = _missing(grader, batch)
    return batch


def _auto(auto_award: bool | None) -> bool:
    """Auto-award as asked, else as the course's [review] auto_award_exact says."""
    return auto_award_exact() if auto_award is None else auto_award


def _missing(grader: Grader | CohortGrader, batch: BatchResult) -> list[dict[str, str]]:
    """A cohort's roster students without a graded submission (none for a single exam)."""
    grader = getattr(grader, "base", grader)  # an LMS report's grader wraps the exam's own
    return grader.missing([r.student_id for r in batch.students]) if isinstance(grader, CohortGrader) else []


def _collect(batch: BatchResult, outcome: Outcome, exam: Exam) -> StudentRow | None:
    """Add an outcome's failure, notice or row to `batch`; the row, if it was graded."""
    if outcome.failure is not None:
        batch.failed.append(outcome.failure)
    elif outcome.skipped is not None:
        batch.skipped.append(outcome.skipped)
    elif outcome.result is not None:
        row = student_row(outcome.result, exam)
        batch.students.append(row)
        return row
    return None


def grade_folder(folder: Path | str, *, exam_dir: Path | str = "exam", out: Path | str | None = "results",
                 engine_name: str | None = None, library=None, id_case: str = "insensitive",
                 observe: Observer | None = None, accept_modified: bool = False,
                 id_column: str | None = None, marks: Marks | None = None,
                 auto_award: bool | None = None, jobs: int | None = 1,
                 item_points: Mapping[tuple[str, str, str, str], float] | None = None) -> BatchResult:
    """Grade every answer file and responses-CSV row in `folder` against the exam in `exam_dir`; results
    replace `out` whole.

    `jobs` worker processes grade (None: one per core); the results are the same, byte for byte, as one's.
    `observe(done, total, result)` is called after each submission (result None if it was not graded, or
    was graded in a worker process).
    `id_column` is the LMS's name of the student id column: read from responses CSVs besides
    student_id, and the first column of gradebook.csv. `marks` are the TAs' marks of text answers by
    (student id, part number, blank name); `auto_award` (default: the course's setting) scores an answer
    identical to the model answer without a TA. `item_points` are checklist items whose points a TA
    edited, by (part number, blank name, part id, item id): every mark with the item is scored with them.
    """
    if id_case not in ID_CASES:
        raise UsageError(f"unknown id case policy '{id_case}'", fix="use --id-case insensitive or sensitive")
    exam = load_exam(exam_dir, accept_modified=accept_modified)
    if item_points:
        edit_item_points(exam, item_points)
    folder = Path(folder)
    entries = scan_submissions(folder)
    if not entries:
        raise _no_answer_files(folder)
    writer = None
    if out is not None:
        writer = ResultsFolder(Path(out), protect=[folder, Path(exam_dir)], id_column=id_column)
        writer.open()  # the trial write: a read-only or full --out fails before any grading
    with _fewer_collections():  # the exam and the graders' caches live through the batch
        try:
            batch = BatchResult(exam.exam_id, [], [], exam=exam, spec_changes=spec_changes(exam, library))
            grader = make_grader(exam, engine_name, library, id_case, marks=marks, auto_award=_auto(auto_award))
            if any(e.path.suffix.lower() == ".csv" and sniff_layout(e.path) for e in entries):
                grader = LmsGrader(grader, engine_name, library)  # LMS rows: each student's own variants
            items = submission_items(entries, exam, id_column=id_column, notices=batch.notices)
            feedback_dir = writer.tmp / FEEDBACK_DIR if writer is not None else None
            for done, (outcome, row, text) in enumerate(_graded(items, grader, exam, id_case, jobs, feedback_dir), 1):
                if row is not None:
                    batch.students.append(row)
                else:
                    _collect(batch, outcome, exam)
                if row is not None and writer is not None:
                    row.feedback = writer.add_feedback(text) if isinstance(text, bytes) else writer.adopt(text)
                    writer.add_texts(row.texts, exam)
                    row.summary_at = writer.add_summary(row.summary_text)
                if row is not None:
                    row.texts, row.summary_text = b"", ""  # written (or not wanted): not kept for every student
                if observe is not None:
                    observe(done, len(items), outcome.result if row is not None else None)
            if not batch.students and not batch.failed:
                raise _no_answer_files(folder)
            batch.missing = _missing(grader, batch)
            if isinstance(grader, LmsGrader):
                batch.notices.extend(grader.notices(sorted(batch.students, key=lambda r: r.student_id)))
            if writer is not None:
                batch.files = writer.commit(batch, exam)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
    return batch


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """What exists when the batch starts (the exam, its compiled specs) left out of cyclic garbage collection.

    Each file's parse makes thousands of objects, so full collections come every few hundred files and
    would walk the exam and the specs each time (in forked workers they would also copy their pages).
    What survives a full collection while grading (the memos, the rows) is frozen as well, so the next
    one walks only what came since: all of it is alive, and the young generations are empty then.
    """
    def after_full(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.freeze()
    gc.callbacks.append(after_full)
    try:
        yield
    finally:
        gc.callbacks.remove(after_full)
        gc.unfreeze()


def _prepared(outcome: Outcome, exam: Exam) -> tuple[Outcome, StudentRow | None, bytes]:
    """An outcome with its row and feedback file made (a result that cannot be written becomes a failure)."""
    r = outcome.result
    if r is None:
        return outcome, None, b""
    try:
        text = feedback_markdown(r, exam).encode("utf-8")
        # The texts of its CSV rows (the numbers are the project's own and always encode).
        spreadsheet_safe("\0".join((r.student_id, r.name, Path(r.file).name))).encode("utf-8")
    except (Exception, RecursionError) as exc:  # one unwritable result must not sink the batch
        return Outcome(outcome.path, failure=_internal(outcome.where, exc), where=outcome.where), None, b""
    row = student_row(r, exam)
    row.summary_text = student_json(row, exam)
    row.csv_text = csv_row_text(row, _hand_marked(exam))
    if _has_texts(exam):
        row.texts = text_line(r, exam)
    return outcome, row, text


def student_json(row: StudentRow, exam: Exam) -> str:
    """The row's entry of summary.json's student list, as summary_chunks places it: the text of
    _student_data as json.dumps writes it, each part's blank statuses encoded once per part and codes."""
    numbers, names = _per_exam(exam, "_summary_names", lambda e: (part_numbers(e), _blank_names(e)))
    text = _json_indented(_student_data(row, numbers, names, blanks=_BLANKS_MARK), "\n  ")
    head, _, tail = text.partition(_BLANKS_TEXT)  # the first: no student's text can hold a NUL
    return head + _blanks_json(row, exam, numbers, names) + tail


_BLANKS_MARK = "\0i2dl: the blank statuses\0"
_BLANKS_TEXT = json.dumps(_BLANKS_MARK)


def _blanks_json(row: StudentRow, exam: Exam, numbers: list[str], names: list[list[str]]) -> str:
    """The "blanks" value of a student entry, its part entries kept per part and status codes."""
    if not numbers:
        return "{}"
    offsets = _per_exam(exam, "_blank_offsets", lambda e: list(itertools.accumulate((len(n) for n in names),
                                                                                    initial=0)))
    made = _per_exam(exam, "_blanks_json", lambda e: {})
    pieces = []
    for i, n in enumerate(numbers):
        codes = row.blanks[offsets[i]:offsets[i + 1]]
        text = made.get((i, codes))
        if text is None:
            value = {name: _STATUS_NAMES[c] for name, c in zip(names[i], codes, strict=True)}
            text = made[(i, codes)] = "\n    " + json.dumps(n) + ": " + indented_json(value, indent="    ")
        pieces.append(text)
    return "{" + ",".join(pieces) + "\n   }"


def _hand_marked(exam: Exam) -> bool:
    return _per_exam(exam, "_hand_marked", hand_marked)


def _has_texts(exam: Exam) -> bool:
    """Whether the exam has blanks graded by hand."""
    return bool(_by_hand_set(exam))


def _by_hand_set(exam: Exam) -> set[tuple[str, str]]:
    return _per_exam(exam, "_by_hand_blanks", lambda e: set(by_hand_blanks(e)))


#: Submissions per task sent to a worker, and tasks in flight per worker (what bounds the memory held).
JOB_CHUNK = 16
JOB_WINDOW = 4


def default_jobs() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _graded(items: list[Item], grader: Grader | CohortGrader, exam: Exam, id_case: str,
            jobs: int | None, feedback_dir: Path | None = None) -> Iterator[tuple[Outcome, StudentRow | None, Any]]:
    """(outcome, row, feedback) of every item in order: graded here, or by forked workers for a large batch."""
    jobs = default_jobs() if jobs is None else jobs
    import multiprocessing

    if jobs > 1 and len(items) >= 2 * JOB_CHUNK and "fork" in multiprocessing.get_all_start_methods():
        yield from _graded_in_workers(items, grader, exam, id_case, jobs, feedback_dir)
        return
    for outcome in grade_items(items, grader, id_case=id_case):
        yield _prepared(outcome, exam)


_WORK: tuple[list[Item], Any, Exam, Path | None] | None = None  # what forked workers grade (inherited, never pickled)


@dataclass(frozen=True, slots=True)
class Written:
    """A feedback file a worker wrote into the new results folder: its name there and its sha256."""

    name: str
    digest: str
    error: OSError | None = None


def _worker_start(parent: int | None = None) -> None:
    if "torch" in sys.modules:  # one thread per worker: the workers are the parallelism
        sys.modules["torch"].set_num_threads(1)
    _die_with_parent(parent)


def _die_with_parent(parent: int | None) -> None:
    """On Linux, end this worker when the grading process dies (a killed `grade` leaves no workers blocked on
    a pipe that only their siblings still hold open)."""
    if not sys.platform.startswith("linux") or parent is None:
        return
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _grade_chunk(bounds: tuple[int, int]) -> list[tuple[Outcome, StudentRow | None, Any]]:
    """A worker's share: items start..stop graded, without the id check (the parent does it, in order).

    With a results folder, the worker writes each feedback file itself (under a pending name the item's
    index makes unique) and sends back its name and checksum: the parent only renames it at commit.
    """
    assert _WORK is not None
    items, grader, exam, feedback_dir = _WORK
    out = []
    for i in range(*bounds):
        outcome, row, text = _prepared(_grade_item(items[i], grader, None), exam)
        outcome.result = None  # the row and the feedback file are all the parent needs
        if row is not None and feedback_dir is not None:
            name = f".w{i}.pending"
            try:
                text = Written(name, _write_file(feedback_dir / name, [text]))
            except OSError as exc:
                text = Written(name, "", exc)
        out.append((outcome, row, text))
    return out


def _warm(grader: Grader | CohortGrader) -> None:
    """Compile the exam's specs and evaluate their keys before forking, so no worker does it again."""
    if not isinstance(grader, Grader):
        return
    for prob in grader.exam.problems:
        if prob.kind != "spec":
            continue
        try:
            compiled = grader.compiled(prob)
            grader._key_env(prob, compiled.graph)
            grader._alias_target(prob, "")
        except I2dlError:
            continue  # grading says so, file by file


def _graded_in_workers(items: list[Item], grader: Grader | CohortGrader, exam: Exam, id_case: str,
                       jobs: int, feedback_dir: Path | None = None) -> Iterator[tuple[Outcome, StudentRow | None, Any]]:
    """Items graded by `jobs` forked workers, yielded in order; at most JOB_WINDOW chunks per worker in flight."""
    global _WORK
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    from i2dl.engine import get_engine

    get_engine(grader.engine_name)  # imported once here, not once in every worker (torch takes seconds)
    _warm(grader)
    seen: dict[str, tuple[str, str]] = {}
    bounds = iter([(i, min(i + JOB_CHUNK, len(items))) for i in range(0, len(items), JOB_CHUNK)])
    _WORK = (items, grader, exam, feedback_dir)
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_worker_start, initargs=(os.getpid(),)) as pool:
            pending = deque(pool.submit(_grade_chunk, b) for b in itertools.islice(bounds, jobs * JOB_WINDOW))
            while pending:
                done = pending.popleft().result()
                nxt = next(bounds, None)
                if nxt is not None:
                    pending.append(pool.submit(_grade_chunk, nxt))
                for outcome, row, text in done:
                    if outcome.student_id is not None:
                        try:  # a repeated id fails here, in file order, exactly as grading in turn does
                            _check_id(outcome.student_id, outcome.where, seen, id_case)
                        except SubmissionError as exc:
                            outcome = Outcome(outcome.path, failure={"file": outcome.where, "error": str(exc)},
                                              where=outcome.where)
                            if isinstance(text, Written) and feedback_dir is not None:
                                with contextlib.suppress(OSError):  # not graded after all: no feedback file
                                    os.unlink(feedback_dir / text.name)
                            row, text = None, b""
                    yield outcome, row, text
    finally:
        _WORK = None


def _no_answer_files(folder: Path) -> NotFoundError:
    """The error for a folder with nothing to grade."""
    return NotFoundError(f"no answer files to grade in '{display_path(folder)}' (looked for "
                         f"{', '.join('*' + s for s in SUFFIXES)}; the exam's blank answers.yaml does not count)",
                         fix="pass the folder that holds the students' answer files")


# ---------------------------------------------------------------------------- outputs


def part_numbers(exam: Exam) -> list[str]:
    return [part.number for _, part in exam.parts()]


def _sorted(batch: BatchResult) -> list[StudentRow]:
    return sorted(batch.students, key=lambda r: r.student_id)


#: The cell of a part or problem whose answers await a TA's mark.
PENDING_CELL = "pending"


def hand_marked(exam: Exam) -> bool:
    """The exam has answers a TA marks (text blanks): its CSVs then carry a `pending` column."""
    return any(b.kind == "text" for _, part in exam.parts() for b in part.blanks)


def _cells(scores: array, held: tuple[int, ...]) -> list[str]:
    """Scores as CSV cells, `pending` at the indices still awaiting a TA."""
    return [PENDING_CELL if i in held else fmt_number(s, 3) for i, s in enumerate(scores)]


def csv_row_text(row: StudentRow, with_pending: bool = False) -> str:
    """One student's scores.csv line (its pending points before the total where the exam has hand-marked answers)."""
    buf = _io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        # Ids, names and file names come from students: neutralised; the numbers are the project's.
        [spreadsheet_safe(row.student_id), spreadsheet_safe(row.name), spreadsheet_safe(row.file)]
        + _cells(row.parts, row.pending_parts) + _cells(row.problems, row.pending_problems)
        + ([fmt_number(row.pending, 3)] if with_pending else [])
        + [fmt_number(row.total, 3), fmt_number(row.max_points), fmt_number(row.percent, 1)])
    return buf.getvalue()


def scores_header(exam: Exam) -> str:
    """The header and (max) lines of scores.csv."""
    problems = [str(p.number) for p in exam.problems]
    more = hand_marked(exam)
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "name", "file"] + part_numbers(exam) + [f"problem {p}" for p in problems]
               + (["pending"] if more else []) + ["total", "max", "percent"])
    w.writerow(["(max)", "", ""] + [fmt_number(part.points) for _, part in exam.parts()]
               + [fmt_number(p.points) for p in exam.problems] + ([""] if more else [])
               + [fmt_number(exam.points), fmt_number(exam.points), "100"])
    return buf.getvalue()


def gradebook_header(exam: Exam, id_column: str | None = None, with_pending: bool = False) -> str:
    """gradebook.csv's one header line: the id column, total, one column per problem (and pending points)."""
    buf = _io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [spreadsheet_safe(id_column or GRADEBOOK_ID), "total"] + [f"problem {p.number}" for p in exam.problems]
        + (["pending"] if with_pending else []))
    return buf.getvalue()


def gradebook_row_text(row: StudentRow, with_pending: bool = False) -> str:
    """One student's gradebook.csv line: id, total so far, points per problem (`pending` where a TA has yet to mark)."""
    buf = _io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [spreadsheet_safe(row.student_id), fmt_number(row.total, 3)] + _cells(row.problems, row.pending_problems)
        + ([fmt_number(row.pending, 3)] if with_pending else []))
    return buf.getvalue()


def any_pending(rows: Iterable[StudentRow]) -> bool:
    """Some answer of the batch awaits a TA: the gradebook then says how many points are still to come."""
    return any(r.pending_parts for r in rows)


def gradebook_csv(batch: BatchResult, exam: Exam, id_column: str | None = None) -> str:
    """The gradebook an LMS imports (Moodle, Canvas): a row per graded student, sorted by id.

    While answers await a TA it has a last `pending` column; once all are marked it has the plain shape again.
    """
    more = any_pending(batch.students)
    return gradebook_header(exam, id_column, more) + "".join(gradebook_row_text(r, more) for r in _sorted(batch))


def scores_csv(batch: BatchResult, exam: Exam) -> str:
    """A row per student, a column per part, per problem and the total (gradebook-ready)."""
    more = hand_marked(exam)
    return scores_header(exam) + "".join(csv_row_text(r, more) for r in _sorted(batch))


def feedback_markdown(r: SubmissionResult, exam: Exam) -> str:
    """One student's feedback: every part, the answer read, the expected answer, points and why."""
    pending = r.pending_points
    out = [f"# Feedback: {r.student_id}" + (f" ({r.name})" if r.name else ""), "",
           f"Exam `{exam.exam_id}` · {fmt_number(r.total, 3)} / {fmt_number(r.max_points)} points "
           f"({fmt_number(r.percent, 1)}%)" + (f" · {fmt_number(pending, 3)} points still to be graded by hand"
                                              if pending else ""), ""]
    for note in r.notes:
        out.append(f"- note: {note}")
    short = _short_blanks(exam)
    for p in r.parts:
        d = _derived(p)
        text = d.get("markdown")
        if text is None or d.get("markdown_of") is not short:  # made once per result and exam
            text = d["markdown"] = _part_markdown(p, short)
            d["markdown_of"] = short
        out.append(text)
    return "\n".join(out).rstrip() + "\n"


def _short_blanks(exam: Exam) -> dict[str, Any]:
    """The blank of each short-answer part (one blank with a model answer), by part number; once per exam."""
    return _per_exam(exam, "_short_blanks", lambda e: {part.number: part.blanks[0] for _, part in e.parts()
                                                       if len(part.blanks) == 1 and part.blanks[0].model_answer is not None})


def _part_markdown(p: PartResult, short: dict[str, Any]) -> str:
    """A part's section of the feedback file (after the line before its heading)."""
    score = "pending" if p.pending and not p.score else fmt_number(p.score, 3)
    out = ["", f"## {p.number}: {score} / {fmt_number(p.points)} points", ""]
    if p.number in short and p.blanks[0].status in (MARKED, PENDING, BLANK_STATUS):
        return "\n".join(out + _short_feedback(p.blanks[0], short[p.number]))
    for b in p.blanks:
        line = f"- **{b.label}**: {b.status}"
        line += f"; you wrote {_code(b.read)}" if b.read else ""
        line += f"; expected {_code(b.expected)}"
        if b.credit and b.credit < 1:
            line += f" (credit {fmt_number(b.credit, 3)})"
        if b.feedback:
            line += f". {b.feedback}"
        out.append(line)
    for f in p.feedback:
        out.append(f"- {f}")
    return "\n".join(out)


def _short_feedback(b: Any, key: Any) -> list[str]:
    """A short answer's feedback: what was written, the items a TA applied (or that it awaits one), the model answer."""
    out = [f"- **{b.label}**: {b.status}" + (f"; you wrote {_code(b.read)}" if b.read else "")]
    if b.status == MARKED:
        out += [f"  - {line}" for line in b.applied]
    elif b.feedback:
        out.append(f"  - {b.feedback}")
    model = " ".join((key.model_answer or "").split())
    out.append(f"- model answer: {model}")
    return out


def _code(text: str) -> str:
    """`text` as a Markdown code span that a backtick in what the student wrote cannot break."""
    text = " ".join(text.split())  # a line break would end the list item
    if "`" not in text:  # the common case: one backtick each side
        return f"`{text}`"
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def batch_stats(batch: BatchResult, exam: Exam) -> dict[str, Any]:
    """Mean, distribution and mean per part, summed in grading order (so the floats never change)."""
    totals = [r.total for r in batch.students]
    per_part = {}
    for i, n in enumerate(part_numbers(exam)):
        scores = [r.parts[i] for r in batch.students]
        per_part[n] = round(sum(scores) / len(scores), 4) if scores else None
    return {"mean": round(sum(totals) / len(totals), 4) if totals else None,
            "distribution": distribution(totals, exam.points), "mean_per_part": per_part}


def summary_data(batch: BatchResult, exam: Exam, students: Any = None) -> dict[str, Any]:
    """Machine-readable summary: counts, mean, distribution, mean per part, failures.

    `students` stands in for the list of students (summary_chunks streams them in its place).
    """
    stats = batch_stats(batch, exam)
    if students is None:
        numbers, names = part_numbers(exam), _blank_names(exam)
        students = [_student_data(r, numbers, names) for r in _sorted(batch)]
    data = {
        "exam_id": exam.exam_id, "max_points": exam.points, "graded": len(batch.students),
        "failed": len(batch.failed), "mean": stats["mean"],
        "distribution": stats["distribution"], "mean_per_part": stats["mean_per_part"],
        "items": items_data(exam),
        "students": students,
        "failures": batch.failed,
        "exam_integrity": exam.integrity,  # verified, or modified and accepted with --accept-modified
        "spec_changes": batch.spec_changes,  # specs edited since generation; the exam's copies were used
    }
    if batch.skipped:
        data["skipped"] = batch.skipped
    if exam.is_cohort:  # who was on the roster but handed nothing in
        data["roster"] = len(exam.roster)
        data["missing"] = batch.missing
    if batch.notices:
        data["notices"] = batch.notices
    if hand_marked(exam):  # answers awaiting a TA: not in the totals yet
        data["pending"] = batch.pending()
    return data


_STUDENTS_MARK = "i2dl: the students are written here"


def summary_chunks(batch: BatchResult, exam: Exam,
                   spooled: Callable[[tuple[int, int]], str] | None = None) -> Iterator[str]:
    """summary.json as json.dumps(summary_data(...), indent=1) writes it, one student at a time.

    The whole document as one dumps costs about 45 kB of transient objects per student (600 MB
    for 10,000); each student's entry is dumped on its own and indented to its place instead.
    `spooled(row.summary_at)` reads back an entry made while grading (see ResultsFolder.add_summary).
    """
    text = json.dumps(summary_data(batch, exam, students=_STUDENTS_MARK), indent=1, default=str) + "\n"
    before, _, after = text.partition(json.dumps(_STUDENTS_MARK))  # the first one: no user text precedes it
    rows = _sorted(batch)
    if not rows:
        yield before + "[]" + after
        return
    yield before + "["
    numbers, names = part_numbers(exam), _blank_names(exam)
    for i, r in enumerate(rows):
        text = (spooled(r.summary_at) if spooled is not None and r.summary_at is not None else
                r.summary_text or _json_indented(_student_data(r, numbers, names), "\n  "))
        yield ("," if i else "") + "\n  " + text
    yield "\n ]" + after


def _json_indented(value: Any, pad: str) -> str:
    """json.dumps(value, indent=1, default=str) with every line after the first starting with `pad`
    (a newline and the indentation of the value's place in summary.json)."""
    return indented_json(value, indent=pad[1:], default=str)


def _blank_names(exam: Exam) -> list[list[str]]:
    return [[b.name for b in part.blanks] for _, part in exam.parts()]


def _student_data(r: StudentRow, numbers: list[str], names: list[list[str]], blanks: Any = None) -> dict[str, Any]:
    """One student's totals, score per part and status per blank (the prose lives in feedback/);
    `blanks` stands in for the statuses (student_json places their text there)."""
    if blanks is None:
        statuses = iter(r.statuses())
        blanks = {n: {name: next(statuses) for name in bn} for n, bn in zip(numbers, names, strict=True)}
    data = {"student_id": r.student_id, "file": r.file, "total": r.total,
            "percent": round(r.percent, 2),
            "parts": dict(zip(numbers, r.parts, strict=True)),
            "blanks": blanks,
            "notes": list(r.notes)}
    if r.pending_parts:  # points awaiting a TA, and the parts that hold them
        data["pending"] = r.pending
        data["pending_parts"] = [numbers[i] for i in r.pending_parts]
    if r.picks:  # only what there is: most blanks hold neither a choice nor a named mistake
        flat = [(n, name) for n, bn in zip(numbers, names, strict=True) for name in bn]
        choices: dict[str, dict[str, str]] = {}
        mistakes: dict[str, dict[str, list[str]]] = {}
        for i, chosen, named in r.picks:
            n, name = flat[i]
            if chosen is not None:
                choices.setdefault(n, {})[name] = chosen
            if named:
                mistakes.setdefault(n, {})[name] = list(named)
        if choices:
            data["choices"] = choices
        if mistakes:
            data["mistakes"] = mistakes
    return data


def items_data(exam: Exam) -> dict[str, dict[str, Any]]:
    """Each part as item statistics read it: problem, points, kind, blanks, and an MCQ's options.

    A cohort's variants draw and shuffle their own questions, so its options are not listed.
    """
    out = {}
    for prob, part in exam.parts():
        item: dict[str, Any] = {"problem": prob.number, "points": part.points, "kind": prob.kind,
                                # a cohort's multiple-choice questions differ from sheet to sheet
                                "id": prob.spec_id if prob.kind != "mcq" else "mcq" if exam.is_cohort else part.id,
                                "topic": prob.topic,
                                "blanks": [{"name": b.name, "kind": b.kind} for b in part.blanks]}
        if part.options and not exam.is_cohort:
            item["options"] = [{"letter": o.letter, "correct": o.correct, "mistake": o.mistake}
                               for o in part.options]
        out[part.number] = item
    return out


def distribution(totals: list[float], max_points: float, bins: int = 10) -> list[dict[str, Any]]:
    """Counts of totals in `bins` equal-width bands of the percentage."""
    out = []
    for i in range(bins):
        lo, hi = 100 * i / bins, 100 * (i + 1) / bins
        n = sum(1 for t in totals if lo <= (100 * t / max_points if max_points else 0) < hi
                or (i == bins - 1 and max_points and 100 * t / max_points == 100))
        out.append({"from": lo, "to": hi, "count": n})
    return out


def feedback_names(rows: list[StudentRow]) -> list[str]:
    """Each sorted row's feedback file name: its id made file-safe, numbered when two ids map to one name."""
    used: set[str] = set()
    names = []
    for r in rows:
        # Ids that differ only in unsafe characters or in case (one file on macOS and Windows)
        # would map to one file: number the later ones.
        name = slugify(r.student_id)
        stem, k = name, 2
        while name.lower() in used:
            name, k = f"{stem}-{k}", k + 1
        used.add(name.lower())
        names.append(name + ".md")
    return names


# ---------------------------------------------------------------------------- the results folder

_LEFTOVER = r"^\.{name}\.i2dl-(\d+)-[0-9a-f]{{8}}\.(tmp|old)$"


def _write_file(path: Path, chunks: Iterable[bytes]) -> str:
    """Create `path` from `chunks` and return its sha256 (the one place results are written; fsync
    comes before the swap)."""
    digest = hashlib.sha256()
    with open(path, "xb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


class _FeedbackWriter:
    """A thread that creates feedback files (and takes their sha256) in the order given, while the caller
    grades on: creating a file is time in the kernel, which then overlaps the grading. After the first
    failed write it writes nothing more and keeps the error."""

    #: Files waiting at most (each a few kilobytes): grading waits for the disk beyond that.
    QUEUE = 256

    def __init__(self, folder: Path):
        import queue
        import threading

        self.folder = folder
        self.error: BaseException | None = None
        self.digests: dict[int, str] = {}
        self._queue: queue.Queue = queue.Queue(self.QUEUE)
        self._thread = threading.Thread(target=self._run, name="i2dl-feedback-writer", daemon=True)
        self._thread.start()

    def put(self, index: int, name: str, data: bytes) -> None:
        self._queue.put((index, name, data))

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            index, name, data = item
            if self.error is None:
                try:
                    self.digests[index] = _write_file(self.folder / name, [data])
                except BaseException as exc:  # noqa: BLE001 - kept for the caller; the thread drains on
                    self.error = exc

    def raise_error(self, folder: ResultsFolder) -> None:
        """The first failed write, raised in the caller: a disk's error as an OutputError, a bug as itself."""
        if isinstance(self.error, OSError):
            raise folder._error("cannot write a feedback file", self.error) from None
        if self.error is not None:
            raise self.error

    def close(self) -> dict[int, str]:
        """Every file given written (or the error kept); the digests by index."""
        self._queue.put(None)
        self._thread.join()
        return self.digests


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    """True if a process with this id runs (or may run: another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest if it is complete and every checksum matches, else None."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
        files = manifest["files"]
        for rel, digest in files.items():
            if hashlib.sha256((folder / rel).read_bytes()).hexdigest() != digest:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest if manifest.get("complete") is True else None


class ResultsFolder:
    """A new results folder beside `out`, filled while grading and swapped in whole by commit()."""

    def __init__(self, out: Path, *, protect: Sequence[Path] = (), id_column: str | None = None):
        self.given = Path(out)
        self.id_column = id_column
        out = Path(os.path.abspath(out))
        self.out = out.resolve() if out.is_symlink() else out
        self.protect = [Path(p).resolve() for p in protect]
        self.tmp = self.out.parent / f".{self.out.name}.i2dl-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        self.pending: list[tuple[str, str]] = []  # (pending file name in feedback/, sha256) by feedback index
        self.where = display_path(self.given)
        self._texts: Any = None  # text-answers.jsonl, open while grading an exam with by-hand blanks
        self._spool: Any = None  # the students' summary.json entries in grading order, until commit
        self._writer: _FeedbackWriter | None = None  # writes add_feedback's files while grading goes on

    def _error(self, what: str, exc: OSError | None = None, fix: str | None = None) -> OutputError:
        detail = f": {exc.strerror or exc}" if exc is not None else ""
        return OutputError(f"{what}{detail}", where=self.where,
                           fix=fix or "free disk space, fix the permissions or choose another --out; "
                                      "earlier results there are unchanged")

    def open(self) -> None:
        """Check that --out can be replaced and written (a trial write), then make the new folder."""
        out = self.out
        for p in self.protect:
            if p == out or out in p.parents:
                raise self._error(f"--out would replace '{display_path(p)}', which grading reads", None,
                                  "choose a separate folder for the results, e.g. --out results")
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise self._error("--out names a file, not a folder", None,
                                  "pass a folder for the results, or move the file away")
            try:
                foreign = sorted(n for n in os.listdir(out)
                                 if n not in _RESULT_ENTRIES and not _OLD_ATOMIC_TMP.match(n))
            except OSError as exc:
                raise self._error("cannot read the results folder", exc) from None
            if foreign:
                shown = ", ".join(printable(n) for n in foreign[:5]) + (", ..." if len(foreign) > 5 else "")
                raise self._error(f"--out holds files that are not results ({shown}); grading replaces the "
                                  "whole folder", None, "choose a new or empty folder, or move those files away")
            if not os.access(out, os.W_OK | os.X_OK):
                raise self._error("the results folder is read-only", None,
                                  "make it writable or choose another --out")
        self.clean_leftovers()
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.tmp.mkdir()
            (self.tmp / FEEDBACK_DIR).mkdir()
            probe = self.tmp / ".probe"
            _write_file(probe, [b"\0" * 65536])
            _fsync(probe)
            probe.unlink()
        except OSError as exc:
            self.abort()
            raise self._error("cannot write the results folder (trial write failed)", exc) from None

    def clean_leftovers(self) -> None:
        """Remove folders that killed runs left beside --out; restore the results a swap had moved away."""
        pattern = re.compile(_LEFTOVER.format(name=re.escape(self.out.name)))
        try:
            names = sorted(os.listdir(self.out.parent))
        except OSError:
            return
        dead = [n for n in names if (m := pattern.match(n)) and not _pid_alive(int(m.group(1)))]
        if not self.out.exists():
            # Killed between the two renames of a swap without RENAME_EXCHANGE: finish it (or undo it).
            for old in [n for n in dead if n.endswith(".old")]:
                new = self.out.parent / (old[:-4] + ".tmp")
                source = new if new.exists() and read_manifest(new) is not None else self.out.parent / old
                with contextlib.suppress(OSError):
                    os.rename(source, self.out)
                    break
        for n in dead:
            shutil.rmtree(self.out.parent / n, ignore_errors=True)

    def add_feedback(self, data: bytes) -> int:
        """Write one student's feedback under a pending name (in the writer thread); its index, for commit()
        to name it. A failed write is raised here at the next call, or by commit()."""
        if self._writer is None:
            self._writer = _FeedbackWriter(self.tmp / FEEDBACK_DIR)
        self._writer.raise_error(self)
        index, name = len(self.pending), f".{len(self.pending)}.pending"
        self.pending.append((name, ""))  # its digest comes from the writer (_finish_writes)
        self._writer.put(index, name, data)
        return index

    def _finish_writes(self) -> None:
        """Wait for the writer thread; the digest of every file it wrote, or its error."""
        writer, self._writer = self._writer, None
        if writer is None:
            return
        digests = writer.close()
        writer.raise_error(self)
        for index, digest in digests.items():
            self.pending[index] = (self.pending[index][0], digest)

    def adopt(self, written: Written) -> int:
        """Take a feedback file a worker wrote (grade_chunk) as add_feedback would have; its index."""
        if written.error is not None:
            raise self._error("cannot write a feedback file", written.error)
        self.pending.append((written.name, written.digest))
        return len(self.pending) - 1

    def add_texts(self, line: bytes, exam: Exam) -> None:
        """Keep the student's free-text answers (their text_line) for the grading queue (only exams with by-hand blanks)."""
        if self._texts is None:
            if not by_hand_blanks(exam):
                self._texts = False
                return
            self._texts = (open(self.tmp / TEXTS_FILE, "xb"), hashlib.sha256())
        if self._texts:
            try:
                self._texts[0].write(line)
            except OSError as exc:
                raise self._error("cannot write the text answers", exc) from None
            self._texts[1].update(line)

    def add_summary(self, text: str) -> tuple[int, int]:
        """Spool one student's summary.json entry (kept on disk, not in memory); where it is, for commit()."""
        try:
            if self._spool is None:
                self._spool = open(self.tmp / SPOOL_FILE, "x+b")
            data = text.encode("utf-8")
            at = (self._spool.tell(), len(data))
            self._spool.write(data)
        except OSError as exc:
            raise self._error("cannot write the results", exc) from None
        return at

    def _spooled(self, at: tuple[int, int]) -> str:
        """An entry add_summary spooled."""
        self._spool.seek(at[0])
        return self._spool.read(at[1]).decode("utf-8")

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def commit(self, batch: BatchResult, exam: Exam) -> dict[str, str]:
        """Write scores.csv, gradebook.csv and summary.json, name the feedback files, the manifest last, then swap."""
        rows = _sorted(batch)
        files: dict[str, str] = {}
        try:
            if self._texts:
                self._texts[0].close()
                files[TEXTS_FILE] = self._texts[1].hexdigest()
            written = [self.tmp / n for n in files]
            more, held = _hand_marked(exam), any_pending(rows)
            scores = itertools.chain([scores_header(exam)], (r.csv_text or csv_row_text(r, more) for r in rows))
            book = itertools.chain([gradebook_header(exam, self.id_column, held)],
                                   (gradebook_row_text(r, held) for r in rows))
            for name, chunks in ((SCORES_FILE, scores), (GRADEBOOK_FILE, book),
                                 (SUMMARY_FILE, summary_chunks(batch, exam,
                                                               self._spooled if self._spool is not None else None))):
                files[name] = _write_file(self.tmp / name, (c.encode("utf-8") for c in chunks))
                written.append(self.tmp / name)
            if self._spool is not None:  # a working file, not a result
                self._close_spool()
                os.unlink(self.tmp / SPOOL_FILE)
            self._finish_writes()  # the writer thread has had the files above to catch up
            feedback = self.tmp / FEEDBACK_DIR
            for row, name in zip(rows, feedback_names(rows), strict=True):
                target = feedback / name
                pending, digest = self.pending[row.feedback]
                os.rename(feedback / pending, target)
                files[f"{FEEDBACK_DIR}/{name}"] = digest
                written.append(target)
            sync_paths(written, self.tmp)  # on disk before the manifest says the set is complete
            manifest = {"format": MANIFEST_FORMAT, "exam_id": exam.exam_id, "graded": len(rows),
                        "failed": len(batch.failed), "files": dict(sorted(files.items())), "complete": True}
            _write_file(self.tmp / MANIFEST_FILE, [(json.dumps(manifest, indent=1) + "\n").encode("utf-8")])
            _fsync(self.tmp / MANIFEST_FILE)
            _fsync(feedback)
            carry_marks(self.out, self.tmp)  # the TAs' marks live on (not in the manifest: they keep changing)
            _fsync(self.tmp)
            self._swap()
        except OSError as exc:
            raise self._error("cannot write the results", exc) from None
        return {k: display_path(self.given / v) for k, v in
                (("scores", SCORES_FILE), ("gradebook", GRADEBOOK_FILE), ("summary", SUMMARY_FILE),
                 ("feedback", FEEDBACK_DIR),
                 ("manifest", MANIFEST_FILE))}

    def _swap(self) -> None:
        """Put the new folder at --out in one step where the system allows it; delete the old one."""
        out = self.out
        if not out.exists():
            os.rename(self.tmp, out)
        elif _exchange(self.tmp, out):
            shutil.rmtree(self.tmp, ignore_errors=True)  # it now holds the earlier results
        else:
            old = self.tmp.with_suffix(".old")
            os.rename(out, old)
            os.rename(self.tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        with contextlib.suppress(OSError):
            _fsync(out.parent)

    def abort(self) -> None:
        """Remove the new folder; --out keeps what it held."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._texts:
            self._texts[0].close()
        self._close_spool()
        shutil.rmtree(self.tmp, ignore_errors=True)


def by_hand_blanks(exam: Exam) -> list[tuple[str, str]]:
    """(part number, blank name) of every blank graded by hand, in exam order."""
    from i2dl import kinds

    return [(part.number, b.name) for _, part in exam.parts() for b in part.blanks if kinds.get(b.kind).by_hand]


def text_line(result: SubmissionResult, exam: Exam) -> bytes:
    """The student's line of text-answers.jsonl: {student_id, answers: {part: {blank: text}}}, empty ones left out."""
    wanted = _by_hand_set(exam)
    parts = {n for n, _ in wanted}
    answers: dict[str, dict[str, str]] = {}
    for p in result.parts:
        if p.number not in parts:
            continue
        for b in p.blanks:
            text = (b.read or "").strip()
            if (p.number, b.name) in wanted and b.status in (PENDING, MARKED) and text:  # not invalid or blank
                answers.setdefault(p.number, {})[b.name] = text
    return (json.dumps({"student_id": result.student_id, "answers": answers}, ensure_ascii=False,
                       sort_keys=True) + "\n").encode("utf-8")


def edit_item_points(exam: Exam, points: Mapping[tuple[str, str, str, str], float]) -> None:
    """Give the exam's checklist items (of every variant) the points a TA edited, in memory only."""
    for one in [exam, *exam.variants.values()]:
        for _, part in one.parts():
            for b in part.blanks:
                for t in b.checklist:
                    t.points = points.get((part.number, b.name, part.id, t.id),
                                          points.get((COHORT_PART, b.name, part.id, t.id), t.points))


def carry_marks(old: Path, new: Path) -> bool:
    """Copy old/marks.sqlite into new/ with SQLite's backup (complete whatever its journal holds); False if none."""
    import sqlite3

    if not (old / MARKS_FILE).is_file():
        return False
    source = sqlite3.connect(old / MARKS_FILE)
    try:
        target = sqlite3.connect(new / MARKS_FILE)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise OSError(f"cannot copy the marks store: {exc}") from None
    finally:
        source.close()
    return True


def grade_file(path: Path | str, exam: Exam, *, engine_name: str | None = None, library=None,
               marks: Marks | None = None, auto_award: bool | None = None) -> SubmissionResult:
    """One student's graded answer file (what `explain --student` sets next to the steps)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no answer file '{display_path(path)}'",
                            fix="pass the student's answers.yaml with --student FILE")
    grader = make_grader(exam, engine_name or "numpy", library, marks=marks, auto_award=_auto(auto_award))
    return grader.grade(load_submission(path, grader))
