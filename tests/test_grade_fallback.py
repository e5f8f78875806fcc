"""Offered fallback values ("if unsure, continue with p = 0.45"): printed on the sheet, kept in
exam.json, and a later answer is right for the key's upstream, the student's own, or the offer."""

from __future__ import annotations

import pytest

from i2dl.engine import get_engine
from i2dl.errors import I2dlError
from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.export.answers import key_answers
from i2dl.grade.score import CORRECT, FOLLOW, WRONG, Grader, Submission
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library, SpecSource, compile_spec


@pytest.fixture(scope="module")
def logistic():
    return build_exam("logistic-regression-step", 5, engine_name="numpy")


def _dldz(exam, p_answer, dldz):
    key = key_answers(exam)
    answers = {**key, "1.1": {"z": key["1.1"]["z"], "p": p_answer}, "1.2": dldz}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    return next(b for p in result.parts for b in p.blanks if b.name == "dLdz")


def test_sheet_offers_the_fallback_next_to_the_part(logistic, tmp_path):
    part = logistic.problems[0].parts[1]
    offered = part.fallback["p"]
    assert f"continue with probability p = ${offered:g}$" in part.text
    write_exam(logistic, tmp_path / "exam")
    assert f"continue with probability p = ${offered:g}$" in (tmp_path / "exam" / "exam.md").read_text()
    assert load_exam(tmp_path / "exam").problems[0].parts[1].fallback == {"p": offered}


def test_grade_credits_the_key_the_own_value_and_the_offer_and_says_which(logistic):
    prob = logistic.problems[0]
    t, offered = prob.values["t"], prob.parts[1].fallback["p"]
    assert _dldz(logistic, prob.values["p"], prob.values["dLdz"]).status == CORRECT
    own = _dldz(logistic, 0.5, 0.5 - t)  # p - t with the student's own p
    assert own.status == FOLLOW and "your own p" in own.feedback
    offer = _dldz(logistic, 0.5, offered - t)
    assert offer.status == FOLLOW and offer.credit == 1.0 and "offered probability p" in offer.feedback
    assert _dldz(logistic, 0.5, 0.123).status == WRONG


def test_fallback_is_never_the_key_over_many_seeds():
    compiled = Library().get("logistic-regression-step")
    engine = get_engine("numpy")
    for seed in range(300):
        inst = make_instance(compiled, seed, engine)
        assert abs(inst.parts[1].fallback["p"] - inst.values["p"]) >= 0.05


def _spec(parts: list[dict]) -> dict:
    return {"id": "t", "title": "t", "topic": "t", "params": {"a": {"type": "int", "min": 1, "max": 3},
                                                               "f": {"type": "fixed", "value": 7}},
            "parts": parts}


P1 = {"id": "one", "text": "t", "points": 1, "answers": [{"name": "y", "expr": "2 * a"}]}
P2 = {"id": "two", "text": "t", "points": 1, "answers": [{"name": "z", "expr": "y + 1"}]}


@pytest.mark.parametrize("parts, says", [
    ([P1, {**P2, "fallback": {"q": "f"}}], "not an answer of an earlier part"),
    ([{**P1, "fallback": {"y": "f"}}, P2], "not an answer of an earlier part"),
    ([P1, {**P2, "answers": [{"name": "z", "expr": "a + 1"}], "fallback": {"y": "f"}}], "uses 'y'"),
    ([P1, {**P2, "fallback": {"y": "y + 1"}}], "unknown name 'y'"),  # never computed from a key
])
def test_spec_fallbacks_are_checked(parts, says):
    with pytest.raises(I2dlError) as exc:
        compile_spec(SpecSource(_spec(parts), "0" * 64, "t.yaml"))
    assert says in str(exc.value)
