"""batchnorm: training-mode forward and backward against torch, central differences, a
hand-computed batch, the running statistics, and bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    float_arrays,
)

FAST = settings(max_examples=30, deadline=None)
KEYS = {"mean", "var", "x_hat", "y", "running_mean", "running_var"}


@st.composite
def bn_cases(draw):
    """x (N, D), (N, C, L) or (N, C, H, W) with every channel spread out (var > 0.1, so x_hat
    is well conditioned), per-channel gamma/beta/running statistics or None, eps, momentum."""
    ndim = draw(st.sampled_from([2, 3, 4]))
    c = draw(st.integers(1, 3))
    shape = (draw(st.integers(2, 4)), c, *[draw(st.integers(1, 3)) for _ in range(ndim - 2)])
    x = draw(float_arrays(shape))
    assume(np.all(x.var(axis=(0, *range(2, ndim))) > 0.1))
    channel = float_arrays((c,))
    return {
        "x": x, "grad_out": draw(float_arrays(shape)),
        "gamma": draw(st.one_of(st.none(), channel)), "beta": draw(st.one_of(st.none(), channel)),
        "running_mean": draw(st.one_of(st.none(), channel)),
        "running_var": draw(st.one_of(st.none(), float_arrays((c,)).map(np.abs))),
        "eps": draw(st.sampled_from([1e-5, 1e-3, 0.0])),
        "momentum": draw(st.sampled_from([0.1, 0.0, 0.5, 1.0])),
    }


def _train_args(case: dict) -> dict:
    return {k: case[k] for k in ("gamma", "beta", "eps", "running_mean", "running_var", "momentum")}


# --- numpy vs torch ------------------------------------------------------------------------

@pytest.mark.torch
@FAST
@given(case=bn_cases())
def test_batchnorm_train_matches_torch_batch_norm(np_engine, torch_engine, case):
    ours = np_engine.batchnorm_train(case["x"], **_train_args(case))
    theirs = torch_engine.batchnorm_train(case["x"], **_train_args(case))
    assert ours.keys() == theirs.keys() == KEYS
    for key in KEYS:
        assert_close(ours[key], theirs[key], atol=1e-11)


@pytest.mark.torch
@FAST
@given(case=bn_cases())
def test_batchnorm_backward_matches_torch_autograd(np_engine, torch_engine, case):
    args = (case["x"], case["grad_out"], case["gamma"], case["eps"])
    ours, theirs = np_engine.batchnorm_backward(*args), torch_engine.batchnorm_backward(*args)
    assert ours.keys() == theirs.keys() == {"dx", "dgamma", "dbeta"}
    # dx cancels terms of size |grad_out| |x_hat| ~ 1e2: absolute error ~ 1e-13 around zero.
    for key in ours:
        assert_close(ours[key], theirs[key], atol=1e-10)


# --- numpy vs central differences ------------------------------------------------------------

@FAST
@given(case=bn_cases())
def test_numpy_batchnorm_backward_matches_central_differences(np_engine, case):
    x, g, eps = case["x"], case["grad_out"], case["eps"]
    c = x.shape[1]
    gamma = np.ones(c) if case["gamma"] is None else case["gamma"]
    beta = np.zeros(c)
    grads = np_engine.batchnorm_backward(x, g, gamma, eps)

    def y(x_=x, gamma_=gamma, beta_=beta):
        return np_engine.batchnorm_train(x_, gamma_, beta_, eps=eps)["y"]

    assert_close(grads["dx"], central_difference(lambda v: y(x_=v), x, g), rtol=1e-5, atol=1e-5)
    assert_close(grads["dgamma"], central_difference(lambda v: y(gamma_=v), gamma, g), rtol=1e-6, atol=1e-6)
    assert_close(grads["dbeta"], central_difference(lambda v: y(beta_=v), beta, g), rtol=1e-6, atol=1e-6)


# --- hand-computed batch and properties ------------------------------------------------------

def test_batchnorm_train_two_samples_by_hand(engine):
    """x = (1, 3): mean 2, biased var 1 normalizes to -+1/sqrt(1 + eps); the running variance
    takes the unbiased var 2: 0.9 * 1 + 0.1 * 2 = 1.1; the running mean 0.9 * 0 + 0.1 * 2 = 0.2."""
    out = engine.batchnorm_train([[1.0], [3.0]], eps=0.0)
    assert_close(out["mean"], [2.0])
    assert_close(out["var"], [1.0])
    assert_close(out["x_hat"], [[-1.0], [1.0]])
    assert_close(out["y"], [[-1.0], [1.0]])
    assert_close(out["running_mean"], [0.2])
    assert_close(out["running_var"], [1.1])


def test_batchnorm_train_applies_gamma_beta_and_momentum(engine):
    x = np.array([[0.0, 10.0], [4.0, 20.0], [8.0, 30.0]])
    out = engine.batchnorm_train(x, gamma=[2.0, 0.5], beta=[1.0, -1.0], eps=0.0,
                                 running_mean=[1.0, 1.0], running_var=[4.0, 4.0], momentum=0.5)
    x_hat = (x - [4.0, 20.0]) / np.sqrt([32 / 3, 200 / 3])
    assert_close(out["y"], x_hat * [2.0, 0.5] + [1.0, -1.0])
    assert_close(out["running_mean"], [0.5 * 1 + 0.5 * 4, 0.5 * 1 + 0.5 * 20])
    assert_close(out["running_var"], [0.5 * 4 + 0.5 * 16, 0.5 * 4 + 0.5 * 100])


def test_batchnorm2d_running_statistics_hold_two_values_per_channel_2022_endterm_7_3(engine):
    """2022 endterm 7.3: BatchNorm2d on X of shape 8 x 3 x 32 x 64 keeps a running mean and a
    running variance per channel: 2 * 3 = 6 numbers."""
    x = np.arange(8 * 3 * 32 * 64, dtype=np.float64).reshape(8, 3, 32, 64) % 7
    out = engine.batchnorm_train(x)
    assert out["running_mean"].size + out["running_var"].size == 6
    assert out["y"].shape == x.shape


def test_normalized_channels_have_zero_mean_and_unit_variance(engine):
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(5, 2, 3, 3))
    x_hat = engine.batchnorm_train(x, eps=0.0)["x_hat"]
    assert_close(x_hat.mean(axis=(0, 2, 3)), [0.0, 0.0], atol=1e-12)
    assert_close(x_hat.var(axis=(0, 2, 3)), [1.0, 1.0])


def test_batchnorm_backward_dbeta_sums_and_dx_sums_to_zero(engine):
    rng = np.random.default_rng(1)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    grads = engine.batchnorm_backward(x, g, gamma=[1.0, 2.0, -1.0])
    assert_close(grads["dbeta"], g.sum(axis=0))
    assert_close(grads["dx"].sum(axis=0), [0.0, 0.0, 0.0], atol=1e-12)


# --- bad calls -------------------------------------------------------------------------------

X = np.array([[1.0, 2.0], [3.0, 5.0]])
BAD_CALLS = [
    ("batchnorm_train", ([1.0, 2.0],), {}, "x", "dimensions"),
    ("batchnorm_train", ([[1.0, 2.0]],), {}, "x", "more than 1 value per channel"),
    ("batchnorm_train", (X,), {"gamma": [1.0, 2.0, 3.0]}, "gamma", "one value per channel"),
    ("batchnorm_train", (X,), {"beta": [[0.0, 0.0]]}, "beta", "one value per channel"),
    ("batchnorm_train", (X,), {"running_var": [1.0, -1.0]}, "running_var", ">= 0"),
    ("batchnorm_train", (X,), {"momentum": 1.5}, "momentum", "[0, 1]"),
    ("batchnorm_train", (X,), {"eps": -1e-5}, "eps", ">= 0"),
    ("batchnorm_train", ([[1.0, 2.0], [1.0, 3.0]],), {"eps": 0.0}, "eps", "zero variance"),
    ("batchnorm_train", ([[1.0, np.nan], [1.0, 3.0]],), {}, "x", "NaN"),
    ("batchnorm_backward", (X, [[1.0, 2.0]]), {}, "grad_out", "shape"),
    ("batchnorm_backward", (X, X), {"gamma": 1.0}, "gamma", "one value per channel"),
]
IDS = [f"{c[0]}-{c[3]}-{c[4]}" for c in BAD_CALLS]


@pytest.mark.parametrize("name, args, kw, arg, words", BAD_CALLS, ids=IDS)
def test_bad_call_raises_engine_error_naming_op_and_argument(engine, name, args, kw, arg, words):
    assert_bad_call(engine, name, args, kw, arg, words)


@pytest.mark.torch
@pytest.mark.parametrize("name, args, kw, arg, words", BAD_CALLS, ids=IDS)
def test_bad_call_message_is_identical_in_both_backends(np_engine, torch_engine, name, args, kw, arg, words):
    assert_same_error((np_engine, torch_engine), name, args, kw)
