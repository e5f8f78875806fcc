"""The dropout family: inverted scaling, test-time outputs, expectations and the gradient through the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.spec.instance import make_instance
from tests.samples import LIBRARY
from tests.strategies import assert_close, assert_spec_validates, cli_solve

SPECS = Path(__file__).resolve().parents[1] / "problems" / "specs"
# LexAI Labs practice problem "Dropout layer (forward & backward)", example 1 (https://prof.lexailabs.com/practice/dropout-fwd-bwd)
LEXAI = {"x": [1, 2, 3, 4], "p_drop": 0.5, "m": [1, 0, 1, 0], "g": [0.1, 0.2, 0.3, 0.4]}


def _values(seed: int = 0, pins: dict | None = None) -> dict:
    return make_instance(LIBRARY.get("dropout"), seed, get_engine("numpy"), pins=pins or {}).values


def test_dropout_spec_solves_the_lexai_practice_example_when_pinned():
    """LexAI Labs dropout practice, example 1 (https://prof.lexailabs.com/practice/dropout-fwd-bwd):
    x = [1, 2, 3, 4], p = 0.5, mask [1, 0, 1, 0] gives [2, 0, 6, 0]; the upstream [0.1, 0.2, 0.3, 0.4]
    comes back as [0.2, 0, 0.6, 0]."""
    pins = [f"x={LEXAI['x']}", "p_drop=0.5", f"m={LEXAI['m']}", f"g={LEXAI['g']}"]
    blanks = {b["name"]: b["value"] for part in cli_solve("dropout", pins)["parts"] for b in part["blanks"]}
    assert_close(blanks["y"], [2, 0, 6, 0])
    assert_close(blanks["dx"], [0.2, 0, 0.6, 0])
    assert_close(blanks["y_test_answer"], [1, 2, 3, 4])
    assert_close(blanks["y_plain_test"], [0.5, 1, 1.5, 2])


def test_dropout_expectation_and_variance_follow_the_keep_probability():
    """x_j = 2 kept with q = 0.25: E[z] = w.x, Var[y_j] = 4 * 0.75 / 0.25 = 12."""
    v = _values(pins={"x": np.array([2.0, -1.0, 3.0, 1.0]), "m": np.array([1.0, 0.0, 1.0, 0.0]), "p_drop": 0.75,
                      "w": np.array([1.0, 2.0, -1.0, 0.5]), "j": 1})
    assert_close(v["y"], [8, 0, 12, 0])
    assert v["z"] == pytest.approx(8 - 12)
    assert v["z_mean"] == pytest.approx(2 - 2 - 3 + 0.5)
    assert v["y_var"] == pytest.approx(12)


def test_dropout_expectation_matches_the_mean_over_every_mask():
    """E[z] and Var[y_j] of the key equal the exact average over all 2^n masks, weighted by their probability."""
    v = _values(seed=3)
    x, w, q, j = np.asarray(v["x"]), np.asarray(v["w"]), float(v["q"]), int(v["j"]) - 1
    masks = np.array(np.meshgrid(*[[0, 1]] * len(x))).reshape(len(x), -1).T
    prob = np.prod(np.where(masks == 1, q, 1 - q), axis=1)
    ys = masks * x / q
    assert np.sum(prob * (ys @ w)) == pytest.approx(v["z_mean"])
    assert np.sum(prob * ys[:, j] ** 2) - np.sum(prob * ys[:, j]) ** 2 == pytest.approx(v["y_var"])


def test_grade_dropout_names_scaling_by_p_and_scaling_at_test_time():
    from i2dl.exam import build_exam
    from i2dl.grade.score import Grader, Submission

    pins = {"x": np.array([2.0, -1.0, 3.0, 1.0]), "m": np.array([1.0, 0.0, 1.0, 1.0]), "p_drop": 0.2,
            "w": np.array([1.0, 2.0, -1.0, 0.5]), "j": 1}
    exam = build_exam("dropout", 0, pins=pins, engine_name="numpy")
    number = {p.id: p.number for p in exam.problems[0].parts}
    answers = {number["train"]: {"y": "[0.4, 0, 0.6, 0.2]"},  # x m p instead of x m / q
               number["test"]: {"y_test_answer": "[1.6, -0.8, 2.4, 0.8]"}}  # x q: scaled at test time
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    blanks = {b.name: b for p in result.parts for b in p.blanks}
    assert blanks["y"].credit == 0 and "divided by the keep probability" in blanks["y"].feedback
    assert blanks["y_test_answer"].credit == 0 and "unchanged" in blanks["y_test_answer"].feedback


def test_dropout_spec_validates_without_errors_or_warnings():
    assert_spec_validates(SPECS / "dropout.yaml", samples=100, max_tries=10)


@pytest.mark.torch
def test_dropout_spec_matches_torch_autograd_over_random_instances():
    """y, dL/dx (through the mask) and dL/dw of 50 instances equal torch.autograd.grad of the same maths."""
    torch = pytest.importorskip("torch")
    for seed in range(50):
        v = _values(seed)
        x = torch.tensor(np.asarray(v["x"], float), requires_grad=True)
        w = torch.tensor(np.asarray(v["w"], float), requires_grad=True)
        m = torch.tensor(np.asarray(v["m"], float))
        y = x * m / (1 - float(v["p_drop"]))
        (dx,) = torch.autograd.grad((y * torch.tensor(np.asarray(v["g"], float))).sum(), x)
        (dw,) = torch.autograd.grad(torch.dot(w, y.detach()) * float(v["dz"]), w)
        assert_close(v["y"], y.detach().numpy())
        assert_close(v["dx"], dx.numpy())
        assert_close(v["dw"], dw.numpy())
        assert_close(v["z"], float(torch.dot(w.detach(), y.detach())))


@pytest.mark.torch
def test_dropout_inverted_training_output_matches_torch_dropout_on_its_own_mask():
    """torch's nn.functional.dropout zeroes some units and divides the rest by 1 - p: the key's rule x m / q."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = torch.arange(1.0, 201.0, dtype=torch.float64)
    out = torch.nn.functional.dropout(x, p=0.4, training=True)
    m = (out != 0).double()  # torch's own mask, read back from its output
    v = _values(pins={"x": x.numpy(), "m": m.numpy(), "p_drop": 0.4, "w": np.ones(200), "j": int(m.argmax()) + 1})
    assert_close(v["y"], out.numpy())
