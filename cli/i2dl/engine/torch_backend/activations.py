"""Activations in torch float64; every derivative by autograd (the oracle for the numpy backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from i2dl.engine.checks import activation_inputs, softmax_inputs, vector_input

__all__ = [
    "relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "sigmoid", "sigmoid_grad",
    "tanh", "tanh_grad", "elu", "elu_grad", "identity", "identity_grad",
    "softmax", "softmax_grad", "softmax_jacobian",
]


def _t(x: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def _forward(f: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray) -> np.ndarray:
    return _np(f(_t(x)))


def _derivative(f: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray) -> np.ndarray:
    """f'(x) elementwise: the gradient of sum(f(x)), since df_i/dx_j = 0 for i != j."""
    xt = _t(x, grad=True)
    (g,) = torch.autograd.grad(f(xt).sum(), xt)
    return _np(g)


def relu(x: Any) -> np.ndarray:
    """max(x, 0)."""
    x, _ = activation_inputs("relu", x)
    return _forward(F.relu, x)


def relu_grad(x: Any) -> np.ndarray:
    """relu'(x) by autograd (0 at the kink)."""
    x, _ = activation_inputs("relu_grad", x)
    return _derivative(F.relu, x)


def leaky_relu(x: Any, alpha: float = 0.01) -> np.ndarray:
    """x if x > 0 else alpha x."""
    x, a = activation_inputs("leaky_relu", x, alpha)
    return _forward(lambda t: F.leaky_relu(t, a), x)


def leaky_relu_grad(x: Any, alpha: float = 0.01) -> np.ndarray:
    """leaky_relu'(x) by autograd (alpha at the kink)."""
    x, a = activation_inputs("leaky_relu_grad", x, alpha)
    return _derivative(lambda t: F.leaky_relu(t, a), x)


def sigmoid(x: Any) -> np.ndarray:
    """1 / (1 + exp(-x))."""
    x, _ = activation_inputs("sigmoid", x)
    return _forward(torch.sigmoid, x)


def sigmoid_grad(x: Any) -> np.ndarray:
    """sigma'(x) by autograd."""
    x, _ = activation_inputs("sigmoid_grad", x)
    return _derivative(torch.sigmoid, x)


def tanh(x: Any) -> np.ndarray:
    """tanh(x)."""
    x, _ = activation_inputs("tanh", x)
    return _forward(torch.tanh, x)


def tanh_grad(x: Any) -> np.ndarray:
    """tanh'(x) by autograd."""
    x, _ = activation_inputs("tanh_grad", x)
    return _derivative(torch.tanh, x)


def elu(x: Any, alpha: float = 1.0) -> np.ndarray:
    """x if x > 0 else alpha (exp(x) - 1)."""
    x, a = activation_inputs("elu", x, alpha)
    return _forward(lambda t: F.elu(t, a), x)


def elu_grad(x: Any, alpha: float = 1.0) -> np.ndarray:
    """elu'(x) by autograd (alpha at the kink)."""
    x, a = activation_inputs("elu_grad", x, alpha)
    return _derivative(lambda t: F.elu(t, a), x)


def identity(x: Any) -> np.ndarray:
    """x."""
    x, _ = activation_inputs("identity", x)
    return _forward(lambda t: t, x)


def identity_grad(x: Any) -> np.ndarray:
    """1, by autograd."""
    x, _ = activation_inputs("identity_grad", x)
    return _derivative(lambda t: t * 1.0, x)


def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """exp(x_i) / sum_j exp(x_j) along `axis`."""
    x, a, _ = softmax_inputs("softmax", x, axis)
    return _forward(lambda t: torch.softmax(t, dim=a), x)


def softmax_grad(x: Any, grad_out: Any, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product g^T J by autograd."""
    x, a, g = softmax_inputs("softmax_grad", x, axis, grad_out)
    xt = _t(x, grad=True)
    (gx,) = torch.autograd.grad(torch.softmax(xt, dim=a), xt, grad_outputs=_t(g))
    return _np(gx)


def softmax_jacobian(x: Any) -> np.ndarray:
    """J_ij = ds_i/dx_j of a vector, by autograd."""
    x = vector_input("softmax_jacobian", x)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=0), _t(x))
    return _np(jac)
