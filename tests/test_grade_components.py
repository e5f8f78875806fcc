"""Component credit: a parameter count written as weights + biases earns a share per right term,
the final number alone earns full credit, and the flag travels in exam.json."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2dl.errors import SpecError
from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.export.answers import key_answers
from i2dl.grade.score import CORRECT, PARTIAL, WRONG, Grader, Submission
from i2dl.kinds.read import additive_terms
from i2dl.spec.load import SpecSource, compile_spec

# cnn-architecture with conv1 = 7x7, 2 -> 4 channels: 7*7*2*4 weights + 4 biases = 396.
PINS = {"C": 2, "c1": 4, "kernel1": 7}


@pytest.fixture(scope="module")
def cnn():
    exam = build_exam("cnn-architecture", 3, engine_name="numpy")
    assert {k: exam.problems[0].values[k] for k in PINS} == PINS
    return exam


def _conv1(exam, text):
    key = key_answers(exam)
    part = next(p for p in exam.problems[0].parts if p.id == "parameters")
    answers = {**key, part.number: {**key[part.number], "params_conv1": text}}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    return next(b for p in result.parts for b in p.blanks if b.name == "params_conv1")


@pytest.mark.parametrize("text, status, credit, says", [
    ("7x7x2x4 + 4", CORRECT, 1.0, ""),                      # the final value, as a sum
    ("396", CORRECT, 1.0, ""),                              # the final number alone
    ("7x7x2x4 + 3", PARTIAL, 0.5, "weights"),               # weights right, biases wrong
    ("392", PARTIAL, 0.5, "one bias"),                      # the bias forgotten: weights alone
    ("7 * 7 * 4 + 4", PARTIAL, 0.5, "biases"),              # input channels forgotten, biases right
    ("7*7*2*4 + 4 + 1", PARTIAL, 0.5, "none of them: 1"),   # both terms and a stray one
    ("5", WRONG, 0.0, ""),
])
def test_grade_component_credit_for_a_parameter_count(cnn, text, status, credit, says):
    b = _conv1(cnn, text)
    assert (b.status, b.credit) == (status, credit), b.feedback
    assert says in b.feedback


def test_exam_json_keeps_the_component_flag_and_its_digest(cnn, tmp_path):
    write_exam(cnn, tmp_path / "exam")
    again = load_exam(tmp_path / "exam")
    alts = next(b for p in again.problems[0].parts for b in p.blanks if b.name == "params_conv1").alternatives
    assert {a["name"]: a.get("component", False) for a in alts} == {
        "bias-forgotten": False, "weights": True, "biases": True}


@given(st.lists(st.integers(1, 512), min_size=1, max_size=3), st.lists(st.integers(1, 64), min_size=1, max_size=3))
def test_additive_terms_reads_the_products_a_student_summed(first, second):
    text = "x".join(map(str, first)) + " + " + "*".join(map(str, second))


    assert additive_terms(text) == [math.prod(first), math.prod(second)]


def _spec(answer: dict) -> dict:
    return {"id": "t", "title": "t", "topic": "t", "params": {"a": {"type": "int", "min": 1, "max": 3}},
            "parts": [{"id": "p", "text": "t", "points": 1, "answers": [answer]}]}


@pytest.mark.parametrize("answer, says", [
    ({"name": "v", "expr": "[a, a]", "kind": "vector", "components": [{"name": "w", "expr": "a", "credit": 0.5}]},
     "terms of a number"),
    ({"name": "v", "expr": "2 * a", "components": [{"name": "w", "expr": "a", "credit": 0.6},
                                                 {"name": "b", "expr": "a", "credit": 0.6}]}, "more than 1"),
])
def test_spec_components_are_checked(answer, says):
    with pytest.raises(SpecError) as exc:
        compile_spec(SpecSource(_spec(answer), "0" * 64, "t.yaml"))
    assert says in str(exc.value)
