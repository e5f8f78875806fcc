"""Layer gradients given dL/dy written out entry by entry: convolution, pooling, loss and softmax derivatives.

These render the functions a spec calls directly (conv2d_grad_input(x, w, G), bce_grad(p, t), ...);
the chain rule through grad() is chain's. Every value shown is the engine's own output; the
sums of products show how it arises.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.engine.checks import out_size, window_cells

from .activations import _kernels
from .forward import View, _axes, _conv_of, _reduction, _unpadded
from .registry import renders
from .steps import MAX_ENTRIES, Step, _arr, _f, _more, _n, _step, _sum_products, _sum_values, _v
from .symbols import Sym


def _grad_sym(v: View) -> Sym:
    """The upstream gradient as it is written: its name, or g."""
    node = v.nodes.get("grad_out")
    return v.s("grad_out") if node is not None else Sym("g")


@renders("conv1d_grad_input", "conv2d_grad_input", "conv1d_grad_weight", "conv2d_grad_weight")
def _render_conv_grad(v: View) -> list[Step]:
    """dL/dx_i (or dL/dw_j) as the sum over the outputs whose window holds x_i (or that w_j multiplies)."""
    nd = 1 if v.call.fn.startswith("conv1d") else 2
    cv = _conv_of(v.args["x"], v.args["w"], v.args.get("stride", 1), v.args.get("padding", 0), nd)
    g = _arr(v.args["grad_out"]).reshape(cv.out_shape)
    wrt_input = "input" in v.call.fn
    gs, xs, ws = _grad_sym(v), v.s("x"), v.s("w")
    terms: dict[tuple[int, ...], list[tuple[str, float, float]]] = {}
    for pos in np.ndindex(*cv.out_shape):
        for wi, xi in cv.taps(pos):
            if wrt_input:
                inner = _unpadded(cv, xi)
                if inner is None:
                    continue  # a padding zero: no input entry receives this term
                key, label, factor = inner, ws.at(_kernel_index(cv, wi)), cv.w[wi]
            else:
                key = _kernel_index(cv, wi)
                inner = _unpadded(cv, xi)
                label = xs.at(inner) if inner is not None else "0"
                factor = cv.xp[xi]
            terms.setdefault(key, []).append((rf"{gs.at(cv.caller(pos))} \cdot {label}", g[pos], factor))
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        rows = terms.get(tuple(idx), [])
        sym = " + ".join(t[0] for t in rows) if len(rows) <= 9 else ""
        steps.append(_step(v.sym.at(idx), sym, _sum_products([(t[1], t[2]) for t in rows]), _n(out[idx]),
                           value=float(out[idx]), ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _kernel_index(cv: Any, wi: tuple[int, ...]) -> tuple[int, ...]:
    """A channel-form kernel index (o, c, *off) as the caller's (no channel axes for a single channel)."""
    return wi[2:] if cv.single else wi


@renders("conv_grad_bias")
def _render_conv_grad_bias(v: View) -> list[Step]:
    """dL/db: the upstream gradient summed over every output position (per filter)."""
    g = _arr(v.args["grad_out"])
    out = np.atleast_1d(_arr(v.out))
    planes = g.reshape(1, -1) if out.size == 1 else g.reshape(out.size, -1)
    steps = []
    for c in range(min(out.size, MAX_ENTRIES)):
        lhs = v.sym.tex() if np.ndim(v.out) == 0 else v.sym.at((c,))
        steps.append(_step(lhs, _sum_values(list(planes[c])), _n(out[c]), value=float(out[c]),
                           ref=v.eref(None if np.ndim(v.out) == 0 else (c,))))
    return steps


@renders("maxpool1d_grad_input", "maxpool2d_grad_input", "avgpool1d_grad_input", "avgpool2d_grad_input")
def _render_pool_grad(v: View) -> list[Step]:
    """dL/dx_i: each window's gradient goes to its maximum (max) or is shared equally (average)."""
    nd = 1 if "1d" in v.call.fn else 2
    is_max = v.call.fn.startswith("max")
    x = _arr(v.args["x"])
    k = _axes(v.args["kernel"], nd)
    s = k if v.args.get("stride") is None else _axes(v.args["stride"], nd)
    if x.ndim != nd:
        return []
    out_shape = tuple(out_size(n, kk, ss, 0) for n, kk, ss in zip(x.shape, k, s, strict=False))
    g = _arr(v.args["grad_out"]).reshape(out_shape)
    gs = _grad_sym(v)
    routes = None
    if is_max:  # the engine's own winners (its tie rule), not a second argmax
        kernel, stride = (k if nd > 1 else k[0]), (s if nd > 1 else s[0])
        routes = np.asarray(getattr(_kernels(), f"maxpool{nd}d_argmax")(x, kernel, stride)).reshape(out_shape)
    terms: dict[tuple[int, ...], list[tuple[str, float, float]]] = {}
    for pos in np.ndindex(*out_shape):
        cells = window_cells(pos, k, s)
        if routes is not None:
            win = tuple(int(t) for t in np.unravel_index(int(routes[pos]), x.shape))
            terms.setdefault(win, []).append((gs.at(pos), g[pos], 1.0))
        else:
            for cell in cells:
                terms.setdefault(tuple(cell), []).append((rf"\frac{{{gs.at(pos)}}}{{{len(cells)}}}", g[pos],
                                                          1.0 / len(cells)))
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        rows = terms.get(tuple(idx), [])
        text = ("the maximum of no window:" if not rows else "") if is_max else ""
        sym = " + ".join(t[0] for t in rows) if rows else "0"
        num = _sum_values([t[1] for t in rows]) if is_max else _sum_products([(t[1], t[2]) for t in rows])
        steps.append(_step(v.sym.at(idx), sym, num if rows else "", _n(out[idx]), value=float(out[idx]),
                           ref=v.eref(idx), text=text))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("bce_grad", "cross_entropy_grad")
def _render_prob_loss_grad(v: View) -> list[Step]:
    """dL/dp per entry: c(-t/p + (1 - t)/(1 - p)) for BCE, -c t/p for cross-entropy (0 where t = 0)."""
    p = _arr(v.args["pred"])
    red = str(v.args.get("reduction", "mean"))
    bce = v.call.fn == "bce_grad"
    if bce:
        t = np.broadcast_to(_arr(v.args["target"]), p.shape)
        n = p.size
    else:
        t = _arr(v.args["target"])
        if t.shape != p.shape:
            t = np.eye(p.shape[-1])[np.atleast_1d(t).astype(int)].reshape(p.shape)
        n = p.shape[0] if p.ndim == 2 else 1
    c_tex, _ = _reduction(red, n)
    ps, ts = v.s("pred"), v.s("target") if t.shape == _arr(v.args["target"]).shape else Sym("t")
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        pi, ti = float(p[idx]), float(t[idx])
        if bce:
            sym = rf"-\frac{{{ts.at(idx)}}}{{{ps.at(idx)}}} + \frac{{1 - {ts.at(idx)}}}{{1 - {ps.at(idx)}}}"
            num = rf"-\frac{{{_n(ti)}}}{{{_n(pi)}}} + \frac{{1 - {_f(ti)}}}{{1 - {_f(pi)}}}"
        else:
            sym = rf"-\frac{{{ts.at(idx)}}}{{{ps.at(idx)}}}"
            num = rf"-\frac{{{_n(ti)}}}{{{_n(pi)}}}"
        if c_tex:
            sym, num = rf"{c_tex}\left({sym}\right)", rf"{c_tex}\left({num}\right)"
        steps.append(_step(v.sym.at(idx), sym, num, _n(out[idx]), value=float(out[idx]), ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("softmax_jacobian")
def _render_softmax_jacobian(v: View) -> list[Step]:
    """J_ij = p_i (1 - p_i) on the diagonal and -p_i p_j off it, from p = softmax(x)."""
    x = _arr(v.args["x"]).ravel()
    p = _kernels().softmax(x)
    J = _arr(v.out)
    steps = [_step("p", r"\operatorname{softmax}(" + v.s("x").tex() + ")", _v(p), value=p)]
    chosen, hidden = v.ctx.pick(J.shape)
    for i, j in chosen:
        ps = Sym("p")
        if i == j:
            sym, num = rf"{ps.at((i,))}(1 - {ps.at((i,))})", rf"{_n(p[i])} \cdot (1 - {_f(p[i])})"
        else:
            sym, num = rf"-{ps.at((i,))} {ps.at((j,))}", rf"-{_n(p[i])} \cdot {_f(p[j])}"
        steps.append(_step(v.sym.at((i, j)), sym, num, _n(J[i, j]), value=float(J[i, j]), ref=v.eref((i, j))))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("clip")
def _render_clip(v: View) -> list[Step]:
    """Each entry limited to [lo, hi]: min(max(x, lo), hi)."""
    x = _arr(v.args["x"])
    lo, hi = v.args["lo"], v.args["hi"]
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(x.shape)
    steps = []
    for idx in chosen:
        steps.append(_step(v.sym.at(idx) if x.ndim else v.sym.tex(),
                           rf"\min\left(\max\left({_n(x[idx])}, {_n(lo)}\right), {_n(hi)}\right)", _n(out[idx]),
                           value=float(out[idx]), ref=v.eref(idx if x.ndim else None)))
    if hidden:
        steps.append(_more(hidden))
    return steps

