"""Convolutions by hand: cross-correlations with zero padding, forward and backward.

Everything runs in channel form, x (C_in, *n) and w (C_out, C_in, *k) with one or two spatial
axes; `checks.check_conv` lifts the single-channel forms to it and the results are reshaped
back to the caller's shapes. All windows are read at once through a strided view, and the
input gradient adds its terms with np.bincount in the order of the output positions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from i2dl.engine import checks

__all__ = [
    "conv1d", "conv1d_grad_input", "conv1d_grad_weight", "conv1d_grad_bias", "conv1d_matrix",
    "conv2d", "conv2d_grad_input", "conv2d_grad_weight", "conv2d_grad_bias", "conv2d_matrix",
    "conv_transpose1d", "conv_transpose1d_grad_input", "conv_transpose1d_grad_weight",
    "conv_transpose2d", "conv_transpose2d_grad_input", "conv_transpose2d_grad_weight",
]

Index = tuple[int, ...]
Window = tuple[slice, ...]


def pad(x: np.ndarray, padding: Index) -> np.ndarray:
    """x_pad: p zeros on both sides of every spatial axis (the channel axis is left alone)."""
    if not any(padding):
        return x
    # a zeroed array and one slice assignment: np.pad costs ~20x this on hand-sized arrays
    out = np.zeros((x.shape[0], *(n + 2 * p for n, p in zip(x.shape[1:], padding, strict=True))))
    out[(slice(None),) + tuple(slice(p, p + n) for n, p in zip(x.shape[1:], padding, strict=True))] = x
    return out


def unpad(x_pad: np.ndarray, padding: Index) -> np.ndarray:
    """The inverse of `pad`: drop p entries from both ends of every spatial axis."""
    inner = tuple(slice(p, n - p) for n, p in zip(x_pad.shape[1:], padding, strict=True))
    return x_pad[(slice(None),) + inner]


def windows(out: Index, kernel: Index, stride: Index) -> Iterator[tuple[Index, Window]]:
    """Each output position i with the window i*s : i*s + k of the padded input it reads."""
    for pos in np.ndindex(*out):
        yield pos, tuple(slice(i * s, i * s + k) for i, s, k in zip(pos, stride, kernel, strict=True))


def window_view(xp: np.ndarray, out: Index, kernel: Index, stride: Index) -> np.ndarray:
    """v[c, *i, *j] = x_pad[c, i*s + j]: every window at once, as a strided view (no copy)."""
    st = xp.strides
    # the window's position i steps by s entries of its axis, the offset j by one
    return np.lib.stride_tricks.as_strided(
        xp, (xp.shape[0], *out, *kernel),
        (st[0], *(a * s for a, s in zip(st[1:], stride, strict=True)), *st[1:]), writeable=False)


@lru_cache(maxsize=256)
def _scatter_index(channels: int, out: Index, kernel: Index, stride: Index, padded: Index) -> np.ndarray:
    """Flat index into x_pad (C, *padded) of each term (*i, c, *j): where g[., i] w[., c, j] lands.

    Ordered by output position first, so np.bincount adds each entry's terms in the order a
    window-by-window loop adds them.
    """
    nd = len(kernel)
    grids = np.meshgrid(*(np.arange(o) for o in out), np.arange(channels), *(np.arange(k) for k in kernel),
                        indexing="ij")
    pos, c, off = grids[:nd], grids[nd], grids[nd + 1:]
    flat = c
    for i, j, s, n in zip(pos, off, stride, padded, strict=True):
        flat = flat * n + (i * s + j)
    flat = flat.ravel()
    flat.flags.writeable = False
    return flat


def correlate(a: checks.ConvArgs) -> np.ndarray:
    """y[o, i] = sum_{c, j} w[o, c, j] x_pad[c, i*s + j]   (channel form, no bias)."""
    nd = len(a.stride)
    out = a.out_shape[1:]
    win = window_view(pad(a.x, a.padding), out, a.w.shape[2:], a.stride)
    # one dot product of w[o] with each window, over the axes (c, *j)
    return np.tensordot(a.w, win, axes=(list(range(1, nd + 2)), [0, *range(nd + 1, 2 * nd + 1)])).reshape(a.out_shape)


def correlate_grad_input(a: checks.ConvArgs, g: np.ndarray) -> np.ndarray:
    """dL/dx[c, i*s + j] += sum_o g[o, i] w[o, c, j], then the padded border is dropped."""
    k = a.w.shape[2:]
    padded = tuple(n + 2 * p for n, p in zip(a.x.shape[1:], a.padding, strict=True))
    # every input in window i got w times this output's gradient; overlapping windows add up
    terms = np.tensordot(g, a.w, axes=([0], [0]))  # (*i, c, *j)
    index = _scatter_index(a.x.shape[0], g.shape[1:], k, a.stride, padded)
    size = a.x.shape[0] * math.prod(padded)
    dxp = np.bincount(index, weights=terms.ravel(), minlength=size).reshape((a.x.shape[0], *padded))
    return unpad(dxp, a.padding) if any(a.padding) else dxp


def correlate_grad_weight(a: checks.ConvArgs, g: np.ndarray) -> np.ndarray:
    """dL/dw[o, c, j] = sum_i g[o, i] x_pad[c, i*s + j]."""
    nd = len(a.stride)
    win = window_view(pad(a.x, a.padding), g.shape[1:], a.w.shape[2:], a.stride)
    # each weight saw window i of the input, scaled by its output channel's gradient there
    return np.tensordot(g, win, axes=(list(range(1, nd + 1)), list(range(1, nd + 1))))


def correlation_matrix(a: checks.ConvArgs) -> np.ndarray:
    """T[(o, i), (c, i*s - p + j)] = w[o, c, j]: entries landing in the padding are dropped."""
    n, k, all_ = a.x.shape[1:], a.w.shape[2:], (slice(None),)
    t = np.zeros(a.out_shape + a.x.shape)
    for pos in np.ndindex(*a.out_shape[1:]):
        for off in np.ndindex(*k):
            src = tuple(i * s - p + j for i, s, p, j in zip(pos, a.stride, a.padding, off, strict=True))
            # a tap on a padded zero contributes nothing, so it has no column
            if all(0 <= q < m for q, m in zip(src, n, strict=True)):
                t[all_ + pos + all_ + src] = a.w[all_ + all_ + off]
    return t.reshape(int(np.prod(a.out_shape)), a.x.size)


def forward(a: checks.ConvArgs) -> np.ndarray:
    """y = x * w + b in the caller's shapes."""
    y = correlate(a)
    if a.b is not None:
        y += a.b.reshape((-1,) + (1,) * (y.ndim - 1))
    return y.reshape(a.y_shape)


def bias_grad(g: np.ndarray, nd: int) -> np.ndarray | float:
    """dL/db[o] = sum_i g[o, i]; one float when there is no channel axis."""
    if g.ndim == nd:
        return float(g.sum())
    return g.sum(axis=tuple(range(1, g.ndim)))


def conv1d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: int = 1,
           padding: int = 0) -> np.ndarray:
    """y[o, i] = b[o] + sum_{c, j} w[o, c, j] x_pad[c, i*s + j]."""
    return forward(checks.check_conv("conv1d", x, w, b, stride, padding, nd=1))


def conv1d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                      padding: int = 0) -> np.ndarray:
    """dL/dx[c, l] = sum_{o, i, j: i*s + j = l + p} g[o, i] w[o, c, j]."""
    a, g = checks.check_conv_grad_out("conv1d_grad_input", x, w, grad_out, stride, padding, nd=1)
    return correlate_grad_input(a, g).reshape(a.x_shape)


def conv1d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                       padding: int = 0) -> np.ndarray:
    """dL/dw[o, c, j] = sum_i g[o, i] x_pad[c, i*s + j]."""
    a, g = checks.check_conv_grad_out("conv1d_grad_weight", x, w, grad_out, stride, padding, nd=1)
    return correlate_grad_weight(a, g).reshape(a.w_shape)


def conv1d_grad_bias(grad_out: ArrayLike) -> np.ndarray | float:
    """dL/db[o] = sum_i g[o, i]."""
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
    """dL/dx[c, h, v'] = sum over the windows covering (h, v') of g[o, i, j] w[o, c, u, v]."""
    a, g = checks.check_conv_grad_out("conv2d_grad_input", x, w, grad_out, stride, padding, nd=2)
    return correlate_grad_input(a, g).reshape(a.x_shape)


def conv2d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                       stride: int | tuple[int, int] = 1,
                       padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dw[o, c, u, v] = sum_{i, j} g[o, i, j] x_pad[c, i*s_h + u, j*s_w + v]."""
    a, g = checks.check_conv_grad_out("conv2d_grad_weight", x, w, grad_out, stride, padding, nd=2)
    return correlate_grad_weight(a, g).reshape(a.w_shape)


def conv2d_grad_bias(grad_out: ArrayLike) -> np.ndarray | float:
    """dL/db[o] = sum_{i, j} g[o, i, j]."""
    return bias_grad(checks.check_bias_grad_out("conv2d_grad_bias", grad_out, nd=2), 2)


def conv2d_matrix(w: ArrayLike, in_shape: tuple[int, ...], stride: int | tuple[int, int] = 1,
                  padding: int | tuple[int, int] = 0) -> np.ndarray:
    """T with conv2d(x, w, stride, padding).ravel() == T @ x.ravel() (row-major), x of in_shape."""
    a = checks.check_conv_matrix("conv2d_matrix", w, in_shape, stride, padding, nd=2)
    return correlation_matrix(a)


# --- transposed convolution: every input entry scatters a copy of the kernel, scaled by it ---


def scatter(a: checks.ConvTransposeArgs) -> np.ndarray:
    """y[o, i*s + j - p] += sum_c x[c, i] w[c, o, j]: overlapping copies add up, then p is cropped."""
    yf, all_ = np.zeros(a.full_shape), (slice(None),)
    for pos, win in windows(a.x.shape[1:], a.w.shape[2:], a.stride):
        # input entry (c, i) times kernel w[c, o] lands on the window i*s : i*s + k of channel o
        yf[all_ + win] += np.tensordot(a.x[all_ + pos], a.w, axes=1)
    return unpad(yf, a.padding)


def scatter_grad_input(a: checks.ConvTransposeArgs, g: np.ndarray) -> np.ndarray:
    """dL/dx[c, i] = sum_{o, j} g_pad[o, i*s + j] w[c, o, j]: a correlation of g with w."""
    gp, all_ = pad(g, a.padding), (slice(None),)
    dx = np.zeros(a.x.shape)
    for pos, win in windows(a.x.shape[1:], a.w.shape[2:], a.stride):
        # the entry reached exactly the window it was scattered to
        dx[all_ + pos] = np.tensordot(a.w, gp[all_ + win], axes=a.w.ndim - 1)
    return dx


def scatter_grad_weight(a: checks.ConvTransposeArgs, g: np.ndarray) -> np.ndarray:
    """dL/dw[c, o, j] = sum_i x[c, i] g_pad[o, i*s + j]."""
    gp, all_ = pad(g, a.padding), (slice(None),)
    dw = np.zeros(a.w.shape)
    for pos, win in windows(a.x.shape[1:], a.w.shape[2:], a.stride):
        dw += np.multiply.outer(a.x[all_ + pos], gp[all_ + win])
    return dw


def conv_transpose1d(x: ArrayLike, w: ArrayLike, stride: int = 1, padding: int = 0) -> np.ndarray:
    """y[o, l] = sum_{c, i, j: i*s + j = l + p} x[c, i] w[c, o, j]."""
    a = checks.check_conv_transpose("conv_transpose1d", x, w, stride, padding, nd=1)
    return scatter(a).reshape(a.y_shape)


def conv_transpose1d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                                padding: int = 0) -> np.ndarray:
    """dL/dx[c, i] = sum_{o, j} g_pad[o, i*s + j] w[c, o, j]."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose1d_grad_input", x, w, grad_out, stride,
                                                padding, nd=1)
    return scatter_grad_input(a, g).reshape(a.x_shape)


def conv_transpose1d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike, stride: int = 1,
                                 padding: int = 0) -> np.ndarray:
    """dL/dw[c, o, j] = sum_i x[c, i] g_pad[o, i*s + j]."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose1d_grad_weight", x, w, grad_out, stride,
                                                padding, nd=1)
    return scatter_grad_weight(a, g).reshape(a.w_shape)


def conv_transpose2d(x: ArrayLike, w: ArrayLike, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0) -> np.ndarray:
    """y[o, u, v] = sum over (c, i, j) and kernel taps landing on (u + p, v + p) of x[c, i, j] w[c, o, a, b]."""
    a = checks.check_conv_transpose("conv_transpose2d", x, w, stride, padding, nd=2)
    return scatter(a).reshape(a.y_shape)


def conv_transpose2d_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                                stride: int | tuple[int, int] = 1,
                                padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dx[c, i, j] = sum_{o, a, b} g_pad[o, i*s_h + a, j*s_w + b] w[c, o, a, b]."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose2d_grad_input", x, w, grad_out, stride,
                                                padding, nd=2)
    return scatter_grad_input(a, g).reshape(a.x_shape)


def conv_transpose2d_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                                 stride: int | tuple[int, int] = 1,
                                 padding: int | tuple[int, int] = 0) -> np.ndarray:
    """dL/dw[c, o, a, b] = sum_{i, j} x[c, i, j] g_pad[o, i*s_h + a, j*s_w + b]."""
    a, g = checks.check_conv_transpose_grad_out("conv_transpose2d_grad_weight", x, w, grad_out, stride,
                                                padding, nd=2)
    return scatter_grad_weight(a, g).reshape(a.w_shape)
