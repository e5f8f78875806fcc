"""activations: exam fixtures, kinks as torch, numpy vs torch autograd, numpy vs central
differences, and bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    float_arrays,
)

FAST = settings(max_examples=30, deadline=None)
SHAPES = array_shapes(min_dims=0, max_dims=3, max_side=4)
VECTOR_SHAPES = array_shapes(min_dims=1, max_dims=3, max_side=4)
#: (name, keyword arguments): every elementwise activation, with a non-default alpha too.
ELEMENTWISE = [
    ("relu", {}), ("leaky_relu", {}), ("leaky_relu", {"alpha": 0.2}), ("sigmoid", {}),
    ("tanh", {}), ("elu", {}), ("elu", {"alpha": 0.5}), ("identity", {}),
]
EW = pytest.mark.parametrize("name, kw", ELEMENTWISE,
                             ids=[n + "".join(f"-{k}={v}" for k, v in kw.items()) for n, kw in ELEMENTWISE])
#: Kinked activations: central differences are meaningless within h of 0.
KINKED = {"relu", "leaky_relu", "elu"}


# --- exam fixtures ---------------------------------------------------------------------------

def test_sigmoid_of_1_1_matches_2020_mock_III_c(engine):
    """2020 mock III(c): sigma(1.1) = 0.750260 to 6 decimals (the key reads 0.75 off a plot)."""
    s = float(engine.sigmoid(1.1))
    assert round(s, 6) == 0.750260
    assert_close(s, 1 / (1 + np.exp(-1.1)))


def test_sigmoid_grad_is_s_times_one_minus_s(engine):
    s = 1 / (1 + np.exp(-1.1))
    assert_close(engine.sigmoid_grad(1.1), s * (1 - s))


def test_tanh_grad_at_zero_is_one_and_relu_values(engine):
    assert_close(engine.tanh_grad(0.0), 1.0)
    assert_close(engine.relu([-2.0, 0.0, 3.0]), [0.0, 0.0, 3.0])
    assert_close(engine.leaky_relu([-2.0, 3.0], alpha=0.1), [-0.2, 3.0])
    assert_close(engine.elu([-1.0, 2.0], alpha=1.0), [np.exp(-1.0) - 1, 2.0])


# --- kinks: the derivative at 0 is what torch's autograd gives -------------------------------

def test_relu_grad_at_kink_is_zero(engine):
    assert_close(engine.relu_grad([-1.0, 0.0, 1.0]), [0.0, 0.0, 1.0])


def test_leaky_relu_grad_at_kink_is_alpha(engine):
    assert_close(engine.leaky_relu_grad([-1.0, 0.0, 1.0], alpha=0.05), [0.05, 0.05, 1.0])


def test_elu_grad_at_kink_is_alpha(engine):
    assert_close(engine.elu_grad([0.0, 1.0], alpha=0.7), [0.7, 1.0])


@pytest.mark.torch
def test_kink_derivatives_equal_torch_autograd_directly(np_engine):
    """The torch backend could itself be wrong: ask torch.autograd directly."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for f, ours in [(F.relu, np_engine.relu_grad(0.0)),
                    (lambda t: F.leaky_relu(t, 0.3), np_engine.leaky_relu_grad(0.0, alpha=0.3)),
                    (lambda t: F.elu(t, 0.4), np_engine.elu_grad(0.0, alpha=0.4))]:
        (g,) = torch.autograd.grad(f(x).sum(), x)
        assert float(g) == float(ours)


# --- numpy vs torch ------------------------------------------------------------------------

@pytest.mark.torch
@EW
@FAST
@given(data=st.data())
def test_elementwise_activation_matches_torch(np_engine, torch_engine, name, kw, data):
    x = data.draw(SHAPES.flatmap(float_arrays))
    assert_close(getattr(np_engine, name)(x, **kw), getattr(torch_engine, name)(x, **kw))


@pytest.mark.torch
@EW
@FAST
@given(data=st.data())
def test_elementwise_derivative_matches_torch_autograd(np_engine, torch_engine, name, kw, data):
    x = data.draw(SHAPES.flatmap(float_arrays))
    grad = name + "_grad"
    assert_close(getattr(np_engine, grad)(x, **kw), getattr(torch_engine, grad)(x, **kw))


@pytest.mark.torch
@FAST
@given(data=st.data())
def test_softmax_and_its_vjp_match_torch(np_engine, torch_engine, data):
    shape = data.draw(VECTOR_SHAPES)
    x, g = data.draw(float_arrays(shape)), data.draw(float_arrays(shape))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    assert_close(np_engine.softmax(x, axis=axis), torch_engine.softmax(x, axis=axis))
    assert_close(np_engine.softmax_grad(x, g, axis=axis), torch_engine.softmax_grad(x, g, axis=axis))


@pytest.mark.torch
@FAST
@given(x=st.integers(1, 5).flatmap(lambda n: float_arrays((n,))))
def test_softmax_jacobian_matches_torch_autograd(np_engine, torch_engine, x):
    assert_close(np_engine.softmax_jacobian(x), torch_engine.softmax_jacobian(x))


# --- numpy vs central differences ------------------------------------------------------------

@EW
@FAST
@given(data=st.data())
def test_numpy_elementwise_derivative_matches_central_differences(np_engine, name, kw, data):
    x = data.draw(SHAPES.flatmap(float_arrays))
    if name in KINKED:
        x = np.where(np.abs(x) < 1e-3, 0.5, x)  # away from the kink by more than the step h
    f = getattr(np_engine, name)
    numeric = central_difference(lambda v: f(v, **kw), x, np.ones_like(x))
    assert_close(getattr(np_engine, name + "_grad")(x, **kw), numeric, rtol=1e-6, atol=1e-7)


@FAST
@given(data=st.data())
def test_numpy_softmax_vjp_matches_central_differences(np_engine, data):
    shape = data.draw(VECTOR_SHAPES)
    x, g = data.draw(float_arrays(shape)), data.draw(float_arrays(shape))
    axis = data.draw(st.integers(0, len(shape) - 1))
    numeric = central_difference(lambda v: np_engine.softmax(v, axis=axis), x, g)
    assert_close(np_engine.softmax_grad(x, g, axis=axis), numeric, rtol=1e-6, atol=1e-7)


@FAST
@given(data=st.data())
def test_softmax_vjp_is_upstream_times_jacobian(np_engine, data):
    n = data.draw(st.integers(1, 5))
    x, g = data.draw(float_arrays((n,))), data.draw(float_arrays((n,)))
    assert_close(np_engine.softmax_grad(x, g), g @ np_engine.softmax_jacobian(x), atol=1e-10)


def test_softmax_rows_sum_to_one_and_jacobian_rows_sum_to_zero(engine):
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 1000.0]])
    assert_close(engine.softmax(x).sum(axis=-1), [1.0, 1.0])
    assert_close(engine.softmax_jacobian([1.0, 2.0, 3.0]).sum(axis=0), [0, 0, 0], atol=1e-15)


def test_sigmoid_is_finite_for_large_inputs(engine):
    assert_close(engine.sigmoid([-800.0, 800.0]), [0.0, 1.0])


# --- bad calls -------------------------------------------------------------------------------

BAD_CALLS = [
    ("relu", ([1.0, np.nan],), {}, "x"),
    ("sigmoid_grad", ("abc",), {}, "x"),
    ("leaky_relu", ([1.0],), {"alpha": np.inf}, "alpha"),
    ("elu_grad", ([1.0],), {"alpha": "big"}, "alpha"),
    ("softmax", ([1.0, 2.0],), {"axis": 1}, "axis"),
    ("softmax", (3.0,), {}, "x"),
    ("softmax_grad", ([1.0, 2.0], [1.0, 2.0, 3.0]), {}, "grad_out"),
    ("softmax_jacobian", ([[1.0, 2.0]],), {}, "x"),
]


@pytest.mark.parametrize("name, args, kw, arg", BAD_CALLS, ids=[c[0] + "-" + c[3] for c in BAD_CALLS])
def test_bad_call_raises_engine_error_naming_op_and_argument(engine, name, args, kw, arg):
    assert_bad_call(engine, name, args, kw, arg)


@pytest.mark.torch
@pytest.mark.parametrize("name, args, kw, arg", BAD_CALLS, ids=[c[0] + "-" + c[3] for c in BAD_CALLS])
def test_bad_call_message_is_identical_in_both_backends(np_engine, torch_engine, name, args, kw, arg):
    assert_same_error((np_engine, torch_engine), name, args, kw)
