"""Losses in torch float64; every gradient by autograd (the oracle for the numpy backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from i2dl.engine.checks import MSE_REDUCTIONS, REDUCTIONS, cross_entropy_inputs, loss_inputs

__all__ = [
    "mse", "mse_grad", "l1", "l1_grad", "bce", "bce_grad",
    "bce_with_logits", "bce_with_logits_grad",
    "cross_entropy", "cross_entropy_grad",
    "cross_entropy_with_logits", "cross_entropy_with_logits_grad",
]

Loss = Callable[[torch.Tensor], torch.Tensor]


def _t(x: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def _value(loss: Loss, x: np.ndarray) -> float:
    return float(loss(_t(x)).item())


def _grad(loss: Loss, x: np.ndarray) -> np.ndarray:
    """dL/dx by autograd."""
    xt = _t(x, grad=True)
    (g,) = torch.autograd.grad(loss(xt), xt)
    return g.numpy().astype(np.float64)


def _mse(t: torch.Tensor, reduction: str) -> Loss:
    if reduction == "half_sum":
        return lambda p: 0.5 * F.mse_loss(p, t, reduction="sum")
    return lambda p: F.mse_loss(p, t, reduction=reduction)


def mse(pred: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum (pred - target)^2 with c = 1/n, 1 or 1/2."""
    p, t, red = loss_inputs("mse", pred, target, reduction, MSE_REDUCTIONS)
    return _value(_mse(_t(t), red), p)


def mse_grad(pred: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dpred by autograd."""
    p, t, red = loss_inputs("mse_grad", pred, target, reduction, MSE_REDUCTIONS)
    return _grad(_mse(_t(t), red), p)


def l1(pred: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum |pred - target|."""
    p, t, red = loss_inputs("l1", pred, target, reduction, REDUCTIONS)
    return _value(lambda x: F.l1_loss(x, _t(t), reduction=red), p)


def l1_grad(pred: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dpred by autograd (0 where pred == target)."""
    p, t, red = loss_inputs("l1_grad", pred, target, reduction, REDUCTIONS)
    return _grad(lambda x: F.l1_loss(x, _t(t), reduction=red), p)


def _reduce(terms: torch.Tensor, reduction: str, n: int) -> torch.Tensor:
    return terms.sum() / n if reduction == "mean" else terms.sum()


def _bce(t: torch.Tensor, reduction: str) -> Loss:
    # Not F.binary_cross_entropy: it clamps log at -100 and its backward divides by
    # max(p(1-p), 1e-12), so at p in {0, 1} it departs from the maths. The double `where`
    # keeps log(0) out of the graph where its weight is 0 (0 log 0 = 0, gradient 0 there).
    def loss(p: torch.Tensor) -> torch.Tensor:
        pos = torch.where(t > 0, t * torch.log(torch.where(t > 0, p, 1.0)), 0.0)
        neg = torch.where(t < 1, (1 - t) * torch.log(torch.where(t < 1, 1 - p, 1.0)), 0.0)
        return _reduce(-(pos + neg), reduction, p.numel())
    return loss


def bce(p: Any, t: Any, reduction: str = "mean") -> float:
    """c * sum -(t log p + (1 - t) log(1 - p))."""
    p, t, red = loss_inputs("bce", p, t, reduction, REDUCTIONS, names=("p", "t"),
                            probabilities=True, target_probabilities=True)
    return _value(_bce(_t(t), red), p)


def bce_grad(p: Any, t: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dp by autograd."""
    p, t, red = loss_inputs("bce_grad", p, t, reduction, REDUCTIONS, names=("p", "t"),
                            probabilities=True, target_probabilities=True)
    return _grad(_bce(_t(t), red), p)


def bce_with_logits(z: Any, t: Any, reduction: str = "mean") -> float:
    """bce(sigmoid(z), t)."""
    z, t, red = loss_inputs("bce_with_logits", z, t, reduction, REDUCTIONS, names=("z", "t"),
                            target_probabilities=True)
    return _value(lambda x: F.binary_cross_entropy_with_logits(x, _t(t), reduction=red), z)


def bce_with_logits_grad(z: Any, t: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dz by autograd."""
    z, t, red = loss_inputs("bce_with_logits_grad", z, t, reduction, REDUCTIONS, names=("z", "t"),
                            target_probabilities=True)
    return _grad(lambda x: F.binary_cross_entropy_with_logits(x, _t(t), reduction=red), z)


def _samples(scores: np.ndarray) -> int:
    return scores.shape[0] if scores.ndim == 2 else 1


def _ce_probs(target: np.ndarray, index: bool, reduction: str, n: int) -> Loss:
    """-log p_target (index) or -sum t log p (soft), summed over samples then reduced."""
    if index:
        idx = torch.tensor(target, dtype=torch.int64).unsqueeze(-1)
        return lambda p: _reduce(-torch.log(p.gather(-1, idx)), reduction, n)
    t = _t(target)
    # Only classes with t > 0 enter the graph: log(0) elsewhere would put 0 * inf = NaN in the gradient.
    return lambda p: _reduce(-torch.where(t > 0, t * torch.log(torch.where(t > 0, p, 1.0)), 0.0),
                             reduction, n)


def cross_entropy(p: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum_n -sum_k t_nk log p_nk, from probabilities."""
    p, t, index, red = cross_entropy_inputs("cross_entropy", p, target, reduction, probabilities=True)
    return _value(_ce_probs(t, index, red, _samples(p)), p)


def cross_entropy_grad(p: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dp by autograd."""
    p, t, index, red = cross_entropy_inputs("cross_entropy_grad", p, target, reduction, probabilities=True)
    return _grad(_ce_probs(t, index, red, _samples(p)), p)


def _ce_logits(target: np.ndarray, index: bool, reduction: str) -> Loss:
    # F.cross_entropy takes class indices (int64) or class probabilities (float), batched or not;
    # "mean" divides by the number of samples in both cases.
    t = torch.tensor(target, dtype=torch.int64) if index else _t(target)
    return lambda z: F.cross_entropy(z, t, reduction=reduction)


def cross_entropy_with_logits(z: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum_n -sum_k t_nk log softmax(z_n)_k."""
    z, t, index, red = cross_entropy_inputs("cross_entropy_with_logits", z, target, reduction,
                                            probabilities=False)
    return _value(_ce_logits(t, index, red), z)


def cross_entropy_with_logits_grad(z: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dz by autograd."""
    z, t, index, red = cross_entropy_inputs("cross_entropy_with_logits_grad", z, target, reduction,
                                            probabilities=False)
    return _grad(_ce_logits(t, index, red), z)
