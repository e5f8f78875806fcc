"""A synthetic graded cohort: answer files from students with a latent ability, so that items correlate.

Each student has an ability theta ~ N(0, 1) and each part a difficulty b; the student knows the
part with probability 1 / (1 + exp(-1.7 (theta - b))) (a two-parameter logistic model). A known part
is answered with the key; an unknown one blank by blank with a named mistake, a wrong value, an
unreadable answer or nothing; a multiple-choice part with a distractor (the later options more
rarely, so that one may stay unchosen). `python -m tests.cohort` redraws docs/stats-example.svg.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from i2dl.exam import build_exam
from i2dl.export import write_exam
from i2dl.export.answers import answer_text, single_value
from i2dl.io import dump_yaml

EXAMPLE_SVG = Path(__file__).resolve().parent.parent / "docs" / "stats-example.svg"


def _wrong(v: Any, rng: np.random.Generator) -> Any:
    """A well-formed wrong value of the same kind: one entry off by a small whole number."""
    delta = int(rng.choice([-2, -1, 1, 2]))
    if isinstance(v, np.ndarray) and v.size:
        out = v.astype(float).copy()
        out.flat[int(rng.integers(out.size))] += delta
        return answer_text(out)
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return answer_text(float(v) + delta)
    return "0"


def _blank_answer(b: Any, rng: np.random.Generator) -> Any:
    """What a student who does not know the part writes in one blank."""
    u = rng.random()
    if u < 0.08:
        return None  # left empty
    if u < 0.13:
        return "[1, 2"  # unreadable
    named = [a for a in b.alternatives if not a.get("component") and a["credit"] < 1]
    if named and u < 0.6:
        return answer_text(named[int(rng.integers(len(named)))]["value"])
    return _wrong(b.expected, rng)


def _choice(part: Any, rng: np.random.Generator) -> Any:
    """A distractor, the later letters more rarely (weights 1, 1/2, 1/4, ...), sometimes none or nothing."""
    u = rng.random()
    if u < 0.05:
        return None
    wrong = [o.letter for o in part.options if not o.correct]
    if not wrong or u < 0.08:
        return "none"
    weights = np.array([0.5 ** (i * 2) for i in range(len(wrong))])
    return wrong[int(rng.choice(len(wrong), p=weights / weights.sum()))]


def write_cohort(folder: Path, n: int = 500, *, seed: int = 3, exam_seed: int = 11,
                 blueprint: str = "default") -> tuple[Path, Path]:
    """An exam in folder/exam and `n` answer files in folder/submissions; (exam folder, submissions folder)."""
    exam = build_exam(blueprint, exam_seed, engine_name="numpy")
    exam_dir, subs = folder / "exam", folder / "submissions"
    write_exam(exam, exam_dir)
    subs.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    parts = [part for _, part in exam.parts()]
    hardness = rng.uniform(-1.5, 1.5, size=len(parts))
    for i in range(n):
        theta = rng.normal()
        answers: dict[str, Any] = {}
        for part, b in zip(parts, hardness, strict=True):
            knows = rng.random() < 1 / (1 + math.exp(-1.7 * (theta - b)))
            if single_value(part):
                answers[part.number] = answer_text(part.blanks[0].expected) if knows else _choice(part, rng)
            else:
                answers[part.number] = {bl.name: answer_text(bl.expected) if knows else _blank_answer(bl, rng)
                                        for bl in part.blanks}
        doc = {"exam": exam.exam_id, "student_id": f"s{i:04d}", "name": "", "answers": answers}
        (subs / f"s{i:04d}.yaml").write_text(dump_yaml(doc), encoding="utf-8")
    return exam_dir, subs


def graded_cohort(folder: Path, n: int = 500, **kw: Any) -> Path:
    """A synthetic cohort written and graded; the results folder."""
    from i2dl.grade.batch import grade_folder

    exam_dir, subs = write_cohort(folder, n, **kw)
    grade_folder(subs, exam_dir=exam_dir, out=folder / "results", engine_name="numpy")
    return folder / "results"


def main(argv: list[str]) -> int:
    """Grade a 300-student synthetic cohort and write its difficulty-discrimination chart."""
    import tempfile

    from i2dl.course import grade_boundaries
    from i2dl.stats import cohort_stats, read_results
    from i2dl.stats_report import scatter_svg

    target = Path(argv[0]) if argv else EXAMPLE_SVG
    with tempfile.TemporaryDirectory() as tmp:
        results = graded_cohort(Path(tmp), 300)
        stats = cohort_stats(read_results(results), [(g.grade, g.min_percent) for g in grade_boundaries()])
    target.write_text(scatter_svg(stats["parts"], title=f"{stats['students']} synthetic students"),
                      encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
