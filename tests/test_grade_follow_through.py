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

