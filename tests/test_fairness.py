"""Fair to a careful student, over 2,000 samples of every shipped spec: no named mistake inside the
key's tolerance, every key rounded as the sheet says scores full points, and so does a student who
computes each blank from their own rounded earlier blanks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from i2dl import kinds
from i2dl.engine import get_engine
from i2dl.evaluate import Evaluator
from i2dl.exam.model import Exam
from i2dl.grade.score import CORRECT, PENDING, Grader, Submission, _upstream
from i2dl.rounding import Rounding
from i2dl.spec.instance import ProblemInstance
from tests.samples import LIBRARY, SAMPLES, instances

SPEC_IDS = LIBRARY.ids()
ENGINE = get_engine("numpy")


def _rounded(rule: Rounding | None, value: Any) -> Any:
    """`value` as a student writes it under `rule` (other kinds as they are)."""
    if rule is None:
        return value
    r = rule.round(value)
    return np.asarray(r) if isinstance(value, np.ndarray) else r


def _answer_file(inst: ProblemInstance, values: dict[str, Any]) -> dict[str, Any]:
    """The answers section of an answer file holding `values` by blank name."""
    out: dict[str, Any] = {}
    for part in inst.parts:
        if len(part.blanks) == 1 and part.blanks[0].kind == "choice":
            out[part.number] = kinds.answer_text(values[part.blanks[0].name])
        else:
            out[part.number] = {b.name: kinds.answer_text(values[b.name]) for b in part.blanks}
    return out


def _lost(inst: ProblemInstance, values: dict[str, Any]) -> list[tuple]:
    """The blanks the real grader does not give full credit, for a one-problem exam of `inst`."""
    exam = Exam(f"{inst.spec_id}-{inst.seed}", inst.title, inst.seed, inst.spec_id, "", [inst])
    sub = Submission("careful.yaml", "careful", "", exam.exam_id, _answer_file(inst, values))
    result = Grader(exam, "numpy").grade(sub)
    lost = [(p.number, b.name, b.status, b.read, b.expected, b.feedback)
            for p in result.parts for b in p.blanks if b.status not in (CORRECT, PENDING)]
    assert lost or result.total == pytest.approx(result.max_points)
    return lost


def _careful(inst: ProblemInstance) -> dict[str, Any]:
    """Each blank computed from the student's own rounded earlier blanks (the nearest it reads), then rounded."""
    graph = inst.compiled_spec().graph
    blanks = {b.name: b for part in inst.parts for b in part.blanks}
    done: dict[str, Any] = {}
    for name in graph.order:
        if name not in blanks:
            continue
        inputs, ancestors = _upstream(graph, name, done)
        own = {n: done[n] for n in inputs}
        ev = Evaluator(ENGINE, {**inst.params, **own}, graph, overrides=own)
        for n in graph.order:
            if n == name:
                break
            if n in ancestors and n not in ev.env:
                ev.eval_node(n)
        b = blanks[name]
        done[name] = _rounded(b.rule(), kinds.get(b.kind).coerce(ev.eval(graph.nodes[name].node)))
    return done


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_fairness_no_named_mistake_rounds_into_the_keys_tolerance(spec_id):
    inside = []
    for inst in instances(spec_id):
        for part in inst.parts:
            for b in part.blanks:
                kind = kinds.get(b.kind)
                for alt in b.alternatives:
                    if alt["credit"] >= 1:
                        continue
                    # the mistake as a student who makes it writes it, graded against the key
                    written = _rounded(b.rule(), alt["value"])
                    if kind.compare(written, b.expected, b.tolerance(b.expected))[0] >= 1.0:
                        inside.append((inst.seed, part.number, b.name, alt["name"]))
    assert len(instances(spec_id)) == SAMPLES
    assert not inside, f"{len(inside)} mistakes graded as the key, first: {inside[:3]}"


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_fairness_every_key_rounded_as_the_sheet_says_scores_full_points(spec_id):
    lost = []
    for inst in instances(spec_id):
        written = {b.name: _rounded(b.rule(), b.expected) for part in inst.parts for b in part.blanks}
        lost += [(inst.seed, *x) for x in _lost(inst, written)]
    assert not lost, f"{len(lost)} blanks lost, first: {lost[:2]}"


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPEC_IDS)
def test_fairness_a_student_computing_from_their_own_rounded_blanks_scores_full_points(spec_id):
    lost = []
    for inst in instances(spec_id):
        lost += [(inst.seed, *x) for x in _lost(inst, _careful(inst))]
    assert not lost, f"{len(lost)} blanks lost, first: {lost[:2]}"
