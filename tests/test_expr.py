"""The safe expression language: parsing whitelist, evaluation, and the answer graph."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.errors import ExprError
from i2dl.evaluate import Evaluator, build_graph
from i2dl.expr import Call, Const, Name, free_names, parse


def ev(text: str, **env):
    return Evaluator(None, env).eval(parse(text).node)


def test_parse_turns_operators_into_calls():
    node = parse("a + b * 2").node
    assert node == Call("add", (Name("a"), Call("mul", (Name("b"), Const(2)))))


def test_parse_reads_caret_as_power_like_exams_write_it():
    assert ev("(6 - 2)^2") == 16
    assert ev("2 ** 3") == 8


@pytest.mark.parametrize("text", [
    "__import__('os')", "x.__class__", "(lambda: 1)()", "[i for i in x]", "open('f')",
    "a.b", "x[0].real", "{**d}", "f(*args)", "y := 3",
])
def test_parse_rejects_anything_outside_the_whitelist(text):
    with pytest.raises(ExprError):
        node = parse(text).node
        Evaluator(None, {"x": [1], "a": 1, "d": {}, "args": [1]}).eval(node)


def test_parse_error_names_the_column():
    with pytest.raises(ExprError, match="column"):
        parse("2 * (3 + ")


def test_free_names_excludes_function_names():
    assert free_names(parse("conv1d(x, c) + max(y, 2)").node) == {"x", "c", "y"}


def test_eval_keeps_integer_counts_exact():
    assert ev("11*11*3*96 + 96") == 34944
    assert isinstance(ev("11*11*3*96 + 96"), int)


def test_eval_indexing_slicing_and_transpose():
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert ev("W[1, 0]", W=W) == 3
    np.testing.assert_array_equal(ev("W.T", W=W), W.T)
    np.testing.assert_array_equal(ev("c[::-1]", c=np.array([1.0, 2.0, 3.0])), [3, 2, 1])


def test_eval_division_by_zero_is_an_expr_error():
    with pytest.raises(ExprError, match="division by zero"):
        ev("1 / (x - x)", x=2)


def test_eval_huge_exponent_is_refused():
    with pytest.raises(ExprError, match="too large"):
        ev("9 ** 9 ** 9")


def test_eval_unknown_function_suggests_the_nearest():
    with pytest.raises(ExprError) as info:
        ev("sigmod(1)")
    assert "sigmoid" in (info.value.fix or "")


def test_build_graph_orders_nodes_after_their_inputs():
    g = build_graph({"L": parse("(y - t)^2"), "y": parse("2 * x")}, {"x", "t"})
    assert g.order.index("y") < g.order.index("L")
    assert g.depends_on("L", "x")


def test_build_graph_reports_a_cycle_with_its_path():
    with pytest.raises(ExprError, match="cycle.*a -> b -> a|cycle.*b -> a -> b"):
        build_graph({"a": parse("b + 1"), "b": parse("a + 1")}, set())


def test_build_graph_reports_unknown_names_with_a_suggestion():
    with pytest.raises(ExprError) as info:
        build_graph({"y": parse("wieght * 2")}, {"weight"})
    assert "weight" in (info.value.fix or "")


def test_evaluator_overrides_replace_a_node_for_everything_downstream():
    g = build_graph({"y": parse("2 * x"), "L": parse("y + 1")}, {"x"})
    env = Evaluator(None, {"x": 3}, g, overrides={"y": 10}).run()
    assert env["L"] == 11


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parse_never_raises_anything_but_expr_error(text):
    try:
        parse(text)
    except ExprError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(1, 50))
def test_eval_integer_arithmetic_matches_python(a, b, c):
    assert ev(f"({a}) * ({b}) + ({a}) // {c} - ({b}) % {c}") == a * b + a // c - b % c
