"""The grading queue without a screen: questions, answer groups, marks, item points, export and import.

The Textual app (review/app.py) is a view of a Queue; tests drive both. Every change goes straight
to the marks store in one transaction.
"""

from __future__ import annotations

import csv
import io as _io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2dl.errors import NotFoundError, UsageError
from i2dl.grade.batch import COHORT_PART
from i2dl.grade.manual import Mark, applied_items, is_stale
from i2dl.io import FORMULA_STARTS, display_path
from i2dl.render import fmt_number
from i2dl.review.groups import (
    DEFAULT_THRESHOLD,
    Group,
    group_answers,
    normalise,
    split_by_threshold,
)
from i2dl.review.store import Key, MarkStore, QuestionKey, StoredMark, now, store_path


@dataclass(frozen=True)
class Item:
    """A rubric checklist item: points > 0 full or partial credit, < 0 a deduction, 0 a named mistake."""

    id: str
    points: float
    text: str
    suggest: tuple[str, ...] = ()
    instead_of: str | None = None


@dataclass(frozen=True)
class Question:
    """One by-hand blank of the exam: where it is, what it asks, its points and its checklist."""

    part: str
    blank: str
    label: str
    text: str
    points: float
    model_answer: str = ""
    items: tuple[Item, ...] = ()
    qid: str = ""  # the part's id in exam.json (a short answer's bank id)
    #: A cohort's question: the part number it has in each asking student's variant (by id key); None: one exam.
    where: Mapping[str, str] | None = None

    @property
    def key(self) -> QuestionKey:
        """Where groups and edited points are kept: a cohort's question by its id alone, at whatever part."""
        return (self.part if self.where is None else COHORT_PART, self.blank, self.qid)

    def part_of(self, student: str) -> str | None:
        """The part number this question has on the student's sheet (None: not asked of them)."""
        if self.where is None:
            return self.part
        from i2dl.grade.variants import id_key

        return self.where.get(id_key(student, "insensitive"))

    @property
    def title(self) -> str:
        return f"{self.part} {self.label or self.blank}"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)


def questions_from_exam(exam: Any) -> list[Question]:
    """Every by-hand blank of the exam as a Question, in exam order; for a cohort, each distinct question of
    its variants at a part (with the students whose variant asks it)."""
    from i2dl import kinds
    from i2dl.grade.variants import id_key

    if not exam.is_cohort:
        return [_question(part, b, part.number, None) for _, part in exam.parts() for b in part.blanks
                if kinds.get(b.kind).by_hand]
    # A cohort: one question per bank question (and blank), whichever part number each variant gives it.
    students: dict[str, list[str]] = {}
    for r in exam.roster:
        students.setdefault(r["variant"], []).append(id_key(r["student_id"], "insensitive"))
    found: dict[tuple[str, str], tuple[Any, Any, dict[str, str]]] = {}
    for one in exam.variants.values():
        for _, part in one.parts():
            for b in part.blanks:
                if kinds.get(b.kind).by_hand:
                    _, _, where = found.setdefault((part.id, b.name), (part, b, {}))
                    where.update({s: part.number for s in students.get(one.variant, [])})
    out = []
    for part, b, where in found.values():
        shown = "/".join(sorted(set(where.values()), key=_part_order)) or part.number
        out.append(_question(part, b, shown, where))
    return sorted(out, key=lambda q: (_part_order(q.part.split("/")[0]), q.qid, q.blank))


def _part_order(number: str) -> tuple[int, ...]:
    return tuple(int(n) if n.isdigit() else 0 for n in number.split("."))


def _question(part: Any, b: Any, shown: str, where: dict[str, str] | None) -> Question:
    points = b.points if b.points is not None else part.points / max(len(part.blanks), 1)
    items = tuple(Item(str(_get(i, "id")), float(_get(i, "points", 0.0)), str(_get(i, "text", "")),
                       tuple(str(w) for w in (_get(i, "suggest") or ())), _get(i, "instead_of"))
                  for i in (_get(b, "checklist") or ()))
    return Question(shown, b.name, b.label, part.text, float(points), str(_get(b, "model_answer") or ""),
                    items, part.id, where)


def suggested(question: Question, text: str) -> set[str]:
    """The items whose keywords occur in `text` (whole words, after normalisation): shown, never awarded."""
    words = f" {normalise(text)} "
    return {it.id for it in question.items
            if any(f" {normalise(w)} " in words for w in it.suggest if normalise(w))}


@dataclass
class Conflict:
    """An imported mark that differs from the one in the store and comes from another TA."""

    key: Key
    ours: StoredMark
    theirs: StoredMark


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    same: int = 0
    points: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    point_conflicts: list[tuple[tuple[str, str, str, str], float, float, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # rows naming no question or answer of these results


EXPORT_COLUMNS = ["kind", "student_id", "part", "blank", "question", "items", "comment", "answer", "item", "points",
                  "ta", "time"]


class Queue:
    """The questions of an exam, each student's text answer, and the marks store beside them."""

    def __init__(self, questions: Sequence[Question], answers: Sequence[tuple[str, str, str, str]],
                 store: MarkStore, ta: str = "", threshold: float = DEFAULT_THRESHOLD):
        self.questions = list(questions)
        self.store = store
        self.ta = ta
        self.threshold = threshold
        self.answers: dict[QuestionKey, dict[str, str]] = {q.key: {} for q in self.questions}
        for student, part, blank, text in answers:
            q = next((q for q in self.questions if q.blank == blank and q.part_of(student) == part), None)
            if q is not None and text.strip():
                self.answers[q.key][student] = text
        self._groups: dict[QuestionKey, list[Group]] = {}
        self._marks = store.marks()
        self._points = store.item_points()
        self._progress: dict[int, tuple[int, int]] = {}  # per question; forgotten whenever marks change

    # ------------------------------------------------------------------ groups

    def groups(self, qi: int) -> list[Group]:
        """The question's answer groups: as saved in the store, new answers grouped and saved on first sight."""
        q = self.questions[qi]
        if q.key in self._groups:
            return self._groups[q.key]
        texts = self.answers[q.key]
        saved = {s: g for s, g in self.store.groups(q.key).items() if s in texts}
        new = [(s, t) for s, t in texts.items() if s not in saved]
        if new:
            # New answers join a saved group holding the same normalised text; the others get groups of their own.
            by_norm = {normalise(texts[s]): g for s, g in sorted(saved.items(), key=lambda kv: kv[1])}
            nxt = max(saved.values(), default=-1) + 1
            added: dict[str, int] = {}
            for g in group_answers(new, self.threshold):
                target = by_norm.get(normalise(g.representative))
                if target is None:
                    target, nxt = nxt, nxt + 1
                for s in g.students:
                    added[s] = target
            self.store.set_groups(q.key, added)
            saved.update(added)
        self._groups[q.key] = self._build(q, saved)
        return self._groups[q.key]

    def _build(self, q: Question, assignment: Mapping[str, int]) -> list[Group]:
        texts = self.answers[q.key]
        members: dict[int, list[str]] = {}
        for s in texts:  # answers in grading order
            members.setdefault(assignment[s], []).append(s)
        out = []
        for g in sorted(members):
            students = members[g]
            counts: dict[str, int] = {}
            for s in students:
                counts[texts[s]] = counts.get(texts[s], 0) + 1
            best = max(counts.values())
            out.append(Group(tuple(students), next(texts[s] for s in students if counts[texts[s]] == best)))
        return out

    def _save_groups(self, qi: int, groups: list[Group]) -> None:
        q = self.questions[qi]
        assignment = {s: i for i, g in enumerate(groups) for s in g.students}
        self.store.set_groups(q.key, assignment)
        self._groups[q.key] = self._build(q, assignment)

    def split_out(self, qi: int, gi: int, student: str) -> None:
        """Take one answer out of its group into a group of its own (placed right after it)."""
        groups = list(self.groups(qi))
        g = groups[gi]
        if student not in g.students or len(g) < 2:
            return
        rest = Group(tuple(s for s in g.students if s != student), g.representative)
        groups[gi:gi + 1] = [rest, Group((student,), self.answers[self.questions[qi].key][student])]
        self._save_groups(qi, groups)

    def split_threshold(self, qi: int, gi: int, threshold: float) -> int:
        """Regroup one group at a stricter threshold; the number of groups it became."""
        groups = list(self.groups(qi))
        parts = split_by_threshold(groups[gi], self.answers[self.questions[qi].key], threshold)
        groups[gi:gi + 1] = parts
        self._save_groups(qi, groups)
        return len(parts)

    # ------------------------------------------------------------------ points and marks

    def item_points(self, q: Question, item: Item) -> float:
        """The item's points: a TA's edit if there is one, else the checklist's."""
        return self._points.get((*q.key, item.id), item.points)

    def points(self, q: Question, items: Sequence[str]) -> float:
        """The points of a mark as grading gives them: the applied items' points (a partial item drops out
        beside its full one) summed, clamped to [0, the question's points]."""
        total = sum(self.item_points(q, it) for it in applied_items(q.items, items))
        return min(max(total, 0.0), q.points)

    def mark(self, qi: int, student: str) -> StoredMark | None:
        q = self.questions[qi]
        m = self._marks.get((student, q.part_of(student) or "", q.blank))
        if m is None or student not in self.answers[q.key] or is_stale(m.mark(), self.answers[q.key][student]):
            return None  # a mark of another answer text is stale: the answer is ungraded
        return m

    def group_mark(self, qi: int, gi: int) -> StoredMark | None:
        """The mark every answer of the group shares, or None (ungraded, or marked differently)."""
        g = self.groups(qi)[gi]
        marks = [self.mark(qi, s) for s in g.students]
        first = marks[0]
        if first is None or any(m is None or (m.items, m.comment) != (first.items, first.comment) for m in marks):
            return None
        return first

    def apply(self, qi: int, gi: int, items: Sequence[str], comment: str) -> None:
        """Mark every answer of the group with these items and this comment (one transaction)."""
        q = self.questions[qi]
        order = [it.id for it in q.items]
        chosen = tuple(i for i in order if i in set(items))
        texts = self.answers[q.key]
        answers = {(s, q.part_of(s) or "", q.blank): texts[s] for s in self.groups(qi)[gi].students}
        stamp = now()
        self.store.set_marks(answers, chosen, comment, self.ta, stamp)
        self._progress.pop(qi, None)
        for k, text in answers.items():
            self._marks[k] = StoredMark(chosen, comment, text, self.ta, stamp)

    def unmark(self, qi: int, gi: int) -> None:
        """Remove the marks of the group's answers (ungraded again)."""
        q = self.questions[qi]
        keys = [(s, q.part_of(s) or "", q.blank) for s in self.groups(qi)[gi].students]
        self.store.clear_marks(keys)
        self._progress.pop(qi, None)
        for k in keys:
            self._marks.pop(k, None)

    def set_item_points(self, qi: int, item_id: str, points: float) -> None:
        """Give a checklist item new points: every answer that has it is re-graded (points are read, not stored)."""
        q = self.questions[qi]
        if item_id not in {it.id for it in q.items}:
            raise UsageError(f"no rubric item '{item_id}' in {q.title}",
                             fix="items: " + ", ".join(it.id for it in q.items))
        self.store.set_item_points(q.key, item_id, points, self.ta)
        self._points[(*q.key, item_id)] = float(points)

    def progress(self, qi: int) -> tuple[int, int]:
        """(answers marked, answers) of one question."""
        if qi not in self._progress:
            texts = self.answers[self.questions[qi].key]
            self._progress[qi] = (sum(1 for s in texts if self.mark(qi, s) is not None), len(texts))
        return self._progress[qi]

    def next_ungraded(self, qi: int, gi: int) -> tuple[int, int] | None:
        """The first group after (qi, gi) holding an unmarked answer, across questions, wrapping round."""
        spots = [(i, j) for i in range(len(self.questions)) for j in range(len(self.groups(i)))]
        if not spots:
            return None
        start = spots.index((qi, gi)) if (qi, gi) in spots else -1
        for k in range(1, len(spots) + 1):
            i, j = spots[(start + k) % len(spots)]
            if any(self.mark(i, s) is None for s in self.groups(i)[j].students):
                return i, j
        return None

    # ------------------------------------------------------------------ export and import

    def question_of(self, student: str, part: str, blank: str) -> Question | None:
        """The question the student answered at this part and blank (their variant's, in a cohort)."""
        return next((q for q in self.questions if q.blank == blank and q.part_of(student) == part
                     and student in self.answers[q.key]), None)

    def export_csv(self, path: Path | str) -> int:
        """Write every mark and every edited item's points to a CSV; the number of rows."""
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        n = 0
        for (s, p, b), m in self.store.marks().items():
            q = self.question_of(s, p, b)
            w.writerow(["mark", _quote(s), p, b, q.qid if q else "", " ".join(m.items), _quote(m.comment),
                        _quote(m.answer), "", "", _quote(m.ta), m.time])
            n += 1
        for (p, b, qid, i), (pts, ta, t) in self.store.item_edits().items():
            w.writerow(["points", "", p, b, qid, "", "", "", i, fmt_number(pts), _quote(ta), t])
            n += 1
        Path(path).write_text(buf.getvalue(), encoding="utf-8")
        return n

    def import_csv(self, path: Path | str, *, replace: bool = False) -> ImportReport:
        """Merge another TA's export: new marks are added; a differing mark of another TA is a conflict,
        skipped and reported (taken only with replace=True); one's own newer mark replaces the older."""
        rows = _read_export(Path(path))
        report = ImportReport()
        ours = self.store.marks()
        questions = {q.key: q for q in self.questions}
        take: dict[Key, StoredMark] = {}
        edits: list[tuple[QuestionKey, str, float, str, str]] = []
        for n, row in rows:
            where = f"{display_path(path)} row {n}"
            part, blank = row["part"], row["blank"]
            q = questions.get((part, blank, row["question"])) or questions.get((COHORT_PART, blank, row["question"]))
            if q is None:
                report.unknown.append(f"{where}: no free-text question {part} {blank} ({row['question']}) in "
                                      "these results")
                continue
            if row["kind"] == "points":
                key4 = (*q.key, row["item"])
                try:
                    pts = float(row["points"])
                except ValueError:
                    report.unknown.append(f"{where}: points '{row['points']}' is not a number")
                    continue
                mine = self._points.get(key4)
                if mine is not None and mine != pts and not replace:
                    report.point_conflicts.append((key4, mine, pts, row["ta"]))
                    continue
                if mine != pts:
                    edits.append((q.key, row["item"], pts, row["ta"], row["time"]))
                    self._points[key4] = pts
                    report.points += 1
                continue
            student = row["student_id"]
            key = (student, part, blank)
            current = self.answers[q.key].get(student)
            if current is None or is_stale(Mark((), "", row["answer"]), current):
                report.unknown.append(f"{where}: student {student} has no answer "
                                      + ("" if current is None else "like the one marked ") + f"to {q.title} here")
                continue
            theirs = StoredMark(tuple(row["items"].split()), row["comment"], row["answer"], row["ta"], row["time"])
            bad = [i for i in theirs.items if i not in {it.id for it in q.items}]
            if bad:
                report.unknown.append(f"{where}: no rubric item {', '.join(bad)} in {q.title}")
                continue
            mine_mark = ours.get(key)
            if mine_mark is None or is_stale(mine_mark.mark(), current):
                take[key] = theirs
                report.added += 1
            elif (mine_mark.items, mine_mark.comment) == (theirs.items, theirs.comment):
                report.same += 1
            elif replace or (mine_mark.ta == theirs.ta and theirs.time > mine_mark.time):
                take[key] = theirs
                report.updated += 1
            else:
                report.conflicts.append(Conflict(key, mine_mark, theirs))
        if take or edits:
            self.store.put_marks(take, edits)  # the whole import is one transaction
            self._marks.update(take)
            self._progress.clear()
        return report


def _quote(cell: str) -> str:
    """A text cell a spreadsheet cannot run (a formula start gets a leading quote), read back by _unquote."""
    return "'" + cell if cell.startswith((*FORMULA_STARTS, "'")) else cell


def _unquote(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _read_export(path: Path) -> list[tuple[int, dict[str, str]]]:
    where = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError("no such marks CSV", where=where, fix="pass the file `i2dl review --export` wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the marks CSV: {exc}", where=where,
                         fix="pass the UTF-8 file `i2dl review --export` wrote") from None
    reader = csv.reader(_io.StringIO(text))
    header = next(reader, None)
    if header != EXPORT_COLUMNS:
        raise UsageError("not a marks CSV of `i2dl review --export` (its header differs)", where=where,
                         fix="header: " + ",".join(EXPORT_COLUMNS))
    out = []
    for n, cells in enumerate(reader, 2):
        if not cells:
            continue
        if len(cells) != len(EXPORT_COLUMNS) or cells[0] not in ("mark", "points"):
            raise UsageError(f"row {n} is not a mark or points row", where=where,
                             fix="export the marks again; do not edit the file by hand")
        row = dict(zip(EXPORT_COLUMNS, cells, strict=True))
        for k in ("student_id", "comment", "answer", "ta"):
            row[k] = _unquote(row[k])
        out.append((n, row))
    return out


def conflict_lines(report: ImportReport) -> list[str]:
    """What an import skipped, one line each, in words a TA acts on."""
    lines = []
    for c in report.conflicts:
        s, p, b = c.key
        lines.append(f"{p} {b} of {s}: kept {c.ours.ta or 'your'}'s items [{' '.join(c.ours.items)}]"
                     f"{' ' + repr(c.ours.comment) if c.ours.comment else ''}; skipped {c.theirs.ta or 'the file'}'s "
                     f"[{' '.join(c.theirs.items)}]{' ' + repr(c.theirs.comment) if c.theirs.comment else ''}")
    for (p, b, _, i), mine, theirs, ta in report.point_conflicts:
        lines.append(f"{p} {b} item {i}: kept {fmt_number(mine)} points; skipped {ta or 'the file'}'s "
                     f"{fmt_number(theirs)}")
    return lines + list(report.unknown)


def open_queue(results: Path | str, exam_dir: Path | str | None = None, *, ta: str = "",
               accept_modified: bool = False) -> Queue:
    """The queue of a results folder: the exam's by-hand questions, the kept answers, the marks store."""
    import json

    from i2dl.exam import load_exam
    from i2dl.review.answers import read_text_answers

    results = Path(results)
    try:
        manifest = json.loads((results / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFoundError("not a results folder of `i2dl grade` (no readable manifest.json)",
                            where=display_path(results), fix="pass the --out folder of `i2dl grade`") from None
    exam = load_exam(exam_dir if exam_dir is not None else "exam", accept_modified=accept_modified)
    if isinstance(manifest, dict) and manifest.get("exam_id") not in (None, exam.exam_id):
        raise UsageError(f"these results are of exam {manifest.get('exam_id')}, not of {exam.exam_id}",
                         where=display_path(results), fix="pass that exam's folder with --exam")
    questions = questions_from_exam(exam)
    answers = list(read_text_answers(results)) if questions else []
    return Queue(questions, answers, MarkStore(store_path(results)), ta=ta)


def export_marks(results: Path | str, exam_dir: Path | str | None, path: Path | str, *,
                 accept_modified: bool = False) -> dict[str, Any]:
    """`review --export`: every mark and edited item of the results' store written to a CSV."""
    queue = open_queue(results, exam_dir, accept_modified=accept_modified)
    try:
        rows = queue.export_csv(path)
        marks = len(queue.store.marks())
    finally:
        queue.store.close()
    return {"file": display_path(path), "rows": rows, "marks": marks, "edited_items": rows - marks}


def import_marks(results: Path | str, exam_dir: Path | str | None, path: Path | str, *, ta: str = "",
                 replace: bool = False, accept_modified: bool = False) -> dict[str, Any]:
    """`review --import`: another TA's export merged; what was added and what was skipped, and why."""
    queue = open_queue(results, exam_dir, ta=ta, accept_modified=accept_modified)
    try:
        report = queue.import_csv(path, replace=replace)
    finally:
        queue.store.close()
    return {"file": display_path(path), "added": report.added, "updated": report.updated, "same": report.same,
            "edited_items": report.points, "skipped": conflict_lines(report),
            "conflicts": len(report.conflicts) + len(report.point_conflicts), "unknown": len(report.unknown)}


def queue_progress(queue: Queue) -> list[dict[str, Any]]:
    """Marked answers per question (what the app's header shows), as plain data."""
    return [{"question": q.title, "marked": d, "answers": t}
            for q, (d, t) in zip(queue.questions, (queue.progress(i) for i in range(len(queue.questions))),
                                 strict=True)]
