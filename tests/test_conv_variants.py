"""Transposed convolution (engine and spec), grouped and depthwise-separable parameter counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from i2dl.errors import EngineError
from i2dl.functions import FUNCTIONS
from tests.strategies import (
    assert_bad_call,
    assert_close,
    assert_same_error,
    central_difference,
    cli_solve,
    finite,
    float_arrays,
)

FAST = settings(max_examples=50, deadline=None)
ND = pytest.mark.parametrize("nd", [1, 2], ids=["1d", "2d"])
SPECS = Path(__file__).resolve().parents[1] / "problems" / "specs"

# UTM CSC413 (Fall 2024), exercises of week 10, exercise 3 (transposed convolution by hand)
CSC413_X = [[1, 0, 2], [2, 3, 0], [-1, 0, 3]]
CSC413_K = [[1, 0], [1, 2]]
CSC413_STRIDE2 = [[1, 0, 0, 0, 2, 0], [1, 2, 0, 0, 2, 4], [2, 0, 3, 0, 0, 0],
                  [2, 4, 3, 6, 0, 0], [-1, 0, 0, 0, 3, 0], [-1, -2, 0, 0, 3, 6]]
CSC413_STRIDE1 = [[1, 0, 2, 0], [3, 5, 2, 4], [1, 7, 9, 0], [-1, -2, 3, 6]]


def op(engine, nd: int, name: str = ""):
    """engine.conv_transpose1d_<name> or engine.conv_transpose2d_<name>."""
    return getattr(engine, f"conv_transpose{nd}d" + (f"_{name}" if name else ""))


@st.composite
def transpose_cases(draw, nd: int):
    """dict(x, w, stride, padding) for conv_transpose{nd}d, single- or multi-channel, output non-empty."""
    single = draw(st.booleans())
    c_in, c_out = (1, 1) if single else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    n = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    # padding crops at most what leaves one output entry: 2p <= (n - 1)s + k - 1
    p = tuple(draw(st.integers(0, ((nn - 1) * ss + kk - 1) // 2)) for nn, kk, ss in zip(n, k, s, strict=True))
    x = draw(float_arrays(n if single else (c_in, *n)))
    w = draw(float_arrays(k if single else (c_in, c_out, *k)))
    pick = draw(st.booleans()) and nd == 2 and len(set(s)) == 1 and len(set(p)) == 1
    return {"x": x, "w": w, "stride": s[0] if nd == 1 or pick else s, "padding": p[0] if nd == 1 or pick else p}


def solved(spec_id: str, pins: list[str]) -> dict:
    """`i2dl solve SPEC --param ... --json`: every blank's value by name."""
    return {b["name"]: b["value"] for part in cli_solve(spec_id, pins)["parts"] for b in part["blanks"]}


def upstream(engine, nd: int, case: dict) -> np.ndarray:
    """A deterministic upstream gradient shaped like the forward output."""
    shape = op(engine, nd)(case["x"], case["w"], case["stride"], case["padding"]).shape
    return np.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape)


# --- a published exercise's own numbers -------------------------------------------------------


def test_conv_transpose2d_reproduces_csc413_exercise_3(engine):
    """UTM CSC413 Fall 2024, week-10 exercise 3 (https://utm-csc413.github.io/2024F-website/ex/w10/exercises10.html):
    X = [[1,0,2],[2,3,0],[-1,0,3]] with K = [[1,0],[1,2]] at stride 2 and at stride 1 (the course's PyTorch check)."""
    assert_close(engine.conv_transpose2d(CSC413_X, CSC413_K, stride=2), CSC413_STRIDE2)
    assert_close(engine.conv_transpose2d(CSC413_X, CSC413_K, stride=1), CSC413_STRIDE1)


def test_conv_transpose_spec_solves_csc413_exercise_3_when_pinned():
    """`i2dl solve conv-transpose-by-hand` with the CSC413 week-10 numbers gives the course's 6x6 and 4x4 outputs
    (https://utm-csc413.github.io/2024F-website/ex/w10/exercises10.html)."""
    pins = ["X=[[1,0,2],[2,3,0],[-1,0,3]]", "K=[[1,0],[1,2]]", "stride=2", "padding=0"]
    out = solved("conv-transpose-by-hand", pins)
    assert out["n_out_answer"] == 6
    assert_close(out["Y"], CSC413_STRIDE2)
    out1 = solved("conv-transpose-by-hand", pins[:2] + ["stride=1", "padding=0"])
    assert out1["n_out_answer"] == 4
    assert_close(out1["Y"], CSC413_STRIDE1)


def test_conv_transpose1d_scatter_adds_overlapping_copies(engine):
    """x = [1, 2], w = [1, 1, 1], stride 1: the middle entries get both copies, 1 + 2 = 3."""
    assert_close(engine.conv_transpose1d([1, 2], [1, 1, 1]), [1, 3, 3, 2])
    # padding 1 crops one entry from each end of the scattered [1, 3, 3, 2]
    assert_close(engine.conv_transpose1d([1, 2], [1, 1, 1], padding=1), [3, 3])


def test_conv_transpose_is_the_input_gradient_of_the_convolution(engine):
    """convT(g, w) equals dL/dx of y = conv(x, w) with dL/dy = g, for the same stride and padding."""
    g, w = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[1.0, 2.0, 0.0], [-1.0, 1.0, 2.0], [0.0, 1.0, 1.0]])
    x = np.zeros((5, 5))  # (2 - 1) * 2 - 2 * 0 + 3 = 5
    assert_close(engine.conv_transpose2d(g, w, stride=2), engine.conv2d_grad_input(x, w, g, stride=2))


# --- numpy vs torch, and numpy vs central differences ------------------------------------------


@pytest.mark.torch
@ND
@FAST
@given(data=st.data())
def test_conv_transpose_forward_matches_torch(np_engine, torch_engine, nd, data):
    case = data.draw(transpose_cases(nd))
    args = (case["x"], case["w"], case["stride"], case["padding"])
    assert_close(op(np_engine, nd)(*args), op(torch_engine, nd)(*args))


@pytest.mark.torch
@ND
@FAST
@given(data=st.data(), wrt=st.sampled_from(["grad_input", "grad_weight"]))
def test_conv_transpose_gradients_match_torch_autograd(np_engine, torch_engine, nd, data, wrt):
    case = data.draw(transpose_cases(nd))
    args = (case["x"], case["w"], upstream(np_engine, nd, case), case["stride"], case["padding"])
    assert_close(op(np_engine, nd, wrt)(*args), op(torch_engine, nd, wrt)(*args))


@ND
@FAST
@given(data=st.data())
def test_conv_transpose_gradients_match_central_differences(np_engine, nd, data):
    case = data.draw(transpose_cases(nd))
    g, geo = upstream(np_engine, nd, case), (case["stride"], case["padding"])
    f = op(np_engine, nd)
    dx = central_difference(lambda x: f(x, case["w"], *geo), case["x"], g)
    dw = central_difference(lambda w: f(case["x"], w, *geo), case["w"], g)
    assert_close(op(np_engine, nd, "grad_input")(case["x"], case["w"], g, *geo), dx, rtol=1e-6, atol=1e-6)
    assert_close(op(np_engine, nd, "grad_weight")(case["x"], case["w"], g, *geo), dw, rtol=1e-6, atol=1e-6)


@pytest.mark.torch
@FAST
@given(data=st.data(), scale=finite)
def test_conv_transpose2d_vjp_of_the_answer_graph_matches_torch(np_engine, torch_engine, data, scale):
    """grad() through conv_transpose2d in a spec expression: the registered VJP on both engines."""
    case = data.draw(transpose_cases(2))
    fn = FUNCTIONS["conv_transpose2d"]
    out = fn.call(np_engine, fn.bind([case["x"], case["w"], case["stride"], case["padding"]], {}))
    g = np.full(np.shape(out), scale)
    got = {e.name: fn.vjp(e, g, out, case["x"], case["w"], case["stride"], case["padding"])
           for e in (np_engine, torch_engine)}
    for arg in ("x", "w"):
        assert_close(got["numpy"][arg], got["torch"][arg])


# --- bad calls --------------------------------------------------------------------------------


def test_conv_transpose_refuses_padding_that_crops_everything(engine):
    """(2 - 1) * 1 + 2 = 3 scattered entries; cropping 2 * 2 = 4 leaves none."""
    assert_bad_call(engine, "conv_transpose1d", ([1, 2], [1, 1]), {"padding": 2}, "padding", "leaves no output")


def test_conv_transpose_refuses_mismatched_channels_alike(np_engine, torch_engine):
    """w's first axis is C_in (torch's layout); both engines reject a mismatch with one message."""
    args = (np.ones((2, 3, 3)), np.ones((3, 2, 2, 2)))
    assert_bad_call(np_engine, "conv_transpose2d", args, {}, "w", "C_in=3")
    assert_same_error([np_engine, torch_engine], "conv_transpose2d", args, {})


def test_conv_transpose_grad_out_must_have_the_output_shape(engine):
    with pytest.raises(EngineError):
        engine.conv_transpose1d_grad_input([1, 2], [1, 1, 1], [1, 2, 3])


# --- grouped and depthwise-separable parameter counts -------------------------------------------


def test_conv_params_divides_the_inputs_by_groups():
    """c_in 8, c_out 16, 3x3, groups 4: 16 * (8 / 4) * 9 + 16 = 304; groups = c_in is depthwise."""
    conv_params = FUNCTIONS["conv_params"].impl
    assert conv_params(8, 16, 3, groups=4) == 304
    assert conv_params(8, 8, 3, bias=False, groups=8) == 72
    assert conv_params(8, 16, 3) == 16 * 8 * 9 + 16


@pytest.mark.parametrize("c_in, c_out", [(6, 8), (8, 6)])
def test_conv_params_refuses_channels_not_divisible_by_groups(c_in, c_out):
    from i2dl.shapes import conv_params

    with pytest.raises(EngineError, match="divisible by groups"):
        conv_params(c_in, c_out, 3, groups=4)


@pytest.mark.torch
@pytest.mark.parametrize("c_in, c_out, k, groups, bias", [(8, 16, 3, 4, True), (6, 6, 5, 6, False),
                                                         (12, 4, 1, 2, True), (3, 9, 3, 3, False)])
def test_conv_params_equals_the_torch_layer_parameter_count(c_in, c_out, k, groups, bias):
    torch = pytest.importorskip("torch")
    from i2dl.shapes import conv_params

    layer = torch.nn.Conv2d(c_in, c_out, k, groups=groups, bias=bias)
    assert conv_params(c_in, c_out, k, bias, groups) == sum(p.numel() for p in layer.parameters())


def test_conv_transpose_overwritten_drops_the_overlap_sums():
    """The named mistake's helper: [1, 2] with [1, 1, 1] overwrites to [1, 2, 2, 2] instead of [1, 3, 3, 2]."""
    assert_close(FUNCTIONS["conv_transpose_overwritten"].impl([1, 2], [1, 1, 1]), [1, 2, 2, 2])
    assert_close(FUNCTIONS["conv_transpose_overwritten"].impl([[1, 2]], [[1, 1]], 1, 0), [[1, 2, 2]])


# --- the spec families ------------------------------------------------------------------------


def _instance(spec_id: str, seed: int = 0, pins: dict | None = None):
    from i2dl.engine import get_engine
    from i2dl.spec.instance import make_instance
    from tests.samples import LIBRARY

    return make_instance(LIBRARY.get(spec_id), seed, get_engine("numpy"), pins=pins or {})


def _grade(spec_id: str, pins: dict, answers: dict[str, dict]) -> dict:
    """Grade one submission of `answers` (part id -> blank -> text) on the exam of one pinned instance."""
    from i2dl.exam import build_exam
    from i2dl.grade.score import Grader, Submission

    exam = build_exam(spec_id, 0, pins=pins, engine_name="numpy")
    number = {p.id: p.number for p in exam.problems[0].parts}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id,
                                                    {number[k]: v for k, v in answers.items()}))
    return {b.name: b for p in result.parts for b in p.blanks}


@pytest.mark.parametrize("spec_id", ["conv-transpose-by-hand", "conv-param-counts"])
def test_conv_variant_specs_validate_without_errors_or_warnings(spec_id):
    from tests.strategies import assert_spec_validates

    assert_spec_validates(SPECS / f"{spec_id}.yaml", samples=100, max_tries=10)


def test_grade_conv_transpose_names_the_forgotten_overlap_sum():
    """CSC413 X and K at stride 1: writing the overwritten scatter earns 0 with the overlap feedback."""
    pins = {"X": np.array(CSC413_X, float), "K": np.array(CSC413_K, float), "stride": 1, "padding": 0}
    wrong = FUNCTIONS["conv_transpose_overwritten"].impl(CSC413_X, CSC413_K, 1, 0)
    blanks = _grade("conv-transpose-by-hand", pins, {"forward": {"Y": wrong.tolist()},
                                                      "output-size": {"n_out_answer": "2"}})
    assert blanks["Y"].credit == 0 and "add up" in blanks["Y"].feedback
    assert blanks["n_out_answer"].credit == 0 and "ordinary convolution" in blanks["n_out_answer"].feedback


def test_conv_param_counts_reproduce_the_textbook_exercises_9_and_10():
    """Textbook of AI, CNN chapter, exercises 9-10 (https://www.textbookofai.com/chapter/cnns/exercises.html):
    3x3, 64 -> 128 channels on 56x56: 231,211,008 multiply-adds standard (231.2 M); depthwise-separable
    27,496,448 (27.5 M) and 64*9 + 64*128 = 8,768 weights (no biases)."""
    out = solved("conv-param-counts", ["c_in=64", "c_out=128", "kernel=3", "H=56", "bias=false", "groups=4"])
    assert out["macs_std"] == pytest.approx(231.211008) and out["params_std"] == 73_728
    assert out["macs_sep"] == pytest.approx(27.496448) and out["params_sep"] == 8_768
    assert out["params_grp"] == 18_432 and out["macs_grp"] == pytest.approx(57.802752)
    assert abs(out["ratio"] - (1 / 128 + 1 / 9)) < 1e-12


def test_grade_conv_param_counts_credits_the_depthwise_component_and_names_the_kxk_pointwise():
    pins = {"c_in": 64, "c_out": 128, "kernel": 3, "H": 56, "bias": True, "groups": 4}
    # depthwise 9*64 + 64 = 640 right, pointwise written as 3x3: 9*64*128 + 128 = 73856
    blanks = _grade("conv-param-counts", pins, {"separable": {"params_sep": "640 + 73856"},
                                                "grouped": {"params_grp": "73856"}})
    assert blanks["params_sep"].credit == 0.5
    assert blanks["params_grp"].credit == 0 and "c_in / groups" in blanks["params_grp"].feedback


@pytest.mark.torch
def test_conv_transpose_spec_matches_torch_autograd_over_random_instances():
    """Y, dL/dX and dL/dK of 50 instances equal F.conv_transpose2d and torch.autograd.grad of sum(G * Y)."""
    torch = pytest.importorskip("torch")
    for seed in range(50):
        v = _instance("conv-transpose-by-hand", seed).values
        X = torch.tensor(np.asarray(v["X"], float), requires_grad=True)
        K = torch.tensor(np.asarray(v["K"], float), requires_grad=True)
        Y = torch.nn.functional.conv_transpose2d(X[None, None], K[None, None], stride=int(v["stride"]),
                                                 padding=int(v["padding"]))[0, 0]
        dX, dK = torch.autograd.grad((Y * torch.tensor(np.asarray(v["G"], float))).sum(), (X, K))
        assert_close(v["Y"], Y.detach().numpy())
        assert_close(v["dX"], dX.numpy())
        assert_close(v["dK"], dK.numpy())


@pytest.mark.torch
def test_conv_param_counts_match_torch_layers_over_random_instances():
    """Parameters of 50 instances equal nn.Conv2d's; multiply-adds equal output entries times weights per output."""
    torch = pytest.importorskip("torch")
    for seed in range(50):
        v = _instance("conv-param-counts", seed).values
        ci, co, k, g, h, bias = (int(v["c_in"]), int(v["c_out"]), int(v["kernel"]), int(v["groups"]),
                                 int(v["H"]), bool(v["bias"]))

        def count(*layers):
            return sum(p.numel() for layer in layers for p in layer.parameters())

        std = torch.nn.Conv2d(ci, co, k, padding=k // 2, bias=bias)
        grp = torch.nn.Conv2d(ci, co, k, padding=k // 2, groups=g, bias=bias)
        dw = torch.nn.Conv2d(ci, ci, k, padding=k // 2, groups=ci, bias=bias)
        pw = torch.nn.Conv2d(ci, co, 1, bias=bias)
        assert (v["params_std"], v["params_grp"], v["params_sep"]) == (count(std), count(grp), count(dw, pw))
        out = std(torch.zeros(1, ci, h, h))
        assert out.shape[-1] == h  # the statement's size-keeping padding
        per_output = {m: m.weight[0].numel() for m in (std, grp, dw, pw)}  # weights one output entry reads
        assert v["macs_std"] * 1e6 == pytest.approx(out.numel() * per_output[std])  # asked in millions
        assert v["macs_grp"] * 1e6 == pytest.approx(out.numel() * per_output[grp])
        assert v["macs_sep"] * 1e6 == pytest.approx(ci * h * h * per_output[dw] + out.numel() * per_output[pw])


def test_budget_refuses_a_transposed_convolution_too_large_before_scattering():
    """[1, 1] at stride 10^7 would scatter into (2 - 1) 10^7 + 2 entries: refused by its size, not built."""
    from i2dl.engine import get_engine
    from i2dl.errors import BudgetError
    from i2dl.evaluate import Evaluator
    from i2dl.expr import parse
    from i2dl.limits import Budget

    with pytest.raises(BudgetError, match="entries"):
        Evaluator(get_engine("numpy"), {}, budget=Budget(elements=1000)).eval(
            parse("conv_transpose1d([1, 1], [1, 1], 10000000)").node)
    assert Evaluator(get_engine("numpy"), {}, budget=Budget(elements=1000)).eval(
        parse("conv_transpose1d([1, 1], [1, 1], 2)").node).tolist() == [1, 1, 1, 1]
