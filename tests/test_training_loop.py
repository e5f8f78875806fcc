"""The spec language's loop and the training-loop family: unrolled steps against torch autograd and
against the 2020 mock exam's worked logistic-regression step."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import SpecError
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from i2dl.spec.loop import rename, unroll
from i2dl.spec.model import Loop
from tests.samples import instances

LIBRARY = Library()
# 2020 mock III(c): logistic regression on one picture (t = 1), one gradient step with alpha = 0.1
MOCK_2020_IIIC = dict(act="sigmoid", X=[[0.8, 0.5, -1]], targets=[1], w0=[0.5, 0.4, -0.3], b0=0.2, lr=0.1,
                      opt="sgd")
# a ReLU unit that is inactive at steps 1 and 3: its weights change only at step 2
DYING = dict(act="relu", X=[[1, 2], [2, -1]], targets=[1, 0], w0=[0.5, -0.5], b0=0, lr=0.5, opt="sgd")


def _solve(pins: dict):
    return make_instance(LIBRARY.get("training-loop"), 0, get_engine("numpy"), pins=pins).values


def test_training_loop_reproduces_the_2020_mock_logistic_regression_step():
    v = _solve(MOCK_2020_IIIC)
    assert v["z_1"] == pytest.approx(1.1)                      # score 0.9 + 0.2
    assert v["y_1"] == pytest.approx(0.75, abs=0.001)          # sigma(1.1), read off the plot as 0.75
    assert v["gw1"][0] == pytest.approx(-0.2, abs=0.001)       # (p - t) x_1 = -0.25 * 0.8
    assert v["w_1"][0] == pytest.approx(0.52, abs=0.0005)      # 0.5 - 0.1 * (-0.2)


def test_training_loop_keeps_the_weights_of_a_dead_relu_unit_unchanged():
    v = _solve(DYING)
    assert list(v["z_steps"]) == [-0.5, 1.5, -2.0]              # inactive, active, inactive
    assert np.array_equal(v["w_steps"], [[0.5, -0.5], [-2.5, 1.0], [-2.5, 1.0]])
    assert list(v["b_steps"]) == [0.0, -1.5, -1.5]
    assert list(v["L_steps"]) == [1.0, 2.25, 1.0]               # (0 - 1)^2, (1.5 - 0)^2, (0 - 1)^2


def test_training_loop_with_momentum_carries_the_velocity_into_the_next_step():
    v = _solve({**DYING, "act": "identity", "opt": "momentum", "mu": 0.5, "lr": 0.1})
    g1, g2 = np.asarray(v["v_w_1"]), np.asarray(v["v_w_2"]) - 0.5 * np.asarray(v["v_w_1"])
    w0 = np.array(DYING["w0"])
    assert np.allclose(v["w_1"], w0 - 0.1 * g1) and np.allclose(v["w_2"], v["w_1"] - 0.1 * (0.5 * g1 + g2))


def test_grade_follow_through_credits_later_steps_from_a_wrong_first_update():
    from i2dl.evaluate import Evaluator
    from i2dl.exam import build_exam
    from i2dl.grade.score import Grader, Submission

    exam = build_exam("training-loop", 0, pins=DYING, engine_name="numpy")
    prob = exam.problems[0]
    number = {p.id: p.number for p in prob.parts}
    own = Evaluator(get_engine("numpy"), prob.params, prob.compiled_spec().graph,
                    overrides={"w_1": np.array([1.0, 0.0]), "b_1": 0.5}).run()  # the student's wrong step 1
    answers = {number["update"]: {"w1": "[1, 0]", "b1": "0.5"},
               number["trajectory"]: {"W23": np.asarray(own["w_steps"])[1:].tolist(),
                                      "b23": np.asarray(own["b_steps"])[1:].tolist()}}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    blanks = {b.name: b for p in result.parts for b in p.blanks}
    assert blanks["w1"].credit == 0 and blanks["b1"].credit == 0
    assert blanks["W23"].status == "follow-through" and blanks["W23"].credit == 1.0
    assert "your own b1, w1" in blanks["b23"].feedback


def _torch_trajectory(p: dict):
    torch = pytest.importorskip("torch")
    X, t = torch.tensor(np.asarray(p["X"], float)), torch.tensor(np.asarray(p["targets"], float))
    w, b = torch.tensor(np.asarray(p["w0"], float)), torch.tensor(float(p["b0"]), dtype=torch.float64)
    vw, vb = torch.zeros_like(w), torch.tensor(0.0, dtype=torch.float64)
    act = {"identity": lambda z: z, "relu": torch.relu, "sigmoid": torch.sigmoid}[p["act"]]
    ws, bs, losses = [], [], []
    for step in range(3):
        w, b = w.detach().requires_grad_(True), b.detach().requires_grad_(True)
        x, target = X[step % len(X)], t[step % len(t)]
        z = w @ x + b
        if p["act"] == "sigmoid":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, target)
        else:
            loss = (act(z) - target) ** 2
        gw, gb = torch.autograd.grad(loss, (w, b))
        vw, vb = (p["mu"] * vw + gw, p["mu"] * vb + gb) if p["opt"] == "momentum" else (gw, gb)
        w, b = w.detach() - p["lr"] * vw, b.detach() - p["lr"] * vb
        ws.append(w.numpy().copy()), bs.append(float(b)), losses.append(loss.item())
    return np.array(ws), np.array(bs), np.array(losses)


@pytest.mark.library
@pytest.mark.torch
def test_training_loop_matches_torch_autograd_over_random_instances():
    for inst in instances("training-loop")[:150]:
        ws, bs, losses = _torch_trajectory({**inst.params, **inst.values})
        assert np.allclose(inst.values["w_steps"], ws, atol=1e-12)
        assert np.allclose(inst.values["b_steps"], bs, atol=1e-12)
        assert np.allclose(inst.values["L_steps"], losses, atol=1e-12)


def test_rename_changes_variables_only_not_functions_keywords_or_strings():
    names = {"w": "w_0", "relu": "relu_1", "x": "x_1", "stride": "s_9"}
    got = rename("relu(dot(w, x)) + conv1d(x, w, stride=2) if act == 'w' else w.T", names, "here")
    assert got.replace(" ", "") == "relu(dot(w_0,x_1))+conv1d(x_1,w_0,stride=2)ifact=='w'elsew_0.T"


def test_unroll_names_every_step_and_stacks_them():
    loop = Loop(steps=2, data={"x": "X"}, state={"w": "w0"}, body={"L": "(w * x)^2"},
                update={"w": "w - lr * grad(L, w)"})
    out = {k: p.expr for k, p in unroll(loop, {"X", "w0", "lr"}).items()}
    assert out["w_0"] == "w0" and out["x_2"] == "X[(2 - 1) % len(X)]"
    assert out["L_2"].replace(" ", "") == "(w_1*x_2)^2"
    assert out["w_2"].replace(" ", "") == "w_1-lr*grad(L_2,w_1)"
    assert out["w_steps"] == "[w_1, w_2]" and out["L_steps"] == "[L_1, L_2]"


def test_unroll_refuses_names_the_spec_already_uses():
    loop = Loop(steps=1, state={"w": "w0"}, update={"w": "w"})
    with pytest.raises(SpecError, match="w_1"):
        unroll(loop, {"w0", "w_1"})


def test_loop_schema_wants_an_update_for_every_state_name():
    with pytest.raises(ValueError, match="missing b"):
        Loop(steps=1, state={"w": "w0", "b": "b0"}, update={"w": "w"})
