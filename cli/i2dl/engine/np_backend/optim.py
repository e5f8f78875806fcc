"""Optimizer trajectories by hand: every update written out, float64.

Each optimizer returns a dict of arrays stacked over time: "w" has T+1 rows (w0 first),
each state ("g" the gradient used, "v", "m", "s", "m_hat", "v_hat") T rows, the value
after step t.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


class _Trajectory:
    """Collects w after each step and the named states."""

    def __init__(self, w0: np.ndarray):
        self.rows: dict[str, list[np.ndarray]] = {"w": [w0.copy()]}

    def add(self, w: np.ndarray, **states: np.ndarray) -> None:
        self.rows["w"].append(w.copy())
        for name, value in states.items():
            self.rows.setdefault(name, []).append(np.array(value, dtype=np.float64))

    def result(self, op: str, eps: float | None = None) -> dict[str, np.ndarray]:
        out = {name: np.stack(rows).astype(np.float64) for name, rows in self.rows.items()}
        check_trajectory_finite(op, out, eps)
        return out


def sgd(w0: Any, grads: Any, lr: float, steps: int | None = None, weight_decay: float = 0.0) -> dict[str, np.ndarray]:
    """g = grad + wd w; w <- w - lr g."""
    w, grad_at, n = trajectory_inputs("sgd", w0, grads, steps)
    lr = check_positive(lr, "sgd", "lr")
    wd = check_nonnegative(weight_decay, "sgd", "weight_decay")
    run = _Trajectory(w)
    for t in range(n):
        g = grad_at(t, w) + wd * w
        w = w - lr * g
        run.add(w, g=g)
    return run.result("sgd")


def momentum(w0: Any, grads: Any, lr: float, mu: float, steps: int | None = None,
             form: str = "pytorch") -> dict[str, np.ndarray]:
    """pytorch: v <- mu v + g, w <- w - lr v; classic: v <- mu v - lr g, w <- w + v."""
    w, grad_at, n = trajectory_inputs("momentum", w0, grads, steps)
    lr = check_positive(lr, "momentum", "lr")
    mu = check_nonnegative(mu, "momentum", "mu")
    form = optimizer_choice("momentum", form)
    v = np.zeros_like(w)
    run = _Trajectory(w)
    for t in range(n):
        g = grad_at(t, w)
        if form == "pytorch":
            v = mu * v + g
            w = w - lr * v
        else:
            v = mu * v - lr * g
            w = w + v
        run.add(w, v=v, g=g)
    return run.result("momentum")


def nesterov(w0: Any, grads: Any, lr: float, mu: float, steps: int | None = None) -> dict[str, np.ndarray]:
    """v <- mu v + g; w <- w - lr (g + mu v), g taken at w (the pytorch form)."""
    w, grad_at, n = trajectory_inputs("nesterov", w0, grads, steps)
    lr = check_positive(lr, "nesterov", "lr")
    mu = check_nonnegative(mu, "nesterov", "mu")
    v = np.zeros_like(w)
    run = _Trajectory(w)
    for t in range(n):
        g = grad_at(t, w)
        v = mu * v + g
        w = w - lr * (g + mu * v)
        run.add(w, v=v, g=g)
    return run.result("nesterov")


def adagrad(w0: Any, grads: Any, lr: float, eps: float = 1e-10, steps: int | None = None) -> dict[str, np.ndarray]:
    """s <- s + g^2; w <- w - lr g / (sqrt(s) + eps)."""
    w, grad_at, n = trajectory_inputs("adagrad", w0, grads, steps)
    lr = check_positive(lr, "adagrad", "lr")
    eps = check_nonnegative(eps, "adagrad", "eps")
    s = np.zeros_like(w)
    run = _Trajectory(w)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 with eps = 0 is reported below
        for t in range(n):
            g = grad_at(t, w)
            s = s + g**2
            w = w - lr * g / (np.sqrt(s) + eps)
            run.add(w, s=s, g=g)
    return run.result("adagrad", eps)


def rmsprop(w0: Any, grads: Any, lr: float, beta: float = 0.99, eps: float = 1e-8,
            steps: int | None = None) -> dict[str, np.ndarray]:
    """s <- beta s + (1 - beta) g^2; w <- w - lr g / (sqrt(s) + eps)."""
    w, grad_at, n = trajectory_inputs("rmsprop", w0, grads, steps)
    lr = check_positive(lr, "rmsprop", "lr")
    beta = check_fraction(beta, "rmsprop", "beta")
    eps = check_nonnegative(eps, "rmsprop", "eps")
    s = np.zeros_like(w)
    run = _Trajectory(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(n):
            g = grad_at(t, w)
            s = beta * s + (1 - beta) * g**2
            w = w - lr * g / (np.sqrt(s) + eps)
            run.add(w, s=s, g=g)
    return run.result("rmsprop", eps)


def _lerp(a: np.ndarray, b: np.ndarray, weight: float) -> np.ndarray:
    """a + weight (b - a), evaluated as torch.lerp does for each range of the weight."""
    if abs(weight) < 0.5:
        return a + weight * (b - a)
    return b - (b - a) * (1 - weight)


def _adam(op: str, w0: Any, grads: Any, lr: float, beta1: float, beta2: float, eps: float,
          steps: int | None, bias_correction: bool, weight_decay: float) -> dict[str, np.ndarray]:
    """Adam, with decoupled weight decay w <- w - lr wd w first (AdamW) when wd > 0."""
    w, grad_at, n = trajectory_inputs(op, w0, grads, steps)
    lr = check_positive(lr, op, "lr")
    beta1 = check_fraction(beta1, op, "beta1")
    beta2 = check_fraction(beta2, op, "beta2")
    eps = check_nonnegative(eps, op, "eps")
    wd = check_nonnegative(weight_decay, op, "weight_decay")
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    run = _Trajectory(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(1, n + 1):
            g = grad_at(t - 1, w)
            # The same maths in torch.optim's order of operations, so the two engines agree to
            # the last bits even where eps dominates the denominator and amplifies rounding.
            if wd:
                w = w * (1 - lr * wd)
            m = _lerp(m, g, 1 - beta1)
            v = v * beta2 + (1 - beta2) * (g * g)
            bc1 = 1 - beta1**t if bias_correction else 1.0
            bc2 = 1 - beta2**t if bias_correction else 1.0
            m_hat, v_hat = m / bc1, v / bc2
            w = w + (-(lr / bc1)) * (m / (np.sqrt(v) / np.sqrt(bc2) + eps))
            run.add(w, m=m, v=v, m_hat=m_hat, v_hat=v_hat, g=g)
    return run.result(op, eps)


def adam(w0: Any, grads: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         steps: int | None = None, bias_correction: bool = True) -> dict[str, np.ndarray]:
    """m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; w <- w - lr m_hat / (sqrt(v_hat) + eps)."""
    return _adam("adam", w0, grads, lr, beta1, beta2, eps, steps, bool(bias_correction), 0.0)


def adamw(w0: Any, grads: Any, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.01, steps: int | None = None) -> dict[str, np.ndarray]:
    """w <- w - lr wd w, then the Adam step (decoupled weight decay)."""
    return _adam("adamw", w0, grads, lr, beta1, beta2, eps, steps, True, weight_decay)


def newton_step(w: Any, grad: Any, hess: Any) -> np.ndarray:
    """w - f'(w)/f''(w), or w - H^-1 grad for a vector w."""
    w, g, h = newton_inputs("newton_step", w, grad, hess)
    return w - (g / h if h.ndim == 0 else np.linalg.solve(h, g))
