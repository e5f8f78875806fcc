"""Grading a folder of answer files: one bad file never stops the batch; results written atomically."""

from __future__ import annotations

import csv
import io as _io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2dl.errors import I2dlError, NotFoundError, SubmissionError
from i2dl.exam import EXAM_FILE, Exam, load_exam, spec_changes
from i2dl.export.answers import ANSWERS_FILE
from i2dl.grade.score import Grader, SubmissionResult, read_submission
from i2dl.io import atomic_write_text, load_yaml, safe_child
from i2dl.render import fmt_number

MAX_SUBMISSION_BYTES = 256 * 1024
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class BatchResult:
    exam_id: str
    graded: list[SubmissionResult]
    failed: list[dict[str, str]]
    files: dict[str, str] = field(default_factory=dict)
    # Specs changed on disk since the exam was generated (graded with the exam's own copies all the same).
    spec_changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def submission_files(folder: Path) -> list[Path]:
    """Answer files in `folder` (sorted; the exam's own blank file and data are skipped)."""
    if not folder.exists():
        raise NotFoundError(f"no such folder or file '{folder}'", fix="pass the folder of answer files")
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
                  and p.name not in (EXAM_FILE,))


def load_submission(path: Path, grader: Grader):
    """Read and check one answer file (size-capped, alias-safe YAML or JSON)."""
    data = load_yaml(path, max_bytes=MAX_SUBMISSION_BYTES, max_depth=20, max_nodes=20_000, error=SubmissionError)
    return read_submission(data, str(path), grader.exam.exam_id)


def grade_files(paths: list[Path], exam: Exam, *, engine_name: str | None = None, library=None) -> BatchResult:
    """Grade each file; unreadable files and duplicate ids are reported, never fatal.

    Follow-through uses each problem's own spec from the exam; `library` (a spec Library, the shipped
    specs by default) is only compared with those copies, and read for exams older than format 3.
    """
    grader = Grader(exam, engine_name, library=library)
    graded: list[SubmissionResult] = []
    failed: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            sub = load_submission(path, grader)
            if sub.student_id in seen:
                raise SubmissionError(f"student id '{sub.student_id}' was already graded from {seen[sub.student_id]}",
                                      where=f"{path} student_id",
                                      fix="give each student one answer file; rename or remove the duplicate")
            seen[sub.student_id] = str(path)
            graded.append(grader.grade(sub))
        except I2dlError as exc:
            if path.name == ANSWERS_FILE and "student_id" in str(exc):
                continue  # the exam's blank answer file lying in the same folder is not a submission
            failed.append({"file": str(path), "error": str(exc)})
        except (Exception, RecursionError) as exc:  # a grading bug must not stop the batch either
            failed.append({"file": str(path),
                           "error": f"{path}: internal error while grading ({type(exc).__name__}: {exc}); "
                                    "please report it with this file"})
    return BatchResult(exam.exam_id, graded, failed, spec_changes=spec_changes(exam, library))


def grade_folder(folder: Path | str, *, exam_dir: Path | str = "exam", out: Path | str | None = "results",
                 engine_name: str | None = None, library=None) -> BatchResult:
    """Grade every answer file in `folder` against the exam in `exam_dir`; write results to `out`."""
    exam = load_exam(exam_dir)
    folder = Path(folder)
    batch = grade_files(submission_files(folder), exam, engine_name=engine_name, library=library)
    if out is not None:
        batch.files = write_results(batch, exam, Path(out))
    return batch


# ---------------------------------------------------------------------------- outputs


def part_numbers(exam: Exam) -> list[str]:
    return [part.number for _, part in exam.parts()]


def scores_csv(batch: BatchResult, exam: Exam) -> str:
    """A row per student, a column per part, per problem and the total (gradebook-ready)."""
    numbers = part_numbers(exam)
    problems = [str(p.number) for p in exam.problems]
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", "name", "file"] + numbers + [f"problem {p}" for p in problems]
               + ["total", "max", "percent"])
    w.writerow(["(max)", "", ""] + [fmt_number(part.points) for _, part in exam.parts()]
               + [fmt_number(p.points) for p in exam.problems] + [fmt_number(exam.points), fmt_number(exam.points), "100"])
    for r in sorted(batch.graded, key=lambda r: r.student_id):
        by_part = {p.number: p.score for p in r.parts}
        probs = r.problem_scores()
        w.writerow([r.student_id, r.name, Path(r.file).name] + [fmt_number(by_part[n], 3) for n in numbers]
                   + [fmt_number(probs.get(p, 0.0), 3) for p in problems]
                   + [fmt_number(r.total, 3), fmt_number(r.max_points), fmt_number(r.percent, 1)])
    return buf.getvalue()


def feedback_markdown(r: SubmissionResult, exam: Exam) -> str:
    """One student's feedback: every part, the answer read, the expected answer, points and why."""
    out = [f"# Feedback: {r.student_id}" + (f" ({r.name})" if r.name else ""), "",
           f"Exam `{exam.exam_id}` · {fmt_number(r.total, 3)} / {fmt_number(r.max_points)} points "
           f"({fmt_number(r.percent, 1)}%)", ""]
    for note in r.notes:
        out.append(f"- note: {note}")
    for p in r.parts:
        out += ["", f"## {p.number}: {fmt_number(p.score, 3)} / {fmt_number(p.points)} points", ""]
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
    return "\n".join(out).rstrip() + "\n"


def _code(text: str) -> str:
    """`text` as a Markdown code span that a backtick in what the student wrote cannot break."""
    text = " ".join(text.split())  # a line break would end the list item
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def summary_data(batch: BatchResult, exam: Exam) -> dict[str, Any]:
    """Machine-readable summary: counts, mean, distribution, mean per part, failures."""
    totals = [r.total for r in batch.graded]
    per_part = {}
    for n in part_numbers(exam):
        scores = [p.score for r in batch.graded for p in r.parts if p.number == n]
        per_part[n] = round(sum(scores) / len(scores), 4) if scores else None
    bins = distribution(totals, exam.points)
    return {
        "exam_id": exam.exam_id, "max_points": exam.points, "graded": len(batch.graded),
        "failed": len(batch.failed),
        "mean": round(sum(totals) / len(totals), 4) if totals else None,
        "distribution": bins, "mean_per_part": per_part,
        "students": [_student_data(r) for r in sorted(batch.graded, key=lambda r: r.student_id)],
        "failures": batch.failed,
        "exam_integrity": exam.integrity,  # verified, or modified and accepted with --accept-modified
        "spec_changes": batch.spec_changes,  # specs edited since generation; the exam's copies were used
    }


def _student_data(r: SubmissionResult) -> dict[str, Any]:
    """One student's totals, score per part and status per blank (the prose lives in feedback/)."""
    return {"student_id": r.student_id, "file": Path(r.file).name, "total": r.total,
            "percent": round(r.percent, 2),
            "parts": {p.number: p.score for p in r.parts},
            "blanks": {p.number: {b.name: b.status for b in p.blanks} for p in r.parts},
            "notes": r.notes}


def distribution(totals: list[float], max_points: float, bins: int = 10) -> list[dict[str, Any]]:
    """Counts of totals in `bins` equal-width bands of the percentage."""
    out = []
    for i in range(bins):
        lo, hi = 100 * i / bins, 100 * (i + 1) / bins
        n = sum(1 for t in totals if lo <= (100 * t / max_points if max_points else 0) < hi
                or (i == bins - 1 and max_points and 100 * t / max_points == 100))
        out.append({"from": lo, "to": hi, "count": n})
    return out


def write_results(batch: BatchResult, exam: Exam, out: Path) -> dict[str, str]:
    """scores.csv, summary.json and feedback/<student>.md, each written atomically."""
    files = {"scores": out / "scores.csv", "summary": out / "summary.json"}
    atomic_write_text(files["scores"], scores_csv(batch, exam))
    atomic_write_text(files["summary"], json.dumps(summary_data(batch, exam), indent=1, default=str) + "\n")
    feedback_dir = out / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    for r in sorted(batch.graded, key=lambda r: r.student_id):
        # Ids that differ only in unsafe characters or in case (one file on macOS and Windows)
        # would map to one file: number the later ones.
        name = safe_child(feedback_dir, r.student_id).name
        stem, k = name, 2
        while name.lower() in used:
            name, k = f"{stem}-{k}", k + 1
        used.add(name.lower())
        atomic_write_text(safe_child(feedback_dir, name).with_name(name + ".md"), feedback_markdown(r, exam))
    files["feedback"] = feedback_dir
    return {k: str(v) for k, v in files.items()}
