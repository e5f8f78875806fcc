"""Argument checks shared by both backends, so both reject the same bad calls the same way."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.errors import EngineError


def as_array(value: Any, op: str, arg: str, *, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    """`value` as a finite float64 array, or an EngineError naming op and argument."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EngineError(op, arg, f"expected numbers, got {type(value).__name__}") from exc
    if ndim is not None and arr.ndim not in ndim:
        raise EngineError(
            op, arg, f"expected {' or '.join(map(str, ndim))} dimensions, got {arr.ndim}",
            shapes={arg: arr.shape},
        )
    if not np.all(np.isfinite(arr)):
        raise EngineError(op, arg, "contains NaN or infinity", shapes={arg: arr.shape})
    return arr


def as_pair(value: Any, op: str, arg: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (stride, padding, kernel size of 2d ops)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [v for v in np.asarray(value).ravel().tolist()]
        if len(items) != 2:
            raise EngineError(op, arg, f"expected an int or a pair of ints, got {value!r}")
        return (as_int(items[0], op, arg), as_int(items[1], op, arg))
    v = as_int(value, op, arg)
    return (v, v)


def as_int(value: Any, op: str, arg: str) -> int:
    """A whole number (a float like 2.0 is accepted) or an EngineError."""
    try:
        f = float(value)
    except (TypeError, ValueError) as exc:
        raise EngineError(op, arg, f"expected an integer, got {value!r}") from exc
    if not np.isfinite(f) or f != int(f):
        raise EngineError(op, arg, f"expected an integer, got {value!r}")
    return int(f)


def check_kernel_fits(n: int, k: int, padding: int, op: str, shapes: dict) -> None:
    """A kernel of size k must fit into the padded input of size n + 2p."""
    if k < 1:
        raise EngineError(op, "kernel", f"kernel size must be >= 1, got {k}", shapes=shapes)
    if k > n + 2 * padding:
        raise EngineError(
            op, "kernel",
            f"kernel size {k} is larger than the padded input size {n} + 2*{padding} = {n + 2 * padding}",
            shapes=shapes,
        )


def check_same_shape(a: np.ndarray, b: np.ndarray, op: str, arg: str, other: str) -> None:
    """Two arrays that must match elementwise."""
    if a.shape != b.shape:
        raise EngineError(op, arg, f"shape must equal the shape of '{other}'",
                          shapes={arg: a.shape, other: b.shape})


# --- conv, pool, linear: whole-call checks, so both backends reject a bad call identically ---

from typing import NamedTuple  # noqa: E402


def check_per_axis(value: Any, nd: int, op: str, arg: str, minimum: int) -> tuple[int, ...]:
    """An int (or, for 2-D ops, an int or a pair) as one integer >= minimum per spatial axis."""
    values = as_pair(value, op, arg) if nd == 2 else (as_int(value, op, arg),)
    for v in values:
        if v < minimum:
            raise EngineError(op, arg, f"must be >= {minimum}, got {value!r}")
    return values


def check_nonempty(arr: np.ndarray, op: str, arg: str) -> None:
    """An operand with no entries has no meaning for conv, pool or linear."""
    if arr.size == 0:
        raise EngineError(op, arg, "must not be empty", shapes={arg: arr.shape})


def check_grad_out(grad_out: Any, shape: tuple[int, ...], op: str) -> np.ndarray:
    """The upstream gradient, which must be shaped like the forward output."""
    g = as_array(grad_out, op, "grad_out")
    if g.shape != tuple(shape):
        raise EngineError(op, "grad_out", f"must have the forward output's shape {tuple(shape)}",
                          shapes={"grad_out": g.shape})
    return g


def out_size(n: int, k: int, stride: int, padding: int) -> int:
    """floor((n + 2p - k) / s) + 1, the number of window positions along one axis."""
    return (n + 2 * padding - k) // stride + 1


def window_cells(pos: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The (padded) input cells i*s + j that output position i reads, in row-major window order."""
    return [tuple(i * s + j for i, s, j in zip(pos, stride, off, strict=True)) for off in np.ndindex(*kernel)]


def caller_shape(out_shape: tuple[int, ...], x_shape: tuple[int, ...], nd: int) -> tuple[int, ...]:
    """A convolution's output shape in the caller's form: without its channel axis when x had none."""
    return out_shape[1:] if len(x_shape) == nd else out_shape


class ConvArgs(NamedTuple):
    """Checked conv arguments in channel form, x (C_in, *n) and w (C_out, C_in, *k), plus the
    shapes the caller used (the single-channel form drops the channel axes)."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output shape in channel form, (C_out, *n_out)."""
        spatial = zip(self.x.shape[1:], self.w.shape[2:], self.stride, self.padding, strict=True)
        return (self.w.shape[0], *(out_size(n, k, s, p) for n, k, s, p in spatial))

    @property
    def y_shape(self) -> tuple[int, ...]:
        """The output shape the caller sees: no channel axis in the single-channel form."""
        return caller_shape(self.out_shape, self.x_shape, len(self.stride))


def _conv_operands(op: str, x: Any, w: Any, nd: int, layout: str):
    """x and w as arrays, and with channel axes added in the single-channel form (x (*n), w (*k))."""
    x = as_array(x, op, "x", ndim=(nd, nd + 1))
    w = as_array(w, op, "w", ndim=(nd, nd + 2))
    shapes = {"x": x.shape, "w": w.shape}
    single = x.ndim == nd
    if single != (w.ndim == nd):
        want = f"{nd}-D w (single channel)" if single else f"{nd + 2}-D w {layout}"
        raise EngineError(op, "w", f"a {x.ndim}-D x needs a {want}, got {w.ndim}-D", shapes=shapes)
    check_nonempty(x, op, "x")
    check_nonempty(w, op, "w")
    xc, wc = (x[None], w[None, None]) if single else (x, w)
    return x, w, xc, wc, shapes


def check_conv(op: str, x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0, *,
               nd: int) -> ConvArgs:
    """x (*n) with w (*k), or x (C_in, *n) with w (C_out, C_in, *k); b scalar or (C_out,)."""
    x, w, xc, wc, shapes = _conv_operands(op, x, w, nd, "(C_out, C_in, ...)")
    if wc.shape[1] != xc.shape[0]:
        raise EngineError(op, "w", f"w expects C_in={wc.shape[1]} input channels but x has "
                          f"{xc.shape[0]}", shapes=shapes)
    s = check_per_axis(stride, nd, op, "stride", 1)
    p = check_per_axis(padding, nd, op, "padding", 0)
    for n, k, pad in zip(xc.shape[1:], wc.shape[2:], p, strict=True):
        check_kernel_fits(n, k, pad, op, shapes)
    if b is not None:
        b = as_array(b, op, "b", ndim=(0, 1))
        c_out = wc.shape[0]
        if b.ndim == 0:
            b = np.full(c_out, float(b))
        elif b.shape != (c_out,):
            raise EngineError(op, "b", f"expected a scalar or C_out={c_out} values",
                              shapes={**shapes, "b": b.shape})
    return ConvArgs(xc, wc, b, s, p, x.shape, w.shape)


def check_conv_grad_out(op: str, x: Any, w: Any, grad_out: Any, stride: Any, padding: Any, *,
                        nd: int) -> tuple[ConvArgs, np.ndarray]:
    """The forward checks plus grad_out, returned in channel form (C_out, *n_out)."""
    a = check_conv(op, x, w, None, stride, padding, nd=nd)
    g = check_grad_out(grad_out, a.y_shape, op)
    return a, g.reshape(a.out_shape)


def check_conv_matrix(op: str, w: Any, in_shape: Any, stride: Any, padding: Any, *,
                      nd: int) -> ConvArgs:
    """A conv whose input is only a shape: (*n), or (C_in, *n); C_in may be left to w."""
    wa = as_array(w, op, "w", ndim=(nd, nd + 2))
    arg = "n" if nd == 1 else "in_shape"
    dims = [as_int(v, op, arg) for v in np.atleast_1d(np.asarray(in_shape, dtype=object)).ravel()]
    if len(dims) == nd and wa.ndim == nd + 2:
        dims = [wa.shape[1], *dims]
    if len(dims) not in (nd, nd + 1) or min(dims, default=0) < 1:
        raise EngineError(op, arg, f"expected {nd} (or {nd + 1} with channels) positive sizes, "
                          f"got {in_shape!r}", shapes={"w": wa.shape})
    return check_conv(op, np.zeros(dims), wa, None, stride, padding, nd=nd)


class ConvTransposeArgs(NamedTuple):
    """Checked transposed-conv arguments in channel form, x (C_in, *n) and w (C_in, C_out, *k)
    (torch's layout), plus the shapes the caller used."""

    x: np.ndarray
    w: np.ndarray
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    x_shape: tuple[int, ...]
    w_shape: tuple[int, ...]

    @property
    def full_shape(self) -> tuple[int, ...]:
        """The scattered output before cropping, (C_out, *((n - 1)s + k))."""
        spatial = zip(self.x.shape[1:], self.w.shape[2:], self.stride, strict=True)
        return (self.w.shape[1], *((n - 1) * s + k for n, k, s in spatial))

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output shape in channel form, (C_out, *((n - 1)s - 2p + k))."""
        return (self.full_shape[0], *(m - 2 * p for m, p in zip(self.full_shape[1:], self.padding, strict=True)))

    @property
    def y_shape(self) -> tuple[int, ...]:
        """The output shape the caller sees: no channel axis in the single-channel form."""
        return caller_shape(self.out_shape, self.x_shape, len(self.stride))


def check_conv_transpose(op: str, x: Any, w: Any, stride: Any = 1, padding: Any = 0, *,
                         nd: int) -> ConvTransposeArgs:
    """x (*n) with w (*k), or x (C_in, *n) with w (C_in, C_out, *k); the output must be non-empty."""
    x, w, xc, wc, shapes = _conv_operands(op, x, w, nd, "(C_in, C_out, ...)")
    if wc.shape[0] != xc.shape[0]:
        raise EngineError(op, "w", f"w expects C_in={wc.shape[0]} input channels (its first axis) but x has "
                          f"{xc.shape[0]}", shapes=shapes)
    s = check_per_axis(stride, nd, op, "stride", 1)
    p = check_per_axis(padding, nd, op, "padding", 0)
    a = ConvTransposeArgs(xc, wc, s, p, x.shape, w.shape)
    for m, pad in zip(a.full_shape[1:], p, strict=True):
        if m - 2 * pad < 1:
            raise EngineError(op, "padding", f"cropping 2*{pad} from the scattered size {m} leaves no output",
                              shapes=shapes)
    return a


def check_conv_transpose_grad_out(op: str, x: Any, w: Any, grad_out: Any, stride: Any, padding: Any, *,
                                  nd: int) -> tuple[ConvTransposeArgs, np.ndarray]:
    """The forward checks plus grad_out, returned in channel form (C_out, *n_out)."""
    a = check_conv_transpose(op, x, w, stride, padding, nd=nd)
    g = check_grad_out(grad_out, a.y_shape, op)
    return a, g.reshape(a.out_shape)


def check_bias_grad_out(op: str, grad_out: Any, *, nd: int) -> np.ndarray:
    """grad_out of a conv: (*n_out) in the single-channel form, (C_out, *n_out) otherwise."""
    g = as_array(grad_out, op, "grad_out", ndim=(nd, nd + 1))
    check_nonempty(g, op, "grad_out")
    return g


class PoolArgs(NamedTuple):
    """Checked pooling arguments in channel form, x (C, *n), with the caller's x shape."""

    x: np.ndarray
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    x_shape: tuple[int, ...]

    @property
    def out_shape(self) -> tuple[int, ...]:
        """(C, *n_out), floor((n - k) / s) + 1 windows per axis (no padding)."""
        spatial = zip(self.x.shape[1:], self.kernel, self.stride, strict=True)
        return (self.x.shape[0], *(out_size(n, k, s, 0) for n, k, s in spatial))

    @property
    def y_shape(self) -> tuple[int, ...]:
        """The output shape the caller sees: no channel axis if x had none."""
        return self.out_shape[1:] if len(self.x_shape) == len(self.kernel) else self.out_shape


def check_pool(op: str, x: Any, kernel: Any, stride: Any = None, *, nd: int) -> PoolArgs:
    """x (*n) or (C, *n); kernel and stride >= 1 per axis, stride defaulting to the kernel."""
    xa = as_array(x, op, "x", ndim=(nd, nd + 1))
    check_nonempty(xa, op, "x")
    k = check_per_axis(kernel, nd, op, "kernel", 1)
    s = k if stride is None else check_per_axis(stride, nd, op, "stride", 1)
    xc = xa[None] if xa.ndim == nd else xa
    for n, kk in zip(xc.shape[1:], k, strict=True):
        check_kernel_fits(n, kk, 0, op, {"x": xa.shape, "kernel": k})
    return PoolArgs(xc, k, s, xa.shape)


def check_pool_grad_out(op: str, x: Any, grad_out: Any, kernel: Any, stride: Any = None, *,
                        nd: int) -> tuple[PoolArgs, np.ndarray]:
    """The forward checks plus grad_out, returned in channel form (C, *n_out)."""
    a = check_pool(op, x, kernel, stride, nd=nd)
    g = check_grad_out(grad_out, a.y_shape, op)
    return a, g.reshape(a.out_shape)


LINEAR_CONVENTIONS = ("xW", "Wx")


def check_convention(value: Any, op: str) -> str:
    """"xW" (y = x @ w, rows are samples) or "Wx" (y = w @ x, columns are samples)."""
    for name in LINEAR_CONVENTIONS:
        if isinstance(value, str) and value.strip().lower() == name.lower():
            return name
    raise EngineError(op, "convention", f"expected 'xW' or 'Wx', got {value!r}")


class LinearArgs(NamedTuple):
    """Checked linear arguments; b is None or (out,)."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    convention: str

    @property
    def y_shape(self) -> tuple[int, ...]:
        """xW: (out,) or (N, out); Wx: (out,) or (out, N)."""
        if self.convention == "xW":
            return (*self.x.shape[:-1], self.w.shape[1])
        return (self.w.shape[0], *self.x.shape[1:])


def check_linear(op: str, x: Any, w: Any, b: Any = None, convention: Any = "xW") -> LinearArgs:
    """xW: x (in,) or (N, in), w (in, out); Wx: x (in,) or (in, N), w (out, in)."""
    conv = check_convention(convention, op)
    x = as_array(x, op, "x", ndim=(1, 2))
    w = as_array(w, op, "w", ndim=(2,))
    check_nonempty(x, op, "x")
    check_nonempty(w, op, "w")
    shapes = {"x": x.shape, "w": w.shape}
    n_in, n_out = (w.shape[0], w.shape[1]) if conv == "xW" else (w.shape[1], w.shape[0])
    x_in = x.shape[-1] if conv == "xW" else x.shape[0]
    if x_in != n_in:
        where = "w (in, out)" if conv == "xW" else "w (out, in)"
        raise EngineError(op, "x", f"x has {x_in} input features but {where} expects {n_in} "
                          f"(convention {conv})", shapes=shapes)
    if b is not None:
        b = as_array(b, op, "b", ndim=(0, 1, 2))
        column = conv == "Wx" and b.shape == (n_out, 1)
        if b.ndim == 0:
            b = np.full(n_out, float(b))
        elif b.shape == (n_out,) or column:
            b = b.reshape(n_out)
        else:
            raise EngineError(op, "b", f"expected a scalar or out={n_out} values",
                              shapes={**shapes, "b": b.shape})
    return LinearArgs(x, w, b, conv)


def check_linear_grad_out(op: str, x: Any, w: Any, grad_out: Any,
                          convention: Any) -> tuple[LinearArgs, np.ndarray]:
    """The forward checks plus grad_out shaped like the output."""
    a = check_linear(op, x, w, None, convention)
    return a, check_grad_out(grad_out, a.y_shape, op)


# --- activations, losses, optim, batchnorm: one validator per call shape, shared by both backends.

def as_float(value: Any, op: str, arg: str) -> float:
    """A finite real scalar (a hyper-parameter such as lr, eps, alpha) or an EngineError."""
    if isinstance(value, bool):
        raise EngineError(op, arg, f"expected a number, got {value!r}")
    try:
        f = float(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise EngineError(op, arg, f"expected a number, got {value!r}") from exc
    if not np.isfinite(f):
        raise EngineError(op, arg, f"must be finite, got {f}")
    return f


def check_positive(value: Any, op: str, arg: str) -> float:
    """A number > 0 (a learning rate)."""
    f = as_float(value, op, arg)
    if f <= 0:
        raise EngineError(op, arg, f"must be > 0, got {f}")
    return f


def check_nonnegative(value: Any, op: str, arg: str) -> float:
    """A number >= 0 (eps, weight decay, momentum coefficient)."""
    f = as_float(value, op, arg)
    if f < 0:
        raise EngineError(op, arg, f"must be >= 0, got {f}")
    return f


def check_fraction(value: Any, op: str, arg: str, *, closed: bool = False) -> float:
    """A decay rate in [0, 1) (or [0, 1] when `closed`), as torch.optim and BatchNorm require."""
    f = as_float(value, op, arg)
    if f < 0 or f > 1 or (f == 1 and not closed):
        raise EngineError(op, arg, f"must be in [0, {'1]' if closed else '1)'}, got {f}")
    return f


def check_choice(value: Any, op: str, arg: str, valid: tuple[str, ...]) -> str:
    """One of a few names (a reduction, an update form)."""
    if not isinstance(value, str) or value not in valid:
        raise EngineError(op, arg, f"got {value!r}; valid: " + ", ".join(repr(v) for v in valid))
    return value


def check_axis(axis: Any, ndim: int, op: str, arg: str = "axis") -> int:
    """An axis of an ndim-array, normalized to be non-negative."""
    a = as_int(axis, op, arg)
    if not -ndim <= a < ndim:
        raise EngineError(op, arg, f"axis {a} is out of range for {ndim} dimensions")
    return a % ndim


def check_unit_interval(arr: np.ndarray, op: str, arg: str) -> None:
    """Probabilities and probability targets lie in [0, 1]."""
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise EngineError(op, arg, f"probabilities must lie in [0, 1], got values in "
                          f"[{arr.min():g}, {arr.max():g}]", shapes={arg: arr.shape})


def activation_inputs(op: str, x: Any, alpha: Any = None) -> tuple[np.ndarray, float | None]:
    """x of an elementwise activation, and its alpha if it has one."""
    arr = as_array(x, op, "x")
    return arr, (None if alpha is None else as_float(alpha, op, "alpha"))


def softmax_inputs(op: str, x: Any, axis: Any, grad_out: Any = None) -> tuple[np.ndarray, int, np.ndarray | None]:
    """x (at least 1-D), the softmax axis, and grad_out shaped like x when given."""
    arr = as_array(x, op, "x")
    if arr.ndim == 0:
        raise EngineError(op, "x", "softmax needs at least one axis, got a scalar", shapes={"x": arr.shape})
    a = check_axis(axis, arr.ndim, op)
    g = None
    if grad_out is not None:
        g = as_array(grad_out, op, "grad_out")
        check_same_shape(g, arr, op, "grad_out", "x")
    return arr, a, g


#: The reductions every loss accepts, and MSE's extra one (1/2 of the sum, as some exams write it).
MSE_REDUCTIONS = ("mean", "sum", "half_sum")
REDUCTIONS = ("mean", "sum")


def loss_inputs(op: str, pred: Any, target: Any, reduction: Any, valid: tuple[str, ...],
                *, names: tuple[str, str] = ("pred", "target"),
                probabilities: bool = False, target_probabilities: bool = False,
                ) -> tuple[np.ndarray, np.ndarray, str]:
    """pred and target of an elementwise loss: same shape, known reduction, ranges where needed."""
    pa, ta = names
    p = as_array(pred, op, pa)
    t = as_array(target, op, ta)
    check_same_shape(t, p, op, ta, pa)
    red = check_choice(reduction, op, "reduction", valid)
    if probabilities:
        check_unit_interval(p, op, pa)
    if target_probabilities:
        check_unit_interval(t, op, ta)
    if probabilities and target_probabilities:
        # log(0) with a positive weight: the loss is +inf and its gradient undefined.
        if np.any((p == 0) & (t > 0)) or np.any((p == 1) & (t < 1)):
            raise EngineError(op, pa, "a probability of exactly 0 or 1 against a target that "
                              "disagrees makes the loss infinite (log 0)", shapes={pa: p.shape, ta: t.shape})
    return p, t, red


def cross_entropy_inputs(op: str, scores: Any, target: Any, reduction: Any, *, probabilities: bool,
                         ) -> tuple[np.ndarray, np.ndarray, bool, str]:
    """(p or z, target, target_is_index, reduction) of a cross-entropy.

    scores `(C,)` or `(N, C)`; target a class index (int, or ints `(N,)`) or one-hot/soft
    targets shaped like scores. Index targets come back as int64, soft ones as float64.
    """
    name = "p" if probabilities else "z"
    s = as_array(scores, op, name, ndim=(1, 2))
    t = as_array(target, op, "target")
    n_classes = s.shape[-1]
    if t.shape == s.shape:
        check_unit_interval(t, op, "target")
        index = False
    elif t.shape == s.shape[:-1]:
        if np.any(t != np.round(t)):
            raise EngineError(op, "target", "class indices must be whole numbers",
                              shapes={name: s.shape, "target": t.shape})
        if t.size and (t.min() < 0 or t.max() >= n_classes):
            raise EngineError(op, "target", f"class index out of range: valid are 0..{n_classes - 1}, "
                              f"got values in [{int(t.min())}, {int(t.max())}]",
                              shapes={name: s.shape, "target": t.shape})
        t = t.astype(np.int64)
        index = True
    else:
        raise EngineError(op, "target", f"expected a class index per sample (shape {s.shape[:-1]}) "
                          f"or one-hot/soft targets shaped like '{name}'",
                          shapes={name: s.shape, "target": t.shape})
    red = check_choice(reduction, op, "reduction", ("mean", "sum"))
    if probabilities:
        check_unit_interval(s, op, name)
        weight = np.take_along_axis(s, t[..., None], axis=-1) if index else np.where(t > 0, s, 1.0)
        if np.any(weight == 0):
            raise EngineError(op, name, "the probability of a target class is 0: the loss -log(0) is infinite",
                              shapes={name: s.shape, "target": t.shape})
    return s, t, index, red


def trajectory_inputs(op: str, w0: Any, grads: Any, steps: Any):
    """(w0, grad_at(t, w), T) of an optimizer run: grads an array (T, *w0.shape) or grad_fn(w)."""
    w = as_array(w0, op, "w0")
    if callable(grads):
        if steps is None:
            raise EngineError(op, "steps", "a gradient function needs steps=T (the number of updates)")
        n = as_int(steps, op, "steps")
        if n < 1:
            raise EngineError(op, "steps", f"must be >= 1, got {n}")
        grad_fn = grads

        def grad_at(t: int, w_now: np.ndarray) -> np.ndarray:
            g = as_array(grad_fn(w_now.copy()), op, "grads")
            if g.shape != w.shape:
                raise EngineError(op, "grads", f"grad_fn returned a gradient of the wrong shape at step {t + 1}",
                                  shapes={"gradient": g.shape, "w0": w.shape})
            return g
        return w, grad_at, n
    g_all = as_array(grads, op, "grads")
    if g_all.ndim != w.ndim + 1 or g_all.shape[1:] != w.shape or g_all.shape[0] < 1:
        raise EngineError(op, "grads", "expected T >= 1 gradients shaped (T, *w0.shape), or a callable",
                          shapes={"grads": g_all.shape, "w0": w.shape})
    if steps is not None and as_int(steps, op, "steps") != g_all.shape[0]:
        raise EngineError(op, "steps", f"steps={steps} but {g_all.shape[0]} gradients were given",
                          shapes={"grads": g_all.shape})
    return w, (lambda t, _w: g_all[t]), g_all.shape[0]


def newton_inputs(op: str, w: Any, grad: Any, hess: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """w, grad, hess of a Newton step: all scalars, or (n,), (n,), (n, n) with hess invertible."""
    wa = as_array(w, op, "w", ndim=(0, 1))
    ga = as_array(grad, op, "grad", ndim=(0, 1))
    ha = as_array(hess, op, "hess", ndim=(0, 2))
    check_same_shape(ga, wa, op, "grad", "w")
    if ha.shape != wa.shape * 2:
        raise EngineError(op, "hess", "expected a scalar second derivative for scalar w, or an (n, n) Hessian "
                          "for w of shape (n,)", shapes={"w": wa.shape, "hess": ha.shape})
    if ha.ndim == 0 and ha == 0:
        raise EngineError(op, "hess", "the second derivative is 0, so the Newton step w - f'/f'' is undefined")
    if ha.ndim == 2 and np.linalg.matrix_rank(ha) < ha.shape[0]:
        raise EngineError(op, "hess", "the Hessian is singular, so the Newton step w - H^-1 grad is undefined",
                          shapes={"hess": ha.shape})
    return wa, ga, ha


def _channel_vector(value: Any, default: float, c: int, op: str, arg: str, x_shape: tuple) -> np.ndarray:
    """A per-channel parameter: None gives `default` for every channel, else shape (C,)."""
    if value is None:
        return np.full(c, default, dtype=np.float64)
    v = as_array(value, op, arg)
    if v.shape != (c,):
        raise EngineError(op, arg, f"expected one value per channel, shape ({c},)", shapes={arg: v.shape, "x": x_shape})
    return v


def batchnorm_x(op: str, x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """x `(N, D)`, `(N, C, L)` or `(N, C, H, W)` and the axes statistics run over (all but 1)."""
    arr = as_array(x, op, "x", ndim=(2, 3, 4))
    axes = (0,) + tuple(range(2, arr.ndim))
    if arr.size // arr.shape[1] < 2:
        raise EngineError(op, "x", "training statistics need more than 1 value per channel",
                          shapes={"x": arr.shape})
    return arr, axes


def check_normalizable(x: np.ndarray, axes: tuple[int, ...], eps: float, op: str) -> None:
    """var + eps must be > 0 in every channel, or x_hat divides by zero."""
    if eps == 0 and np.any(x.var(axis=axes) == 0):
        raise EngineError(op, "eps", "a channel has zero variance and eps = 0: x_hat divides by zero",
                          shapes={"x": x.shape})


def batchnorm_inputs(op: str, x: Any, gamma: Any, beta: Any, eps: Any, running_mean: Any,
                     running_var: Any, momentum: Any):
    """(x, axes, gamma, beta, eps, running_mean, running_var, momentum) with torch's defaults filled in."""
    arr, axes = batchnorm_x(op, x)
    c = arr.shape[1]
    g = _channel_vector(gamma, 1.0, c, op, "gamma", arr.shape)
    b = _channel_vector(beta, 0.0, c, op, "beta", arr.shape)
    e = check_nonnegative(eps, op, "eps")
    rm = _channel_vector(running_mean, 0.0, c, op, "running_mean", arr.shape)
    rv = _channel_vector(running_var, 1.0, c, op, "running_var", arr.shape)
    if np.any(rv < 0):
        raise EngineError(op, "running_var", "a variance must be >= 0", shapes={"running_var": rv.shape})
    m = check_fraction(momentum, op, "momentum", closed=True)
    check_normalizable(arr, axes, e, op)
    return arr, axes, g, b, e, rm, rv, m


def batchnorm_backward_inputs(op: str, x: Any, grad_out: Any, gamma: Any, eps: Any):
    """(x, axes, grad_out, gamma, eps) of the batchnorm backward pass."""
    arr, axes = batchnorm_x(op, x)
    g = as_array(grad_out, op, "grad_out")
    check_same_shape(g, arr, op, "grad_out", "x")
    gm = _channel_vector(gamma, 1.0, arr.shape[1], op, "gamma", arr.shape)
    e = check_nonnegative(eps, op, "eps")
    check_normalizable(arr, axes, e, op)
    return arr, axes, g, gm, e


def vector_input(op: str, x: Any, arg: str = "x") -> np.ndarray:
    """A 1-D array (a softmax Jacobian is taken of a vector)."""
    return as_array(x, op, arg, ndim=(1,))


def optimizer_choice(op: str, form: Any) -> str:
    """The momentum update form: "pytorch" (v = mu v + g) or "classic" (v = mu v - lr g)."""
    return check_choice(form, op, "form", ("pytorch", "classic"))


def check_trajectory_finite(op: str, trajectory: dict[str, np.ndarray], eps: float | None = None) -> None:
    """A run that hit NaN/inf (0/0 with eps = 0, or divergence) is an error, not an answer."""
    w = trajectory["w"]
    bad = [t for t in range(w.shape[0]) if not np.all(np.isfinite(w[t]))]
    if bad:
        arg = "eps" if eps == 0 else "lr"
        raise EngineError(op, arg, f"the update produced NaN or infinity at step {bad[0]} "
                          "(a 0/0 with eps = 0, or a diverging run)", shapes={"w": w.shape[1:]})
