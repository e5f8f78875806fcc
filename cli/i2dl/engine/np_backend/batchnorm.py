"""Batch normalization in training mode, forward and backward by hand, float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.engine.checks import batchnorm_backward_inputs, batchnorm_inputs

__all__ = ["batchnorm_train", "batchnorm_backward"]


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) reshaped to broadcast against x of ndim dimensions along axis 1."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_train(x: Any, gamma: Any = None, beta: Any = None, eps: float = 1e-5,
                    running_mean: Any = None, running_var: Any = None,
                    momentum: float = 0.1) -> dict[str, np.ndarray]:
    """y = gamma (x - mu) / sqrt(var + eps) + beta, statistics per channel over the batch."""
    x, axes, g, b, eps, rm, rv, m = batchnorm_inputs(
        "batchnorm_train", x, gamma, beta, eps, running_mean, running_var, momentum)
    count = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)  # biased (1/n): what normalizes the batch
    x_hat = (x - _per_channel(mean, x.ndim)) / np.sqrt(_per_channel(var, x.ndim) + eps)
    y = _per_channel(g, x.ndim) * x_hat + _per_channel(b, x.ndim)
    # The running variance takes the unbiased estimate n/(n-1) var, as torch does.
    return {
        "mean": mean, "var": var, "x_hat": x_hat, "y": y,
        "running_mean": (1 - m) * rm + m * mean,
        "running_var": (1 - m) * rv + m * var * count / (count - 1),
    }


def batchnorm_backward(x: Any, grad_out: Any, gamma: Any = None, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """dx = gamma / sqrt(var + eps) (g - mean(g) - x_hat mean(g x_hat)); dgamma = sum g x_hat; dbeta = sum g."""
    x, axes, g, gamma, eps = batchnorm_backward_inputs("batchnorm_backward", x, grad_out, gamma, eps)
    mean = x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    dgamma = np.sum(g * x_hat, axis=axes)
    dbeta = np.sum(g, axis=axes)
    dx = _per_channel(gamma, x.ndim) * inv_std * (
        g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
