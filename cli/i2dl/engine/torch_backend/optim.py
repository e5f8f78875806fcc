"""Optimizer trajectories run by torch.optim (the oracle for the numpy backend).

Each step sets p.grad to the given gradient and calls opt.step(); the states are read back
from opt.state. Hyper-parameter mapping (contract name -> torch.optim):
  sgd(lr, weight_decay)         -> SGD(lr=lr, momentum=0, weight_decay=weight_decay)
  momentum(lr, mu), "pytorch"   -> SGD(lr=lr, momentum=mu, dampening=0); v = state "momentum_buffer"
  nesterov(lr, mu)              -> SGD(lr=lr, momentum=mu, dampening=0, nesterov=True)
  adagrad(lr, eps)              -> Adagrad(lr=lr, eps=eps, initial_accumulator_value=0, lr_decay=0);
                                   s = state "sum"; eps is added outside sqrt(s)
  rmsprop(lr, beta, eps)        -> RMSprop(lr=lr, alpha=beta, eps=eps, momentum=0, centered=False);
                                   s = state "square_avg"; eps is added outside sqrt(s)
  adam(lr, beta1, beta2, eps)   -> Adam(lr=lr, betas=(beta1, beta2), eps=eps); m, v = states
                                   "exp_avg", "exp_avg_sq"; eps is added outside sqrt(v_hat)
  adamw(..., weight_decay)      -> AdamW(same, weight_decay=weight_decay): w *= 1 - lr wd, then Adam
torch.optim has no classic momentum (v = mu v - lr g; w += v) and no Adam without bias
correction: those two are computed in torch tensors by their formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from i2dl.engine.checks import (
    check_fraction,
    check_nonnegative,
    check_positive,
    check_trajectory_finite,
    newton_inputs,
    optimizer_choice,
    trajectory_inputs,
)

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "newton_step"]

GradAt = Callable[[int, np.ndarray], np.ndarray]
#: Reads the recorded states from (optimizer state of p, p.grad, w before the step, step t).
Recorder = Callable[[dict, torch.Tensor, torch.Tensor, int], dict[str, torch.Tensor]]


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64).copy()


def _stack(op: str, ws: list[torch.Tensor], states: list[dict[str, torch.Tensor]],
           eps: float | None = None) -> dict[str, np.ndarray]:
    out = {"w": np.stack([_np(w) for w in ws])}
    for name in states[0]:
        out[name] = np.stack([_np(s[name]) for s in states])
    check_trajectory_finite(op, out, eps)
    return out


def _run_torch_optim(op: str, w0: np.ndarray, grad_at: GradAt, n: int,
                     make: Callable[[list[torch.Tensor]], torch.optim.Optimizer], record: Recorder,
                     eps: float | None = None) -> dict[str, np.ndarray]:
    """T steps of a torch.optim optimizer with p.grad set to the given gradient each step."""
    p = _t(w0).requires_grad_(True)
    opt = make([p])
    ws, states = [p.detach().clone()], []
    for t in range(1, n + 1):
        w_before = p.detach().clone()
        p.grad = _t(grad_at(t - 1, _np(w_before)))
        opt.step()
        ws.append(p.detach().clone())
        states.append({k: v.detach().clone() for k, v in record(opt.state[p], p.grad, w_before, t).items()})
    return _stack(op, ws, states, eps)


def sgd(w0: Any, grads: Any, lr: float, steps: int | None = None, weight_decay: float = 0.0) -> dict[str, np.ndarray]:
    """torch.optim.SGD: g = grad + wd w; w <- w - lr g."""
    w, grad_at, n = trajectory_inputs("sgd", w0, grads, steps)
    lr = check_positive(lr, "sgd", "lr")
    wd = check_nonnegative(weight_decay, "sgd", "weight_decay")
    return _run_torch_optim(
        "sgd", w, grad_at, n, lambda ps: torch.optim.SGD(ps, lr=lr, weight_decay=wd),
        # SGD adds wd * w to a copy of the gradient; "g" records that gradient actually used.
        lambda st, grad, w_before, t: {"g": grad + wd * w_before})


def _momentum_record(mu: float) -> Recorder:
    # With momentum 0 torch keeps no buffer: v = 0 v + g is the gradient itself.
    def record(st: dict, grad: torch.Tensor, w_before: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
        return {"v": st["momentum_buffer"] if mu > 0 else grad, "g": grad}
    return record


def momentum(w0: Any, grads: Any, lr: float, mu: float, steps: int | None = None,
             form: str = "pytorch") -> dict[str, np.ndarray]:
    """pytorch: torch.optim.SGD(momentum=mu); classic (v <- mu v - lr g, w <- w + v) in torch by formula."""
    w, grad_at, n = trajectory_inputs("momentum", w0, grads, steps)
    lr = check_positive(lr, "momentum", "lr")
    mu = check_nonnegative(mu, "momentum", "mu")
    form = optimizer_choice("momentum", form)
    if form == "pytorch":
        return _run_torch_optim(
            "momentum", w, grad_at, n, lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, dampening=0.0),
            _momentum_record(mu))
    wt, v = _t(w), torch.zeros_like(_t(w))
    ws, states = [wt.clone()], []
    for t in range(n):
        g = _t(grad_at(t, _np(wt)))
        v = mu * v - lr * g
        wt = wt + v
        ws.append(wt.clone())
        states.append({"v": v.clone(), "g": g})
    return _stack("momentum", ws, states)


def nesterov(w0: Any, grads: Any, lr: float, mu: float, steps: int | None = None) -> dict[str, np.ndarray]:
    """torch.optim.SGD(momentum=mu, nesterov=True)."""
    w, grad_at, n = trajectory_inputs("nesterov", w0, grads, steps)
    lr = check_positive(lr, "nesterov", "lr")
    mu = check_nonnegative(mu, "nesterov", "mu")
    return _run_torch_optim(
        "nesterov", w, grad_at, n,
        # torch refuses nesterov=True with momentum 0, where the update is plain SGD anyway.
        lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, dampening=0.0, nesterov=mu > 0),
        _momentum_record(mu))


def adagrad(w0: Any, grads: Any, lr: float, eps: float = 1e-10, steps: int | None = None) -> dict[str, np.ndarray]:
    """torch.optim.Adagrad(initial_accumulator_value=0): s <- s + g^2; w <- w - lr g / (sqrt(s) + eps)."""
    w, grad_at, n = trajectory_inputs("adagrad", w0, grads, steps)
    lr = check_positive(lr, "adagrad", "lr")
    eps = check_nonnegative(eps, "adagrad", "eps")
    return _run_torch_optim(
        "adagrad", w, grad_at, n,
        lambda ps: torch.optim.Adagrad(ps, lr=lr, eps=eps, initial_accumulator_value=0.0, lr_decay=0.0),
        lambda st, grad, w_before, t: {"s": st["sum"], "g": grad}, eps)


def rmsprop(w0: Any, grads: Any, lr: float, beta: float = 0.99, eps: float = 1e-8,
            steps: int | None = None) -> dict[str, np.ndarray]:
    """torch.optim.RMSprop(alpha=beta): s <- beta s + (1 - beta) g^2; w <- w - lr g / (sqrt(s) + eps)."""
    w, grad_at, n = trajectory_inputs("rmsprop", w0, grads, steps)
    lr = check_positive(lr, "rmsprop", "lr")
    beta = check_fraction(beta, "rmsprop", "beta")
    eps = check_nonnegative(eps, "rmsprop", "eps")
    return _run_torch_optim(
        "rmsprop", w, grad_at, n, lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=beta, eps=eps),
        lambda st, grad, w_before, t: {"s": st["square_avg"], "g": grad}, eps)


def _adam_record(beta1: float, beta2: float) -> Recorder:
    def record(st: dict, grad: torch.Tensor, w_before: torch.Tensor, t: int) -> dict[str, torch.Tensor]:
        m, v = st["exp_avg"], st["exp_avg_sq"]
        return {"m": m, "v": v, "m_hat": m / (1 - beta1**t), "v_hat": v / (1 - beta2**t), "g": grad}
    return record


def _adam_inputs(op: str, w0: Any, grads: Any, steps: Any, lr: Any, beta1: Any, beta2: Any, eps: Any,
                 weight_decay: Any):
    w, grad_at, n = trajectory_inputs(op, w0, grads, steps)
    return (w, grad_at, n, check_positive(lr, op, "lr"), check_fraction(beta1, op, "beta1"),
            check_fraction(beta2, op, "beta2"), check_nonnegative(eps, op, "eps"),
            check_nonnegative(weight_decay, op, "weight_decay"))


def adam(w0: Any, grads: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         steps: int | None = None, bias_correction: bool = True) -> dict[str, np.ndarray]:
    """torch.optim.Adam; without bias correction (m_hat = m, v_hat = v) in torch by formula."""
    w, grad_at, n, lr, b1, b2, eps, _ = _adam_inputs("adam", w0, grads, steps, lr, beta1, beta2, eps, 0.0)
    if bias_correction:
        return _run_torch_optim(
            "adam", w, grad_at, n, lambda ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps),
            _adam_record(b1, b2), eps)
    wt = _t(w)
    m, v = torch.zeros_like(wt), torch.zeros_like(wt)
    ws, states = [wt.clone()], []
    for t in range(n):
        g = _t(grad_at(t, _np(wt)))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        wt = wt - lr * m / (torch.sqrt(v) + eps)
        ws.append(wt.clone())
        states.append({"m": m.clone(), "v": v.clone(), "m_hat": m.clone(), "v_hat": v.clone(), "g": g})
    return _stack("adam", ws, states, eps)


def adamw(w0: Any, grads: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.01, steps: int | None = None) -> dict[str, np.ndarray]:
    """torch.optim.AdamW: w <- w (1 - lr wd), then the Adam step."""
    w, grad_at, n, lr, b1, b2, eps, wd = _adam_inputs("adamw", w0, grads, steps, lr, beta1, beta2, eps,
                                                      weight_decay)
    return _run_torch_optim(
        "adamw", w, grad_at, n,
        lambda ps: torch.optim.AdamW(ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd),
        _adam_record(b1, b2), eps)


def newton_step(w: Any, grad: Any, hess: Any) -> np.ndarray:
    """w - f'/f'' (scalar), or w - H^-1 grad by torch.linalg.solve."""
    w, g, h = newton_inputs("newton_step", w, grad, hess)
    wt, gt, ht = _t(w), _t(g), _t(h)
    return _np(wt - (gt / ht if h.ndim == 0 else torch.linalg.solve(ht, gt)))
