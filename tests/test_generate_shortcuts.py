"""Generation's shortcuts change no byte: PDFs typeset where a variant is built equal the ones made from
exam.json, the TeX cut in linear time equals the rescanning cut, a size evaluated once per value equals
one evaluated every time, and a cohort reads its question banks once."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.engine import get_engine
from i2dl.export import typeset
from i2dl.spec import instance as si
from i2dl.spec.load import Library

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "course"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["--engine", "numpy", *args])


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """A course with the fixture blueprint `midterm` (one spec problem, one question), the working folder."""
    monkeypatch.setenv("I2DL_COURSE_SECRET", "c" * 64)
    root = tmp_path / "course"
    assert run("init", str(root), "--title", "DL").exit_code == 0
    shutil.copy(FIXTURES / "relu-neuron-sgd.yaml", root / "problems" / "specs")
    shutil.copy(FIXTURES / "course-basics.yaml", root / "problems" / "mcq")
    shutil.copy(FIXTURES / "midterm.yaml", root / "problems" / "blueprints")
    monkeypatch.chdir(root)
    return root


def write_roster(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "name"])
        w.writerows([f"s{i:03d}", f"Student {i}"] for i in range(n))


def test_cohort_pdfs_typeset_in_the_workers_equal_the_ones_export_makes_from_exam_json(course):
    import subprocess
    import sys

    write_roster(course / "r.csv", 17)  # enough students for the worker processes
    # A fresh process: one that has loaded Typst already leaves the typesetting to itself (a fork could hang).
    proc = subprocess.run([sys.executable, "-m", "i2dl", "--engine", "numpy", "generate", "midterm", "--roster",
                           "r.csv", "--out", "exams/q"], capture_output=True, text=True, cwd=course, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    made = {p.relative_to(course / "exams" / "q"): p.read_bytes()
            for p in sorted((course / "exams" / "q").rglob("*.pdf"))}
    assert len(made) == 34  # a sheet per student, a key per variant
    for p in (course / "exams" / "q").rglob("*.pdf"):
        p.unlink()
    res = run("export", "pdf", "exams/q")
    assert res.exit_code == 0, res.output
    again = {p.relative_to(course / "exams" / "q"): p.read_bytes()
             for p in sorted((course / "exams" / "q").rglob("*.pdf"))}
    assert again == made


def test_cohort_with_pdfs_in_a_process_that_ran_typst_finishes_with_every_pdf(course):
    from i2dl.export import pdf

    pdf.compile_pdf("x")  # Typst has run here: the forked workers must not typeset
    write_roster(course / "r.csv", 17)
    res = run("generate", "midterm", "--roster", "r.csv", "--out", "exams/t")
    assert res.exit_code == 0, res.output
    assert len(list((course / "exams" / "t").rglob("*.pdf"))) == 34


def test_cohort_reads_the_short_answer_bank_once_not_once_per_student(course, monkeypatch):
    import i2dl.short

    reads = []
    real = i2dl.short.ShortBank.__init__

    def counting(self, *a, **k):
        reads.append(1)
        real(self, *a, **k)

    monkeypatch.setattr(i2dl.short.ShortBank, "__init__", counting)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # one process: every read is counted here
    (course / "problems" / "blueprints" / "written.yaml").write_text(
        "id: written\ntitle: Written\nproblems:\n  - {spec: relu-neuron-sgd}\n"
        "  - title: Short answers\n    short:\n      draw:\n        - {count: 2, points: 2}\n", encoding="utf-8")
    write_roster(course / "r.csv", 5)
    res = run("generate", "written", "--roster", "r.csv", "--out", "exams/w", "--format", "markdown")
    assert res.exit_code == 0, res.output
    assert len(list((course / "exams" / "w" / "sheets").glob("*.md"))) == 5
    assert len(reads) == 1


def _pieces_by_rescanning(tex: str) -> list[str]:
    """The cut as first written: the piece so far joined and stripped again at every operator."""
    out, cur, depth = [], [], 0
    for m in typeset._ENV.finditer(tex):
        tok = m.group(0)
        if tok in ("{", "(", "[") or m.group(1) == "begin" or m.group(2) == "left":
            depth += 1
        elif tok in ("}", ")", "]") or m.group(1) == "end" or m.group(2) == "right":
            depth -= 1
        elif depth == 0 and tok in ("=", "+", "-", "\\cdot") and cur and "".join(cur).strip() \
                and not "".join(cur).rstrip().endswith(("^", "_", "=", "+", "-", "(", "[", ",")):
            out.append("".join(cur))
            cur = []
        cur.append(tok)
    out.append("".join(cur))
    return out if depth == 0 else [tex]


def test_tex_pieces_equal_the_rescanning_cut_on_every_formula_of_default_exam_keys(monkeypatch):
    from i2dl.exam import build_exam
    from i2dl.export import pdf

    seen: list[str] = []
    real = typeset._pieces
    monkeypatch.setattr(typeset, "_pieces", lambda tex: seen.append(tex) or real(tex))
    for seed in (0, 1):
        exam = build_exam("default", seed, engine_name="numpy")
        pdf.key_source(exam)
        pdf.sheet_source(exam)
    assert len(seen) > 200
    for tex in seen + ["a = -b + c", "x^-1 = 2", "  = 1", "f(-x) - 3 \\cdot 4", "\\ = 2"]:
        assert real(tex) == _pieces_by_rescanning(tex), tex


def test_sizes_and_bounds_evaluated_once_per_value_give_the_instances_of_evaluating_them_every_time(monkeypatch):
    library = Library()
    engine = get_engine("numpy")
    expressed = [sid for sid in library.ids()
                 if any(isinstance(getattr(p, a, None), str) for p in si._all_params(library.get(sid).spec).values()
                        for a in ("min", "max", "length"))
                 or any(isinstance(d, str) for p in si._all_params(library.get(sid).spec).values()
                        for d in (getattr(p, "shape", None) or ()))]
    assert len(expressed) >= 3
    remembered = {sid: [si.make_instance(library.get(sid), s, engine).params for s in range(4)] for sid in expressed}
    monkeypatch.setattr(si, "_SIZE_VALUES", _Forgetful())
    for sid in expressed:
        fresh = [si.make_instance(library.get(sid), s, engine).params for s in range(4)]
        for a, b in zip(remembered[sid], fresh, strict=True):
            assert a.keys() == b.keys()
            for k in a:
                assert type(a[k]) is type(b[k]) and np.array_equal(a[k], b[k]), (sid, k)


class _Forgetful(dict):
    """A cache that keeps nothing: every size and bound is evaluated again."""

    def __setitem__(self, key, value) -> None:
        pass
