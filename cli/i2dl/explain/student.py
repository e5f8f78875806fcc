"""A student's graded answers set next to the steps: where their working first differs."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.kinds import approx_equal
from i2dl.render import fmt_value

from .steps import Step, _plain


class _Graded:
    """A student's graded submission, matched to the explanation's steps."""

    def __init__(self, result: Any):
        self.file, self.result = result.file, result
        self.parts = {p.number: p for p in result.parts}

    def header(self) -> dict[str, Any]:
        r = self.result
        return {"file": self.file, "student_id": r.student_id, "name": r.name, "total": r.total,
                "max_points": r.max_points}

    def read_values(self, prob: Any) -> dict[str, Any]:
        """The student's readable values by node name across the problem (for upstream steps)."""
        out = {}
        for part in prob.parts:
            pr = self.parts.get(part.number)
            for br in pr.blanks if pr else []:
                if br.value is not None:
                    out[br.name] = br.value
        return out

    def attach(self, prob: Any, part: Any, expl: dict[str, Any]) -> None:
        """Put the student's answer next to each step and the rubric outcome on the part."""
        pr = self.parts.get(part.number)
        if pr is None:
            return
        read = self.read_values(prob)
        tol = {b.name: b for p in prob.parts for b in p.blanks}  # each blank's tolerance, from its rounding rule
        results = {br.name: br for br in pr.blanks}
        # Blank points only mean something when the rubric adds them up (not for thresholds).
        # The grader's own shares, so the points shown agree with the grade.
        per_blank = sum(br.credit * w for br, w in zip(pr.blanks, pr.shares, strict=False))
        shares = dict(zip([b.name for b in part.blanks], pr.shares, strict=False)) \
            if abs(per_blank - pr.score) < 1e-6 else {}
        first = None
        for blank in expl["blanks"]:
            br = results.get(blank["name"])
            if br is not None:
                blank["student"] = _blank_student(br, shares.get(br.name))
            diverges = _mark_steps(blank, br, read, tol)
            if first is None and diverges is not None:
                first = {"blank": blank["name"], "step": diverges, "label": blank["label"]}
        if expl["options"] and pr.blanks:
            chosen = pr.blanks[0].value or frozenset()
            for opt in expl["options"]:
                opt["chosen"] = opt["letter"] in chosen
            expl["options_student"] = _blank_student(pr.blanks[0], pr.points)
        expl["student"] = {"score": pr.score, "points": pr.points, "rubric": pr.rubric, "feedback": list(pr.feedback),
                           "diverges": first}


def _mark_steps(blank: dict[str, Any], br: Any, read: dict[str, Any], tol: dict[str, Any]) -> int | None:
    """Mark each step with the student's value; the index of the first step where they differ."""
    first = None
    for i, st in enumerate(blank["steps"]):
        mark = _step_student(st, read, tol)
        if mark is None:
            continue
        if not mark["ok"] and br is not None and br.status == "follow-through" and st["ref"]["node"] == blank["name"]:
            mark.update(ok=True, follow=True)  # wrong against the key, right from their own upstream values
        st["student"] = mark
        if not mark["ok"] and first is None:
            first = i
    if first is None and br is not None and br.status not in ("correct", "follow-through", "missing", "pending", "blank", "marked"):
        first = len(blank["steps"]) - 1  # wrong, though no single step shows it: the result
    return first


def _blank_student(br: Any, share: float | None) -> dict[str, Any]:
    points = None if share is None else round(br.credit * share, 6)
    return {"read": br.read, "status": br.status, "credit": br.credit, "points": points,
            "of": None if share is None else round(share, 6), "feedback": br.feedback, "alternative": br.alternative,
            "expected": br.expected}


def _step_student(st: Step, read: dict[str, Any], tol: dict[str, Any]) -> dict[str, Any] | None:
    """The student's value for the quantity a step computes, and whether it agrees."""
    ref = st.get("ref")
    if not ref or ref["node"] not in read or st.get("value") is None:
        return None
    got = read[ref["node"]]
    try:
        if ref["index"] is not None:
            a = np.asarray(got, dtype=float)
            idx = tuple(ref["index"])
            if a.ndim != len(idx) or any(i >= n for i, n in zip(idx, a.shape, strict=False)):
                return None
            got = float(a[idx])
        blank = tol.get(ref["node"])
        ta, tr = blank.tolerance(np.asarray(st["value"], dtype=float)) if blank is not None else (0.01, 0.01)
        ok = approx_equal(got, st["value"], float(np.max(ta)), tr)
    except (TypeError, ValueError):
        return None
    return {"value": _plain(got), "text": fmt_value(got), "ok": bool(ok)}


def graded_view(result: Any) -> _Graded | None:
    """A grading result (grade.SubmissionResult) as explain sets it next to the steps."""
    return None if result is None else _Graded(result)
