"""Scoring one submission against an exam: blanks, alternatives, follow-through, rubric schemes."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from i2dl import kinds
from i2dl.errors import AnswerParseError, I2dlError, SubmissionError
from i2dl.io import has_lone_surrogate, printable
from i2dl.kinds import MissingAnswer, approx_equal, parse_answer
from i2dl.render import fmt_value, render_template
from i2dl.spec.instance import Blank, PartInstance, ProblemInstance
from i2dl.spec.rubric import MCQ_RUBRIC, Rubric, resolve_rubric

# Blank statuses: invalid (unreadable) and missing are not the same as wrong.
CORRECT, FOLLOW, ALTERNATIVE, PARTIAL, WRONG, INVALID, MISSING, MANUAL = (
    "correct", "follow-through", "alternative", "partial", "wrong", "invalid", "missing", "manual")


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
        raise SubmissionError(f"answers must be a mapping from part number to answer, got {type(answers).__name__}",
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
    return kinds.get(b.kind).compare(got, expected, (b.tol_abs, b.tol_rel), rubric.arrays, points)


def _trivial(v: Any, givens: list[Any]) -> bool:
    """An upstream value that makes later work trivial: all zeros, or a copy of a given number."""
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    if a.size and np.all(a == 0):
        return True
    for g in givens:
        try:
            ga = np.asarray(g, dtype=float)
        except (TypeError, ValueError):
            continue
        if ga.size and approx_equal(ga, a, tol_abs=1e-8, tol_rel=1e-5):
            return True
    return False


# ---------------------------------------------------------------------------- grading


class Grader:
    """Grades submissions for one exam; follow-through re-evaluates the spec's answer graph."""

    def __init__(self, exam, engine_name: str | None = None, library=None):
        self.exam = exam
        self.engine_name = engine_name
        self._library = library
        self._engine = None
        self._compiled: dict[int, Any] = {}  # problem number -> its compiled spec
        self._rubrics: dict[tuple[int, str], Rubric] = {}
        self._feedback: dict[tuple[int, str], str] = {}
        self._expected_text: dict[int, str] = {}  # id(blank) -> the key as text, formatted once per exam
        self.spec_errors: dict[str, str] = {}  # spec id -> why it could not be loaded
        self._unchecked: set[int] = set()  # problems whose follow-through could not be checked
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
        for prob in self.exam.problems:
            read: dict[str, Any] = {}  # this student's valid values by node name, for follow-through
            for part in prob.parts:
                parts.append(self.grade_part(prob, part, sub.answers.get(part.number), read))
        for prob in self.exam.problems:
            if prob.number in self._unchecked:
                notes.append(f"problem {prob.number}: follow-through not checked, the spec could not be loaded "
                             f"({self.spec_errors[prob.spec_id]})")
        total = round(sum(p.score for p in parts), 6)
        return SubmissionResult(sub.file, sub.student_id, sub.name, parts, total, self.exam.points, notes)

    def grade_part(self, prob: ProblemInstance, part: PartInstance, raw: Any, read: dict[str, Any]) -> PartResult:
        rubric = self.rubric(prob, part)
        feedback: list[str] = []
        values = _blank_values(part, raw, feedback)
        weights = _blank_points(part)
        results: list[BlankResult] = []
        for b, w in zip(part.blanks, weights, strict=True):
            results.append(self.grade_blank(prob, part, b, values.get(b.name, None), rubric, w, read))
        score = _part_score(part, rubric, results, weights, raw)
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
            return BlankResult(b.name, b.label, MANUAL, 0.0, printable(str(raw or "")), expected_text,
                               "free text: graded by hand")
        try:
            # A choice blank of a spec does not record its options: any letter A to Z is readable.
            got = parse_answer(raw, b.kind, n_options=b.options or 26)
        except MissingAnswer:
            return BlankResult(b.name, b.label, MISSING, 0.0, "", expected_text, "no answer given")
        except AnswerParseError as exc:
            return BlankResult(b.name, b.label, INVALID, 0.0, _raw_text(raw), expected_text,
                               f"could not read this answer: {exc.message}")
        read[b.name] = got
        shown = kind.format(got)
        result = self._judge(prob, part, b, got, shown, expected_text, rubric, points, read)
        result.value = got
        return result

    def _judge(self, prob, part, b, got, shown, expected_text, rubric, points, read) -> BlankResult:
        credit, note = compare(got, b, b.expected, rubric, points)
        if credit >= 1.0:
            return BlankResult(b.name, b.label, CORRECT, 1.0, shown, expected_text)
        best = BlankResult(b.name, b.label, PARTIAL if credit > 0 else WRONG, credit, shown, expected_text, note)
        for alt in b.alternatives:
            c, alt_note = compare(got, b, alt["value"], rubric, points)
            if c >= 1.0:
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
        if best.credit < 1.0 and rubric.follow_through > 0 and prob.kind == "spec":
            ft = self.follow_through(prob, b, got, read, rubric, points)
            if ft is not None and ft.credit > best.credit:
                ft.read = shown
                return ft
            if ft is not None and ft.feedback and ft.feedback not in best.feedback:
                best.feedback = "; ".join(f for f in (best.feedback, ft.feedback) if f)
        return best

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
        inputs, ancestors = _upstream(graph, b.name, read)
        wrong = {n: read[n] for n in inputs if not _same_value(read[n], prob.values.get(n))}
        if not wrong:
            return None
        try:
            redo = self._recompute(prob, graph, b, {n: read[n] for n in inputs}, ancestors)
        except (I2dlError, ValueError, TypeError, IndexError, ArithmeticError, MemoryError):
            return None
        credit, note = compare(got, b, redo, rubric, points)
        if credit <= 0:
            return None
        # Only the givens this blank is computed from: a wrong y that happens to equal an unrelated
        # kernel size is not a copy of a given.
        givens = [v for k, v in prob.params.items() if k in ancestors]
        trivial = sorted(n for n, v in wrong.items() if _trivial(v, givens))
        if trivial:
            return BlankResult(b.name, b.label, WRONG, 0.0, "", fmt_value(b.expected),
                               f"no follow-through: your {', '.join(trivial)} from "
                               f"{', '.join(self._parts_of(prob, trivial))} makes this step trivial")
        share = rubric.follow_through * credit
        return BlankResult(b.name, b.label, FOLLOW, share, "", fmt_value(b.expected),
                           f"follow-through from {', '.join(self._parts_of(prob, wrong))}: right for your own "
                           f"{', '.join(sorted(wrong))} (expected from it: {fmt_value(redo)})"
                           + (f"; {note}" if note else ""))

    def _parts_of(self, prob: ProblemInstance, names) -> list[str]:
        return sorted({self.node_part.get((prob.number, n), n) for n in names})

    def _recompute(self, prob: ProblemInstance, graph, b: Blank, overrides: dict[str, Any],
                   ancestors: set[str]) -> Any:
        """The blank's value from the student's own upstream answers: only its ancestors are evaluated."""
        from i2dl.evaluate import Evaluator

        env = {**prob.params, **overrides}
        ev = Evaluator(self.engine, env, graph, overrides=overrides)
        for name in graph.order:
            if name == b.name:
                break
            if name in ancestors and name not in env:
                ev.eval_node(name)
        return kinds.get(b.kind).coerce(ev.eval(graph.nodes[b.name].node))


def _upstream(graph, name: str, read: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(the answered nodes `name` reads with no other answered node between, all its ancestors)."""
    inputs: set[str] = set()
    ancestors: set[str] = set()
    seen_open: set[str] = set()  # reached on a path without an answered node
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
    return inputs, ancestors


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
    """Each blank's points: as given on the answers (scaled to the part), else equal shares."""
    given = [b.points for b in part.blanks]
    if all(p is not None for p in given) and sum(given) > 0:
        scale = part.points / sum(given)
        return [p * scale for p in given]
    return [part.points / len(part.blanks)] * len(part.blanks)


def _part_score(part: PartInstance, rubric: Rubric, results: list[BlankResult], weights: list[float],
                raw: Any) -> float:
    if rubric.scheme == "per-blank":
        return sum(r.credit * w for r, w in zip(results, weights, strict=True))
    if rubric.scheme == "all-or-nothing":
        return part.points if all(r.credit >= 1.0 for r in results) else 0.0
    if rubric.scheme == "threshold":
        n_right = sum(1 for r in results if r.credit >= 1.0)
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
