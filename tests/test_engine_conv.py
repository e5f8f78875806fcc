"""conv1d / conv2d: exam fixtures, numpy vs torch autograd, numpy vs central differences,
the convolution matrix, and bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.errors import EngineError
from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    conv_cases,
)

FAST = settings(max_examples=50, deadline=None)
ND = pytest.mark.parametrize("nd", [1, 2], ids=["conv1d", "conv2d"])


def op(engine, nd: int, name: str = ""):
    """engine.conv1d_<name> or engine.conv2d_<name>."""
    return getattr(engine, f"conv{nd}d" + (f"_{name}" if name else ""))


def geometry(case: dict) -> dict:
    """The stride and padding of a case, as keyword arguments."""
    return {"stride": case["stride"], "padding": case["padding"]}


def upstream(engine, nd: int, case: dict) -> np.ndarray:
    """A deterministic upstream gradient shaped like the forward output."""
    shape = op(engine, nd)(case["x"], case["w"], **geometry(case)).shape
    return np.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape)


# --- exam fixtures ---------------------------------------------------------------------------

ENDTERM_2024_X = [[1, 2, -1, -3], [-1, 3, 0, 2], [1, 1, 1, -2], [0, 2, 0, -3]]
ENDTERM_2024_K = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]
ENDTERM_2024_G = [[3, -1], [1, 2]]
MOCK_2020_X = [[3, 1, 6, 8, 0], [2, 3, 2, 7, -6], [-8, 0, 6, -5, -8], [1, 2, 5, -2, -4],
               [8, 7, -2, -1, 7]]
MOCK_2020_K = np.full((3, 3), 1 / 9)


def test_conv2d_forward_matches_2024_endterm_5_1(engine):
    """2024 endterm 5.1: 4x4 input, 3x3 sharpening kernel, stride 1, no padding."""
    assert_close(engine.conv2d(ENDTERM_2024_X, ENDTERM_2024_K), [[13, -5], [-2, 6]])


def test_conv2d_grad_input_matches_2024_endterm_5_3(engine):
    """2024 endterm 5.3: the upstream gradient spread back over the input."""
    expected = [[0, -3, 1, 0], [-3, 15, -10, 1], [-1, 0, 10, -2], [0, -1, -2, 0]]
    assert_close(engine.conv2d_grad_input(ENDTERM_2024_X, ENDTERM_2024_K, ENDTERM_2024_G), expected)


def test_conv2d_grad_weight_matches_2024_endterm_5_3(engine):
    """2024 endterm 5.3: the kernel gradient is the input correlated with the upstream gradient."""
    expected = [[6, 10, 4], [-3, 12, -5], [6, 4, -1]]
    assert_close(engine.conv2d_grad_weight(ENDTERM_2024_X, ENDTERM_2024_K, ENDTERM_2024_G), expected)


def test_conv1d_forward_matches_2024_endterm_3(engine):
    """2024 endterm problem 3: x = [2, 3, 1, 2, -1] with [0.5, 1.5, 0.5] gives z = [6, 4, 3]."""
    assert_close(engine.conv1d([2, 3, 1, 2, -1], [0.5, 1.5, 0.5]), [6, 4, 3])


def test_conv1d_grad_weight_matches_2024_endterm_3_7(engine):
    """2024 endterm 3.7: dL/dz = [1, 2, 3] gives dL/dc = [11, 11, 2], so dL/dc2 = 11."""
    dc = engine.conv1d_grad_weight([2, 3, 1, 2, -1], [0.5, 1.5, 0.5], [1, 2, 3])
    assert_close(dc, [11, 11, 2])
    assert dc[1] == 11


def test_conv1d_matrix_is_banded_2024_endterm_3_3(engine):
    """2024 endterm 3.3: a 3-tap kernel on 5 inputs is a 3x5 band with c1, c2, c3 on each row."""
    c1, c2, c3 = 0.5, 1.5, -0.25
    band = [[c1, c2, c3, 0, 0], [0, c1, c2, c3, 0], [0, 0, c1, c2, c3]]
    assert_close(engine.conv1d_matrix([c1, c2, c3], 5), band)


def test_conv2d_forward_matches_2020_mock_V_a(engine):
    """2020 mock V(a): 3x3 mean kernel, stride 2, padding 1 on a 5x5 input."""
    z = engine.conv2d(MOCK_2020_X, MOCK_2020_K, stride=2, padding=1)
    assert z.shape == (3, 3)
    assert_close([z[0, 1], z[1, 1], z[1, 2], z[2, 0]], [3, 2, -2, 2])


def test_conv2d_grad_weight_matches_2020_mock_V_b(engine):
    """2020 mock V(b): the kernel gradient for an upstream gradient of ones with a 0 centre."""
    grad = engine.conv2d_grad_weight(MOCK_2020_X, MOCK_2020_K, [[1, 1, 1], [1, 0, 1], [1, 1, 1]],
                                     stride=2, padding=1)
    assert_close(grad, [[7, -2, 3], [10, 6, 15], [8, -5, 12]])


def test_conv_grad_bias_sums_each_channel(engine):
    """dL/db is the sum of the upstream gradient: a float without channels, one per channel with."""
    assert engine.conv1d_grad_bias([1, 2, 3]) == 6.0
    assert isinstance(engine.conv2d_grad_bias(ENDTERM_2024_G), float)
    assert_close(engine.conv2d_grad_bias([ENDTERM_2024_G, np.ones((2, 2))]), [5, 4])


def test_conv2d_scalar_bias_is_added_to_every_channel(engine):
    """A scalar bias reaches every output channel; a (C_out,) bias its own channel."""
    x, w = np.ones((1, 3, 3)), np.ones((2, 1, 2, 2))
    assert_close(engine.conv2d(x, w, b=1.5), np.full((2, 2, 2), 5.5))
    assert_close(engine.conv2d(x, w, b=[0, 1])[1], np.full((2, 2), 5.0))


# --- numpy vs torch autograd (hypothesis: random shapes, channels, strides, paddings) ---------


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_forward_matches_torch(np_engine, torch_engine, nd, data):
    case = data.draw(conv_cases(nd))
    args = (case["x"], case["w"], case["b"])
    expected = op(torch_engine, nd)(*args, **geometry(case))
    assert_close(op(np_engine, nd)(*args, **geometry(case)), expected)


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_grad_input_matches_torch_autograd(np_engine, torch_engine, nd, data):
    case = data.draw(conv_cases(nd))
    g = upstream(np_engine, nd, case)
    args = (case["x"], case["w"], g)
    expected = op(torch_engine, nd, "grad_input")(*args, **geometry(case))
    assert_close(op(np_engine, nd, "grad_input")(*args, **geometry(case)), expected)


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_grad_weight_matches_torch_autograd(np_engine, torch_engine, nd, data):
    case = data.draw(conv_cases(nd))
    g = upstream(np_engine, nd, case)
    args = (case["x"], case["w"], g)
    expected = op(torch_engine, nd, "grad_weight")(*args, **geometry(case))
    assert_close(op(np_engine, nd, "grad_weight")(*args, **geometry(case)), expected)


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_grad_bias_matches_torch_autograd(np_engine, torch_engine, nd, data):
    g = upstream(np_engine, nd, data.draw(conv_cases(nd)))
    assert_close(op(np_engine, nd, "grad_bias")(g), op(torch_engine, nd, "grad_bias")(g))


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_matrix_matches_torch_jacobian(np_engine, torch_engine, nd, data):
    case = data.draw(conv_cases(nd))
    args = (case["w"], np.shape(case["x"]))
    expected = op(torch_engine, nd, "matrix")(*args, **geometry(case))
    assert_close(op(np_engine, nd, "matrix")(*args, **geometry(case)), expected)


# --- numpy gradients vs central differences (no torch needed) --------------------------------


@ND
@FAST
@given(data=st.data())
def test_conv_grad_input_matches_central_differences(np_engine, nd, data):
    case = data.draw(conv_cases(nd))
    g = upstream(np_engine, nd, case)
    conv = op(np_engine, nd)
    numeric = central_difference(lambda x: conv(x, case["w"], **geometry(case)), case["x"], g)
    assert_close(op(np_engine, nd, "grad_input")(case["x"], case["w"], g, **geometry(case)),
                 numeric, rtol=1e-6, atol=1e-6)


@ND
@FAST
@given(data=st.data())
def test_conv_grad_weight_matches_central_differences(np_engine, nd, data):
    case = data.draw(conv_cases(nd))
    g = upstream(np_engine, nd, case)
    conv = op(np_engine, nd)
    numeric = central_difference(lambda w: conv(case["x"], w, **geometry(case)), case["w"], g)
    assert_close(op(np_engine, nd, "grad_weight")(case["x"], case["w"], g, **geometry(case)),
                 numeric, rtol=1e-6, atol=1e-6)


@ND
@FAST
@given(data=st.data())
def test_conv_grad_bias_matches_central_differences(np_engine, nd, data):
    case = data.draw(conv_cases(nd))
    g = upstream(np_engine, nd, case)
    conv = op(np_engine, nd)
    c_out = 1 if np.ndim(case["w"]) == nd else np.shape(case["w"])[0]
    numeric = central_difference(lambda b: conv(case["x"], case["w"], b, **geometry(case)),
                                 np.zeros(c_out), g)
    assert_close(np.ravel(op(np_engine, nd, "grad_bias")(g)), numeric, rtol=1e-6, atol=1e-6)


# --- the convolution matrix ------------------------------------------------------------------


@ND
@FAST
@given(data=st.data())
def test_conv_matrix_times_flat_input_equals_conv_output(engine, nd, data):
    """T @ x.ravel() == conv(x).ravel(), padding included (T acts on the unpadded input)."""
    case = data.draw(conv_cases(nd))
    t = op(engine, nd, "matrix")(case["w"], np.shape(case["x"]), **geometry(case))
    y = op(engine, nd)(case["x"], case["w"], **geometry(case))
    assert t.shape == (y.size, np.size(case["x"]))
    assert_close(t @ np.ravel(case["x"]), y.ravel())


def test_conv2d_matrix_takes_channels_from_the_kernel(engine):
    """in_shape (H, W) with a (C_out, C_in, kh, kw) kernel means C_in channels of H x W."""
    w = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    t = engine.conv2d_matrix(w, (4, 5), stride=(2, 1), padding=(1, 0))
    assert t.shape == (2 * 3 * 4, 3 * 4 * 5)
    assert_close(t, engine.conv2d_matrix(w, (3, 4, 5), stride=(2, 1), padding=(1, 0)))


# --- bad calls -------------------------------------------------------------------------------

X4, K3 = np.ones((4, 4)), np.ones((3, 3))
BAD_CALLS = {
    "stride 0": ("conv2d", (X4, K3), {"stride": 0}, "stride"),
    "stride pair with 0": ("conv2d", (X4, K3), {"stride": (1, 0)}, "stride"),
    "negative padding": ("conv1d", (np.ones(4), np.ones(2)), {"padding": -1}, "padding"),
    "kernel larger than padded input": ("conv2d", (np.ones((2, 2)), K3), {}, "kernel"),
    "kernel larger than padded input 1d": ("conv1d", (np.ones(3), np.ones(6)), {"padding": 1}, "kernel"),
    "channel mismatch": ("conv2d", (np.ones((2, 4, 4)), np.ones((1, 3, 3, 3))), {}, "w"),
    "single x with channel w": ("conv1d", (np.ones(4), np.ones((1, 1, 2))), {}, "w"),
    "x wrong ndim": ("conv1d", (np.ones((1, 1, 4)), np.ones(2)), {}, "x"),
    "NaN input": ("conv2d", (np.full((4, 4), np.nan), K3), {}, "x"),
    "inf kernel": ("conv1d", (np.ones(4), [1.0, np.inf]), {}, "w"),
    "bias of wrong length": ("conv2d", (np.ones((1, 4, 4)), np.ones((2, 1, 3, 3))), {"b": [1, 2, 3]}, "b"),
    "grad_out of the wrong shape": ("conv2d_grad_input", (X4, K3, np.ones((3, 3))), {}, "grad_out"),
    "grad_out of the wrong shape for w": ("conv1d_grad_weight", (np.ones(5), np.ones(3), np.ones(2)), {}, "grad_out"),
    "grad_out NaN for bias": ("conv2d_grad_bias", ([[np.nan]],), {}, "grad_out"),
    "matrix with kernel too large": ("conv1d_matrix", (np.ones(4), 3), {}, "kernel"),
    "matrix with a bad shape": ("conv2d_matrix", (K3, (0, 4)), {}, "in_shape"),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_conv_bad_call_raises_engine_error_naming_op_and_argument(engine, name):
    op_name, args, kwargs, arg = BAD_CALLS[name]
    assert_bad_call(engine, op_name, args, kwargs, arg)


def test_conv_bad_call_messages_name_the_shapes(engine):
    with pytest.raises(EngineError, match=r"x=\(2, 4, 4\), w=\(1, 3, 3, 3\)"):
        engine.conv2d(np.ones((2, 4, 4)), np.ones((1, 3, 3, 3)))
    with pytest.raises(EngineError, match=r"x=\(2, 2\), w=\(3, 3\)"):
        engine.conv2d(np.ones((2, 2)), K3)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_conv_bad_call_raises_the_same_error_in_both_backends(np_engine, torch_engine, name):
    op_name, args, kwargs, _ = BAD_CALLS[name]
    assert_same_error((np_engine, torch_engine), op_name, args, kwargs)
