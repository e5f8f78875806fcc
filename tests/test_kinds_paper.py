"""Answers as written on paper: products with x, decimal commas, fractions, lists and shapes.

The property for every notation: the reader gives the value the student meant, or refuses with a
reason; it never silently reads another value. Answer files are YAML, where `[2, -0,5]` is a flow
list of three items, so lists are also read back through the answer-file loader.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from i2dl.errors import AnswerParseError, SubmissionError
from i2dl.io import load_yaml_text
from i2dl.kinds import parse_answer

PRODUCT_SIGNS = ["x", "X", " x ", "\u00d7", " \u00d7 ", "*", " * ", "\u00b7", " \u00b7 "]

# Numbers a student writes by hand: integers and short decimals.
hand_numbers = st.builds(lambda n, places: round(n / 10**places, places),
                         st.integers(-99_999, 99_999), st.integers(0, 4))


def written(x: float, comma: bool, minus: str = "-") -> str:
    """x as on paper: shortest decimals, with a decimal point or comma."""
    text = repr(float(x)).removesuffix(".0") if float(x).is_integer() else f"{x:.4f}".rstrip("0")
    text = text.replace("-", minus)
    return text.replace(".", ",") if comma else text


def read_or_refuse(raw, kind, shape=None):
    try:
        return parse_answer(raw, kind, shape=shape)
    except AnswerParseError:
        return None


def as_answer_file(text: str):
    """The value of one blank written unquoted in an answers.yaml, read as grading reads it."""
    try:
        data = load_yaml_text(f"answers:\n  '1.1': {text}\n", error=SubmissionError, flow_text=True)
    except SubmissionError:
        return None
    return data["answers"]["1.1"]


@given(hand_numbers, st.booleans(), st.sampled_from(["-", "\u2212"]))
def test_read_number_gives_decimal_point_and_comma_the_same_value(x, comma, minus):
    text = written(x, comma, minus)
    if re.fullmatch(r"\D?[1-9][0-9]{0,2},[0-9]{3}", text):  # '1,234': thousands or decimals? refused
        assert read_or_refuse(text, "number") is None
        return
    assert parse_answer(text, "number") == pytest.approx(x, abs=1e-12)


@given(st.lists(st.integers(1, 512), min_size=2, max_size=4), st.sampled_from(PRODUCT_SIGNS))
def test_read_number_multiplies_factors_written_with_any_product_sign(factors, sign):
    text = sign.join(map(str, factors))
    assert parse_answer(text, "number") == math.prod(factors)


@given(st.lists(st.integers(1, 64), min_size=2, max_size=4), st.sampled_from(["x", "X", " x ", "\u00d7", "*"]))
def test_read_shape_takes_dimensions_in_any_letter_case_and_sign(dims, sign):
    assert parse_answer(sign.join(map(str, dims)), "shape") == tuple(dims)


@given(st.integers(-99, 99), st.integers(1, 99))
def test_read_number_takes_fractions(a, b):
    assert parse_answer(f"{a}/{b}", "number") == pytest.approx(a / b)


@pytest.mark.parametrize("text, value", [
    ("5x5", 25), ("32x32", 1024), ("16x7x7", 784), ("16x21x21", 7056), ("28x16", 448),
    ("512x10+28x28x512+512+10", 512 * 10 + 28 * 28 * 512 + 512 + 10), ("3x3x3x16 + 16", 448),
    ("(3x3x3+1)x16", 448), ("2 x 0,5", 1.0),
])
def test_read_number_takes_products_as_the_seeds_keys_write_them(text, value):
    assert parse_answer(text, "number") == pytest.approx(value)


SEPARATORS = [", ", ",", "; ", ";", " ", "  "]


@given(st.lists(hand_numbers, min_size=1, max_size=6), st.booleans(), st.sampled_from(SEPARATORS),
       st.sampled_from(["[]", "()", ""]))
def test_read_vector_never_misreads_a_list_written_by_hand(values, comma, sep, brackets):
    if comma and sep == ",":  # '0,5,1,5': a comma is then a separator and a decimal sign at once
        sep = ";"
    # '[0,5]' for a one-entry key is 0.5: the reader is told the key's shape, as grading tells it
    body = sep.join(written(v, comma) for v in values)
    text = f"{brackets[:1]}{body}{brackets[1:]}"
    expected = np.array(values, dtype=float)
    for raw in (text, as_answer_file(text) if brackets == "[]" else text):
        got = read_or_refuse(raw, "vector", expected.shape)
        if got is not None:
            assert got.shape == expected.shape and np.allclose(got, expected), f"{text!r} read as {got}"
    thousands = any(re.fullmatch(r"-?[1-9][0-9]{0,2}\.[0-9]{3}", f"{v}") for v in values) and comma
    if (not comma or ";" in sep) and not thousands:  # the unambiguous forms are always read
        assert read_or_refuse(text, "vector", expected.shape) is not None, text
        if brackets == "[]":
            assert read_or_refuse(as_answer_file(text), "vector", expected.shape) is not None, text


@given(st.integers(1, 3), st.integers(1, 3), st.data(), st.booleans())
def test_read_matrix_never_misreads_rows_written_by_hand(rows, cols, data, comma):
    values = [[data.draw(hand_numbers) for _ in range(cols)] for _ in range(rows)]
    sep = "; " if comma else data.draw(st.sampled_from([", ", ",", " "]))
    text = "[" + ", ".join("[" + sep.join(written(v, comma) for v in row) + "]" for row in values) + "]"
    expected = np.array(values, dtype=float)
    for raw in (text, as_answer_file(text)):
        got = read_or_refuse(raw, "matrix", expected.shape)
        if got is not None:
            assert got.shape == expected.shape and np.allclose(got, expected), f"{text!r} read as {got}"
        elif not comma:
            raise AssertionError(f"{text!r} should be read")


@pytest.mark.parametrize("text", ["[2, -0,5]", "[0,5, 1,5]", "0,5 1,5", "[[0,5, 1,5], [2, 3]]"])
def test_read_list_refuses_commas_used_both_ways_with_the_reason(text):
    for raw in (text, as_answer_file(text)):
        with pytest.raises(AnswerParseError) as exc:
            parse_answer(raw, "matrix" if text.startswith("[[") else "vector")
        assert "';'" in exc.value.fix


def test_read_list_takes_quoted_decimal_commas_in_a_yaml_list():
    assert parse_answer(as_answer_file('["0,5", "1,5"]'), "vector").tolist() == [0.5, 1.5]
    assert parse_answer(as_answer_file("[2; -0,5]"), "vector").tolist() == [2.0, -0.5]


@pytest.mark.parametrize("text, expected, note", [
    ("15x15x8", (8, 15, 15), "channels last"),  # the 2020 mock key writes H x W x C
    ("11x11", (1, 11, 11), "single channel"),
])
def test_shape_accepts_per_sample_conventions_by_default_and_says_so(text, expected, note):
    from i2dl.kinds import get
    from i2dl.spec.rubric import resolve_rubric

    got = parse_answer(text, "shape")
    credit, feedback = get("shape").compare(got, expected, (0, 0), resolve_rubric("per-blank").arrays)
    assert credit == 1.0 and note in feedback
    strict = resolve_rubric({"arrays": {"shape_forms": []}}).arrays
    assert get("shape").compare(got, expected, (0, 0), strict)[0] == 0.0


def test_shape_conventions_apply_only_to_per_sample_shapes():
    from i2dl.kinds import get
    from i2dl.spec.rubric import resolve_rubric

    arrays = resolve_rubric("per-blank").arrays
    assert get("shape").compare((32, 15, 15, 8), (32, 8, 15, 15), (0, 0), arrays)[0] == 0.0  # a batch
    assert get("shape").compare((15, 8, 15), (8, 15, 15), (0, 0), arrays)[0] == 0.0


def test_grade_feedback_says_how_a_paper_notation_was_read():
    from i2dl.exam import build_exam
    from i2dl.export.answers import key_answers
    from i2dl.grade.score import Grader, Submission

    exam = build_exam("cnn-architecture", 3, engine_name="numpy")
    key = key_answers(exam)
    part = next(p for p in exam.problems[0].parts if p.id == "parameters")
    answers = {**key, part.number: {**key[part.number], "params_conv1": "7x7x2x4 + 4"}}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    conv1 = next(b for p in result.parts for b in p.blanks if b.name == "params_conv1")
    assert conv1.status == "correct" and "read '7x7x2x4 + 4' as 396" in conv1.feedback
