"""The CNN-architecture, layer-arithmetic, optimizer, loss, activation and batchnorm spec
families: each seed sub-question they reproduce (pinned to the exam's numbers), the optimizer
specs against torch.optim, the CLI, and validation of every spec of these families."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import EngineError
from i2dl.generate import solve_spec
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from i2dl.validate import validate_paths
from tests.strategies import cli_solve

SPECS_DIR = Path(__file__).resolve().parents[1] / "problems" / "specs"
FAMILY = [
    "cnn-architecture", "conv-layer-arithmetic", "sgd-momentum-steps", "rmsprop-steps", "adam-steps",
    "adagrad-steps", "sgd-weight-decay", "newton-step", "softmax-cross-entropy", "classifier-comparison",
    "activation-values", "batchnorm-stats",
]
OPTIMIZERS = ["sgd-momentum-steps", "rmsprop-steps", "adam-steps", "adagrad-steps", "sgd-weight-decay"]

# The 2022 endterm network (problem 4): 2 x 28 x 28 input, 3 x 3 convs with padding 1, maxpool 2.
ENDTERM_2022_P4 = dict(C=2, H=28, c1=8, kernel1=3, stride1=1, padding1=1, pool_kernel=2, pool_stride=2, c2=16, kernel2=3, stride2=1, padding2=1, n_out=19)
# 4.7 and 4.8 assume 5 x 5 convolutions with stride 1 (padding 2 keeps the sizes).
ENDTERM_2022_P4_7 = {**ENDTERM_2022_P4, "kernel1": 5, "padding1": 2, "kernel2": 5, "padding2": 2}
# The 2024 endterm LeNet (problem 4): 1 x 32 x 32, 5 x 5 convs without padding, maxpool 2, f1 = 120.
LENET_2024 = dict(C=1, H=32, c1=6, kernel1=5, stride1=1, padding1=0, pool_kernel=2, pool_stride=2, c2=16, kernel2=5, stride2=1, padding2=0, n_out=120)
# The 2020 mock's AlexNet-like first layer: 11 x 11 filters, 3 -> 96 channels (on a 227 px input).
ALEXNET = dict(C=3, H=227, c1=96, kernel1=11, stride1=4, padding1=0, pool_kernel=3, pool_stride=2, c2=256, kernel2=5, stride2=1, padding2=2, n_out=1000)


def _solve(spec: str, **pins) -> dict:
    return solve_spec(spec, pins, engine_name="numpy")


def _blanks(result: dict) -> dict:
    return {b["name"]: b["value"] for p in result["parts"] for b in p["blanks"]}


def _alternatives(spec: str, **pins) -> dict[str, dict[str, object]]:
    """blank name -> {mistake name: value} of an instance with these pins."""
    inst = make_instance(Library().get(spec), 0, get_engine("numpy"), pins=pins)
    return {b.name: {a["name"]: a["value"] for a in b.alternatives} for p in inst.parts for b in p.blanks}


# ---------------------------------------------------------------------------- cnn-architecture


def test_solve_reproduces_endterm_2022_problem_4_3_flatten_size():
    got = _blanks(_solve("cnn-architecture", **ENDTERM_2022_P4))
    # 28 -> 28 -> 14 -> 14 -> 7, so k = 16 * 7 * 7.
    assert got["shape_conv1"] == [8, 28, 28]
    assert got["shape_pool1"] == [8, 14, 14]
    assert got["shape_conv2"] == [16, 14, 14]
    assert got["shape_pool2"] == [16, 7, 7]
    assert got["n_flat"] == 784 == 16 * 7 * 7


def test_solve_reproduces_endterm_2022_problem_4_1_size_keeping_convolution():
    # (k=3, s=1, p=1) keeps H x W: both in the network and as the asked padding for k = 3.
    got = _blanks(_solve("cnn-architecture", **ENDTERM_2022_P4))
    assert got["shape_conv1"][1:] == [28, 28] and got["shape_conv2"][1:] == [14, 14]
    assert _blanks(_solve("conv-layer-arithmetic", N=16, C=2, H=28, F=8, kernel=4, stride=2, padding=1, kernel2=3))["p_same"] == 1


def test_solve_reproduces_endterm_2022_problem_4_7_receptive_field_after_maxpool1():
    got = _blanks(_solve("cnn-architecture", **ENDTERM_2022_P4_7))
    assert got["rf_conv1"] == 5
    assert got["rf_pool1"] == 6  # 5 + (2 - 1) * 1: the key's final 6 x 6


def test_solve_reproduces_endterm_2022_problem_4_8_receptive_field_of_linear_layer():
    assert _blanks(_solve("cnn-architecture", **ENDTERM_2022_P4_7))["rf_fc"] == 28  # the whole 28 x 28 image


def test_solve_applies_endterm_2022_problem_4_5_conv_for_linear_to_the_pooled_features():
    # 4.5's idea (kernel = the whole remaining map, one filter per output, 1 x 1 outputs), on the
    # 16 x 7 x 7 maps that reach the linear layer with 19 outputs.
    got = _blanks(_solve("cnn-architecture", **ENDTERM_2022_P4))
    assert got["k_fc"] == 7
    assert got["filters_fc"] == 19
    assert got["shape_fc"] == [19, 1, 1]
    assert got["params_fc_conv"] == got["params_fc"] == 784 * 19 + 19


def test_solve_reproduces_endterm_2024_problem_4_1_lenet_shape_and_receptive_fields():
    got = _blanks(_solve("cnn-architecture", **LENET_2024))
    assert got["shape_conv1"] == [6, 28, 28]
    assert got["rf_conv1"] == 5
    assert got["rf_pool1"] == 6
    assert got["rf_fc"] == 32  # f1 sees the whole 32 x 32 image


def test_solve_reproduces_endterm_2024_problem_4_4_f1_input_for_68px_images():
    got = _blanks(_solve("cnn-architecture", **{**LENET_2024, "H": 68}))
    assert got["shape_pool2"] == [16, 14, 14]
    assert got["n_flat"] == 3136


def test_solve_reproduces_mock_2020_part_vi_d_first_conv_parameters():
    got = _blanks(_solve("cnn-architecture", **ALEXNET))
    assert got["params_conv1"] == 34944 == 11 * 11 * 3 * 96 + 96
    assert got["shape_conv1"] == [96, 55, 55]


def test_cnn_architecture_bias_mistakes_are_named():
    alts = _alternatives("cnn-architecture", **LENET_2024)
    assert alts["params_conv1"]["bias-forgotten"] == 150
    assert alts["params_fc"]["bias-forgotten"] == 400 * 120


# ---------------------------------------------------------------------------- conv-layer-arithmetic

MOCK_2020_II_8 = dict(N=16, C=32, H=32, F=8, kernel=6, stride=2, padding=1, kernel2=3)
ENDTERM_2022_1_3 = dict(N=16, C=32, H=64, F=8, kernel=3, stride=2, padding=1, kernel2=3)


def test_solve_reproduces_mock_2020_part_ii_8_conv_output_shape():
    got = _blanks(_solve("conv-layer-arithmetic", **MOCK_2020_II_8))
    assert got["out_shape"] == [8, 15, 15]  # the key's 15 x 15 x 8, written channels first
    assert got["out_batch"] == [16, 8, 15, 15]


def test_solve_reproduces_endterm_2022_problem_1_3_one_by_one_filter_parameters():
    assert _blanks(_solve("conv-layer-arithmetic", **ENDTERM_2022_1_3))["params_1x1"] == 33
    # The exam's distractors are recognised mistakes: 17 (batch read as channels), 65 (the
    # image width), 2,097,153 (every value of the batch); the batch size never enters.
    alts = _alternatives("conv-layer-arithmetic", **ENDTERM_2022_1_3)["params_1x1"]
    assert alts["batch-as-channels"] == 17
    assert alts["spatial-size"] == 65
    assert alts["whole-batch-counted"] == 2_097_153
    assert alts["batch-multiplied"] == 16 * 32 + 1


def test_conv_layer_floor_versus_ceil_mistake_differs_on_sampled_instances():
    compiled, engine = Library().get("conv-layer-arithmetic"), get_engine("numpy")
    for seed in range(20):
        inst = make_instance(compiled, seed, engine)
        blank = next(b for p in inst.parts for b in p.blanks if b.name == "out_shape")
        ceil = next(a["value"] for a in blank.alternatives if a["name"] == "ceil-instead-of-floor")
        assert ceil != blank.expected and ceil[1] == blank.expected[1] + 1


# ---------------------------------------------------------------------------- optimizers


def test_solve_reproduces_endterm_2022_problem_2_4_weight_decay_update():
    w0, g, lr, lam = 2.0, [1.0, -3.0], 0.1, 0.5
    got = _blanks(_solve("sgd-weight-decay", w0=w0, g=g, lr=lr, lam=lam))
    # theta_{k+1} = (1 - alpha lambda) theta_k - alpha grad = theta_k - alpha (grad + lambda theta_k)
    assert got["c"] == pytest.approx(1 - lr * lam, abs=1e-12)
    assert got["w1"] == pytest.approx((1 - lr * lam) * w0 - lr * g[0], abs=1e-12)
    assert got["w1"] == pytest.approx(w0 - lr * (g[0] + lam * w0), abs=1e-12)
    assert got["w2"] == pytest.approx((1 - lr * lam) * got["w1"] - lr * g[1], abs=1e-12)


NEWTON_POLY = dict(form="poly", c4=0, c3=0, a=1, r=1, lr=0.1)


def test_solve_reproduces_endterm_2022_problem_8_7_newton_step_undefined_for_linear_function():
    got = _blanks(_solve("newton-step", **NEWTON_POLY, c2=1, c1=-4, w0=3, x=2, q=0))
    assert got["hpp"] == 0  # f(x, w) = x w has f'' = 0 ...
    assert got["newton_defined"] is False  # ... so w - f'/f'' does not exist


def test_newton_step_with_zero_curvature_raises_a_clear_error():
    with pytest.raises(EngineError, match="second derivative is 0"):
        _solve("newton-step", **NEWTON_POLY, c2=0, c1=2, w0=1, x=2, q=0)


def test_newton_step_lands_on_the_minimum_of_a_quadratic():
    got = _blanks(_solve("newton-step", **NEWTON_POLY, c2=2, c1=3, w0=2, x=3, q=0))
    assert got["fp0"] == 11 and got["fpp0"] == 4
    assert got["w1"] == pytest.approx(-0.75)  # -c1 / (2 c2), the minimum
    assert got["fp1"] == 0 and got["w2"] == got["w1"]


def _torch_run(spec: str, seed: int) -> tuple[dict, dict]:
    """The spec's answers for seed `seed`, and the same run by torch.optim (float64)."""
    torch = pytest.importorskip("torch")
    res = solve_spec(spec, {}, seed=seed, engine_name="numpy")
    v, p = _blanks(res), res["params"]
    w = torch.tensor([float(p["w0"])], dtype=torch.float64, requires_grad=True)
    opt = {
        "sgd-momentum-steps": lambda: torch.optim.SGD([w], lr=p["lr"], momentum=p["mu"]),
        "rmsprop-steps": lambda: torch.optim.RMSprop([w], lr=p["lr"], alpha=p["beta"], eps=p["eps"]),
        "adam-steps": lambda: torch.optim.Adam([w], lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"]),
        "adagrad-steps": lambda: torch.optim.Adagrad([w], lr=p["lr"], eps=p["eps"]),
        "sgd-weight-decay": lambda: torch.optim.SGD([w], lr=p["lr"], weight_decay=p["lam"]),
    }[spec]()
    ref: dict[str, float] = {}
    for t, g in enumerate(p["g"], start=1):
        w.grad = torch.tensor([float(g)], dtype=torch.float64)
        opt.step()
        ref[f"w{t}"] = w.item()
        state = opt.state[w]
        for key, name in (("momentum_buffer", "v"), ("square_avg", "s"), ("sum", "s"),
                          ("exp_avg", "m"), ("exp_avg_sq", "v")):
            if key in state:
                ref[f"{name}{t}"] = state[key].item()
    return v, ref


@pytest.mark.torch
@pytest.mark.parametrize("spec", OPTIMIZERS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimizer_spec_matches_torch_optim(spec, seed):
    ours, ref = _torch_run(spec, seed)
    assert {k for k in ref if k[0] == "w"} <= set(ours)
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


@pytest.mark.torch
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adam_bias_corrected_moments_match_torch(seed):
    ours, ref = _torch_run("adam-steps", seed)
    for t in (1, 2):
        assert ours[f"m_hat{t}"] == pytest.approx(ref[f"m{t}"] / (1 - 0.9**t), rel=1e-9)
        assert ours[f"v_hat{t}"] == pytest.approx(ref[f"v{t}"] / (1 - 0.999**t), rel=1e-9)
    # The first step has length lr whatever g_1 is, so it is shorter than SGD's lr |g_1| exactly when |g_1| > 1.
    res = solve_spec("adam-steps", {}, seed=seed, engine_name="numpy")
    p = res["params"]
    assert abs(ours["w1"] - p["w0"]) == pytest.approx(p["lr"], rel=1e-6)
    assert ours["step1_shorter_than_sgd"] is (abs(p["g"][0]) > 1)


# ---------------------------------------------------------------------------- losses and activations

ENDTERM_2024_4_2 = [
    [0.45, 0, 0, 0, 0.05, 0, 0.05, 0.05, 0.40, 0],
    [0.47, 0, 0, 0, 0, 0, 0.02, 0, 0.41, 0.10],
    [0.30, 0, 0.05, 0, 0, 0, 0.20, 0, 0.35, 0.10],
]


def test_solve_reproduces_endterm_2024_problem_4_2_classifier_comparison():
    res = _solve("classifier-comparison", n_classes=10, label=9, P=ENDTERM_2024_4_2)
    got = _blanks(res)
    assert got["correct"] == "C"  # only C predicts the digit 8
    assert got["worst"] == "C"  # and C has the largest loss
    assert round(got["worst_loss"], 6) == 1.049822 == round(-math.log(0.35), 6)
    alts = _alternatives("classifier-comparison", n_classes=10, label=9, P=ENDTERM_2024_4_2)["worst_loss"]
    assert alts["minus-sign-missing"] == pytest.approx(math.log(0.35))
    assert alts["wrong-entry"] == pytest.approx(-math.log(0.41))


def test_solve_reproduces_endterm_2024_problem_6_2_elu_derivative():
    alpha = 0.5
    got = _blanks(_solve("activation-values", act="elu", alpha=alpha, x=[-1, 0, 2], x0=-1))
    # ELU'(x) = 1 for x > 0 and alpha e^x for x <= 0 (alpha at 0, as the key's case split).
    assert got["dfx"] == pytest.approx([alpha * math.exp(-1), alpha, 1.0], abs=1e-12)
    # ... which is ELU(x) + alpha for x <= 0: from the stated value f(-1) (three decimals).
    f0 = round(alpha * (math.exp(-1) - 1), 3)
    assert got["df0"] == pytest.approx(f0 + alpha, abs=1e-12)
    assert got["df0"] == pytest.approx(alpha * math.exp(-1), abs=1e-3)


def test_solve_reproduces_endterm_2022_problem_7_3_batchnorm_running_statistics():
    pins = dict(N=4, X=[[1, 2], [3, 0], [5, 2], [3, 4]], gamma=[2, 0.5], beta=[1, -1], i=1,
                Nb=8, Cb=3, Hb=32, Wb=64)
    got = _blanks(_solve("batchnorm-stats", **pins))
    assert got["bn_stats"] == 6  # 2 * 3: a running mean and variance per channel
    assert got["bn_params"] == 6
    alts = _alternatives("batchnorm-stats", **pins)["bn_stats"]
    assert alts["per-pixel"] == 2 * 3 * 32 * 64 and alts["batch-multiplied"] == 2 * 8 * 3


def test_batchnorm_statistics_by_hand():
    X = [[1, 2], [3, 0], [5, 2], [3, 4]]
    got = _blanks(_solve("batchnorm-stats", N=4, X=X, gamma=[2, 0.5], beta=[1, -1], i=1,
                         Nb=8, Cb=3, Hb=32, Wb=64))
    assert got["mu"] == [3, 2] and got["sig2"] == [2, 2]
    assert got["xhat_i"] == pytest.approx([-2 / math.sqrt(2), 0.0])
    assert got["y_i"] == pytest.approx([1 - 4 / math.sqrt(2), -1.0])


@pytest.mark.torch
def test_batchnorm_and_softmax_answers_match_torch():
    torch = pytest.importorskip("torch")
    for seed in range(3):
        res = solve_spec("batchnorm-stats", {}, seed=seed, engine_name="numpy")
        got, p = _blanks(res), res["params"]
        bn = torch.nn.BatchNorm1d(2, eps=1e-12, dtype=torch.float64)  # torch refuses eps = 0
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(p["gamma"])), bn.bias.copy_(torch.tensor(p["beta"]))
        y = bn(torch.tensor(p["X"], dtype=torch.float64))
        assert got["y_i"] == pytest.approx(y[p["i"] - 1].tolist(), abs=1e-6)

        res = solve_spec("softmax-cross-entropy", {}, seed=seed, engine_name="numpy")
        got, p = _blanks(res), res["params"]
        z = torch.tensor(p["z"], dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(z[None], torch.tensor([p["label"] - 1]))
        loss.backward()
        assert got["L"] == pytest.approx(loss.item(), abs=1e-9)
        assert got["dLdz"] == pytest.approx(z.grad.tolist(), abs=1e-9)
        assert got["p"] == pytest.approx(torch.softmax(z, 0).tolist(), abs=1e-9)


def test_softmax_cross_entropy_gradient_is_p_minus_onehot():
    got = _blanks(_solve("softmax-cross-entropy", n_classes=3, z=[2, 1, -1], label=2))
    p = np.exp([2, 1, -1]) / np.exp([2, 1, -1]).sum()
    assert got["p"] == pytest.approx(p.tolist())
    assert got["y_pred"] == 1  # classes are numbered from 1
    assert got["L"] == pytest.approx(-math.log(p[1]))
    assert got["dLdz"] == pytest.approx((p - np.eye(3)[1]).tolist())


# ---------------------------------------------------------------------------- the expression fixes


def test_caret_is_a_power_with_power_precedence():
    from i2dl.evaluate import Evaluator
    from i2dl.expr import parse

    def ev(text):
        return Evaluator(get_engine("numpy"), {}).eval(parse(text).node)

    assert ev("0.1 * 2^2") == pytest.approx(0.4)  # not (0.1 * 2)^2
    assert ev("1 + 2^2") == 5
    assert ev("-2^2") == -4
    assert ev('"e^x"') == "e^x"  # strings keep their caret


def test_as_text_prints_numbers_as_statements_do():
    got = _solve("activation-values", act="leaky_relu", alpha=0.2, x=[-1, 1, 2], x0=-1)
    assert "\\alpha = 0.2$" in got["values"]["definition"]


# ---------------------------------------------------------------------------- CLI and validation

CLI_PINS = {
    "cnn-architecture": ([f"{k}={v}" for k, v in LENET_2024.items()], "rf_pool1", 6),
    "conv-layer-arithmetic": ([f"{k}={v}" for k, v in ENDTERM_2022_1_3.items()], "params_1x1", 33),
    "sgd-momentum-steps": (["w0=1", "g=[2,-1,1]", "lr=0.1", "mu=0.9"], "w2", 1 - 0.2 - 0.1 * 0.8),
    "rmsprop-steps": (["w0=1", "g=[2,-1]", "lr=0.1", "beta=0.75"], "w1", 0.8),
    "adam-steps": (["w0=1", "g=[2,-1]", "lr=0.1"], "w1", 0.9),
    "adagrad-steps": (["w0=1", "g=[2,-2]", "lr=0.5"], "w2", 0.5 + 0.5 * 2 / math.sqrt(8)),
    "sgd-weight-decay": (["w0=2", "g=[1,-3]", "lr=0.1", "lam=0.5"], "w1", 1.8),
    "newton-step": (["form=poly", "c4=0", "c3=0", "c2=1", "c1=-4", "a=1", "r=1", "w0=3", "lr=0.1", "x=2", "q=0"],
                    "w1", 2),
    "softmax-cross-entropy": (["n_classes=3", "z=[0,0,0]", "label=1"], "L", math.log(3)),
    "classifier-comparison": (["n_classes=10", "label=9", f"P={json.dumps(ENDTERM_2024_4_2)}"], "worst_loss", -math.log(0.35)),
    "activation-values": (["act=tanh", "alpha=0.5", "x=[-1,1,2]", "x0=-1"], "df0", 1 - round(math.tanh(-1), 3) ** 2),
    "batchnorm-stats": (["N=4", "X=[[1,2],[3,0],[5,2],[3,4]]", "gamma=[2,0.5]", "beta=[1,-1]", "i=1",
                         "Nb=8", "Cb=3", "Hb=32", "Wb=64"], "bn_stats", 6),
}


@pytest.mark.parametrize("spec", FAMILY)
def test_cli_solve_json(spec):
    pins, name, expected = CLI_PINS[spec]
    data = cli_solve(spec, pins)
    assert _blanks(data)[name] == pytest.approx(expected, abs=1e-6)  # eps moves optimizer steps by ~1e-9


def test_every_spec_of_these_families_validates():
    report = validate_paths([SPECS_DIR / f"{s}.yaml" for s in FAMILY], samples=100, engine_name="numpy")
    for f in report["files"]:
        assert f["ok"], (f["path"], f["errors"])
        assert not f["warnings"], (f["path"], f["warnings"])
        assert f["tries_per_instance"] < 50, (f["path"], f["tries_per_instance"])
