"""The follow-through property over every spec: a submission wrong in one blank and right
everywhere downstream *for its own values* loses only that blank's points (per-blank rubrics with
full follow-through)."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import I2dlError
from i2dl.evaluate import Evaluator
from i2dl.exam import build_exam
from i2dl.export.answers import answer_text
from i2dl.grade.score import Grader, Submission
from i2dl.spec.load import Library

SEEDS = range(4)
NUMERIC = ("number", "vector", "matrix", "shape")
# Specs whose per-blank parts never compute one numeric blank from another.
WITHOUT_CHAINS = {"classifier-comparison", "upsampling-shapes", "linear-layer-backward", "stacked-linear",
                  "conv-layer-arithmetic", "layer-stack", "design-sizes", "fc-to-conv"}
# property questions judge statements over the givens: no blank is computed from another
WITHOUT_CHAINS |= {"box-filter-pooling", "commuting-layers", "conv-shape-factors", "maxpool-gradient-count",
                   "output-activation-range", "same-size-convs", "which-activation"}


def _wrong(v):
    """A value a student might get wrong: whole numbers off by one, others off by about a third."""
    a = np.asarray(v, dtype=float)
    off = 1.0 if np.all(a == np.round(a)) else np.maximum(1.0, np.abs(a)) * 0.37 + 0.11
    return (a + off).tolist() if a.ndim else float(a + off)


@pytest.mark.library
@pytest.mark.parametrize("spec_id", Library().ids())
def test_grade_follow_through_costs_only_the_wrong_blank(spec_id):
    engine = get_engine("numpy")
    checked = 0
    for seed in SEEDS:
        exam = build_exam(spec_id, seed, engine_name="numpy")
        grader = Grader(exam, "numpy")
        prob = exam.problems[0]
        compiled = grader.compiled(prob)
        graph = compiled.graph
        blanks = [(part, b) for part in prob.parts for b in part.blanks]
        for _part, b in blanks:
            node = grader._alias_target(prob, b.name) or b.name  # an answer naming a loop value stands for it
            later = [(q, c) for q, c in blanks if c.name != b.name and graph.depends_on(c.name, node)]
            if b.kind not in NUMERIC or not later:
                continue
            wrong = _wrong(b.expected)
            wrong = tuple(int(d) for d in wrong) if b.kind == "shape" else wrong
            try:  # the student's own answers: the graph evaluated with their wrong value
                env = Evaluator(engine, prob.params, graph, overrides={b.name: wrong, node: wrong}).run()
            except (I2dlError, ValueError, ArithmeticError):
                continue
            answers: dict[str, dict] = {}
            for q, c in blanks:
                value = wrong if c.name == b.name else env[c.name]
                answers.setdefault(q.number, {})[c.name] = answer_text(value)
            result = grader.grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
            for q, c in later:
                rubric = grader.rubric(prob, q)
                if rubric.scheme != "per-blank" or rubric.follow_through < 1:
                    continue
                got = next(r for p in result.parts if p.number == q.number for r in p.blanks if r.name == c.name)
                if "makes this step trivial" in got.feedback:
                    continue
                assert got.credit == 1.0, (f"{spec_id} seed {seed}: {b.name} wrong ({wrong}), {c.name} = "
                                           f"{env[c.name]} from it: {got.status} {got.feedback}")
                checked += 1
    assert checked or spec_id in WITHOUT_CHAINS, f"{spec_id}: no blank computed from another was checked"
