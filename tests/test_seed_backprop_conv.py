"""The backpropagation and convolution spec families reproduce the seed exams' numbers.

One test per seed sub-question (pinned parameters, exact values), one CLI test per family,
and a stress validation of each spec. Seeds: 2024 endterm (000), 2022 endterm (003), 2020
mock exam (004); see the seeds' README (shared/seeds/README.md beside the project) for the known misprints.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.engine import get_engine
from i2dl.generate import solve_spec
from i2dl.spec.instance import make_instance
from i2dl.spec.load import load_spec
from tests.strategies import assert_spec_validates

SPECS = Path(__file__).resolve().parents[1] / "problems" / "specs"
FAMILIES = ["mlp-backprop", "logistic-regression-step", "conv2d-by-hand", "residual-gradient",
            "stacked-linear", "linear-layer-backward"]
ATOL = 1e-6

# --- pinned seed problems ------------------------------------------------------------------

ENDTERM_2022_P6 = {  # leaky ReLU (alpha 0.5), MSE averaged over the two outputs, update w11
    "nh": 3, "x": [1, -2], "W1": [[-0.5, 1, 2], [-1, 0.5, 1.5]], "b1": [0.5, 0, -1],
    "W2": [[1, -0.5], [-0.5, 2], [-1, 1]], "b2": [-1, 2], "t": [1, 1], "act": "leaky_relu",
    "alpha": 0.5, "reduction": "mean", "lr": 0.1, "wi": 1, "wj": 1,
}
MOCK_2020_IV = {  # ReLU, half the sum of squared errors, update w21 (input 2 -> hidden 1)
    "nh": 2, "x": [2, -1], "W1": [[1, -0.5], [0.5, -1]], "b1": [0.5, -0.5],
    "W2": [[0.5, -1], [-0.5, 1]], "b2": [-1, 0.5], "t": [1, 0.5], "act": "relu", "alpha": 0.1,
    "reduction": "half_sum", "lr": 0.1, "wi": 2, "wj": 1,
}
MOCK_2020_IIIC = {"x": [0.8, 0.5, -1], "w": [0.5, 0.4, -0.3], "b": 0.2, "t": 1, "lr": 0.1, "i": 1}
ENDTERM_2024_P5 = {
    "nh": 4, "nw": 4, "kernel": 3, "stride": 1, "padding": 0,
    "X": [[1, 2, -1, -3], [-1, 3, 0, 2], [1, 1, 1, -2], [0, 2, 0, -3]],
    "K": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]], "G": [[3, -1], [1, 2]],
}
ENDTERM_2024_P5_DX = [[0, -3, 1, 0], [-3, 15, -10, 1], [-1, 0, 10, -2], [0, -1, -2, 0]]
ENDTERM_2024_P5_DK = [[6, 10, 4], [-3, 12, -5], [6, 4, -1]]
MOCK_2020_V1 = {
    "nh": 5, "nw": 5, "kernel": 3, "stride": 2, "padding": 1,
    "X": [[3, 1, 6, 8, 0], [2, 3, 2, 7, -6], [-8, 0, 6, -5, -8], [1, 2, 5, -2, -4],
          [8, 7, -2, -1, 7]],
    "K": [[1 / 9] * 3] * 3, "G": [[1, 1, 1], [1, 0, 1], [1, 1, 1]],
}
# 2024 4.6 is symbolic; these numbers keep every ReLU active, as the key assumes
ENDTERM_2024_46 = {"x": 2, "w0": 1, "w1": 0.5, "w2": 2, "w3": -1.5, "r": 2}
# 2024 2.6 and 2022 2.2/2.3 are symbolic too: small numbers stand in for the symbols
ENDTERM_2024_26 = {
    "n": 3, "m": 2, "q": 2, "W1": [[1, -1, 2], [0, 2, 1]], "b1": [1, -2],
    "W2": [[2, 1], [-1, 1]], "b2": [0, 1], "x": [1, 0, -1],
}
ENDTERM_2022_22 = {
    "N": 2, "D": 3, "M": 4, "X": [[1, -1, 2], [0, 2, 1]],
    "W": [[1, 0, -1, 2], [2, 1, 0, -1], [-1, 1, 1, 0]], "b": [1, 0, -1, 2],
    "dout": [[1, -1, 2, 1], [-2, 1, 1, -1]],
}


def solve(spec_id: str, pins: dict, engine_name: str = "numpy") -> dict:
    return solve_spec(spec_id, pins, engine_name=engine_name)


def blank(result: dict, name: str):
    """The expected value of the blank `name` in a solve_spec result."""
    for part in result["parts"]:
        for b in part["blanks"]:
            if b["name"] == name:
                return b["value"]
    raise KeyError(name)


def close(actual, expected) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               atol=ATOL, rtol=0)


def alternatives(spec_id: str, pins: dict, name: str) -> dict[str, dict]:
    """The alternatives offered for blank `name` of the pinned instance, by name."""
    inst = make_instance(load_spec(SPECS / f"{spec_id}.yaml"), 0, get_engine("numpy"), pins=pins)
    b = next(b for p in inst.parts for b in p.blanks if b.name == name)
    return {a["name"]: a for a in b.alternatives}


# --- 2022 endterm, problem 6: a two-layer network with leaky ReLU ----------------------------


def test_solve_reproduces_endterm_2022_problem_6_1_forward_pass(engine):
    r = solve("mlp-backprop", ENDTERM_2022_P6, engine.name)
    close(blank(r, "h"), [2, 0, -2])
    close(blank(r, "a"), [2, 0, -1])
    close(blank(r, "y"), [2, 0])


def test_solve_reproduces_endterm_2022_problem_6_2_mse_loss(engine):
    # the key's value 1 averages over the two outputs (see the seeds' misprint notes)
    close(blank(solve("mlp-backprop", ENDTERM_2022_P6, engine.name), "L"), 1)


def test_solve_reproduces_endterm_2022_problem_6_3_weight_update(engine):
    r = solve("mlp-backprop", ENDTERM_2022_P6, engine.name)
    close(blank(r, "dW"), 1.5)
    close(blank(r, "w_new"), -0.65)


# --- 2020 mock, part IV: a two-layer ReLU network --------------------------------------------


def test_solve_reproduces_mock_2020_part_4a_forward_pass(engine):
    r = solve("mlp-backprop", MOCK_2020_IV, engine.name)
    close(blank(r, "h"), [2, -0.5])
    close(blank(r, "a"), [2, 0])
    close(blank(r, "y"), [0, -1.5])
    close(blank(r, "dadh"), [1, 0])


def test_solve_reproduces_mock_2020_part_4b_loss(engine):
    close(blank(solve("mlp-backprop", MOCK_2020_IV, engine.name), "L"), 2.5)


def test_solve_reproduces_mock_2020_part_4c_weight_update(engine):
    r = solve("mlp-backprop", MOCK_2020_IV, engine.name)
    close(blank(r, "dW"), -1.5)
    close(blank(r, "w_new"), 0.65)


def test_mlp_backprop_names_the_missing_activation_derivative():
    # unit 3 of the 2022 network is on the negative side: the slope 0.5 must enter the gradient
    alts = alternatives("mlp-backprop", {**ENDTERM_2022_P6, "wj": 3}, "dW")
    r = solve("mlp-backprop", {**ENDTERM_2022_P6, "wj": 3})
    close(alts["activation-derivative-missing"]["value"], blank(r, "dW") / 0.5)
    assert "activation-derivative-missing" not in alternatives("mlp-backprop", MOCK_2020_IV, "dW")


# --- 2020 mock, part III(c): one logistic regression step -----------------------------------


def test_solve_reproduces_mock_2020_part_3c_logistic_regression_step(engine):
    r = solve("logistic-regression-step", MOCK_2020_IIIC, engine.name)
    close(blank(r, "z"), 1.1)
    close(blank(r, "p"), 0.750260105595)
    close(blank(r, "dLdz"), -0.249739894405)
    close(blank(r, "dLdw"), -0.199791915524)
    close(blank(r, "w_new"), 0.519979191552)


def test_logistic_regression_tolerance_accepts_the_keys_plot_values():
    # the key reads sigma(1.1) ~ 0.75 off a plot: 0.75, -0.25, -0.2 and 0.52 must all pass
    inst = make_instance(load_spec(SPECS / "logistic-regression-step.yaml"), 0,
                         get_engine("numpy"), pins=MOCK_2020_IIIC)
    blanks = {b.name: b for p in inst.parts for b in p.blanks}
    for name, hand in {"p": 0.75, "dLdz": -0.25, "dLdw": -0.2, "w_new": 0.52}.items():
        b = blanks[name]
        t_abs, t_rel = b.tolerance(b.expected)  # the rounding rule's unit, widened by any spec tol
        assert abs(hand - b.expected) <= max(t_abs, t_rel * abs(b.expected)), name


# --- 2024 endterm, problem 5: a 3x3 kernel on a 4x4 input -----------------------------------


def test_solve_reproduces_endterm_2024_problem_5_1_forward_pass(engine):
    r = solve("conv2d-by-hand", ENDTERM_2024_P5, engine.name)
    assert blank(r, "Zshape") == [2, 2]
    close(blank(r, "Z"), [[13, -5], [-2, 6]])


def test_solve_reproduces_endterm_2024_problem_5_3_input_gradient(engine):
    close(blank(solve("conv2d-by-hand", ENDTERM_2024_P5, engine.name), "dX"), ENDTERM_2024_P5_DX)


def test_solve_reproduces_endterm_2024_problem_5_3_kernel_gradient_accepted():
    # the key also accepts the kernel gradient for 5.3, with full credit
    r = solve("conv2d-by-hand", ENDTERM_2024_P5)
    close(blank(r, "dK"), ENDTERM_2024_P5_DK)
    alt = alternatives("conv2d-by-hand", ENDTERM_2024_P5, "dX")["kernel-gradient"]
    assert alt["credit"] == 1
    close(alt["value"], ENDTERM_2024_P5_DK)


# --- 2020 mock, part V.1: a 1/9 kernel with stride 2 and padding 1 ---------------------------


def test_solve_reproduces_mock_2020_part_5_1a_strided_padded_forward(engine):
    r = solve("conv2d-by-hand", MOCK_2020_V1, engine.name)
    assert blank(r, "Zshape") == [3, 3]
    z = np.asarray(blank(r, "Z"))
    close([z[0, 1], z[1, 1], z[1, 2], z[2, 0]], [3, 2, -2, 2])


def test_solve_reproduces_mock_2020_part_5_1b_kernel_gradient(engine):
    close(blank(solve("conv2d-by-hand", MOCK_2020_V1, engine.name), "dK"),
          [[7, -2, 3], [10, 6, 15], [8, -5, 12]])


# --- skip connections: 2024 endterm 4.6 and 2020 mock V.2(b) ---------------------------------


def test_solve_reproduces_endterm_2024_problem_4_6_skip_connection_gradient(engine):
    p = ENDTERM_2024_46
    r = solve("residual-gradient", p, engine.name)
    close(blank(r, "dzdy"), p["w3"] * p["w2"] + 1)
    close(blank(r, "dzdw0"), (p["w3"] * p["w2"] + 1) * p["w1"] * p["x"])
    close(blank(r, "dzdw0_plain"), p["w3"] * p["w2"] * p["w1"] * p["x"])


def test_solve_reproduces_mock_2020_part_5_2b_residual_block_derivative(engine):
    r = solve("residual-gradient", {**ENDTERM_2024_46, "r": 0.3}, engine.name)
    close(blank(r, "dHdv"), 1.3)


# --- 2024 endterm 2.6: two linear layers without activation ----------------------------------


def test_solve_reproduces_endterm_2024_problem_2_6_equivalent_layer(engine):
    p = {k: np.asarray(v, dtype=float) for k, v in ENDTERM_2024_26.items()}
    r = solve("stacked-linear", ENDTERM_2024_26, engine.name)
    close(blank(r, "W"), p["W2"] @ p["W1"])
    close(blank(r, "b"), p["W2"] @ p["b1"] + p["b2"])
    close(blank(r, "out"), p["W2"] @ (p["W1"] @ p["x"] + p["b1"]) + p["b2"])
    close(blank(r, "W"), [[2, 0, 5], [-1, 3, -1]])
    close(blank(r, "b"), [0, -2])


# --- 2022 endterm 2.2 / 2.3: backward pass of Y = X W + b -----------------------------------


def test_solve_reproduces_endterm_2022_problem_2_2_shapes_of_b_and_dout():
    r = solve("linear-layer-backward", ENDTERM_2022_22)
    assert blank(r, "shape_b") == [1, 4]
    assert blank(r, "shape_dout") == [2, 4]
    vector_bias = alternatives("linear-layer-backward", ENDTERM_2022_22, "shape_b")["vector"]
    assert vector_bias["value"] == (4,) and vector_bias["credit"] == 1


def test_solve_reproduces_endterm_2022_problem_2_3_input_gradient(engine):
    p = {k: np.asarray(v, dtype=float) for k, v in ENDTERM_2022_22.items()}
    r = solve("linear-layer-backward", ENDTERM_2022_22, engine.name)
    assert blank(r, "shape_dX") == [2, 3]
    close(blank(r, "dX"), p["dout"] @ p["W"].T)
    close(blank(r, "dW"), p["X"].T @ p["dout"])
    close(blank(r, "db"), p["dout"].sum(axis=0))


# --- the CLI: one solve per family ------------------------------------------------------------


def _cli_solve(spec_id: str, pins: dict) -> dict:
    args = ["--engine", "numpy", "solve", spec_id, "--json"]
    for k, v in pins.items():
        args += ["--param", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_solve_mlp_backprop():
    data = _cli_solve("mlp-backprop", ENDTERM_2022_P6)
    assert data["spec"] == "mlp-backprop"
    close(blank(data, "y"), [2, 0])
    close(blank(data, "w_new"), -0.65)


def test_cli_solve_logistic_regression_step():
    data = _cli_solve("logistic-regression-step", MOCK_2020_IIIC)
    close(blank(data, "w_new"), 0.519979191552)


def test_cli_solve_conv2d_by_hand():
    data = _cli_solve("conv2d-by-hand", ENDTERM_2024_P5)
    assert blank(data, "Zshape") == [2, 2]
    close(blank(data, "dX"), ENDTERM_2024_P5_DX)


def test_cli_solve_residual_gradient():
    data = _cli_solve("residual-gradient", ENDTERM_2024_46)
    close(blank(data, "dzdy"), -2)
    close(blank(data, "dzdw0"), -2)


def test_cli_solve_stacked_linear():
    data = _cli_solve("stacked-linear", ENDTERM_2024_26)
    close(blank(data, "W"), [[2, 0, 5], [-1, 3, -1]])


def test_cli_solve_linear_layer_backward():
    data = _cli_solve("linear-layer-backward", ENDTERM_2022_22)
    assert blank(data, "shape_dX") == [2, 3]
    close(blank(data, "db"), [-1, 0, 3, 0])


# --- every family validates cleanly -----------------------------------------------------------


@pytest.mark.parametrize("spec_id", FAMILIES)
def test_spec_validates(spec_id):
    assert_spec_validates(SPECS / f"{spec_id}.yaml", samples=100, max_tries=50)
