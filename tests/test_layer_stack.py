"""The general layer-stack family: any pinned stack of layers (dicts or the compact text form), with or
without a flatten, checked against seed facts and against torch modules and autograd."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.errors import EngineError
from i2dl.generate import solve_spec
from i2dl.shapes import as_stack, parse_stack, propagate

SEEDS = 50


def solve(layers: list[dict] | str, input_shape: list[int]) -> dict:
    return solve_spec("layer-stack", {"layers": layers, "input": input_shape}, engine_name="numpy")["values"]


def test_layer_stack_reproduces_endterm_2022_problem_4_3_flatten_size():
    """2022 endterm 4.3 (shared seed 003): 2x28x28, two 'same' 3x3 convs (8, 16 filters) each followed by 2x2
    pooling, batch norm and ReLU: k = 16*7*7 = 784 values enter Linear(k, 19)."""
    conv = {"type": "conv2d", "kernel": 3, "padding": 1}
    pool = {"type": "maxpool2d", "kernel": 2}
    values = solve([{**conv, "out": 8}, pool, {"type": "batchnorm"}, {"type": "relu"}, {**conv, "out": 16}, pool,
                    {"type": "batchnorm"}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out": 19}],
                   [2, 28, 28])
    assert values["shape_features"] == [16, 7, 7] and values["n_features"] == 784 and values["out_shape"] == [19]
    assert values["weight_last"] == [19, 784]


def test_layer_stack_reproduces_mock_2020_part_vi_first_conv_parameters():
    """2020 mock VI(d) (shared seed 004): an 11x11 conv from 3 to 96 channels has 11*11*3*96 + 96 = 34944
    parameters, its weights 96 x 3 x 11 x 11."""
    values = solve("conv(96,k11,s4,p2) flatten linear(1)", [3, 256, 256])
    assert values["params_layers"][0] == 34944 and values["weight_first"] == [96, 3, 11, 11]
    assert values["total"] == 34944 + values["n_features"] + 1


def test_layer_stack_reproduces_mock_2020_part_ii_8_output_size_without_a_flatten():
    """2020 mock II.8 (shared seed 004): 32x32x32 input, 8 filters of size 6, stride 2, padding 1: 8 x 15 x 15;
    the stack is the one convolution alone, no flatten."""
    values = solve("conv(8,k6,s2,p1)", [32, 32, 32])
    assert values["out_shape"] == values["shape_features"] == [8, 15, 15]
    assert values["n_features"] == 8 * 15 * 15


def test_layer_stack_receptive_fields_match_endterm_2024_lenet():
    """2024 endterm 4.1 (shared seed 000), LeNet on 1x32x32: conv1 (5x5) sees 5x5, after 2x2 max pooling 6x6."""
    values = solve("conv(6,k5) relu pool(2) conv(16,k5) relu pool(2) flatten fc(120) relu fc(84) relu fc(10)",
                   [1, 32, 32])
    assert values["rf_layers"][:3] == [5, 5, 6] and values["rf_layers"] == [5, 5, 6, 14, 14, 16]
    assert values["shape_features"] == [16, 5, 5] and values["params_layers"] == [156, 2416, 48120, 10164, 850]


def test_layer_stack_fully_convolutional_stack_needs_no_flatten():
    values = solve("conv(16,k3,p1) relu pool(2) conv(32,k3,s2) relu conv(10,k1)", [3, 32, 32])
    assert values["out_shape"] == values["shape_features"] == [10, 7, 7]
    assert values["params_layers"] == [3 * 9 * 16 + 16, 16 * 9 * 32 + 32, 32 * 10 + 10]
    assert values["weight_last"] == [10, 32, 1, 1]
    assert values["rf_layers"] == [3, 3, 4, 8, 8, 8]


def test_layer_stack_global_average_pooling_head_gives_one_value_per_channel():
    values = solve("conv(16,k3,p1) relu pool(2) conv(32,k3) gap linear(10)", [3, 32, 32])
    assert values["shape_features"] == [32, 14, 14] and values["out_shape"] == [10]
    assert values["params_layers"][-1] == 32 * 10 + 10 and values["weight_last"] == [10, 32]


def test_compact_form_reads_the_same_stack_as_layer_dicts():
    text = "conv(16, k3, p1) -> relu -> pool(2) -> conv(32, kernel=3x5, s2, nobias) -> bn -> dropout(0.5) -> gap -> fc(10)"
    assert parse_stack(text) == [
        {"type": "conv2d", "out": 16, "k": 3, "padding": 1}, {"type": "relu"}, {"type": "maxpool2d", "k": 2},
        {"type": "conv2d", "out": 32, "k": [3, 5], "stride": 2, "bias": False}, {"type": "batchnorm"},
        {"type": "dropout", "p": 0.5}, {"type": "gap"}, {"type": "linear", "out": 10}]
    assert parse_stack("conv(8, 3, 2, 1)") == [{"type": "conv2d", "out": 8, "k": 3, "stride": 2, "padding": 1}]
    assert as_stack([{"type": "Conv2d", "out": 8, "kernel": 3}]) == [{"type": "conv2d", "out": 8, "k": 3}]


@pytest.mark.parametrize("text, words", [
    ("conv(16) relu", "conv2d needs 'kernel'"),
    ("cnov(16,k3)", "unknown layer 'cnov'; did you mean conv"),
    ("conv(16,k3,,p1)", "empty argument"),
    ("pool(2,2,0,1)", "no more unnamed arguments"),
    ("conv(16,kernel3)", "write 'kernel=3'"),
    ("relu(3)", "no more unnamed arguments"),
    ("conv(16,k3) __import__('os')", "unknown layer '__import__'"),
])
def test_compact_form_refuses_what_it_cannot_read_naming_the_layer(text, words):
    with pytest.raises(EngineError) as info:
        parse_stack(text)
    assert words in str(info.value) and info.value.fix and "conv(16,k3,p1)" in info.value.fix


def test_linear_after_a_feature_map_without_flatten_names_the_layer_and_the_fix():
    with pytest.raises(EngineError) as info:
        propagate((3, 8, 8), "conv(4,k3) relu linear(10)")
    assert info.value.arg == "layers[2]" and "(4, 6, 6)" in str(info.value) and "add a flatten" in info.value.fix


def test_layer_stack_pinned_through_the_cli_as_dicts_and_as_text():
    layers = json.dumps([{"type": "conv2d", "out": 4, "kernel": 3}, {"type": "flatten"}, {"type": "linear", "out": 2}])
    for pin in (layers, "conv(4,k3) flatten linear(2)"):
        result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "layer-stack", "--param", f"layers={pin}",
                                          "--param", "input=[1,5,5]", "--json"])
        assert result.exit_code == 0, result.output
        values = json.loads(result.output)["values"]
        assert values["n_features"] == 36 and values["total"] == (9 * 4 + 4) + (36 * 2 + 2)
        assert values["params_layers"] == [40, 74] and values["weight_last"] == [2, 36]


def test_layer_stack_without_flatten_solves_through_the_cli():
    result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "layer-stack", "--param",
                                      'layers=[{"type": "conv2d", "out": 4, "kernel": 3}]', "--param", "input=[1,5,5]",
                                      "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)["values"]
    assert values["out_shape"] == [4, 3, 3] and values["total"] == 40 and values["rf_layers"] == [3]


def test_layer_stack_linear_on_a_map_is_a_clear_cli_error():
    result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "layer-stack", "--param",
                                      "layers=conv(4,k3) linear(2)", "--param", "input=[1,5,5]"])
    assert result.exit_code != 0
    assert "layers[1]" in result.output and "add a flatten" in result.output


# --- against torch -------------------------------------------------------------------------------


def _modules(torch, layers: list[dict], shape: list[int], *, smooth: bool = False) -> list:
    """torch modules of a stack; smooth=True puts average pooling for max pooling (same geometry, every
    input of a window gets a gradient) so autograd shows the whole receptive field."""
    nn = torch.nn
    modules = []
    for spec in as_stack(layers):
        kind = spec["type"]
        if kind == "conv2d":
            modules.append(nn.Conv2d(shape[0], spec["out"], spec["k"], spec.get("stride", 1), spec.get("padding", 0),
                                     bias=spec.get("bias", True), dtype=torch.float64))
        elif kind in ("maxpool2d", "avgpool2d"):
            cls = nn.AvgPool2d if smooth or kind == "avgpool2d" else nn.MaxPool2d
            modules.append(cls(spec["k"], spec.get("stride") or spec["k"]))
        elif kind == "batchnorm":
            modules.append(nn.BatchNorm2d(shape[0], dtype=torch.float64).eval())
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "gap":
            modules.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
        elif kind == "flatten":
            modules.append(nn.Flatten())
        elif kind == "linear":
            modules.append(nn.Linear(shape[0], spec["out"], dtype=torch.float64))
        shape = _next(torch, modules, shape)
    return modules


def _next(torch, modules: list, shape: list[int]) -> list[int]:
    """The per-sample shape after the last module, by running it on zeros of the shape before it."""
    with torch.no_grad():
        return list(modules[-1](torch.zeros(1, *shape, dtype=torch.float64)).shape[1:])


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(SEEDS))
def test_layer_stack_keys_match_torch_modules_and_autograd_receptive_fields(seed):
    """Over sampled stacks: every shape, parameter count and weight shape is torch's; every receptive field
    is the extent of the input region autograd gives a non-zero gradient for one central unit."""
    torch = pytest.importorskip("torch")
    v = solve_spec("layer-stack", {}, seed=seed, engine_name="numpy")["values"]
    layers, x_shape = v["layers"], [int(t) for t in v["input"]]
    modules = _modules(torch, layers, x_shape)
    x = torch.zeros(1, *x_shape, dtype=torch.float64)
    outs = []
    with torch.no_grad():
        for m in modules:
            x = m(x)
            outs.append(list(x.shape[1:]))
    assert outs[-1] == v["out_shape"] and outs[int(v["feat_at"])] == v["shape_features"]
    assert outs[int(v["down_at"])] == v["shape_down"]
    counts = [sum(p.numel() for p in m.parameters()) for m in modules]
    assert [c for c in counts if c] == v["params_layers"] and sum(counts) == v["total"]
    weights = [list(m.weight.shape) for m in modules if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert weights[0] == v["weight_first"] and weights[-1] == v["weight_last"]
    # receptive fields: ones as weights, a large input so a central unit's field lies inside it
    side = int(max(v["rf_layers"])) * 2 + int(v["input"][1])
    smooth = _modules(torch, layers, [x_shape[0], side, side], smooth=True)
    for m in smooth:
        for name, p in m.named_parameters():
            torch.nn.init.ones_(p) if name == "weight" else torch.nn.init.zeros_(p)
    for at, expected in enumerate(v["rf_layers"]):
        x = torch.ones(1, x_shape[0], side, side, dtype=torch.float64, requires_grad=True)
        y = torch.nn.Sequential(*smooth[: at + 1])(x)
        unit = y[0, 0, y.shape[2] // 2, y.shape[3] // 2]
        (g,) = torch.autograd.grad(unit, x)
        rows = torch.nonzero(g[0].abs().sum(dim=(0, 2)))
        assert int(rows.max() - rows.min() + 1) == expected, (seed, at)
