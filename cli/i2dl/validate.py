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
    """spec, mcq, short, blueprint or rubric, from the folder name or the top-level keys."""
    folder = path.parent.name
    if folder in ("specs", "mcq", "short", "blueprints", "rubrics"):
        return {"specs": "spec", "mcq": "mcq", "short": "short", "blueprints": "blueprint", "rubrics": "rubric"}[folder]
    if isinstance(data, dict):
        if "parts" in data:
            return "spec"
        if "questions" in data:
            qs = data["questions"]
            return "short" if isinstance(qs, list) and qs and isinstance(qs[0], dict) and "model_answer" in qs[0] \
                else "mcq"
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
    for kind in ("specs", "mcq", "short", "blueprints", "rubrics"):
        folder = course.dir(kind) if course is not None else builtin_dir(kind)
        out += sorted(folder.glob("*.yaml"))
    return out


def validate_course(course) -> dict[str, Any]:
    """The course as a whole: ids unique across it and the shipped library, its roster, its secret."""
    from i2dl.course import CONFIG_FILE, ROSTER_FILE, course_secret, read_roster

    report: dict[str, Any] = {"path": str(course.root / CONFIG_FILE), "kind": "course", "ok": True, "errors": [],
                              "warnings": [], "notes": []}
    counts = []
    for kind in ("specs", "mcq", "short", "blueprints", "rubrics"):
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

#: the class size whose collision figure `validate` reports by default
CLASS_SIZE = 300
#: a bool or choice key this common across samples is reported (unless the answer says why it is constant)
SAME_ANSWER_SHARE = 0.95
#: fewer samples than this say too little about how often a key repeats: the answer checks wait for more
MIN_SAMPLES_FOR_ANSWER_CHECKS = 200


def sheet_key(inst) -> str:
    """What a student sees of an instance: its statement and part texts (two students share an instance when these agree)."""
    return "\n".join([inst.statement, *(p.text for p in inst.parts),
                      *(o.text for p in inst.parts for o in p.options)])  # a property question's statements too


def collision_figures(counts: list[int], class_size: int = CLASS_SIZE) -> dict[str, Any]:
    """Distinct instances and, for a class of N, E[pairs sharing] = C(N,2) q and P(some pair shares).

    q, the chance that two students draw the same instance, is estimated without bias by the share of
    sample pairs that coincide, sum c(c-1) / (S(S-1)); P(no pair shares) is prod_{k<N} (1 - k q), the
    birthday product for 1/q equally likely instances (exact when the instances are equally likely).
    """
    samples = sum(counts)
    q = sum(c * (c - 1) for c in counts) / (samples * (samples - 1)) if samples > 1 else 0.0
    pairs = class_size * (class_size - 1) / 2 * q
    none_shared = 1.0
    for k in range(1, class_size):
        none_shared *= max(0.0, 1.0 - k * q)
        if none_shared == 0.0:
            break
    return {"samples": samples, "distinct": len(counts), "class_size": class_size, "pair_share": q,
            "effective_instances": 1 / q if q else None, "expected_shared_pairs": pairs,
            "p_any_shared": 1.0 - none_shared}


def _answer_value(kind: str, value: Any) -> str:
    """A key value as text for counting repeats (numbers rounded to 9 significant digits)."""
    if kinds.get(kind).numeric:
        a = np.asarray(value, dtype=float)
        return repr([float(f"{v:.9g}") for v in a.ravel()]) + repr(a.shape)
    return repr(sorted(value) if isinstance(value, (set, frozenset)) else value)


def answer_repeats(compiled, samples: list) -> list[str]:
    """Answer blanks whose key is the same in every sample, or (bool and choice) in more than 95%, unless `constant` says why."""
    from collections import Counter

    said = {a.name for p in compiled.spec.parts for a in p.answers if a.constant}
    seen: dict[str, Counter[str]] = {}
    kind_of: dict[str, str] = {}
    for inst in samples:
        for part in inst.parts:
            for b in part.blanks:
                kind_of[b.name] = b.kind
                if not kinds.get(b.kind).by_hand:
                    seen.setdefault(b.name, Counter())[_answer_value(b.kind, b.expected)] += 1
    out = []
    for name, counts in seen.items():
        if name in said:
            continue
        value, top = counts.most_common(1)[0]
        share = top / sum(counts.values())
        if len(counts) == 1:
            out.append(f"{name} is {value} in every sample")
        elif kinds.get(kind_of[name]).few_values and share > SAME_ANSWER_SHARE:
            out.append(f"{name} is {value} in {share:.0%} of samples")
    return out


def statement_checks(compiled, samples: list) -> tuple[dict[str, int], list[str]]:
    """Property questions: instances whose shown statements are all true or all false (unless allowed), and
    statements whose truth is the same in every sample that showed them (unless `constant` says why)."""
    from collections import defaultdict

    from i2dl.spec.statements import shown

    uniform: dict[str, int] = {}
    truths: dict[tuple[str, int], set[bool]] = defaultdict(set)
    for i, part in enumerate(compiled.spec.parts):
        st = part.statements
        if st is None:
            continue
        for inst in samples:
            opts = inst.parts[i].options
            flags = {o.correct for o in opts}
            if len(flags) == 1 and not st.allow_uniform:
                key = f"every shown statement of part {part.id} is {'true' if flags.pop() else 'false'}"
                uniform[key] = uniform.get(key, 0) + 1
            for (idx, _), o in zip(shown(part, inst.values), opts, strict=True):
                truths[(part.id, idx)].add(o.correct)
    foregone = []
    for (pid, idx), seen in sorted(truths.items()):
        part = next(p for p in compiled.spec.parts if p.id == pid)
        if len(seen) == 1 and part.statements.from_[idx].constant is None:
            foregone.append(f"statement {idx + 1} of part {pid} is {'true' if seen.pop() else 'false'} in every "
                            "sample that shows it")
    return uniform, foregone


def stress_spec(compiled, samples: int, engine, progress: Progress | None = None,
                class_size: int = CLASS_SIZE) -> dict[str, Any]:
    """Sample `samples` seeds: tries per instance, degenerate instances, the range of each answer, variety."""
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
    sheets: Counter[str] = Counter()
    made_instances = []
    for seed in range(samples):
        if progress is not None:
            progress(str(compiled.path), seed, samples)
        try:
            inst = make_instance(compiled, seed, engine, rejections=rejections)
            if compiled.spec.figure is not None:  # a figure that cannot be drawn for a sample fails that sample
                from i2dl.figures import figures_of

                for fig in figures_of(inst):
                    fig.svg()
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
        sheets[sheet_key(inst)] += 1
        made_instances.append(inst)
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
    repeats = answer_repeats(compiled, made_instances) if made >= MIN_SAMPLES_FOR_ANSWER_CHECKS else []
    uniform, foregone = statement_checks(compiled, made_instances)
    for key, n in uniform.items():
        degenerate[key] = degenerate.get(key, 0) + n
    if made >= MIN_SAMPLES_FOR_ANSWER_CHECKS:
        repeats += foregone
    return {"samples": samples, "failures": failures, "first_failure": first_failure, "stopped": stopped,
            "tries_per_instance": tries / made if made else 0.0, "degenerate": degenerate, "ranges": ranges,
            "rejection_rates": rates, "narrower": {n: (declared[n], k) for n, k in narrower.items()},
            "variety": collision_figures(list(sheets.values()), class_size), "answer_repeats": repeats}


def _narrower(b: Blank) -> bool:
    """The spec's own tol is narrower than the rounding rule's somewhere in this key (so it has no effect there)."""
    x = np.abs(np.asarray(b.expected, dtype=float))
    own = np.maximum(b.tol_abs, b.tol_rel * x)
    unit = b.rule().unit(x)
    return bool(np.any(own < unit))


def validate_file(path: Path, samples: int, engine_name: str | None,
                  progress: Progress | None = None, class_size: int = CLASS_SIZE) -> dict[str, Any]:
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
                stats = stress_spec(compiled, samples, get_engine(engine_name), progress, class_size)
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
                for what in stats["answer_repeats"]:
                    report["warnings"].append(f"{path}: {what} (a question with a foregone answer; vary it, "
                                              "or say why with 'constant: ...' on the answer or statement)")
                report["variety"] = stats["variety"]
                report["notes"].append(variety_note(stats["variety"]))
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
        elif kind == "short":
            from i2dl.short import load_short_file

            qs, warns = load_short_file(path)
            report["warnings"] += warns
            report["notes"].append(f"{len(qs)} short-answer questions, {sum(q.question.points for q in qs):g} points")
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
                                    "'problems' or 'scheme' key); put it under specs/, mcq/, short/, blueprints/ or rubrics/")
    except I2dlError as exc:
        report["errors"].append(str(exc))
    report["ok"] = not report["errors"]
    return report


def variety_note(v: dict[str, Any]) -> str:
    """The variety figures in one line: distinct instances, and the collisions expected in a class."""
    head = f"{v['distinct']:,} distinct of {v['samples']:,} samples"
    if not v["pair_share"]:
        return head + " (no two alike: too few samples to estimate how often students would share one)"
    return (head + f"; class of {v['class_size']:,}: {v['expected_shared_pairs']:.1f} pairs expected to share "
            f"an instance, P(some pair shares) {v['p_any_shared']:.0%}")


def validate_paths(paths: list[Path], *, samples: int = 200, engine_name: str | None = None,
                   progress: Progress | None = None, class_size: int = CLASS_SIZE) -> dict[str, Any]:
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
    return {"files": reports + [validate_file(f, samples, engine_name, progress, class_size) for f in files]}
