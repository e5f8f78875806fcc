"""Batch normalization in training mode by torch.nn.functional.batch_norm; backward by autograd."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from i2dl.engine.checks import batchnorm_backward_inputs, batchnorm_inputs

__all__ = ["batchnorm_train", "batchnorm_backward"]


def _t(x: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64).copy()


def _batch_norm(x: torch.Tensor, gamma: torch.Tensor | None, beta: torch.Tensor | None, eps: float,
                running_mean: torch.Tensor | None = None, running_var: torch.Tensor | None = None,
                momentum: float = 0.1) -> torch.Tensor:
    """F.batch_norm in training mode; running statistics, when given, are updated in place."""
    if eps > 0:
        return F.batch_norm(x, running_mean, running_var, weight=gamma, bias=beta, training=True,
                            momentum=momentum, eps=eps)
    # torch refuses eps <= 0 in training, but exam problems often drop eps: the same maths in
    # torch primitives (still differentiated by autograd).
    axes = (0, *range(2, x.dim()))
    view = (1, -1) + (1,) * (x.dim() - 2)
    mean, var = x.mean(dim=axes), x.var(dim=axes, correction=0)
    y = (x - mean.view(view)) / torch.sqrt(var.view(view))
    if gamma is not None:
        y = y * gamma.view(view)
    if beta is not None:
        y = y + beta.view(view)
    if running_mean is not None and running_var is not None:
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * x.var(dim=axes, correction=1))
    return y


def batchnorm_train(x: Any, gamma: Any = None, beta: Any = None, eps: float = 1e-5,
                    running_mean: Any = None, running_var: Any = None,
                    momentum: float = 0.1) -> dict[str, np.ndarray]:
    """y = gamma x_hat + beta, x_hat by the biased var; running stats take the unbiased var (as torch)."""
    x, axes, g, b, eps, rm, rv, m = batchnorm_inputs(
        "batchnorm_train", x, gamma, beta, eps, running_mean, running_var, momentum)
    xt, rmt, rvt = _t(x), _t(rm), _t(rv)
    y = _batch_norm(xt, _t(g), _t(b), eps, rmt, rvt, m)
    # No affine parameters and no running statistics: batch norm returns x_hat itself.
    x_hat = _batch_norm(xt, None, None, eps)
    return {
        "mean": _np(xt.mean(dim=axes)), "var": _np(xt.var(dim=axes, correction=0)),
        "x_hat": _np(x_hat), "y": _np(y), "running_mean": _np(rmt), "running_var": _np(rvt),
    }


def batchnorm_backward(x: Any, grad_out: Any, gamma: Any = None, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """dx, dgamma, dbeta of batch norm in training mode, by autograd."""
    x, axes, g, gamma, eps = batchnorm_backward_inputs("batchnorm_backward", x, grad_out, gamma, eps)
    xt, gt = _t(x, grad=True), _t(gamma, grad=True)
    bt = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    y = _batch_norm(xt, gt, bt, eps)
    dx, dgamma, dbeta = torch.autograd.grad(y, (xt, gt, bt), grad_outputs=_t(g))
    return {"dx": _np(dx), "dgamma": _np(dgamma), "dbeta": _np(dbeta)}
