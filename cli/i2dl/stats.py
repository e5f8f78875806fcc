"""Item statistics of a graded exam: difficulty, spread, discrimination, reliability, options, mistakes.

The functions named after the maths take plain lists of numbers; `read_results` reads a results
folder (summary.json as `grade` writes it) into a `Cohort`, and `cohort_stats` computes every
figure of it as plain data (what `i2dl stats` prints, writes as JSON and draws in its report).
Variances and standard deviations are those of the cohort itself (divided by n, not n - 1).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from i2dl.errors import ExamError, NotFoundError

#: The share of students in each of the upper and lower groups of the discrimination index (Kelley's 27%).
GROUP_SHARE = 0.27
#: Items whose difficulty lies above EASY or below HARD are flagged for review.
EASY, HARD = 0.9, 0.1
#: How many named mistakes per part the report lists.
TOP_MISTAKES = 3
HISTOGRAM_BINS = 10
SUMMARY_FILE = "summary.json"  # as grade.batch writes it (not imported: reading results needs no grader)

# ---------------------------------------------------------------------------- the maths


def mean(xs: Sequence[float]) -> float:
    """The arithmetic mean (0 for no values)."""
    return math.fsum(xs) / len(xs) if xs else 0.0


def variance(xs: Sequence[float]) -> float:
    """The population variance: mean squared deviation from the mean."""
    m = mean(xs)
    return math.fsum((x - m) ** 2 for x in xs) / len(xs) if xs else 0.0


def std(xs: Sequence[float]) -> float:
    """The population standard deviation."""
    return math.sqrt(variance(xs))


def difficulty(scores: Sequence[float], max_points: float) -> float | None:
    """The difficulty (facility) index p = mean score / maximum: 1 everyone full marks, 0 nobody a point."""
    return mean(scores) / max_points if max_points and scores else None


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's correlation r = cov(x, y) / (sd x sd y); None when either does not vary."""
    mx, my = mean(x), mean(y)
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx <= 1e-12 * max(1.0, mx * mx) * len(x) or syy <= 1e-12 * max(1.0, my * my) * len(y):
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def corrected_item_total(item: Sequence[float], totals: Sequence[float]) -> float | None:
    """The corrected item-total correlation: r between the item and the total without the item."""
    return pearson(item, [t - s for t, s in zip(totals, item, strict=True)])


def upper_lower_groups(totals: Sequence[float], share: float = GROUP_SHARE) -> tuple[list[int], list[int]]:
    """Indices of the upper and lower groups: the round(share * n) highest and lowest totals (at least one).

    Ties at a group's edge are broken by position (the results list students by id), so the groups
    are the same on every run.
    """
    n = len(totals)
    if n < 2:
        return [], []
    size = max(1, min(n // 2, round(share * n)))
    order = sorted(range(n), key=lambda i: (totals[i], i))
    return sorted(order[n - size:]), sorted(order[:size])


def discrimination_index(item: Sequence[float], max_points: float, upper: Sequence[int],
                         lower: Sequence[int]) -> float | None:
    """The upper-lower index D = (mean of the upper group - mean of the lower group) / maximum."""
    if not max_points or not upper or not lower:
        return None
    return (mean([item[i] for i in upper]) - mean([item[i] for i in lower])) / max_points


def cronbach_alpha(items: Sequence[Sequence[float]]) -> float | None:
    """Cronbach's alpha = k/(k-1) (1 - sum of item variances / variance of the totals); items as columns."""
    k = len(items)
    if k < 2 or not items[0]:
        return None
    totals = [math.fsum(col) for col in zip(*items, strict=True)]
    var_total = variance(totals)
    if var_total <= 0:
        return None
    return k / (k - 1) * (1 - math.fsum(variance(col) for col in items) / var_total)


def option_counts(choices: Sequence[str | None], letters: Sequence[str], who: Sequence[int] | None = None
                  ) -> dict[str, int]:
    """How many of `who` (default: everyone) chose each letter (a multiple answer counts for each of its
    letters), how many chose none, and how many gave no readable answer."""
    picked = [choices[i] for i in who] if who is not None else list(choices)
    counts = {letter: sum(1 for c in picked if c and letter in c) for letter in letters}
    counts["none"] = sum(1 for c in picked if c == "")
    counts["no answer"] = sum(1 for c in picked if c is None)
    return counts


def histogram(percents: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[dict[str, float]]:
    """Counts of percentages in `bins` equal bands [lo, hi) of 0..100; 100 falls in the last band."""
    out = []
    for i in range(bins):
        lo, hi = 100 * i / bins, 100 * (i + 1) / bins
        out.append({"from": lo, "to": hi,
                    "count": sum(1 for p in percents if lo <= p < hi or (i == bins - 1 and p >= 100))})
    return out


def grade_of(percent: float, boundaries: Sequence[tuple[str, float]]) -> str:
    """The grade of a percentage: the first boundary (highest first) it reaches."""
    for grade, least in boundaries:
        if percent >= least - 1e-9:
            return grade
    return boundaries[-1][0]


def grade_distribution(percents: Sequence[float], boundaries: Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """How many students earn each grade (boundaries highest first), with their share."""
    counts = Counter(grade_of(p, boundaries) for p in percents)
    n = len(percents)
    return [{"grade": g, "min_percent": least, "count": counts[g], "share": counts[g] / n if n else 0.0}
            for g, least in boundaries]


# ---------------------------------------------------------------------------- reading results


@dataclass
class Item:
    """One part of the exam as statistics see it."""

    number: str
    problem: int
    points: float
    kind: str  # "spec" or "mcq"
    id: str
    topic: str = ""
    blanks: list[dict[str, str]] = field(default_factory=list)
    options: list[dict[str, Any]] | None = None  # a single exam's MCQ options: letter, correct, mistake


@dataclass
class Cohort:
    """The graded students of one exam: every part's score, blank statuses, choices and named mistakes."""

    exam_id: str
    max_points: float
    items: list[Item]
    ids: list[str]
    totals: list[float]
    scores: list[list[float]]  # [student][part], in item order
    statuses: list[dict[str, dict[str, str]]]  # part -> blank -> status
    choices: list[dict[str, dict[str, str]]] = field(default_factory=list)  # part -> blank -> letters
    mistakes: list[dict[str, dict[str, list[str]]]] = field(default_factory=list)  # part -> blank -> names
    pending: list[str] = field(default_factory=list)  # parts no student has been marked on yet: not in the figures


def read_results(folder: Path | str, exam_dir: Path | str | None = None) -> Cohort:
    """The cohort in a results folder's summary.json; `exam_dir` describes the parts of older results."""
    folder = Path(folder)
    path = folder / SUMMARY_FILE if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"no {SUMMARY_FILE} in '{folder}'", where=str(folder),
                            fix="pass the results folder `i2dl grade` wrote (--out, default results/)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExamError(f"cannot read {SUMMARY_FILE}: {exc}", where=str(path),
                        fix="grade again to rewrite the results") from None
    if not isinstance(data, dict) or not isinstance(data.get("students"), list):
        raise ExamError(f"not a {SUMMARY_FILE} written by `i2dl grade` (no list of students)", where=str(path),
                        fix="pass the results folder `i2dl grade` wrote")
    items_raw = data.get("items")
    if exam_dir is not None:
        from i2dl.exam import load_exam
        from i2dl.grade.batch import items_data

        exam = load_exam(exam_dir, accept_modified=True)  # only its layout is read, never its key
        if exam.exam_id != data.get("exam_id"):
            raise ExamError(f"the results are of exam '{data.get('exam_id')}', not '{exam.exam_id}'",
                            where=str(exam_dir), fix="pass the exam these results were graded against")
        items_raw = items_raw or items_data(exam)
    if not isinstance(items_raw, dict) or not items_raw:
        raise ExamError(f"{SUMMARY_FILE} does not describe the exam's parts (written before i2dl recorded them)",
                        where=str(path), fix="pass --exam EXAM, or grade again")
    try:
        items = [Item(number=n, problem=int(it["problem"]), points=float(it["points"]), kind=str(it["kind"]),
                      id=str(it.get("id", "")), topic=str(it.get("topic", "")), blanks=list(it.get("blanks", [])),
                      options=it.get("options"))
                 for n, it in items_raw.items()]
        students = data["students"]
        # A part awaiting a TA for every student has no scores yet: item figures of it would be noise.
        waiting = [i.number for i in items if students and all(i.number in s.get("pending_parts", ()) for s in students)]
        items = [i for i in items if i.number not in waiting]
        cohort = Cohort(str(data.get("exam_id", "")), float(data.get("max_points") or sum(i.points for i in items)),
                        items, [str(s["student_id"]) for s in students], [float(s["total"]) for s in students],
                        [[float(s["parts"][i.number]) for i in items] for s in students],
                        [s.get("blanks", {}) for s in students], [s.get("choices", {}) for s in students],
                        [s.get("mistakes", {}) for s in students], waiting)
    except (KeyError, TypeError, ValueError) as exc:
        raise ExamError(f"{SUMMARY_FILE} is malformed ({type(exc).__name__}: {exc})", where=str(path),
                        fix="grade again to rewrite the results") from None
    return cohort


# ---------------------------------------------------------------------------- every figure


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def _item_figures(scores: list[float], points: float, totals: list[float], upper: list[int],
                  lower: list[int]) -> dict[str, Any]:
    """Mean, difficulty, sd, full-marks share and both discrimination figures of one item."""
    p = difficulty(scores, points)
    return {"points": points, "mean": _r(mean(scores)), "difficulty": _r(p), "sd": _r(std(scores)),
            "full_marks": _r(sum(1 for s in scores if s >= points - 1e-9) / len(scores)) if scores else None,
            "item_total_r": _r(corrected_item_total(scores, totals)),
            "discrimination": _r(discrimination_index(scores, points, upper, lower))}


def _flags(fig: dict[str, Any]) -> list[str]:
    """Why an item deserves a look: it separates the wrong way, or (nearly) everyone or nobody gets it."""
    out = []
    if fig["item_total_r"] is not None and fig["item_total_r"] < 0:
        out.append("negative discrimination")
    if fig["difficulty"] is not None and fig["difficulty"] > EASY:
        out.append(f"over {EASY:.0%} correct")
    if fig["difficulty"] is not None and fig["difficulty"] < HARD:
        out.append(f"under {HARD:.0%} correct")
    return out


def cohort_stats(cohort: Cohort, boundaries: Sequence[tuple[str, float]]) -> dict[str, Any]:
    """Every statistic of the cohort as plain data (the --json document; the report draws from it)."""
    n, items = len(cohort.totals), cohort.items
    totals = cohort.totals
    percents = [100 * t / cohort.max_points if cohort.max_points else 0.0 for t in totals]
    upper, lower = upper_lower_groups(totals)
    columns = [[row[j] for row in cohort.scores] for j in range(len(items))]
    parts = []
    for j, item in enumerate(items):
        fig = {"number": item.number, "problem": item.problem, "kind": item.kind, "id": item.id,
               "topic": item.topic, **_item_figures(columns[j], item.points, totals, upper, lower)}
        statuses = [st for s in cohort.statuses for st in s.get(item.number, {}).values()]
        fig["invalid"] = _r(statuses.count("invalid") / len(statuses)) if statuses else None
        fig["blank"] = _r(statuses.count("missing") / len(statuses)) if statuses else None
        named: Counter[str] = Counter()
        for m in cohort.mistakes:  # a student counts once per mistake and part, whichever blank shows it
            named.update({name for names in m.get(item.number, {}).values() for name in names})
        fig["mistakes"] = [{"name": name, "count": c, "share": _r(c / n)}
                           for name, c in sorted(named.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MISTAKES]]
        fig["flags"] = _flags(fig)
        if item.kind == "mcq":
            fig["options"] = _options(cohort, item, upper, lower, fig["flags"])
        parts.append(fig)
    problems = []
    for number in sorted({i.problem for i in items}):
        cols = [j for j, i in enumerate(items) if i.problem == number]
        scores = [math.fsum(row[j] for j in cols) for row in cohort.scores]
        fig = {"number": number, **_item_figures(scores, math.fsum(items[j].points for j in cols), totals,
                                                 upper, lower)}
        fig["flags"] = _flags(fig)
        problems.append(fig)
    flags = ([{"item": f["number"], "flag": flag} for f in parts for flag in f["flags"]]
             + [{"item": f"problem {f['number']}", "flag": flag} for f in problems for flag in f["flags"]])
    return {
        "exam_id": cohort.exam_id, "students": n, "max_points": cohort.max_points,
        "pending_parts": list(cohort.pending),  # awaiting a TA for everyone: left out of every figure
        "mean": _r(mean(totals)), "sd": _r(std(totals)), "mean_percent": _r(mean(percents), 2),
        "alpha": _r(cronbach_alpha(columns)),
        "groups": {"share": GROUP_SHARE, "size": len(upper),
                   "upper_from": min((totals[i] for i in upper), default=None),
                   "lower_to": max((totals[i] for i in lower), default=None)},
        "parts": parts, "problems": problems, "flags": flags,
        "histogram": histogram(percents), "grades": grade_distribution(percents, boundaries),
    }


def _options(cohort: Cohort, item: Item, upper: list[int], lower: list[int], flags: list[str]) -> dict[str, Any]:
    """Each MCQ blank's option choices overall and in the upper and lower groups; flags unchosen distractors."""
    out: dict[str, Any] = {}
    for blank in item.blanks:
        name = blank["name"]
        choices = [c.get(item.number, {}).get(name) for c in cohort.choices]
        if item.options:
            letters = [o["letter"] for o in item.options]
        else:  # a cohort shuffles its options per variant: the letters as each student saw them
            letters = sorted({ch for c in choices if c for ch in c})
        overall, top, bottom = (option_counts(choices, letters, who) for who in (None, upper, lower))
        rows = []
        for letter in letters:
            opt = next((o for o in item.options or () if o["letter"] == letter), {})
            rows.append({"letter": letter, "correct": opt.get("correct"), "mistake": opt.get("mistake"),
                         "all": overall[letter], "upper": top[letter], "lower": bottom[letter]})
            if opt and not opt.get("correct") and overall[letter] == 0:
                flags.append(f"distractor {letter} chosen by nobody")
        out[name] = {"options": rows, "none": overall["none"], "no_answer": overall["no answer"],
                     "students": len(choices), "group": len(upper),
                     "by_letter_of_own_sheet": not item.options}
    return out


def results_stats(results: Path | str, exam_dir: Path | str | None = None) -> dict[str, Any]:
    """Every statistic of a results folder, graded by the active course's grade boundaries."""
    from i2dl.course import grade_boundaries

    return cohort_stats(read_results(results, exam_dir), [(g.grade, g.min_percent) for g in grade_boundaries()])


def write_report(stats: dict[str, Any], path: Path | str) -> Path:
    """The HTML report of `stats` written to `path` (replaced whole)."""
    from i2dl.errors import OutputError
    from i2dl.stats_report import report_html

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(report_html(stats), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the report: {exc.strerror or exc}", where=str(path),
                          fix="choose a writable path with --report") from None
    return path
