"""Rubric mechanisms the course graders' notes use, on the 2024 endterm's numbers (seed 000):
thresholds that count only right values, final-or-steps, implied credit, a required form."""

from __future__ import annotations

from pathlib import Path

import pytest

from i2dl.errors import SpecError
from i2dl.exam import build_exam
from i2dl.grade.score import Grader, Submission
from i2dl.spec.load import Library, SpecSource, compile_spec

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def exam():
    library = Library(extra=[FIXTURES / "specs"])
    return build_exam("rubric-mechanisms", 0, engine_name="numpy", library=library), library


def score(exam, part_id, answers):
    ex, library = exam
    number = next(p.number for p in ex.problems[0].parts if p.id == part_id)
    result = Grader(ex, "numpy", library=library).grade(Submission("s.yaml", "s", "", ex.exam_id, {number: answers}))
    return next(p for p in result.parts if p.number == number)


@pytest.mark.parametrize("answers, points", [
    ({"conv": 5, "pool": 4, "fc": 4}, 1.0),   # all three
    ({"conv": 5, "pool": 9, "fc": 9}, 0.5),   # at least one correct
    ({"conv": 6, "pool": 5, "fc": 5}, 0.0),   # none right; two only follow from the wrong first
])
def test_grade_threshold_counts_only_values_right_for_the_key(exam, answers, points):
    assert score(exam, "dims", answers).score == points


@pytest.mark.parametrize("answers, points", [
    ({"rf_conv": 1, "rf_pool": 1, "rf_f1": 32}, 2.0),  # the final alone earns the whole part
    ({"rf_conv": 5, "rf_pool": 6, "rf_f1": 30}, 1.0),  # final wrong: 0.5 per right step
    ({"rf_conv": 5, "rf_pool": 7, "rf_f1": 30}, 0.5),
])
def test_grade_final_or_steps_credits_steps_only_when_the_final_is_wrong(exam, answers, points):
    assert score(exam, "fields", answers).score == points


@pytest.mark.parametrize("answers, points, says", [
    ({"model": "C", "loss": "-log(0.35)"}, 2.0, ""),
    ({"loss": "-log(0.35)"}, 1.5, "though not stated"),   # the value right, the model not named
    ({"model": "A", "loss": "-log(0.35)"}, 1.5, "though not stated"),
    ({"loss": "-log(0.41)"}, 0.0, ""),
])
def test_grade_implied_credit_for_a_model_found_through_its_loss(exam, answers, points, says):
    part = score(exam, "largest-loss", answers)
    assert part.score == points
    assert says in part.blanks[0].feedback


@pytest.mark.parametrize("answer, points", [("63", 1.0), ("3*3*7", 0.5), ("3x3x7", 0.5), ("64", 0.0)])
def test_grade_form_simplified_deducts_for_an_unevaluated_expression(exam, answer, points):
    assert score(exam, "simplify", {"params_total": answer}).score == points


def test_spec_rubric_names_only_answers_of_its_part():
    doc = {"id": "t", "title": "t", "topic": "t", "params": {"a": {"type": "int", "min": 1, "max": 3}},
           "parts": [{"id": "p", "text": "t", "points": 1, "answers": [{"name": "y", "expr": "a"}],
                      "rubric": {"use": "per-blank", "implied": [{"blank": "y", "by": "q", "credit": 0.5}]}}]}
    with pytest.raises(SpecError) as exc:
        compile_spec(SpecSource(doc, "0" * 64, "t.yaml"))
    assert "'q'" in str(exc.value) and "answers of this part: y" in exc.value.fix


@pytest.mark.parametrize("answers, points, mistake", [
    ({"dLdy_formula": "2*(y - y_star)", "dLdy": 8}, 1.0, None),
    ({"dLdy_formula": "2y - 2y_star", "dLdy": 8}, 0.5, None),        # '2y' is not read: write *
    ({"dLdy_formula": "2*y - 2*y_star", "dLdy": "2*(6-2)"}, 1.0, None),
    ({"dLdy_formula": "2*(y_star - y)", "dLdy": -8}, 0.0, "swapped"),
    ({"dLdy_formula": "2*(y - y_star)", "dLdy": 28}, 0.5, "loss-for-y"),
    ({"dLdy_formula": "(y - y_star)^2", "dLdy": 8}, 0.5, None),       # the loss, not its derivative
])
def test_grade_derivative_formula_and_its_evaluation_earn_half_each(exam, answers, points, mistake):
    part = score(exam, "loss-derivative", answers)
    assert part.score == points
    assert mistake in [b.alternative for b in part.blanks] if mistake else True


@pytest.mark.parametrize("answer, points", [
    ("sigma(x)*(1 - sigma(x))", 1.0),
    ("exp(-x)/(1 + exp(-x))^2", 0.5),   # equal, but not in terms of the function itself
    ("sigma(x)", 0.0),
])
def test_grade_form_in_terms_of_the_function_itself(exam, answer, points):
    assert score(exam, "sigmoid-derivative", {"dsig": answer}).score == points


@pytest.mark.parametrize("answers, y_credit", [
    ({"zz": [2, 3], "yy": [4, 6]}, 1.0),
    ({"zz": [2, 5], "yy": [4, 10]}, 1.0),   # entry 1 right for the key, entry 2 right for the own z
    ({"zz": [2, 5], "yy": [4, 7]}, 0.5),
    ({"zz": [2, 5], "yy": [5, 7]}, 0.0),
])
def test_grade_per_entry_follow_through_judges_each_entry_on_key_or_own_chain(exam, answers, y_credit):
    part = score(exam, "outputs", answers)
    assert part.blanks[1].credit == y_credit, part.blanks[1].feedback


def test_grade_sides_reads_a_square_as_its_side_and_not_its_area():
    """cnn-architecture's receptive fields (2024 endterm 4.1: 5x5 after conv1): '5x5' is 5, '25' is wrong."""
    from i2dl.export.answers import key_answers

    exam = build_exam("cnn-architecture", 3, engine_name="numpy")
    prob = exam.problems[0]
    part = next(p for p in prob.parts if p.id == "receptive-field")
    rf = prob.values["rf_conv1"]
    key = key_answers(exam)

    def blank(text):
        answers = {**key, part.number: {**key[part.number], "rf_conv1": text}}
        result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
        return next(b for p in result.parts for b in p.blanks if b.name == "rf_conv1")

    square = blank(f"{rf}x{rf}")
    assert square.credit == 1.0 and "side" in square.feedback
    assert blank(str(rf * rf)).credit == 0.0
