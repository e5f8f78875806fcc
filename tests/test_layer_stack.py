"""The general layer-stack family: any pinned stack of layers, checked against seed facts and torch."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.generate import solve_spec


def solve(layers: list[dict], input_shape: list[int]) -> dict:
    return solve_spec("layer-stack", {"layers": layers, "input": input_shape}, engine_name="numpy")["values"]


def test_layer_stack_reproduces_endterm_2022_problem_4_3_flatten_size():
    """2022 endterm 4.3: 2x28x28, two 'same' 3x3 convs (8, 16 filters) each followed by 2x2 pooling: 16*7*7."""
    conv = {"type": "conv2d", "k": 3, "padding": 1}
    pool = {"type": "maxpool2d", "k": 2}
    values = solve([{**conv, "out": 8}, pool, {"type": "batchnorm"}, {"type": "relu"}, {**conv, "out": 16}, pool,
                    {"type": "flatten"}, {"type": "linear", "out": 19}], [2, 28, 28])
    assert values["flat"] == 784 and values["out_shape"] == [19]


def test_layer_stack_reproduces_mock_2020_part_vi_first_conv_parameters():
    """2020 mock VI(d): an 11x11 conv from 3 to 96 channels has 11*11*3*96 + 96 = 34944 parameters."""
    values = solve([{"type": "conv2d", "out": 96, "k": 11, "stride": 4, "padding": 2}, {"type": "flatten"},
                    {"type": "linear", "out": 1}], [3, 256, 256])
    fc_in = values["flat"]
    assert values["total"] == 34944 + fc_in + 1


def test_layer_stack_reproduces_mock_2020_part_ii_8_output_size():
    """2020 mock II.8: 32x32x32 input, 8 filters of size 6, stride 2, padding 1: 8 x 15 x 15."""
    values = solve([{"type": "conv2d", "out": 8, "k": 6, "stride": 2, "padding": 1}, {"type": "flatten"}],
                   [32, 32, 32])
    assert values["flat"] == 8 * 15 * 15


def test_layer_stack_receptive_field_matches_endterm_2024_lenet():
    """2024 endterm 4.1: after conv1 (5x5) and 2x2 max pooling the receptive field is 6."""
    values = solve([{"type": "conv2d", "out": 6, "k": 5}, {"type": "maxpool2d", "k": 2}, {"type": "flatten"},
                    {"type": "linear", "out": 10}], [1, 32, 32])
    assert values["rf"] == 6


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(6))
def test_layer_stack_sampled_counts_match_torch_modules(seed):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    result = solve_spec("layer-stack", {}, seed=seed, engine_name="numpy")["values"]
    modules, shape = [], list(map(int, result["input"]))
    for spec in result["layers"]:
        kind = spec["type"]
        if kind == "conv2d":
            modules.append(nn.Conv2d(shape[0], spec["out"], spec["k"], spec.get("stride", 1), spec.get("padding", 0)))
        elif kind == "maxpool2d":
            modules.append(nn.MaxPool2d(spec["k"], spec.get("stride", spec["k"])))
        elif kind == "batchnorm":
            modules.append(nn.BatchNorm2d(shape[0]))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "linear":
            modules.append(nn.LazyLinear(spec["out"]))
        with torch.no_grad():
            shape = list(nn.Sequential(*modules)(torch.zeros(1, *map(int, result["input"]))).shape[1:])
    net = nn.Sequential(*modules)
    out = net(torch.zeros(1, *map(int, result["input"])))
    assert list(out.shape[1:]) == result["out_shape"]
    assert sum(p.numel() for p in net.parameters()) == result["total"]


def test_layer_stack_pinned_through_the_cli():
    layers = json.dumps([{"type": "conv2d", "out": 4, "k": 3}, {"type": "flatten"}, {"type": "linear", "out": 2}])
    result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "layer-stack", "--param", f"layers={layers}",
                                      "--param", "input=[1,5,5]", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)["values"]
    assert values["flat"] == 36 and values["total"] == (9 * 4 + 4) + (36 * 2 + 2)


def test_layer_stack_without_flatten_is_a_clear_error():
    result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "layer-stack", "--param",
                                      'layers=[{"type": "conv2d", "out": 4, "k": 3}]', "--param", "input=[1,5,5]"])
    assert result.exit_code != 0
    assert "no 'flatten' layer" in result.output
