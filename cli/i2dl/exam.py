"""Exams: a blueprint (or one spec) made into instances, written as sheet, key, answer file, data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from i2dl import __version__, kinds
from i2dl.blueprint import Blueprint, McqBlock, ProblemEntry, find_blueprint, load_blueprint
from i2dl.engine import get_engine
from i2dl.errors import ExamError, NotFoundError, UsageError
from i2dl.exam_data import FORMAT, exam_json_text, read_exam_data
from i2dl.io import atomic_write_text
from i2dl.mcq import Bank, make_variant, variant_part
from i2dl.render import fmt_value
from i2dl.spec.instance import ProblemInstance, from_data, make_instance, to_data
from i2dl.spec.load import Library

EXAM_FILE = "exam.json"
SHEET_FILE = "exam.md"
KEY_FILE = "key.md"
ANSWERS_FILE = "answers.yaml"


@dataclass
class Exam:
    """A generated exam: plain data that grading and explaining read back."""

    exam_id: str
    title: str
    seed: int
    source: str
    instructions: str
    problems: list[ProblemInstance]
    version: str = __version__
    engine: str = ""
    duration: int | None = None
    warnings: list[str] = field(default_factory=list)
    # what load_exam found of exam.json's digest: status verified, modified (accepted) or unverified
    integrity: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> float:
        return sum(p.points for p in self.problems)

    def parts(self):
        for prob in self.problems:
            yield from ((prob, part) for part in prob.parts)

    def find_part(self, number: str):
        """(problem, part) for '3.2', or NotFoundError listing the part numbers."""
        for prob, part in self.parts():
            if part.number == number:
                return prob, part
        raise NotFoundError(f"no part {number} in exam {self.exam_id}",
                            fix="parts: " + ", ".join(p.number for _, p in self.parts()))

    def find_problem(self, number: int) -> ProblemInstance:
        for prob in self.problems:
            if prob.number == number:
                return prob
        raise NotFoundError(f"no problem {number} in exam {self.exam_id}",
                            fix="problems: " + ", ".join(str(p.number) for p in self.problems))


def fresh_seed() -> int:
    """A new seed from the operating system's entropy (printed, so the exam can be remade)."""
    return int(np.random.SeedSequence().entropy % 1_000_000_000)


def problem_seed(seed: int, number: int) -> int:
    """Each problem's own seed, so changing one problem leaves the others' numbers alone."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def build_exam(source: str = "default", seed: int | None = None, *, pins: dict[str, Any] | None = None,
               engine_name: str | None = None, library: Library | None = None, bank: Bank | None = None) -> Exam:
    """Instances for every problem of a blueprint (by name or path) or of a single spec id."""
    seed = fresh_seed() if seed is None else int(seed)
    library = library or Library()
    engine = get_engine(engine_name)
    pins = dict(pins or {})
    if source in library.paths:
        bp = Blueprint(id=source, title=library.get(source).spec.title,
                       problems=[ProblemEntry(spec=source)])
        warnings: list[str] = []
    else:
        if pins:
            raise UsageError("--param pins parameters of a single spec",
                             fix="give a spec id, or pin parameters in the blueprint's params")
        bp, warnings = load_blueprint(find_blueprint(source))
    problems: list[ProblemInstance] = []
    used_mcq: set[str] = set()
    for number, entry in enumerate(bp.problems, start=1):
        pseed = problem_seed(seed, number)
        if entry.mcq is not None:
            bank = bank or Bank()
            problems.append(_mcq_problem(entry, entry.mcq, number, pseed, engine, bank, used_mcq))
            continue
        compiled = library.get(entry.spec)
        inst = make_instance(compiled, pseed, engine, pins={**entry.params, **pins}, number=number,
                             points=entry.points)
        if entry.title:
            inst.title = entry.title
        problems.append(inst)
        warnings += [f"problem {number} ({entry.spec}): {w}" for w in inst.warnings]
    exam_id = f"{bp.id}-{seed}"
    return Exam(exam_id, bp.title, seed, source, bp.instructions.strip(), problems,
                engine=engine.name, duration=bp.duration, warnings=warnings)


def _mcq_problem(entry: ProblemEntry, block: McqBlock, number: int, seed: int, engine, bank: Bank,
                 used: set[str]) -> ProblemInstance:
    rng = np.random.default_rng(seed)
    chosen = [bank.get(q) for q in block.ids]
    used |= {q.qid for q in chosen}
    for d in block.draw:
        picks = bank.draw(rng, d.count, topic=d.topic, tag=d.tag, difficulty=d.difficulty, exclude=used)
        used |= {q.qid for q in picks}
        chosen += picks
    parts = []
    for i, bq in enumerate(chosen, start=1):
        variant = make_variant(bq, int(rng.integers(0, 2**31)), engine)
        parts.append(variant_part(variant, f"{number}.{i}", block.points_each, block.rubric))
    statement = ("Any number of options may be correct, including none or all. Give the letters of "
                 "every correct option; a question earns its points only if every option is judged right.")
    return ProblemInstance(number=number, spec_id="mcq", title=entry.title or "Multiple choice",
                           topic="multiple-choice", statement=statement, seed=seed, params={},
                           values={}, parts=parts, points=sum(p.points for p in parts), kind="mcq")


# ---------------------------------------------------------------------------- files


def exam_to_data(exam: Exam) -> dict[str, Any]:
    return {"format": FORMAT, "exam_id": exam.exam_id, "title": exam.title, "seed": exam.seed,
            "source": exam.source, "version": exam.version, "engine": exam.engine,
            "duration": exam.duration, "instructions": exam.instructions,
            "problems": [to_data(p) for p in exam.problems]}


def load_exam(folder: Exam | Path | str = "exam", *, accept_modified: bool = False) -> Exam:
    """The exam `generate` wrote into `folder`, checked (an Exam passes through); typed errors say why not."""
    if isinstance(folder, Exam):
        return folder
    folder = Path(folder)
    path = folder / EXAM_FILE if folder.is_dir() or not folder.suffix else folder
    if not path.exists():
        raise NotFoundError(f"no exam in '{folder}' ({EXAM_FILE} is missing)",
                            fix="run `i2dl generate` first, or pass --exam DIR")
    checked = read_exam_data(path, accept_modified=accept_modified)
    data = checked.data
    try:
        problems = [from_data(p) for p in data["problems"]]
    except (KeyError, TypeError, ValueError) as exc:  # the schema should have caught it: say so, never a traceback
        raise ExamError(f"cannot rebuild the exam from its data ({type(exc).__name__}: {exc})", where=str(path),
                        fix="regenerate the exam with the seed it was made with") from None
    return Exam(data["exam_id"], data["title"], data["seed"], data["source"], data["instructions"],
                problems, data["version"], data["engine"], data["duration"], warnings=checked.warnings,
                integrity=checked.integrity)


def blank_form(kind: str, expected: Any, options: int = 0) -> str:
    """The comment that tells a student what form a blank takes."""
    return kinds.get(kind).form(expected, options)


def answer_file_text(exam: Exam) -> str:
    """The blank answer file: one entry per blank, a comment giving its expected form."""
    lines = [
        "# i2dl answer file: fill in each blank after the colon, keep the keys as they are.",
        "# Numbers may be written as on paper (0,52  27/9  -log(0.35)  2^3); leave a blank empty to skip it.",
        f"exam: {exam.exam_id}",
        "student_id: ''",
        "name: ''",
        "answers:",
    ]
    for _, part in exam.parts():
        if len(part.blanks) == 1 and part.blanks[0].kind == "choice":
            b = part.blanks[0]
            lines.append(f"  '{part.number}': ''    # {blank_form(b.kind, b.expected, b.options)}")
            continue
        lines.append(f"  '{part.number}':")
        for b in part.blanks:
            lines.append(f"    {b.name}: ''    # {b.label}: {blank_form(b.kind, b.expected, b.options)}")
    return "\n".join(lines) + "\n"


def key_answers(exam: Exam) -> dict[str, Any]:
    """The key's own answers in answer-file form (what a perfect student would write)."""
    answers: dict[str, Any] = {}
    for _, part in exam.parts():
        if len(part.blanks) == 1 and part.blanks[0].kind == "choice":
            answers[part.number] = answer_text(part.blanks[0].expected)
        else:
            answers[part.number] = {b.name: answer_text(b.expected) for b in part.blanks}
    return answers


def answer_text(v: Any) -> Any:
    """A key value as a student writes it in the answer file: letters, 16x21x21, lists."""
    return kinds.answer_text(v)


def sheet_markdown(exam: Exam) -> str:
    """The exam sheet: Markdown with LaTeX math."""
    out = [f"# {exam.title}", ""]
    meta = f"Exam `{exam.exam_id}` · {fmt_value(exam.points)} points"
    if exam.duration:
        meta += f" · {exam.duration} minutes"
    out += [meta, ""]
    if exam.instructions:
        out += [exam.instructions, ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title} ({fmt_value(prob.points)} points)", ""]
        if prob.statement:
            out += [prob.statement, ""]
        for part in prob.parts:
            out += [f"**{part.number}** ({fmt_value(part.points)} p) {part.text}", ""]
    return "\n".join(out).rstrip() + "\n"


def key_markdown(exam: Exam, steps: dict[str, str] | None = None) -> str:
    """The solution key: every blank's answer and, where given, the worked steps."""
    out = [f"# Solution key: {exam.title}", "", f"Exam `{exam.exam_id}`, seed {exam.seed}.", ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title}", ""]
        for part in prob.parts:
            out.append(f"### {part.number} ({fmt_value(part.points)} p)")
            out.append("")
            for b in part.blanks:
                out.append(f"- **{b.label}** = ${fmt_value(b.expected, 'latex')}$")
            if part.reasons:
                out.append("")
                for i, r in enumerate(part.reasons):
                    mark = "correct" if chr(65 + i) in part.blanks[0].expected else "wrong"
                    out.append(f"  - {chr(65 + i)} ({mark}): {r}")
            if steps and part.number in steps:
                out += ["", steps[part.number]]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_exam(exam: Exam, out: Path | str, steps: dict[str, str] | None = None) -> dict[str, Path]:
    """Write sheet, key, blank answer file and data into `out`, each file atomically."""
    out = Path(out)
    files = {
        "sheet": out / SHEET_FILE,
        "key": out / KEY_FILE,
        "answers": out / ANSWERS_FILE,
        "data": out / EXAM_FILE,
    }
    atomic_write_text(files["data"], exam_json_text(exam_to_data(exam)))
    atomic_write_text(files["sheet"], sheet_markdown(exam))
    atomic_write_text(files["key"], key_markdown(exam, steps))
    atomic_write_text(files["answers"], answer_file_text(exam))
    return files
