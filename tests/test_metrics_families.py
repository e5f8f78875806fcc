"""classification-metrics, box-iou and gradient-clipping: published numbers, independent
computations over many instances, torch cross-checks, and the named mistakes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import ExprError
from i2dl.functions import clip_by_norm, confusion_matrix
from i2dl.generate import solve_spec
from i2dl.spec.instance import make_instance
from i2dl.spec.load import load_spec
from tests.samples import instances
from tests.strategies import assert_spec_validates, cli_solve

SPECS = Path(__file__).resolve().parents[1] / "problems" / "specs"
FAMILIES = ["classification-metrics", "box-iou", "gradient-clipping"]


def solve(spec_id: str, pins: dict) -> dict:
    """The computed values (parameters, derived values, answers) of a pinned instance."""
    return solve_spec(spec_id, pins, engine_name="numpy")["values"]


def close(actual, expected, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), atol=atol, rtol=0)


def alternatives(spec_id: str, pins: dict, name: str) -> dict[str, dict]:
    """The alternatives offered for blank `name` of a pinned instance, by name."""
    inst = make_instance(load_spec(SPECS / f"{spec_id}.yaml"), 0, get_engine("numpy"), pins=pins)
    b = next(b for p in inst.parts for b in p.blanks if b.name == name)
    return {a["name"]: a for a in b.alternatives}


@pytest.mark.library
@pytest.mark.parametrize("spec_id", FAMILIES)
def test_metric_family_validates_without_warnings_over_2000_samples(spec_id):
    assert_spec_validates(SPECS / f"{spec_id}.yaml", samples=2000, max_tries=4)


# ---------------------------------------------------------------------------- classification-metrics


def test_classification_metrics_reproduces_the_2024_endterm_flipped_classifier():
    """TUM IN2346 endterm, 13 Feb 2024, problem 2.1 (shared seed 000_b44942266a60bcdc.txt):
    A has 50% and B 5% accuracy; B is more useful, since flipping its output gives 95%."""
    v = solve("classification-metrics", {"acc_a": 50, "acc_b": 5})
    assert v["useful"] == frozenset("B") or v["useful"] == ["B"] or v["useful"] == "B"
    assert v["best_acc"] == 95
    out = cli_solve("classification-metrics", ["acc_a=50", "acc_b=5"])
    assert out["values"]["best_acc"] == 95


def test_classification_metrics_binary_counts_by_hand():
    v = solve("classification-metrics", {"TP": 30, "FN": 10, "FP": 5, "TN": 55})
    close([v["acc"], v["prec"], v["rec"], v["spec"]], [85 / 100, 30 / 35, 30 / 40, 55 / 60])
    close(v["f1"], 2 * 30 / (2 * 30 + 5 + 10))  # F1 = 2TP / (2TP + FP + FN)


def test_classification_metrics_mistakes_give_the_values_they_are_named_after():
    pins = {"TP": 30, "FN": 10, "FP": 5, "TN": 55}
    close(alternatives("classification-metrics", pins, "prec")["precision-recall-swapped"]["value"], 0.75)
    close(alternatives("classification-metrics", pins, "f1")["arithmetic-mean"]["value"], (30 / 35 + 0.75) / 2)
    close(alternatives("classification-metrics", pins, "spec")["negative-predictive-value"]["value"], 55 / 65)
    # only where raw accuracy and usefulness disagree is "the higher accuracy" offered as a mistake
    assert "raw-accuracy" in alternatives("classification-metrics", {"acc_a": 60, "acc_b": 10}, "useful")
    assert "raw-accuracy" not in alternatives("classification-metrics", {"acc_a": 80, "acc_b": 40}, "useful")


def test_confusion_matrix_counts_true_rows_and_predicted_columns_from_1():
    C = confusion_matrix([1, 1, 2, 3, 3], [1, 2, 2, 3, 1], 3)
    close(C, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ExprError):
        confusion_matrix([0, 1], [1, 1], 3)  # labels are counted from 1


@pytest.mark.library
def test_classification_metrics_three_class_keys_match_a_direct_count_over_many_instances():
    for inst in instances("classification-metrics")[:400]:
        v = inst.values
        t, y = np.asarray(v["t"], int), np.asarray(v["y"], int)
        C = np.array([[np.sum((t == i) & (y == j)) for j in (1, 2, 3)] for i in (1, 2, 3)], float)
        close(v["C3"], C)
        p, r = np.diag(C) / C.sum(0), np.diag(C) / C.sum(1)
        close(v["prec3"], p)
        close(v["rec3"], r)
        close(v["macro_f1"], np.mean(2 * p * r / (p + r)))
        close(v["micro_f1"], np.mean(t == y))


@pytest.mark.torch
def test_classification_metrics_match_torch_counts_over_random_instances():
    torch = pytest.importorskip("torch")
    for inst in instances("classification-metrics")[:50]:
        v = inst.values
        t = torch.tensor(np.asarray(v["t"], int) - 1)
        y = torch.tensor(np.asarray(v["y"], int) - 1)
        C = torch.bincount(t * 3 + y, minlength=9).reshape(3, 3).double()
        tp = torch.diagonal(C)
        p, r = tp / C.sum(0), tp / C.sum(1)
        close(v["C3"], C.numpy())
        close(v["macro_f1"], (2 * p * r / (p + r)).mean().item())
        one, zero = (lambda n: torch.ones(int(n), dtype=torch.float64)), (lambda n: torch.zeros(int(n), dtype=torch.float64))
        pos_t = torch.cat([one(v["TP"] + v["FN"]), zero(v["FP"] + v["TN"])])  # true labels, positives first
        pos_y = torch.cat([one(v["TP"]), zero(v["FN"]), one(v["FP"]), zero(v["TN"])])
        tp_b = (pos_t * pos_y).sum()
        close(v["prec"], (tp_b / pos_y.sum()).item())
        close(v["rec"], (tp_b / pos_t.sum()).item())
        close(v["acc"], (pos_t == pos_y).double().mean().item())


# ---------------------------------------------------------------------------- box-iou

LEYAA = {"fmt": "corners", "xa": 1, "ya": 1, "wa": 3, "ha": 3, "xb": 2, "yb": 2, "wb": 3, "hb": 3}


def test_box_iou_reproduces_a_published_exercise():
    """IoU exercise of leyaa.ai's computer-vision course
    (https://leyaa.ai/codefly/learn/computer-vision/part-2/computer-vision-iou-intersection-over-union/challenge):
    boxes [1, 1, 4, 4] and [2, 2, 5, 5] in corner format have IoU 0.29 (4 / 14)."""
    v = solve("box-iou", LEYAA)
    assert (v["inter"], v["union"]) == (4, 14)
    assert round(v["iou"], 2) == 0.29
    out = cli_solve("box-iou", [f"{k}={x}" for k, x in LEYAA.items()])
    close(out["values"]["iou"], 4 / 14)


def test_box_iou_centre_format_gives_the_same_boxes_and_a_named_misreading():
    pins = {**LEYAA, "fmt": "centre"}
    v = solve("box-iou", pins)
    close(v["shown_a"], [2.5, 2.5, 3, 3])
    close(v["iou"], 4 / 14)
    # read as corners, [2.5, 2.5, 3, 3] and [3.5, 3.5, 3, 3] do not overlap
    assert alternatives("box-iou", pins, "inter")["centre-read-as-corner"]["value"] == 0


def test_box_iou_is_zero_without_overlap_and_the_unclamped_product_is_a_mistake():
    pins = {**LEYAA, "xb": 6, "yb": 0, "hb": 2}  # B = [6, 0, 9, 2], beside A = [1, 1, 4, 4]
    v = solve("box-iou", pins)
    assert v["inter"] == 0 and v["iou"] == 0 and v["union"] == 15
    alts = alternatives("box-iou", pins, "inter")
    assert alts["no-clamp-at-zero"]["value"] == -2 * 1  # dx = 4 - 6, dy = 2 - 1
    assert "intersection-not-subtracted" not in alternatives("box-iou", pins, "union")


@pytest.mark.library
def test_box_iou_asks_both_overlapping_and_disjoint_boxes():
    ious = [inst.values["iou"] for inst in instances("box-iou")]
    share = sum(i == 0 for i in ious) / len(ious)
    assert 0.1 < share < 0.4


@pytest.mark.torch
def test_box_iou_matches_torch_over_random_instances():
    torch = pytest.importorskip("torch")
    for inst in instances("box-iou")[:50]:
        v = inst.values
        A, B = torch.tensor(np.asarray(v["A"], float)), torch.tensor(np.asarray(v["B"], float))
        lt, rb = torch.maximum(A[:2], B[:2]), torch.minimum(A[2:], B[2:])
        inter = (rb - lt).clamp(min=0).prod()
        area = lambda b: (b[2:] - b[:2]).prod()  # noqa: E731
        close(v["iou"], (inter / (area(A) + area(B) - inter)).item())
        M1, M2 = (torch.tensor(np.asarray(v[k], float)).bool() for k in ("M1", "M2"))
        close(v["m_iou"], ((M1 & M2).sum().double() / (M1 | M2).sum().double()).item())


# ---------------------------------------------------------------------------- gradient-clipping

AMANAI = {"g": [3, 4], "c": 2, "w": [1, -1], "lr": 0.1}


def test_gradient_clipping_reproduces_a_published_exercise():
    """Gradient-clipping exercise of amanailab (https://amanailab.com/code-lab/gradient-clipping):
    g = [3, 4] with max norm 2 has norm 5 and is scaled by 0.4 to [1.2, 1.6]."""
    v = solve("gradient-clipping", AMANAI)
    assert v["norm_g"] == 5 and v["rescaled"] is True
    close(v["g_norm"], [1.2, 1.6])
    close(v["w_new"], [1 - 0.12, -1 - 0.16])
    out = cli_solve("gradient-clipping", ["g=[3,4]", "c=2", "w=[1,-1]", "lr=0.1"])
    close(out["values"]["g_norm"], [1.2, 1.6])


def test_gradient_clipping_below_the_threshold_leaves_the_gradient_alone():
    """The exercise's second case: [0.5, 0.5] with max norm 2 is unchanged."""
    assert clip_by_norm([0.5, 0.5], 2).tolist() == [0.5, 0.5]
    v = solve("gradient-clipping", {"g": [1, -1, 1], "c": 2, "w": [1, 1, 1], "lr": 0.5})
    assert v["rescaled"] is False
    close(v["g_norm"], [1, -1, 1])
    alts = alternatives("gradient-clipping", {"g": [1, -1, 1], "c": 2, "w": [1, 1, 1], "lr": 0.5}, "g_norm")
    close(alts["always-rescaled"]["value"], np.array([1, -1, 1]) * 2 / np.sqrt(3))


def test_gradient_clipping_value_clipping_turns_the_direction():
    v = solve("gradient-clipping", {"g": [4, 1], "c": 2, "w": [0.5, 0.5], "lr": 0.1})
    close(v["g_val"], [2, 1])
    close(v["cos_val"], (8 + 1) / (np.sqrt(5) * np.sqrt(17)))
    assert alternatives("gradient-clipping", {"g": [4, 1], "c": 2, "w": [0.5, 0.5], "lr": 0.1},
                        "cos_val")["direction-kept"]["value"] == 1


@pytest.mark.library
def test_gradient_clipping_is_neither_always_nor_never_rescaled():
    share = np.mean([bool(inst.values["rescaled"]) for inst in instances("gradient-clipping")])
    assert 0.6 < share < 0.9


@pytest.mark.torch
def test_gradient_clipping_matches_torch_clip_grad_and_sgd_over_random_instances():
    torch = pytest.importorskip("torch")
    for inst in instances("gradient-clipping")[:50]:
        v = inst.values
        g = torch.tensor(np.asarray(v["g"], float))
        for mode in ("norm", "value"):
            w = torch.tensor(np.asarray(v["w"], float), requires_grad=True)
            loss = (g * w).sum()  # dL/dw = g, from autograd
            (w.grad,) = torch.autograd.grad(loss, (w,))
            if mode == "norm":
                torch.nn.utils.clip_grad_norm_([w], max_norm=float(v["c"]))
                close(w.grad.numpy(), v["g_norm"], atol=1e-5)  # torch adds 1e-6 to the norm
                opt = torch.optim.SGD([w], lr=float(v["lr"]))
                opt.step()
                close(w.detach().numpy(), v["w_new"], atol=1e-5)
            else:
                torch.nn.utils.clip_grad_value_([w], clip_value=float(v["c"]))
                close(w.grad.numpy(), v["g_val"])
