"""The explain_* entry points: a part, a problem or a spec, and the worked steps of the solution key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from i2dl.errors import I2dlError, NotFoundError, UsageError

from .context import _Ctx
from .output import part_markdown
from .parts import _part_explanation
from .steps import _plain
from .student import _Graded, graded_view


def explain_part(exam: Any, number: str, *, engine_name: str | None = None, entry: Any = None,
                 graded: Any = None, library: Any = None) -> dict[str, Any]:
    """The worked solution of part `number` ('3.6') of an exam; `graded` a student's grading result to set beside it."""
    exam = _exam(exam)
    prob, part = exam.find_part(str(number))
    ctx = _context(prob, engine_name, _entry(entry), library=library) if prob.kind == "spec" else None
    out = _part_explanation(prob, part, ctx, graded_view(graded))
    return _with_notices(out, exam, prob, library)


def explain_problem(exam: Any, problem_number: int | str, *, engine_name: str | None = None, entry: Any = None,
                    graded: Any = None, library: Any = None) -> dict[str, Any]:
    """The worked solution of every part of problem `problem_number` of an exam."""
    exam = _exam(exam)
    try:
        number = int(problem_number)
    except (TypeError, ValueError):
        raise UsageError(f"'{problem_number}' is not a problem number",
                         fix="problems: " + ", ".join(str(p.number) for p in exam.problems)) from None
    prob = exam.find_problem(number)
    out = _problem_explanation(prob, engine_name, _entry(entry), graded_view(graded), library=library)
    return _with_notices(out, exam, prob, library)


def _with_notices(out: dict[str, Any], exam: Any, prob: Any, library: Any) -> dict[str, Any]:
    """The explanation with a notice when its steps may not be those of the exam's own spec."""
    from i2dl.exam import spec_changes

    notices = [c["note"] for c in spec_changes(exam, library, {prob.number})]
    if prob.kind == "spec" and prob.spec is None:
        notices.append(f"this exam was written before exams carried their own specs (exam.json format 1 or 2): "
                       f"the steps come from spec '{prob.spec_id}' as it is on disk now, which may differ from "
                       "the one the exam was made with; regenerate the exam with its seed to make it self-contained")
    if notices:
        out["notices"] = notices
    return out


def explain_spec(spec_id: str, pins: dict[str, Any] | None = None, seed: int = 0, *,
                 engine_name: str | None = None, entry: Any = None, library: Any = None) -> dict[str, Any]:
    """The worked solution of every part of a spec for pinned (and otherwise seeded) parameters."""
    from i2dl.engine import get_engine
    from i2dl.spec.instance import make_instance
    from i2dl.spec.load import Library, load_spec

    library = library or Library()
    path = Path(spec_id)
    try:
        compiled = load_spec(path) if path.suffix in (".yaml", ".yml") and path.exists() else library.get(spec_id)
    except NotFoundError as exc:
        if "known specs" not in (exc.fix or ""):  # name what exists, not only the near misses
            exc.fix = (exc.fix or "").strip() + " known specs: " + ", ".join(library.ids())
        raise
    inst = make_instance(compiled, int(seed), get_engine(engine_name or "numpy"), pins=dict(pins or {}))
    out = _problem_explanation(inst, engine_name, _entry(entry), None, compiled=compiled)
    out["params"] = {k: _plain(v) for k, v in inst.params.items()}
    out["warnings"] = list(inst.warnings)
    return out


def _student_variant(exam: Any, graded: Any) -> Any:
    """The variant of a cohort that the graded student was given (steps are worked with its numbers)."""
    if graded is None:
        raise UsageError(f"exam {exam.exam_id} is a cohort: every student has their own numbers",
                         fix="pass the student's answer file with --student FILE to explain their variant")
    wanted = graded.student_id.casefold()
    for r in exam.roster:
        if r["student_id"].casefold() == wanted:
            return exam.variants[r["variant"]]
    raise UsageError(f"student '{graded.student_id}' is not on the roster of exam {exam.exam_id}",
                     fix="pass the answer file of a student on the roster")


def explain_instance(problem: Any, *, compiled: Any = None, engine_name: str | None = None,
                     entry: Any = None) -> dict[str, Any]:
    """The worked solution of every part of a problem instance already made (an exam's or a sampler's)."""
    return _problem_explanation(problem, engine_name, _entry(entry), None, compiled=compiled)


def explain_target(words: list[str], *, exam_dir: str | Path = "exam", pins: dict[str, Any] | None = None,
                   seed: int = 0, engine_name: str | None = None, entry: Any = None,
                   student: str | Path | None = None, accept_modified: bool = False,
                   library: Any = None, grade: Any = None) -> dict[str, Any]:
    """What `i2dl explain WORDS` asks for: 'problem 3.6', '3.6', 'problem 3', or a spec id.

    With `student`, `grade(path, exam)` (the grader, passed in by the caller: explain does not
    import grading) gives the result that is set next to the steps.
    """
    words = [w for w in words if w.strip()]
    if words and words[0].lower() == "problem":
        words = words[1:]
        if not words:
            raise UsageError("'explain problem' needs a number", fix="e.g. i2dl explain problem 3.6")
    if len(words) != 1:
        raise UsageError(f"expected one part, problem or spec id, got {' '.join(words) or 'nothing'}",
                         fix="e.g. i2dl explain 3.6, i2dl explain problem 3, i2dl explain conv1d-backprop")
    target = words[0]
    if re.fullmatch(r"\d+(\.\d+)?", target):
        if pins:
            raise UsageError("--param pins the parameters of a spec, not of an exam problem",
                             fix="give a spec id, e.g. i2dl explain conv1d-backprop --param j=2")
        exam = _exam(exam_dir, accept_modified)
        graded = None
        if student is not None:
            if grade is None:
                raise UsageError("--student needs a grader", fix="call explain_target with grade=grade_file")
            graded = grade(student, exam)
        if exam.is_cohort:
            exam = _student_variant(exam, graded)
        if "." in target:
            return explain_part(exam, target, engine_name=engine_name, entry=entry, graded=graded,
                                library=library)
        return explain_problem(exam, int(target), engine_name=engine_name, entry=entry, graded=graded,
                               library=library)
    if student is not None:
        raise UsageError("--student compares with an exam's answers; it needs a part or problem number",
                         fix="e.g. i2dl explain 3.6 --student answers.yaml")
    return explain_spec(target, pins, seed, engine_name=engine_name, entry=entry, library=library)


def key_steps(exam: Any) -> dict[str, str]:
    """Worked steps per part number, as Markdown, for the solution key (spec problems only)."""
    return {number: part_markdown(expl, header=False) for number, expl in key_explanations(exam).items()}


def key_explanations(exam: Any) -> dict[str, dict[str, Any]]:
    """Each spec part's worked solution (the data `explain` shows) by part number; parts that fail are left out."""
    out: dict[str, dict[str, Any]] = {}
    for prob in exam.problems:
        if prob.kind != "spec":
            continue
        try:
            ctx = _context(prob, None, None)
        except I2dlError:
            continue  # a spec that no longer loads keeps its key without worked steps
        for part in prob.parts:
            try:
                out[part.number] = _part_explanation(prob, part, ctx, None)
            except (I2dlError, ArithmeticError, LookupError, TypeError, ValueError):
                continue  # the key keeps this part's answers; worked steps must never stop an exam
    return out


def _exam(exam: Any, accept_modified: bool = False) -> Any:
    """An Exam, loading it from a folder; a missing folder lists the exams that do exist."""
    if not isinstance(exam, (str, Path)):
        return exam
    from i2dl.exam import EXAM_FILE, load_exam

    try:
        return load_exam(exam, accept_modified=accept_modified)
    except NotFoundError as exc:
        here = sorted(str(p.parent) for p in Path(".").glob(f"*/{EXAM_FILE}"))
        exc.fix = ("exams here: " + ", ".join(here) + " (pass --exam DIR)") if here else \
            "no exam folders here: run `i2dl generate --out DIR` first, or pass --exam DIR"
        raise


def _entry(entry: Any) -> tuple[int, ...] | None:
    """An entry 'i' or 'i,j' (or a tuple) as written, counting as the sheet does (see _from_base)."""
    if entry is None or entry == "":
        return None
    items = entry if isinstance(entry, (tuple, list)) else str(entry).replace(";", ",").split(",")
    try:
        idx = tuple(int(str(i).strip()) for i in items)
    except ValueError:
        raise UsageError(f"cannot read --entry '{entry}'", fix="write an entry: --entry 2 or --entry 1,2") from None
    if not idx or min(idx) < 0:
        raise UsageError(f"--entry '{entry}' must be whole numbers, not negative", fix="e.g. --entry 1,2")
    return idx


def _context(prob: Any, engine_name: str | None, entry: tuple[int, ...] | None, compiled: Any = None,
             library: Any = None) -> _Ctx:
    """The instance's graph and values: its own spec, or for exams before format 3 the library's now."""
    compiled = compiled or prob.compiled_spec()
    if compiled is None:
        from i2dl.spec.load import Library

        compiled = (library or Library()).get(prob.spec_id)
    answers = {b.name for part in prob.parts for b in part.blanks}
    base = int(getattr(compiled.spec, "index_base", 1))
    whys = {a.name: a.why for p in compiled.spec.parts for a in p.answers if getattr(a, "why", None)}
    return _Ctx(compiled.graph, dict(prob.values), engine_name, _from_base(entry, base), answers, base, whys)


def _from_base(entry: tuple[int, ...] | None, base: int) -> tuple[int, ...] | None:
    """--entry as the sheet counts it (from 1, or from 0) as a 0-based index."""
    if entry is None:
        return None
    idx = tuple(i - base for i in entry)
    if min(idx) < 0:
        raise UsageError(f"--entry {','.join(map(str, entry))}: this problem counts entries from {base}",
                         fix=f"give indices from {base}, e.g. --entry {','.join([str(base)] * len(entry))}")
    return idx


def _problem_explanation(prob: Any, engine_name: str | None, entry: tuple[int, ...] | None,
                         graded: _Graded | None, compiled: Any = None, library: Any = None) -> dict[str, Any]:
    ctx = _context(prob, engine_name, entry, compiled, library) if prob.kind == "spec" else None
    parts = [_part_explanation(prob, part, ctx, graded) for part in prob.parts]
    out = {"kind": "problem", "number": prob.number, "title": prob.title, "spec": prob.spec_id,
           "seed": prob.seed, "statement": prob.statement, "points": prob.points, "parts": parts}
    if graded is not None:
        out["student"] = graded.header()
    return out
