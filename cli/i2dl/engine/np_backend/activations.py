"""Activations and their derivatives by hand, elementwise, float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.engine.checks import activation_inputs, softmax_inputs, vector_input

__all__ = [
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "sigmoid", "sigmoid_grad",
    "tanh", "tanh_grad", "elu", "elu_grad", "identity", "identity_grad",
    "softmax", "softmax_grad", "softmax_jacobian",
]


def relu(x: Any) -> np.ndarray:
    """max(x, 0)."""
    x, _ = activation_inputs("relu", x)
    return np.maximum(x, 0.0)


def relu_grad(x: Any) -> np.ndarray:
    """relu'(x) = [x > 0]; 0 at the kink, as torch."""
    x, _ = activation_inputs("relu_grad", x)
    return (x > 0).astype(np.float64)


def leaky_relu(x: Any, alpha: float = 0.01) -> np.ndarray:
    """x if x > 0 else alpha x."""
    x, a = activation_inputs("leaky_relu", x, alpha)
    return np.where(x > 0, x, a * x)


def leaky_relu_grad(x: Any, alpha: float = 0.01) -> np.ndarray:
    """1 if x > 0 else alpha; alpha at the kink, as torch."""
    x, a = activation_inputs("leaky_relu_grad", x, alpha)
    return np.where(x > 0, 1.0, a)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a non-positive number only: no overflow for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid(x: Any) -> np.ndarray:
    """1 / (1 + exp(-x))."""
    x, _ = activation_inputs("sigmoid", x)
    return _sigmoid(x)


def sigmoid_grad(x: Any) -> np.ndarray:
    """sigma'(x) = sigma(x) (1 - sigma(x))."""
    x, _ = activation_inputs("sigmoid_grad", x)
    s = _sigmoid(x)
    return s * (1.0 - s)


def tanh(x: Any) -> np.ndarray:
    """tanh(x)."""
    x, _ = activation_inputs("tanh", x)
    return np.tanh(x)


def tanh_grad(x: Any) -> np.ndarray:
    """tanh'(x) = 1 - tanh(x)^2."""
    x, _ = activation_inputs("tanh_grad", x)
    return 1.0 - np.tanh(x) ** 2


def elu(x: Any, alpha: float = 1.0) -> np.ndarray:
    """x if x > 0 else alpha (exp(x) - 1)."""
    x, a = activation_inputs("elu", x, alpha)
    return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0)))


def elu_grad(x: Any, alpha: float = 1.0) -> np.ndarray:
    """1 if x > 0 else alpha exp(x); alpha at the kink, as torch."""
    x, a = activation_inputs("elu_grad", x, alpha)
    return np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0.0)))


def identity(x: Any) -> np.ndarray:
    """x."""
    x, _ = activation_inputs("identity", x)
    return x.copy()


def identity_grad(x: Any) -> np.ndarray:
    """1."""
    x, _ = activation_inputs("identity_grad", x)
    return np.ones_like(x)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    # Shifting by the max leaves softmax unchanged and keeps exp from overflowing.
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """s_i = exp(x_i) / sum_j exp(x_j) along `axis`."""
    x, a, _ = softmax_inputs("softmax", x, axis)
    return _softmax(x, a)


def softmax_grad(x: Any, grad_out: Any, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product: s * (g - sum(g s)) along `axis`."""
    x, a, g = softmax_inputs("softmax_grad", x, axis, grad_out)
    s = _softmax(x, a)
    return s * (g - np.sum(g * s, axis=a, keepdims=True))


def softmax_jacobian(x: Any) -> np.ndarray:
    """J_ij = ds_i/dx_j = s_i (delta_ij - s_j) for a vector x."""
    x = vector_input("softmax_jacobian", x)
    s = _softmax(x, 0)
    return np.diag(s) - np.outer(s, s)
