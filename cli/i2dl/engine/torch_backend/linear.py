"""Fully connected layers in torch (float64): forward by torch.nn.functional.linear, gradients
by autograd. Arguments are checked by `checks.check_linear` exactly as in the numpy backend.

F.linear(x, W, b) computes x W^T + b with W (out, in): "xW" passes w^T, and "Wx" transposes
the batch of columns into rows and back.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from i2dl.engine import checks
from i2dl.engine.torch_backend.conv import array, tensor

__all__ = ["linear", "linear_grad_input", "linear_grad_weight", "linear_grad_bias"]


def affine(convention: str, x: torch.Tensor, w: torch.Tensor,
           b: torch.Tensor | None = None) -> torch.Tensor:
    """xW: y = x w + b; Wx: y = w x + b (b added to every column)."""
    if convention == "xW":
        return F.linear(x, w.T, b)
    if x.ndim == 1:
        return F.linear(x, w, b)
    # samples are columns: make them rows for F.linear, then back
    return F.linear(x.T, w, b).T


def affine_grad(a: checks.LinearArgs, g: np.ndarray, wrt: str) -> np.ndarray:
    """dL/dx or dL/dw of L = sum(y * g), by autograd."""
    x, w = tensor(a.x, wrt == "x"), tensor(a.w, wrt == "w")
    y = affine(a.convention, x, w)
    (grad,) = torch.autograd.grad(y, x if wrt == "x" else w, grad_outputs=tensor(g))
    return array(grad)


def linear(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None,
           convention: str = "xW") -> np.ndarray:
    """xW: y = x w + b, w (in, out); Wx: y = w x + b, w (out, in)."""
    a = checks.check_linear("linear", x, w, b, convention)
    return array(affine(a.convention, tensor(a.x), tensor(a.w), None if a.b is None else tensor(a.b)))


def linear_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                      convention: str = "xW") -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_linear_grad_out("linear_grad_input", x, w, grad_out, convention)
    return affine_grad(a, g, "x")


def linear_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                       convention: str = "xW") -> np.ndarray:
    """dL/dw by autograd."""
    a, g = checks.check_linear_grad_out("linear_grad_weight", x, w, grad_out, convention)
    return affine_grad(a, g, "w")


def linear_grad_bias(grad_out: ArrayLike, convention: str = "xW") -> np.ndarray:
    """dL/db of L = sum((b broadcast over the batch) * g), by autograd."""
    conv = checks.check_convention(convention, "linear_grad_bias")
    g = checks.check_bias_grad_out("linear_grad_bias", grad_out, nd=1)
    out_axis = -1 if conv == "xW" else 0
    b = tensor(np.zeros(g.shape[out_axis]), grad=True)
    # the bias reaches every sample: a row per sample (xW) or a column per sample (Wx)
    y = b.expand(g.shape) if (g.ndim == 1 or conv == "xW") else b[:, None].expand(g.shape)
    (grad,) = torch.autograd.grad(y, b, grad_outputs=tensor(g))
    return array(grad)
