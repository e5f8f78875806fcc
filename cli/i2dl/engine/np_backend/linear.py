"""Fully connected layers by hand, in both conventions, one sample or a batch.

"xW": y = x w + b with w (in, out) and samples as rows, x (in,) or (N, in).
"Wx": y = w x + b with w (out, in) and samples as columns, x (in,) or (in, N).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from i2dl.engine import checks

__all__ = ["linear", "linear_grad_input", "linear_grad_weight", "linear_grad_bias"]


def linear(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None,
           convention: str = "xW") -> np.ndarray:
    """xW: y = x w + b; Wx: y = w x + b."""
    a = checks.check_linear("linear", x, w, b, convention)
    y = a.x @ a.w if a.convention == "xW" else a.w @ a.x
    if a.b is not None:
        # Wx with a batch: samples are columns, so b is added to every column
        y = y + (a.b[:, None] if a.convention == "Wx" and y.ndim == 2 else a.b)
    return y


def linear_grad_input(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                      convention: str = "xW") -> np.ndarray:
    """xW: dL/dx = g w^T; Wx: dL/dx = w^T g."""
    a, g = checks.check_linear_grad_out("linear_grad_input", x, w, grad_out, convention)
    return g @ a.w.T if a.convention == "xW" else a.w.T @ g


def linear_grad_weight(x: ArrayLike, w: ArrayLike, grad_out: ArrayLike,
                       convention: str = "xW") -> np.ndarray:
    """xW: dL/dw = x^T g (outer(x, g) for one sample); Wx: dL/dw = g x^T (outer(g, x))."""
    a, g = checks.check_linear_grad_out("linear_grad_weight", x, w, grad_out, convention)
    # x^T g sums the per-sample outer products over the batch
    if a.x.ndim == 1:
        return np.outer(a.x, g) if a.convention == "xW" else np.outer(g, a.x)
    return a.x.T @ g if a.convention == "xW" else g @ a.x.T


def linear_grad_bias(grad_out: ArrayLike, convention: str = "xW") -> np.ndarray:
    """dL/db = g summed over the batch axis (rows for xW, columns for Wx), g itself if unbatched."""
    conv = checks.check_convention(convention, "linear_grad_bias")
    g = checks.check_bias_grad_out("linear_grad_bias", grad_out, nd=1)
    if g.ndim == 1:
        return g.copy()
    return g.sum(axis=0) if conv == "xW" else g.sum(axis=1)
