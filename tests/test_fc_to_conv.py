"""fc-to-conv: a fully connected head as convolutions, against the 2022 endterm and against torch."""

from __future__ import annotations

import pytest

from i2dl.engine import get_engine
from i2dl.errors import EngineError
from i2dl.generate import solve_spec
from i2dl.shapes import fc_to_conv, param_counts, propagate, weight_shapes
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from tests.strategies import cli_solve

SEEDS = 50


def _values(pins: dict, seed: int = 0) -> dict:
    return solve_spec("fc-to-conv", pins, seed=seed, engine_name="numpy")["values"]


def test_fc_to_conv_reproduces_endterm_2022_problem_4_5():
    """2022 endterm 4.5 (shared seed 003): a fully connected layer from a 2 x 28 x 28 input to 100 outputs is
    one convolution with 100 filters of kernel 28 and padding 0 (the key's "stride 0" is a misprint, see the
    seeds' README): weights 100 x 2 x 28 x 28, as many parameters as the linear layer."""
    v = _values({"input": [2, 28, 28], "layers": "flatten linear(100)", "grow": 4})
    assert v["conv_kernel"] == 28 and v["weight_first"] == [100, 2, 28, 28] == v["weight_last"]
    assert v["params_head"] == 2 * 28 * 28 * 100 + 100 == 156900
    # on a 32 x 32 input the kernel fits at (32 - 28 + 1)^2 positions
    assert v["big"] == [2, 32, 32] and v["out_big"] == [100, 5, 5]
    assert v["window"] == 28 and v["window_step"] == 1


def test_fc_to_conv_solves_the_2022_numbers_through_the_cli():
    data = cli_solve("fc-to-conv", ["input=[2,28,28]", "layers=flatten linear(100)", "grow=4"])
    blanks = {b["name"]: b["value"] for p in data["parts"] for b in p["blanks"]}
    assert blanks["weight_first"] == [100, 2, 28, 28] and blanks["out_big"] == [100, 5, 5]


def test_fc_to_conv_head_after_a_conv_and_pooling_slides_in_steps_of_the_stride_product():
    v = _values({"input": [1, 14, 14], "layers": "conv(8,k3) relu pool(2) flatten fc(32) relu fc(10)", "grow": 3})
    # 14 -> 12 -> 6: the first fc becomes 32 filters of 8 x 6 x 6, the second a 1 x 1 conv
    assert v["weight_first"] == [32, 8, 6, 6] and v["weight_last"] == [10, 32, 1, 1]
    assert v["params_head"] == (8 * 36 * 32 + 32) + (32 * 10 + 10)
    # the larger input is 14 + 3 * 2 = 20: a 9 x 9 map, 9 - 6 + 1 = 4 positions, 2 input pixels apart
    assert v["big"] == [1, 20, 20] and v["out_big"] == [10, 4, 4]
    assert v["window_step"] == 2 and v["window"] == 14


def test_fc_to_conv_named_mistakes_of_the_larger_input():
    pins = {"input": [1, 14, 14], "layers": "conv(8,k3) relu pool(2) flatten fc(32) relu fc(10)", "grow": 3}
    inst = make_instance(Library().get("fc-to-conv"), 0, get_engine("numpy"), pins=pins)
    alts = {b.name: {a["name"]: a["value"] for a in b.alternatives} for p in inst.parts for b in p.blanks}
    assert alts["out_big"]["one-position"] == (10, 1, 1)
    assert alts["out_big"]["input-difference"] == (10, 7, 7)  # 20 - 14 + 1 on the input, not on the map
    assert alts["weight_first"]["linear-matrix"] == (32, 288)
    assert alts["weight_last"]["kernel-copied"] == (10, 32, 6, 6)


def test_fc_to_conv_keeps_the_parameter_count_of_every_layer():
    layers = "conv(4,k3) pool(2) flatten fc(16) relu dropout(0.5) fc(3)"
    converted = fc_to_conv((2, 10, 10), layers)
    assert [d["type"] for d in converted] == ["conv2d", "maxpool2d", "conv2d", "relu", "dropout", "conv2d"]
    assert sum(param_counts((2, 10, 10), layers)) == sum(param_counts((2, 10, 10), converted))
    assert propagate((2, 10, 10), converted)[-1] == (3, 1, 1)
    assert weight_shapes((2, 10, 10), converted)[2] == (16, 4, 4, 4)


@pytest.mark.parametrize("layers, words", [
    ("conv(4,k3) relu", "no fully connected"),
    ("conv(4,k3) gap linear(3)", "global average pooling"),
])
def test_fc_to_conv_refuses_a_stack_without_a_flattened_head(layers, words):
    with pytest.raises(EngineError) as info:
        fc_to_conv((1, 8, 8), layers)
    assert words in str(info.value)


def test_fc_to_conv_of_a_non_square_map_has_a_rectangular_kernel():
    assert fc_to_conv((3, 4, 6), "flatten fc(5)") == [{"type": "conv2d", "out": 5, "k": [4, 6]}]
    assert propagate((3, 7, 6), fc_to_conv((3, 4, 6), "flatten fc(5)"))[-1] == (5, 4, 1)


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(SEEDS))
def test_fc_to_conv_converted_network_computes_the_fc_network_at_every_window_with_torch(seed):
    """The key's converted network, with the FC weights reshaped to its weight shapes, gives the FC network's
    outputs on the input; on the larger input each output position is the FC network on one window, and
    autograd finds that window where the key says (side `window`, `window_step` pixels apart)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    v = _values({}, seed)
    layers, conv_layers = v["layers"], v["converted"]
    c, hw = int(v["input"][0]), int(v["input"][1])
    torch.manual_seed(seed)

    def build(stack, shape):
        mods = []
        for d in stack:
            t = d["type"]
            if t == "conv2d":
                mods.append(nn.Conv2d(shape[0], d["out"], d["k"], dtype=torch.float64))
            elif t == "maxpool2d":
                mods.append(nn.MaxPool2d(d["k"], d.get("stride") or d["k"]))
            elif t == "relu":
                mods.append(nn.ReLU())
            elif t == "flatten":
                mods.append(nn.Flatten())
            elif t == "linear":
                mods.append(nn.Linear(shape[0], d["out"], dtype=torch.float64))
            with torch.no_grad():
                shape = list(mods[-1](torch.zeros(1, *shape, dtype=torch.float64)).shape[1:])
        return nn.Sequential(*mods)

    fc_net, conv_net = build(layers, [c, hw, hw]), build(conv_layers, [c, hw, hw])
    fc_params = [m for m in fc_net if isinstance(m, (nn.Conv2d, nn.Linear))]
    conv_params = [m for m in conv_net if isinstance(m, nn.Conv2d)]
    first = sum(isinstance(m, nn.Conv2d) for m in fc_params)  # the extractor's convolutions come first
    assert tuple(conv_params[first].weight.shape) == tuple(int(t) for t in v["weight_first"])
    assert tuple(conv_params[-1].weight.shape) == tuple(int(t) for t in v["weight_last"])
    assert sum(p.numel() for m in conv_params[first:] for p in m.parameters()) == v["params_head"]
    assert sum(p.numel() for p in conv_net.parameters()) == sum(p.numel() for p in fc_net.parameters())
    with torch.no_grad():
        for a, b in zip(fc_params, conv_params, strict=True):
            b.weight.copy_(a.weight.reshape(b.weight.shape))
            b.bias.copy_(a.bias)
    x = torch.randn(1, c, hw, hw, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(conv_net(x).flatten(1), fc_net(x))
    big = [int(t) for t in v["big"]]
    xb = torch.randn(1, *big, dtype=torch.float64, requires_grad=True)
    out = conv_net(xb)
    assert list(out.shape[1:]) == v["out_big"]
    step, window = int(v["window_step"]), int(v["window"])
    for i, j in [(0, 0), (out.shape[2] - 1, out.shape[3] - 1), (out.shape[2] // 2, 0)]:
        crop = xb[:, :, i * step: i * step + hw, j * step: j * step + hw]
        assert torch.allclose(out[:, :, i, j], fc_net(crop))
        (g,) = torch.autograd.grad(out[0, :, i, j].sum(), xb, retain_graph=True)
        rows = torch.nonzero(g[0].abs().sum(dim=(0, 2)))
        cols = torch.nonzero(g[0].abs().sum(dim=(0, 1)))
        assert int(rows.min()) >= i * step and int(rows.max()) < i * step + window
        assert int(cols.min()) >= j * step and int(cols.max()) < j * step + window
