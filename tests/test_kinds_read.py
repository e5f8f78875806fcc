"""i2dl.kinds readers: the safe reading of students' numbers, vectors, matrices, shapes, choices, bools and text."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import i2dl.kinds
import i2dl.kinds.read as read_module
from i2dl.errors import AnswerParseError
from i2dl.kinds import KINDS, MissingAnswer, parse_answer
from i2dl.kinds.boolean import parse_bool
from i2dl.kinds.choice import parse_choices
from i2dl.kinds.matrix import parse_matrix
from i2dl.kinds.read import parse_number
from i2dl.kinds.shape import parse_shape
from i2dl.kinds.text import parse_text
from i2dl.kinds.vector import parse_vector
from tests.strategies import int_arrays

# --------------------------------------------------------------------------- parse_number: accepted


@pytest.mark.parametrize(("text", "expected"), [
    ("-log(0.35)", 1.0498221244986778),
    ("11*11*3*96 + 96", 34944),
    ("27/9", 3),
    ("(6-2)^2", 16),
    ("0.52", 0.52),
    ("-3", -3),
    ("+7", 7),
    (".5", 0.5),
    ("5.", 5),
    ("1e-3", 0.001),
    ("2.5E+2", 250),
    ("6.02e2", 602),
])
def test_parse_number_reads_seed_style_answers(text, expected):
    assert parse_number(text) == pytest.approx(expected, rel=1e-15)


def test_parse_number_reads_decimal_comma():
    assert parse_number("0,52") == 0.52
    assert parse_number("-1,5") == -1.5
    assert parse_number(" 3,25e-2 ") == 0.0325


def test_parse_number_reads_unicode_minus_and_operators():
    assert parse_number("\u22123") == -3
    assert parse_number("2 \u00d7 3") == 6
    assert parse_number("6 \u00f7 4") == 1.5
    assert parse_number("2\u00b75") == 10


def test_parse_number_accepts_yaml_numbers_directly():
    assert parse_number(3) == 3.0
    assert parse_number(-0.25) == -0.25
    assert parse_number(np.float64(1.5)) == 1.5
    assert parse_number(np.int64(4)) == 4.0
    assert isinstance(parse_number(3), float)


def test_parse_number_power_binds_tighter_than_unary_minus():
    assert parse_number("-2^2") == -4
    assert parse_number("(-2)^2") == 4
    assert parse_number("2^-1") == 0.5
    assert parse_number("2**3") == 8


def test_parse_number_power_is_right_associative():
    assert parse_number("2^3^2") == 512


def test_parse_number_follows_operator_precedence():
    assert parse_number("1 + 2 * 3") == 7
    assert parse_number("8 / 4 / 2") == 1
    assert parse_number("10 - 4 - 3") == 3
    assert parse_number("2 * (3 + 4)") == 14
    assert parse_number("--3") == 3


@pytest.mark.parametrize(("text", "expected"), [
    ("log(e)", 1.0),
    ("ln(e^2)", 2.0),
    ("log10(1000)", 3.0),
    ("log2(8)", 3.0),
    ("exp(0)", 1.0),
    ("sqrt(16)", 4.0),
    ("abs(-2.5)", 2.5),
    ("sigma(0)", 0.5),
    ("sigmoid(1.1)", 0.7502601055951177),
    ("sigma(-800)", 0.0),
    ("tanh(0)", 0.0),
    ("sin(pi/2)", 1.0),
    ("cos(0)", 1.0),
    ("\u03c0", math.pi),
    ("2*PI", 2 * math.pi),
    ("Log(E)", 1.0),
])
def test_parse_number_reads_functions_and_constants(text, expected):
    assert parse_number(text) == pytest.approx(expected, rel=1e-15, abs=1e-300)


def test_parse_number_log_is_natural_log():
    assert parse_number("log(10)") == pytest.approx(math.log(10), rel=1e-15)


# --------------------------------------------------------------------------- parse_number: rejected


@pytest.mark.parametrize(("text", "reason"), [
    ("3,,4", "could not read '3,,4' as a number: unexpected ',' at position 2"),
    ("1,000,000", "thousands separator"),
    ("2x", "unexpected 'x' at position 2 (use * to multiply)"),
    ("x", "unknown name 'x' at position 1"),
    ("2e", "unexpected 'e' at position 2 (use * to multiply)"),
    ("2 3", "unexpected '3' at position 3 (use * to multiply)"),
    ("2(3)", "unexpected '(' at position 2 (use * to multiply)"),
    ("(1+2", "missing ')' for the '(' at position 1"),
    ("1+2)", "unmatched ')' at position 4"),
    ("3+", "incomplete"),
    ("*3", "unexpected '*' at position 1"),
    ("log 2", "log needs parentheses"),
    ("1.2.3", "unexpected '.3'"),
    ("x = 3", "unexpected '=' at position 3"),
    ("__import__", "unknown name '__import__'"),
    ("__import__('os')", "unexpected \"'\" at position 12"),
    ("1/0", "division by zero"),
    ("0^-1", "0 to a negative power"),
    ("(-8)^(1/3)", "not a real number"),
    ("log(0)", "log is only defined for positive numbers"),
    ("ln(-1)", "ln is only defined for positive numbers"),
    ("sqrt(-4)", "sqrt of a negative number"),
    ("exp(1000)", "number too large (|x| > 1e15)"),
    ("1e308*10", "number too large"),
    ("1e999", "number too large"),
    ("1e16", "number too large (|x| > 1e15)"),
    ("9**9**9", "number too large"),
    ("nan", "NaN and infinity are not accepted"),
    ("-inf", "NaN and infinity are not accepted"),
    ("Infinity", "NaN and infinity are not accepted"),
    ("\u221e", "NaN and infinity are not accepted"),
    ("\u0663", "unexpected"),  # an Arabic-Indic digit is not a number here
])
def test_parse_number_rejects_with_reason(text, reason):
    with pytest.raises(AnswerParseError) as info:
        parse_number(text)
    assert reason in info.value.message
    assert not isinstance(info.value, MissingAnswer)
    assert info.value.fix


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float64("nan")])
def test_parse_number_rejects_non_finite_yaml_values(value):
    with pytest.raises(AnswerParseError, match="NaN and infinity are not accepted"):
        parse_number(value)


def test_parse_number_rejects_huge_yaml_int():
    with pytest.raises(AnswerParseError, match="too large"):
        parse_number(10**400)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), [1], {"a": 1}, object()])
def test_parse_number_rejects_non_numbers(value):
    with pytest.raises(AnswerParseError, match="expected a number") as info:
        parse_number(value)
    assert not isinstance(info.value, MissingAnswer)


@pytest.mark.parametrize("value", [None, "", "   ", "\n\t"])
def test_parse_number_blank_is_missing_answer(value):
    with pytest.raises(MissingAnswer, match="no answer"):
        parse_number(value)


def test_parse_number_caps_expression_length():
    with pytest.raises(AnswerParseError, match=r"expression too long \(> 500 characters\)"):
        parse_number("1+" * 250 + "1")
    assert parse_number("+".join(["1"] * 250)) == 250


@pytest.mark.parametrize("text", ["(" * 60 + "1" + ")" * 60, "-" * 60 + "1", "2^" * 60 + "1",
                                  "exp(" * 60 + "0" + ")" * 60])
def test_parse_number_rejects_deep_nesting(text):
    with pytest.raises(AnswerParseError, match="too deeply nested"):
        parse_number(text)


def test_parse_number_accepts_moderate_nesting():
    assert parse_number("(" * 40 + "1" + ")" * 40) == 1


@pytest.mark.parametrize("text", ["9**9**9**9", "(9^9)^(9^9)", "10^10^10^10", "2**(2**1000)",
                                  "(" * 249 + ")" * 250])
def test_parse_number_adversarial_input_is_refused_within_a_few_float_steps(text, monkeypatch):
    # The guard against a power tower: every power is one float64 math.pow (overflow is an error at
    # once, never a big integer built digit by digit), and nesting stops at a fixed depth.
    powers = []
    real = read_module._power

    def spy(a, b):
        powers.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(read_module, "_power", spy)
    with pytest.raises(AnswerParseError):
        parse_number(text)
    assert (1 <= len(powers) <= 3) if "^" in text or "**" in text else not powers
    assert all(kinds == (float, float) for kinds in powers)


def test_kinds_readers_never_eval():
    modules = sorted(Path(i2dl.kinds.__file__).parent.glob("*.py"))
    assert len(modules) > 8  # every kind's module, not an empty glob
    for path in modules:
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"(?<![\w.])(eval|exec|compile|__import__)\(|literal_eval", source), path.name


# --------------------------------------------------------------------------- parse_number: properties

bounded_floats = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False)


@given(bounded_floats)
def test_parse_number_round_trips_repr(x):
    assert parse_number(repr(x)) == x
    assert parse_number(str(x)) == x


@given(bounded_floats)
def test_parse_number_round_trips_g17_and_decimal_comma(x):
    assert parse_number(f"{x:.17g}") == x
    if "e" not in repr(x):
        assert parse_number(repr(x).replace(".", ",")) == x


@given(st.floats(allow_nan=False).filter(lambda x: abs(x) > 1e15))
def test_parse_number_rejects_floats_beyond_cap(x):
    with pytest.raises(AnswerParseError, match="too large|NaN and infinity"):
        parse_number(repr(x))


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_parse_number_round_trips_integers(n):
    assert parse_number(str(n)) == n
    assert parse_number(n) == n


def _combine(left, op, right):
    """(text, value, precedence) of `left op right`, parenthesized only where needed."""
    prec = 1 if op in "+-" else 2
    lt = left[0] if left[2] >= prec else f"({left[0]})"
    rt = right[0] if right[2] > prec else f"({right[0]})"
    value = {"+": left[1] + right[1], "-": left[1] - right[1], "*": left[1] * right[1]}[op]
    return (f"{lt} {op} {rt}", value, prec)


leaves = st.integers(0, 20).map(lambda n: (str(n), n, 5)) | st.tuples(
    st.integers(0, 9), st.integers(0, 3)).map(lambda ab: (f"{ab[0]}^{ab[1]}", ab[0] ** ab[1], 4))
expressions = st.recursive(
    leaves,
    lambda kids: st.tuples(kids, st.sampled_from("+-*"), kids).map(lambda t: _combine(*t))
    | kids.map(lambda k: ("-" + (k[0] if k[2] >= 3 else f"({k[0]})"), -k[1], 3)),
    max_leaves=12,
)


@given(expressions)
def test_parse_number_evaluates_expressions_with_precedence(expr):
    text, value, _ = expr
    assume(abs(value) <= 1e15)
    assert parse_number(text) == value


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("value", ["[1, 2, 3]", "1, 2, 3", "1 2 3", "(1; 2; 3)", "[1;2;3]",
                                   " [ 1  2  3 ] ", "1\n2\n3", [1, 2, 3], ["1", "2", "3"],
                                   (1, 2, 3), np.array([1.0, 2.0, 3.0]), ["2/2", "1+1", "sqrt(9)"]])
def test_parse_vector_reads_accepted_forms(value):
    out = parse_vector(value)
    assert out.dtype == np.float64 and out.shape == (3,)
    assert out.tolist() == [1, 2, 3]


def test_parse_vector_reads_negative_entries_and_numpy_printout():
    assert parse_vector("[ 1.5 -2.   3. ]").tolist() == [1.5, -2, 3]
    assert parse_vector("1 -2 -3").tolist() == [1, -2, -3]


def test_parse_vector_semicolons_allow_decimal_commas():
    assert parse_vector("(0,5; 1,5)").tolist() == [0.5, 1.5]


def test_parse_vector_single_number_is_length_one():
    assert parse_vector("4").tolist() == [4]
    assert parse_vector(4).tolist() == [4]


@pytest.mark.parametrize(("value", "reason"), [
    ("1,,2", "entry 2 is empty"),
    ("1, x, 3", "entry 2: could not read 'x' as a number"),
    ("[[1, 2]]", "flat list"),
    ([1, [2]], "entry 2 is a list"),
    ([1, None], "entry 2 is empty"),
    ([1, True], "entry 2: expected a number, got true/false"),
    ({"a": 1}, "expected a vector, got a mapping"),
    (np.zeros((2, 2)), "expected a vector"),
    ("1, nan", "NaN and infinity"),
])
def test_parse_vector_rejects_with_reason(value, reason):
    with pytest.raises(AnswerParseError) as info:
        parse_vector(value)
    assert reason in info.value.message
    assert not isinstance(info.value, MissingAnswer)


@pytest.mark.parametrize("value", [None, "", "  ", "[]", "()", []])
def test_parse_vector_blank_is_missing_answer(value):
    with pytest.raises(MissingAnswer):
        parse_vector(value)


def _vector_forms(v: list[int]) -> list:
    return [str(v), ", ".join(map(str, v)), " ".join(map(str, v)),
            "(" + "; ".join(map(str, v)) + ")", str(np.array(v)), v, [str(x) for x in v]]


@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=8))
def test_parse_vector_round_trips_every_form(v):
    for form in _vector_forms(v):
        assert parse_vector(form).tolist() == v, form


@given(st.lists(bounded_floats, min_size=1, max_size=6))
def test_parse_vector_round_trips_float_reprs(v):
    assert parse_vector(", ".join(map(repr, v))).tolist() == v
    assert parse_vector("[" + " ".join(map(repr, v)) + "]").tolist() == v


# --------------------------------------------------------------------------- matrices


@pytest.mark.parametrize("value", ["[[1, 2], [3, 4]]", "1 2; 3 4", "1 2\n3 4", "[1 2; 3 4]",
                                   "1, 2; 3, 4", "[[1 2]\n [3 4]]", "[1, 2]\n[3, 4]",
                                   [[1, 2], [3, 4]], ["1 2", "3 4"], ["[1, 2]", "[3, 4]"],
                                   np.array([[1, 2], [3, 4]])])
def test_parse_matrix_reads_accepted_forms(value):
    out = parse_matrix(value)
    assert out.dtype == np.float64
    assert out.tolist() == [[1, 2], [3, 4]]


def test_parse_matrix_single_row_and_column():
    assert parse_matrix("1 2 3").shape == (1, 3)
    assert parse_matrix("1; 2; 3").shape == (3, 1)
    assert parse_matrix("7").tolist() == [[7]]


def test_parse_matrix_entries_may_be_expressions():
    assert parse_matrix("[[1/2, 2^2], [-log(1), 27/9]]").tolist() == [[0.5, 4], [0, 3]]


@pytest.mark.parametrize(("value", "reason"), [
    ([[1, 2], [3]], "row 2 has 1 entry but row 1 has 2"),
    ("1 2; 3 4 5", "row 2 has 3 entries but row 1 has 2"),
    ("[[1, 2], [3, 4], [5]]", "row 3 has 1 entry"),
    ("[[1,2],[3,x]]", "row 2, entry 2: could not read 'x' as a number"),
    ([[1, 2], []], "row 2 is empty"),
    ([[1, 2], None], "row 2 is empty"),
    ([1, 2], "row 1 is a value of type int"),
    ([[1, [2]]], "row 1, entry 2 is a list"),
    ("[[[1]]]", "nested too deeply"),
    ("[[1, 2] x [3, 4]]", "unexpected 'x' outside the rows"),
    ("[[1, 2], [3, 4]", "unbalanced"),
    ({"a": 1}, "expected a matrix, got a mapping"),
])
def test_parse_matrix_rejects_with_reason(value, reason):
    with pytest.raises(AnswerParseError) as info:
        parse_matrix(value)
    assert reason in info.value.message
    assert not isinstance(info.value, MissingAnswer)


@pytest.mark.parametrize("value", [None, "", "[]", "[ ]", []])
def test_parse_matrix_blank_is_missing_answer(value):
    with pytest.raises(MissingAnswer):
        parse_matrix(value)


def _matrix_forms(m: np.ndarray) -> list:
    rows = m.astype(int).tolist()
    return [
        str(rows),
        "; ".join(" ".join(map(str, r)) for r in rows),
        "\n".join(" ".join(map(str, r)) for r in rows),
        "[" + "; ".join(" ".join(map(str, r)) for r in rows) + "]",
        "; ".join(", ".join(map(str, r)) for r in rows),
        "\n".join(str(r) for r in rows),
        str(m.astype(int)),
        str(m),
        rows,
        [" ".join(map(str, r)) for r in rows],
    ]


@given(st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(int_arrays))
def test_parse_matrix_round_trips_every_form(m):
    for form in _matrix_forms(m):
        out = parse_matrix(form)
        assert out.shape == m.shape, form
        assert np.array_equal(out, m), form


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("value", ["16x21x21", "16 x 21 x 21", "16\u00d721\u00d721",
                                   "16 \u00d7 21 \u00d7 21", "(16, 21, 21)", "[16,21,21]",
                                   "16*21*21", "16X21X21", "16 21 21", [16, 21, 21],
                                   ["16", "21", "21"], (16, 21, 21), [16.0, 21, 21]])
def test_parse_shape_reads_accepted_forms(value):
    assert parse_shape(value) == (16, 21, 21)


def test_parse_shape_single_dimension():
    assert parse_shape(5) == (5,)
    assert parse_shape("5") == (5,)
    assert parse_shape("(16,)") == (16,)
    assert parse_shape(np.int64(3)) == (3,)


@pytest.mark.parametrize(("value", "reason"), [
    ("16x0x21", "dimension 2 is 0, but dimensions must be positive"),
    ("16x-1", "dimension 2 ('-1') is not a whole number"),
    ("16x2.5", "dimension 2 ('2.5') is not a whole number"),
    ("16xx21", "dimension 2 is empty"),
    ("16x21x", "dimension 3 is empty"),
    ([16, True], "dimension 2 (True) is not a whole number"),
    ([16, 2.5], "not a whole number"),
    (True, "expected a shape, got true/false"),
    (2.5, "expected a shape"),
    ("x".join(["2"] * 17), "too many dimensions"),
    ("9" * 17, "not a whole number"),
])
def test_parse_shape_rejects_with_reason(value, reason):
    with pytest.raises(AnswerParseError) as info:
        parse_shape(value)
    assert reason in info.value.message
    assert not isinstance(info.value, MissingAnswer)


@pytest.mark.parametrize("value", [None, "", "()", []])
def test_parse_shape_blank_is_missing_answer(value):
    with pytest.raises(MissingAnswer):
        parse_shape(value)


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=6))
def test_parse_shape_round_trips_every_form(dims):
    shape = tuple(dims)
    for form in ("x".join(map(str, dims)), " \u00d7 ".join(map(str, dims)), str(shape),
                 str(dims), "*".join(map(str, dims)), dims):
        assert parse_shape(form) == shape, form


# --------------------------------------------------------------------------- choices


@pytest.mark.parametrize("value", ["AC", "A, C", "[A, C]", "a c", "CA", "A;C", "A/C", "ACA",
                                   "['A', 'C']", ["A", "C"], ["a", "c"], ("A", "C"), ["AC"]])
def test_parse_choices_reads_accepted_forms(value):
    assert parse_choices(value, 4) == frozenset({"A", "C"})


@pytest.mark.parametrize("value", ["none", "None", "NONE", "-", "\u2212", "nothing", ["none"], ["", "-"]])
def test_parse_choices_explicit_none_means_no_option(value):
    assert parse_choices(value, 4) == frozenset()


@pytest.mark.parametrize("value", ["", "  ", "[]", "()", [], (), [""], ["  ", ""]])
def test_parse_choices_empty_blank_is_a_skip_not_no_option(value):
    with pytest.raises(MissingAnswer):
        parse_choices(value, 4)


@pytest.mark.parametrize(("value", "reason"), [
    ("AE", "option 'E' does not exist: valid options are A to D"),
    ("e", "option 'E' does not exist"),
    (["A", "Z"], "option 'Z' does not exist"),
    ("A1", "unexpected '1' at position 2"),
    ("A and B", "option 'N' does not exist"),
    ("\u0130", "unexpected"),  # dotted capital I: non-ASCII, not option I
    ([1], "entry 1 (1) is not an option letter"),
    ([True], "not an option letter"),
    (3, "expected option letters"),
    ({"A": 1}, "expected option letters"),
])
def test_parse_choices_rejects_with_reason(value, reason):
    with pytest.raises(AnswerParseError) as info:
        parse_choices(value, 4)
    assert reason in info.value.message
    assert info.value.fix


def test_parse_choices_one_option_range_is_named():
    with pytest.raises(AnswerParseError) as info:
        parse_choices("B", 1)
    assert info.value.message.endswith("valid options are A")


def test_parse_choices_none_is_missing_answer():
    with pytest.raises(MissingAnswer):
        parse_choices(None, 4)


@pytest.mark.parametrize("n", [0, 27])
def test_parse_choices_bad_option_count_is_a_programming_error(n):
    with pytest.raises(ValueError):
        parse_choices("A", n)


@given(st.integers(1, 26).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.sampled_from([chr(65 + i) for i in range(n)])))))
def test_parse_choices_round_trips_every_form(case):
    n, chosen = case
    letters = sorted(chosen)
    forms = ["".join(letters), ", ".join(letters), str(letters), " ".join(letters).lower(), letters]
    if not letters:  # "no option" is written out; a blank is a skip
        forms = ["none", "-", "None", ["none"]]
    for form in forms:
        assert parse_choices(form, n) == frozenset(chosen), form


# --------------------------------------------------------------------------- bools, text


@pytest.mark.parametrize("value", [True, "true", "True", "t", "yes", "Y", "1", 1, np.bool_(True)])
def test_parse_bool_reads_true(value):
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [False, "false", "F", "no", "n", " 0 ", 0])
def test_parse_bool_reads_false(value):
    assert parse_bool(value) is False


@pytest.mark.parametrize("value", ["maybe", "wahr", 2, 1.0, [True]])
def test_parse_bool_rejects_other_values(value):
    with pytest.raises(AnswerParseError, match="true or false"):
        parse_bool(value)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_parse_bool_blank_is_missing_answer(value):
    with pytest.raises(MissingAnswer):
        parse_bool(value)


def test_parse_text_strips_and_keeps_yaml_scalars_as_text():
    assert parse_text("  ReLU avoids vanishing gradients \n") == "ReLU avoids vanishing gradients"
    assert parse_text(42) == "42"
    assert parse_text(True) == "true"
    with pytest.raises(MissingAnswer):
        parse_text("   ")
    with pytest.raises(AnswerParseError, match="expected text"):
        parse_text(["a"])
    with pytest.raises(AnswerParseError, match="too long"):
        parse_text("x" * 20_001)


# --------------------------------------------------------------------------- parse_answer


@pytest.mark.parametrize(("kind", "value", "expected"), [
    ("number", "27/9", 3.0),
    ("shape", "16 \u00d7 21 \u00d7 21", (16, 21, 21)),
    ("bool", "yes", True),
    ("text", " free ", "free"),
])
def test_parse_answer_dispatches_on_kind(kind, value, expected):
    assert parse_answer(value, kind) == expected


def test_parse_answer_dispatches_arrays_and_choices():
    assert parse_answer("1 2", "vector").tolist() == [1, 2]
    assert parse_answer("1 2; 3 4", "matrix").shape == (2, 2)
    assert parse_answer("AC", "choice", n_options=4) == frozenset({"A", "C"})


def test_parse_answer_rejects_unknown_kind_and_missing_options():
    with pytest.raises(ValueError, match="unknown answer kind"):
        parse_answer("1", "tensor")
    with pytest.raises(ValueError, match="n_options"):
        parse_answer("A", "choice")


# --------------------------------------------------------------------------- robustness


def _call_every_parser(value) -> None:
    for kind in KINDS:
        try:
            parse_answer(value, kind, n_options=5)
        except AnswerParseError:
            pass


@settings(max_examples=300)
@given(st.text())
def test_parsers_raise_only_answer_parse_error_on_any_text(text):
    _call_every_parser(text)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789+-*/^().,;:eExXpi[] \n\u2212\u00d7logsqrtnaf", max_size=80))
def test_parsers_raise_only_answer_parse_error_on_expression_like_text(text):
    _call_every_parser(text)


yaml_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=25,
)


@settings(max_examples=300)
@given(yaml_like)
def test_parsers_raise_only_answer_parse_error_on_any_yaml_value(value):
    _call_every_parser(value)


@given(st.text(max_size=20))
def test_parse_number_result_is_always_finite_and_bounded(text):
    try:
        x = parse_number(text)
    except AnswerParseError:
        return
    assert math.isfinite(x) and abs(x) <= 1e15


@pytest.mark.parametrize("value, kind", [("1\ud800", "number"), (["1", "\udc00"], "vector"),
                                         ([["\ud83d"]], "matrix"), ("A\ud800", "choice"), ("\udfff", "bool")])
def test_parse_answer_lone_surrogate_is_invalid_with_reason(value, kind):
    with pytest.raises(AnswerParseError, match="lone surrogate") as info:
        parse_answer(value, kind, n_options=4)
    assert not isinstance(info.value, MissingAnswer)
