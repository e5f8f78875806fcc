"""linear in both conventions: exam fixtures, numpy vs torch autograd, central differences,
and bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    linear_cases,
)

FAST = settings(max_examples=50, deadline=None)


def upstream(shape: tuple[int, ...]) -> np.ndarray:
    """A deterministic upstream gradient of the given shape."""
    return np.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape)


def grad_args(engine, case: dict) -> tuple:
    """(x, w, grad_out) of a case, grad_out shaped like the output."""
    y = engine.linear(case["x"], case["w"], convention=case["convention"])
    return case["x"], case["w"], upstream(y.shape)


# --- exam fixtures ---------------------------------------------------------------------------


def test_conv_pool_linear_chain_matches_2024_endterm_3(engine):
    """2024 endterm problem 3: conv [0.5, 1.5, 0.5] -> maxpool(2, 1) -> FC [-1, 3] gives y = 6."""
    z = engine.conv1d([2, 3, 1, 2, -1], [0.5, 1.5, 0.5])
    m = engine.maxpool1d(z, 2, stride=1)
    assert_close(engine.linear(m, [[-1], [3]]), [6.0])
    assert_close(engine.linear(m, [[-1, 3]], convention="Wx"), [6.0])


def test_linear_grads_by_hand(engine):
    """y = x W + b for x = [1, 2], W = [[1, 0, -1], [2, 1, 0]], upstream [1, -1, 2]."""
    x, w, g = [1.0, 2.0], [[1, 0, -1], [2, 1, 0]], [1.0, -1.0, 2.0]
    assert_close(engine.linear(x, w, [0.5, 0, 0]), [5.5, 2, -1])
    assert_close(engine.linear_grad_input(x, w, g), [-1, 1])
    assert_close(engine.linear_grad_weight(x, w, g), [[1, -1, 2], [2, -2, 4]])
    assert_close(engine.linear_grad_bias(g), g)


def test_linear_grad_bias_sums_over_the_batch_axis(engine):
    g = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert_close(engine.linear_grad_bias(g, convention="xW"), [5, 7, 9])
    assert_close(engine.linear_grad_bias(g, convention="Wx"), [6, 15])


@FAST
@given(case=linear_cases())
def test_linear_conventions_are_transposes_of_each_other(engine, case):
    """The other convention with x and w transposed gives the output transposed."""
    x, w, b = case["x"], case["w"], case["b"]
    other = "Wx" if case["convention"] == "xW" else "xW"
    assert_close(engine.linear(np.transpose(x), np.transpose(w), b, convention=other),
                 np.transpose(engine.linear(x, w, b, convention=case["convention"])))


def test_linear_wx_accepts_a_column_bias(engine):
    x, w = np.ones((2, 3)), np.ones((4, 2))
    assert_close(engine.linear(x, w, np.arange(4.0)[:, None], convention="Wx"),
                 engine.linear(x, w, np.arange(4.0), convention="Wx"))


# --- numpy vs torch autograd -----------------------------------------------------------------


@pytest.mark.torch
@FAST
@given(case=linear_cases())
def test_linear_forward_matches_torch(np_engine, torch_engine, case):
    args = (case["x"], case["w"], case["b"], case["convention"])
    assert_close(np_engine.linear(*args), torch_engine.linear(*args))


@pytest.mark.torch
@FAST
@given(case=linear_cases())
def test_linear_grad_input_matches_torch_autograd(np_engine, torch_engine, case):
    args = grad_args(np_engine, case)
    assert_close(np_engine.linear_grad_input(*args, convention=case["convention"]),
                 torch_engine.linear_grad_input(*args, convention=case["convention"]))


@pytest.mark.torch
@FAST
@given(case=linear_cases())
def test_linear_grad_weight_matches_torch_autograd(np_engine, torch_engine, case):
    args = grad_args(np_engine, case)
    assert_close(np_engine.linear_grad_weight(*args, convention=case["convention"]),
                 torch_engine.linear_grad_weight(*args, convention=case["convention"]))


@pytest.mark.torch
@FAST
@given(case=linear_cases())
def test_linear_grad_bias_matches_torch_autograd(np_engine, torch_engine, case):
    g = grad_args(np_engine, case)[2]
    assert_close(np_engine.linear_grad_bias(g, convention=case["convention"]),
                 torch_engine.linear_grad_bias(g, convention=case["convention"]))


# --- numpy gradients vs central differences --------------------------------------------------


@FAST
@given(case=linear_cases())
def test_linear_grad_input_matches_central_differences(np_engine, case):
    x, w, g = grad_args(np_engine, case)
    conv = case["convention"]
    numeric = central_difference(lambda v: np_engine.linear(v, w, convention=conv), x, g)
    assert_close(np_engine.linear_grad_input(x, w, g, convention=conv), numeric, rtol=1e-6, atol=1e-6)


@FAST
@given(case=linear_cases())
def test_linear_grad_weight_matches_central_differences(np_engine, case):
    x, w, g = grad_args(np_engine, case)
    conv = case["convention"]
    numeric = central_difference(lambda v: np_engine.linear(x, v, convention=conv), w, g)
    assert_close(np_engine.linear_grad_weight(x, w, g, convention=conv), numeric, rtol=1e-6, atol=1e-6)


@FAST
@given(case=linear_cases())
def test_linear_grad_bias_matches_central_differences(np_engine, case):
    x, w, g = grad_args(np_engine, case)
    conv = case["convention"]
    n_out = np.shape(w)[1] if conv == "xW" else np.shape(w)[0]
    numeric = central_difference(lambda b: np_engine.linear(x, w, b, convention=conv), np.zeros(n_out), g)
    assert_close(np_engine.linear_grad_bias(g, convention=conv), numeric, rtol=1e-6, atol=1e-6)


# --- bad calls -------------------------------------------------------------------------------

BAD_CALLS = {
    "unknown convention": ("linear", (np.ones(2), np.ones((2, 3))), {"convention": "Wx^T"}, "convention"),
    "xW feature mismatch": ("linear", (np.ones((4, 3)), np.ones((2, 3))), {}, "x"),
    "Wx feature mismatch": ("linear", (np.ones((4, 3)), np.ones((4, 3))), {"convention": "Wx"}, "x"),
    "w not a matrix": ("linear", (np.ones(3), np.ones(3)), {}, "w"),
    "x 3-D": ("linear", (np.ones((1, 2, 3)), np.ones((3, 2))), {}, "x"),
    "bias of wrong length": ("linear", (np.ones(3), np.ones((3, 2)), [1, 2, 3]), {}, "b"),
    "NaN input": ("linear", ([np.nan, 1.0], np.ones((2, 2))), {}, "x"),
    "grad_out of the wrong shape": ("linear_grad_input", (np.ones((4, 3)), np.ones((3, 2)), np.ones((2, 4))), {}, "grad_out"),
    "grad_out NaN for weight": ("linear_grad_weight", (np.ones(3), np.ones((3, 2)), [np.nan, 0.0]), {}, "grad_out"),
    "grad_bias 3-D": ("linear_grad_bias", (np.ones((1, 2, 3)),), {}, "grad_out"),
    "grad_bias unknown convention": ("linear_grad_bias", (np.ones(3),), {"convention": "xy"}, "convention"),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_linear_bad_call_raises_engine_error_naming_op_and_argument(engine, name):
    op_name, args, kwargs, arg = BAD_CALLS[name]
    assert_bad_call(engine, op_name, args, kwargs, arg)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_linear_bad_call_raises_the_same_error_in_both_backends(np_engine, torch_engine, name):
    op_name, args, kwargs, _ = BAD_CALLS[name]
    assert_same_error((np_engine, torch_engine), op_name, args, kwargs)
