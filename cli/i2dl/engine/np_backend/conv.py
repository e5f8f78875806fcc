"""Convolutions by hand: cross-correlations with zero padding, forward and backward.

Everything runs in channel form, x (C_in, *n) and w (C_out, C_in, *k) with one or two spatial
axes; `checks.check_conv` lifts the single-channel forms to it and the results are reshaped
back to the caller's shapes. Loops run over output positions, one window at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

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
    return np.pad(x, [(0, 0)] + [(p, p) for p in padding])


def unpad(x_pad: np.ndarray, padding: Index) -> np.ndarray:
    """The inverse of `pad`: drop p entries from both ends of every spatial axis."""
    inner = tuple(slice(p, n - p) for n, p in zip(x_pad.shape[1:], padding, strict=True))
    return x_pad[(slice(None),) + inner]


def windows(out: Index, kernel: Index, stride: Index) -> Iterator[tuple[Index, Window]]:
    """Each output position i with the window i*s : i*s + k of the padded input it reads."""
    for pos in np.ndindex(*out):
        yield pos, tuple(slice(i * s, i * s + k) for i, s, k in zip(pos, stride, kernel, strict=True))


def correlate(a: checks.ConvArgs) -> np.ndarray:
    """y[o, i] = sum_{c, j} w[o, c, j] x_pad[c, i*s + j]   (channel form, no bias)."""
    xp, all_ = pad(a.x, a.padding), (slice(None),)
    y = np.zeros(a.out_shape)
    for pos, win in windows(a.out_shape[1:], a.w.shape[2:], a.stride):
        # contract (c, j) of w[o] with the window: one dot product per output channel
        y[all_ + pos] = np.tensordot(a.w, xp[all_ + win], axes=a.w.ndim - 1)
    return y


def correlate_grad_input(a: checks.ConvArgs, g: np.ndarray) -> np.ndarray:
    """dL/dx[c, i*s + j] += sum_o g[o, i] w[o, c, j], then the padded border is dropped."""
    dxp, all_ = np.zeros(pad(a.x, a.padding).shape), (slice(None),)
    for pos, win in windows(g.shape[1:], a.w.shape[2:], a.stride):
        # every input in the window got w times this output's gradient; overlaps add up
        dxp[all_ + win] += np.tensordot(g[all_ + pos], a.w, axes=1)
    return unpad(dxp, a.padding)


def correlate_grad_weight(a: checks.ConvArgs, g: np.ndarray) -> np.ndarray:
    """dL/dw[o, c, j] = sum_i g[o, i] x_pad[c, i*s + j]."""
    xp, all_ = pad(a.x, a.padding), (slice(None),)
    dw = np.zeros(a.w.shape)
    for pos, win in windows(g.shape[1:], a.w.shape[2:], a.stride):
        # each weight saw this window's input, scaled by its output channel's gradient
        dw += np.multiply.outer(g[all_ + pos], xp[all_ + win])
    return dw


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
