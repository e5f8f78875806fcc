"""The recurrent families (rnn-bptt, lstm-cell, gru-cell): instructors' own numbers pinned, backprop
through time against torch autograd, the two GRU conventions, and the named mistakes in grading."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library

LIBRARY = Library()
SEEDS = range(50)

# Hinton's "Neural Networks for Machine Learning" (University of Toronto, on Coursera), lecture 7 quiz,
# question 4: one logistic hidden unit, inputs 18, 9, -8 at T = 0, 1, 2 (our steps 1, 2, 3)
HINTON_Q4 = dict(act="sigmoid", xs=[18, 9, -8], ts=[0.1, -0.1, -0.2], w_x=-0.1, w_h=0.5, w_y=0.25, b=0.4,
                 b_y=0, h0=0, loss_at="every")
# MIT 6.86x (Machine Learning with Python, edX), unit 3 homework "LSTM states": a scalar LSTM that
# forgets at once (b_f = -100), always writes (b_i = 100) and shows its cell when x = 1
MIT_LSTM = dict(w_fh=0, w_fx=0, b_f=-100, w_ih=0, w_ix=100, b_i=100, w_oh=0, w_ox=100, b_o=0,
                w_gh=-100, w_gx=50, b_g=0, gh=1)


def _solve(spec: str, pins: dict | None = None, seed: int = 0) -> dict:
    return make_instance(LIBRARY.get(spec), seed, get_engine("numpy"), pins=pins).values


def test_rnn_bptt_reproduces_the_hinton_quiz_error_derivative_at_t1():
    """Lecture 7 quiz, question 4, of G. Hinton's Neural Networks for Machine Learning (University of
    Toronto, Coursera: https://www.coursera.org/learn/neural-networks/exam/bKmgZ/lecture-7-quiz, quiz text
    at https://ja.scribd.com/document/351785907/QUIZ-7-1). The quiz states the hidden values 0.2, 0.4,
    0.8 and outputs 0.05, 0.1, 0.2, and asks dE/dz at T = 1 for E = sum 1/2 (t - y)^2; worked with its
    rounded states the answer is 0.01392 (https://github.com/gerdm/machine_learning, Q7.ipynb)."""
    v = _solve("rnn-bptt", HINTON_Q4)
    assert np.allclose(v["H"], [0.2, 0.4, 0.8], atol=0.005)
    assert np.allclose(v["y"], [0.05, 0.1, 0.2], atol=0.001)
    assert v["dEdz2"] == pytest.approx(0.01392, abs=5e-5)    # exact states give 0.013934


def test_lstm_cell_reproduces_the_mit_lstm_states_over_six_steps():
    """MIT 6.86x, unit 3 homework 4, "LSTM states" (question text with its parameters at
    https://studyx.ai/homework/101282102-2-lstm-d-boakmark-this-pagc-homework-fecha-limite-jul-17-2024-05-59-cst-the-diagram-below):
    h_{-1} = c_{-1} = 0, inputs [0, 0, 1, 1, 1, 0]; rounded to integers the states are [0, 0, 1, -1, 1, 0].
    The spec runs two steps, so the six are three solves, each starting from the state the last one left."""
    h, c, hs = 0.0, 0.0, []
    for xs in ([0, 0], [1, 1], [1, 0]):
        v = _solve("lstm-cell", {**MIT_LSTM, "xs": xs, "h0": h, "c0": c})
        hs += [float(v["h1"]), float(v["h2"])]
        h, c = float(v["h_2"]), float(v["c_2"])
    assert [int(np.round(x)) for x in hs] == [0, 0, 1, -1, 1, 0]
    assert hs[2] == pytest.approx(np.tanh(1.0)) and hs[5] == pytest.approx(-0.5 * np.tanh(1.0))


# ai.adomicarts.com/practice/mle_interview_prep_35 (a GRU-cell practice problem), example 1: x = [1.0, 0.5],
# h_prev = 0, every input weight of the update gate 0.1 and of the candidate 0.2, no biases, and
# h = (1 - z) h_prev + z h~ (the 'write' convention). Its three hidden units are equal, so each is a scalar
# GRU whose input is the weighted sum: 0.1 * (1.0 + 0.5) = 0.1 * 1.5.
GRU_PRACTICE = dict(convention="write", x=1.5, h_prev=0, w_zx=0.1, w_zh=0, b_z=0, w_rx=0.1, w_rh=0, b_r=0,
                    w_nx=0.2, w_nh=0, b_n=0)


def test_gru_cell_reproduces_the_practice_problem_s_published_state():
    v = _solve("gru-cell", GRU_PRACTICE)
    assert v["z"] == pytest.approx(0.5374, abs=5e-5)      # sigmoid(0.15)
    assert v["n"] == pytest.approx(0.2913, abs=5e-5)      # tanh(0.3)
    assert v["h"] == pytest.approx(0.1565, abs=1e-4)      # z * h~; the page multiplies its rounded gates


def test_rnn_bptt_sums_the_shared_weight_gradient_over_every_step():
    v = _solve("rnn-bptt", seed=3)
    dz = [v["dEdz3"], v["dEdz2"]]
    h = [float(v["h_0"]), float(v["h_1"]), float(v["h_2"])]
    dz1 = float(v["dEdh1"]) * (1 - float(v["h_1"]) ** 2)
    assert v["dEdw_h"] == pytest.approx(dz1 * h[0] + dz[1] * h[1] + dz[0] * h[2])
    assert v["dEdx1"] == pytest.approx(dz1 * v["w_x"])


def test_rnn_bptt_with_the_loss_on_the_last_output_ignores_earlier_targets():
    pins = dict(HINTON_Q4, act="tanh", loss_at="last")
    a, b = _solve("rnn-bptt", pins), _solve("rnn-bptt", {**pins, "ts": [5, -5, -0.2]})
    assert a["E"] == pytest.approx(b["E"]) and a["dEdw_h"] == pytest.approx(b["dEdw_h"])
    assert a["E"] == pytest.approx(0.5 * (a["y"][2] + 0.2) ** 2)


def test_gru_cell_conventions_swap_the_roles_of_the_update_gate():
    base = dict(x=1, h_prev=0.5, w_zx=1, w_zh=0, b_z=0, w_rx=0.5, w_rh=1, b_r=0, w_nx=1, w_nh=-1, b_n=0, gh=1)
    keep, write = _solve("gru-cell", {**base, "convention": "keep"}), _solve("gru-cell", {**base, "convention": "write"})
    z, n = keep["z"], keep["n"]
    assert keep["h"] == pytest.approx((1 - z) * n + z * 0.5)     # PyTorch: z keeps the old state
    assert write["h"] == pytest.approx((1 - z) * 0.5 + z * n)    # Chung et al.: z writes the candidate
    assert keep["dLdz"] == pytest.approx(0.5 - n) and write["dLdz"] == pytest.approx(n - 0.5)


def _grade(spec: str, pins: dict, answers_by_part: dict):
    from i2dl.exam import build_exam
    from i2dl.grade.score import Grader, Submission

    exam = build_exam(spec, 0, pins=pins, engine_name="numpy")
    number = {p.id: p.number for p in exam.problems[0].parts}
    answers = {number[part]: blanks for part, blanks in answers_by_part.items()}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    return {b.name: b for p in result.parts for b in p.blanks}


def test_grade_rnn_bptt_names_the_last_step_only_gradient_of_the_shared_weight():
    pins = dict(act="tanh", xs=[1, -1, 2], ts=[0.5, -0.5, 1], w_x=0.5, w_h=-0.5, b=0, w_y=2, b_y=0, h0=0.5,
                loss_at="every")
    v = _solve("rnn-bptt", pins)
    last_only = float(v["dEdz3"]) * float(v["h_2"])
    blanks = _grade("rnn-bptt", pins, {"dw-h": {"dEdw_h": round(last_only, 4), "dEdx1": round(float(v["dEdx1"]), 4)}})
    assert blanks["dEdw_h"].credit == 0 and "every step" in blanks["dEdw_h"].feedback
    assert blanks["dEdx1"].credit == 1


def test_grade_lstm_cell_names_a_forgotten_tanh_slope():
    pins = dict(xs=[1, 2], h0=0, c0=0.5, w_fx=0.5, w_fh=1, b_f=0.5, w_ix=1, w_ih=0, b_i=0, w_ox=-0.5, w_oh=1,
                b_o=0.5, w_gx=0.5, w_gh=-1, b_g=0, gh=2)
    v = _solve("lstm-cell", pins)
    blanks = _grade("lstm-cell", pins, {"gradient": {"dLdc1": round(2 * float(v["o_1"]), 4)}})
    assert blanks["dLdc1"].credit == 0 and "1 - tanh^2" in blanks["dLdc1"].feedback


def _torch_rnn(p: dict):
    torch = pytest.importorskip("torch")
    t = lambda a: torch.tensor(np.asarray(a, float), dtype=torch.float64, requires_grad=True)  # noqa: E731
    w_x, w_h, b, w_y, b_y, h0 = (t(p[k]) for k in ("w_x", "w_h", "b", "w_y", "b_y", "h0"))
    xs, ts = t(p["xs"]), torch.tensor(np.asarray(p["ts"], float))
    act = torch.tanh if p["act"] == "tanh" else torch.sigmoid
    h, zs, hs = h0, [], []
    for k in range(3):
        z = w_h * h + w_x * xs[k] + b
        z.retain_grad()
        h = act(z)
        h.retain_grad()
        zs.append(z), hs.append(h)
    y = w_y * torch.stack(hs) + b_y
    scored = torch.tensor([1.0, 1.0, 1.0] if p["loss_at"] == "every" else [0.0, 0.0, 1.0], dtype=torch.float64)
    E = 0.5 * torch.sum(scored * (y - ts) ** 2)
    E.backward()
    return dict(E=E.item(), dEdz3=zs[2].grad.item(), dEdz2=zs[1].grad.item(), dEdh1=hs[0].grad.item(),
                dEdw_h=w_h.grad.item(), dEdx1=xs.grad[0].item())


@pytest.mark.torch
def test_rnn_bptt_matches_torch_autograd_over_random_instances():
    for seed in SEEDS:
        v = _solve("rnn-bptt", seed=seed)
        got = _torch_rnn(v)
        for name, value in got.items():
            assert float(v[name]) == pytest.approx(value, abs=1e-12), (seed, name)


@pytest.mark.torch
def test_lstm_cell_matches_torch_lstmcell_and_autograd_over_random_instances():
    torch = pytest.importorskip("torch")
    for seed in SEEDS:
        v = _solve("lstm-cell", seed=seed)
        cell = torch.nn.LSTMCell(1, 1, dtype=torch.float64)
        with torch.no_grad():  # PyTorch orders the gates i, f, g, o
            cell.weight_ih.copy_(torch.tensor([[v["w_ix"]], [v["w_fx"]], [v["w_gx"]], [v["w_ox"]]]))
            cell.weight_hh.copy_(torch.tensor([[v["w_ih"]], [v["w_fh"]], [v["w_gh"]], [v["w_oh"]]]))
            cell.bias_ih.copy_(torch.tensor([v["b_i"], v["b_f"], v["b_g"], v["b_o"]]))
            cell.bias_hh.zero_()
        h0 = torch.tensor([[float(v["h0"])]], dtype=torch.float64)
        c0 = torch.tensor([[float(v["c0"])]], dtype=torch.float64, requires_grad=True)
        xs = torch.tensor(np.asarray(v["xs"], float), dtype=torch.float64).reshape(2, 1, 1)
        h1, c1 = cell(xs[0], (h0, c0))
        h2, c2 = cell(xs[1], (h1, c1))
        assert [t.item() for t in (h1, c1, h2, c2)] == pytest.approx(
            [v["h1"], v["c1"], v["h2"], v["c2"]], abs=1e-12), seed
        _, dc0 = torch.autograd.grad(h1, (c1, c0), grad_outputs=torch.full_like(h1, float(v["gh"])))
        assert dc0.item() == pytest.approx(v["dLdc0"], abs=1e-12), seed
        assert float(v["dLdc1"]) == pytest.approx(float(v["gh"]) * float(v["o_1"]) * (1 - np.tanh(float(v["c_1"])) ** 2))


@pytest.mark.torch
def test_gru_cell_matches_torch_grucell_and_autograd_over_random_instances():
    torch = pytest.importorskip("torch")
    for seed in SEEDS:
        v = _solve("gru-cell", seed=seed)
        x = torch.tensor([[float(v["x"])]], dtype=torch.float64)
        hp = torch.tensor([[float(v["h_prev"])]], dtype=torch.float64, requires_grad=True)
        z_gate = torch.sigmoid(v["w_zx"] * x + v["w_zh"] * hp + v["b_z"])
        z_gate.retain_grad()
        r = torch.sigmoid(v["w_rx"] * x + v["w_rh"] * hp + v["b_r"])
        n = torch.tanh(v["w_nx"] * x + v["w_nh"] * (r * hp) + v["b_n"])
        h = (1 - z_gate) * n + z_gate * hp if v["convention"] == "keep" else (1 - z_gate) * hp + z_gate * n
        dz, dh = torch.autograd.grad(h, (z_gate, hp), grad_outputs=torch.full_like(h, float(v["gh"])))
        assert [h.item(), dz.item(), dh.item()] == pytest.approx([v["h"], v["dLdz"], v["dLdh_prev"]], abs=1e-12), seed
        if v["convention"] == "keep":  # PyTorch's own cell (gates r, z, n) gives the same state
            cell = torch.nn.GRUCell(1, 1, dtype=torch.float64)
            with torch.no_grad():
                cell.weight_ih.copy_(torch.tensor([[v["w_rx"]], [v["w_zx"]], [v["w_nx"]]]))
                cell.weight_hh.copy_(torch.tensor([[v["w_rh"]], [v["w_zh"]], [v["w_nh"]]]))
                cell.bias_ih.copy_(torch.tensor([v["b_r"], v["b_z"], v["b_n"]]))
                cell.bias_hh.zero_()
            assert cell(x, hp).item() == pytest.approx(v["h"], abs=1e-12), seed


def test_explain_rnn_bptt_adds_each_hidden_states_own_output_to_the_gradient_from_the_next_step():
    from i2dl.explain import explain_instance
    from i2dl.render import fmt_number

    compiled = LIBRARY.get("rnn-bptt")
    inst = make_instance(compiled, 5, get_engine("numpy"))
    part = explain_instance(inst, compiled=compiled)["parts"][2]     # dE/dh_1
    steps = {s["lhs"]: s for b in part["blanks"] for s in b["steps"]}
    dh2 = next(s for lhs, s in steps.items() if "h_{2}" in lhs and "partial" in lhs)
    rhs = " ".join(dh2["rhs"])
    # dE/dh_2 = (dE/dH)_2 + dE/dz_3 w_h: the direct output path and the recurrent one, with numbers
    assert rhs.count("+") >= 1 and "w_{h}" in rhs
    g_y2 = float(inst.values["y"][1] - inst.values["ts"][1]) * float(inst.values["w_y"])
    assert fmt_number(g_y2) in rhs


def test_solve_cli_pins_the_hinton_quiz_numbers_of_rnn_bptt():
    import json

    from typer.testing import CliRunner

    from i2dl.cli import app

    pins = ["act=sigmoid", "xs=[18,9,-8]", "ts=[0.1,-0.1,-0.2]", "w_x=-0.1", "w_h=0.5", "w_y=0.25", "b=0.4",
            "b_y=0", "h0=0", "loss_at=every"]
    args = ["--engine", "numpy", "solve", "rnn-bptt", "--json"] + [a for p in pins for a in ("--param", p)]
    result = CliRunner().invoke(app, args, env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    blanks = {b["name"]: b["value"] for p in json.loads(result.stdout)["parts"] for b in p["blanks"]}
    assert blanks["dEdz2"] == pytest.approx(0.01392, abs=5e-5)


def test_grade_follow_through_credits_outputs_and_loss_from_wrong_hidden_states():
    pins = dict(act="tanh", xs=[1, -1, 2], ts=[0.5, -0.5, 1], w_x=0.5, w_h=-0.5, b=0, w_y=2, b_y=0, h0=0.5,
                loss_at="every")
    H = np.round(np.asarray(_solve("rnn-bptt", pins)["H"]) + [0.1, 0, 0], 3)   # a slip in h_1
    y = 2 * H
    E = 0.5 * float(np.sum((y - np.array(pins["ts"])) ** 2))
    blanks = _grade("rnn-bptt", pins, {"forward": {"H": H.tolist(), "y": y.tolist(), "E": round(E, 4)}})
    assert blanks["H"].credit == 0
    assert blanks["y"].status == "follow-through" and blanks["E"].status == "follow-through"


def test_gradients_through_a_students_own_stack_of_hidden_states_are_the_keys_chain_rule():
    from i2dl.evaluate import Evaluator
    from i2dl.exam import build_exam

    pins = dict(act="tanh", xs=[1, -1, 2], ts=[0.5, -0.5, 1], w_x=0.5, w_h=-0.5, b=0, w_y=2, b_y=0, h0=0.5,
                loss_at="every")
    prob = build_exam("rnn-bptt", 0, pins=pins, engine_name="numpy").problems[0]
    key = _solve("rnn-bptt", pins)
    rounded = np.round(np.asarray(key["H"]), 3)
    own = Evaluator(get_engine("numpy"), prob.params, prob.compiled_spec().graph, overrides={"H": rounded}).run()
    # dE/dz_3 from the rounded h_3: (y_3 - t_3) w_y (1 - h_3^2), with y_3 the student's own
    y3 = 2 * rounded[2]
    assert own["dEdz3"] == pytest.approx((y3 - 1) * 2 * (1 - float(key["h_3"]) ** 2), abs=1e-9)
