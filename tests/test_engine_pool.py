"""max/avg pooling: exam fixtures, numpy vs torch autograd, central differences, the tie rule
(first maximum in row-major window order takes the whole gradient) and bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    distinct_int_arrays,
    pool_cases,
    tie_arrays,
)

FAST = settings(max_examples=50, deadline=None)
POOLS = pytest.mark.parametrize("kind, nd", [("max", 1), ("max", 2), ("avg", 1), ("avg", 2)],
                                ids=["maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"])
MAX_POOLS = pytest.mark.parametrize("nd", [1, 2], ids=["maxpool1d", "maxpool2d"])


def op(engine, kind: str, nd: int, name: str = ""):
    """engine.<kind>pool<nd>d[_<name>]."""
    return getattr(engine, f"{kind}pool{nd}d" + (f"_{name}" if name else ""))


def upstream(shape: tuple[int, ...]) -> np.ndarray:
    """A deterministic upstream gradient of the given shape."""
    return np.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape)


# --- exam fixtures ---------------------------------------------------------------------------


def test_maxpool1d_forward_matches_2024_endterm_3(engine):
    """2024 endterm problem 3: z = [6, 4, 3], kernel 2, stride 1 gives m = [6, 4]."""
    assert_close(engine.maxpool1d([6, 4, 3], 2, stride=1), [6, 4])


def test_maxpool1d_grad_input_matches_2024_endterm_3_6(engine):
    """2024 endterm 3.6: dL/dm = [2, 1] goes to each window's maximum: dL/dz = [2, 1, 0]."""
    assert_close(engine.maxpool1d_grad_input([6, 4, 3], [2, 1], 2, stride=1), [2, 1, 0])
    assert engine.maxpool1d_argmax([6, 4, 3], 2, stride=1).tolist() == [0, 1]


def test_pool2d_stride_defaults_to_kernel(engine):
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_close(engine.maxpool2d(x, 2), engine.maxpool2d(x, 2, stride=2))
    assert_close(engine.avgpool2d(x, (1, 2)), [[[0.5, 2.5], [4.5, 6.5], [8.5, 10.5]],
                                                [[12.5, 14.5], [16.5, 18.5], [20.5, 22.5]]])


def test_avgpool2d_grad_input_shares_gradient_equally(engine):
    g = engine.avgpool2d_grad_input(np.zeros((2, 4)), [[4.0, 8.0]], 2)
    assert_close(g, [[1, 1, 2, 2], [1, 1, 2, 2]])


def test_maxpool2d_argmax_is_a_row_major_flat_index_into_the_last_two_axes(engine):
    x = np.array([[[0, 1, 2], [9, 4, 5], [6, 7, 8]], [[9, 0, 0], [0, 0, 0], [0, 0, 1]]], float)
    idx = engine.maxpool2d_argmax(x, 2, stride=1)
    assert idx.dtype == np.int64
    assert idx.tolist() == [[[3, 5], [3, 8]], [[0, 1], [3, 8]]]


# --- the tie rule ----------------------------------------------------------------------------


def test_maxpool2d_tie_gives_the_whole_gradient_to_the_first_row_major_maximum(engine):
    assert_close(engine.maxpool2d_grad_input(np.ones((2, 2)), [[5.0]], 2), [[5, 0], [0, 0]])
    x = [[0, 1], [1, 1]]
    assert_close(engine.maxpool2d_grad_input(x, [[5.0]], 2), [[0, 5], [0, 0]])


def test_maxpool1d_overlapping_windows_add_their_gradients(engine):
    """[1, 3, 2] with kernel 2, stride 1: 3 wins both windows and collects both gradients."""
    assert_close(engine.maxpool1d_grad_input([1, 3, 2], [2, 5], 2, stride=1), [0, 7, 0])


@pytest.mark.torch
@MAX_POOLS
@FAST
@given(data=st.data())
def test_maxpool_grad_input_routes_ties_like_torch(np_engine, torch_engine, nd, data):
    """0/1 inputs (windows full of ties), often overlapping: same routing as torch's kernel."""
    case = data.draw(pool_cases(nd, values=tie_arrays))
    args = (case["kernel"], case["stride"])
    g = upstream(op(np_engine, "max", nd)(case["x"], *args).shape)
    assert_close(op(np_engine, "max", nd, "grad_input")(case["x"], g, *args),
                 op(torch_engine, "max", nd, "grad_input")(case["x"], g, *args))
    np.testing.assert_array_equal(op(np_engine, "max", nd, "argmax")(case["x"], *args),
                                  op(torch_engine, "max", nd, "argmax")(case["x"], *args))


# --- numpy vs torch autograd -----------------------------------------------------------------


@pytest.mark.torch
@POOLS
@FAST
@given(data=st.data())
def test_pool_forward_matches_torch(np_engine, torch_engine, kind, nd, data):
    case = data.draw(pool_cases(nd))
    args = (case["x"], case["kernel"], case["stride"])
    assert_close(op(np_engine, kind, nd)(*args), op(torch_engine, kind, nd)(*args))


@pytest.mark.torch
@POOLS
@FAST
@given(data=st.data())
def test_pool_grad_input_matches_torch_autograd(np_engine, torch_engine, kind, nd, data):
    case = data.draw(pool_cases(nd))
    args = (case["kernel"], case["stride"])
    g = upstream(op(np_engine, kind, nd)(case["x"], *args).shape)
    assert_close(op(np_engine, kind, nd, "grad_input")(case["x"], g, *args),
                 op(torch_engine, kind, nd, "grad_input")(case["x"], g, *args))


@pytest.mark.torch
@MAX_POOLS
@FAST
@given(data=st.data())
def test_maxpool_argmax_matches_torch_indices(np_engine, torch_engine, nd, data):
    case = data.draw(pool_cases(nd))
    args = (case["x"], case["kernel"], case["stride"])
    np.testing.assert_array_equal(op(np_engine, "max", nd, "argmax")(*args),
                                  op(torch_engine, "max", nd, "argmax")(*args))


# --- numpy gradients vs central differences --------------------------------------------------


@POOLS
@FAST
@given(data=st.data())
def test_pool_grad_input_matches_central_differences(np_engine, kind, nd, data):
    """Distinct integer inputs: every max window has a clear winner, so max is differentiable."""
    case = data.draw(pool_cases(nd, values=distinct_int_arrays))
    args = (case["kernel"], case["stride"])
    forward = op(np_engine, kind, nd)
    g = upstream(forward(case["x"], *args).shape)
    numeric = central_difference(lambda x: forward(x, *args), case["x"], g)
    assert_close(op(np_engine, kind, nd, "grad_input")(case["x"], g, *args), numeric,
                 rtol=1e-6, atol=1e-6)


# --- bad calls -------------------------------------------------------------------------------

BAD_CALLS = {
    "stride 0": ("maxpool2d", (np.ones((4, 4)), 2), {"stride": 0}, "stride"),
    "negative stride": ("avgpool1d", (np.ones(4), 2), {"stride": -1}, "stride"),
    "kernel 0": ("maxpool1d", (np.ones(4), 0), {}, "kernel"),
    "kernel larger than input": ("avgpool2d", (np.ones((3, 3)), (2, 4)), {}, "kernel"),
    "kernel not an int": ("maxpool1d", (np.ones(4), 1.5), {}, "kernel"),
    "x wrong ndim": ("maxpool2d", (np.ones(4), 2), {}, "x"),
    "NaN input": ("maxpool1d", ([1.0, np.nan], 2), {}, "x"),
    "grad_out of the wrong shape": ("maxpool2d_grad_input", (np.ones((4, 4)), np.ones((3, 3)), 2), {}, "grad_out"),
    "grad_out with inf": ("avgpool1d_grad_input", (np.ones(4), [np.inf, 1.0], 2), {}, "grad_out"),
    "argmax kernel too large": ("maxpool1d_argmax", (np.ones(2), 3), {}, "kernel"),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_pool_bad_call_raises_engine_error_naming_op_and_argument(engine, name):
    op_name, args, kwargs, arg = BAD_CALLS[name]
    assert_bad_call(engine, op_name, args, kwargs, arg)


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_pool_bad_call_raises_the_same_error_in_both_backends(np_engine, torch_engine, name):
    op_name, args, kwargs, _ = BAD_CALLS[name]
    assert_same_error((np_engine, torch_engine), op_name, args, kwargs)
