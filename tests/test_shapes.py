"""i2dl.shapes: exam fixtures, sizes and parameter counts against torch modules, receptive
fields against a brute-force backward walk, and bad layer lists."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from i2dl.errors import EngineError
from i2dl.shapes import (
    LAYER_TYPES,
    batchnorm_buffers,
    batchnorm_params,
    conv_out_size,
    conv_params,
    linear_params,
    param_counts,
    parse_stack,
    pool_out_size,
    propagate,
    receptive_fields,
    weight_shapes,
)

FAST = settings(max_examples=25, deadline=None)


# --- exam fixtures ---------------------------------------------------------------------------

def test_1x1_conv_filter_on_32_channels_has_33_params_2022_endterm_1_3():
    """2022 endterm 1.3: one 1x1 filter over 32 channels: 32 weights + 1 bias."""
    assert conv_params(32, 1, 1) == 33


def test_11x11_conv_3_to_96_channels_has_34944_params_2020_mock_VI_d():
    """2020 mock VI(d): 11 * 11 * 3 * 96 + 96 = 34944."""
    assert conv_params(3, 96, 11) == 34944
    assert conv_params(3, 96, (11, 11), bias=False) == 34848


def test_conv_out_size_matches_2020_mock_II_8():
    """2020 mock II.8: floor((32 + 2 - 6) / 2) + 1 = 15."""
    assert conv_out_size(32, 6, stride=2, padding=1) == 15


def test_batchnorm2d_on_3_channels_holds_6_running_statistics_2022_endterm_7_3():
    """2022 endterm 7.3: running mean and running variance per channel, 2 * 3 = 6."""
    assert batchnorm_buffers(3) == 6
    assert batchnorm_params(3) == 6
    assert param_counts((3, 32, 64), [{"type": "batchnorm2d"}]) == [6]


def test_conv1d_then_maxpool_on_7_inputs_matches_2024_endterm_3_1():
    """2024 endterm 3.1: conv k = 3 gives 7 - 3 + 1 = 5, maxpool (2, stride 1) gives 4, FC input 4."""
    layers = [{"type": "conv1d", "out": 1, "k": 3}, {"type": "maxpool1d", "k": 2, "stride": 1},
              {"type": "flatten"}]
    assert propagate((1, 7), layers) == [(1, 5), (1, 4), (4,)]
    assert pool_out_size(5, 2, stride=1) == 4


LENET_START = [{"type": "conv2d", "out": 6, "k": 5}, {"type": "relu"},
               {"type": "maxpool2d", "k": 2, "stride": 2}]


def test_lenet_receptive_fields_match_2024_endterm_4_1():
    """2024 endterm 4.1 (LeNet on 32x32): conv1 5x5 sees 5x5, maxpool1 (2, stride 2) 6x6, f1 the whole image."""
    layers = [*LENET_START, {"type": "conv2d", "out": 16, "k": 5}, {"type": "maxpool2d", "k": 2},
              {"type": "flatten"}, {"type": "linear", "out": 120}]
    rf = receptive_fields(layers)
    assert [r.size for r in rf[:3]] == [5, 5, 6]
    assert rf[2].jump == 2
    assert rf[-1].size is None and rf[-1].jump is None  # f1: the whole input
    assert propagate((1, 32, 32), layers)[-3:] == [(16, 5, 5), (400,), (120,)]


def test_receptive_field_after_maxpool_1_is_6_2022_endterm_4_7():
    """2022 endterm 4.7: conv k5 s1 then maxpool k2 s2: r = 5 + 1 * (2 - 1) = 6 (the key's working
    writes r1 = 3 but uses 5); 4.8: after the linear layer, the whole input."""
    layers = [{"type": "conv2d", "out": 8, "k": 5}, {"type": "maxpool2d", "k": 2, "stride": 2},
              {"type": "flatten"}, {"type": "linear", "out": 19}]
    assert [r.size for r in receptive_fields(layers)] == [5, 6, None, None]


def test_flatten_size_before_linear_is_784_2022_endterm_4_3():
    """2022 endterm 4.3: 28 -> conv (same) 28 -> pool 14 -> conv 14 -> pool 7: k = 16 * 7 * 7 = 784."""
    block = [{"type": "maxpool2d", "k": 2}, {"type": "batchnorm2d"}, {"type": "relu"}]
    layers = [{"type": "conv2d", "in": 2, "out": 8, "k": 3, "padding": "same"}, *block,
              {"type": "conv2d", "in": 8, "out": 16, "k": 3, "stride": 1, "padding": 1}, *block,
              {"type": "flatten"}, {"type": "linear", "out": 19}]
    shapes = propagate((2, 28, 28), layers)
    assert [s[-1] for s in shapes[:6]] == [28, 14, 14, 14, 14, 7]
    assert shapes[-2] == (16 * 7 * 7,) == (784,)
    assert shapes[-1] == (19,)
    counts = param_counts((2, 28, 28), layers)
    assert counts == [2 * 8 * 9 + 8, 0, 16, 0, 8 * 16 * 9 + 16, 0, 32, 0, 0, 784 * 19 + 19]


def test_linear_and_pool_basics():
    assert linear_params(784, 10) == 7850
    assert linear_params(784, 10, bias=False) == 7840
    assert pool_out_size(7, 2) == 3
    assert pool_out_size(7, 2, ceil_mode=True) == 4
    assert conv_out_size(10, 3, dilation=2) == 6
    assert conv_params(4, 2, (3,)) == 26  # a 1-D kernel as a 1-tuple


# --- against torch -------------------------------------------------------------------------

@st.composite
def conv2d_stacks(draw):
    """A small random stack of conv2d / pools / elementwise layers with a flatten + linear head."""
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv2d", "maxpool2d", "avgpool2d", "relu", "batchnorm2d"]))
        if kind == "conv2d":
            layers.append({"type": kind, "out": draw(st.integers(1, 3)), "k": draw(st.integers(1, 3)),
                           "stride": draw(st.integers(1, 2)), "padding": draw(st.integers(0, 1)),
                           "bias": draw(st.booleans())})
        elif kind.endswith("pool2d"):
            k = draw(st.integers(1, 2))
            layers.append({"type": kind, "k": k, "stride": draw(st.sampled_from([None, 1, 2])),
                           "ceil_mode": draw(st.booleans())})
        else:
            layers.append({"type": kind})
    return [*layers, {"type": "flatten"}, {"type": "linear", "out": draw(st.integers(1, 4))}]


def _torch_module(torch, spec: dict, shape: tuple):
    nn = torch.nn
    kind = spec["type"]
    if kind == "conv2d":
        return nn.Conv2d(shape[0], spec["out"], spec["k"], spec["stride"], spec["padding"], bias=spec["bias"])
    if kind.endswith("pool2d"):
        cls = nn.MaxPool2d if kind == "maxpool2d" else nn.AvgPool2d
        return cls(spec["k"], spec["stride"], ceil_mode=spec["ceil_mode"])
    if kind == "batchnorm2d":
        return nn.BatchNorm2d(shape[0])
    if kind == "linear":
        return nn.Linear(shape[-1], spec["out"])
    return nn.Flatten(0) if kind == "flatten" else nn.ReLU()


@pytest.mark.torch
@FAST
@given(layers=conv2d_stacks(), c=st.integers(1, 3), h=st.integers(6, 9), w=st.integers(6, 9))
def test_propagate_and_param_counts_match_torch_modules(layers, c, h, w):
    torch = pytest.importorskip("torch")
    x = torch.zeros(c, h, w)
    try:
        shapes, counts = propagate((c, h, w), layers), param_counts((c, h, w), layers)
    except EngineError:
        # A stack that shrinks the input below a kernel is refused; torch must refuse it too.
        with pytest.raises(RuntimeError):
            for spec in layers:
                module = _torch_module(torch, spec, tuple(x.shape))
                x = module(x.unsqueeze(0)).squeeze(0) if spec["type"] == "batchnorm2d" else module(x)
        return
    for spec, shape, count in zip(layers, shapes, counts, strict=True):
        module = _torch_module(torch, spec, tuple(x.shape))
        if spec["type"] == "batchnorm2d":
            module.train(False)  # shape only: no batch statistics needed
            x = module(x.unsqueeze(0)).squeeze(0)
        else:
            x = module(x)
        assert tuple(x.shape) == shape
        assert sum(p.numel() for p in module.parameters()) == count


@pytest.mark.torch
@FAST
@given(n=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       ceil=st.booleans())
def test_pool_out_size_matches_torch_maxpool1d(n, k, s, p, ceil):
    # torch is the oracle for what is refused too: with ceil_mode a window may run past the end,
    # so a kernel of 2 pools a 1-entry input with stride 2.
    torch = pytest.importorskip("torch")
    try:
        expected = torch.nn.MaxPool1d(k, s, p, ceil_mode=ceil)(torch.zeros(1, 1, n)).shape[-1]
    except RuntimeError:
        with pytest.raises(EngineError):
            pool_out_size(n, k, s, p, ceil)
        return
    assert pool_out_size(n, k, s, p, ceil) == expected


@pytest.mark.torch
@FAST
@given(n=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2))
def test_conv_out_size_matches_torch_conv1d(n, k, s, p, d):
    torch = pytest.importorskip("torch")
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(EngineError, match="larger than the padded input"):
            conv_out_size(n, k, s, p, d)
        return
    out = torch.nn.Conv1d(1, 1, k, s, p, dilation=d)(torch.zeros(1, 1, n))
    assert conv_out_size(n, k, s, p, d) == out.shape[-1]


# --- receptive fields against a brute-force walk ---------------------------------------------

def _brute_force_receptive_field(layers: list[dict]) -> int:
    """Walk one output unit back to the input: a range [a, b] of outputs of a layer with kernel
    extent e and stride s reads the inputs [a s, b s + e - 1]."""
    a, b = 0, 0
    for spec in reversed(layers):
        if spec["type"] in ("conv1d", "maxpool1d"):
            extent = spec.get("dilation", 1) * (spec["k"] - 1) + 1
            s = spec.get("stride") or (spec["k"] if spec["type"] == "maxpool1d" else 1)
            a, b = a * s, b * s + extent - 1
    return b - a + 1


@st.composite
def layer_chains_1d(draw):
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv1d", "maxpool1d", "relu"]))
        if kind == "conv1d":
            layers.append({"type": kind, "out": 1, "k": draw(st.integers(1, 5)),
                           "stride": draw(st.integers(1, 3)), "dilation": draw(st.integers(1, 2))})
        elif kind == "maxpool1d":
            layers.append({"type": kind, "k": draw(st.integers(1, 3)), "stride": draw(st.sampled_from([None, 1, 2]))})
        else:
            layers.append({"type": kind})
    return layers


@FAST
@given(layers=layer_chains_1d())
def test_receptive_field_formula_matches_brute_force_walk(layers):
    rf = receptive_fields(layers)
    for i in range(len(layers)):
        assert rf[i].size == _brute_force_receptive_field(layers[: i + 1])


def test_receptive_field_of_non_square_kernels_is_a_pair():
    rf = receptive_fields([{"type": "conv2d", "out": 1, "k": (3, 5), "stride": (1, 2)},
                           {"type": "conv2d", "out": 1, "k": 3}])
    assert rf[0] == ((3, 5), (1, 2))
    assert rf[1] == ((5, 9), (1, 2))


# --- bad calls -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, arg, words", [
    (lambda: conv_out_size(0, 3), "n", ">= 1"),
    (lambda: conv_out_size(5, 3, stride=0), "stride", ">= 1"),
    (lambda: conv_out_size(5, 3, padding=-1), "padding", ">= 0"),
    (lambda: conv_out_size(4, 7, padding=1), "k", "larger than the padded input 4 + 2*1 = 6"),
    (lambda: conv_out_size(4.5, 3), "n", "integer"),
    (lambda: pool_out_size(3, 4), "k", "larger than the padded input"),
    (lambda: pool_out_size(8, 2, padding=2), "padding", "half the kernel"),
    (lambda: conv_params(0, 3, 3), "c_in", ">= 1"),
    (lambda: conv_params(3, 3, ()), "k", "non-empty"),
    (lambda: linear_params(3, -1), "n_out", ">= 1"),
    (lambda: batchnorm_params(0), "c", ">= 1"),
], ids=["n0", "stride0", "padneg", "kbig", "nfloat", "poolbig", "poolpad", "cin0", "kempty", "nout", "bn0"])
def test_bad_sizes_raise_engine_error_naming_the_argument(call, arg, words):
    with pytest.raises(EngineError) as info:
        call()
    assert info.value.arg == arg and words in str(info.value)


@pytest.mark.parametrize("shape, layers, arg, words", [
    ((3, 8, 8), [{"type": "relu"}, {"type": "conv3d", "out": 1, "k": 3}], "layers[1]", "unknown layer type 'conv3d'"),
    ((3, 8, 8), [{"type": "conv2d", "out": 4}], "layers[0].k", "conv2d needs 'kernel'"),
    ((3, 8, 8), [{"type": "conv2d", "out": 4, "k": 3, "strid": 2}], "layers[0].strid", "no key 'strid'"),
    ((3, 8, 8), [{"type": "conv2d", "out": 4, "k": 9}], "layers[0]", "larger than the padded input"),
    ((3, 8, 8), [{"type": "conv2d", "in": 1, "out": 4, "k": 3}], "layers[0].in", "expects 1 input channels"),
    ((8, 8), [{"type": "conv2d", "out": 4, "k": 3}], "layers[0]", "(C, H, W)"),
    ((3, 8, 8), [{"type": "conv2d", "out": 4, "k": 3, "stride": 2, "padding": "same"}], "layers[0].padding", "stride 1"),
    ((3, 8, 8), [{"type": "linear", "in": 192, "out": 4}], "layers[0]", "takes a vector"),
    ((3, 8, 8), ["relu"], "layers[0]", "'type' key"),
    ((0, 8, 8), [], "input_shape", ">= 1"),
], ids=["unknown", "missing", "typo", "kbig", "channels", "rank", "same-stride", "noflatten", "notdict", "shape0"])
def test_bad_layer_lists_raise_engine_error_naming_the_layer(shape, layers, arg, words):
    with pytest.raises(EngineError) as info:
        propagate(shape, layers)
    assert info.value.op == "propagate" and info.value.arg == arg and words in str(info.value)


def test_unknown_layer_type_lists_the_known_types():
    with pytest.raises(EngineError) as info:
        receptive_fields([{"type": "attention"}])
    assert "layers[0]" in str(info.value) and all(t in str(info.value) for t in LAYER_TYPES)


def test_shapes_module_needs_no_numpy():
    import ast
    import pathlib

    import i2dl.shapes
    tree = ast.parse(pathlib.Path(i2dl.shapes.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"numpy", "torch"}



@pytest.mark.torch
@FAST
@given(g=st.integers(1, 4), a=st.integers(1, 3), b=st.integers(1, 3), k=st.integers(1, 3),
       bias=st.booleans(), side=st.integers(3, 6))
def test_grouped_conv_shapes_param_counts_and_weight_shapes_match_torch(g, a, b, k, bias, side):
    # groups split both channel counts: g * a inputs, g * b filters; a = 1 with b = 1 is depthwise
    torch = pytest.importorskip("torch")
    stack = parse_stack(f"conv({g * b},k{k},g{g}{',nobias' if not bias else ''})")
    module = torch.nn.Conv2d(g * a, g * b, k, groups=g, bias=bias)
    x = torch.zeros(g * a, side, side)
    assert propagate((g * a, side, side), stack) == [tuple(module(x).shape)]
    assert param_counts((g * a, side, side), stack) == [sum(p.numel() for p in module.parameters())]
    assert weight_shapes((g * a, side, side), stack) == [tuple(module.weight.shape)]


def test_grouped_conv_refuses_channels_the_groups_do_not_divide():
    with pytest.raises(EngineError, match=r"layers\[0\]\.groups.*30 input channels cannot be split into 4 groups"):
        param_counts((30, 8, 8), parse_stack("conv(32,k3,groups=4)"))
    with pytest.raises(EngineError, match=r"6 filters cannot be split into 4 groups"):
        propagate((8, 8, 8), [{"type": "conv2d", "out": 6, "k": 3, "groups": 4}])


def test_misread_params_groups_ignored_counts_a_depthwise_conv_as_a_full_one():
    from i2dl.functions import misread_params

    stack = "conv(32,k3,p1,g32) conv(64,k1)"  # a depthwise separable block
    assert sum(param_counts((32, 8, 8), parse_stack(stack))) == 32 * 9 + 32 + 32 * 64 + 64
    assert misread_params((32, 8, 8), stack, "groups-ignored") == 32 * 32 * 9 + 32 + 32 * 64 + 64


@pytest.mark.torch
@FAST
@given(g=st.integers(1, 2), a=st.integers(1, 2), b=st.integers(1, 2), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 2), o=st.integers(0, 2), d=st.integers(1, 2), bias=st.booleans(), side=st.integers(1, 5))
@example(g=2, a=1, b=1, k=2, s=1, p=1, o=0, d=1, bias=False, side=1)  # cropped to exactly nothing
def test_conv_transpose_layer_matches_torch_conv_transpose2d(g, a, b, k, s, p, o, d, bias, side):
    # torch is the oracle for what is refused too: output padding of at least the stride and the
    # dilation, or a padding that crops the whole output (torch makes an empty output where the
    # crop leaves exactly nothing; a layer of an exam's network that outputs nothing is refused)
    torch = pytest.importorskip("torch")
    layer = {"type": "conv_transpose2d", "out": g * b, "k": k, "stride": s, "padding": p, "output_padding": o,
             "dilation": d, "groups": g, "bias": bias}
    shape = (g * a, side, side)
    try:
        got = propagate(shape, [layer]), param_counts(shape, [layer]), weight_shapes(shape, [layer])
    except EngineError:
        try:
            y = torch.nn.ConvTranspose2d(g * a, g * b, k, s, p, o, groups=g, bias=bias, dilation=d)(torch.zeros(shape))
        except (RuntimeError, ValueError):
            return
        assert 0 in y.shape, (layer, shape)
        return
    module = torch.nn.ConvTranspose2d(g * a, g * b, k, s, p, o, groups=g, bias=bias, dilation=d)
    assert got == ([tuple(module(torch.zeros(shape)).shape)], [sum(t.numel() for t in module.parameters())],
                   [tuple(module.weight.shape)])


def test_conv_transpose_out_size_undoes_a_strided_convolution_with_output_padding():
    from i2dl.shapes import conv_transpose_out_size

    # 7 and 8 both shrink to 4 under k3, s2, p1: output padding says which one the decoder makes
    assert {conv_out_size(n, 3, 2, 1) for n in (7, 8)} == {4}
    assert [conv_transpose_out_size(4, 3, 2, 1, op) for op in (0, 1)] == [7, 8]
    with pytest.raises(EngineError, match="output_padding"):
        conv_transpose_out_size(4, 3, 2, 1, 2)


def test_parse_stack_reads_a_decoder_and_receptive_fields_refuse_it():
    stack = parse_stack("conv(16,k3,s2,p1) tconv(8,k3,s2,p1,op=1) deconv(4,k4,s2,p1)")
    assert [d["type"] for d in stack] == ["conv2d", "conv_transpose2d", "conv_transpose2d"]
    assert stack[1]["output_padding"] == 1
    assert propagate((3, 32, 32), stack) == [(16, 16, 16), (8, 32, 32), (4, 64, 64)]
    with pytest.raises(EngineError, match=r"layers\[1\].*transposed|layers\[1\].*conv_transpose2d"):
        receptive_fields(stack)
    with pytest.raises(EngineError, match="padding"):
        propagate((3, 8, 8), [{"type": "conv_transpose2d", "out": 2, "k": 3, "padding": "same"}])


def test_stack_functions_count_a_transposed_convolution_as_weighted_and_not_downsampling():
    from i2dl.functions import (
        describe_layers,
        first_downsampling,
        learnable_counts,
        misread_params,
        weighted_layers,
    )

    stack = "tconv(8,k2,s2) relu conv(4,k3,s2)"  # (16, 4, 4) -> (8, 8, 8) -> (4, 3, 3)
    assert weighted_layers(stack) == [0, 2]
    assert first_downsampling(stack) == 2  # the strided transposed convolution grows the map
    assert learnable_counts((16, 4, 4), stack) == [16 * 8 * 4 + 8, 8 * 4 * 9 + 4]
    assert misread_params((16, 4, 4), stack, "bias-forgotten") == 16 * 8 * 4 + 8 * 4 * 9
    assert describe_layers(stack).splitlines()[0] == "1. 2-D transposed convolution, 8 filters, kernel 2 x 2, stride 2"
