"""`i2dl validate`: schema checks of every file, and a stress test of every spec over many seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from i2dl import kinds
from i2dl.engine import get_engine
from i2dl.errors import I2dlError, SamplingTimeout
from i2dl.render import fmt_number
from i2dl.spec.instance import Blank, overlaps
from i2dl.spec.load import builtin_dir, library_files, load_document


def detect_kind(path: Path, data: Any) -> str:
    """spec, mcq, blueprint or rubric, from the folder name or the top-level keys."""
    folder = path.parent.name
    if folder in ("specs", "mcq", "blueprints", "rubrics"):
        return {"specs": "spec", "mcq": "mcq", "blueprints": "blueprint", "rubrics": "rubric"}[folder]
    if isinstance(data, dict):
        if "parts" in data:
            return "spec"
        if "questions" in data:
            return "mcq"
        if "problems" in data:
            return "blueprint"
        if "scheme" in data or "criteria" in data:
            return "rubric"
    return "unknown"


def default_paths() -> list[Path]:
    """Every file of the active course's library, or outside a course every shipped spec, bank file, blueprint and rubric."""
    from i2dl.course import active_course

    course = active_course()
    out: list[Path] = []
    for kind in ("specs", "mcq", "blueprints", "rubrics"):
        folder = course.dir(kind) if course is not None else builtin_dir(kind)
        out += sorted(folder.glob("*.yaml"))
    return out


def validate_course(course) -> dict[str, Any]:
    """The course as a whole: ids unique across it and the shipped library, its roster, its secret."""
    from i2dl.course import CONFIG_FILE, ROSTER_FILE, course_secret, read_roster

    report: dict[str, Any] = {"path": str(course.root / CONFIG_FILE), "kind": "course", "ok": True, "errors": [],
                              "warnings": [], "notes": []}
    counts = []
    for kind in ("specs", "mcq", "blueprints", "rubrics"):
        try:
            files = library_files(kind)
        except I2dlError as exc:
            report["errors"].append(str(exc))
            continue
        own = sum(1 for p in files.values() if course.dir(kind) in p.parents)
        counts.append(f"{own} own {kind}")
    report["notes"].append(", ".join(counts))
    roster = course.root / ROSTER_FILE
    if roster.exists():
        try:
            report["notes"].append(f"{len(read_roster(roster))} students in {ROSTER_FILE}")
        except I2dlError as exc:
            report["errors"].append(str(exc))
    try:
        course_secret(course)
    except I2dlError as exc:
        report["warnings"].append(f"{exc} (needed for per-student variants)")
    else:
        if course.secret_file.exists() and course.secret_file.stat().st_mode & 0o077:
            report["warnings"].append(f"{course.secret_file}: readable by others; chmod 600 it")
    report["ok"] = not report["errors"]
    return report


#: progress(file, samples done, samples in all), called as a stress test goes on.
Progress = Callable[[str, int, int], None]


def stress_spec(compiled, samples: int, engine, progress: Progress | None = None) -> dict[str, Any]:
    """Sample `samples` seeds: tries per instance, degenerate instances, the range of each answer."""
    from collections import Counter

    from i2dl.spec.instance import make_instance

    tries = 0
    rejections: Counter[str] = Counter()
    declared = {a.name: a.tol for part in compiled.spec.parts for a in part.answers if a.tol is not None}
    narrower: Counter[str] = Counter()
    degenerate: dict[str, int] = {}
    ranges: dict[str, list[float]] = {}
    failures = made = 0
    first_failure = ""
    stopped = ""
    for seed in range(samples):
        if progress is not None:
            progress(str(compiled.path), seed, samples)
        try:
            inst = make_instance(compiled, seed, engine, rejections=rejections)
        except SamplingTimeout as exc:  # the other seeds would run out of time too
            failures += 1
            stopped = f"stress test stopped at seed {seed} of {samples}: {exc}"
            break
        except I2dlError as exc:
            failures += 1
            first_failure = first_failure or f"seed {seed}: {exc}"
            continue
        tries += inst.tries
        made += 1
        for part in inst.parts:
            for b in part.blanks:
                if kinds.get(b.kind).numeric:
                    a = np.asarray(b.expected, dtype=float)
                    lo, hi = ranges.setdefault(b.name, [np.inf, -np.inf])
                    ranges[b.name] = [min(lo, float(a.min())), max(hi, float(a.max()))]
                    if a.size > 1 and np.all(a == 0):
                        degenerate[f"{b.name} is all zeros"] = degenerate.get(f"{b.name} is all zeros", 0) + 1
                if b.name in declared and b.rounding is not None and _narrower(b):
                    narrower[b.name] += 1
                for alt in b.alternatives:
                    if alt["credit"] < 1 and overlaps(b, alt["value"], b.expected):
                        key = f"the mistake '{alt['name']}' of {b.name} is within the tolerance of the key"
                        degenerate[key] = degenerate.get(key, 0) + 1
    if progress is not None:
        progress(str(compiled.path), samples, samples)
    # Each try is one sample: rejected by the first unmet constraint, or kept.
    rates = {why: n / tries for why, n in rejections.most_common()} if tries else {}
    return {"samples": samples, "failures": failures, "first_failure": first_failure, "stopped": stopped,
            "tries_per_instance": tries / made if made else 0.0, "degenerate": degenerate, "ranges": ranges,
            "rejection_rates": rates, "narrower": {n: (declared[n], k) for n, k in narrower.items()}}


def _narrower(b: Blank) -> bool:
    """The spec's own tol is narrower than the rounding rule's somewhere in this key (so it has no effect there)."""
    x = np.abs(np.asarray(b.expected, dtype=float))
    own = np.maximum(b.tol_abs, b.tol_rel * x)
    unit = b.rule().unit(x)
    return bool(np.any(own < unit))


def validate_file(path: Path, samples: int, engine_name: str | None,
                  progress: Progress | None = None) -> dict[str, Any]:
    """Errors, warnings and stress-test notes for one file."""
    report: dict[str, Any] = {"path": str(path), "kind": "unknown", "ok": True, "errors": [], "warnings": [],
                              "notes": []}
    try:
        data, _ = load_document(path)
        kind = detect_kind(path, data)
        report["kind"] = kind
        if kind == "spec":
            from i2dl.spec.load import load_spec

            compiled = load_spec(path)
            report["warnings"] += compiled.warnings
            if samples:
                stats = stress_spec(compiled, samples, get_engine(engine_name), progress)
                report["tries_per_instance"] = stats["tries_per_instance"]
                report["stress"] = stats
                if stats["stopped"]:
                    report["errors"].append(stats["stopped"])
                elif stats["failures"]:
                    report["errors"].append(f"{stats['failures']} of {samples} seeds failed; "
                                            f"first: {stats['first_failure']}")
                for what, n in stats["degenerate"].items():
                    report["warnings"].append(f"{path}: degenerate in {n} of {samples} samples: {what}")
                for name, (tol, n) in stats["narrower"].items():
                    report["warnings"].append(
                        f"{path}: answer '{name}': tol (abs {tol.abs:g}, rel {tol.rel:g}) is narrower than the "
                        f"rounding rule's tolerance in {n} of {samples} samples, where it has no effect (a tol only "
                        "widens the rule's); remove it, or declare a finer rounding rule")
                # the three most frequent reasons, and every other one that rejects 1% or more
                worst = [(why, rate) for i, (why, rate) in enumerate(stats["rejection_rates"].items())
                         if i < 3 or rate >= 0.01]
                if worst:
                    report["notes"].append("rejected by: " + "; ".join(f"{why} {rate:.0%}" for why, rate in worst))
                report["notes"].append("ranges " + ", ".join(
                    f"{k} {fmt_number(lo)}..{fmt_number(hi)}" for k, (lo, hi) in list(stats["ranges"].items())[:6]))
        elif kind == "mcq":
            from i2dl.mcq import load_mcq_file, make_variant

            qs, warns = load_mcq_file(path)
            report["warnings"] += warns
            if samples:
                engine = get_engine(engine_name)
                for q in qs:
                    for seed in range(min(samples, 50) if q.parameterized else 1):
                        make_variant(q, seed, engine)
            report["notes"].append(f"{len(qs)} questions")
        elif kind == "blueprint":
            from i2dl.blueprint import load_blueprint
            from i2dl.exam import build_exam

            _, warns = load_blueprint(path)
            report["warnings"] += warns
            if samples:
                exam = build_exam(str(path), seed=0, engine_name=engine_name)
                report["notes"].append(f"{len(exam.problems)} problems, {exam.points:g} points")
        elif kind == "rubric":
            from i2dl.spec.rubric import load_rubric

            load_rubric(path)
        else:
            report["errors"].append(f"{path}: cannot tell what this file is (no 'parts', 'questions', "
                                    "'problems' or 'scheme' key); put it under specs/, mcq/, blueprints/ or rubrics/")
    except I2dlError as exc:
        report["errors"].append(str(exc))
    report["ok"] = not report["errors"]
    return report


def validate_paths(paths: list[Path], *, samples: int = 200, engine_name: str | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Validate files and folders (default: the whole course, or outside one everything shipped); one report per file, `progress` told as it goes."""
    from i2dl.course import active_course

    course = active_course() if not paths else None
    files: list[Path] = []
    for p in paths or default_paths():
        p = Path(p)
        if p.is_dir():
            files += sorted(p.rglob("*.yaml"))
        else:
            files.append(p)
    reports = [validate_course(course)] if course is not None else []
    return {"files": reports + [validate_file(f, samples, engine_name, progress) for f in files]}
