"""Convolutions in torch (float64): forward by torch.nn.functional, every gradient by autograd.

Arguments are checked by `checks.check_conv` exactly as in the numpy backend and arrive in
channel form, x (C_in, *n) and w (C_out, C_in, *k); torch sees a batch of one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from i2dl.engine import checks

__all__ = [
    "conv1d", "conv1d_grad_input", "conv1d_grad_weight", "conv1d_grad_bias", "conv1d_matrix",
    "conv2d", "conv2d_grad_input", "conv2d_grad_weight", "conv2d_grad_bias", "conv2d_matrix",
    "conv_transpose1d", "conv_transpose1d_grad_input", "conv_transpose1d_grad_weight",
    "conv_transpose2d", "conv_transpose2d_grad_input", "conv_transpose2d_grad_weight",
]

# the functional conv for each number of spatial axes
CONV = {1: F.conv1d, 2: F.conv2d}
CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d}


def tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    """numpy -> float64 tensor (a copy, so autograd never touches the caller's array)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def array(t: torch.Tensor) -> np.ndarray:
    """float64 tensor -> numpy float64 array."""
    return t.detach().numpy().astype(np.float64, copy=True)


def correlate(a: checks.ConvArgs, x: torch.Tensor, w: torch.Tensor,
              b: torch.Tensor | None = None) -> torch.Tensor:
    """y = x * w (+ b) in channel form, by torch.nn.functional."""
    nd = len(a.stride)
    return CONV[nd](x[None], w, b, stride=a.stride, padding=a.padding)[0]


def grad_of_correlation(a: checks.ConvArgs, g: np.ndarray, wrt: str) -> np.ndarray:
    """dL/dx or dL/dw of L = sum(y * g), by autograd."""
    x, w = tensor(a.x, wrt == "x"), tensor(a.w, wrt == "w")
    y = correlate(a, x, w)
    (grad,) = torch.autograd.grad(y, x if wrt == "x" else w, grad_outputs=tensor(g))
    return array(grad).reshape(a.x_shape if wrt == "x" else a.w_shape)


def bias_grad(g: np.ndarray, nd: int) -> np.ndarray | float:
    """dL/db of L = sum((b broadcast over positions) * g), by autograd; a float without channels."""
    single = g.ndim == nd
    b = tensor(np.zeros(() if single else g.shape[0]), grad=True)
    # the bias reaches every output position of its channel
    y = b.expand(g.shape) if single else b.reshape((-1,) + (1,) * nd).expand(g.shape)
    (grad,) = torch.autograd.grad(y, b, grad_outputs=tensor(g))
    return float(grad) if single else array(grad)


def correlation_matrix(a: checks.ConvArgs) -> np.ndarray:
    """T = d vec(y) / d vec(x), the Jacobian of the (linear) correlation, by autograd."""
    w = tensor(a.w)
    jac = torch.autograd.functional.jacobian(lambda x: correlate(a, x, w).reshape(-1),
                                             tensor(a.x))
    return array(jac).reshape(int(np.prod(a.out_shape)), a.x.size)


def forward(a: checks.ConvArgs) -> np.ndarray:
    """y = x * w + b in the caller's shapes."""
    b = None if a.b is None else tensor(a.b)
    return array(correlate(a, tensor(a.x), tensor(a.w), b)).reshape(a.y_shape)


def conv1d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """y[o, i] = b[o] + sum_{c, j} w[o, c, j] x_pad[c, i*s + j]."""
    return forward(checks.check_conv("conv1d", x, w, b, stride, padding, nd=1))


def conv1d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                      padding: int = 0) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_conv_grad_out("conv1d_grad_input", x, w, grad_out, stride, padding, nd=1)
    return grad_of_correlation(a, g, "x")


def conv1d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                       padding: int = 0) -> np.ndarray:
    """dL/dw by autograd."""
    a, g = checks.check_conv_grad_out("conv1d_grad_weight", x, w, grad_out, stride, padding, nd=1)
    return grad_of_correlation(a, g, "w")


def conv1d_grad_bias(grad_out: ArrayLike) -> np.ndarray | float:
    """dL/db by autograd."""
    return bias_grad(checks.check_bias_grad_out("conv1d_grad_bias", grad_out, nd=1), 1)


def conv1d_matrix(w: ArrayLike, n: int | tuple[int, ...], stride: int = 1,
                  padding: int = 0) -> np.ndarray:
    """T with conv1d(x, w, stride, padding).ravel() == T @ x.ravel(), x of length n."""
    return correlation_matrix(checks.check_conv_matrix("conv1d_matrix", w, n, stride, padding, nd=1))


def conv2d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> np.ndarray:
    """y[o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] x_pad[c, i*s_h + u, j*s_w + v]."""
    return forward(checks.check_conv("conv2d", x, w, b, stride, padding, nd=2))


def conv2d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                      stride: int | tuple[int, int] = 1,
                      padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_conv_grad_out("conv2d_grad_input", x, w, grad_out, stride, padding, nd=2)
    return grad_of_correlation(a, g, "x")


def conv2d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                       stride: int | tuple[int, int] = 1,
                       padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dw by autograd."""
    a, g = checks.check_conv_grad_out("conv2d_grad_weight", x, w, grad_out, stride, padding, nd=2)
    return grad_of_correlation(a, g, "w")


def conv2d_grad_bias(grad_out: ArrayLike) -> np.ndarray | float:
    """dL/db by autograd."""
    return bias_grad(checks.check_bias_grad_out("conv2d_grad_bias", grad_out, nd=2), 2)


def conv2d_matrix(w: ArrayLike, in_shape: tuple[int, ...], stride: int | tuple[int, int] = 1,
                  padding: int | tuple[int, int] = 0) -> np.ndarray:
    """T with conv2d(x, w, stride, padding).ravel() == T @ x.ravel() (row-major), x of in_shape."""
    a = checks.check_conv_matrix("conv2d_matrix", w, in_shape, stride, padding, nd=2)
    return correlation_matrix(a)


# --- transposed convolution: torch.nn.functional.conv_transpose{1,2}d, gradients by autograd ---


def scatter(a: checks.ConvTransposeArgs, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """y = conv_transpose(x, w) in channel form, by torch.nn.functional."""
    return CONV_TRANSPOSE[len(a.stride)](x[None], w, stride=a.stride, padding=a.padding)[0]


def grad_of_scatter(a: checks.ConvTransposeArgs, g: np.ndarray, wrt: str) -> np.ndarray:
    """dL/dx or dL/dw of L = sum(y * g), by autograd."""
    x, w = tensor(a.x, wrt == "x"), tensor(a.w, wrt == "w")
    (grad,) = torch.autograd.grad(scatter(a, x, w), x if wrt == "x" else w, grad_outputs=tensor(g))
    return array(grad).reshape(a.x_shape if wrt == "x" else a.w_shape)


def conv_transpose1d(x: ArrayLike, w: ArrayLike, stride: int = 1, padding: int = 0) -> np.ndarray:
    """y = conv_transpose1d(x, w) by torch."""
    a = checks.check_conv_transpose("conv_transpose1d", x, w, stride, padding, nd=1)
    return array(scatter(a, tensor(a.x), tensor(a.w))).reshape(a.y_shape)


def conv_transpose1d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                                padding: int = 0) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose1d_grad_input", x, w, grad_out, stride,
                                                padding, nd=1)
    return grad_of_scatter(a, g, "x")


def conv_transpose1d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                                 padding: int = 0) -> np.ndarray:
    """dL/dw by autograd."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose1d_grad_weight", x, w, grad_out, stride,
                                                padding, nd=1)
    return grad_of_scatter(a, g, "w")


def conv_transpose2d(x: ArrayLike, w: ArrayLike, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0) -> np.ndarray:
    """y = conv_transpose2d(x, w) by torch."""
    a = checks.check_conv_transpose("conv_transpose2d", x, w, stride, padding, nd=2)
    return array(scatter(a, tensor(a.x), tensor(a.w))).reshape(a.y_shape)


def conv_transpose2d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                                stride: int | tuple[int, int] = 1,
                                padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose2d_grad_input", x, w, grad_out, stride,
                                                padding, nd=2)
    return grad_of_scatter(a, g, "x")


def conv_transpose2d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                                 stride: int | tuple[int, int] = 1,
                                 padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dw by autograd."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose2d_grad_weight", x, w, grad_out, stride,
                                                padding, nd=2)
    return grad_of_scatter(a, g, "w")
