"""optim: trajectories against torch.optim, exam fixtures, hand-computed steps, Newton, bad calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from i2dl.errors import EngineError
from tests.strategies import assert_bad_call, assert_close, assert_same_error, float_arrays

FAST = settings(max_examples=25, deadline=None)
lrs = st.floats(min_value=1e-3, max_value=1.0)
rates = st.floats(min_value=0.0, max_value=0.99)
epsilons = st.sampled_from([1e-10, 1e-8, 1e-3, 0.1])
#: name -> (strategy of keyword arguments, the state keys besides "w")
OPTIMIZERS = {
    "sgd": (st.fixed_dictionaries({"lr": lrs, "weight_decay": st.sampled_from([0.0, 0.01, 0.5])}), {"g"}),
    "momentum": (st.fixed_dictionaries({"lr": lrs, "mu": rates, "form": st.sampled_from(["pytorch", "classic"])}),
                 {"v", "g"}),
    "nesterov": (st.fixed_dictionaries({"lr": lrs, "mu": rates}), {"v", "g"}),
    "adagrad": (st.fixed_dictionaries({"lr": lrs, "eps": epsilons}), {"s", "g"}),
    "rmsprop": (st.fixed_dictionaries({"lr": lrs, "beta": rates, "eps": epsilons}), {"s", "g"}),
    "adam": (st.fixed_dictionaries({"lr": lrs, "beta1": rates, "beta2": rates, "eps": epsilons,
                                    "bias_correction": st.booleans()}), {"m", "v", "m_hat", "v_hat", "g"}),
    "adamw": (st.fixed_dictionaries({"lr": lrs, "beta1": rates, "beta2": rates, "eps": epsilons,
                                     "weight_decay": st.sampled_from([0.0, 0.01, 0.3])}),
              {"m", "v", "m_hat", "v_hat", "g"}),
}
OPT = pytest.mark.parametrize("name", list(OPTIMIZERS))


def _close_trajectories(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert_close(a[key], b[key], atol=1e-11)


# --- numpy vs torch.optim ------------------------------------------------------------------

@pytest.mark.torch
@OPT
@FAST
@given(data=st.data())
def test_trajectory_from_gradient_array_matches_torch_optim(np_engine, torch_engine, name, data):
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, max_side=3))
    steps = data.draw(st.integers(1, 5))
    w0, grads = data.draw(float_arrays(shape)), data.draw(float_arrays((steps, *shape)))
    kw = data.draw(OPTIMIZERS[name][0])
    ours, theirs = getattr(np_engine, name)(w0, grads, **kw), getattr(torch_engine, name)(w0, grads, **kw)
    _close_trajectories(ours, theirs)
    assert set(ours) == {"w"} | OPTIMIZERS[name][1]
    assert ours["w"].shape == (steps + 1, *shape)
    assert all(ours[k].shape == (steps, *shape) for k in OPTIMIZERS[name][1])


@pytest.mark.torch
@OPT
@FAST
@given(data=st.data())
def test_trajectory_from_gradient_function_matches_torch_optim(np_engine, torch_engine, name, data):
    """f(w) = 1/2 sum a w^2 + b w: grad_fn(w) = a w + b, evaluated at the current w each step."""
    w0 = data.draw(float_arrays((2,)))
    a, b = np.array([0.5, 2.0]), np.array([1.0, -1.0])
    kw = data.draw(OPTIMIZERS[name][0])
    ours = getattr(np_engine, name)(w0, lambda w: a * w + b, steps=4, **kw)
    theirs = getattr(torch_engine, name)(w0, lambda w: a * w + b, steps=4, **kw)
    _close_trajectories(ours, theirs)
    # "g" is the gradient the update used: sgd's includes its weight decay term wd * w.
    raw = ours["g"] - kw["weight_decay"] * ours["w"][:-1] if name == "sgd" else ours["g"]
    assert_close(raw, a * ours["w"][:-1] + b)


# --- exam fixtures and hand-computed steps ---------------------------------------------------

def test_sgd_weight_decay_update_matches_2022_endterm_2_4(engine):
    """2022 endterm 2.4: theta_{k+1} = (1 - alpha lambda) theta_k - alpha grad L(theta_k)."""
    theta, grad, lr, lam = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.2, 0.1], [-1.0, 0.0]]), 0.1, 0.01
    run = engine.sgd(theta, grad[None], lr=lr, weight_decay=lam)
    assert_close(run["w"][1], (1 - lr * lam) * theta - lr * grad)


def test_sgd_step_matches_2020_mock_III_c(engine):
    """2020 mock III(c): w1 = 0.5 - 0.1 * (-0.199792) = 0.519979 (the key rounds it to 0.52)."""
    dw1 = 0.8 * (1 / (1 + np.exp(-1.1)) - 1)
    run = engine.sgd(0.5, [dw1], lr=0.1)
    assert round(float(run["w"][1]), 6) == 0.519979
    assert run["w"].shape == (2,) and run["g"].shape == (1,)


def test_momentum_forms_give_the_same_weights(engine):
    """pytorch (v = mu v + g, w -= lr v) and classic (v = mu v - lr g, w += v) differ only in
    the scale of v when lr is constant: v_classic = -lr v_pytorch."""
    grads = np.array([1.0, -2.0, 0.5, 3.0])
    a = engine.momentum(1.0, grads, lr=0.1, mu=0.9)
    b = engine.momentum(1.0, grads, lr=0.1, mu=0.9, form="classic")
    assert_close(a["w"], b["w"])
    assert_close(b["v"], -0.1 * a["v"])


def test_momentum_by_hand(engine):
    run = engine.momentum(0.0, [1.0, 1.0], lr=0.5, mu=0.9)
    assert_close(run["v"], [1.0, 1.9])
    assert_close(run["w"], [0.0, -0.5, -1.45])


def test_nesterov_by_hand(engine):
    run = engine.nesterov(0.0, [1.0, 1.0], lr=0.5, mu=0.9)
    assert_close(run["v"], [1.0, 1.9])
    assert_close(run["w"], [0.0, -0.5 * 1.9, -0.95 - 0.5 * (1 + 0.9 * 1.9)])


def test_adagrad_and_rmsprop_first_step_by_hand(engine):
    g = 2.0
    ada = engine.adagrad(1.0, [g], lr=0.1, eps=0.0)
    assert_close(ada["s"], [4.0])
    assert_close(ada["w"], [1.0, 0.9])
    rms = engine.rmsprop(1.0, [g], lr=0.1, beta=0.9, eps=0.0)
    assert_close(rms["s"], [0.4])
    assert_close(rms["w"], [1.0, 1.0 - 0.1 * g / np.sqrt(0.4)])


def test_adam_first_step_moves_by_lr_in_the_gradient_sign(engine):
    """With bias correction, m_hat = g and v_hat = g^2 at t = 1: the step is lr g / (|g| + eps)."""
    run = engine.adam([1.0, -1.0], [[3.0, -0.2]], lr=0.01, eps=0.0)
    assert_close(run["m_hat"][0], [3.0, -0.2])
    assert_close(run["v_hat"][0], [9.0, 0.04])
    assert_close(run["w"][1], [0.99, -0.99])


def test_adam_without_bias_correction_uses_raw_moments(engine):
    run = engine.adam(1.0, [2.0], lr=0.1, beta1=0.9, beta2=0.99, eps=0.0, bias_correction=False)
    m, v = 0.1 * 2.0, 0.01 * 4.0
    assert_close(run["m"], [m])
    assert_close(run["m_hat"], [m])
    assert_close(run["v_hat"], [v])
    assert_close(run["w"][1], 1.0 - 0.1 * m / np.sqrt(v))


def test_adamw_decays_the_weight_before_the_adam_step(engine):
    a = engine.adamw(2.0, [1.0], lr=0.1, weight_decay=0.5, eps=0.0)
    assert_close(a["w"][1], 2.0 * (1 - 0.1 * 0.5) - 0.1)


def test_newton_step_minimizes_a_quadratic_in_one_step(engine):
    """f(w) = 3 (w - 2)^2: f' = 6 (w - 2), f'' = 6, so w - f'/f'' = 2 from anywhere."""
    w = 7.5
    assert_close(engine.newton_step(w, 6 * (w - 2), 6.0), 2.0)
    h = np.array([[4.0, 1.0], [1.0, 3.0]])
    target = np.array([1.0, -2.0])
    w = np.array([5.0, 5.0])
    assert_close(engine.newton_step(w, h @ (w - target), h), target)


def test_newton_step_is_undefined_for_zero_second_derivative_2022_endterm_8_7(engine):
    """2022 endterm 8.7: f(x, w) = w x is linear in w, so d2f/dw2 = 0 and Newton's step
    w - f'/f'' is undefined (the key only gives the generic formula)."""
    x = 3.0
    with pytest.raises(EngineError, match="undefined") as info:
        engine.newton_step(1.0, x, 0.0)
    assert info.value.op == "newton_step" and info.value.arg == "hess"


def test_newton_step_with_singular_hessian_is_undefined(engine):
    with pytest.raises(EngineError, match="singular"):
        engine.newton_step([1.0, 1.0], [1.0, 1.0], [[1.0, 2.0], [2.0, 4.0]])


# --- bad calls -------------------------------------------------------------------------------

GRADS = np.array([[1.0, 2.0]])
BAD_CALLS = [
    ("sgd", ([0.0, 0.0], GRADS), {"lr": 0.0}, "lr", "> 0"),
    ("sgd", ([0.0, 0.0], GRADS), {"lr": 0.1, "weight_decay": -1.0}, "weight_decay", ">= 0"),
    ("sgd", ([0.0, 0.0, 0.0], GRADS), {"lr": 0.1}, "grads", "(T, *w0.shape)"),
    ("sgd", ([0.0, 0.0], GRADS), {"lr": 0.1, "steps": 3}, "steps", "1 gradients"),
    ("sgd", ([0.0, 0.0], lambda w: w), {"lr": 0.1}, "steps", "steps=T"),
    ("sgd", ([0.0, 0.0], lambda w: w[:1]), {"lr": 0.1, "steps": 2}, "grads", "wrong shape"),
    ("sgd", ([0.0, 0.0], [[1.0, np.inf]]), {"lr": 0.1}, "grads", "infinity"),
    ("momentum", ([0.0, 0.0], GRADS), {"lr": 0.1, "mu": 0.9, "form": "heavy"}, "form", "'pytorch', 'classic'"),
    ("momentum", ([0.0, 0.0], GRADS), {"lr": 0.1, "mu": -0.5}, "mu", ">= 0"),
    ("nesterov", (np.nan, [1.0]), {"lr": 0.1, "mu": 0.9}, "w0", "NaN"),
    ("adagrad", ([0.0, 0.0], GRADS), {"lr": 0.1, "eps": -1e-8}, "eps", ">= 0"),
    ("rmsprop", ([0.0, 0.0], GRADS), {"lr": 0.1, "beta": 1.0}, "beta", "[0, 1)"),
    ("adam", ([0.0, 0.0], GRADS), {"lr": 0.1, "beta1": 1.5}, "beta1", "[0, 1)"),
    ("adam", (0.0, [0.0]), {"lr": 0.1, "eps": 0.0}, "eps", "0/0"),
    ("adamw", ([0.0, 0.0], GRADS), {"lr": float("nan")}, "lr", "finite"),
    ("newton_step", ([1.0, 2.0], [1.0, 2.0], 2.0), {}, "hess", "Hessian"),
    ("newton_step", (1.0, [1.0, 2.0], 2.0), {}, "grad", "shape"),
]
IDS = [f"{c[0]}-{c[3]}-{c[4]}" for c in BAD_CALLS]


@pytest.mark.parametrize("name, args, kw, arg, words", BAD_CALLS, ids=IDS)
def test_bad_call_raises_engine_error_naming_op_and_argument(engine, name, args, kw, arg, words):
    assert_bad_call(engine, name, args, kw, arg, words)


@pytest.mark.torch
@pytest.mark.parametrize("name, args, kw, arg, words", BAD_CALLS, ids=IDS)
def test_bad_call_message_is_identical_in_both_backends(np_engine, torch_engine, name, args, kw, arg, words):
    assert_same_error((np_engine, torch_engine), name, args, kw)
