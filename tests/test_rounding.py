"""The rounding rule: the decimals it asks for, its sentence, the tolerance it gives; what the sheet and
answer file say; grading of rounded earlier answers; alternatives that cannot be gamed; validate's report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from i2dl.blueprint import load_blueprint
from i2dl.engine import get_engine
from i2dl.exam import build_exam
from i2dl.exam.data import exam_json_text, exam_to_data, load_exam
from i2dl.export import write_exam
from i2dl.export.answers import answer_file_text, key_answers
from i2dl.export.markdown import sheet_markdown
from i2dl.grade.score import ALTERNATIVE, CORRECT, FOLLOW, WRONG, Grader, Submission
from i2dl.rounding import DEFAULT_ROUNDING, Rounding, default_rounding
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library, builtin_dir, load_spec
from i2dl.validate import validate_file

RULE = Rounding(decimals=3, significant=3)

CHAIN = """\
id: rounded-chain
title: A chain of divisions (test)
topic: testing
params:
  a: {type: int, choices: [2]}
statement: "A number $a = {{a}}$."
parts:
  - id: third
    text: "Compute $x = a / 3$."
    points: 1
    answers:
      - {name: x, expr: "a / 3", label: "x"}
  - id: scaled
    text: "Compute $y = 1000 x$."
    points: 1
    answers:
      - {name: y, expr: "1000 * x", label: "y"}
"""

NARROW = """\
id: narrow-tol
title: A tolerance narrower than the rule (test)
topic: testing
params:
  a: {type: int, min: 1, max: 9}
statement: "A number $a = {{a}}$."
rounding: {decimals: 2}
parts:
  - id: third
    text: "Compute $a / 7$."
    points: 1
    answers:
      - {name: t, expr: "a / 7", label: "a / 7", tol: {abs: 0.0001, rel: 0}}
  - id: double
    text: "Compute $2a + 0.001$."
    points: 1
    answers:
      - {name: d, expr: "2 * a + 0.001", label: "2a + 0.001",
         alternatives: [{name: shifted, expr: "2 * a", credit: 0, feedback: "The 0.001 went missing."}]}
"""


def _grade(exam, answers):
    return Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))


def _blank(result, number, name):
    part = next(p for p in result.parts if p.number == number)
    return next(b for b in part.blanks if b.name == name)


# ---------------------------------------------------------------------------- the rule itself


@pytest.mark.parametrize(("value", "decimals"), [(1.0498, 3), (0.0784, 4), (0.00025, 6), (123.456, 3),
                                                 (-0.0123, 4), (0.0, 3), (34944, 3), (2e-8, 6)])
def test_rounding_places_keep_decimals_or_significant_digits(value, decimals):
    assert int(RULE.places(value)) == decimals


def test_rounding_round_writes_each_entry_with_its_own_decimals():
    assert RULE.round(0.00025) == 0.00025
    assert RULE.round(0.07845) == pytest.approx(0.0785)
    assert RULE.round(1.0498) == pytest.approx(1.05)
    np.testing.assert_allclose(RULE.round(np.array([0.012345, 12.34567])), [0.0123, 12.346])


def test_rounding_tolerance_is_one_unit_in_the_last_asked_place():
    assert float(RULE.unit(1.0498)) == pytest.approx(0.001)
    assert float(RULE.unit(0.00025)) == pytest.approx(0.000001)
    assert float(RULE.unit(2e-8)) == pytest.approx(0.000001)  # a trace of epsilon: 0 is right
    np.testing.assert_allclose(RULE.unit(np.array([0.05, 5.0])), [0.0001, 0.001])


def test_rounding_tolerance_holds_every_correctly_rounded_value():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 5000) * 10.0 ** rng.integers(-5, 4, 5000)
    for rule in (RULE, Rounding(decimals=2), Rounding(significant=4), Rounding(decimals=1, significant=2)):
        assert np.all(np.abs(rule.round(x) - x) <= rule.unit(x)), rule


def test_rounding_sentence_states_decimals_digits_and_an_example():
    assert RULE.sentence() == ("Give every result that is not a whole number to 3 decimals, and to more (at most "
                               "6) where that would keep fewer than 3 significant digits (for example 0.000246).")
    assert Rounding(decimals=2).sentence() == "Give every result that is not a whole number to 2 decimals."
    assert Rounding(significant=1).sentence() == ("Give every result that is not a whole number to "
                                                  "1 significant digit, with at most 6 decimals (for example 0.2).")


def test_rounding_rule_needs_decimals_or_significant_digits():
    with pytest.raises(ValueError):
        Rounding()


def test_rounding_default_is_one_rule_a_course_setting_replaces():
    assert default_rounding() is DEFAULT_ROUNDING
    assert default_rounding({"decimals": 2}) == Rounding(decimals=2)


# ---------------------------------------------------------------------------- sheet, answer file, data


def test_rounding_sheet_states_the_exam_rule_from_the_rule_and_the_blueprint_does_not():
    bp, _ = load_blueprint(builtin_dir("blueprints") / "default.yaml")
    assert "decimal" not in bp.instructions and "significant" not in bp.instructions
    exam = build_exam("default", 5, engine_name="numpy")
    sheet = sheet_markdown(exam)
    assert sheet.count(DEFAULT_ROUNDING.sentence()) == 1
    assert exam_to_data(exam)["rounding"] == {"decimals": 3, "significant": 3}


def test_rounding_a_specs_own_rule_is_printed_with_its_problem(tmp_path):
    exam = build_exam("logistic-regression-step", 1, engine_name="numpy")
    own = Rounding(decimals=2, significant=2)
    sheet = sheet_markdown(exam)
    assert "*In this problem, give every result that is not a whole number to 2 decimals," in sheet
    assert DEFAULT_ROUNDING.sentence() in sheet
    assert all(b.rounding == own.data() for _, p in exam.parts() for b in p.blanks if b.kind == "number")
    assert "round to 2 decimals, at least 2 significant digits" in answer_file_text(exam)


def test_rounding_a_blueprint_rule_reaches_sheet_blanks_and_exam_json(tmp_path):
    bp = tmp_path / "two.yaml"
    bp.write_text("id: two\ntitle: Two decimals\nrounding: {decimals: 2}\nproblems:\n  - {spec: sgd-weight-decay}\n")
    exam = build_exam(str(bp), 3, engine_name="numpy")
    assert Rounding(decimals=2).sentence() in sheet_markdown(exam)
    write_exam(exam, tmp_path / "exam")
    again = load_exam(tmp_path / "exam")
    assert again.rounding == {"decimals": 2, "significant": None}
    assert {json.dumps(b.rounding) for _, p in again.parts() for b in p.blanks} == {'{"decimals": 2, "significant": null}'}


def test_rounding_generation_stays_byte_identical():
    a = exam_json_text(exam_to_data(build_exam("default", 9, engine_name="numpy")))
    b = exam_json_text(exam_to_data(build_exam("default", 9, engine_name="numpy")))
    assert a == b


# ---------------------------------------------------------------------------- rounded earlier answers


@pytest.fixture()
def chain_exam(tmp_path):
    path = tmp_path / "rounded-chain.yaml"
    path.write_text(CHAIN)
    return build_exam("rounded-chain", 0, engine_name="numpy", library=Library(extra=[path]))


def test_grade_later_blank_from_a_rounded_earlier_blank_is_correct_not_follow_through(chain_exam):
    r = _grade(chain_exam, {"1.1": {"x": 0.667}, "1.2": {"y": 667}})
    x, y = _blank(r, "1.1", "x"), _blank(r, "1.2", "y")
    assert (x.status, y.status) == (CORRECT, CORRECT)
    assert r.total == pytest.approx(2.0)
    assert "right for your rounded x from 1.1" in y.feedback and "follow-through" not in y.feedback


def test_grade_later_blank_from_a_wrong_earlier_blank_is_still_follow_through(chain_exam):
    r = _grade(chain_exam, {"1.1": {"x": 0.7}, "1.2": {"y": 700}})
    y = _blank(r, "1.2", "y")
    assert _blank(r, "1.1", "x").status == WRONG and y.status == FOLLOW
    assert "follow-through from 1.1" in y.feedback


def test_grade_a_value_off_by_more_than_the_rule_allows_is_wrong(chain_exam):
    assert _blank(_grade(chain_exam, {"1.1": {"x": 0.665}}), "1.1", "x").status == WRONG


# ---------------------------------------------------------------------------- gaming


@pytest.fixture(scope="module")
def conv_exam():
    return build_exam("conv2d-by-hand", 4, engine_name="numpy")


def _gradient_parts(exam):
    dx = next(p for _, p in exam.parts() if p.id == "input-gradient")
    dk = next(p for _, p in exam.parts() if p.id == "kernel-gradient")
    return dx, dk


def test_grade_kernel_gradient_written_in_both_parts_loses_the_alternative_credit(conv_exam):
    dx, dk = _gradient_parts(conv_exam)
    answers = key_answers(conv_exam)
    kernel = answers[dk.number]["dK"]
    answers[dx.number] = {"dX": kernel}
    r = _grade(conv_exam, answers)
    got = _blank(r, dx.number, "dX")
    assert got.status == WRONG and got.credit == 0
    assert f"which you also gave in {dk.number}" in got.feedback
    assert _blank(r, dk.number, "dK").status == CORRECT
    assert r.total == pytest.approx(conv_exam.points - dx.points)


def test_grade_kernel_gradient_written_only_for_the_input_gradient_keeps_its_credit(conv_exam):
    dx, dk = _gradient_parts(conv_exam)
    answers = key_answers(conv_exam)
    answers[dx.number] = {"dX": answers[dk.number]["dK"]}
    answers[dk.number] = {"dK": ""}
    got = _blank(_grade(conv_exam, answers), dx.number, "dX")
    assert (got.status, got.credit, got.alternative) == (ALTERNATIVE, 1.0, "kernel-gradient")


def test_instance_records_which_key_an_accepted_alternative_is(conv_exam):
    dx, _ = _gradient_parts(conv_exam)
    alt = next(a for a in dx.blanks[0].alternatives if a["name"] == "kernel-gradient")
    assert alt["key_of"] == "dK"
    assert all(a["key_of"] is None for a in dx.blanks[0].alternatives if a["credit"] == 0)


# ---------------------------------------------------------------------------- sampler and validate


def test_sampler_rejects_a_mistake_within_the_keys_tolerance_and_counts_why(tmp_path):
    from collections import Counter

    path = tmp_path / "narrow-tol.yaml"
    path.write_text(NARROW)
    rejections: Counter[str] = Counter()
    # 2a and 2a + 0.001 differ by a tenth of the rule's unit (0.01): no instance can tell them apart
    with pytest.raises(Exception, match="shifted"):
        make_instance(load_spec(path), 0, get_engine("numpy"), rejections=rejections)
    assert rejections == {"the mistake 'shifted' of d lands within the tolerance of the key": 2000}


def test_validate_reports_fairness_rejections_and_a_tol_narrower_than_the_rule(tmp_path):
    path = tmp_path / "narrow-tol.yaml"
    path.write_text(NARROW.replace("2 * a + 0.001", "2 * a + 0.01 * (a - 1)"))  # a <= 3 falls inside
    report = validate_file(Path(path), 200, "numpy")
    notes = " ".join(report["notes"])
    assert "rejected by: the mistake 'shifted' of d lands within the tolerance of the key" in notes
    assert any("answer 't': tol (abs 0.0001, rel 0) is narrower than the rounding rule's tolerance in 200 of 200"
               in w for w in report["warnings"])


def test_rounding_a_parts_own_rule_is_printed_next_to_that_part_only(tmp_path):
    path = tmp_path / "rounded-chain.yaml"
    path.write_text(CHAIN.replace('    text: "Compute $y = 1000 x$."\n',
                                  '    text: "Compute $y = 1000 x$."\n    rounding: {significant: 5}\n'))
    exam = build_exam("rounded-chain", 0, engine_name="numpy", library=Library(extra=[path]))
    lines = sheet_markdown(exam).splitlines()
    part1 = next(line for line in lines if line.startswith("**1.1**"))
    part2 = next(line for line in lines if line.startswith("**1.2**"))
    assert "In this" not in part1
    assert part2.endswith("*In this part, give every result that is not a whole number to 5 significant digits, "
                          "with at most 6 decimals (for example 0.24680).*")
    assert _blank(_grade(exam, {"1.2": {"y": 666.67}}), "1.2", "y").status == CORRECT
    assert _blank(_grade(exam, {"1.2": {"y": 666.7}}), "1.2", "y").status == WRONG


def test_rounding_rule_with_an_unknown_key_is_a_located_spec_error(tmp_path):
    from i2dl.errors import SpecError

    path = tmp_path / "rounded-chain.yaml"
    path.write_text(CHAIN.replace("statement:", "rounding: {digits: 3}\nstatement:"))
    with pytest.raises(SpecError, match="digits"):
        load_spec(path)
