"""Shape and parameter arithmetic of CNN layers in plain Python integers (no backend needed).

Shapes are per sample, without the batch axis: `(C, L)` for 1-D layers, `(C, H, W)` for 2-D
layers, `(D,)` for linear layers. A layer is a dict with a "type" key:

| type | keys (default) | shape |
|---|---|---|
| conv1d, conv2d | out, k, stride (1), padding (0, or "same"/"valid"), dilation (1), groups (1), bias (True), in (optional check) | `(C, L)`, `(C, H, W)` |
| conv_transpose1d, conv_transpose2d | out, k, stride (1), padding (0), output_padding (0), dilation (1), groups (1), bias (True), in | `(C, L)`, `(C, H, W)`, upsampled |
| maxpool1d, avgpool1d, maxpool2d, avgpool2d | k, stride (k), padding (0), ceil_mode (False) | pools the last 1 or 2 axes |
| gap | | global average pooling: `(C, ...) -> (C,)` |
| flatten | | `(prod,)` |
| linear | out, bias (True), in (optional check) | a vector `(in,) -> (out,)`; a feature map needs flatten or gap first |
| batchnorm, batchnorm1d, batchnorm2d | affine (True) | unchanged; 2C parameters, 2C running statistics |
| relu, leaky_relu, sigmoid, tanh, elu, gelu, identity, softmax, dropout | alpha / p / dim | unchanged |

2-D kernel sizes, strides, paddings and dilations are an int (square) or a pair (h, w). `kernel` is
accepted for `k` (the parameter vocabulary's name); every function also takes a stack written in the
compact form `parse_stack` reads ("conv(16,k3,p1) relu pool(2) gap linear(10)").
Every bad size raises `EngineError(op, argument, message)`.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from i2dl.errors import EngineError

__all__ = [
    "conv_out_size", "conv_transpose_out_size", "pool_out_size", "conv_params", "linear_params",
    "batchnorm_params", "batchnorm_buffers", "propagate", "param_counts",
    "receptive_fields", "ReceptiveField", "LAYER_TYPES", "WEIGHTED_TYPES", "parse_stack", "as_stack", "rf_sides",
    "weight_shapes", "fc_to_conv", "last_map_index", "head_index", "stride_product",
]

Shape = tuple[int, ...]

_CONV = {"conv1d": 1, "conv2d": 2}
_CONV_T = {"conv_transpose1d": 1, "conv_transpose2d": 2}
_POOL = {"maxpool1d": 1, "avgpool1d": 1, "maxpool2d": 2, "avgpool2d": 2}
_NORM = ("batchnorm", "batchnorm1d", "batchnorm2d")
_ELEMENTWISE = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "gelu", "identity", "softmax", "dropout")
#: Layers after which every unit sees the whole input.
_WHOLE = ("flatten", "linear", "gap")
#: Every layer type `propagate`, `param_counts` and `receptive_fields` understand.
LAYER_TYPES: tuple[str, ...] = (*_CONV, *_CONV_T, *_POOL, "gap", "flatten", "linear", *_NORM, *_ELEMENTWISE)
#: The layer types with a weight tensor (and a bias unless bias=False).
WEIGHTED_TYPES: tuple[str, ...] = (*_CONV, *_CONV_T, "linear")

#: Allowed keys per layer type (besides "type"); the first group is required.
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{t: (("out", "k"), ("stride", "padding", "dilation", "bias", "in", "groups")) for t in _CONV},
    **{t: (("out", "k"), ("stride", "padding", "output_padding", "dilation", "bias", "in", "groups"))
       for t in _CONV_T},
    **{t: (("k",), ("stride", "padding", "ceil_mode")) for t in _POOL},
    "flatten": ((), ()),
    "gap": ((), ()),
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


def conv_transpose_out_size(n: int, k: int, stride: int = 1, padding: int = 0, output_padding: int = 0,
                            dilation: int = 1) -> int:
    """(n - 1) s - 2p + d(k - 1) + output_padding + 1: the length a transposed convolution makes of n."""
    op = "conv_transpose_out_size"
    n, k = _int(n, op, "n", 1), _int(k, op, "k", 1)
    s, p = _int(stride, op, "stride", 1), _int(padding, op, "padding", 0)
    o, d = _int(output_padding, op, "output_padding", 0), _int(dilation, op, "dilation", 1)
    if o >= max(s, d):  # torch's rule: it only picks one of the sizes a strided convolution maps to n
        raise EngineError(op, "output_padding", f"must be smaller than the stride or the dilation "
                          f"(stride {s}, dilation {d}), got {o}")
    out = (n - 1) * s - 2 * p + d * (k - 1) + o + 1
    if out < 1:
        raise EngineError(op, "padding", f"padding {p} crops the whole output: (n - 1) s + d(k - 1) + "
                          f"output_padding + 1 = {out + 2 * p} is not more than 2p = {2 * p}")
    return out


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
    if "kernel" in spec:  # the vocabulary's name for the kernel side; `k` is the short form
        if "k" in spec:
            raise EngineError(op, f"{where}.kernel", f"{kind} gives both 'kernel' and 'k'; keep one")
        spec = {("k" if key == "kernel" else key): v for key, v in spec.items()}
    spec = {**spec, "type": kind}
    required, optional = _KEYS[kind]
    for key in required:
        if key not in spec:
            raise EngineError(op, f"{where}.{key}", f"{kind} needs '{'kernel' if key == 'k' else key}'")
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


def _conv_channels(i: int, kind: str, dims: int, spec: dict, shape: Shape, op: str) -> int:
    """A (transposed) convolution's output channels, its input shape, `in` and groups checked."""
    where = f"layers[{i}]"
    _check_shape(shape, kind, (dims + 1,), "(C, L)" if dims == 1 else "(C, H, W)", op, i)
    if "in" in spec and _int(spec["in"], op, f"{where}.in", 1) != shape[0]:
        raise EngineError(op, f"{where}.in", f"{kind} expects {spec['in']} input channels, "
                          f"the input has {shape[0]} (shape {shape})")
    out = _int(spec["out"], op, f"{where}.out", 1)
    _groups(i, spec, shape[0], out, op)
    return out


def _conv_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    dims = _CONV[kind]
    where = f"layers[{i}]"
    out = _conv_channels(i, kind, dims, spec, shape, op)
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


def _conv_t_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    dims = _CONV_T[kind]
    where = f"layers[{i}]"
    out = _conv_channels(i, kind, dims, spec, shape, op)
    if isinstance(spec.get("padding"), str):
        raise EngineError(op, f"{where}.padding", f"{kind} takes a number of cropped entries as padding, "
                          f"not '{spec['padding']}'")
    args = [_tuple(spec.get(key, default), dims, op, f"{where}.{key}", low) for key, default, low in
            (("k", None, 1), ("stride", 1, 1), ("padding", 0, 0), ("output_padding", 0, 0), ("dilation", 1, 1))]
    sizes = []
    for n, kk, ss, pp, oo, dd in zip(shape[1:], *args, strict=True):
        try:
            sizes.append(conv_transpose_out_size(n, kk, ss, pp, oo, dd))
        except EngineError as exc:
            raise EngineError(op, where, f"{kind}: {exc.message} (input shape {shape})") from exc
    return (out, *sizes)


def _groups(i: int, spec: dict, c_in: int, c_out: int, op: str) -> int:
    """A convolution's groups g: each of g filter groups sees c_in / g input channels (g = c_in: depthwise)."""
    g = _int(spec.get("groups", 1), op, f"layers[{i}].groups", 1)
    for name, c in (("input channels", c_in), ("filters", c_out)):
        if c % g:
            err = EngineError(op, f"layers[{i}].groups", f"{c} {name} cannot be split into {g} groups")
            err.fix = "give groups a divisor of both the input channels and the filters (groups = channels: depthwise)"
            raise err
    return g


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
    if len(shape) != 1:
        err = EngineError(op, where, f"linear (layer {i + 1}) receives a feature map of shape {shape}, "
                          "but a fully connected layer takes a vector")
        err.fix = "add a flatten (or gap, global average pooling) before it"
        raise err
    if "in" in spec and _int(spec["in"], op, f"{where}.in", 1) != shape[-1]:
        raise EngineError(op, f"{where}.in", f"linear expects {spec['in']} inputs, the input has "
                          f"{shape[-1]} (shape {shape}); flatten first?")
    return (*shape[:-1], _int(spec["out"], op, f"{where}.out", 1))


def _next_shape(i: int, kind: str, spec: dict, shape: Shape, op: str) -> Shape:
    if kind in _CONV:
        return _conv_shape(i, kind, spec, shape, op)
    if kind in _CONV_T:
        return _conv_t_shape(i, kind, spec, shape, op)
    if kind in _POOL:
        return _pool_shape(i, kind, spec, shape, op)
    if kind == "flatten":
        return (math.prod(shape),)
    if kind == "gap":
        _check_shape(shape, kind, (2, 3), "(C, L) or (C, H, W)", op, i)
        return (shape[0],)
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
    if isinstance(layers, str):
        return parse_stack(layers)
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
            counts.append(conv_params(shape[0], nxt[0], k, bias, groups=_groups(i, spec, shape[0], nxt[0], op)))
        elif kind in _CONV_T:  # weight (in, out / groups, *k): the weights of a convolution from out to in
            k = _tuple(spec["k"], _CONV_T[kind], op, f"layers[{i}].k", 1)
            g = _groups(i, spec, shape[0], nxt[0], op)
            counts.append(conv_params(nxt[0], shape[0], k, False, groups=g) + (nxt[0] if bias else 0))
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
    input") after flatten, linear or gap, and stay None after that.
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
        if kind in _WHOLE:
            whole = True
        if whole:
            out.append(ReceptiveField(None, None))
            continue
        if kind in _CONV_T:
            err = EngineError(op, f"layers[{i}]", f"{kind} spreads each input value over a window of the output: "
                              "its field is not a window of the input")
            err.fix = "ask for receptive fields of the encoder, before the transposed convolutions"
            raise err
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


# --- the compact form -------------------------------------------------------------------

#: Layer names of the compact form and the type each stands for.
STACK_NAMES: dict[str, str] = {
    **{t: t for t in LAYER_TYPES},
    "conv": "conv2d", "pool": "maxpool2d", "maxpool": "maxpool2d", "avgpool": "avgpool2d",
    "bn": "batchnorm", "fc": "linear", "tconv": "conv_transpose2d", "deconv": "conv_transpose2d",
    "tconv1d": "conv_transpose1d",
}
#: Positional arguments of the compact form, per layer type, in order.
_POSITIONAL: dict[str, tuple[str, ...]] = {
    **{t: ("out", "k", "stride", "padding") for t in (*_CONV, *_CONV_T)},
    **{t: ("k", "stride", "padding") for t in _POOL},
    "linear": ("out",), "dropout": ("p",), "leaky_relu": ("alpha",), "elu": ("alpha",),
}
#: Short and long key names of the compact form (`k3`, `kernel=3`, `s2`, `p1`, `d2`).
_SHORT = {"k": "k", "kernel": "k", "s": "stride", "stride": "stride", "p": "padding", "padding": "padding",
          "d": "dilation", "dilation": "dilation", "g": "groups", "groups": "groups",
          "op": "output_padding", "output_padding": "output_padding", "out": "out", "in": "in",
          "bias": "bias", "alpha": "alpha"}
_STACK_FIX = ("write the stack as layers such as conv(16,k3,p1) relu pool(2) conv(32,k3,s2) gap linear(10) "
              "(docs/spec-format.md, Layer stacks)")
_TOKEN = re.compile(r"\s*(?:(?:->|→|[,;|])\s*)*([A-Za-z_][A-Za-z0-9_]*)\s*(\(([^()]*)\))?")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SIZE = re.compile(r"(\d+)(?:x(\d+))?")
_KEYED = re.compile(r"([A-Za-z_]+)\s*(?:=\s*)?(.+)")


def _stack_error(arg: str, message: str) -> EngineError:
    err = EngineError("parse_stack", arg, message)
    err.fix = _STACK_FIX
    return err


def _stack_value(text: str, key: str, where: str) -> Any:
    """One argument value: 3, 3x5 (a pair), 0.5, same / valid, true / false."""
    low = text.strip().lower()
    if key == "bias" and low in ("true", "false", "1", "0"):
        return low in ("true", "1")
    if key == "padding" and low in ("same", "valid"):
        return low
    if m := _SIZE.fullmatch(low):
        return int(m.group(1)) if m.group(2) is None else [int(m.group(1)), int(m.group(2))]
    if key in ("p", "alpha") and _NUMBER.fullmatch(low):
        return float(low)
    raise _stack_error(where, f"cannot read {text.strip()!r} as a value of '{key}'")


def _stack_args(kind: str, body: str, where: str) -> dict[str, Any]:
    """The arguments between a layer's parentheses, by key."""
    out: dict[str, Any] = {}
    positional = list(_POSITIONAL.get(kind, ()))
    for raw in (a.strip() for a in body.split(",")):
        if not raw:
            raise _stack_error(where, "an empty argument (two commas, or a comma at the end)")
        low = raw.lower()
        if low in ("nobias", "ceil", "same", "valid"):
            key, value = {"nobias": ("bias", False), "ceil": ("ceil_mode", True)}.get(low, ("padding", low))
        elif _SIZE.fullmatch(low) or _NUMBER.fullmatch(low):
            if not positional:
                raise _stack_error(where, f"{kind} takes no more unnamed arguments than "
                                   f"{len(_POSITIONAL.get(kind, ()))}, got {raw!r}")
            key = positional.pop(0)
            value = _stack_value(raw, key, where)
        elif (m := _KEYED.fullmatch(low)) and (m.group(1) in _SHORT or (kind == "dropout" and m.group(1) == "p")):
            key = "p" if kind == "dropout" and m.group(1) == "p" else _SHORT[m.group(1)]
            if "=" not in raw and len(m.group(1)) > 1:
                raise _stack_error(where, f"write '{m.group(1)}={m.group(2)}' (a long name takes '=')")
            value = _stack_value(m.group(2), key, where)
        else:
            raise _stack_error(where, f"cannot read the argument {raw!r} of {kind}")
        if key in out:
            raise _stack_error(where, f"{kind} gets '{key}' twice")
        if key in positional:
            positional.remove(key)
        out[key] = value
    return out


def parse_stack(text: str) -> list[dict[str, Any]]:
    """The layer dicts of a stack written compactly, e.g. "conv(16,k3,p1) relu pool(2) gap linear(10)".

    Layers are separated by spaces, commas or arrows; a layer is a name (`conv`, `conv1d`, `pool`,
    `avgpool`, `bn`, `relu`, `dropout`, `gap`, `flatten`, `linear` or `fc`, or any layer type) with
    optional arguments in parentheses: unnamed ones in the order out, kernel, stride, padding for a
    convolution (kernel, stride, padding for pooling; out for linear; p for dropout), named ones as
    `k3` / `kernel=3`, `s2`, `p1`, `d2`, `3x5` for a pair, and the words nobias, same, valid, ceil.
    Read by a whitelist of names and a regular grammar, never evaluated.
    """
    if not isinstance(text, str):
        raise _stack_error("layers", f"expected text, got {type(text).__name__}")
    layers: list[dict[str, Any]] = []
    pos, rest = 0, text.rstrip()
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        n = len(layers) + 1
        if m is None:
            raise _stack_error(f"layer {n}", f"cannot read {rest[pos:].strip()[:30]!r} as a layer")
        name, body = m.group(1), m.group(3)
        kind = STACK_NAMES.get(name.lower())
        where = f"layer {n} ({m.group(0).strip()})"
        if kind is None:
            import difflib

            near = difflib.get_close_matches(name.lower(), list(STACK_NAMES), n=3)
            err = _stack_error(where, f"unknown layer '{name}'" + (f"; did you mean {', '.join(near)}?" if near else ""))
            raise err
        spec: dict[str, Any] = {"type": kind}
        if body is not None and body.strip():
            spec.update(_stack_args(kind, body, where))
        try:
            _layer(n - 1, spec, "parse_stack")  # the same checks as a dict (required and allowed keys)
        except EngineError as exc:
            raise _stack_error(where, str(exc).split(": ", 2)[-1]) from None
        layers.append(spec)
        pos = m.end()
    if not layers:
        raise _stack_error("layers", "the stack is empty")
    return layers


def as_stack(layers: Any) -> list[dict[str, Any]]:
    """A stack as checked layer dicts (types lower-case, `kernel` written `k`), from dicts or the compact form."""
    op = "as_stack"
    return [_layer(i, spec, op)[1] for i, spec in enumerate(_layers(layers, op))]


# --- per-layer facts ---------------------------------------------------------------------

def last_map_index(input_shape: Shape | list[int] | int, layers: list[dict] | str) -> int:
    """The 0-based index of the last layer whose output is still a feature map (C, L) or (C, H, W)."""
    shapes = propagate(input_shape, layers)
    maps = [i for i, s in enumerate(shapes) if len(s) >= 2]
    if not maps:
        raise EngineError("last_map_index", "layers", "no layer outputs a feature map (every output is a vector)")
    return maps[-1]


def head_index(layers: list[dict] | str) -> int:
    """The 0-based index of the first flatten, gap or linear layer (the start of the head), or the number of layers."""
    stack = as_stack(layers)
    return next((i for i, d in enumerate(stack) if d["type"] in _WHOLE), len(stack))


def stride_product(layers: list[dict] | str) -> int | tuple[int, int]:
    """prod of the strides of the layers before the head: the input distance between neighbouring units there."""
    stack = as_stack(layers)
    at = head_index(stack)
    if at == 0:
        return 1
    return receptive_fields(stack[:at])[-1].jump


def rf_sides(input_shape: Shape | list[int] | int, layers: list[dict] | str, axis: int = 0) -> list[int]:
    """r per layer along one spatial axis (0 = height): the recurrence's r, or the input's extent once a
    layer sees the whole input (after flatten, linear or gap)."""
    op = "rf_sides"
    shape = _input_shape(input_shape, op)
    if len(shape) < 2:
        raise EngineError(op, "input_shape", f"receptive fields need an input with spatial axes, got {shape}")
    spatial = shape[1:]
    ax = _int(axis, op, "axis", 0)
    if ax >= len(spatial):
        raise EngineError(op, "axis", f"the input has {len(spatial)} spatial axes, got axis {ax}")
    propagate(shape, layers)  # the stack must fit the input
    out = []
    for rf in receptive_fields(as_stack(layers)):
        if rf.size is None:
            out.append(spatial[ax])
        else:
            out.append(rf.size if isinstance(rf.size, int) else rf.size[min(ax, 1)])
    return out


def weight_shapes(input_shape: Shape | list[int] | int, layers: list[dict] | str) -> list[Shape]:
    """Each layer's weight tensor as torch stores it: (out, in / groups, k_h, k_w) for conv2d, (out, in / groups, k) for conv1d,
    (in, out / groups, k_h, k_w) for a transposed convolution,
    (out, in) for linear, (C,) for batch norm's gamma, () for a layer without weights."""
    op = "weight_shapes"
    shape = _input_shape(input_shape, op)
    out: list[Shape] = []
    stack = as_stack(layers)
    for i, (spec, nxt) in enumerate(zip(stack, propagate(shape, stack), strict=True)):
        kind = spec["type"]
        if kind in _CONV:
            g = _groups(i, spec, shape[0], nxt[0], op)
            out.append((nxt[0], shape[0] // g, *_tuple(spec["k"], _CONV[kind], op, f"layers[{i}].k", 1)))
        elif kind in _CONV_T:
            g = _groups(i, spec, shape[0], nxt[0], op)
            out.append((shape[0], nxt[0] // g, *_tuple(spec["k"], _CONV_T[kind], op, f"layers[{i}].k", 1)))
        elif kind == "linear":
            out.append((nxt[0], shape[0]))
        elif kind in _NORM and spec.get("affine", True):
            out.append((shape[0],))
        else:
            out.append(())
        shape = nxt
    return out


def fc_to_conv(input_shape: Shape | list[int] | int, layers: list[dict] | str) -> list[dict[str, Any]]:
    """The stack with its fully connected head as convolutions: the first linear layer after a C x H x W map
    becomes a conv with an H x W kernel (C in, out filters), every later one a 1 x 1 conv; flatten goes,
    batch norm becomes 2-D, the other layers stay. Same function and parameters on this input."""
    op = "fc_to_conv"
    shape = _input_shape(input_shape, op)
    stack = as_stack(layers)
    shapes = [shape, *propagate(shape, stack)]
    linear = [i for i, d in enumerate(stack) if d["type"] == "linear"]
    if not linear:
        raise EngineError(op, "layers", "the stack has no fully connected (linear) layer to turn into a convolution")
    first = linear[0]
    head = head_index(stack)
    if stack[head]["type"] == "gap":
        err = EngineError(op, f"layers[{head}]", "after global average pooling (gap) the map is 1 x 1: "
                          "its linear layers act on vectors, there is no map to slide over")
        err.fix = "convert a head that starts with flatten, or replace gap by a pooling layer"
        raise err
    fmap = shapes[head]
    if len(fmap) < 2:
        raise EngineError(op, f"layers[{first}]", f"the head starts on a vector of shape {fmap}, not a feature map: "
                          "there is no kernel size to give its first linear layer")
    kind = f"conv{len(fmap) - 1}d"
    out: list[dict[str, Any]] = list(stack[:head])
    for i in range(head, len(stack)):
        spec = stack[i]
        t = spec["type"]
        if t == "flatten":
            continue
        if t == "linear":
            k: Any = 1
            if i == first:
                sides = list(fmap[1:])
                k = sides[0] if len(set(sides)) == 1 else sides
            conv: dict[str, Any] = {"type": kind, "out": spec["out"], "k": k}
            if spec.get("bias") is False:
                conv["bias"] = False
            out.append(conv)
        elif t in _NORM:
            out.append({**spec, "type": "batchnorm2d" if len(fmap) == 3 else "batchnorm1d"})
        else:
            out.append(dict(spec))
    return out
