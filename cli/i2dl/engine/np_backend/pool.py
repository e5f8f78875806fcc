"""Max and average pooling by hand, forward and backward, 1-D and 2-D, no padding.

Windows are k wide and s apart (s defaults to k); x is (*n) or (C, *n), and
`checks.check_pool` lifts it to channel form. Tie rule: when a window holds its maximum more
than once, the first maximum in row-major window order wins and takes the whole gradient
(numpy's argmax order, and what torch's max_pool CPU kernel does). Overlapping windows add
their gradients into the inputs they share.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from i2dl.engine import checks

__all__ = [
    "maxpool1d", "avgpool1d", "maxpool1d_grad_input", "avgpool1d_grad_input", "maxpool1d_argmax",
    "maxpool2d", "avgpool2d", "maxpool2d_grad_input", "avgpool2d_grad_input", "maxpool2d_argmax",
]

Pair = int | tuple[int, int]


def window_slices(pos: tuple[int, ...], a: checks.PoolArgs) -> tuple[slice, ...]:
    """The window of output position i: all channels, inputs i*s : i*s + k on each axis."""
    spatial = zip(pos, a.stride, a.kernel, strict=True)
    return (slice(None),) + tuple(slice(i * s, i * s + k) for i, s, k in spatial)


def pool(a: checks.PoolArgs, reduce: str) -> np.ndarray:
    """y[c, i] = max or mean of x[c, i*s : i*s + k], in the caller's shapes."""
    y = np.zeros(a.out_shape)
    for pos in np.ndindex(*a.out_shape[1:]):
        window = a.x[window_slices(pos, a)].reshape(a.x.shape[0], -1)
        y[(slice(None),) + pos] = window.max(axis=1) if reduce == "max" else window.mean(axis=1)
    return y.reshape(a.y_shape)


def argmax(a: checks.PoolArgs) -> np.ndarray:
    """idx[c, i] = flat index into x[c] of the first maximum of window i (row-major order)."""
    idx = np.zeros(a.out_shape, dtype=np.int64)
    for pos in np.ndindex(*a.out_shape[1:]):
        window = a.x[window_slices(pos, a)].reshape(a.x.shape[0], -1)
        # np.argmax returns the first maximum: this is the tie rule
        local = np.unravel_index(window.argmax(axis=1), a.kernel)
        where = tuple(i * s + j for i, s, j in zip(pos, a.stride, local, strict=True))
        idx[(slice(None),) + pos] = np.ravel_multi_index(where, a.x.shape[1:])
    return idx


def maxpool_grad(a: checks.PoolArgs, g: np.ndarray) -> np.ndarray:
    """dL/dx[c, idx[c, i]] += g[c, i]: each window's gradient goes to its winner only."""
    idx = argmax(a).reshape(a.x.shape[0], -1)
    dx = np.zeros((a.x.shape[0], int(np.prod(a.x.shape[1:]))))
    channel = np.arange(a.x.shape[0])[:, None]
    # add.at, not +=: one input can win several overlapping windows
    np.add.at(dx, (np.broadcast_to(channel, idx.shape), idx), g.reshape(idx.shape))
    return dx.reshape(a.x_shape)


def avgpool_grad(a: checks.PoolArgs, g: np.ndarray) -> np.ndarray:
    """dL/dx[c, i*s + j] += g[c, i] / |k|: every input of a window shares its gradient equally."""
    dx = np.zeros(a.x.shape)
    size = int(np.prod(a.kernel))
    for pos in np.ndindex(*a.out_shape[1:]):
        dx[window_slices(pos, a)] += (g[(slice(None),) + pos] / size).reshape((-1,) + (1,) * len(pos))
    return dx.reshape(a.x_shape)


def maxpool1d(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """y[c, i] = max_j x[c, i*s + j]."""
    return pool(checks.check_pool("maxpool1d", x, kernel, stride, nd=1), "max")


def avgpool1d(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """y[c, i] = (1/k) sum_j x[c, i*s + j]."""
    return pool(checks.check_pool("avgpool1d", x, kernel, stride, nd=1), "mean")


def maxpool1d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: int,
                         stride: int | None = None) -> np.ndarray:
    """dL/dx: g[c, i] routed to the first maximum of window i."""
    a, g = checks.check_pool_grad_out("maxpool1d_grad_input", x, grad_out, kernel, stride, nd=1)
    return maxpool_grad(a, g)


def avgpool1d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: int,
                         stride: int | None = None) -> np.ndarray:
    """dL/dx[c, l] = sum over windows i covering l of g[c, i] / k."""
    a, g = checks.check_pool_grad_out("avgpool1d_grad_input", x, grad_out, kernel, stride, nd=1)
    return avgpool_grad(a, g)


def maxpool1d_argmax(x: ArrayLike, kernel: int, stride: int | None = None) -> np.ndarray:
    """Index into the last axis of the first maximum of each window (int64)."""
    a = checks.check_pool("maxpool1d_argmax", x, kernel, stride, nd=1)
    return argmax(a).reshape(a.y_shape)


def maxpool2d(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """y[c, i, j] = max_{u, v} x[c, i*s_h + u, j*s_w + v]."""
    return pool(checks.check_pool("maxpool2d", x, kernel, stride, nd=2), "max")


def avgpool2d(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """y[c, i, j] = (1/(k_h k_w)) sum_{u, v} x[c, i*s_h + u, j*s_w + v]."""
    return pool(checks.check_pool("avgpool2d", x, kernel, stride, nd=2), "mean")


def maxpool2d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: Pair,
                         stride: Pair | None = None) -> np.ndarray:
    """dL/dx: g[c, i, j] routed to the first maximum (row-major) of window (i, j)."""
    a, g = checks.check_pool_grad_out("maxpool2d_grad_input", x, grad_out, kernel, stride, nd=2)
    return maxpool_grad(a, g)


def avgpool2d_grad_input(x: ArrayLike, grad_out: ArrayLike, kernel: Pair,
                         stride: Pair | None = None) -> np.ndarray:
    """dL/dx[c, h, w] = sum over windows covering (h, w) of g[c, i, j] / (k_h k_w)."""
    a, g = checks.check_pool_grad_out("avgpool2d_grad_input", x, grad_out, kernel, stride, nd=2)
    return avgpool_grad(a, g)


def maxpool2d_argmax(x: ArrayLike, kernel: Pair, stride: Pair | None = None) -> np.ndarray:
    """Row-major flat index into the last two axes (h * W + w) of each window's first maximum."""
    a = checks.check_pool("maxpool2d_argmax", x, kernel, stride, nd=2)
    return argmax(a).reshape(a.y_shape)
