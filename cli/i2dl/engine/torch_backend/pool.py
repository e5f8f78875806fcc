"""Max and average pooling in torch (float64): forward by torch.nn.functional, gradients by autograd.

Arguments are checked by `checks.check_pool` exactly as in the numpy backend and arrive in
channel form, x (C, *n); torch sees a batch of one. Tie rule (torch's CPU max_pool kernel): the
first maximum in row-major window order wins and takes the whole gradient.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike

from i2dl.engine import checks
from i2dl.engine.torch_backend.conv import array, tensor

__all__ = [
    "maxpool1d", "avgpool1d", "maxpool1d_grad_input", "avgpool1d_grad_input", "maxpool1d_argmax",
    "maxpool2d", "avgpool2d", "maxpool2d_grad_input", "avgpool2d_grad_input", "maxpool2d_argmax",
]

Pair = int | tuple[int, int]

# the functional pool for each (reduction, number of spatial axes)
POOL = {("max", 1): F.max_pool1d, ("max", 2): F.max_pool2d,
        ("mean", 1): F.avg_pool1d, ("mean", 2): F.avg_pool2d}


def pooled(a: checks.PoolArgs, x: torch.Tensor, reduce: str) -> torch.Tensor:
    """y = pool(x) in channel form, by torch.nn.functional."""
    return POOL[(reduce, len(a.kernel))](x[None], a.kernel, a.stride)[0]


def pool(a: checks.PoolArgs, reduce: str) -> np.ndarray:
    """The forward pass in the caller's shapes."""
    return array(pooled(a, tensor(a.x), reduce)).reshape(a.y_shape)


def pool_grad(a: checks.PoolArgs, g: np.ndarray, reduce: str) -> np.ndarray:
    """dL/dx of L = sum(pool(x) * g), by autograd."""
    x = tensor(a.x, grad=True)
    (grad,) = torch.autograd.grad(pooled(a, x, reduce), x, grad_outputs=tensor(g))
    return array(grad).reshape(a.x_shape)


def argmax(a: checks.PoolArgs) -> np.ndarray:
    """The winners' flat indices, as torch's max_pool reports them (return_indices=True)."""
    fn = POOL[("max", len(a.kernel))]
    _, idx = fn(tensor(a.x)[None], a.kernel, a.stride, return_indices=True)
    return idx[0].numpy().astype(np.int64).reshape(a.y_shape)


def maxpool1d(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """y[c, i] = max_j x[c, i*s + j]."""
    return pool(checks.check_pool("maxpool1d", x, kernel, stride, nd=1), "max")


def avgpool1d(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """y[c, i] = (1/k) sum_j x[c, i*s + j]."""
    return pool(checks.check_pool("avgpool1d", x, kernel, stride, nd=1), "mean")


def maxpool1d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: int,
                         stride: int | None = None) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_pool_grad_out("maxpool1d_grad_input", x, grad_out, kernel, stride, nd=1)
    return pool_grad(a, g, "max")


def avgpool1d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: int,
                         stride: int | None = None) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_pool_grad_out("avgpool1d_grad_input", x, grad_out, kernel, stride, nd=1)
    return pool_grad(a, g, "mean")


def maxpool1d_argmax(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """Index into the last axis of each window's winner (int64)."""
    return argmax(checks.check_pool("maxpool1d_argmax", x, kernel, stride, nd=1))


def maxpool2d(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """y[c, i, j] = max_{u, v} x[c, i*s_h + u, j*s_w + v]."""
    return pool(checks.check_pool("maxpool2d", x, kernel, stride, nd=2), "max")


def avgpool2d(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """y[c, i, j] = (1/(k_h k_w)) sum_{u, v} x[c, i*s_h + u, j*s_w + v]."""
    return pool(checks.check_pool("avgpool2d", x, kernel, stride, nd=2), "mean")


def maxpool2d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: Pair,
                         stride: Pair | None = None) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_pool_grad_out("maxpool2d_grad_input", x, grad_out, kernel, stride, nd=2)
    return pool_grad(a, g, "max")


def avgpool2d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: Pair,
                         stride: Pair | None = None) -> np.ndarray:
    """dL/dx by autograd."""
    a, g = checks.check_pool_grad_out("avgpool2d_grad_input", x, grad_out, kernel, stride, nd=2)
    return pool_grad(a, g, "mean")


def maxpool2d_argmax(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """Row-major flat index into the last two axes (h * W + w) of each window's winner (int64)."""
    return argmax(checks.check_pool("maxpool2d_argmax", x, kernel, stride, nd=2))
