"""init-variance: Xavier normal/uniform, Kaiming for ReLU and leaky ReLU in both modes, convolution fans, Var(z)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.generate import solve_spec
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from tests.samples import instances

LIB = Library()
SPEC = "init-variance"
BASE = {"kind": "linear", "c_in": 100, "c_out": 50, "kernel": 3, "xavier_form": "fan_in", "act": "relu",
        "slope": 0.1, "mode": "fan_in", "var_in": 1}


def _values(pins: dict) -> dict:
    return solve_spec(SPEC, pins, engine_name="numpy")["values"]


def _alternatives(pins: dict, name: str) -> dict[str, float]:
    inst = make_instance(LIB.get(SPEC), 0, get_engine("numpy"), pins=pins)
    b = next(b for p in inst.parts for b in p.blanks if b.name == name)
    return {a["name"]: a["value"] for a in b.alternatives}


def test_init_reproduces_endterm_2022_1_8_xavier_keeps_the_variance_from_layer_to_layer():
    """2022 endterm (IN2346, 1 August 2022) 1.8: with Xavier initialization Var(X_L) = Var(X_{L+1}).

    With Var(w) = 1 / n_in, a unit summing n_in = 100 inputs of variance 2 has Var(z) = 100 (1/100) 2 = 2;
    the seed's false option Var(X_L) = Var(W_L) fails here too (2 against 0.01).
    """
    got = _values({**BASE, "var_in": 2})
    assert got["var_x"] == pytest.approx(0.01)
    assert got["var_zx"] == pytest.approx(2) and got["keeps_variance"] is True
    assert got["var_zx"] != pytest.approx(got["var_x"])
    # Glorot's average form keeps it only when the fans agree
    avg = _values({**BASE, "xavier_form": "average", "var_in": 2})
    assert avg["var_zx"] == pytest.approx(100 * 2 / 150 * 2) and avg["keeps_variance"] is False


def test_init_kaiming_leaky_relu_fan_out_conv_by_hand():
    pins = {**BASE, "kind": "conv", "c_in": 16, "c_out": 32, "kernel": 3, "act": "leaky_relu", "slope": 0.2,
            "mode": "fan_out", "var_in": 0.5}
    got = _values(pins)
    assert (got["fan_in"], got["fan_out"]) == (144, 288)
    var = 2 / (1 + 0.04) / 288
    assert got["var_k"] == pytest.approx(var) and got["std_k"] == pytest.approx(math.sqrt(var))
    assert got["a_k"] == pytest.approx(math.sqrt(3 * var))
    assert got["var_zk"] == pytest.approx(144 * var * 0.5)
    alts = _alternatives(pins, "var_k")
    assert alts["fan-in-used"] == pytest.approx(2 / 1.04 / 144)
    assert alts["leaky-slope-ignored"] == pytest.approx(2 / 288)
    assert alts["gain-not-squared"] == pytest.approx(math.sqrt(2 / 1.04) / 288)
    assert alts["kernel-size-forgotten"] == pytest.approx(2 / 1.04 / 32)
    assert "fan-out-used" not in alts
    z = _alternatives(pins, "var_zx")
    assert z["fan-in-forgotten"] == pytest.approx(got["var_x"] * 0.5)


def test_init_xavier_uniform_bound_and_normal_std_are_glorots():
    got = _values({**BASE, "xavier_form": "average", "c_in": 200, "c_out": 100})
    assert got["a_x"] == pytest.approx(math.sqrt(6 / 300)) and got["std_x"] == pytest.approx(math.sqrt(2 / 300))


def _torch_weight_shape(v: dict) -> tuple[int, ...]:
    k = int(v["kernel"])
    return {"linear": (v["c_out"], v["c_in"]), "conv1d": (v["c_out"], v["c_in"], k),
            "conv": (v["c_out"], v["c_in"], k, k)}[v["kind"]]


@pytest.mark.library
def test_init_keys_match_torch_nn_init_over_seeds():
    torch = pytest.importorskip("torch")
    from torch.nn import init

    for inst in instances(SPEC)[:50]:
        v = inst.values
        w = torch.empty(_torch_weight_shape(v), dtype=torch.float64)
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
        assert (v["fan_in"], v["fan_out"]) == (fan_in, fan_out), inst.seed
        if v["xavier_form"] == "average":  # torch's Xavier is Glorot's average form
            assert v["std_x"] == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=1e-12)
            assert v["a_x"] == pytest.approx(math.sqrt(6.0 / (fan_in + fan_out)), rel=1e-12)
        slope = float(v["slope"]) if v["act"] == "leaky_relu" else 0.0
        gain = init.calculate_gain("leaky_relu", slope)
        n = init._calculate_correct_fan(w, v["mode"])
        assert v["std_k"] == pytest.approx(gain / math.sqrt(n), rel=1e-12), inst.seed
        assert v["a_k"] == pytest.approx(gain * math.sqrt(3.0 / n), rel=1e-12), inst.seed


def test_init_pre_activation_variance_matches_a_torch_simulation():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    pins = {**BASE, "c_in": 64, "c_out": 32, "act": "leaky_relu", "slope": 0.3, "var_in": 4}
    got = _values(pins)
    layers, batch = 400, 500
    w = torch.randn(layers, 32, 64, generator=gen, dtype=torch.float64) * got["std_k"]
    x = torch.randn(layers, 64, batch, generator=gen, dtype=torch.float64) * 2.0
    z = w @ x  # many independent layers and inputs: the empirical Var(z)
    assert float(z.var()) == pytest.approx(got["var_zk"], rel=0.02)
    assert got["var_zk"] == pytest.approx(64 * got["var_k"] * 4)


@pytest.mark.library
def test_init_samples_cover_every_variant():
    seen = {(i.values["kind"], i.values["act"], i.values["mode"]) for i in instances(SPEC)[:400]}
    assert {k for k, _, _ in seen} == {"linear", "conv", "conv1d"}
    assert {a for _, a, _ in seen} == {"relu", "leaky_relu"} and {m for *_, m in seen} == {"fan_in", "fan_out"}
    assert {bool(i.values["keeps_variance"]) for i in instances(SPEC)[:400]} == {True, False}
    assert np.all([i.values["var_zx"] > 0 for i in instances(SPEC)[:400]])
