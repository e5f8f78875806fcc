"""Follow-through as a property of the answer graph: through gradient nodes too, and a triviality
guard that judges the step. Numbers from the 2020 mock exam's logistic-regression step (seed 004,
part III(c)): x = [0.8, 0.5, -1], w = [0.5, 0.4, -0.3], b = 0.2, t = 1, learning rate 0.1."""

from __future__ import annotations

import pytest

from i2dl.exam import build_exam
from i2dl.export.answers import key_answers
from i2dl.grade.score import CORRECT, FOLLOW, WRONG, Grader, Submission

MOCK_2020 = {"x": [0.8, 0.5, -1], "w": [0.5, 0.4, -0.3], "b": 0.2, "t": 1, "lr": 0.1, "i": 1}


@pytest.fixture(scope="module")
def logistic():
    return build_exam("logistic-regression-step", 0, pins=MOCK_2020, engine_name="numpy")


def grade(exam, answers):
    return Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))


def blank(result, name):
    return next(b for p in result.parts for b in p.blanks if b.name == name)


def test_grade_follow_through_credits_weight_gradient_from_own_wrong_score_gradient(logistic):
    """dL/dw1 = x1 * (own dL/dz): the note gives the chain-rule point for -0.25 * 0.8 whatever dL/dz was."""
    answers = {"1.1": {"z": 1.1, "p": 0.75}, "1.2": -0.6, "1.3": 0.8 * -0.6, "1.4": 0.5 - 0.1 * (0.8 * -0.6)}
    r = grade(logistic, answers)
    assert blank(r, "dLdz").status == WRONG
    dw = blank(r, "dLdw")
    assert dw.status == FOLLOW and dw.credit == 1.0 and "1.2" in dw.feedback and "dLdz" in dw.feedback
    assert blank(r, "w_new").status == FOLLOW


def test_grade_follow_through_keeps_the_key_when_the_gradient_is_right_for_the_key(logistic):
    key = key_answers(logistic)
    answers = {**key, "1.2": -0.3}  # a wrong dL/dz, but dL/dw written as the key's
    r = grade(logistic, answers)
    assert blank(r, "dLdw").status == CORRECT


def test_grade_follow_through_does_not_credit_a_gradient_wrong_for_own_values(logistic):
    answers = {"1.1": {"z": 1.1, "p": 0.75}, "1.2": -0.3, "1.3": 0.5, "1.4": 0.45}
    r = grade(logistic, answers)
    assert blank(r, "dLdw").status == WRONG and blank(r, "dLdw").credit == 0


def test_grade_recognises_a_named_mistake_made_on_the_students_own_upstream_value(logistic):
    """dL/dw1 written as the student's own dL/dz (x1 left out): the named mistake, on their value."""
    answers = {"1.1": {"z": 1.1, "p": 0.75}, "1.2": -0.6, "1.3": -0.6, "1.4": 0.5}
    dw = blank(grade(logistic, answers), "dLdw")
    assert dw.status == WRONG and dw.alternative == "input-factor-missing"
    assert "your own dLdz" in dw.feedback and "1.2" in dw.feedback


def test_grade_recognises_a_wrong_direction_update_from_the_students_own_gradient(logistic):
    answers = {"1.1": {"z": 1.1, "p": 0.75}, "1.2": -0.6, "1.3": -0.48, "1.4": 0.5 + 0.1 * -0.48}
    w = blank(grade(logistic, answers), "w_new")
    assert w.status == WRONG and w.alternative == "wrong-direction" and "your own dLdw" in w.feedback



OFF_PATH_SPEC = """\
id: off-path-gradient
title: A gradient that reads an earlier answer off its path
topic: backpropagation
params:
  x: {type: vector, length: 3, choices: [1, 2, 3]}
  w: {type: vector, length: 3, choices: [-1, 1, 2]}
  g: {type: decimal, choices: [2, 3]}
statement: "y = 2 x, z = w . y, dL/dz = {{g}}; x = {{x}}, w = {{w}}."
parts:
  - id: forward
    text: "Give y and z."
    points: 2
    answers:
      - {name: y, expr: "2 * x", kind: vector}
      - {name: z, expr: "dot(w, y)"}
  - id: backward
    text: "Give dL/dw."
    points: 1
    answers:
      - {name: dw, expr: "grad(z, w, g)", kind: vector}
"""


@pytest.mark.parametrize("with_z", [True, False])
def test_grade_follow_through_credits_a_gradient_at_the_students_own_input_off_its_path(tmp_path, with_z):
    """dL/dw of z = w . y is g y: a student's own (wrong) y, which does not depend on w, carries forward."""
    from i2dl.spec.load import Library

    (tmp_path / "off-path-gradient.yaml").write_text(OFF_PATH_SPEC)
    exam = build_exam("off-path-gradient", 0, engine_name="numpy", library=Library(extra=[tmp_path]))
    v = exam.problems[0].values
    own_y = [3 * float(t) for t in v["x"]]  # x tripled, not doubled
    forward = {"y": own_y} | ({"z": sum(float(a) * b for a, b in zip(v["w"], own_y, strict=True))} if with_z else {})
    result = grade(exam, {"1.1": forward, "1.2": {"dw": [float(v["g"]) * t for t in own_y]}})
    assert blank(result, "y").status == WRONG
    assert blank(result, "dw").status == FOLLOW and blank(result, "dw").credit == 1.0
    assert blank(grade(exam, {"1.1": forward, "1.2": {"dw": list(v["dw"])}}), "dw").status == CORRECT
