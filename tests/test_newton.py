"""newton-step: Newton's method on a general f(w), with f' and f'' from the answer graph (grad of grad)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import EngineError, ExprError
from i2dl.evaluate import Evaluator, build_graph
from i2dl.expr import parse
from i2dl.generate import solve_spec
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from tests.samples import instances

LIB = Library()
SPEC = "newton-step"
POLY = dict(form="poly", c4=0, c3=0, a=1, r=1, lr=0.1)


def _values(pins: dict, engine_name: str = "numpy") -> dict:
    return solve_spec(SPEC, pins, engine_name=engine_name)["values"]


def _alternatives(pins: dict, name: str) -> dict[str, float]:
    inst = make_instance(LIB.get(SPEC), 0, get_engine("numpy"), pins=pins)
    b = next(b for p in inst.parts for b in p.blanks if b.name == name)
    return {a["name"]: a["value"] for a in b.alternatives}


# ---------------------------------------------------------------------------- the engine: grad of grad


@pytest.mark.parametrize("engine_name", ["numpy", "torch"])
def test_grad_of_grad_is_the_second_derivative_of_a_mixed_function(engine_name):
    if engine_name == "torch":
        pytest.importorskip("torch")
    nodes = {"f": parse("2*w^4 - 3*w^3 + w^2 - 5*w + 2*exp(2*w) - log(w) + sin(3*w)/2 + sqrt(w) + tanh(w)"),
             "fp": parse("grad(f, w)"), "fpp": parse("grad(fp, w)")}
    w = 1.3
    env = Evaluator(get_engine(engine_name), {"w": w}, build_graph(nodes, {"w"})).run()
    sech2 = 1 - math.tanh(w) ** 2
    fp = 8 * w**3 - 9 * w**2 + 2 * w - 5 + 4 * math.exp(2 * w) - 1 / w + 1.5 * math.cos(3 * w) \
        + 0.5 / math.sqrt(w) + sech2
    fpp = 24 * w**2 - 18 * w + 2 + 8 * math.exp(2 * w) + 1 / w**2 - 4.5 * math.sin(3 * w) \
        - 0.25 * w ** -1.5 - 2 * math.tanh(w) * sech2
    assert env["fp"] == pytest.approx(fp, abs=1e-9) and env["fpp"] == pytest.approx(fpp, abs=1e-9)


def test_grad_of_grad_goes_through_intermediate_nodes_and_a_power_of_w():
    nodes = {"u": parse("w^2 + 1"), "f": parse("u^3 + w^w"), "fp": parse("grad(f, w)"), "fpp": parse("grad(fp, w)")}
    w = 1.5
    env = Evaluator(get_engine("numpy"), {"w": w}, build_graph(nodes, {"w"})).run()
    u = w**2 + 1
    # (u^3)'' = 6 u (2w)^2 + 3 u^2 * 2, and (w^w)'' = w^w ((ln w + 1)^2 + 1/w)
    want = 6 * u * (2 * w) ** 2 + 6 * u**2 + w**w * ((math.log(w) + 1) ** 2 + 1 / w)
    assert env["fpp"] == pytest.approx(want, rel=1e-12)


def test_grad_of_grad_through_an_op_without_a_rule_says_which():
    nodes = {"f": parse("relu(w) * w"), "fp": parse("grad(f, w)"), "fpp": parse("grad(fp, w)")}
    with pytest.raises(ExprError, match=r"cannot go through relu\(\)") as err:
        Evaluator(get_engine("numpy"), {"w": 2.0}, build_graph(nodes, {"w"})).run()
    assert "exp, log, sin" in err.value.fix


def test_grad_of_grad_of_a_vector_is_refused_clearly():
    nodes = {"f": parse("sum(w * w)"), "fp": parse("grad(f, w)"), "s": parse("sum(fp)"), "fpp": parse("grad(s, w)")}
    with pytest.raises(ExprError, match="scalar function of a scalar"):
        Evaluator(get_engine("numpy"), {"w": np.array([1.0, 2.0])}, build_graph(nodes, {"w"})).run()


# ---------------------------------------------------------------------------- the seeds' questions


def test_newton_reproduces_endterm_2022_8_7_step_undefined_for_f_equal_w_x():
    """2022 endterm (IN2346, 1 August 2022) 8.7: the Newton update for f(x, w) = w x; f'' = 0, so it does not exist.

    The seed asks for the update formula; with x = 2 pinned the spec's h(w) = x w gives h'' = 0, and
    a Newton step on f(w) = 2 w itself is refused with the reason rather than a division by zero.
    """
    got = _values({**POLY, "c2": 1, "c1": -4, "w0": 3, "x": 2, "q": 0})
    assert got["hpp"] == 0 and got["newton_defined"] is False
    with pytest.raises(EngineError, match="second derivative is 0"):
        _values({**POLY, "c2": 0, "c1": 2, "w0": 1, "x": 2, "q": 0})


def test_newton_reproduces_mock_2020_ii_3_fewer_iterations_than_gradient_descent():
    """2020 mock exam (I2DL) II.3: Newton's method converges in fewer iterations than gradient descent.

    On the quadratic f(w) = w^2 - 4 w from w0 = 3 one Newton step lands on the minimum w = 2 and the
    second stays there, while a gradient step with learning rate 0.1 only gets to 2.8.
    """
    got = _values({**POLY, "c2": 1, "c1": -4, "w0": 3, "x": 2, "q": 1})
    assert (got["fp0"], got["fpp0"], got["w1"]) == (2, 2, 2)
    assert got["fp1"] == 0 and got["w2"] == 2
    assert got["w_gd"] == pytest.approx(2.8) and got["newton_farther"] is True
    assert got["heads_to_minimum"] is True and got["newton_defined"] is True


def test_newton_quartic_with_exp_two_steps_by_hand():
    # f(w) = w^4 - 2 w^2 + e^{2w} at w0 = 1: f' = 4 - 4 + 2e^2, f'' = 12 - 4 + 4e^2
    got = _values({"form": "exp", "c4": 1, "c3": 0, "c2": -2, "c1": 0, "a": 1, "r": 2, "w0": 1, "lr": 0.01,
                   "x": 2, "q": 1})
    e2 = math.exp(2)
    assert got["fp0"] == pytest.approx(2 * e2) and got["fpp0"] == pytest.approx(8 + 4 * e2)
    w1 = 1 - 2 * e2 / (8 + 4 * e2)
    assert got["w1"] == pytest.approx(w1)
    fp1 = 4 * w1**3 - 4 * w1 + 2 * math.exp(2 * w1)
    fpp1 = 12 * w1**2 - 4 + 4 * math.exp(2 * w1)
    assert got["fp1"] == pytest.approx(fp1) and got["fpp1"] == pytest.approx(fpp1)
    assert got["w2"] == pytest.approx(w1 - fp1 / fpp1)


# ---------------------------------------------------------------------------- named mistakes


def test_newton_mistakes_give_the_values_they_are_named_after():
    pins = {"form": "sin", "c4": 0, "c3": 1, "c2": -1, "c1": 2, "a": 2, "r": 2, "w0": 1, "lr": 0.1, "x": 2, "q": 1}
    alts = _alternatives(pins, "fp0")
    # f = w^3 - w^2 + 2w + 2 sin(2w): f' = 3 - 2 + 2 + 4 cos 2
    assert alts["power-rule-factor-forgotten"] == pytest.approx(1 - 1 + 2 + 4 * math.cos(2))
    assert alts["chain-rule-forgotten"] == pytest.approx(3 - 2 + 2 + 2 * math.cos(2))
    fpp = 6 - 2 - 8 * math.sin(2)
    assert _alternatives(pins, "fpp0")["power-rule-factor-forgotten"] == pytest.approx(3 - 2 - 8 * math.sin(2))
    fp = 3 + 4 * math.cos(2)
    w1 = _alternatives(pins, "w1")
    assert w1["sign-error"] == pytest.approx(1 + fp / fpp) and w1["gradient-step"] == pytest.approx(1 - fp)


# ---------------------------------------------------------------------------- against torch autograd


def _torch_f(torch, v: dict, w):
    poly = v["c4"] * w**4 + v["c3"] * w**3 + v["c2"] * w**2 + v["c1"] * w
    special = {"exp": lambda: v["a"] * torch.exp(v["r"] * w), "log": lambda: v["a"] * torch.log(w),
               "sin": lambda: v["a"] * torch.sin(v["r"] * w), "poly": lambda: 0 * w}[v["form"]]()
    return poly + special


def _torch_derivatives(torch, v: dict, w0: float) -> tuple[float, float]:
    w = torch.tensor(float(w0), dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(_torch_f(torch, v, w), w, create_graph=True)
    (h,) = torch.autograd.grad(g, w)
    return g.item(), h.item()


@pytest.mark.library
def test_newton_key_matches_torch_autograd_double_backward_over_seeds():
    torch = pytest.importorskip("torch")
    for inst in instances(SPEC)[:50]:
        v = inst.values
        fp0, fpp0 = _torch_derivatives(torch, v, v["w0"])
        assert (v["fp0"], v["fpp0"]) == pytest.approx((fp0, fpp0), abs=1e-9), inst.seed
        w1 = v["w0"] - fp0 / fpp0
        fp1, fpp1 = _torch_derivatives(torch, v, w1)
        assert (v["w1"], v["fp1"], v["fpp1"], v["w2"]) == pytest.approx((w1, fp1, fpp1, w1 - fp1 / fpp1), abs=1e-9)
        assert v["w_gd"] == pytest.approx(v["w0"] - v["lr"] * fp0, abs=1e-12)


def test_newton_torch_engine_gives_the_numpy_key():
    pytest.importorskip("torch")
    pins = {"form": "log", "c4": 0, "c3": 1, "c2": -2, "c1": 1, "a": -2, "r": 1, "w0": 2, "lr": 0.05, "x": 3, "q": 0}
    ours, theirs = _values(pins, "numpy"), _values(pins, "torch")
    for name in ("fp0", "fpp0", "w1", "fp1", "fpp1", "w2", "w_gd"):
        assert ours[name] == pytest.approx(theirs[name], abs=1e-12), name


@pytest.mark.library
def test_newton_samples_ask_both_outcomes_of_each_true_false_question():
    for name in ("heads_to_minimum", "newton_farther", "newton_defined"):
        seen = {bool(i.values[name]) for i in instances(SPEC)[:300]}
        assert seen == {True, False}, name
    forms = {i.values["form"] for i in instances(SPEC)[:300]}
    assert forms == {"poly", "exp", "log", "sin"}
