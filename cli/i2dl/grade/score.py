"""Scoring one submission against an exam: blanks, alternatives, follow-through, rubric schemes."""

from __future__ import annotations

import pickle
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from i2dl import kinds
from i2dl.errors import AnswerParseError, I2dlError, SubmissionError
from i2dl.grade.manual import (
    BLANK,
    MARKED,
    PENDING,
    Mark,
    Marks,
    applied_items,
    full_marks,
    is_stale,
    item_line,
    mark_points,
    normalise,
    unknown_items,
)
from i2dl.io import has_lone_surrogate, printable
from i2dl.kinds import MissingAnswer, approx_equal, parse_answer
from i2dl.kinds.approx import within
from i2dl.kinds.read import additive_terms, formula_names, uses_paper_notation
from i2dl.render import fmt_number, fmt_value, render_template
from i2dl.spec.instance import Blank, PartInstance, ProblemInstance, overlaps
from i2dl.spec.rubric import MCQ_RUBRIC, Rubric, resolve_rubric

#: Problems' results kept per grader for answers seen before (most students give a few common answers).
MEMO_SIZE = 2048
#: Blanks' readings and judgments against the key kept per grader, by raw answer.
BLANK_MEMO_SIZE = 8192
_UNREAD = object()  # a blank answer that could not be read (missing or invalid)

# Blank statuses: invalid (unreadable) and missing are not the same as wrong. A text answer is
# pending until a TA marks it (then marked); an empty one is blank.
CORRECT, FOLLOW, ALTERNATIVE, PARTIAL, WRONG, INVALID, MISSING = (
    "correct", "follow-through", "alternative", "partial", "wrong", "invalid", "missing")


@dataclass
class BlankResult:
    name: str
    label: str
    status: str
    credit: float
    read: str
    expected: str
    feedback: str = ""
    alternative: str | None = None
    value: Any = field(default=None, repr=False, compare=False)  # the parsed answer, not written out
    applied: list[str] = field(default_factory=list)  # a marked text answer: the items applied, then the comment

    def copy(self) -> BlankResult:
        """A shallow copy (copy.copy's result, without its generic reduce protocol: one per graded blank)."""
        new = object.__new__(BlankResult)
        new.__dict__.update(self.__dict__)
        return new


@dataclass
class PartResult:
    number: str
    points: float
    score: float
    blanks: list[BlankResult]
    feedback: list[str] = field(default_factory=list)
    rubric: str = ""
    #: Each blank's share of the part's points (what its credit is multiplied by under per-blank).
    shares: list[float] = field(default_factory=list)
    #: What writers derive from this result (feedback lines, status codes), made once: memoised results are shared.
    derived: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def pending_points(self) -> float:
        """The points of this part's answers still awaiting a TA's mark."""
        return sum(w for b, w in zip(self.blanks, self.shares, strict=False) if b.status == PENDING)

    @property
    def pending(self) -> bool:
        return any(b.status == PENDING for b in self.blanks)


@dataclass
class Submission:
    """A read answer file: who, which exam, and the raw answers by part number."""

    file: str
    student_id: str
    name: str
    exam_id: str
    answers: dict[str, Any]


@dataclass
class SubmissionResult:
    file: str
    student_id: str
    name: str
    parts: list[PartResult]
    total: float
    max_points: float
    notes: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max_points if self.max_points else 0.0

    @property
    def pending_points(self) -> float:
        """The points of answers still awaiting a TA's mark (not in `total` yet)."""
        return round(sum(p.pending_points for p in self.parts), 6)

    @property
    def pending_answers(self) -> int:
        return sum(1 for p in self.parts for b in p.blanks if b.status == PENDING)

    def problem_scores(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.parts:
            key = p.number.split(".")[0]
            out[key] = out.get(key, 0.0) + p.score
        return out


# ---------------------------------------------------------------------------- reading a submission


def read_submission(data: Any, file: str, exam_id: str) -> Submission:
    """Check an answer file's structure; a SubmissionError says what is wrong and how to fix it."""
    if not isinstance(data, dict):
        raise SubmissionError(f"not an answer file: expected a mapping with exam, student_id and answers, "
                              f"got {type(data).__name__}", where=file,
                              fix="start from the answers.yaml that `i2dl generate` wrote")
    missing = [k for k in ("exam", "student_id", "answers") if k not in data]
    if missing:
        raise SubmissionError(f"not an answer file: missing key{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)}", where=file,
                              fix="start from the answers.yaml that `i2dl generate` wrote")
    for key in ("exam", "student_id", "name"):
        if isinstance(data.get(key), str) and has_lone_surrogate(data[key]):
            raise SubmissionError(f"{key} holds a lone surrogate escape (such as \\ud800), which is not text",
                                  where=f"{file} {key}", fix="write the characters themselves, not \\u escapes")
    exam = str(data["exam"]).strip()
    if exam != exam_id:
        shown = exam if len(exam) <= 60 else exam[:57] + "..."
        raise SubmissionError(f"this submission is for exam '{shown}', not '{exam_id}'", where=f"{file} exam",
                              fix="grade it with --exam pointing at the exam it was written for")
    # The loader keeps an id's text as written (012345, not 5349); JSON numbers arrive as their text too.
    sid = data["student_id"]
    if isinstance(sid, bool) or not isinstance(sid, (str, int)) or not str(sid).strip():
        raise SubmissionError("student_id is empty or not text", where=f"{file} student_id",
                              fix="write the student's id, e.g. student_id: 'ge42xyz'")
    sid = unicodedata.normalize("NFC", str(sid).strip())  # one id, however the editor composed it
    if len(sid) > 100:
        raise SubmissionError("student_id is longer than 100 characters", where=f"{file} student_id")
    if not sid.isprintable():  # a line break or control character would split rows and headings
        raise SubmissionError("student_id contains a line break or control character", where=f"{file} student_id",
                              fix="write the id on one line, e.g. student_id: 'ge42xyz'")
    name = data.get("name") or ""
    name = " ".join(str(name).split())[:100] if isinstance(name, (str, int)) and not isinstance(name, bool) else ""
    name = unicodedata.normalize("NFC", "".join(ch for ch in name if ch.isprintable()))  # no bells in a gradebook
    answers = data["answers"]
    if answers is None:
        answers = {}
    if not isinstance(answers, dict):
        kind = "list" if isinstance(answers, list) else type(answers).__name__
        raise SubmissionError(f"answers must be a mapping from part number to answer, got {kind}",
                              where=f"{file} answers")
    by_part: dict[str, Any] = {}
    for k, v in answers.items():
        if str(k) in by_part:  # e.g. 2.1 and '2.1': YAML keeps both, one would be dropped silently
            raise SubmissionError(f"part '{printable(str(k))}' is answered twice", where=f"{file} answers",
                                  fix="keep one entry per part, keys quoted as in answers.yaml ('2.1':)")
        by_part[str(k)] = v
    return Submission(file, sid, name, exam, by_part)


# ---------------------------------------------------------------------------- comparing values


def compare(got: Any, b: Blank, expected: Any, rubric: Rubric, points: float) -> tuple[float, str]:
    """Credit in [0, 1] of a read value against an expected value, and a note when partial."""
    return kinds.get(b.kind).compare(got, expected, b.tolerance(expected), rubric.arrays, points)


def _entrywise_best(got: Any, b: Blank, redo: Any, rubric: Rubric) -> Any:
    """Under per-entry array credit, each entry is judged against the key or the student's own chain,
    whichever it matches: a vector with one entry carried from a wrong z and one right earns both."""
    if not kinds.get(b.kind).numeric or np.ndim(b.expected) == 0 or rubric.arrays.mode == "whole":
        return redo
    g, e, r = (np.asarray(v, dtype=float) for v in (got, b.expected, redo))
    if not g.shape == e.shape == r.shape:
        return redo
    return np.where(within(g, e, *b.tolerance(e)), e, r)


def _apply_implied(rubric: Rubric, results: list[BlankResult]) -> None:
    """Raise a blank to its implied credit where the blank that implies it is right."""
    by_name = {r.name: r for r in results}
    for rule in rubric.implied:
        target, source = by_name.get(rule.blank), by_name.get(rule.by)
        if target is None or source is None or source.credit < 1.0 or target.credit >= rule.credit:
            continue
        target.credit = rule.credit
        target.status = PARTIAL
        target.feedback = "; ".join(f for f in (target.feedback, f"{rule.credit:g} of it: your {source.label} is "
                                                                  "right, so this was found though not stated") if f)


_SQUARE = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?)\s*[xX\u00d7*\u00b7]\s*([0-9]+(?:[.,][0-9]+)?)\s*")
_LITERAL = re.compile(r"[-+\u2212]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?")
_ENTRY_GAP = re.compile(r"[\[\]();,\s]+")


def _square_side(raw: Any) -> str | None:
    """The side A of a square written 'A x A' (5x5, 6 × 6), as text; None for anything else."""
    m = _SQUARE.fullmatch(raw) if isinstance(raw, str) and len(raw) <= 100 else None
    return m.group(1) if m and m.group(1) == m.group(2) else None


def _form_lacks(form, raw: Any) -> str:
    """What the written answer lacks of the rubric's required form, or '' when it has it."""
    if form.form == "simplified":
        return "" if _simplified(raw) else "give the value as one number, not an expression"
    try:
        symbols, calls = formula_names(raw) if isinstance(raw, str) else (set(), set())
    except AnswerParseError:
        return ""
    missing = [n for n in form.of if n not in symbols and n.lower() not in calls]
    return f"write it in terms of {', '.join(form.of)}" if missing else ""


def _simplified(raw: Any) -> bool:
    """Every entry one number as written: YAML numbers, or text whose entries are single literals
    ('[[13, -5], [-2, 6]]', not '[[5*3 - 2, ...]]')."""
    if isinstance(raw, (list, tuple)):
        return all(_simplified(x) for x in raw)
    if not isinstance(raw, str):
        return True
    return all(_LITERAL.fullmatch(t) for t in _ENTRY_GAP.split(raw) if t)


def _component_credit(components: list[dict[str, Any]], got: Any, raw: Any, b: Blank) -> tuple[float, str]:
    """The shares of the components found among the terms the student summed (or equal to their value).

    Each term serves one component; when every component is found but the total is still wrong, an
    extra term is there, and it costs as much as the smallest component.
    """
    terms = additive_terms(raw) if isinstance(raw, str) else None
    if not terms or len(terms) < 2:
        terms = [float(got)]
    left = list(terms)
    found = []
    for comp in components:
        for i, t in enumerate(left):
            if within(np.asarray(t), np.asarray(float(comp["value"])), *b.tolerance(float(comp["value"]))):
                found.append(comp)
                del left[i]
                break
    if not found:
        return 0.0, ""
    credit = sum(c["credit"] for c in found)
    if credit >= 1.0:
        credit = 1.0 - min(c["credit"] for c in components)
    missing = [c["name"] for c in components if c not in found]
    note = "; ".join(c["feedback"] for c in found)
    note += (f"; not found: {', '.join(missing)}" if missing else "") + (
        f"; a term that is none of them: {', '.join(fmt_number(t) for t in left)}" if left and len(terms) > 1 else "")
    return credit, note


def _zeros(v: Any) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(a.size) and bool(np.all(a == 0))


def _trivial_step(wrong: dict[str, Any], redo: Any, key: Any, key_values: dict[str, Any]) -> list[str]:
    """The wrong inputs that make this step trivial (judged on the step, not on coincidences).

    Trivial: an input that is all zeros, a result that collapses to zeros where the key does not,
    or a result that passes one of the inputs through unchanged where the key's step does not.
    """
    if _zeros(redo) and not _zeros(key):
        return sorted(wrong)
    zeros = sorted(n for n, v in wrong.items() if _zeros(v))
    if zeros:
        return zeros
    for n, v in wrong.items():
        passed = np.shape(v) == np.shape(redo) and approx_equal(redo, v, tol_abs=1e-9, tol_rel=1e-9)
        if passed and not approx_equal(key, key_values.get(n), tol_abs=1e-9, tol_rel=1e-9):
            return sorted(wrong)
    return []


# ---------------------------------------------------------------------------- grading


class Grader:
    """Grades submissions for one exam; follow-through re-evaluates the spec's answer graph."""

    def __init__(self, exam, engine_name: str | None = None, library=None, *, marks: Marks | None = None,
                 auto_award: bool = False):
        self.exam = exam
        # TA marks by (student id, part number, blank name); auto_award: a model answer copied exactly scores.
        self.marks: Marks = marks or {}
        self.auto_award = auto_award
        self._student = ""
        self.engine_name = engine_name
        self._library = library
        self._engine = None
        self._compiled: dict[int, Any] = {}  # problem number -> its compiled spec
        self._rubrics: dict[tuple[int, str], Rubric] = {}
        self._feedback: dict[tuple[int, str], str] = {}
        self._expected_text: dict[int, str] = {}  # id(blank) -> the key as text, formatted once per exam
        self.spec_errors: dict[str, str] = {}  # spec id -> why it could not be loaded
        self._unchecked: set[int] = set()  # problems whose follow-through could not be checked
        # Problem results by the raw answers to the problem (see _grade_problem), the oldest evicted first.
        self._memo: dict[tuple, tuple[list[PartResult], frozenset[tuple[int, str]], bool]] = {}
        self._blank_memo: dict[tuple, tuple[Any, str, BlankResult, bool, bool]] = {}  # see grade_blank
        # Parts whose result hangs on their own raw answer alone (see grade_part), with what they add to
        # the problem's reads: (result, (blank, value read, loop value it names) per read blank, rights).
        self._part_memo: dict[tuple, tuple[PartResult, tuple[tuple[str, Any, str | None], ...],
                                           tuple[tuple[int, str], ...]]] = {}
        # While a part is graded: no blank of it read anything but its own answer; the reads and rights it made.
        self._context_free = True
        self._part_reads: list[tuple[str, Any, str | None]] = []
        self._part_rights: list[tuple[int, str]] = []
        self._own_answers_read = False
        self._same: dict[str, bool] = {}  # see _same_as_key
        self._same_read: dict[str, Any] | None = None
        # Follow-through's recomputed values, and its named mistakes' values, by the upstream values used.
        self._redo: dict[tuple, Any] = {}
        self._mistakes: dict[tuple, list[tuple[Any, Any]]] = {}
        # This submission's raw answers, and the (problem, blank) it has right: a rounded value counts.
        self._answers: dict[str, Any] = {}
        self._right: set[tuple[int, str]] = set()
        # Which part and problem every answer node belongs to, for "follow-through from 3.5".
        self.node_part: dict[tuple[int, str], str] = {}
        for prob, part in exam.parts():
            for b in part.blanks:
                self.node_part[(prob.number, b.name)] = part.number

    @property
    def engine(self):
        if self._engine is None:
            from i2dl.engine import get_engine

            self._engine = get_engine(self.engine_name)
        return self._engine

    def compiled(self, prob: ProblemInstance):
        """The answer graph `prob` was made from: the exam's own copy, or for older exams the library's now."""
        if prob.number not in self._compiled:
            compiled = prob.compiled_spec()
            if compiled is None:  # exams before format 3 do not carry their specs
                from i2dl.spec.load import Library

                self._library = self._library or Library()
                compiled = self._library.get(prob.spec_id)
            self._compiled[prob.number] = compiled
        return self._compiled[prob.number]

    def rubric(self, prob: ProblemInstance, part: PartInstance) -> Rubric:
        """The part's rubric, resolved once per grader (inline rubrics are validated only once)."""
        key = (prob.number, part.number)
        if key not in self._rubrics:
            self._rubrics[key] = resolve_rubric(part.rubric, default=MCQ_RUBRIC if prob.kind == "mcq"
                                                else "per-blank")
        return self._rubrics[key]

    def alt_feedback(self, prob: ProblemInstance, text: str) -> str:
        """An alternative's feedback with its {{ expr }} templates filled in from this instance."""
        if "{{" not in text:
            return text
        key = (prob.number, text)
        if key not in self._feedback:
            from i2dl.evaluate import Evaluator
            from i2dl.expr import parse

            ev = Evaluator(self.engine, prob.values)
            try:
                self._feedback[key] = render_template(text, lambda e: ev.eval(parse(e).node), style="text")
            except (I2dlError, ValueError, TypeError, ArithmeticError):
                self._feedback[key] = text
        return self._feedback[key]

    def grade(self, sub: Submission) -> SubmissionResult:
        """Every part of the exam scored for this submission."""
        notes = []
        known = {part.number for _, part in self.exam.parts()}
        for k in sorted(sub.answers):
            if k not in known:
                notes.append(f"answer for unknown part '{printable(k)}' ignored (parts: {', '.join(sorted(known))})")
        parts = []
        self._unchecked = set()
        self._answers, self._right = sub.answers, set()
        self._student = sub.student_id
        for prob in self.exam.problems:
            parts.extend(self._grade_problem(prob, sub.answers))
        for prob in self.exam.problems:
            if prob.number in self._unchecked:
                notes.append(f"problem {prob.number}: follow-through not checked, the spec could not be loaded "
                             f"({self.spec_errors[prob.spec_id]})")
        total = round(sum(p.score for p in parts), 6)
        return SubmissionResult(sub.file, sub.student_id, sub.name, parts, total, self.exam.points, notes)

    def _grade_problem(self, prob: ProblemInstance, answers: dict[str, Any]) -> list[PartResult]:
        """The problem's parts scored; the same answers to the problem give the same (shared) results."""
        key = self._memo_key(prob, answers)
        hit = self._memo.get(key) if key is not None else None
        if hit is not None:
            results, right, unchecked = hit
            self._right.update(right)
            if unchecked:
                self._unchecked.add(prob.number)
            return results
        read: dict[str, Any] = {}  # this student's valid values by node name, for follow-through
        results = [self.grade_part(prob, part, answers.get(part.number), read) for part in prob.parts]
        if key is not None:
            _bounded_put(self._memo, key, (results, frozenset(r for r in self._right if r[0] == prob.number),
                                           prob.number in self._unchecked), MEMO_SIZE)  # the oldest out first
        return results

    def _memo_key(self, prob: ProblemInstance, answers: dict[str, Any]) -> tuple | None:
        """The problem's raw answers as a hashable key (types kept: 1, 1.0 and '1' differ); None if not memoisable.

        Everything a problem's grading reads is its own parts' answers, except a TA's mark of a text
        answer, which belongs to the student: then the student's id is part of the key.
        """
        try:
            key = (prob.number, _frozen([answers.get(part.number) for part in prob.parts]))
        except TypeError:  # a value that cannot be a key (never the case for YAML or CSV answers)
            return None
        if self.marks and self._by_hand(prob):
            key += (self._student,)
        return key

    def _by_hand(self, prob: ProblemInstance) -> bool:
        """The problem holds a blank a TA marks."""
        cache = self.__dict__.setdefault("_by_hand_probs", {})
        if prob.number not in cache:
            cache[prob.number] = any(kinds.get(b.kind).by_hand for part in prob.parts for b in part.blanks)
        return cache[prob.number]

    def grade_part(self, prob: ProblemInstance, part: PartInstance, raw: Any, read: dict[str, Any]) -> PartResult:
        """The part scored; a part judged on its own answer alone (no follow-through looked at) is shared."""
        try:
            key = (prob.number, part.number, _frozen(raw))
        except TypeError:
            key = None
        hit = self._part_memo.get(key) if key is not None else None
        if hit is not None:
            result, reads, rights = hit
            for name, got, target in reads:  # the reads grade_blank makes, in its order
                read[name] = got
                if target is not None and target not in read:
                    read[target] = got
            self._right.update(rights)
            return result
        self._context_free, self._part_reads, self._part_rights = True, [], []
        result = self._grade_part(prob, part, raw, read)
        if key is not None and self._context_free:
            _bounded_put(self._part_memo, key, (result, tuple(self._part_reads), tuple(self._part_rights)),
                         BLANK_MEMO_SIZE)
        return result

    def _grade_part(self, prob: ProblemInstance, part: PartInstance, raw: Any, read: dict[str, Any]) -> PartResult:
        rubric = self.rubric(prob, part)
        feedback: list[str] = []
        values = _blank_values(part, raw, feedback)
        weights = _blank_points(part)
        results: list[BlankResult] = []
        for b, w in zip(part.blanks, weights, strict=True):
            results.append(self.grade_blank(prob, part, b, values.get(b.name, None), rubric, w, read))
        _apply_implied(rubric, results)
        score = _part_score(part, rubric, results, weights, raw)
        for form in rubric.forms:
            hit = next((r for r in results if r.name == form.blank), None)
            if hit is None or hit.credit <= 0:
                continue
            lacking = _form_lacks(form, values.get(form.blank))
            if lacking:
                score -= form.deduct
                feedback.append(f"-{form.deduct:g} for {hit.label}: {lacking}")
        for pen in rubric.penalties:
            hits = sum(1 for r in results if r.alternative == pen.mistake)
            if hits:
                score -= pen.deduct * hits
                feedback.append(f"-{pen.deduct:g} for {pen.mistake}")
        score = min(max(score, 0.0), part.points)
        return PartResult(part.number, part.points, round(score, 6), results, feedback, rubric.name,
                          shares=list(weights))

    def grade_blank(self, prob: ProblemInstance, part: PartInstance, b: Blank, raw: Any, rubric: Rubric,
                    points: float, read: dict[str, Any]) -> BlankResult:
        kind = kinds.get(b.kind)
        expected_text = self._expected_text.get(id(b))
        if expected_text is None:
            expected_text = self._expected_text[id(b)] = kind.format(b.expected)
        if kind.by_hand:
            self._context_free = False  # a TA's mark belongs to the student
            return self.hand_marked(part, b, raw, expected_text, points)
        side = _square_side(raw) if rubric.sides and b.kind == "number" else None
        # What this answer earns against the key, as read and judged before: the same for every student.
        try:
            key = (prob.number, part.number, b.name, _frozen(raw))
        except TypeError:
            key = None
        seen = self._blank_memo.get(key) if key is not None else None
        if seen is None:
            seen = self._read_and_judge(prob, part, b, kind, raw, side, expected_text, rubric, points)
            if key is not None and seen[3]:
                _bounded_put(self._blank_memo, key, seen, BLANK_MEMO_SIZE)
        got, shown, judged, reusable, final = seen
        if not (reusable and final and key is not None):
            self._context_free = False
        if got is _UNREAD:
            return judged.copy()
        read[b.name] = got
        target = self._alias_target(prob, b.name)
        if target is not None and target not in read:  # an answer that names a loop or derived value stands for it
            read[target] = got
        self._part_reads.append((b.name, got, target))
        result = judged.copy()
        if not final:
            result = self._judge_own(prob, part, b, got, shown, result, rubric, points, read)
        result.value = got
        if side is not None:
            result.feedback = "; ".join(f for f in (result.feedback, f"read {printable(raw.strip())!r} as the "
                                                    f"side {shown} of a square region") if f)
        elif kinds.get(b.kind).numeric and uses_paper_notation(raw):  # a misreading would show
            note = f"read {printable(raw.strip())!r} as {shown}"
            result.feedback = "; ".join(f for f in (result.feedback, note) if f)
        if result.status == CORRECT:
            rights = ((prob.number, b.name),) + (((prob.number, target),) if target is not None else ())
            self._right.update(rights)
            self._part_rights.extend(rights)
        return result

    def _alias_target(self, prob: ProblemInstance, name: str) -> str | None:
        """The loop value an answer merely names (w1: 'w_1'), so later steps read the student's (a given it names stays one)."""
        if prob.kind != "spec":
            return None
        cache = self.__dict__.setdefault("_aliases", {})
        if prob.number not in cache:
            aliases: dict[str, str] = {}
            try:
                compiled = self.compiled(prob)
            except I2dlError:
                compiled = None
            if compiled is not None:
                from i2dl.expr import Name
                from i2dl.spec.loop import loop_names

                answers = {b.name for part in prob.parts for b in part.blanks}
                looped = loop_names(compiled.spec.loop) if compiled.spec.loop is not None else set()
                for a in answers:
                    parsed = compiled.graph.nodes.get(a)
                    t = parsed.node.id if parsed is not None and isinstance(parsed.node, Name) else None
                    if t and t in looped and t in compiled.graph.nodes and t not in answers:
                        aliases[a] = t
                        self.node_part.setdefault((prob.number, t), self.node_part.get((prob.number, a), a))
            cache[prob.number] = aliases
        return cache[prob.number].get(name)

    def _answer_names(self, prob: ProblemInstance, names) -> list[str]:
        """Node names as the student knows them: a loop value by the answer that names it."""
        back = {t: a for a, t in self.__dict__.get("_aliases", {}).get(prob.number, {}).items()}
        return sorted({back.get(n, n) for n in names})

    def hand_marked(self, part: PartInstance, b: Blank, raw: Any, expected_text: str, points: float) -> BlankResult:
        """A text answer: blank when empty; marked when a TA's mark (or auto-award) is for this very text; else pending."""
        try:
            text = kinds.get(b.kind).read(raw)
        except MissingAnswer:
            return BlankResult(b.name, b.label, BLANK, 0.0, "", expected_text, "no answer given")
        except AnswerParseError as exc:
            return BlankResult(b.name, b.label, INVALID, 0.0, _raw_text(raw), expected_text,
                               f"could not read this answer: {exc.message}")
        shown = printable(text)
        mark = self.marks.get((self._student, part.number, b.name))
        note = "awaiting grading by a TA"
        if mark is not None and b.checklist:
            unknown = unknown_items(b.checklist, mark.items)
            if is_stale(mark, text):
                note = "awaiting grading by a TA (the mark on record was given to a different answer)"
            elif unknown:
                note = f"awaiting grading by a TA (the mark names items this checklist lacks: {', '.join(unknown)})"
            else:
                return self._marked(b, mark, shown, expected_text, points)
        if self.auto_award and b.checklist and b.model_answer is not None \
                and normalise(text) == normalise(b.model_answer):
            mark = Mark(full_marks(b), "identical to the model answer: awarded without a TA", text)
            return self._marked(b, mark, shown, expected_text, points)
        return BlankResult(b.name, b.label, PENDING, 0.0, shown, expected_text, note)

    def _marked(self, b: Blank, mark: Mark, shown: str, expected_text: str, points: float) -> BlankResult:
        """A marked answer: its points from the applied items (summed, clamped), feedback listing them."""
        got = mark_points(b.checklist, mark.items, points)
        lines = [item_line(t) for t in applied_items(b.checklist, mark.items)] or ["no checklist item applies"]
        if mark.comment.strip():
            lines.append(f"comment: {' '.join(mark.comment.split())}")
        credit = got / points if points else 0.0
        return BlankResult(b.name, b.label, MARKED, credit, shown, expected_text, "; ".join(lines), applied=lines)

    def _read_and_judge(self, prob, part, b, kind, raw, side, expected_text, rubric,
                        points) -> tuple[Any, str, BlankResult, bool, bool]:
        """(value read, its text, the result against the key and its alternatives, whether that can be
        reused for the same raw answer, whether it is final); the value is _UNREAD when it cannot be read."""
        try:
            # A choice blank of a spec does not record its options: any letter A to Z is readable.
            got = parse_answer(side or raw, b.kind, n_options=b.options or 26, shape=np.shape(b.expected))
        except MissingAnswer:
            return _UNREAD, "", BlankResult(b.name, b.label, MISSING, 0.0, "", expected_text, "no answer given"), \
                True, True
        except AnswerParseError as exc:
            return _UNREAD, "", BlankResult(b.name, b.label, INVALID, 0.0, _raw_text(raw), expected_text,
                                            f"could not read this answer: {exc.message}"), True, True
        shown = kind.format(got)
        self._own_answers_read = False
        best, final = self._judge_key(prob, part, b, got, shown, expected_text, rubric, points, raw)
        return got, shown, best, not self._own_answers_read, final

    def _judge_key(self, prob, part, b, got, shown, expected_text, rubric, points, raw=None) -> tuple[BlankResult, bool]:
        """The answer against the key, its alternatives and components; True when no follow-through can add to it."""
        credit, note = compare(got, b, b.expected, rubric, points)
        if credit >= 1.0:  # a note says how an unusual form was read (e.g. a shape channels last)
            return BlankResult(b.name, b.label, CORRECT, 1.0, shown, expected_text, note), True
        best = BlankResult(b.name, b.label, PARTIAL if credit > 0 else WRONG, credit, shown, expected_text, note)
        for alt in b.alternatives:
            if alt.get("component"):
                continue  # terms of the answer: credited together below
            c, alt_note = compare(got, b, alt["value"], rubric, points)
            if c >= 1.0:
                gamed = self._given_where_it_belongs(prob, b, alt)
                if gamed:
                    best.feedback = "; ".join(f for f in (best.feedback, gamed) if f)
                    break
                status = ALTERNATIVE if alt["credit"] > 0 else WRONG
                if alt["credit"] >= best.credit:
                    best = BlankResult(b.name, b.label, status, alt["credit"], shown, expected_text,
                                       self.alt_feedback(prob, alt["feedback"]), alt["name"])
                break
            # An accepted variant earns partial credit like the key does (a transposed matrix of
            # the right shape with wrong values still earns the shape points).
            if c > 0 and alt["credit"] > 0 and c * alt["credit"] > best.credit:
                best = BlankResult(b.name, b.label, PARTIAL, c * alt["credit"], shown, expected_text,
                                   f"{alt_note} (compared with the accepted variant '{alt['name']}')")
        components = [a for a in b.alternatives if a.get("component")]
        if components and best.credit < 1.0:
            credit, note = _component_credit(components, got, raw, b)
            if credit > best.credit:
                mistake = f"; {best.feedback}" if best.alternative and best.feedback else ""
                best = BlankResult(b.name, b.label, PARTIAL, credit, shown, expected_text, note + mistake,
                                   best.alternative)
        return best, not (best.credit < 1.0 and prob.kind == "spec")

    def _judge_own(self, prob, part, b, got, shown, best, rubric, points, read) -> BlankResult:
        """Follow-through and the part's offered fallback: credit from the student's own earlier answers."""
        if best.credit < 1.0 and prob.kind == "spec":
            ft = self.follow_through(prob, b, got, read, rubric, points)
            # More credit, or a named mistake on the student's own values where the key's named none.
            if ft is not None and (ft.credit > best.credit or (ft.credit == best.credit and ft.alternative
                                                               and not best.alternative)):
                ft.read = shown
                return ft
            if ft is not None and ft.feedback and ft.feedback not in best.feedback:
                best.feedback = "; ".join(f for f in (best.feedback, ft.feedback) if f)
        if best.credit < 1.0 and part.fallback and prob.kind == "spec":
            fb = self.fallback_credit(prob, part, b, got, read, rubric, points)
            if fb is not None and fb.credit > best.credit:
                fb.read = shown
                return fb
        return best

    def fallback_credit(self, prob: ProblemInstance, part: PartInstance, b: Blank, got: Any,
                        read: dict[str, Any], rubric: Rubric, points: float) -> BlankResult | None:
        """Full credit for a value right for the value the part offered to continue with."""
        try:
            graph = self.compiled(prob).graph
        except I2dlError:
            return None
        offered = {n: v for n, v in part.fallback.items() if b.name in graph.nodes and graph.depends_on(b.name, n)}
        if not offered:
            return None
        own = self._alias_target(prob, b.name)
        inputs, ancestors = _upstream(graph, b.name, {k: v for k, v in {**read, **offered}.items() if k != own})
        overrides = {n: read[n] for n in inputs if n in read and n not in offered} | offered
        try:
            redo, _ = self._recompute(prob, graph, b, overrides, ancestors | set(offered))
        except (I2dlError, ValueError, TypeError, IndexError, ArithmeticError, MemoryError):
            return None
        credit, note = compare(got, b, redo, rubric, points)
        if credit <= 0:
            return None
        said = ", ".join(f"{self._label(prob, n)} = {fmt_value(v)}" for n, v in offered.items())
        return BlankResult(b.name, b.label, FOLLOW, credit, "", fmt_value(b.expected),
                           f"right for the offered {said}, which this part says to continue with"
                           + (f"; {note}" if note else ""))

    def _label(self, prob: ProblemInstance, name: str) -> str:
        return next((b.label for part in prob.parts for b in part.blanks if b.name == name), name)

    def _given_where_it_belongs(self, prob: ProblemInstance, b: Blank, alt: dict[str, Any]) -> str:
        """Why an accepted alternative does not count: it is another blank's key, given there too ('' if not)."""
        other = alt.get("key_of")
        if not other or alt["credit"] <= 0:
            return ""
        number = self.node_part.get((prob.number, other))
        found = prob.part(number) if number else None
        blank = next((x for x in found.blanks if x.name == other), None) if found else None
        if blank is None:
            return ""
        self._own_answers_read = True  # the result hangs on another part's answer: not reused
        raw = self._answers.get(number)
        if isinstance(raw, dict):
            raw = raw.get(other)
        elif len(found.blanks) != 1:
            raw = None
        try:
            theirs = parse_answer(raw, blank.kind, n_options=blank.options or 26)
        except (MissingAnswer, AnswerParseError):
            return ""
        if not overlaps(b, theirs, alt["value"]):
            return ""
        return (f"this is {blank.label}, which you also gave in {number}: it is accepted here only in place of "
                f"{b.label}, not as the same answer written twice")

    def follow_through(self, prob: ProblemInstance, b: Blank, got: Any, read: dict[str, Any], rubric: Rubric,
                       points: float) -> BlankResult | None:
        """Credit for a value computed correctly from the student's own wrong upstream answers."""
        if prob.spec_id not in self.spec_errors:
            try:
                compiled = self.compiled(prob)
            except I2dlError as exc:
                self.spec_errors[prob.spec_id] = str(exc)
        if prob.spec_id in self.spec_errors:
            self._unchecked.add(prob.number)  # said in this submission's notes (see grade)
            return None
        graph = compiled.graph
        if b.name not in graph.nodes:
            return None
        # The student's answers this blank is computed from directly (an answered node hides its own
        # inputs: y is judged against the student's m, not against an m recomputed from their z).
        own = self._alias_target(prob, b.name)  # the value this answer names is the answer itself, no input
        inputs, ancestors = _upstream_of(graph, b.name, frozenset(k for k in read if k != own))
        off = {n for n in inputs if not self._same_as_key(prob, n, read)}
        # An earlier answer graded right (rounded as the sheet says) is the student's to compute from.
        rounded = sorted(n for n in off if (prob.number, n) in self._right)
        wrong = {n: read[n] for n in off if n not in rounded}
        if not off or (wrong and rubric.follow_through <= 0):
            return None
        overrides = {n: read[n] for n in inputs}
        # The recomputed value hangs on the upstream values alone: students with the same slip share it.
        try:
            key = (prob.number, b.name, ancestors, tuple(sorted((n, _value_key(v)) for n, v in overrides.items())))
        except TypeError:
            key = None
        redo = self._redo.get(key, _UNREAD) if key is not None else _UNREAD
        if redo is _UNREAD:
            try:
                redo, _ = self._recompute(prob, graph, b, overrides, ancestors)
            except (I2dlError, ValueError, TypeError, IndexError, ArithmeticError, MemoryError):
                return None
            if key is not None:
                _bounded_put(self._redo, key, redo, BLANK_MEMO_SIZE)
        credit, note = compare(got, b, _entrywise_best(got, b, redo, rubric), rubric, points)
        if credit <= 0:
            if not wrong:
                return None
            return self._own_mistake(prob, compiled, b, got, self._mistake_values(prob, compiled, b, overrides,
                                                                                 ancestors, redo, key),
                                     wrong, rubric, points)
        if not wrong:
            return BlankResult(b.name, b.label, CORRECT if credit >= 1.0 else PARTIAL, credit, "",
                               fmt_value(b.expected),
                               f"right for your rounded {', '.join(self._answer_names(prob, rounded))} from "
                               f"{', '.join(self._parts_of(prob, rounded))}" + (f"; {note}" if note else ""))
        trivial = _trivial_step(wrong, redo, b.expected, prob.values)
        if trivial:
            return BlankResult(b.name, b.label, WRONG, 0.0, "", fmt_value(b.expected),
                               f"no follow-through: your {', '.join(self._answer_names(prob, trivial))} from "
                               f"{', '.join(self._parts_of(prob, trivial))} makes this step trivial")
        share = rubric.follow_through * credit
        return BlankResult(b.name, b.label, FOLLOW, share, "", fmt_value(b.expected),
                           f"follow-through from {', '.join(self._parts_of(prob, wrong))}: right for your own "
                           f"{', '.join(self._answer_names(prob, wrong))} (expected from it: {fmt_value(redo)})"
                           + (f"; {note}" if note else ""))

    def _same_as_key(self, prob: ProblemInstance, name: str, read: dict[str, Any]) -> bool:
        """_same_value of the student's value of `name` and the key's, once per problem graded (a
        value once read is never replaced: the cache lives as long as the problem's `read`)."""
        if self._same_read is not read:
            self._same_read, self._same = read, {}
        same = self._same.get(name)
        if same is None:
            same = self._same[name] = _same_value(read[name], prob.values.get(name))
        return same

    def _mistake_values(self, prob: ProblemInstance, compiled, b: Blank, overrides: dict[str, Any],
                        ancestors, redo: Any, key: tuple | None) -> list[tuple[Any, Any]]:
        """(alternative, its value on the student's own upstream values) of each named mistake that applies."""
        found = self._mistakes.get(key) if key is not None else None
        if found is not None:
            return found
        answer = next((a for p in compiled.spec.parts for a in p.answers if a.name == b.name), None)
        graph = compiled.graph
        found = []
        alts = answer.alternatives if answer is not None else []
        ev = None
        for alt in alts:
            parsed = compiled.alternatives.get((b.name, alt.name))
            cond = compiled.alternatives.get((b.name, alt.name + "?when"))
            if parsed is None:
                continue
            try:
                if ev is None:
                    _, ev = self._recompute(prob, graph, b, overrides, ancestors)
                    ev.env[b.name] = redo  # a mistake such as "-dLdw" means the sign of the student's own dLdw
                self._fill(ev, graph, set(parsed.names) | (set(cond.names) if cond is not None else set()))
                if cond is not None and not bool(np.all(ev.eval(cond.node))):
                    continue
                found.append((alt, kinds.get(b.kind).coerce(ev.eval(parsed.node))))
            except (I2dlError, ValueError, TypeError, IndexError, ArithmeticError, MemoryError):
                continue
        if key is not None:
            _bounded_put(self._mistakes, key, found, BLANK_MEMO_SIZE)
        return found

    def _own_mistake(self, prob: ProblemInstance, compiled, b: Blank, got: Any, values: list[tuple[Any, Any]],
                     wrong: dict[str, Any], rubric: Rubric, points: float) -> BlankResult | None:
        """A named mistake made on the student's own upstream values (a flipped kernel on their own z)."""
        for alt, value in values:
            if compare(got, b, value, rubric, points)[0] >= 1.0:
                parts = ", ".join(self._parts_of(prob, wrong))
                text = f"{self.alt_feedback(prob, alt.feedback)} (applied to your own {', '.join(sorted(wrong))} from {parts})"
                if alt.credit > 0:
                    return BlankResult(b.name, b.label, ALTERNATIVE, rubric.follow_through * alt.credit, "",
                                       fmt_value(b.expected), text, alt.name)
                return BlankResult(b.name, b.label, WRONG, 0.0, "", fmt_value(b.expected), text, alt.name)
        return None

    @staticmethod
    def _fill(ev, graph, names: set[str]) -> None:
        """Evaluate, in graph order, the nodes `names` need that `ev` does not hold yet."""
        needed = set()
        stack = [n for n in names if n in graph.nodes]
        while stack:
            n = stack.pop()
            if n in needed or n in ev.env:
                continue
            needed.add(n)
            stack.extend(d for d in graph.deps.get(n, ()) if d in graph.nodes)
        for n in graph.order:
            if n in needed:
                ev.eval_node(n)

    def _parts_of(self, prob: ProblemInstance, names) -> list[str]:
        return sorted({self.node_part.get((prob.number, n), n) for n in names})

    def _recompute(self, prob: ProblemInstance, graph, b: Blank, overrides: dict[str, Any],
                   ancestors: set[str]) -> tuple[Any, Any]:
        """The blank's value from the student's own upstream answers (only its ancestors are evaluated),
        and the evaluator holding them."""
        from i2dl.evaluate import Evaluator

        env = {**prob.params, **overrides}
        ev = Evaluator(self.engine, env, graph, overrides=overrides)
        key = self._key_env(prob, graph)
        needed = _needed(graph, b.name, env, ancestors)
        # Only the nodes downstream of a changed value are evaluated; the others are the key's own values.
        # A grad() node counts as changed: an answered gradient changes it without being among its inputs.
        changed = set(overrides)
        for name in graph.order:
            if name == b.name:
                break
            if name in env or name not in needed:
                continue
            if key is None or name not in key or graph.has_grad(name) or not changed.isdisjoint(graph.ancestors(name)):
                changed.add(name)
                ev.eval_node(name)
            else:
                ev.env[name] = key[name]
        return kinds.get(b.kind).coerce(ev.eval(graph.nodes[b.name].node)), ev

    def _key_env(self, prob: ProblemInstance, graph) -> dict[str, Any] | None:
        """Every node's value as the key computes it (before answers are coerced to their kinds), once per problem."""
        cache = self.__dict__.setdefault("_key_envs", {})
        if prob.number not in cache:
            from i2dl.evaluate import Evaluator

            try:
                cache[prob.number] = Evaluator(self.engine, prob.params, graph).run()
            except (I2dlError, ValueError, TypeError, IndexError, ArithmeticError, MemoryError):
                cache[prob.number] = None  # evaluated node by node instead, as before
        return cache[prob.number]


def _frozen(v: Any) -> bytes:
    """A raw answer as a hashable value that equals another only for the same answer: its pickle, which
    keeps every type (True is not 1, 1.0 is not '1', a list is not a tuple), floats bit for bit (-0.0 is
    not 0.0), dict keys in order and the text a flow list was written as.

    A shared object pickles as a back-reference, so equal answers may give two keys (a memo miss),
    but two keys are never equal for different answers. TypeError for what cannot be pickled.
    """
    try:
        return pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, AttributeError, RecursionError) as exc:
        raise TypeError(str(exc)) from None


def _needed(graph, name: str, env: dict[str, Any], ancestors: set[str]) -> set[str]:
    """The ancestors node `name` needs evaluated: none hidden behind a value `env` already holds.

    A grad() on the way re-evaluates the nodes between its arguments, which read any ancestor: then all are needed.
    """
    seen: set[str] = set()
    stack = [name]
    while stack:
        n = stack.pop()
        if graph.has_grad(n):
            return ancestors
        for d in graph.deps.get(n, ()):
            if d not in seen and d not in env:
                seen.add(d)
                stack.append(d)
    return seen


def _bounded_put(cache: dict, key: Any, value: Any, size: int) -> None:
    """cache[key] = value, the oldest entry out first when it holds `size`."""
    if len(cache) >= size:
        del cache[next(iter(cache))]
    cache[key] = value


def _value_key(v: Any) -> Any:
    """A value read from an answer as a hashable key (arrays by dtype, shape and bytes); TypeError if it has none."""
    if type(v) is np.ndarray:
        return (v.dtype.str, v.shape, v.tobytes())
    if type(v) is float:
        return (float, repr(v))
    hash(v)
    return (type(v), v)


def _upstream_of(graph, name: str, answered: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """_upstream for the answered node names `answered`, found once per graph and set of names."""
    cache = graph.__dict__.setdefault("_upstream", {})
    key = (name, answered)
    found = cache.get(key)
    if found is None:
        inputs, ancestors = _upstream(graph, name, dict.fromkeys(answered))
        found = (frozenset(inputs), frozenset(ancestors))
        _bounded_put(cache, key, found, 4096)
    return found


def _upstream(graph, name: str, read: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(the answered nodes `name` reads with no other answered node between, all its ancestors).

    Gradients count too: for grad(L, w) in the blank (or in an unanswered node it reads), an answered
    grad(L, u) with u between w and L is an input, the student's own dL/du.
    """
    inputs: set[str] = set()
    ancestors: set[str] = set()
    seen_open: set[str] = {name}  # reached on a path without an answered node
    seen: set[str] = set()
    stack = [(name, True)]
    while stack:
        n, is_open = stack.pop()
        for d in graph.deps.get(n, ()):
            ancestors.add(d)
            child_open = is_open and d not in read
            if is_open and d in read:
                inputs.add(d)
            if d in seen_open or (not child_open and d in seen):
                continue
            (seen_open if child_open else seen).add(d)
            stack.append((d, child_open))
    for n in seen_open & set(graph.nodes):
        for out, wrt in graph.grad_calls(n):
            for node, (o, u) in graph.grad_nodes.items():
                if node != name and node in read and o == out and (u == wrt or graph.depends_on(u, wrt)):
                    inputs.add(node)
                    ancestors.add(node)
            # Backward, every answered value between wrt and out counts (out's own value does not):
            # dL/dw is computed at the student's yhat even when their L hides it.
            for node in read:
                if node not in (name, out) and graph.depends_on(node, wrt) and graph.depends_on(out, node):
                    inputs.add(node)
                    ancestors.add(node)
            # The backward pass re-evaluates the nodes between wrt and out, so an answered value they
            # read off the path is an input too: dL/dw of z = w . y is taken at the student's own y.
            for node in _off_path_answers(graph, out, wrt, read):
                if node != name:
                    inputs.add(node)
                    ancestors.add(node)
    return inputs, ancestors


def _off_path_answers(graph, out: str, wrt: str, read: Mapping[str, Any]) -> set[str]:
    """The answered nodes that a node between wrt and out reads, off that path, with no answered node between."""
    path = set(graph.between(out, wrt))
    found: set[str] = set()
    stack = [d for p in path for d in graph.deps.get(p, ()) if d not in path]
    seen: set[str] = set()
    while stack:
        d = stack.pop()
        if d in seen or d == wrt:
            continue
        seen.add(d)
        if d in read:
            found.add(d)
        elif d in graph.nodes:
            stack.extend(x for x in graph.deps.get(d, ()) if x not in path)
    return found


def _same_value(a: Any, b: Any) -> bool:
    """The student's upstream value is the key's own (so it cannot be the source of a follow-through)."""
    return approx_equal(a, b, tol_abs=1e-9, tol_rel=1e-6)


def _raw_text(raw: Any) -> str:
    text = printable(raw) if isinstance(raw, str) else repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


def _blank_values(part: PartInstance, raw: Any, feedback: list[str]) -> dict[str, Any]:
    """The raw value of each blank: a mapping by blank name, or the value itself for one blank."""
    names = [b.name for b in part.blanks]
    if raw is None:
        return {}
    if isinstance(raw, dict):
        extra = [k for k in raw if k not in names]
        if extra:
            feedback.append(f"unknown blank{'s' if len(extra) > 1 else ''} {', '.join(printable(str(k)) for k in extra)} "
                            f"ignored (blanks: {', '.join(names)})")
        return {k: raw.get(k) for k in names}
    if len(names) == 1:
        return {names[0]: raw}
    feedback.append(f"expected one answer per blank ({', '.join(names)}), got a single value")
    return {}


def _blank_points(part: PartInstance) -> list[float]:
    """Each blank's points (PartInstance.blank_points)."""
    return part.blank_points()


def _part_score(part: PartInstance, rubric: Rubric, results: list[BlankResult], weights: list[float],
                raw: Any) -> float:
    if rubric.scheme == "per-blank":
        return sum(r.credit * w for r, w in zip(results, weights, strict=True))
    if rubric.scheme == "all-or-nothing":
        return part.points if all(r.credit >= 1.0 for r in results) else 0.0
    if rubric.scheme == "final-or-steps":
        final = rubric.final or results[-1].name
        at = next((i for i, r in enumerate(results) if r.name == final), len(results) - 1)
        if results[at].credit >= 1.0:
            return part.points
        return sum(r.credit * w for i, (r, w) in enumerate(zip(results, weights, strict=True)) if i != at)
    if rubric.scheme == "threshold":
        # "At least one correct" means right for the key, unless the rubric counts follow-through.
        n_right = sum(1 for r in results if r.credit >= 1.0 and (rubric.count_follow_through or r.status != FOLLOW))
        # The best threshold met, whatever order the rubric lists them in.
        met = [t.credit for t in rubric.thresholds
               if n_right >= (len(results) if t.correct == "all" else int(t.correct))]
        return max(met, default=0.0) * part.points
    if rubric.scheme == "per-option":
        total = 0.0
        for b, r in zip(part.blanks, results, strict=True):
            if b.kind != "choice" or r.status in (INVALID, MISSING):
                continue
            got = frozenset(r.value or ())
            n = b.options
            if not n:  # a spec's choice blank does not record its options: all or nothing
                total += r.credit * part.points / len(part.blanks)
                continue
            right = sum(1 for i in range(n) if (chr(65 + i) in got) == (chr(65 + i) in b.expected))
            total += max(0.0, (right - (n - right)) / n) * part.points / len(part.blanks)
        return total
    return 0.0
