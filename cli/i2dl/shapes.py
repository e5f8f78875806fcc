"""Shape and parameter arithmetic of CNN layers in plain Python integers (no backend needed).

Shapes are per sample, without the batch axis: `(C, L)` for 1-D layers, `(C, H, W)` for 2-D
layers, `(D,)` for linear layers. A layer is a dict with a "type" key:

| type | keys (default) | shape |
|---|---|---|
| conv1d, conv2d | out, k, stride (1), padding (0, or "same"/"valid"), dilation (1), bias (True), in (optional check) | `(C, L)`, `(C, H, W)` |
| maxpool1d, avgpool1d, maxpool2d, avgpool2d | k, stride (k), padding (0), ceil_mode (False) | pools the last 1 or 2 axes |
| flatten | | `(prod,)` |
| linear | out, bias (True), in (optional check) | last axis `in -> out` |
| batchnorm, batchnorm1d, batchnorm2d | affine (True) | unchanged; 2C parameters, 2C running statistics |
| relu, leaky_relu, sigmoid, tanh, elu, gelu, identity, softmax, dropout | alpha / p / dim | unchanged |

2-D kernel sizes, strides, paddings and dilations are an int (square) or a pair (h, w).
Every bad size raises `EngineError(op, argument, message)`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from i2dl.errors import EngineError

__all__ = [
    "conv_out_size", "pool_out_size", "conv_params", "linear_params",
    "batchnorm_params", "batchnorm_buffers", "propagate", "param_counts",
    "receptive_fields", "ReceptiveField", "LAYER_TYPES",
]

Shape = tuple[int, ...]

_CONV = {"conv1d": 1, "conv2d": 2}
_POOL = {"maxpool1d": 1, "avgpool1d": 1, "maxpool2d": 2, "avgpool2d": 2}
_NORM = ("batchnorm", "batchnorm1d", "batchnorm2d")
_ELEMENTWISE = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "identity", "softmax", "dropout")
#: Every layer type `propagate`, `param_counts` and `receptive_fields` understand.
LAYER_TYPES: tuple[str, ...] = (*_CONV, *_POOL, "flatten", "linear", *_NORM, *_ELEMENTWISE)

#: Allowed keys per layer type (besides "type"); the first group is required.
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{t: (("out", "k"), ("stride", "padding", "dilation", "bias", "in")) for t in _CONV},
    **{t: (("k",), ("stride", "padding", "ceil_mode")) for t in _POOL},
    "flatten": ((), ()),
    "linear": (("out",), ("bias", "in")),
    **{t: ((), ("affine", "eps", "momentum")) for t in _NORM},
    **{t: ((), ("alpha", "p", "dim", "inplace")) for t in _ELEMENTWISE},
}


def _int(value: Any, op: str, arg: str, minimum: int) -> int:
    """A whole number >= minimum (integral floats like 2.0 pass; booleans do not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise EngineError(op, arg, f"expected an integer, got {value!r}")
    if value < minimum:
        raise EngineError(op, arg, f"must be >= {minimum}, got {int(value)}")
    return int(value)


def conv_out_size(n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """floor((n + 2p - d(k - 1) - 1) / s) + 1."""
    op = "conv_out_size"
    n, k = _int(n, op, "n", 1), _int(k, op, "k", 1)
    s, p, d = _int(stride, op, "stride", 1), _int(padding, op, "padding", 0), _int(dilation, op, "dilation", 1)
    span = d * (k - 1) + 1  # the input extent one dilated kernel covers
    if span > n + 2 * p:
        raise EngineError(op, "k", f"kernel extent {span} is larger than the padded input "
                          f"{n} + 2*{p} = {n + 2 * p}")
    return (n + 2 * p - span) // s + 1


def pool_out_size(n: int, k: int, stride: int | None = None, padding: int = 0,
                  ceil_mode: bool = False) -> int:
    """floor((n + 2p - k) / s) + 1, or ceil with ceil_mode (as torch: no window starts in the padding)."""
    op = "pool_out_size"
    n, k = _int(n, op, "n", 1), _int(k, op, "k", 1)
    s = k if stride is None else _int(stride, op, "stride", 1)
    p = _int(padding, op, "padding", 0)
    if 2 * p > k:
        raise EngineError(op, "padding", f"padding {p} is more than half the kernel size {k} (torch refuses it)")
    too_large = EngineError(op, "k", f"kernel size {k} is larger than the padded input {n} + 2*{p} = {n + 2 * p}")
    if not ceil_mode:
        if k > n + 2 * p:
            raise too_large
        return (n + 2 * p - k) // s + 1
    # With ceil_mode a window may run past the end (torch pools what it covers), even for k > n.
    out = -(-(n + 2 * p - k) // s) + 1
    # torch drops a last window that would start inside the right padding.
    out = out - 1 if (out - 1) * s >= n + p else out
    if out < 1:
        raise too_large
    return out


def _kernel_elems(k: Any, op: str) -> int:
    """k int -> k*k (a square 2-D kernel); a tuple -> the product of its sizes ((k,) for 1-D)."""
    if isinstance(k, (tuple, list)):
        if not k:
            raise EngineError(op, "k", "expected an int or a non-empty tuple of kernel sizes")
        return math.prod(_int(v, op, "k", 1) for v in k)
    return _int(k, op, "k", 1) ** 2


def conv_params(c_in: int, c_out: int, k: int | tuple[int, ...], bias: bool = True, groups: int = 1) -> int:
    """c_out * (c_in / g) * |kernel| + c_out; k int means k x k, a tuple gives the kernel's sizes ((k,) for 1-D)."""
    op = "conv_params"
    ci, co, g = _int(c_in, op, "c_in", 1), _int(c_out, op, "c_out", 1), _int(groups, op, "groups", 1)
    for name, c in (("c_in", ci), ("c_out", co)):
        if c % g:  # each group sees c_in / g inputs and makes c_out / g outputs (torch refuses otherwise)
            raise EngineError(op, "groups", f"{name} = {c} is not divisible by groups = {g}")
    return co * (ci // g) * _kernel_elems(k, op) + (co if bias else 0)


def linear_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """n_in * n_out weights + n_out biases."""
    op = "linear_params"
    ni, no = _int(n_in, op, "n_in", 1), _int(n_out, op, "n_out", 1)
    return ni * no + (no if bias else 0)


def batchnorm_params(c: int) -> int:
    """2c learnable: gamma and beta per channel."""
    return 2 * _int(c, "batchnorm_params", "c", 1)


def batchnorm_buffers(c: int) -> int:
    """2c running statistics: running mean and running variance per channel (torch's
    num_batches_tracked counter is not a statistic and is not counted)."""
    return 2 * _int(c, "batchnorm_buffers", "c", 1)


# --- layer lists -----------------------------------------------------------------------

def _layer(i: int, spec: Any, op: str) -> tuple[str, dict[str, Any]]:
    """(type, spec) after checking the type and the keys; errors name the layer index and type."""
    where = f"layers[{i}]"
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise EngineError(op, where, f"expected a dict with a 'type' key, got {spec!r}")
    kind = spec["type"].lower()
    if kind not in _KEYS:
        raise EngineError(op, where, f"unknown layer type '{spec['type']}'; known types: " + ", ".join(LAYER_TYPES))
    required, optional = _KEYS[kind]
    for key in required:
        if key not in spec:
            raise EngineError(op, f"{where}.{key}", f"{kind} needs '{key}'")
    for key in spec:
        if key != "type" and key not in required and key not in optional:
            raise EngineError(op, f"{where}.{key}", f"{kind} has no key '{key}'; allowed: "
                              + ", ".join(required + optional))
    return kind, spec


def _tuple(value: Any, dims: int, op: str, arg: str, minimum: int) -> tuple[int, ...]:
    """An int or a `dims`-tuple of ints >= minimum, as a `dims`-tuple."""
    if isinstance(value, (tuple, list)):
        if len(value) != dims:
            raise EngineError(op, arg, f"expected an int or {dims} ints, got {value!r}")
        return tuple(_int(v, op, arg, minimum) for v in value)
    return (_int(value, op, arg, minimum),) * dims


def _check_shape(shape: Shape, kind: str, ndims: tuple[int, ...], what: str, op: str, i: int) -> None:
    if len(shape) not in ndims:
        raise EngineError(op, f"layers[{i}]", f"{kind} expects input {what}, got shape {shape}")


def _conv_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    dims = _CONV[kind]
    where = f"layers[{i}]"
    _check_shape(shape, kind, (dims + 1,), "(C, L)" if dims == 1 else "(C, H, W)", op, i)
    if "in" in spec and _int(spec["in"], op, f"{where}.in", 1) != shape[0]:
        raise EngineError(op, f"{where}.in", f"{kind} expects {spec['in']} input channels, "
                          f"the input has {shape[0]} (shape {shape})")
    out = _int(spec["out"], op, f"{where}.out", 1)
    k = _tuple(spec["k"], dims, op, f"{where}.k", 1)
    s = _tuple(spec.get("stride", 1), dims, op, f"{where}.stride", 1)
    d = _tuple(spec.get("dilation", 1), dims, op, f"{where}.dilation", 1)
    padding = spec.get("padding", 0)
    if padding == "same":
        if any(v != 1 for v in s):
            raise EngineError(op, f"{where}.padding", "padding='same' needs stride 1 (as in torch)")
        return (out, *shape[1:])
    p = (0,) * dims if padding == "valid" else _tuple(padding, dims, op, f"{where}.padding", 0)
    sizes = []
    for n, kk, ss, pp, dd in zip(shape[1:], k, s, p, d, strict=True):
        try:
            sizes.append(conv_out_size(n, kk, ss, pp, dd))
        except EngineError as exc:
            raise EngineError(op, where, f"{kind}: {exc.message} (input shape {shape})") from exc
    return (out, *sizes)


def _pool_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    dims = _POOL[kind]
    where = f"layers[{i}]"
    if len(shape) < dims:
        raise EngineError(op, where, f"{kind} pools the last {dims} axes, got shape {shape}")
    k = _tuple(spec["k"], dims, op, f"{where}.k", 1)
    s = _tuple(spec["stride"], dims, op, f"{where}.stride", 1) if spec.get("stride") is not None else k
    p = _tuple(spec.get("padding", 0), dims, op, f"{where}.padding", 0)
    ceil = bool(spec.get("ceil_mode", False))
    sizes = []
    for n, kk, ss, pp in zip(shape[-dims:], k, s, p, strict=True):
        try:
            sizes.append(pool_out_size(n, kk, ss, pp, ceil))
        except EngineError as exc:
            raise EngineError(op, where, f"{kind}: {exc.message} (input shape {shape})") from exc
    return (*shape[:-dims], *sizes)


def _linear_shape(i: int, spec: dict, shape: Shape, op: str) -> Shape:
    where = f"layers[{i}]"
    _check_shape(shape, "linear", tuple(range(1, 8)), "(..., in)", op, i)
    if "in" in spec and _int(spec["in"], op, f"{where}.in", 1) != shape[-1]:
        raise EngineError(op, f"{where}.in", f"linear expects {spec['in']} inputs, the input has "
                          f"{shape[-1]} (shape {shape}); flatten first?")
    return (*shape[:-1], _int(spec["out"], op, f"{where}.out", 1))


def _next_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    if kind in _CONV:
        return _conv_shape(i, kind, spec, shape, op)
    if kind in _POOL:
        return _pool_shape(i, kind, spec, shape, op)
    if kind == "flatten":
        return (math.prod(shape),)
    if kind == "linear":
        return _linear_shape(i, spec, shape, op)
    if kind == "batchnorm2d":
        _check_shape(shape, kind, (3,), "(C, H, W)", op, i)
    if kind == "batchnorm1d":
        _check_shape(shape, kind, (1, 2), "(C,) or (C, L)", op, i)
    return shape


def _input_shape(input_shape: Any, op: str) -> Shape:
    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise EngineError(op, "input_shape", f"expected a tuple of sizes, got {input_shape!r}")
    return tuple(_int(v, op, "input_shape", 1) for v in input_shape)


def _layers(layers: Any, op: str) -> list:
    if not isinstance(layers, (list, tuple)):
        raise EngineError(op, "layers", f"expected a list of layer dicts, got {type(layers).__name__}")
    return list(layers)


def propagate(input_shape: Shape | list[int] | int, layers: list[dict]) -> list[Shape]:
    """The per-sample shape after each layer (no batch axis)."""
    op = "propagate"
    shape = _input_shape(input_shape, op)
    shapes = []
    for i, spec in enumerate(_layers(layers, op)):
        kind, spec = _layer(i, spec, op)
        shape = _next_shape(i, kind, spec, shape, op)
        shapes.append(shape)
    return shapes


def param_counts(input_shape: Shape | list[int] | int, layers: list[dict]) -> list[int]:
    """The learnable parameters of each layer (weights + biases; gamma + beta for batchnorm)."""
    op = "param_counts"
    shape = _input_shape(input_shape, op)
    counts = []
    for i, spec in enumerate(_layers(layers, op)):
        kind, spec = _layer(i, spec, op)
        nxt = _next_shape(i, kind, spec, shape, op)
        bias = bool(spec.get("bias", True))
        if kind in _CONV:
            k = _tuple(spec["k"], _CONV[kind], op, f"layers[{i}].k", 1)
            counts.append(conv_params(shape[0], nxt[0], k, bias))
        elif kind == "linear":
            counts.append(linear_params(shape[-1], nxt[-1], bias))
        elif kind in _NORM and spec.get("affine", True):
            counts.append(batchnorm_params(shape[0]))
        else:
            counts.append(0)
        shape = nxt
    return counts


class ReceptiveField(NamedTuple):
    """Receptive field after a layer: `size` (input extent one output unit sees) and `jump`
    (input distance between neighbouring output units = product of strides so far).

    Each is an int when equal along both axes, else a pair (h, w); both are None ("the whole
    input") after flatten or linear, and stay None after that.
    """

    size: int | tuple[int, int] | None
    jump: int | tuple[int, int] | None


def _collapse(v: tuple[int, int]) -> int | tuple[int, int]:
    return v[0] if v[0] == v[1] else v


def receptive_fields(layers: list[dict]) -> list[ReceptiveField]:
    """r_k = r_{k-1} + (k_k - 1) * prod(strides before k), per axis, starting from r_0 = 1, jump_0 = 1.

    A dilated kernel counts with its extent d(k - 1) + 1; 1-D layers use the same kernel on both axes.
    """
    op = "receptive_fields"
    r, j = (1, 1), (1, 1)
    whole = False
    out = []
    for i, spec in enumerate(_layers(layers, op)):
        kind, spec = _layer(i, spec, op)
        if kind in ("flatten", "linear"):
            whole = True
        if whole:
            out.append(ReceptiveField(None, None))
            continue
        if kind in _CONV or kind in _POOL:
            dims = _CONV.get(kind) or _POOL[kind]
            k = _tuple(spec["k"], dims, op, f"layers[{i}].k", 1)
            if "stride" in spec and spec["stride"] is not None:
                s = _tuple(spec["stride"], dims, op, f"layers[{i}].stride", 1)
            else:
                s = (1,) * dims if kind in _CONV else k
            d = _tuple(spec.get("dilation", 1), dims, op, f"layers[{i}].dilation", 1)
            if dims == 1:
                k, s, d = k * 2, s * 2, d * 2
            span = tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d, strict=True))
            r = (r[0] + (span[0] - 1) * j[0], r[1] + (span[1] - 1) * j[1])
            j = (j[0] * s[0], j[1] * s[1])
        out.append(ReceptiveField(_collapse(r), _collapse(j)))
    return out
