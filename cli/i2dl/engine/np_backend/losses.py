"""Losses and their gradients dL/dpred by hand, float64; scalar losses come back as Python floats."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.engine.checks import MSE_REDUCTIONS, REDUCTIONS, cross_entropy_inputs, loss_inputs

__all__ = [
    "mse", "mse_grad", "l1", "l1_grad", "bce", "bce_grad",
    "bce_with_logits", "bce_with_logits_grad",
    "cross_entropy", "cross_entropy_grad",
    "cross_entropy_with_logits", "cross_entropy_with_logits_grad",
]



def _scale(reduction: str, n: int) -> float:
    """The factor in front of the sum: 1/n (mean), 1 (sum), 1/2 (half_sum)."""
    return {"mean": 1.0 / n, "sum": 1.0, "half_sum": 0.5}[reduction]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _samples(scores: np.ndarray) -> int:
    """Cross-entropy averages over samples: N for (N, C), 1 for one vector (C,)."""
    return scores.shape[0] if scores.ndim == 2 else 1


def _one_hot(target: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes)[target]


def mse(pred: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum (pred - target)^2 with c = 1/n, 1 or 1/2."""
    p, t, red = loss_inputs("mse", pred, target, reduction, MSE_REDUCTIONS)
    return float(_scale(red, p.size) * np.sum((p - t) ** 2))


def mse_grad(pred: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dpred = 2c (pred - target)."""
    p, t, red = loss_inputs("mse_grad", pred, target, reduction, MSE_REDUCTIONS)
    return 2.0 * _scale(red, p.size) * (p - t)


def l1(pred: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum |pred - target|."""
    p, t, red = loss_inputs("l1", pred, target, reduction, REDUCTIONS)
    return float(_scale(red, p.size) * np.sum(np.abs(p - t)))


def l1_grad(pred: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dpred = c sign(pred - target); 0 where pred == target, as torch."""
    p, t, red = loss_inputs("l1_grad", pred, target, reduction, REDUCTIONS)
    return _scale(red, p.size) * np.sign(p - t)


def _bce_terms(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    # 0 log 0 = 0: the masked logs never see 0 where their weight is 0.
    pos = np.where(t > 0, t * np.log(np.where(t > 0, p, 1.0)), 0.0)
    neg = np.where(t < 1, (1 - t) * np.log(np.where(t < 1, 1 - p, 1.0)), 0.0)
    return -(pos + neg)


def bce(p: Any, t: Any, reduction: str = "mean") -> float:
    """c * sum -(t log p + (1 - t) log(1 - p))."""
    p, t, red = loss_inputs("bce", p, t, reduction, REDUCTIONS, names=("p", "t"),
                            probabilities=True, target_probabilities=True)
    return float(_scale(red, p.size) * np.sum(_bce_terms(p, t)))


def bce_grad(p: Any, t: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dp = c (-t/p + (1 - t)/(1 - p))."""
    p, t, red = loss_inputs("bce_grad", p, t, reduction, REDUCTIONS, names=("p", "t"),
                            probabilities=True, target_probabilities=True)
    # The factor before the division, as autograd applies it: c/p may be finite where 1/p is not.
    c = _scale(red, p.size)
    pos = np.where(t > 0, -(c * t) / np.where(t > 0, p, 1.0), 0.0)
    neg = np.where(t < 1, (c * (1 - t)) / np.where(t < 1, 1 - p, 1.0), 0.0)
    return pos + neg


def bce_with_logits(z: Any, t: Any, reduction: str = "mean") -> float:
    """bce(sigmoid(z), t) = c * sum max(z, 0) - z t + log(1 + exp(-|z|))."""
    z, t, red = loss_inputs("bce_with_logits", z, t, reduction, REDUCTIONS, names=("z", "t"),
                            target_probabilities=True)
    return float(_scale(red, z.size) * np.sum(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))


def bce_with_logits_grad(z: Any, t: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dz = c (sigmoid(z) - t)."""
    z, t, red = loss_inputs("bce_with_logits_grad", z, t, reduction, REDUCTIONS, names=("z", "t"),
                            target_probabilities=True)
    return _scale(red, z.size) * (_sigmoid(z) - t)


def _soft_target(target: np.ndarray, index: bool, n_classes: int) -> np.ndarray:
    return _one_hot(target, n_classes) if index else target


def cross_entropy(p: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum_n -sum_k t_nk log p_nk (= -log p_target for a class index), c = 1/N or 1."""
    p, t, index, red = cross_entropy_inputs("cross_entropy", p, target, reduction, probabilities=True)
    t = _soft_target(t, index, p.shape[-1])
    terms = np.where(t > 0, t * np.log(np.where(t > 0, p, 1.0)), 0.0)
    return float(-_scale(red, _samples(p)) * np.sum(terms))


def cross_entropy_grad(p: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dp = -c t / p (0 where t = 0)."""
    p, t, index, red = cross_entropy_inputs("cross_entropy_grad", p, target, reduction, probabilities=True)
    t = _soft_target(t, index, p.shape[-1])
    c = _scale(red, _samples(p))  # before the division, as autograd applies it
    return np.where(t > 0, -(c * t) / np.where(t > 0, p, 1.0), 0.0)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    # log-sum-exp shifted by the max: exact and overflow-free.
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


def cross_entropy_with_logits(z: Any, target: Any, reduction: str = "mean") -> float:
    """c * sum_n -sum_k t_nk log softmax(z_n)_k."""
    z, t, index, red = cross_entropy_inputs("cross_entropy_with_logits", z, target, reduction,
                                            probabilities=False)
    t = _soft_target(t, index, z.shape[-1])
    return float(-_scale(red, _samples(z)) * np.sum(t * _log_softmax(z)))


def cross_entropy_with_logits_grad(z: Any, target: Any, reduction: str = "mean") -> np.ndarray:
    """dL/dz = c (softmax(z) sum_k t_k - t), i.e. c (softmax(z) - onehot) for a class index."""
    z, t, index, red = cross_entropy_inputs("cross_entropy_with_logits_grad", z, target, reduction,
                                            probabilities=False)
    t = _soft_target(t, index, z.shape[-1])
    s = np.exp(_log_softmax(z))
    return _scale(red, _samples(z)) * (s * t.sum(axis=-1, keepdims=True) - t)
