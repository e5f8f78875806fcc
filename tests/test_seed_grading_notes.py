"""The grading notes of the shared seed exams, reproduced as fixtures: each case is one scenario
of one computational sub-question, graded by the real Grader on the spec that asks it with the
seed's numbers pinned, and must give the note's points.

Points are compared in the exam's units: a case names the note's points per blank (`weights`,
the blank's credit times its weight), or the part's note points (`part`, the spec part's score
scaled from its points to the exam's, named in the case when the two differ).

Seeds: 000 = 2024 endterm, 003 = 2022 endterm, 004 = 2020 mock (shared/seeds/, with the README's
misprints). Computational sub-questions not covered, and why:
- 2022 5.9 (segmentation output C^ x H x W): the note is symbolic; design-sizes asks it with numbers
  (pinned here as 3 x 128 x 256 images, 10 classes) and keeps the note's rule (C x H x W accepted).
- 2022 8.7 (Newton step for f = w x): the key gives the generic formula; newton-step asks the numbers
  and says the step is undefined (the README's misprint note), so the note has no numeric scenario.
- 2020 III(a), III(b): derivations (a proof that sigma' = sigma (1 - sigma), dCE/dz = p - t), graded on the working.
- 2024 3.5 / 3.6 chain-rule points, 2024 3.6 "-0.5 without the approach", 2020 VI(c) formula point:
  credit for written working, which no answer blank holds (the value points are covered).
- 2020 VI(c) values: the figure with the layer sizes is missing from the seed's text.
- 2022 4.5: the note's stride 0 is a misprint (a kernel as large as the input fits once at any
  stride); design-sizes says stride 1 and asks the weight shape too, which the note does not weigh
  (fc-to-conv asks the same conversion for whole heads; tests/test_fc_to_conv.py pins 4.5's numbers).
- 2024 2.6 "-0.5 per small error" in a derivation: graded on the working.
- 2022 1.3 and the other multiple-choice items: graded by the MCQ banks, not by specs, except the
  property questions 2024 1.6 and 1.8 and 2022 1.7, asked by specs with the seeds' options pinned.
No note of the three seeds offers a fallback value ("if unsure, continue with ..."): their given
values (2024 3.5 to 3.7) are `given` in the specs, so there is no fallback scenario to reproduce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache

import pytest

from i2dl.exam import build_exam
from i2dl.grade.score import Grader, PartResult, Submission
from tests.test_seed_arch_optim import (
    ALEXNET,
    ENDTERM_2022_P4,
    ENDTERM_2022_P4_7,
    LENET_2024,
    MOCK_2020_II_8,
)
from tests.test_seed_backprop_conv import (
    ENDTERM_2022_22,
    ENDTERM_2022_P6,
    ENDTERM_2024_26,
    ENDTERM_2024_P5,
    ENDTERM_2024_P5_DK,
    ENDTERM_2024_P5_DX,
    MOCK_2020_IIIC,
    MOCK_2020_IV,
    MOCK_2020_V1,
)

# 2024 endterm problem 3, numbers as the fixture blueprint endterm-2024 pins them
ENDTERM_2024_P3 = {"x": [2, 3, 1, 2, -1], "n": 5, "c": [0.5, 1.5, 0.5], "w": [-1, 3], "t": 2,
                   "g_y": 2, "g_m": [2, 1], "g_z": [1, 2, 3], "j": 2}
# 3.1 asks the sizes for a 7-long input (only the length matters; the other values are stand-ins)
ENDTERM_2024_31 = {**ENDTERM_2024_P3, "n": 7, "x": [2, 3, 1, 2, -1, 1, 0], "w": [-1, 3, 1, 2],
                   "g_m": [2, 1, 1, 1], "g_z": [1, 2, 3, 1, 1]}
ENDTERM_2024_42 = {"n_classes": 10, "label": 9, "P": [
    [0.45, 0, 0, 0, 0.05, 0, 0.05, 0.05, 0.40, 0],
    [0.47, 0, 0, 0, 0, 0, 0.02, 0, 0.41, 0.10],
    [0.30, 0, 0.05, 0, 0, 0, 0.20, 0, 0.35, 0.10]]}
ENDTERM_2024_62 = {"act": "elu", "alpha": 0.5, "x": [-1, 0, 2], "x0": -1}
ENDTERM_2022_73 = dict(N=4, X=[[1, 2], [3, 0], [5, 2], [3, 4]], gamma=[2, 0.5], beta=[1, -1], i=1,
                       Nb=8, Cb=3, Hb=32, Wb=64)
ENDTERM_2022_24 = dict(w0=2.0, g=[1.0, -3.0], lr=0.1, lam=0.5)
# design-sizes: 2022 problem 4 (pairs of 28 x 28 digits, sums 12 and 18 of 4.10, 100 outputs of 4.5),
# 2024 8.3 (8 clouds of 100 points in 3-D), 2022 5.9 with numbers of our own
DESIGN = dict(src=0, sum1=12, sum2=18, M=100, B=8, P=100, D=3, n_classes=10, Cs=3, Hs=128, Ws=256)
ENDTERM_2022_41 = dict(N=16, C=2, H=28, F=8, kernel=4, stride=2, padding=1, kernel2=3)
MOCK_2020_V2 = {"x": 2, "w0": 1, "w1": 0.5, "w2": 2, "w3": -1.5, "r": 0.3}
# property questions, the seeds' options in their order (the last of 2022 1.7, feature selection, is ours: the sum of gradients)
CONV_2024_18 = dict(padding=1, stride=1, kernel=3, N=8, C=3, C2=8, m=16, alters_order=[0, 1, 2, 3])
ACT_2024_16 = dict(t_lo=-1, a=2, b=1, g=1, c=10, fit_order=[0, 1, 2, 3])
POOL_2022_17 = dict(X=[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]], pool_kernel=2, pool_stride=2,
                    share_claim=75, pool_facts_order=[1, 0, 2, 3])


@dataclass(frozen=True)
class Case:
    source: str                       # seed exam and sub-question
    scenario: str                     # which line of the note
    spec: str
    pins: dict
    answers: dict                     # part id -> {blank: answer}
    note: float                       # the note's points for this scenario
    part: str | None = None           # compare this part's score, scaled to `exam_points`
    exam_points: float | None = None  # the exam's points for the part, when they differ from the spec's
    weights: dict = field(default_factory=dict)  # or: blank -> the note's points for it
    xfail: str | None = None


@cache
def _exam(spec: str, pins_key: str):
    """The one-problem exam of `spec` with the pins (as sorted JSON, so it can be cached)."""
    return build_exam(spec, 0, pins=json.loads(pins_key), engine_name="numpy")


def grade(case: Case) -> dict[str, PartResult]:
    """The graded parts of the case's submission, by part id."""
    ex = _exam(case.spec, json.dumps(case.pins, sort_keys=True))
    number = {p.id: p.number for p in ex.problems[0].parts}
    sub = {number[pid]: answers for pid, answers in case.answers.items()}
    result = Grader(ex, "numpy").grade(Submission("s.yaml", "s", "", ex.exam_id, sub))
    by_number = {p.number: p for p in result.parts}
    return {pid: by_number[number[pid]] for pid in case.answers}


def points(case: Case) -> float:
    """The case's points in the exam's units."""
    parts = grade(case)
    if case.weights:
        credit = {b.name: b.credit for p in parts.values() for b in p.blanks}
        return sum(credit[name] * w for name, w in case.weights.items())
    part = parts[case.part]
    scale = (case.exam_points / part.points) if case.exam_points is not None else 1.0
    return part.score * scale


P3 = "conv1d-backprop"
CASES: list[Case] = [
    # ---------------------------------------------------------------- 2024 endterm (seed 000)
    Case("2024 3.1", "all three sizes", P3, ENDTERM_2024_31, {"sizes": {"len_z": 5, "len_m": 4, "fc_in": 4}}, 1.0, part="sizes"),
    Case("2024 3.1", "at least one right", P3, ENDTERM_2024_31, {"sizes": {"len_z": 5, "len_m": 5, "fc_in": 5}}, 0.5, part="sizes"),
    Case("2024 3.1", "none right for the key (two carried from a wrong first)", P3, ENDTERM_2024_31,
         {"sizes": {"len_z": 7, "len_m": 6, "fc_in": 6}}, 0.0, part="sizes"),
    Case("2024 3.2", "correct forward pass", P3, ENDTERM_2024_P3, {"forward": {"z": [6, 4, 3], "m": [6, 4], "y": 6, "L": 16}}, 3.0, part="forward"),
    Case("2024 3.2", "conv wrong, the rest carried", P3, ENDTERM_2024_P3, {"forward": {"z": [7, 4, 3], "m": [7, 4], "y": 5, "L": 9}}, 2.0, part="forward"),
    Case("2024 3.2", "only the loss wrong", P3, ENDTERM_2024_P3, {"forward": {"z": [6, 4, 3], "m": [6, 4], "y": 6, "L": 8}}, 2.5, part="forward"),
    Case("2024 3.2", "pool wrong, fc and loss carried", P3, ENDTERM_2024_P3, {"forward": {"z": [6, 4, 3], "m": [6, 3], "y": 3, "L": 1}}, 2.5, part="forward"),
    Case("2024 3.3", "correct matrix", P3, ENDTERM_2024_P3,
         {"conv-matrix": {"T": [[0.5, 1.5, 0.5, 0, 0], [0, 0.5, 1.5, 0.5, 0], [0, 0, 0.5, 1.5, 0.5]]}}, 2.0, part="conv-matrix"),
    Case("2024 3.3", "transposed matrix accepted", P3, ENDTERM_2024_P3,
         {"conv-matrix": {"T": [[0.5, 0, 0], [1.5, 0.5, 0], [0.5, 1.5, 0.5], [0, 0.5, 1.5], [0, 0, 0.5]]}}, 2.0, part="conv-matrix"),
    Case("2024 3.3", "right shape, wrong values", P3, ENDTERM_2024_P3,
         {"conv-matrix": {"T": [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1]]}}, 1.0, part="conv-matrix"),
    Case("2024 3.3", "values right but the zeros left out", P3, ENDTERM_2024_P3,
         {"conv-matrix": {"T": "0.5 1.5 0.5; 0.5 1.5 0.5; 0.5 1.5 0.5"}}, 1.5, part="conv-matrix"),
    Case("2024 3.4", "derivative and evaluation right", P3, ENDTERM_2024_P3, {"dl-dy": {"dLdy": 8}}, 1.0, part="dl-dy"),
    Case("2024 3.4", "evaluation written unevaluated", P3, ENDTERM_2024_P3, {"dl-dy": {"dLdy": "2*(6-2)"}}, 1.0, part="dl-dy"),
    Case("2024 3.4", "loss value used for y", P3, ENDTERM_2024_P3, {"dl-dy": {"dLdy": 28}}, 0.5, part="dl-dy"),
    Case("2024 3.4", "y and y* swapped", P3, ENDTERM_2024_P3, {"dl-dy": {"dLdy": -8}}, 0.5, part="dl-dy"),
    Case("2024 3.4", "carried from a wrong y in 3.2", P3, ENDTERM_2024_P3,
         {"forward": {"z": [6, 4, 3], "m": [6, 4], "y": 5, "L": 9}, "dl-dy": {"dLdy": 6}}, 1.0, part="dl-dy"),
    Case("2024 3.5", "correct dL/dm", P3, ENDTERM_2024_P3, {"dl-dm": {"dLdm": [-2, 6]}}, 1.0, part="dl-dm"),
    Case("2024 3.6", "correct dL/dz", P3, ENDTERM_2024_P3, {"dl-dz": {"dLdz": [2, 1, 0]}}, 2.0, part="dl-dz"),
    Case("2024 3.7", "correct dL/dc2", P3, ENDTERM_2024_P3, {"dl-dc": {"dLdc_j": 11}}, 1.0, part="dl-dc"),
    Case("2024 4.1", "fields written as on paper", "cnn-architecture", LENET_2024,
         {"receptive-field": {"rf_conv1": "5x5", "rf_pool1": "6x6", "rf_fc": "32x32"}}, 2.0,
         weights={"rf_conv1": 0.5, "rf_pool1": 0.5, "rf_fc": 1.0}),
    Case("2024 4.1", "fields as numbers", "cnn-architecture", LENET_2024,
         {"receptive-field": {"rf_conv1": 5, "rf_pool1": 6, "rf_fc": 32}}, 2.0,
         weights={"rf_conv1": 0.5, "rf_pool1": 0.5, "rf_fc": 1.0}),
    Case("2024 4.1", "pooling ignored, f1 right", "cnn-architecture", LENET_2024,
         {"receptive-field": {"rf_conv1": 5, "rf_pool1": 5, "rf_fc": 32}}, 1.5,
         weights={"rf_conv1": 0.5, "rf_pool1": 0.5, "rf_fc": 1.0}),
    Case("2024 4.2", "the right models", "classifier-comparison", ENDTERM_2024_42, {"correct-models": {"correct": "C"}}, 1.0, part="correct-models"),
    Case("2024 4.2", "model and loss right", "classifier-comparison", ENDTERM_2024_42,
         {"largest-loss": {"worst": "C", "worst_loss": "-log(0.35)"}}, 2.0, part="largest-loss"),
    Case("2024 4.2", "the loss's value alone, model not stated", "classifier-comparison", ENDTERM_2024_42,
         {"largest-loss": {"worst_loss": "-log(0.35)"}}, 1.5, part="largest-loss"),
    Case("2024 4.2", "the sign missing", "classifier-comparison", ENDTERM_2024_42,
         {"largest-loss": {"worst": "C", "worst_loss": "log(0.35)"}}, 1.5, part="largest-loss"),
    Case("2024 4.2", "another model's probability in the right loss", "classifier-comparison", ENDTERM_2024_42,
         {"largest-loss": {"worst": "C", "worst_loss": "-log(0.41)"}}, 1.5, part="largest-loss"),
    Case("2024 4.2", "a wrong coefficient (1/10, averaged over the classes)", "classifier-comparison", ENDTERM_2024_42,
         {"largest-loss": {"worst": "C", "worst_loss": "-0.1*log(0.35)"}}, 1.5, part="largest-loss"),
    Case("2024 4.4", "f1 input 16x14x14 for 68 px", "cnn-architecture", {**LENET_2024, "H": 68},
         {"flatten": {"n_flat": "16x14x14"}}, 1.0, part="flatten"),
    Case("2024 4.4", "f1 input as a number", "cnn-architecture", {**LENET_2024, "H": 68}, {"flatten": {"n_flat": 3136}}, 1.0, part="flatten"),
    Case("2024 5.1", "correct output", "conv2d-by-hand", ENDTERM_2024_P5, {"forward": {"Z": [[13, -5], [-2, 6]]}}, 2.0, part="forward"),
    Case("2024 5.1", "output not simplified", "conv2d-by-hand", ENDTERM_2024_P5,
         {"forward": {"Z": "[[5*3 - 2, -1 - 3 - 1], [-1 - 1, 5 + 1]]"}}, 1.5, part="forward"),
    Case("2024 5.3", "correct input gradient", "conv2d-by-hand", ENDTERM_2024_P5, {"input-gradient": {"dX": ENDTERM_2024_P5_DX}}, 4.0, part="input-gradient"),
    Case("2024 5.3", "the kernel gradient instead, accepted", "conv2d-by-hand", ENDTERM_2024_P5,
         {"input-gradient": {"dX": ENDTERM_2024_P5_DK}}, 4.0, part="input-gradient"),
    Case("2024 5.3", "one calculation error", "conv2d-by-hand", ENDTERM_2024_P5,
         {"input-gradient": {"dX": [[0, -3, 1, 0], [-3, 15, -10, 1], [-1, 0, 10, -2], [0, -1, -2, 1]]}}, 3.5, part="input-gradient"),
    Case("2024 5.3", "a 2x2 gradient", "conv2d-by-hand", ENDTERM_2024_P5, {"input-gradient": {"dX": [[3, -1], [1, 2]]}}, 0.0, part="input-gradient"),
    Case("2024 6.2", "derivative and its form in ELU itself (spec 2.5p, exam 3p)", "activation-values", ENDTERM_2024_62,
         {"slopes": {"dfx": [0.5 * 0.36787944, 0.5, 1]}, "slope-from-value": {"df0": "-0.316 + 0.5"}}, 3.0,
         weights={"dfx": 2.0, "df0": 1.0}),
    Case("2024 2.6", "weight and bias of the merged layer", "stacked-linear", ENDTERM_2024_26,
         {"equivalent-layer": {"W": [[2, 0, 5], [-1, 3, -1]], "b": [0, -2]}}, 2.0, part="equivalent-layer"),
    Case("2024 8.3", "input 100 * 3, output 9 + 3", "design-sizes", DESIGN, {"point-cloud": {"n_in": "100*3", "n_out": "9 + 3"}}, 2.0,
         part="point-cloud"),
    Case("2024 8.3", "the batch in the input accepted", "design-sizes", DESIGN, {"point-cloud": {"n_in": 2400, "n_out": 12}}, 2.0,
         part="point-cloud"),
    Case("2024 8.3", "rotation as a quaternion", "design-sizes", DESIGN, {"point-cloud": {"n_in": 300, "n_out": 7}}, 2.0,
         part="point-cloud"),
    Case("2024 8.3", "rotation as three angles", "design-sizes", DESIGN, {"point-cloud": {"n_in": 300, "n_out": 6}}, 2.0,
         part="point-cloud"),
    Case("2024 8.3", "translation left out", "design-sizes", DESIGN, {"point-cloud": {"n_in": 300, "n_out": 9}}, 1.0,
         part="point-cloud"),
    # ---------------------------------------------------------------- 2022 endterm (seed 003)
    Case("2022 2.2", "1xM and NxM", "linear-layer-backward", ENDTERM_2022_22,
         {"shapes": {"shape_b": "1x4", "shape_dout": "2x4"}}, 1.0, weights={"shape_b": 0.5, "shape_dout": 0.5}),
    Case("2022 2.2", "dout given the weight's shape", "linear-layer-backward", ENDTERM_2022_22,
         {"shapes": {"shape_b": "1x4", "shape_dout": "3x4"}}, 0.5, weights={"shape_b": 0.5, "shape_dout": 0.5}),
    Case("2022 2.3", "dout W^T and N x D", "linear-layer-backward", ENDTERM_2022_22,
         {"shapes": {"shape_dX": "2x3"}, "input-gradient": {"dX": [[1, 0, 0], [-5, -2, 4]]}}, 1.0,
         weights={"dX": 0.5, "shape_dX": 0.5}),
    Case("2022 2.4", "update with weight decay", "sgd-weight-decay", ENDTERM_2022_24, {"step-1": {"w1": 1.8}}, 1.0, weights={"w1": 1.0}),
    Case("2022 2.4", "decay forgotten", "sgd-weight-decay", ENDTERM_2022_24, {"step-1": {"w1": 1.9}}, 0.0, weights={"w1": 1.0}),
    Case("2022 4.1", "p = 1 keeps the size for k = 3, s = 1 (spec 1p, exam 2p)", "conv-layer-arithmetic", ENDTERM_2022_41,
         {"same-padding": {"p_same": 1}}, 2.0, part="same-padding", exam_points=2.0),
    Case("2022 4.1", "padding on one side only (spec 1p, exam 2p)", "conv-layer-arithmetic", ENDTERM_2022_41,
         {"same-padding": {"p_same": 2}}, 0.0, part="same-padding", exam_points=2.0),
    Case("2022 4.3", "k as a product", "cnn-architecture", ENDTERM_2022_P4, {"flatten": {"n_flat": "16x7x7"}}, 1.0, part="flatten"),
    Case("2022 4.3", "k with a dot", "cnn-architecture", ENDTERM_2022_P4, {"flatten": {"n_flat": "16 · 7 · 7"}}, 1.0, part="flatten"),
    Case("2022 4.3", "k as a number", "cnn-architecture", ENDTERM_2022_P4, {"flatten": {"n_flat": 784}}, 1.0, part="flatten"),
    Case("2022 4.3", "channels forgotten", "cnn-architecture", ENDTERM_2022_P4, {"flatten": {"n_flat": "7x7"}}, 0.0, part="flatten"),
    Case("2022 4.7", "6x6 after maxpool 1", "cnn-architecture", ENDTERM_2022_P4_7, {"receptive-field": {"rf_pool1": "6x6"}}, 1.0, weights={"rf_pool1": 1.0}),
    Case("2022 4.7", "the pooling ignored", "cnn-architecture", ENDTERM_2022_P4_7, {"receptive-field": {"rf_pool1": "5x5"}}, 0.0, weights={"rf_pool1": 1.0}),
    Case("2022 4.8", "the whole 28x28 image", "cnn-architecture", ENDTERM_2022_P4_7, {"receptive-field": {"rf_fc": "28x28"}}, 1.0, weights={"rf_fc": 1.0}),
    Case("2022 6.1", "both outputs (spec 1p, exam 2p)", "mlp-backprop", ENDTERM_2022_P6, {"output": {"y": [2, 0]}}, 2.0, part="output", exam_points=2.0),
    Case("2022 6.1", "one output right (spec 1p, exam 2p)", "mlp-backprop", ENDTERM_2022_P6, {"output": {"y": [2, 1]}}, 1.0, part="output", exam_points=2.0),
    Case("2022 6.2", "MSE 1", "mlp-backprop", ENDTERM_2022_P6, {"loss": {"L": 1}}, 1.0, part="loss"),
    Case("2022 6.2", "MSE from the own outputs of 6.1", "mlp-backprop", ENDTERM_2022_P6,
         {"output": {"y": [2, 1]}, "loss": {"L": 0.5}}, 1.0, part="loss"),
    Case("2022 6.3", "gradient and update", "mlp-backprop", ENDTERM_2022_P6,
         {"gradient": {"dW": 1.5}, "update": {"w_new": -0.65}}, 3.0, weights={"dW": 1.5, "w_new": 1.5}),
    Case("2022 6.3", "gradient wrong, update from it", "mlp-backprop", ENDTERM_2022_P6,
         {"gradient": {"dW": 2}, "update": {"w_new": -0.7}}, 1.5, weights={"dW": 1.5, "w_new": 1.5}),
    Case("2022 6.3", "gradient right, stepped uphill", "mlp-backprop", ENDTERM_2022_P6,
         {"gradient": {"dW": 1.5}, "update": {"w_new": -0.35}}, 1.5, weights={"dW": 1.5, "w_new": 1.5}),
    Case("2022 7.3", "2 x 3 = 6", "batchnorm-stats", ENDTERM_2022_73, {"counts": {"bn_stats": "2x3"}}, 1.0, weights={"bn_stats": 1.0}),
    Case("2022 7.3", "6", "batchnorm-stats", ENDTERM_2022_73, {"counts": {"bn_stats": 6}}, 1.0, weights={"bn_stats": 1.0}),
    Case("2022 7.3", "per pixel", "batchnorm-stats", ENDTERM_2022_73, {"counts": {"bn_stats": 2 * 3 * 32 * 64}}, 0.0, weights={"bn_stats": 1.0}),
    Case("2022 4.2", "both shapes", "design-sizes", DESIGN,
         {"task-shapes": {"in_shape": "N x 2 x 28 x 28", "out_shape": "N x 19"}}, 1.0, part="task-shapes"),
    Case("2022 4.2", "input right, output one class per digit", "design-sizes", DESIGN,
         {"task-shapes": {"in_shape": "(N, 2, 28, 28)", "out_shape": "N x 10"}}, 0.5, part="task-shapes"),
    Case("2022 4.2", "batch left out of the input", "design-sizes", DESIGN,
         {"task-shapes": {"in_shape": "2x28x28", "out_shape": "n x 19"}}, 0.5, part="task-shapes"),
    Case("2022 4.5", "100 filters of size 28, no padding", "design-sizes", DESIGN,
         {"fc-as-conv": {"filters": 100, "kernel": "28x28", "padding": 0}}, 2.0,
         weights={"filters": 2 / 3, "kernel": 2 / 3, "padding": 2 / 3}),
    Case("2022 4.5", "a 1 x 1 convolution", "design-sizes", DESIGN,
         {"fc-as-conv": {"filters": 100, "kernel": 1, "padding": 0}}, 4 / 3,
         weights={"filters": 2 / 3, "kernel": 2 / 3, "padding": 2 / 3}),
    Case("2022 5.9", "classes x H x W", "design-sizes", DESIGN, {"segmentation": {"seg_shape": "10x128x256"}}, 0.5,
         part="segmentation", exam_points=0.5),
    Case("2022 5.9", "C x H x W accepted (the autoencoder reading)", "design-sizes", DESIGN,
         {"segmentation": {"seg_shape": "3 x 128 x 256"}}, 0.5, part="segmentation", exam_points=0.5),
    # ---------------------------------------------------------------- 2020 mock (seed 004)
    Case("2020 II.8", "8 x 15 x 15", "conv-layer-arithmetic", MOCK_2020_II_8, {"output-shape": {"out_shape": "8x15x15"}}, 2.0, weights={"out_shape": 2.0}),
    Case("2020 II.8", "15 x 15 x 8, as the key writes it", "conv-layer-arithmetic", MOCK_2020_II_8,
         {"output-shape": {"out_shape": "15x15x8"}}, 2.0, weights={"out_shape": 2.0}),
    Case("2020 II.8", "the size 15 right, the channels not", "conv-layer-arithmetic", MOCK_2020_II_8,
         {"output-shape": {"out_shape": "32x15x15"}}, 1.0, weights={"out_shape": 2.0}),
    Case("2020 II.8", "only the size 15 x 15", "conv-layer-arithmetic", MOCK_2020_II_8,
         {"output-shape": {"out_shape": "15x15"}}, 1.0, weights={"out_shape": 2.0}),
    Case("2020 II.8", "a size off by one", "conv-layer-arithmetic", MOCK_2020_II_8,
         {"output-shape": {"out_shape": "8x14x14"}}, 0.0, weights={"out_shape": 2.0}),
    Case("2020 III(c)", "the key's plot values", "logistic-regression-step", MOCK_2020_IIIC,
         {"forward": {"z": 1.1, "p": 0.75}, "dl-dz": {"dLdz": -0.25}, "dl-dw": {"dLdw": -0.2}, "update": {"w_new": 0.52}}, 5.0,
         weights={"z": 0.5, "p": 1.0, "dLdz": 1.0, "dLdw": 1.0, "w_new": 1.5}),
    Case("2020 III(c)", "a wrong p carried to the end", "logistic-regression-step", MOCK_2020_IIIC,
         {"forward": {"z": 1.1, "p": 0.7}, "dl-dz": {"dLdz": -0.3}, "dl-dw": {"dLdw": -0.24}, "update": {"w_new": 0.524}}, 4.0,
         weights={"z": 0.5, "p": 1.0, "dLdz": 1.0, "dLdw": 1.0, "w_new": 1.5}),
    Case("2020 III(c)", "t - p instead of p - t, carried", "logistic-regression-step", MOCK_2020_IIIC,
         {"forward": {"z": 1.1, "p": 0.75}, "dl-dz": {"dLdz": 0.25}, "dl-dw": {"dLdw": 0.2}, "update": {"w_new": 0.48}}, 4.0,
         weights={"z": 0.5, "p": 1.0, "dLdz": 1.0, "dLdw": 1.0, "w_new": 1.5}),
    Case("2020 III(c)", "stepped uphill", "logistic-regression-step", MOCK_2020_IIIC,
         {"forward": {"z": 1.1, "p": 0.75}, "dl-dz": {"dLdz": -0.25}, "dl-dw": {"dLdw": -0.2}, "update": {"w_new": 0.48}}, 3.5,
         weights={"z": 0.5, "p": 1.0, "dLdz": 1.0, "dLdw": 1.0, "w_new": 1.5}),
    Case("2020 IV(a)", "forward pass", "mlp-backprop", MOCK_2020_IV,
         {"hidden": {"h": [2, -0.5], "a": [2, 0]}, "output": {"y": [0, -1.5]}}, 3.0, weights={"h": 1.0, "a": 1.0, "y": 1.0}),
    Case("2020 IV(b)", "MSE 2.5", "mlp-backprop", MOCK_2020_IV, {"loss": {"L": 2.5}}, 1.0, part="loss"),
    Case("2020 IV(b)", "MSE from the own outputs", "mlp-backprop", MOCK_2020_IV,
         {"output": {"y": [0, -1]}, "loss": {"L": 1.625}}, 1.0, part="loss"),
    Case("2020 IV(c)", "gradient and update (spec 3p, exam 5p)", "mlp-backprop", MOCK_2020_IV,
         {"gradient": {"dW": -1.5}, "update": {"w_new": 0.65}}, 5.0, weights={"dW": 2.5, "w_new": 2.5}),
    Case("2020 IV(c)", "a wrong gradient, the update from it (spec 3p, exam 5p)", "mlp-backprop", MOCK_2020_IV,
         {"gradient": {"dW": -1}, "update": {"w_new": 0.6}}, 2.5, weights={"dW": 2.5, "w_new": 2.5}),
    Case("2020 V.1(a)", "the strided, padded output", "conv2d-by-hand", MOCK_2020_V1,
         {"forward": {"Z": "[[1, 3, 1], [0, 2, -2], [2, 1, 0]]"}}, 2.0, part="forward"),
    Case("2020 V.1(b)", "the kernel gradient", "conv2d-by-hand", MOCK_2020_V1,
         {"kernel-gradient": {"dK": [[7, -2, 3], [10, 6, 15], [8, -5, 12]]}}, 4.0, part="kernel-gradient"),
    Case("2020 V.2(b)", "1 + r", "residual-gradient", MOCK_2020_V2, {"residual-block": {"dHdv": 1.3}}, 1.0, part="residual-block"),
    Case("2020 V.2(b)", "identity path missing", "residual-gradient", MOCK_2020_V2, {"residual-block": {"dHdv": 0.3}}, 0.0, part="residual-block"),
    Case("2020 VI(d)", "11*11*3*96 + 96", "cnn-architecture", ALEXNET, {"parameters": {"params_conv1": "11*11*3*96 + 96"}}, 1.0, weights={"params_conv1": 1.0}),
    Case("2020 VI(d)", "34944", "cnn-architecture", ALEXNET, {"parameters": {"params_conv1": 34944}}, 1.0, weights={"params_conv1": 1.0}),
    # ---------------------------------------------------------------- property questions: 2 points only when every box is right
    Case("2024 1.8", "N, k and m crossed", "conv-shape-factors", CONV_2024_18, {"factors": {"alters": "ABC"}}, 2.0, part="factors"),
    Case("2024 1.8", "C crossed too", "conv-shape-factors", CONV_2024_18, {"factors": {"alters": "ABCD"}}, 0.0, part="factors"),
    Case("2024 1.6", "2 sigma - 1, tanh(10x) and the clamp crossed", "output-activation-range", ACT_2024_16,
         {"fits": {"fit": "ABD"}}, 2.0, part="fits"),
    Case("2024 1.6", "max(-1, x) crossed too", "output-activation-range", ACT_2024_16, {"fits": {"fit": "ABCD"}}, 0.0, part="fits"),
    Case("2022 1.7", "positions needed, 75 % and weights left empty", "maxpool-gradient-count", POOL_2022_17,
         {"facts": {"pool_facts": "AD"}}, 2.0, part="facts"),
    Case("2022 1.7", "75 % crossed", "maxpool-gradient-count", POOL_2022_17, {"facts": {"pool_facts": "ABD"}}, 0.0, part="facts"),
]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=f"{case.source} {case.scenario}", marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_grade_gives_the_seed_notes_points(case: Case):
    got = points(case)
    assert got == pytest.approx(case.note, abs=1e-9), (case.source, case.scenario, {
        pid: [(b.name, b.status, b.credit, b.alternative, b.feedback) for b in p.blanks] for pid, p in grade(case).items()})


# ---------------------------------------------------------------- layer-stack named mistakes
# kernel1, kernel2: the kernel sizes of the first and later convolutions (the strided stack's first is kernel1 + 1)
LENET_STACK = {"arch": "lenet", "c_in": 1, "hw": 32, "c1": 6, "c2": 16, "n_out": 10, "kernel1": 5, "kernel2": 5}  # 2024 endterm 4
STRIDED_STACK = {"arch": "strided", "c_in": 3, "hw": 32, "c1": 8, "c2": 16, "n_out": 10, "kernel1": 3, "kernel2": 3}
VGG_STACK = {"arch": "small-vgg", "c_in": 3, "hw": 32, "c1": 8, "c2": 16, "n_out": 10, "kernel1": 3, "kernel2": 3}


@pytest.mark.parametrize("pins, part, answers, mistake", [
    (LENET_STACK, "parameters", {"total": 6550}, "bias-forgotten"),          # 150 + 2400 + 4000, no biases
    (LENET_STACK, "parameters", {"params_layers": "[150, 2400, 4000]"}, "bias-forgotten"),  # per layer, no biases
    (LENET_STACK, "feature-size", {"n_features": 25}, "channels-forgotten"),  # 5 x 5 without the 16 channels
    (VGG_STACK, "feature-size", {"n_features": "16x6x6"}, "padding-ignored"),  # 32 -> 30 -> 28 -> 14 -> 12 -> 6 unpadded
    (STRIDED_STACK, "feature-size", {"n_features": "16x4x4"}, "ceil-instead-of-floor"),  # 16 -> 7 -> the pool's 3.5 rounded up
    (LENET_STACK, "weight-shapes", {"weight_last": "400x10"}, "in-out-swapped"),  # fc stores (outputs, inputs)
    (LENET_STACK, "receptive-field", {"rf_layers": "[5, 5, 6, 10, 10, 11]"}, "strides-ignored"),  # +(k - 1) each layer
])
def test_grade_layer_stack_names_the_students_mistake(pins, part, answers, mistake):
    case = Case("layer-stack", mistake, "layer-stack", pins, {part: answers}, 0.0, part=part)
    (blank,) = [b for b in grade(case)[part].blanks if b.name in answers]
    assert (blank.alternative, blank.credit) == (mistake, 0.0), blank.feedback
