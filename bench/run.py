"""Grading benchmark (`make bench`): parse and grade 1,000 answer files for the default exam.

The submissions are a fixed mix: the key's answers, answers with a slip early in a chain whose
later values follow from it (follow-through), plain wrong answers, and unreadable or missing
entries. Times are the best of a few repeats (time.perf_counter); the numpy engine is used
unless --engine says otherwise, so runs compare across machines with and without torch.

A second figure is the peak memory (RSS) of one `i2dl grade` process grading --rss-files files
(10,000 by default: the submissions repeated under fresh ids); the goal is below 300 MB.

A third is a cohort graded from one responses CSV: --csv-rows rows (2,000 by default, the same mix)
graded by one `i2dl grade responses.csv` process, with its wall time and peak memory; the goal is
below 15 s with the numpy engine on a 2-core machine. It is measured and printed, never asserted.

    python bench/run.py [--files 1000] [--repeats 3] [--seed 2024] [--engine numpy] [--profile]
                        [--rss-files 10000] [--csv-rows 2000]
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.export.answers import answer_text, key_answers, response_columns, responses_template_text
from i2dl.grade.batch import grade_folder, load_submission, submission_files
from i2dl.grade.score import Grader
from i2dl.io import dump_yaml, to_plain
from i2dl.spec.instance import evaluate_instance
from i2dl.spec.load import Library

RSS_GOAL_MB = 300
COHORT_GOAL_S = 30  # issue 13: 300 variants in under 30 s on this 2-core machine
PDF_SHEETS_GOAL_S = 60  # issue 14: a 300-student cohort's PDF sheets in under 60 s
CSV_GOAL_S = 15
MIX = (("key", 0.4), ("follow-through", 0.3), ("wrong", 0.15), ("invalid", 0.15))
JUNK = ["abc", "1/0", "", None, ".", "[1, 2", "sqrt(-1)", {"a": 1}, [[1], [2, 3]], "∞"]


def _bump(v: Any, rng: np.random.Generator) -> Any:
    """A wrong but well-formed value of the same kind: one entry off by a small whole number."""
    delta = int(rng.choice([-2, -1, 1, 2]))
    if isinstance(v, np.ndarray) and v.size:
        out = v.astype(float).copy()
        out.flat[int(rng.integers(out.size))] += delta
        return out
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v) + delta
    return v


def _flip(letters: Any, n: int, rng: np.random.Generator) -> str:
    chosen = set(letters) ^ {chr(65 + int(rng.integers(max(n, 1))))}
    return "".join(sorted(chosen)) or "none"


def follow_through_answers(exam, library: Library, engine, rng: np.random.Generator) -> dict[str, Any]:
    """Key answers, except that in each spec problem one early answer is wrong and every later
    answer is computed from it (what a careful student with one slip writes)."""
    answers = copy.deepcopy(key_answers(exam))
    for prob in exam.problems:
        if prob.kind != "spec":
            continue
        compiled = prob.compiled_spec() or library.get(prob.spec_id)  # the exam's own spec, as grading uses
        blanks = [(part, b) for part in prob.parts for b in part.blanks
                  if b.kind in ("number", "vector", "matrix")]
        upstream = [(part, b) for part, b in blanks
                    if any(compiled.graph.depends_on(o.name, b.name) for _, o in blanks)]
        if not upstream:
            continue
        part, b = upstream[int(rng.integers(len(upstream)))]
        try:
            values = evaluate_instance(compiled, prob.params, engine, {b.name: _bump(b.expected, rng)})
        except Exception:  # a slip that breaks a later step: keep the key for the rest
            values = {b.name: _bump(b.expected, rng)}
        for p in prob.parts:
            for blank in p.blanks:
                if blank.name in values and isinstance(answers.get(p.number), dict):
                    answers[p.number][blank.name] = answer_text(values[blank.name])
    return answers


def wrong_answers(exam, rng: np.random.Generator) -> dict[str, Any]:
    answers = copy.deepcopy(key_answers(exam))
    for prob, part in exam.parts():
        if rng.random() < 0.5:
            continue
        if prob.kind == "mcq":
            b = part.blanks[0]
            answers[part.number] = _flip(b.expected, b.options, rng)
            continue
        for b in part.blanks:
            answers[part.number][b.name] = answer_text(_bump(b.expected, rng))
    return answers


def invalid_answers(exam, rng: np.random.Generator) -> dict[str, Any]:
    answers = copy.deepcopy(key_answers(exam))
    for prob, part in exam.parts():
        if rng.random() < 0.6:
            continue
        if prob.kind == "mcq":
            answers[part.number] = "Z?" if rng.random() < 0.5 else None
            continue
        for b in part.blanks:
            answers[part.number][b.name] = JUNK[int(rng.integers(len(JUNK)))]
    if rng.random() < 0.3:
        answers["9.9"] = 1  # an unknown part
    return answers


def make_submissions(folder: Path, exam, n: int, seed: int, engine) -> dict[str, int]:
    """`n` answer files in `folder`, in the mix of MIX; how many of each kind."""
    counts: dict[str, int] = {}
    for i, kind, answers in mixed_answers(exam, n, seed, engine):
        counts[kind] = counts.get(kind, 0) + 1
        doc = {"exam": exam.exam_id, "student_id": f"s{i:05d}", "name": f"Student {i}", "answers": answers}
        (folder / f"s{i:05d}.yaml").write_text(dump_yaml(doc), encoding="utf-8")
    return counts


def _cell(v: Any) -> str:
    """An answer-file value as a spreadsheet cell holds it."""
    v = to_plain(v)
    if v is None:
        return ""
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def make_responses(path: Path, exam, n: int, seed: int, engine) -> dict[str, int]:
    """One responses CSV of `n` rows in the mix of MIX (the template's header); how many of each kind."""
    counts: dict[str, int] = {}
    columns = response_columns(exam)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(responses_template_text(exam))
        w = csv.writer(fh, lineterminator="\n")
        for i, kind, answers in mixed_answers(exam, n, seed, engine):
            counts[kind] = counts.get(kind, 0) + 1
            cells = []
            for _, part, blank in columns:
                v = answers.get(part)
                cells.append(_cell(v if blank is None else (v if isinstance(v, dict) else {}).get(blank)))
            w.writerow([f"c{i:05d}", f"Student {i}", exam.exam_id] + cells)
    return counts


def mixed_answers(exam, n: int, seed: int, engine):
    """(index, kind, answers) of `n` students drawn from MIX."""
    rng = np.random.default_rng(seed)
    library = Library()
    kinds = [k for k, _ in MIX]
    probs = [p for _, p in MIX]
    for i in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        if kind == "key":
            answers = key_answers(exam)
        elif kind == "follow-through":
            answers = follow_through_answers(exam, library, engine, rng)
        elif kind == "wrong":
            answers = wrong_answers(exam, rng)
        else:
            answers = invalid_answers(exam, rng)
        yield i, kind, answers


def copy_submissions(source: Path, folder: Path, n: int) -> None:
    """`n` answer files: the ones in `source` over and over, each under a fresh student id."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(source.glob("*.yaml"))]
    folder.mkdir()
    for i in range(n):
        text = re.sub(r"(?m)^student_id: .*$", f"student_id: r{i:06d}", texts[i % len(texts)], count=1)
        (folder / f"r{i:06d}.yaml").write_text(text, encoding="utf-8")


def peak_rss_mb(args: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of one child process, measured by wait4."""
    mb, seconds, code, _ = run_measured(args)
    return mb, seconds, code


def run_measured(args: list[str]) -> tuple[float, float, int, float]:
    """(peak RSS in MB, wall seconds, exit code, CPU seconds: user + system) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return usage.ru_maxrss * scale / 1e6, seconds, proc.returncode, usage.ru_utime + usage.ru_stime


def timed(fn, repeats: int) -> tuple[float, float, Any]:
    """(best, median) seconds over `repeats` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def pdf_sheets_figure(folder: Path, course: Path) -> None:
    """Print the wall time of every student's PDF sheet of a generated cohort, and of a key per variant."""
    from i2dl.course import use_course
    from i2dl.export import SHEETS_DIR, cohort_file_names
    from i2dl.export.pdf import key_pdf, write_cohort_pdfs

    exam = load_exam(folder)
    names = cohort_file_names([r["student_id"] for r in exam.roster])
    with use_course(course):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        t0, c0 = time.perf_counter(), os.times()
        write_cohort_pdfs(exam, {sid: folder / SHEETS_DIR / f"{n}.pdf" for sid, n in names.items()}, {})
        seconds, c1 = time.perf_counter() - t0, os.times()
        cpu = sum(c1[:4]) - sum(c0[:4])  # this process and its (joined) workers
        sample = list(exam.variants.values())[:5]
        t0 = time.perf_counter()
        for v in sample:
            key_pdf(v)
        per_key = (time.perf_counter() - t0) / len(sample)
    verdict = "ok" if seconds < PDF_SHEETS_GOAL_S else "OVER THE GOAL"
    print(f"PDF sheets of {len(exam.roster)} students (typeset by Typst, compiled in threads): {seconds:.1f} s wall "
          f"(goal < {PDF_SHEETS_GOAL_S} s: {verdict}), {cpu:.1f} s CPU; a PDF key takes {per_key:.2f} s in one "
          "process (no goal); "
          f"load average {load:.1f} on {os.cpu_count()} cores")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--engine", default="numpy", help="numpy (default here), torch or auto")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one grading run")
    ap.add_argument("--rss-files", type=int, default=10_000,
                    help="files for the peak-memory figure of one `i2dl grade` process (0 to skip)")
    ap.add_argument("--cohort", type=int, default=300,
                    help="students of the cohort generated by one `i2dl generate --roster` (0 to skip)")
    ap.add_argument("--csv-rows", type=int, default=2000,
                    help="rows of the responses CSV graded by one `i2dl grade` process (0 to skip)")
    args = ap.parse_args(argv)
    engine_name = None if args.engine == "auto" else args.engine

    from i2dl.engine import get_engine

    engine = get_engine(engine_name)
    with tempfile.TemporaryDirectory(prefix="i2dl-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_exam(build_exam("default", args.seed, engine_name=engine_name), root / "exam")
        exam = load_exam(root / "exam")
        subs = root / "subs"
        subs.mkdir()
        counts = make_submissions(subs, exam, args.files, args.seed, engine)
        setup = time.perf_counter() - t0
        paths = submission_files(subs)
        grader = Grader(exam, engine_name)

        def parse_all():
            return [load_submission(p, grader) for p in paths]

        def grade_all():
            return grade_folder(subs, exam_dir=root / "exam", out=root / "results", engine_name=engine_name)

        parse_best, parse_med, _ = timed(parse_all, args.repeats)
        grade_best, grade_med, batch = timed(grade_all, args.repeats)
        statuses: dict[str, int] = {}
        for r in batch.students:
            for status in r.statuses():
                statuses[status] = statuses.get(status, 0) + 1

        n = len(paths)
        print(f"i2dl grading benchmark: exam {exam.exam_id} ({len(list(exam.parts()))} parts, "
              f"{exam.points:g} points), engine {engine.name}, best of {args.repeats}")
        print("submissions: " + ", ".join(f"{k} {v}" for k, v in counts.items())
              + f"  (setup {setup:.1f} s)")
        print("blanks graded: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
        print(f"graded {len(batch.students)}, failed {len(batch.failed)}")
        print()
        print(f"{'stage':<28}{'files':>7}{'best s':>10}{'median s':>10}{'ms/file':>10}")
        rows = [("parse (load_submission)", parse_best, parse_med),
                ("grade + write (all)", grade_best, grade_med),
                ("grade + write - parse", grade_best - parse_best, grade_med - parse_med)]
        for name, best, med in rows:
            print(f"{name:<28}{n:>7}{best:>10.3f}{med:>10.3f}{1000 * best / n:>10.2f}")

        if args.rss_files:
            copy_submissions(subs, root / "rss-subs", args.rss_files)
            cmd = [sys.executable, "-m", "i2dl", "--engine", engine.name, "grade", str(root / "rss-subs"),
                   "--exam", str(root / "exam"), "--out", str(root / "rss-results")]
            mb, seconds, code = peak_rss_mb(cmd)
            verdict = "ok" if mb < RSS_GOAL_MB else "OVER THE GOAL"
            print()
            print(f"peak RSS of `i2dl grade` on {args.rss_files:,} files: {mb:.0f} MB "
                  f"(goal < {RSS_GOAL_MB} MB: {verdict}); {seconds:.1f} s, exit code {code}")

        if args.csv_rows:
            counts = make_responses(root / "responses.csv", exam, args.csv_rows, args.seed + 1, engine)
            cmd = [sys.executable, "-m", "i2dl", "--engine", engine.name, "grade", str(root / "responses.csv"),
                   "--exam", str(root / "exam"), "--out", str(root / "csv-results")]
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            mb, seconds, code, cpu = run_measured(cmd)
            verdict = "ok" if seconds < CSV_GOAL_S else "OVER THE GOAL"
            print()
            print(f"responses CSV of {args.csv_rows:,} rows (" + ", ".join(f"{k} {v}" for k, v in counts.items())
                  + f") graded by one `i2dl grade`: {seconds:.1f} s wall (goal < {CSV_GOAL_S} s: {verdict}), "
                  f"{cpu:.1f} s CPU, peak RSS {mb:.0f} MB, exit code {code}; load average {load:.1f} "
                  f"on {os.cpu_count()} cores (wall time above CPU time means other processes shared them)")

        if args.cohort:
            course = root / "course"
            env = {**os.environ, "I2DL_COURSE_SECRET": "b" * 64}  # a fixed secret: the same cohort every run
            subprocess.run([sys.executable, "-m", "i2dl", "init", str(course)], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            with (course / "bench-roster.csv").open("w", encoding="utf-8") as f:
                f.write("student_id,name\n" + "".join(f"b{i:05d},Student {i}\n" for i in range(args.cohort)))
            cmd = [sys.executable, "-m", "i2dl", "--engine", engine.name, "--course", str(course), "generate",
                   "--roster", str(course / "bench-roster.csv"), "--out", str(root / "cohort"), "--format", "markdown"]
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            scale = 1 if sys.platform == "darwin" else 1024
            # The cohort builds in forked workers: wait4's usage covers them too (CPU summed, memory the largest).
            cpu = usage.ru_utime + usage.ru_stime
            code = os.waitstatus_to_exitcode(status)
            verdict = "ok" if seconds < COHORT_GOAL_S else "OVER THE GOAL"
            print()
            print(f"cohort of {args.cohort} students (`generate --roster`, one process, no PDFs): {seconds:.1f} s "
                  f"wall (goal < {COHORT_GOAL_S} s: {verdict}), {cpu:.1f} s CPU (workers included), peak RSS "
                  f"{usage.ru_maxrss * scale / 1e6:.0f} MB (its largest process), exit code {code}; load average "
                  f"{load:.1f} on {os.cpu_count()} cores")
            if code == 0:
                pdf_sheets_figure(root / "cohort", course)

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            grade_all()
            prof.disable()
            pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
