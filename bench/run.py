"""The performance record (`make bench`): every figure of issue 20 as a ratio against a floor measured
in the same run, printed as a table with its goal and written to bench/results.json.

Floors: grading is set against parsing the same files (`load_submission`, one core); `--jobs 2` against
`--jobs 1`; `i2dl --help` against `python -c "import typer"`; the other commands against the import floor
of their dependencies (`python -c "import numpy, yaml, pydantic, typer, rich"`), the least any command
costs. Times are the best of a few runs (time.perf_counter); CPU seconds and the load average are
recorded beside them, since other processes on the machine stretch wall times. The package is
byte-compiled first (compile_package), as an installed wheel and the dependencies are. The numpy engine is
used unless --engine says otherwise. Peak memory (RSS, by wait4) is printed for grading --rss-files
files and for a --cohort-rss-students cohort. Figures are measured and printed, never asserted.

The submissions are a fixed mix: the key's answers, answers with a slip early in a chain whose
later values follow from it (follow-through), plain wrong answers, and unreadable or missing
entries; the "mostly wrong" mix has no key answers, so follow-through is checked on nearly every blank.

    python bench/run.py [--files 1000] [--repeats 5] [--seed 2024] [--engine numpy] [--profile]
    python bench/run.py --only cohort,count   # some figures only (printed; results.json only with --results)
    BENCH_QUICK=1 python bench/run.py     # tiny sizes: a smoke test of every figure (timings mean nothing)
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
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
#: Peak memory of a 2,000-student cohort (no PDFs): what a laptop spares without swapping.
COHORT_RSS_GOAL_MB = 500
PDF_SHEETS_GOAL_S = 60  # issue 14: a 300-student cohort's PDF sheets in under 60 s
CSV_GOAL_S = 15
MIX = (("key", 0.4), ("follow-through", 0.3), ("wrong", 0.15), ("invalid", 0.15))
WRONG_MIX = (("key", 0.0), ("follow-through", 0.7), ("wrong", 0.3), ("invalid", 0.0))
#: The spec of the --count figure, and the time a comparable DL question generator needs for 1,000 conv instances.
COUNT_SPEC = "conv2d-by-hand"
COMPARABLE_COUNT_S = 3.9
#: Flags that add PDFs to `generate --roster` (every student's sheet and every variant's key): the cohort with PDFs.
COHORT_PDF_ARGS: list[str] = ["--format", "markdown", "--format", "pdf"]
RESULTS = Path(__file__).resolve().parent / "results.json"
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
        if prob.kind == "short":  # a written answer: another text, awaiting a TA like any
            answers[part.number] = "a different explanation"
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
        if prob.kind == "short":
            answers[part.number] = None
            continue
        for b in part.blanks:
            answers[part.number][b.name] = JUNK[int(rng.integers(len(JUNK)))]
    if rng.random() < 0.3:
        answers["9.9"] = 1  # an unknown part
    return answers


def make_submissions(folder: Path, exam, n: int, seed: int, engine, mix=MIX) -> dict[str, int]:
    """`n` answer files in `folder`, in the mix `mix`; how many of each kind."""
    counts: dict[str, int] = {}
    for i, kind, answers in mixed_answers(exam, n, seed, engine, mix):
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


def mixed_answers(exam, n: int, seed: int, engine, mix=MIX):
    """(index, kind, answers) of `n` students drawn from `mix`."""
    rng = np.random.default_rng(seed)
    library = Library()
    kinds = [k for k, _ in mix]
    probs = [p for _, p in mix]
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


#: A small process that starts the measured commands: a child forked from the benchmark itself would
#: start with the benchmark's own peak memory as its ru_maxrss (the high-water mark survives exec).
_LAUNCHER_CODE = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    t0 = time.perf_counter()
    p = subprocess.Popen(job["args"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=job["env"])
    _, status, u = os.wait4(p.pid, 0)
    print(json.dumps([u.ru_maxrss, time.perf_counter() - t0, os.waitstatus_to_exitcode(status),
                      u.ru_utime + u.ru_stime]), flush=True)
"""
_LAUNCHER: list[subprocess.Popen] = []


def _launcher() -> subprocess.Popen:
    if not _LAUNCHER:  # -S: the standard library only, so it stays a few MB
        _LAUNCHER.append(subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER_CODE], stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True))
    return _LAUNCHER[0]


def compile_package() -> None:
    """The package's modules byte-compiled, as a wheel install leaves them (and as the dependencies are).

    An editable install writes a module's bytecode on its first import, unless PYTHONDONTWRITEBYTECODE is
    set (as on this machine): then every run would compile the changed modules from source again, a cost
    no user's command pays and the import floor does not include.
    """
    import compileall

    import i2dl

    compileall.compile_dir(str(Path(i2dl.__file__).parent), quiet=1)


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, float]:
    """(peak RSS in MB, wall seconds, exit code, CPU seconds: user + system) of one child process (and the
    workers it waited for: CPU summed, memory the largest), started by the launcher."""
    launcher = _launcher()
    launcher.stdin.write(json.dumps({"args": args, "env": dict(os.environ if env is None else env)}) + "\n")
    launcher.stdin.flush()
    maxrss, seconds, code, cpu = json.loads(launcher.stdout.readline())
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return maxrss * scale / 1e6, seconds, code, cpu


@dataclass
class Figure:
    """One line of the record: a measured value, the floor it is set against, and its goal."""

    name: str
    what: str
    value: float  # seconds, or MB for memory
    floor: float | None = None  # seconds of the floor measured in this run
    floor_name: str = ""
    goal: str = ""  # as printed, e.g. "<= 1.5x"
    goal_ratio: float | None = None  # the ratio goal, value / floor (or floor / value when higher_is_better)
    goal_value: float | None = None  # an absolute goal in the value's unit
    higher_is_better: bool = False
    unit: str = "s"
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.floor or not self.value:
            return None
        return self.floor / self.value if self.higher_is_better else self.value / self.floor

    @property
    def met(self) -> bool | None:
        checks = []
        if self.goal_ratio is not None and self.ratio is not None:
            checks.append(self.ratio >= self.goal_ratio if self.higher_is_better else self.ratio <= self.goal_ratio)
        if self.goal_value is not None:
            checks.append(self.value <= self.goal_value)
        return all(checks) if checks else None

    def data(self) -> dict[str, Any]:
        return {"name": self.name, "what": self.what, "value": round(self.value, 4), "unit": self.unit,
                "floor": None if self.floor is None else round(self.floor, 4), "floor_name": self.floor_name,
                "ratio": None if self.ratio is None else round(self.ratio, 3), "goal": self.goal,
                "met": self.met, **({"notes": self.notes} if self.notes else {})}


def best_in_turn(fns: list, repeats: int, before=None) -> list[float]:
    """The best wall time of each of `fns` over `repeats` rounds, each round calling every one in turn
    (before() runs untimed ahead of each call)."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            if before is not None:
                before()
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def best_runs_in_turn(commands: list[list[str]], repeats: int, env: dict[str, str] | None = None,
                      check: bool = True) -> list[tuple[float, float, float, int]]:
    """For each command, (best wall seconds, its CPU seconds, the largest peak RSS in MB, the last exit code),
    the commands run in turn `repeats` times (with `check`, a run that exits nonzero stops the benchmark)."""
    best = [(float("inf"), 0.0, 0.0, 0)] * len(commands)
    for _ in range(repeats):
        for i, args in enumerate(commands):
            mb, seconds, code, c = run_measured(args, env)
            if check and code != 0:
                raise SystemExit(f"bench: {' '.join(args)} exited with {code}")
            wall, cpu, rss, _ = best[i]
            best[i] = (seconds, c, max(rss, mb), code) if seconds < wall else (wall, cpu, max(rss, mb), code)
    return best


def best_run(args: list[str], repeats: int, env: dict[str, str] | None = None) -> tuple[float, float, float, int]:
    """best_runs_in_turn of one command, its exit code returned (a figure notes it) rather than checked."""
    return best_runs_in_turn([args], repeats, env, check=False)[0]


def parse_all(paths: list[Path], grader: Grader) -> list[Any]:
    """Every file read and checked as grading reads it (the floor grading is set against)."""
    return [load_submission(p, grader) for p in paths]


def tree_digest(folder: Path) -> str:
    """One digest of every file under `folder` (names and bytes)."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


class Sizes:
    """How much each figure measures: the issue's sizes, or tiny ones for BENCH_QUICK=1."""

    def __init__(self, quick: bool, args: argparse.Namespace):
        self.quick = quick
        self.files = 12 if quick else args.files
        self.wrong_files = 8 if quick else args.files // 2
        self.jobs_files = 40 if quick else args.jobs_files
        self.repeats = 1 if quick else args.repeats
        self.cold_repeats = 1 if quick else 7
        self.jobs_repeats = 1 if quick else 3
        self.cohort = 4 if quick else args.cohort
        self.cohort_rss = 6 if quick else args.cohort_rss
        self.count = 8 if quick else 1000
        self.rss_files = 30 if quick else args.rss_files
        self.csv_rows = 10 if quick else args.csv_rows


def pdf_sheets_figure(folder: Path, course: Path) -> tuple[float, float, float]:
    """(wall s, CPU s) of every student's PDF sheet of a generated cohort, and the seconds of one PDF key."""
    from i2dl.course import use_course
    from i2dl.export import SHEETS_DIR, cohort_file_names
    from i2dl.export.pdf import key_pdf, write_cohort_pdfs

    exam = load_exam(folder)
    names = cohort_file_names([r["student_id"] for r in exam.roster])
    with use_course(course):
        t0, c0 = time.perf_counter(), os.times()
        write_cohort_pdfs(exam, {sid: folder / SHEETS_DIR / f"{n}.pdf" for sid, n in names.items()}, {})
        seconds, c1 = time.perf_counter() - t0, os.times()
        cpu = sum(c1[:4]) - sum(c0[:4])  # this process and its (joined) workers
        sample = list(exam.variants.values())[:3]
        t0 = time.perf_counter()
        for v in sample:
            key_pdf(v)
        per_key = (time.perf_counter() - t0) / len(sample)
    return seconds, cpu, per_key


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--engine", default="numpy", help="numpy (default here), torch or auto")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one grading run")
    ap.add_argument("--results", type=Path, default=None,
                    help="where results.json is written (default: bench/results.json, unless --only is given)")
    ap.add_argument("--only", default="", help="comma-separated figure names to measure (default: every figure)")
    # The sizes are the defaults; smaller ones only to get a record on a machine too busy for them.
    ap.add_argument("--jobs-files", type=int, default=2000, help="files of the --jobs 2 figure")
    ap.add_argument("--cohort", type=int, default=300, help="students of the cohort figure")
    ap.add_argument("--cohort-rss", type=int, default=2000, help="students of the cohort peak-memory figure")
    ap.add_argument("--rss-files", type=int, default=10_000, help="files of the grading peak-memory figure")
    ap.add_argument("--csv-rows", type=int, default=2000, help="rows of the responses CSV figure")
    args = ap.parse_args(argv)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = only - set(FIGURES)
    if unknown:
        ap.error(f"unknown figure(s) {', '.join(sorted(unknown))}; figures: {', '.join(FIGURES)}")
    if args.results is None and not only:
        args.results = RESULTS

    def want(*names: str) -> bool:
        return not only or bool(only & set(names))

    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    size = Sizes(quick, args)
    engine_name = None if args.engine == "auto" else args.engine

    from i2dl.engine import get_engine

    engine = get_engine(engine_name)
    compile_package()
    py = sys.executable
    i2dl = [py, "-m", "i2dl", "--engine", engine.name]
    figures: list[Figure] = []
    _launcher()  # started while the benchmark is small
    started, load_start = time.perf_counter(), load_average()

    def record() -> dict[str, Any]:
        return {"issue": 20, "quick": quick, "engine": engine.name, "argv": sys.argv[1:], "cores": os.cpu_count(),
                "python": sys.version.split()[0], "platform": sys.platform,
                "load_average": [round(load_start, 2), round(load_average(), 2)],
                "seconds": round(time.perf_counter() - started, 1), "figures": [f.data() for f in figures]}

    def add(f: Figure) -> None:
        """Keep a figure, say it, and rewrite results.json (a run stopped early keeps what it measured)."""
        figures.append(f)
        print(f"measured {f.name}: {f.value:.3f} {f.unit}" + (f", {f.ratio:.2f}x {f.floor_name}" if f.ratio else "")
              + f" (load average {load_average():.1f})", file=sys.stderr, flush=True)
        if args.results is not None:
            args.results.write_text(json.dumps(record(), indent=1) + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="i2dl-bench-") as tmp:
        root = Path(tmp)
        write_exam(build_exam("default", args.seed, engine_name=engine_name), root / "exam")
        exam = load_exam(root / "exam")
        n_parts = len(list(exam.parts()))

        # -- grading on one core, against parsing the same files
        for name, mix, n, label in (("grade", MIX, size.files, "default mix"),
                                    ("grade-mostly-wrong", WRONG_MIX, size.wrong_files, "mostly wrong")):
            # the default mix's files are also copied by the --jobs and memory figures
            if not want(name, *(("grade-jobs-2", "rss-grade") if name == "grade" else ())):
                continue
            subs = root / f"subs-{name}"
            subs.mkdir()
            counts = make_submissions(subs, exam, n, args.seed, engine, mix)
            if not want(name):
                continue
            paths = submission_files(subs)
            grader = Grader(exam, engine_name)
            out = root / f"results-{name}"
            # the floor and the measures taken in turn, so that a slower spell of the machine falls on all three;
            # the last, the same batch graded without writing a results folder, says where the time goes
            parse, grade, unwritten = best_in_turn(
                [partial(parse_all, paths, grader),
                 partial(grade_folder, subs, exam_dir=root / "exam", out=out, engine_name=engine_name, jobs=1),
                 partial(grade_folder, subs, exam_dir=root / "exam", out=None, engine_name=engine_name, jobs=1)],
                size.repeats, before=partial(shutil.rmtree, out, ignore_errors=True))
            add(Figure(name, f"grade + write {n:,} files ({label}: "
                                  + ", ".join(f"{k} {v}" for k, v in counts.items()) + "), one core",
                                  grade, parse, "parse them (load_submission)", "<= 1.5x parse", 1.5,
                                  notes={"files": n, "ms_per_file": round(1000 * grade / n, 3),
                                         "parse_ms_per_file": round(1000 * parse / n, 3),
                                         "graded_unwritten_ms_per_file": round(1000 * unwritten / n, 3),
                                         "kinds": counts}))
            if args.profile and name == "grade-mostly-wrong":
                import cProfile
                import pstats

                shutil.rmtree(out, ignore_errors=True)
                prof = cProfile.Profile()
                prof.enable()
                grade_folder(subs, exam_dir=root / "exam", out=out, engine_name=engine_name, jobs=1)
                prof.disable()
                pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(25)

        # -- grade --jobs 2 against --jobs 1, and the results compared byte for byte
        if want("grade-jobs-2"):
            subs = root / "subs-jobs"
            copy_submissions(root / "subs-grade", subs, size.jobs_files)
            outs = {jobs: root / f"results-jobs{jobs}" for jobs in (1, 2)}
            # --jobs 1 and --jobs 2 in turn, best of three each: a slow spell of the machine falls on both
            runs = best_runs_in_turn([i2dl + ["grade", str(subs), "--exam", str(root / "exam"), "--out",
                                              str(outs[jobs]), "--jobs", str(jobs)] for jobs in (1, 2)],
                                     size.jobs_repeats)
            walls = {jobs: r[0] for jobs, r in zip((1, 2), runs, strict=True)}
            cpus = {jobs: r[1] for jobs, r in zip((1, 2), runs, strict=True)}
            digests = {jobs: tree_digest(out) for jobs, out in outs.items()}
            add(Figure("grade-jobs-2", f"`grade --jobs 2` on {size.jobs_files:,} files (2 workers)", walls[2],
                       walls[1], "`grade --jobs 1`", ">= 1.8x faster", 1.8, higher_is_better=True,
                       notes={"identical_to_jobs_1": digests[1] == digests[2], "cpu_s_jobs_1": round(cpus[1], 2),
                              "cpu_s_jobs_2": round(cpus[2], 2), "cores": os.cpu_count()}))

        # -- the import floors and cold start (the floor is every later figure's reference)
        # the floors and the cold commands run in turn, best of cold_repeats each: a slow spell falls on all
        cold = {"deps": [py, "-c", "import numpy, yaml, pydantic, typer, rich.console, rich.table"],
                "typer": [py, "-c", "import typer"], "help": [py, "-m", "i2dl", "--help"],
                "solve": i2dl + ["solve", "conv1d-backprop"]}
        asked = ["deps"] + (["typer", "help"] if want("cold-help") else []) + (["solve"] if want("cold-solve") else [])
        cold_walls = {n: r[0] for n, r in zip(asked, best_runs_in_turn([cold[n] for n in asked], size.cold_repeats),
                                         strict=True)}
        floor_deps = cold_walls["deps"]
        if want("cold-help"):
            add(Figure("cold-help", "`i2dl --help`", cold_walls["help"], cold_walls["typer"], 'python -c "import typer"',
                       "<= 1.3x", 1.3))
        if want("cold-solve"):
            add(Figure("cold-solve", f"`i2dl --engine {engine.name} solve conv1d-backprop`", cold_walls["solve"], floor_deps,
                       "import numpy, yaml, pydantic, typer, rich", "<= 1.5x", 1.5))

        # -- a cohort in one command (no PDFs), and with PDFs when the exporter is there
        env = {**os.environ, "I2DL_COURSE_SECRET": "b" * 64}  # a fixed secret: the same cohort every run
        course = root / "course"
        if want("cohort", "cohort-pdf", "pdf-sheets", "rss-cohort"):
            subprocess.run([py, "-m", "i2dl", "init", str(course)], check=True, env=env, stdout=subprocess.DEVNULL)

        def cohort(n: int, extra: list[str], tag: str) -> tuple[float, float, float, int]:
            roster = course / f"bench-roster-{n}.csv"
            roster.write_text("student_id,name\n" + "".join(f"b{i:05d},Student {i}\n" for i in range(n)),
                              encoding="utf-8")
            return best_run(i2dl + ["--course", str(course), "generate", "--roster", str(roster), "--out",
                                    str(root / f"cohort-{tag}"), "--force", *extra], 1, env)

        code = 1
        if want("cohort", "pdf-sheets"):
            wall, cpu, rss, code = cohort(size.cohort, ["--format", "markdown"], "plain")
            add(Figure("cohort", f"`generate --roster` of {size.cohort} students, one command, no PDFs", wall,
                       floor_deps, "import floor", "<= 10 s", goal_value=10.0,
                       notes={"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss), "exit_code": code}))
        if COHORT_PDF_ARGS and want("cohort-pdf"):
            wall, cpu, rss, pdf_code = cohort(size.cohort, COHORT_PDF_ARGS, "pdf")
            add(Figure("cohort-pdf", f"`generate --roster` of {size.cohort} students with PDFs", wall,
                       floor_deps, "import floor", "<= 30 s", goal_value=30.0,
                       notes={"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss), "exit_code": pdf_code}))
        if code == 0 and want("pdf-sheets"):  # every student's PDF sheet of that cohort, typeset in one process
            wall, cpu, per_key = pdf_sheets_figure(root / "cohort-plain", course)
            add(Figure("pdf-sheets", f"PDF sheets of the {size.cohort}-student cohort (Typst, in threads)", wall,
                       None, "", f"< {PDF_SHEETS_GOAL_S} s", goal_value=float(PDF_SHEETS_GOAL_S),
                       notes={"cpu_s": round(cpu, 2), "one_pdf_key_s": round(per_key, 2)}))

        # -- 1,000 instances of one conv spec in one command
        if want("count"):
            wall, cpu, _, code = best_run(i2dl + ["generate", COUNT_SPEC, "--count", str(size.count), "--seed", "0",
                                                  "--out", str(root / "count"), "--force"], size.repeats)
            add(Figure("count", f"`generate {COUNT_SPEC} --count {size.count:,}`", wall, floor_deps,
                       "import floor", "<= 2 s", goal_value=2.0,
                       notes={"cpu_s": round(cpu, 2), "comparable_generator_s": COMPARABLE_COUNT_S,
                              "exit_code": code}))

        # -- a responses CSV graded by one command
        if want("grade-csv"):
            make_responses(root / "responses.csv", exam, size.csv_rows, args.seed + 1, engine)
            wall, cpu, rss, code = best_run(i2dl + ["grade", str(root / "responses.csv"), "--exam", str(root / "exam"),
                                                    "--out", str(root / "csv-results")], 1)
            add(Figure("grade-csv", f"`grade responses.csv` of {size.csv_rows:,} rows (all cores)", wall,
                       floor_deps, "import floor", f"<= {CSV_GOAL_S} s", goal_value=CSV_GOAL_S,
                       notes={"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss), "exit_code": code}))

        # -- peak memory: grading many files, and a large cohort
        if want("rss-grade"):
            copy_submissions(root / "subs-grade", root / "rss-subs", size.rss_files)
            wall, cpu, rss, code = best_run(i2dl + ["grade", str(root / "rss-subs"), "--exam", str(root / "exam"),
                                                    "--out", str(root / "rss-results")], 1)
            add(Figure("rss-grade", f"peak RSS of `grade` on {size.rss_files:,} files (all cores)", rss,
                       unit="MB", goal=f"< {RSS_GOAL_MB} MB", goal_value=RSS_GOAL_MB,
                       notes={"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "exit_code": code}))
        if want("rss-cohort"):
            wall, cpu, rss, code = cohort(size.cohort_rss, ["--format", "markdown"], "rss")
            add(Figure("rss-cohort", f"peak RSS of `generate --roster` of {size.cohort_rss:,} students, no PDFs", rss,
                       unit="MB", goal=f"< {COHORT_RSS_GOAL_MB} MB", goal_value=COHORT_RSS_GOAL_MB,
                       notes={"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "exit_code": code}))

    elapsed = time.perf_counter() - started
    print(f"i2dl performance record: exam {exam.exam_id} ({n_parts} parts), engine {engine.name}, "
          f"{os.cpu_count()} cores, load average {load_start:.1f} -> {load_average():.1f}"
          + (", BENCH_QUICK (tiny sizes: the timings mean nothing)" if quick else ""))
    print()
    print(f"{'figure':<20}{'value':>10}{'floor':>9}{'ratio':>8}  {'goal':<16}{'met':<5} what (floor)")
    for f in figures:
        value = f"{f.value:.3f} s" if f.unit == "s" else f"{f.value:.0f} MB"
        floor = f"{f.floor:.3f}" if f.floor is not None else ""
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        met = {True: "yes", False: "NO", None: ""}[f.met]
        print(f"{f.name:<20}{value:>10}{floor:>9}{ratio:>8}  {f.goal:<16}{met:<5} {f.what}"
              + (f" ({f.floor_name})" if f.floor_name else ""))
    print()
    for f in figures:  # where a grading figure's time goes, per file
        if "graded_unwritten_ms_per_file" in f.notes:
            n = f.notes
            print(f"{f.name}: per file, parse {n['parse_ms_per_file']:.2f} ms; parse + grade "
                  f"{n['graded_unwritten_ms_per_file']:.2f} ms; parse + grade + write {n['ms_per_file']:.2f} ms")
    jobs = next((f for f in figures if f.name == "grade-jobs-2"), None)
    if jobs is not None:
        print(f"--jobs 2 results byte-identical to --jobs 1: {'yes' if jobs.notes['identical_to_jobs_1'] else 'NO'}; ",
              end="")
    print(f"bench took {elapsed:.0f} s")
    if args.results is not None:
        args.results.write_text(json.dumps(record(), indent=1) + "\n", encoding="utf-8")
        print(f"written: {args.results}")
    return 0


#: Every figure's name, in the order they are measured (--only picks among them).
FIGURES = ("grade", "grade-mostly-wrong", "grade-jobs-2", "cold-help", "cold-solve", "cohort", "cohort-pdf",
           "pdf-sheets", "count", "grade-csv", "rss-grade", "rss-cohort")


if __name__ == "__main__":
    sys.exit(main())
