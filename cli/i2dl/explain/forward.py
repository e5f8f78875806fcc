"""Forward operations written out entry by entry (conv, pooling, linear, activations, losses, optimizers, shapes)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.engine.checks import out_size, window_cells
from i2dl.expr import Call, Const, Name, Node, Seq
from i2dl.functions import FUNCTIONS
from i2dl.ops.activations import ACTIVATIONS

from .activations import ACTIVATION_NAMES, _act_rule, _kernels
from .context import _Ctx
from .registry import renders
from .steps import (
    MAX_ENTRIES,
    Step,
    _arr,
    _f,
    _more,
    _n,
    _note,
    _step,
    _sum_products,
    _sum_values,
    _tx,
    _v,
)
from .symbols import Sym, _word, index_base, symbol
from .tex import _arg_nodes, _Tex

MAX_STEPS_T = 4  # optimizer steps written out


@dataclass
class View:
    """One call seen by a renderer: argument values and expressions, output value, how it is written."""

    call: Call
    args: dict[str, Any]
    nodes: dict[str, Node]
    out: Any
    sym: Sym
    ref: str | None
    ctx: _Ctx

    def s(self, param: str) -> Sym:
        """How an argument is written: its symbol when it is a name, else its expression."""
        node = self.nodes.get(param)
        if isinstance(node, Name):
            return symbol(node.id)
        if node is None or _is_literal(node):
            return Sym(_LITERAL_NAMES.get(param, _word(param)))  # [[2, 1], [0, 1]]_(1,2) reads badly
        return Sym(_Tex(self.ctx, "sym")(node))

    def eref(self, idx: tuple[int, ...] | None) -> tuple[str, Any] | None:
        return (self.ref, idx) if self.ref else None


_LITERAL_NAMES = {"pred": "z", "target": "t", "grad_out": "g", "input_shape": "s", "w0": "w", "grads": "g"}


def _is_literal(node: Node) -> bool:
    """A number or a list of numbers written into the expression."""
    if isinstance(node, Const):
        return True
    if isinstance(node, Seq):
        return all(_is_literal(i) for i in node.items)
    return isinstance(node, Call) and node.fn == "neg" and _is_literal(node.args[0])


def _view(node: Call, ctx: _Ctx, sym: Sym, ref: str | None) -> View:
    fn = FUNCTIONS[node.fn]
    values = [ctx.value(a) for a in node.args]
    kw = {k: ctx.value(v) for k, v in node.kwargs}
    bound = fn.bind(values, kw)
    out = ctx.values[ref] if ref is not None and ref in ctx.values else ctx.value(node)
    return View(node, bound, _arg_nodes(node), out, sym, ref, ctx)


def _axes(v: Any, nd: int) -> tuple[int, ...]:
    a = np.atleast_1d(np.asarray(v, dtype=float)).astype(int)
    return tuple(int(a[0]) for _ in range(nd)) if a.size == 1 else tuple(int(t) for t in a[:nd])


def _size_step(lhs: str, n: int, k: int, s: int, p: int, d: int = 1, *, pool: bool = False,
               ref: tuple[str, Any] | None = None) -> Step:
    """floor((n + 2p - k) / s) + 1 with the numbers, the floor applied visibly."""
    span = d * (k - 1) + 1
    q = (n + 2 * p - span) / s
    value = math.floor(q) + 1
    if d != 1:
        sym = r"\left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1"
        num = rf"\left\lfloor \frac{{{n} + 2 \cdot {p} - {d} \cdot ({k} - 1) - 1}}{{{s}}} \right\rfloor + 1"
    elif pool and p == 0:
        sym = r"\left\lfloor \frac{n - k}{s} \right\rfloor + 1"
        num = rf"\left\lfloor \frac{{{n} - {k}}}{{{s}}} \right\rfloor + 1"
    else:
        sym = r"\left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1"
        num = rf"\left\lfloor \frac{{{n} + 2 \cdot {p} - {k}}}{{{s}}} \right\rfloor + 1"
    mid = rf"\lfloor {_n(q)} \rfloor + 1" if q != math.floor(q) else ""  # the floor only shows when it acts
    return _step(lhs, sym, num, mid, f"{math.floor(q)} + 1", str(value), value=value, ref=ref)


def _spatial_sizes(lhs: Sym, shape: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...],
                   *, pool: bool) -> list[Step]:
    """The output size per spatial axis (one line when both axes agree)."""
    if len(shape) == 1:
        return [_size_step(rf"n_{{{lhs.base}}}" if len(lhs.base) < 12 else r"n_{\mathrm{out}}",
                           shape[0], k[0], s[0], p[0], pool=pool)]
    if shape[0] == shape[1] and k[0] == k[1] and s[0] == s[1] and p[0] == p[1]:
        return [_size_step(r"H_{\mathrm{out}} = W_{\mathrm{out}}", shape[0], k[0], s[0], p[0], pool=pool)]
    return [_size_step(rf"{ax}_{{\mathrm{{out}}}}", n, kk, ss, pp, pool=pool)
            for ax, n, kk, ss, pp in zip("HW", shape, k, s, p, strict=False)]


@dataclass
class _Conv:
    """A convolution in channel form: x (C, *n) padded, w (O, C, *k)."""

    x: np.ndarray
    xp: np.ndarray
    w: np.ndarray
    s: tuple[int, ...]
    p: tuple[int, ...]
    single: bool
    nd: int

    @property
    def out_shape(self) -> tuple[int, ...]:
        sizes = tuple(out_size(n, k, s, p) for n, k, s, p in
                      zip(self.x.shape[1:], self.w.shape[2:], self.s, self.p, strict=False))
        return (self.w.shape[0], *sizes)

    def caller(self, pos: tuple[int, ...]) -> tuple[int, ...]:
        """A channel-form index as the caller's index (no channel axes for single-channel forms)."""
        return pos[1:] if self.single else pos

    def channel(self, idx: tuple[int, ...]) -> tuple[int, ...]:
        return (0, *idx) if self.single else idx

    def taps(self, pos: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """(weight index, padded input index) pairs of output position (o, *i), channel form."""
        o, spatial = pos[0], pos[1:]
        kernel = self.w.shape[2:]
        cells = window_cells(spatial, kernel, self.s)
        return [((o, c, *off), (c, *src)) for c in range(self.x.shape[0])
                for off, src in zip(np.ndindex(*kernel), cells, strict=True)]


def _conv_of(x: Any, w: Any, stride: Any, padding: Any, nd: int) -> _Conv:
    xa, wa = _arr(x), _arr(w)
    single = xa.ndim == nd
    xc, wc = (xa[None], wa[None, None]) if single else (xa, wa)
    s, p = _axes(stride, nd), _axes(padding, nd)
    xp = np.pad(xc, [(0, 0)] + [(q, q) for q in p])
    return _Conv(xc, xp, wc, s, p, single, nd)


def _unpadded(cv: _Conv, src: tuple[int, ...]) -> tuple[int, ...] | None:
    """A padded input index as the caller's input index, or None inside the zero padding."""
    inner = tuple(i - p for i, p in zip(src[1:], cv.p, strict=False))
    if any(i < 0 or i >= n for i, n in zip(inner, cv.x.shape[1:], strict=False)):
        return None
    return inner if cv.single else (src[0], *inner)


@renders("conv1d", "conv2d")
def _render_conv(v: View) -> list[Step]:
    """The output size, then every output entry as its sum of products."""
    nd = 1 if v.call.fn == "conv1d" else 2
    cv = _conv_of(v.args["x"], v.args["w"], v.args["stride"], v.args["padding"], nd)
    b = v.args.get("b")
    bias = None if b is None else np.broadcast_to(_arr(b), (cv.w.shape[0],))
    steps = _spatial_sizes(v.sym, cv.x.shape[1:], cv.w.shape[2:], cv.s, cv.p, pool=False)
    if any(cv.p):
        shown = _v(cv.xp[0]) if cv.single and nd == 1 else _tx(f"{cv.p} zeros around every side")
        steps.append(_step(rf"{v.s('x').base}^{{\mathrm{{pad}}}}", shown, text="zero padding:", role="note"))
    steps.append(_conv_formula(v, cv, bias is not None))
    chosen, hidden = v.ctx.pick(cv.caller(cv.out_shape))
    y = _arr(v.out)
    for idx in chosen:
        pos = cv.channel(idx)
        rows = [(cv.w[wi], cv.xp[xi]) for wi, xi in cv.taps(pos)]
        total = float(y[idx])  # the engine's own output; the products above show how it arises
        rhs = _sum_products(rows) + (f" + {_f(bias[pos[0]])}" if bias is not None else "")
        steps.append(_step(v.sym.at(idx), rhs, _n(total), value=total, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _conv_formula(v: View, cv: _Conv, bias: bool) -> Step:
    """z_i = sum_j c_j x_(i-1)s+j (+ b): which inputs each output multiplies."""
    x = v.s("x").base + (r"^{\mathrm{pad}}" if any(cv.p) else "")
    xs, ws = Sym(x), v.s("w")
    if index_base() == 0:  # as a sheet that counts from 0 writes it: X at (s i + a, s j + b)
        rows = ["i + a" if cv.s[0] == 1 else f"{cv.s[0]} i + a"]
        if cv.nd == 2:
            rows.append("j + b" if cv.s[1] == 1 else f"{cv.s[1]} j + b")
        kern = ["a", "b"][:cv.nd]
        body = rf"\sum_{{{', '.join(kern)}}} {ws.at_tex(kern)} \, {xs.at_tex(rows)}"
        lhs = v.sym.at_tex(["i", "j"][:cv.nd])
    elif cv.nd == 1:
        src = "i + j - 1" if cv.s[0] == 1 else f"(i - 1) \\cdot {cv.s[0]} + j"
        body = rf"\sum_{{j=1}}^{{{cv.w.shape[2]}}} {ws.at_tex(['j'])} \, {xs.at_tex([src])}"
        lhs = v.sym.at_tex(["i"])
    else:
        s0, s1 = cv.s
        r = "i + u - 1" if s0 == 1 else f"(i - 1) \\cdot {s0} + u"
        c = "j + v - 1" if s1 == 1 else f"(j - 1) \\cdot {s1} + v"
        body = rf"\sum_{{u, v}} {ws.at_tex(['u', 'v'])} \, {xs.at_tex([r, c])}"
        lhs = v.sym.at_tex(["i", "j"])
    if not cv.single:
        body = r"\sum_{c} " + body
        lhs = v.sym.at_tex(["o"] + (["i"] if cv.nd == 1 else ["i", "j"]))
    if bias:
        body += " + " + v.s("b").tex()
    return _step(lhs, body, role="formula")


@renders("conv1d_matrix", "conv2d_matrix")
def _render_conv_matrix(v: View) -> list[Step]:
    """Row i of T holds the kernel where output i reads the input, zeros elsewhere."""
    T = _arr(v.out)
    steps = [_note(f"$T$ has one row per output entry ({T.shape[0]}) and one column per input entry "
                   f"({T.shape[1]}); row $i$ holds the kernel at the inputs output $i$ reads.")]
    for i in range(min(T.shape[0], MAX_ENTRIES)):
        steps.append(_step(v.sym.at_tex([str(i + index_base()), ":"]), _v(T[i]), value=T[i]))
    if T.shape[0] > MAX_ENTRIES:
        steps.append(_more(T.shape[0] - MAX_ENTRIES))
    return steps


def _transpose_size_step(lhs: str, n: int, k: int, s: int, p: int) -> Step:
    """(n - 1) s - 2p + k with the numbers."""
    value = (n - 1) * s - 2 * p + k
    return _step(lhs, "(n - 1) s - 2p + k", rf"({n} - 1) \cdot {s} - 2 \cdot {p} + {k}", str(value), value=value)


@renders("conv_transpose1d", "conv_transpose2d")
def _render_conv_transpose(v: View) -> list[Step]:
    """The output size, each input entry's scattered copy of the kernel, then each output entry as the sum of the copies on it."""
    nd = 1 if v.call.fn.endswith("1d") else 2
    xa, wa = _arr(v.args["x"]), _arr(v.args["w"])
    single = xa.ndim == nd
    xc, wc = (xa[None], wa[None, None]) if single else (xa, wa)
    s, p = _axes(v.args.get("stride", 1), nd), _axes(v.args.get("padding", 0), nd)
    n, k = xc.shape[1:], wc.shape[2:]
    names = ["n_{\\mathrm{out}}"] if nd == 1 else ["H_{\\mathrm{out}}", "W_{\\mathrm{out}}"]
    if nd == 2 and n[0] == n[1] and k[0] == k[1] and s[0] == s[1] and p[0] == p[1]:
        steps = [_transpose_size_step(r"H_{\mathrm{out}} = W_{\mathrm{out}}", n[0], k[0], s[0], p[0])]
    else:
        steps = [_transpose_size_step(nm, *t) for nm, t in zip(names, zip(n, k, s, p, strict=True), strict=True)]
    xs, ws = v.s("x"), v.s("w")
    crop = f", then the outer {p[0] if len(set(p)) == 1 else p} (padding) of every border is cropped" if any(p) \
        else ""
    steps.append(_note(f"Every input entry adds a copy of the kernel, scaled by the entry, to the output, "
                       f"its corner moved {s[0] if len(set(s)) == 1 else s} places per input step; "
                       f"where copies overlap they add up{crop}."))
    if single:  # the scattered copies, input entry by input entry
        cells = list(np.ndindex(*n))
        for idx in cells[:MAX_ENTRIES]:
            corner = tuple(i * st + index_base() for i, st in zip(idx, s, strict=True))
            where = f"corner at {corner[0] if nd == 1 else corner} of the result before cropping" if any(p) \
                else f"corner at output {corner[0] if nd == 1 else corner}"
            steps.append(_step(rf"{xs.at(idx)} \, {ws.tex()}", rf"{_f(xc[(0, *idx)])} \cdot {_v(wc[0, 0])}",
                               _v(xc[(0, *idx)] * wc[0, 0]), text=f"{where}:", value=xc[(0, *idx)] * wc[0, 0]))
        if len(cells) > MAX_ENTRIES:
            steps.append(_more(len(cells) - MAX_ENTRIES))
    y = _arr(v.out)
    chosen, hidden = v.ctx.pick(y.shape)
    for idx in chosen:
        o, pos = (0, idx) if single else (idx[0], idx[1:])
        rows, labels = [], []
        for c in range(xc.shape[0]):
            for src in np.ndindex(*n):
                off = tuple(q + pp - i * st for q, pp, i, st in zip(pos, p, src, s, strict=True))
                if all(0 <= t < kk for t, kk in zip(off, k, strict=True)):
                    rows.append((xc[(c, *src)], wc[(c, o, *off)]))
                    xi, wi = (src, off) if single else ((c, *src), (c, o, *off))
                    labels.append(f"{xs.at(xi)} {ws.at(wi)}")
        sym = " + ".join(labels) if 0 < len(labels) <= 4 else ""
        total = float(y[idx])  # the engine's own output; the products show where it comes from
        steps.append(_step(v.sym.at(idx), sym, _sum_products(rows), _n(total), value=total, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d")
def _render_pool(v: View) -> list[Step]:
    """The output size, then each window and its max or mean."""
    nd = 1 if v.call.fn.endswith("1d") else 2
    kind = "max" if v.call.fn.startswith("max") else "avg"
    x = _arr(v.args["x"])
    xc = x[None] if x.ndim == nd else x
    k = _axes(v.args["kernel"], nd)
    s = k if v.args.get("stride") is None else _axes(v.args["stride"], nd)
    steps = _spatial_sizes(v.sym, xc.shape[1:], k, s, (0,) * nd, pool=True)
    out_sp = tuple(out_size(n, kk, ss, 0) for n, kk, ss in zip(xc.shape[1:], k, s, strict=False))
    y = _arr(v.out)
    shape = out_sp if x.ndim == nd else (xc.shape[0], *out_sp)
    chosen, hidden = v.ctx.pick(shape)
    xs = v.s("x")
    for idx in chosen:
        c, pos = (0, idx) if x.ndim == nd else (idx[0], idx[1:])
        cells = window_cells(pos, k, s)
        vals = [xc[(c, *cell)] for cell in cells]
        names = [xs.at(cell if x.ndim == nd else (c, *cell)) for cell in cells]
        if kind == "max":
            sym = rf"\max\left({', '.join(names)}\right)" if len(cells) <= 4 else ""
            num = rf"\max\left({', '.join(_n(t) for t in vals)}\right)"
        else:
            sym = rf"\frac{{{' + '.join(names)}}}{{{len(cells)}}}" if len(cells) <= 4 else ""
            num = rf"\frac{{{_sum_values(vals)}}}{{{len(cells)}}}"
        value = float(y[idx])  # the engine's own output, not a second computation
        steps.append(_step(v.sym.at(idx), sym, num, _n(value), value=value, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _vector_pair_terms(a: np.ndarray, b: np.ndarray, sa: Sym, sb: Sym, ia: list, ib: list) -> tuple[str, str, float]:
    """sum_k a[ia_k] b[ib_k] written with symbols and with numbers."""
    rows = [(a[i], b[j]) for i, j in zip(ia, ib, strict=False)]
    sym = " + ".join(f"{sa.at(i)} {sb.at(j)}" for i, j in zip(ia, ib, strict=False)) if len(rows) <= 6 else ""
    return sym, _sum_products(rows), float(sum(x * y for x, y in rows))


@renders("dot", "matmul")
def _render_matmul(v: View) -> list[Step]:
    """Each output entry as a sum of products."""
    pa, pb = ("a", "b")
    a, b = _arr(v.args[pa]), _arr(v.args[pb])
    sa, sb = v.s(pa), v.s(pb)
    steps: list[Step] = []
    if a.ndim == 1 and b.ndim == 1:
        n = range(len(a))
        sym, num, val = _vector_pair_terms(a, b, sa, sb, [(i,) for i in n], [(i,) for i in n])
        return [_step(v.sym.tex(), sym, num, _n(val), value=val, ref=v.eref(None))]
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    for idx in chosen:
        if a.ndim == 2 and b.ndim == 1:
            ia, ib = [(idx[0], k) for k in range(a.shape[1])], [(k,) for k in range(a.shape[1])]
            sym, num, val = _vector_pair_terms(a, b, sa, sb, ia, ib)
        elif a.ndim == 1 and b.ndim == 2:
            ia, ib = [(k,) for k in range(a.shape[0])], [(k, idx[0]) for k in range(a.shape[0])]
            sym, num, val = _vector_pair_terms(a, b, sa, sb, ia, ib)
        elif a.ndim == 2 and b.ndim == 2:
            ia, ib = [(idx[0], k) for k in range(a.shape[1])], [(k, idx[1]) for k in range(a.shape[1])]
            sym, num, val = _vector_pair_terms(a, b, sa, sb, ia, ib)
        else:
            return []
        steps.append(_step(v.sym.at(idx), sym, num, _n(val), value=val, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("linear")
def _render_linear(v: View) -> list[Step]:
    """y_j = sum_i x_i W_ij + b_j per output, with symbols and numbers."""
    x, w = _arr(v.args["x"]), _arr(v.args["w"])
    b = None if v.args.get("b") is None else _arr(v.args["b"])
    conv = str(v.args.get("convention") or "xW")
    sx, sw, sb = v.s("x"), v.s("w"), v.s("b")
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        if conv == "Wx":
            j, col = idx[0], (idx[1:] if x.ndim == 2 else ())
            ia = [(j, k) for k in range(w.shape[1])]
            ib = [(k, *col) for k in range(w.shape[1])]
            sym, num, val = _vector_pair_terms(w, x, sw, sx, ia, ib)
        else:
            row, j = (idx[:-1], idx[-1])
            ia = [(*row, k) for k in range(w.shape[0])]
            ib = [(k, j) for k in range(w.shape[0])]
            sym, num, val = _vector_pair_terms(x, w, sx, sw, ia, ib)
        if b is not None:
            bj = idx[0] if conv == "Wx" else idx[-1]
            sym = f"{sym} + {sb.at((bj,))}" if sym else ""
            num = f"{num} + {_f(b[bj])}"
            val += float(b[bj])
        steps.append(_step(v.sym.at(idx), sym, num, _n(val), value=val, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders(*ACTIVATION_NAMES, *(f"{n}_grad" for n in ACTIVATIONS), "activate", "activate_grad")
def _render_activation(v: View) -> list[Step]:
    """f(x_i) (or f'(x_i)) per entry, with the rule and the numbers."""
    fn = v.call.fn
    derivative = fn.endswith("_grad")
    kind = str(v.args["kind"]) if fn.startswith("activate") else fn.removesuffix("_grad")
    alpha = v.args.get("alpha")
    x = _arr(v.args["x"])
    xs = v.s("x")
    chosen, hidden = v.ctx.pick(x.shape)
    steps = []
    for idx in chosen:
        sym, num, val = _act_rule(kind, float(x[idx]), alpha, derivative)
        sym = sym.replace("X", xs.at(idx))
        steps.append(_step(v.sym.at(idx), sym, num, _n(val), value=val, ref=v.eref(idx if x.ndim else None)))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _softmax_steps(z: np.ndarray, zs: Sym, ps: Sym, ref: Callable[[tuple], Any] | None, ctx: _Ctx) -> list[Step]:
    """e^(z_i), their sum, and each probability e^(z_i) / sum."""
    rows = z.reshape(-1, z.shape[-1])
    steps = []
    for r, row in enumerate(rows[:2]):
        lead = (r,) if z.ndim == 2 else ()
        ex = np.exp(row)
        for i, t in enumerate(row):
            steps.append(_step(rf"e^{{{zs.at((*lead, i))}}}", rf"e^{{{_n(t)}}}", _n(ex[i]), value=ex[i]))
        total = float(ex.sum())
        steps.append(_step(r"\sum_k e^{" + zs.at_tex(([str(r + 1)] if z.ndim == 2 else []) + ["k"]) + "}",
                           _sum_values(list(ex)), _n(total), value=total))
        probs = _kernels().softmax(row)  # the engine's probabilities; e^z / sum shows how they arise
        for i in range(len(row)):
            p = float(probs[i])
            steps.append(_step(ps.at((*lead, i)), rf"\frac{{{_n(ex[i])}}}{{{_n(total)}}}", _n(p), value=p,
                               ref=ref((*lead, i)) if ref else None))
    if len(rows) > 2:
        steps.append(_more(len(rows) - 2))
    return steps


@renders("softmax")
def _render_softmax(v: View) -> list[Step]:
    z = _arr(v.args["x"])
    return _softmax_steps(z, v.s("x"), v.sym, v.eref if v.ref else None, v.ctx)


# ============================================================================ renderers: losses


def _reduction(red: str, n: int) -> tuple[str, float]:
    """The factor in front of a loss sum: (LaTeX, value)."""
    if red == "mean":
        return (rf"\frac{{1}}{{{n}}}" if n > 1 else ""), 1.0 / n
    if red == "half_sum":
        return r"\frac{1}{2}", 0.5
    return "", 1.0


@renders("mse", "l1")
def _render_regression_loss(v: View) -> list[Step]:
    """c * sum (y_i - t_i)^2 written out term by term."""
    y, t = _arr(v.args["pred"]), _arr(v.args["target"])
    t = np.broadcast_to(t, y.shape)
    c_tex, c = _reduction(str(v.args.get("reduction", "mean")), y.size)
    sq = v.call.fn == "mse"
    ys, ts = v.s("pred"), v.s("target")
    idxs = list(np.ndindex(*y.shape)) if y.shape else [()]

    def term(a: str, b: str) -> str:
        return rf"\left({a} - {b}\right)^{{2}}" if sq else rf"\left|{a} - {b}\right|"

    sym_terms = [term(ys.at(i), ts.at(i)) for i in idxs]
    num_terms = [term(_n(y[i]), _f(t[i])) for i in idxs]
    vals = [(y[i] - t[i]) ** 2 if sq else abs(y[i] - t[i]) for i in idxs]

    def wrap(body: str) -> str:
        return f"{c_tex}\\left({body}\\right)" if c_tex and len(idxs) > 1 else (f"{c_tex} {body}" if c_tex else body)

    if len(idxs) > MAX_ENTRIES:
        sym = wrap(rf"\sum_i {term(ys.at_tex(['i']), ts.at_tex(['i']))}")
        return [_step(v.sym.tex(), sym, wrap(_sum_values(vals)), _n(c * sum(vals)), value=c * sum(vals),
                      ref=v.eref(None))]
    total = c * float(sum(vals))
    return [_step(v.sym.tex(), wrap(" + ".join(sym_terms)), wrap(" + ".join(num_terms)), wrap(_sum_values(vals)),
                  _n(total), value=total, ref=v.eref(None))]


def _class_targets(p: np.ndarray, target: Any) -> np.ndarray:
    """Targets as distributions (one-hot for class indices)."""
    t = _arr(target)
    if t.shape == p.shape:
        return t
    return np.eye(p.shape[-1])[t.astype(int)]


@renders("cross_entropy", "cross_entropy_with_logits")
def _render_cross_entropy(v: View) -> list[Step]:
    """(softmax first, then) -ln p of the target class, averaged over samples."""
    steps: list[Step] = []
    pred = _arr(v.args["pred"])
    if v.call.fn == "cross_entropy_with_logits":
        steps += _softmax_steps(pred, v.s("pred"), Sym("p"), None, v.ctx)
        e = np.exp(pred - pred.max(axis=-1, keepdims=True))
        p, ps = e / e.sum(axis=-1, keepdims=True), Sym("p")
    else:
        p, ps = pred, v.s("pred")
    t = _class_targets(p, v.args["target"])
    rows_p, rows_t = p.reshape(-1, p.shape[-1]), t.reshape(-1, p.shape[-1])
    red = str(v.args.get("reduction", "mean"))
    losses = []
    for r, (pr, tr) in enumerate(zip(rows_p, rows_t, strict=False)):
        lead = (r,) if p.ndim == 2 else ()
        hot = [k for k in range(len(tr)) if tr[k] > 0]
        sym = " ".join(("-" if i == 0 else "- ") + (f"{_n(tr[k])} " if tr[k] != 1 else "") + rf"\ln {ps.at((*lead, k))}"
                       for i, k in enumerate(hot))
        num = " ".join(("-" if i == 0 else "- ") + (f"{_n(tr[k])} " if tr[k] != 1 else "") + rf"\ln {_n(pr[k])}"
                       for i, k in enumerate(hot))
        loss = float(-sum(tr[k] * math.log(pr[k]) for k in hot))
        losses.append(loss)
        if r < MAX_ENTRIES:
            lhs = rf"\ell_{{{r + 1}}}" if p.ndim == 2 else v.sym.tex()
            steps.append(_step(lhs, sym, num, _n(loss), value=loss, ref=None if p.ndim == 2 else v.eref(None)))
    if p.ndim == 2:
        c = 1.0 / len(losses) if red == "mean" else 1.0
        total = c * sum(losses)
        pre = rf"\frac{{1}}{{{len(losses)}}} \," if red == "mean" else ""
        steps.append(_step(v.sym.tex(), rf"{pre}\sum_n \ell_n", rf"{pre}\left({_sum_values(losses)}\right)",
                           _n(total), value=total, ref=v.eref(None)))
    return steps


@renders("bce", "bce_with_logits")
def _render_bce(v: View) -> list[Step]:
    """(sigmoid first, then) -[t ln p + (1 - t) ln(1 - p)] per entry, reduced."""
    steps: list[Step] = []
    pred = _arr(v.args["pred"])
    ps = v.s("pred")
    if v.call.fn == "bce_with_logits":
        p = 1.0 / (1.0 + np.exp(-pred))
        for idx in (list(np.ndindex(*pred.shape)) if pred.shape else [()])[:MAX_ENTRIES]:
            steps.append(_step(Sym("p").at(idx), rf"\sigma({ps.at(idx)})", rf"\sigma({_n(pred[idx])})",
                               _n(p[idx]), value=p[idx]))
        ps = Sym("p")
    else:
        p = pred
    t = np.broadcast_to(_arr(v.args["target"]), p.shape)
    ts = v.s("target")
    idxs = list(np.ndindex(*p.shape)) if p.shape else [()]
    terms, nums, vals = [], [], []
    for idx in idxs:
        pi, ti = float(p[idx]), float(t[idx])
        terms.append(rf"{ts.at(idx)} \ln {ps.at(idx)} + (1 - {ts.at(idx)}) \ln(1 - {ps.at(idx)})")
        nums.append(rf"{_n(ti)} \ln {_n(pi)} + (1 - {_n(ti)}) \ln(1 - {_n(pi)})")
        vals.append(-((ti * math.log(pi) if ti > 0 else 0.0) + ((1 - ti) * math.log(1 - pi) if ti < 1 else 0.0)))
    c_tex, c = _reduction(str(v.args.get("reduction", "mean")), p.size)
    total = c * sum(vals)
    if len(idxs) > MAX_ENTRIES:
        terms, nums = [r"\ldots"], [r"\ldots"]
    steps.append(_step(v.sym.tex(), rf"-{c_tex}\left[{' + '.join(terms)}\right]" if len(idxs) > 1 else f"-\\left[{terms[0]}\\right]",
                       rf"-{c_tex}\left[{' + '.join(nums)}\right]" if len(idxs) > 1 else f"-\\left[{nums[0]}\\right]",
                       f"{c_tex}\\left({_sum_values(vals)}\\right)" if len(idxs) > 1 else "",
                       _n(total), value=total, ref=v.eref(None)))
    return steps


@renders("mse_grad", "l1_grad", "bce_with_logits_grad", "cross_entropy_with_logits_grad")
def _render_loss_grad(v: View) -> list[Step]:
    """dL/dpred per entry: c(y - t), c sign(y - t), c(sigma(z) - t), c(softmax(z) - t)."""
    fn = v.call.fn
    y = _arr(v.args["pred"])
    out = _arr(v.out)
    red = str(v.args.get("reduction", "mean"))
    n = y.shape[0] if fn.startswith("cross") and y.ndim == 2 else (1 if fn.startswith("cross") else y.size)
    c_tex, c = _reduction(red, n)
    if fn == "mse_grad":
        c_tex, c = ("" if 2 * c == 1 else (rf"\frac{{2}}{{{n}}}" if red == "mean" else _n(2 * c))), 2 * c
    ys, ts = v.s("pred"), v.s("target")
    if fn.startswith("cross"):
        e = np.exp(y - y.max(axis=-1, keepdims=True))
        inner, t = e / e.sum(axis=-1, keepdims=True), _class_targets(y, v.args["target"])
    else:
        inner = 1.0 / (1.0 + np.exp(-y)) if fn.startswith("bce") else y
        t = np.broadcast_to(_arr(v.args["target"]), y.shape)
    label = {"mse_grad": "{y}", "l1_grad": "{y}", "bce_with_logits_grad": r"\sigma({y})",
             "cross_entropy_with_logits_grad": r"\operatorname{{softmax}}({ys})_{{{i}}}"}[fn]
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        first = label.format(y=ys.at(idx), ys=ys.tex(), i=",".join(str(i + 1) for i in idx))
        core = rf"\operatorname{{sign}}({first} - {ts.at(idx)})" if fn == "l1_grad" else rf"\left({first} - {ts.at(idx)}\right)"
        a, b = _n(inner[idx]), _f(t[idx])
        num = rf"\operatorname{{sign}}({a} - {b})" if fn == "l1_grad" else rf"\left({a} - {b}\right)"
        steps.append(_step(v.sym.at(idx), f"{c_tex}{core}", f"{c_tex}{num}", _n(out[idx]), value=out[idx],
                           ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


# ============================================================================ renderers: optimizers


def _states(out: dict[str, Any], name: str, t: int, like: np.ndarray) -> Any:
    """State `name` after step t (t = 0: zeros; w: the starting point)."""
    if name == "w":
        return _arr(out["w"])[t]
    return _arr(out[name])[t - 1] if t >= 1 else np.zeros_like(like)


def _val(x: Any) -> str:
    return _v(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x)


def _fv(x: Any) -> str:
    t = _val(x)
    return f"({t})" if t.startswith("-") else t


@renders("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
def _render_optimizer(v: View) -> list[Step]:
    """Each step's state updates with numbers: moments, bias correction, the step itself."""
    fn, out, a = v.call.fn, v.out, v.args
    if not isinstance(out, dict) or "w" not in out:
        return []
    w = _arr(out["w"])
    steps_total = w.shape[0] - 1
    lr = float(a["lr"])
    steps: list[Step] = []
    for t in range(1, min(steps_total, MAX_STEPS_T) + 1):
        w0, w1, g = w[t - 1], w[t], _states(out, "g", t, w[0])
        steps.append(_step(f"g_{{{t}}}", _val(g), text=f"step {t}:", value=g, role="given"))
        wt, wp = f"w_{{{t}}}", f"w_{{{t - 1}}}"
        if fn == "sgd":
            steps.append(_step(wt, rf"{wp} - \eta g_{{{t}}}", rf"{_val(w0)} - {_n(lr)} \cdot {_fv(g)}", _val(w1), value=w1))
        elif fn in ("momentum", "nesterov"):
            mu = float(a["mu"])
            vp, vt = _states(out, "v", t - 1, w[0]), _states(out, "v", t, w[0])
            classic = fn == "momentum" and str(a.get("form", "pytorch")) == "classic"
            if classic:
                steps.append(_step(f"v_{{{t}}}", rf"\mu v_{{{t - 1}}} - \eta g_{{{t}}}",
                                   rf"{_n(mu)} \cdot {_fv(vp)} - {_n(lr)} \cdot {_fv(g)}", _val(vt), value=vt))
                steps.append(_step(wt, rf"{wp} + v_{{{t}}}", rf"{_val(w0)} + {_fv(vt)}", _val(w1), value=w1))
            else:
                steps.append(_step(f"v_{{{t}}}", rf"\mu v_{{{t - 1}}} + g_{{{t}}}",
                                   rf"{_n(mu)} \cdot {_fv(vp)} + {_fv(g)}", _val(vt), value=vt))
                if fn == "nesterov":
                    steps.append(_step(wt, rf"{wp} - \eta (g_{{{t}}} + \mu v_{{{t}}})",
                                       rf"{_val(w0)} - {_n(lr)} \cdot ({_val(g)} + {_n(mu)} \cdot {_fv(vt)})",
                                       _val(w1), value=w1))
                else:
                    steps.append(_step(wt, rf"{wp} - \eta v_{{{t}}}", rf"{_val(w0)} - {_n(lr)} \cdot {_fv(vt)}",
                                       _val(w1), value=w1))
        elif fn in ("adagrad", "rmsprop"):
            sp, st = _states(out, "s", t - 1, w[0]), _states(out, "s", t, w[0])
            eps = float(a.get("eps", 1e-8))
            if fn == "adagrad":
                steps.append(_step(f"s_{{{t}}}", rf"s_{{{t - 1}}} + g_{{{t}}}^{{2}}", rf"{_val(sp)} + {_fv(g)}^{{2}}",
                                   _val(st), value=st))
            else:
                beta = float(a.get("beta", 0.99))
                steps.append(_step(f"s_{{{t}}}", rf"\beta s_{{{t - 1}}} + (1 - \beta) g_{{{t}}}^{{2}}",
                                   rf"{_n(beta)} \cdot {_fv(sp)} + {_n(1 - beta)} \cdot {_fv(g)}^{{2}}",
                                   _val(st), value=st))
            steps.append(_step(wt, rf"{wp} - \eta \frac{{g_{{{t}}}}}{{\sqrt{{s_{{{t}}}}} + \epsilon}}",
                               rf"{_val(w0)} - {_n(lr)} \cdot \frac{{{_val(g)}}}{{\sqrt{{{_val(st)}}} + {_n(eps)}}}",
                               _val(w1), value=w1))
        else:
            steps += _adam_step(t, out, a, w, g)
    if steps_total > MAX_STEPS_T:
        steps.append(_note(f"... and {steps_total - MAX_STEPS_T} more steps, computed the same way"))
    return steps


def _adam_step(t: int, out: dict[str, Any], a: dict[str, Any], w: np.ndarray, g: Any) -> list[Step]:
    b1, b2 = float(a.get("beta1", 0.9)), float(a.get("beta2", 0.999))
    lr, eps = float(a["lr"]), float(a.get("eps", 1e-8))
    wd = float(a.get("weight_decay", 0.0) or 0.0)
    mp, mt = _states(out, "m", t - 1, w[0]), _states(out, "m", t, w[0])
    vp, vt = _states(out, "v", t - 1, w[0]), _states(out, "v", t, w[0])
    mh, vh = _states(out, "m_hat", t, w[0]), _states(out, "v_hat", t, w[0])
    wp = w[t - 1]
    steps = []
    if wd:
        wp_decayed = wp - lr * wd * wp
        steps.append(_step(rf"w'_{{{t - 1}}}", rf"w_{{{t - 1}}} - \eta \lambda w_{{{t - 1}}}",
                           rf"{_val(wp)} - {_n(lr)} \cdot {_n(wd)} \cdot {_fv(wp)}", _val(wp_decayed),
                           text="decoupled weight decay:", value=wp_decayed))
        wp_name = rf"w'_{{{t - 1}}}"
        wp = wp_decayed
    else:
        wp_name = rf"w_{{{t - 1}}}"
    steps.append(_step(f"m_{{{t}}}", rf"\beta_1 m_{{{t - 1}}} + (1 - \beta_1) g_{{{t}}}",
                       rf"{_n(b1)} \cdot {_fv(mp)} + {_n(1 - b1)} \cdot {_fv(g)}", _val(mt), value=mt))
    steps.append(_step(f"v_{{{t}}}", rf"\beta_2 v_{{{t - 1}}} + (1 - \beta_2) g_{{{t}}}^{{2}}",
                       rf"{_n(b2)} \cdot {_fv(vp)} + {_n(1 - b2)} \cdot {_fv(g)}^{{2}}", _val(vt), value=vt))
    if bool(a.get("bias_correction", True)):
        steps.append(_step(rf"\hat{{m}}_{{{t}}}", rf"\frac{{m_{{{t}}}}}{{1 - \beta_1^{{{t}}}}}",
                           rf"\frac{{{_val(mt)}}}{{1 - {_n(b1)}^{{{t}}}}}", _val(mh), value=mh))
        steps.append(_step(rf"\hat{{v}}_{{{t}}}", rf"\frac{{v_{{{t}}}}}{{1 - \beta_2^{{{t}}}}}",
                           rf"\frac{{{_val(vt)}}}{{1 - {_n(b2)}^{{{t}}}}}", _val(vh), value=vh))
        m_name, v_name = rf"\hat{{m}}_{{{t}}}", rf"\hat{{v}}_{{{t}}}"
    else:
        m_name, v_name, mh, vh = f"m_{{{t}}}", f"v_{{{t}}}", mt, vt
    steps.append(_step(f"w_{{{t}}}", rf"{wp_name} - \eta \frac{{{m_name}}}{{\sqrt{{{v_name}}} + \epsilon}}",
                       rf"{_val(wp)} - {_n(lr)} \cdot \frac{{{_val(mh)}}}{{\sqrt{{{_val(vh)}}} + {_n(eps)}}}",
                       _val(w[t]), value=w[t]))
    return steps


@renders("newton_step")
def _render_newton(v: View) -> list[Step]:
    w, g, h = v.args["w"], v.args["grad"], v.args["hess"]
    if np.ndim(w) == 0:
        return [_step(v.sym.tex(), r"w - \frac{f'(w)}{f''(w)}", rf"{_n(w)} - \frac{{{_n(g)}}}{{{_n(h)}}}",
                      rf"{_n(w)} - {_f(float(g) / float(h))}" if float(h) else "", _n(v.out), value=v.out,
                      ref=v.eref(None))]
    return [_step(v.sym.tex(), r"w - H^{-1} \nabla f(w)", rf"{_v(w)} - {_v(h)}^{{-1}} {_v(g)}", _v(v.out),
                  value=v.out, ref=v.eref(None))]


# ============================================================================ renderers: batch norm, reductions


@renders("batchnorm_train")
def _render_batchnorm(v: View) -> list[Step]:
    """Per channel: the batch mean, the (biased) variance, the normalized values, scale and shift."""
    x = _arr(v.args["x"])
    gamma, beta, eps = v.args.get("gamma"), v.args.get("beta"), float(v.args.get("eps", 1e-5))
    cols = x.reshape(x.shape[0], x.shape[1], -1) if x.ndim > 1 else x.reshape(-1, 1, 1)
    # The statistics and outputs are the engine's own (batchnorm_train returns them all).
    out = {k: np.atleast_1d(_arr(v.out[k])) for k in ("mean", "var", "x_hat", "y")}
    x_hat, y = out["x_hat"].reshape(cols.shape), out["y"].reshape(cols.shape)
    steps: list[Step] = []
    for c in range(min(cols.shape[1], 3)):
        vals = cols[:, c, :].ravel()
        mu, var = float(out["mean"][c]), float(out["var"][c])
        sub = f"_{{{c + 1}}}" if cols.shape[1] > 1 else ""
        if cols.shape[1] > 1:
            steps.append(_note(f"channel {c + 1}:"))
        steps.append(_step(rf"\mu{sub}", rf"\frac{{1}}{{{len(vals)}}}\left({_sum_values(list(vals))}\right)",
                           _n(mu), value=mu))
        devs = [(t - mu) ** 2 for t in vals]
        steps.append(_step(rf"\sigma^{{2}}{sub}", rf"\frac{{1}}{{{len(vals)}}} \, \sum_i (x_i - \mu{sub})^{{2}}",
                           rf"\frac{{1}}{{{len(vals)}}}\left({_sum_values(devs)}\right)", _n(var), value=var))
        g = 1.0 if gamma is None else float(np.atleast_1d(_arr(gamma))[c])
        b = 0.0 if beta is None else float(np.atleast_1d(_arr(beta))[c])
        xh_c, y_c = x_hat[:, c, :].ravel(), y[:, c, :].ravel()
        for i, t in enumerate(vals[:MAX_ENTRIES]):
            xh = float(xh_c[i])
            at = f"{i + 1},{c + 1}" if cols.shape[1] > 1 else f"{i + 1}"
            steps.append(_step(rf"\hat{{x}}_{{{at}}}", rf"\frac{{{_n(t)} - {_f(mu)}}}{{\sqrt{{{_n(var)} + {_n(eps)}}}}}",
                               _n(xh), value=xh))
            if gamma is not None or beta is not None:
                steps.append(_step(f"y_{{{at}}}", rf"\gamma{sub} \hat{{x}}_{{{at}}} + \beta{sub}",
                                   rf"{_n(g)} \cdot {_f(xh)} + {_f(b)}", _n(y_c[i]), value=float(y_c[i])))
        if len(vals) > MAX_ENTRIES:
            steps.append(_more(len(vals) - MAX_ENTRIES))
    return steps


@renders("sum", "mean", "prod", "var")
def _render_reduction(v: View) -> list[Step]:
    """The entries written out: 1 + 2 + 3 = 6, their mean, product or variance."""
    x = v.args["x"]
    if v.args.get("axis") is not None:
        return _reduction_along(v)
    if np.size(x) < 2 or np.size(x) > 12:
        return []
    vals = list(_arr(x).ravel())
    fn = v.call.fn
    if fn == "sum":
        return [_step(v.sym.tex(), _sum_values(vals), _n(v.out), value=v.out, ref=v.eref(None))]
    if fn == "mean":
        return [_step(v.sym.tex(), rf"\frac{{{_sum_values(vals)}}}{{{len(vals)}}}", _n(v.out), value=v.out,
                      ref=v.eref(None))]
    if fn == "prod":
        return [_step(v.sym.tex(), r" \cdot ".join(_f(t) for t in vals), _n(v.out), value=v.out, ref=v.eref(None))]
    mu = float(np.mean(vals))
    ddof = int(v.args.get("ddof", 0))
    return [_step(r"\bar{x}", rf"\frac{{{_sum_values(vals)}}}{{{len(vals)}}}", _n(mu), value=mu),
            _step(v.sym.tex(), rf"\frac{{1}}{{{len(vals) - ddof}}}\left({_sum_values([(t - mu) ** 2 for t in vals])}\right)",
                  _n(v.out), value=v.out, ref=v.eref(None))]


@renders("cov")
def _render_cov(v: View) -> list[Step]:
    """Each feature's mean, then each entry C_jk = sum_i (x_ij - mu_j)(x_ik - mu_k) / (N - ddof)."""
    x = _arr(v.args["X"])
    n, d = x.shape
    if n > 12 or d > 3:
        return []
    ddof = int(v.args.get("ddof", 1))
    mu = x.mean(axis=0)
    steps = [_step(rf"\mu_{{{j + 1}}}", rf"\frac{{{_sum_values(list(x[:, j]))}}}{{{n}}}", _n(mu[j]), value=float(mu[j]))
             for j in range(d)]
    out = _arr(v.out)
    for j in range(d):
        for k in range(j, d):
            terms = " + ".join(rf"({_n(x[i, j] - mu[j])})({_n(x[i, k] - mu[k])})" for i in range(n))
            steps.append(_step(v.sym.at((j, k)), rf"\frac{{1}}{{{n - ddof}}}\left({terms}\right)", _n(out[j, k]),
                               value=float(out[j, k]), ref=v.eref((j, k))))
    return steps


@renders("eigvalsh")
def _render_eigvalsh(v: View) -> list[Step]:
    """A 2 x 2 symmetric matrix: lambda = T/2 +- sqrt(T^2/4 - det) from its trace and determinant."""
    a = _arr(v.args["x"])
    if a.shape != (2, 2):
        return []
    t, det = float(a[0, 0] + a[1, 1]), float(a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0])
    out = _arr(v.out)
    return [_step("T", rf"{_n(a[0, 0])} + {_n(a[1, 1])}", _n(t), value=t),
            _step(r"\det", rf"{_n(a[0, 0])} \cdot {_n(a[1, 1])} - {_f(a[0, 1])} \cdot {_f(a[1, 0])}", _n(det), value=det),
            *(_step(v.sym.at((i,)), rf"\frac{{T}}{{2}} {sign} \sqrt{{\frac{{T^2}}{{4}} - \det}}",
                    rf"{_n(t / 2)} {sign} \sqrt{{{_n(t * t / 4)} - {_f(det)}}}", _n(out[i]), value=float(out[i]),
                    ref=v.eref((i,)))
              for i, sign in enumerate(("+", "-")))]


@renders("rank")
def _render_rank(v: View) -> list[Step]:
    """The rank as the number of nonzero singular values."""
    a = _arr(v.args["x"])
    if a.size > 36:
        return []
    s = np.linalg.svd(a, compute_uv=False)
    return [_step(r"\sigma", _v(np.where(np.abs(s) < 1e-9, 0.0, s)), value=s),
            _step(v.sym.tex(), r"\#\{\sigma_i \neq 0\}", _n(v.out), value=v.out, ref=v.eref(None))]


def _reduction_along(v: View) -> list[Step]:
    """sum or mean along an axis: each output entry from its slice."""
    if v.call.fn not in ("sum", "mean"):
        return []
    x, axis = _arr(v.args["x"]), int(v.args["axis"])
    out = _arr(v.out)
    chosen, hidden = v.ctx.pick(out.shape)
    steps = []
    for idx in chosen:
        key = list(idx)
        key.insert(axis % x.ndim, slice(None))
        vals = list(x[tuple(key)])
        body = _sum_values(vals) if v.call.fn == "sum" else rf"\frac{{{_sum_values(vals)}}}{{{len(vals)}}}"
        steps.append(_step(v.sym.at(idx), body, _n(out[idx]), value=out[idx], ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


@renders("max", "min", "argmax", "argmin")
def _render_extreme(v: View) -> list[Step]:
    vals = v.args.get("*", [v.args.get("x")])
    flat = list(_arr(vals[0]).ravel()) if len(vals) == 1 else [float(t) for t in vals]
    if not 2 <= len(flat) <= 12:
        return []
    word = {"max": r"\max", "min": r"\min", "argmax": r"\operatorname{argmax}", "argmin": r"\operatorname{argmin}"}[v.call.fn]
    shown = _v(v.out) + (r" \text{ (counting from 0)}" if v.call.fn.startswith("arg") else "")
    return [_step(v.sym.tex(), rf"{word}\left({', '.join(_n(t) for t in flat)}\right)", shown, value=v.out,
                  ref=v.eref(None))]


# ============================================================================ renderers: shape algebra


@renders("conv_out_size", "pool_out_size")
def _render_out_size(v: View) -> list[Step]:
    a = v.args
    pool = v.call.fn == "pool_out_size"
    k = int(a["k"])
    s = (k if a.get("stride") is None else int(a["stride"])) if pool else int(a.get("stride", 1))
    return [_size_step(v.sym.tex(), int(a["n"]), k, s, int(a.get("padding", 0)), int(a.get("dilation", 1) or 1),
                       pool=pool, ref=v.eref(None))]


@renders("conv_transpose_out_size")
def _render_transpose_size(v: View) -> list[Step]:
    a = v.args
    n, k, s, p = int(a["n"]), int(a["k"]), int(a.get("stride", 1)), int(a.get("padding", 0))
    o, d = int(a.get("output_padding", 0)), int(a.get("dilation", 1) or 1)
    general = r"(n - 1)\,s - 2p + " + (r"d\,(k - 1)" if d != 1 else "(k - 1)") + (r" + o_p" if o else "") + " + 1"
    numbers = f"({n} - 1) \\cdot {s} - 2 \\cdot {p} + " + (f"{d} \\cdot ({k} - 1)" if d != 1 else f"({k} - 1)") \
        + (f" + {o}" if o else "") + " + 1"
    return [_step(v.sym.tex(), general, numbers, _n(v.out), value=v.out, ref=v.eref(None))]


@renders("conv_params")
def _render_conv_params(v: View) -> list[Step]:
    a = v.args
    ks = [int(t) for t in np.atleast_1d(np.asarray(a["k"]))]
    if len(ks) == 1 and np.ndim(a["k"]) == 0:
        ks = ks * 2  # k means a k x k kernel
    kt, kn = r" \cdot ".join(["k"] * len(ks)) if len(set(ks)) == 1 else r" \cdot ".join(f"k_{i + 1}" for i in range(len(ks))), \
        r" \cdot ".join(str(t) for t in ks)
    cin, cout = int(a["c_in"]), int(a["c_out"])
    g = int(a.get("groups", 1) or 1)
    if g != 1:  # each of the g groups maps c_in / g inputs to c_out / g outputs
        per = rf"c_{{\mathrm{{out}}}} \cdot {kt} \cdot \frac{{c_{{\mathrm{{in}}}}}}{{g}}"
        num = rf"{cout} \cdot {kn} \cdot \frac{{{cin}}}{{{g}}}"
        if bool(a.get("bias", True)):
            per, num = per + r" + c_{\mathrm{out}}", num + f" + {cout}"
        return [_step(v.sym.tex(), per, num, _n(v.out), value=v.out, ref=v.eref(None))]
    if bool(a.get("bias", True)):
        return [_step(v.sym.tex(), rf"c_{{\mathrm{{out}}}} ({kt} \cdot c_{{\mathrm{{in}}}} + 1)",
                      rf"{cout} \cdot ({kn} \cdot {cin} + 1)", rf"{cout} \cdot {math.prod(ks) * cin + 1}", _n(v.out),
                      value=v.out, ref=v.eref(None))]
    return [_step(v.sym.tex(), rf"c_{{\mathrm{{out}}}} \cdot {kt} \cdot c_{{\mathrm{{in}}}}", rf"{cout} \cdot {kn} \cdot {cin}",
                  _n(v.out), value=v.out, ref=v.eref(None))]


@renders("linear_params")
def _render_linear_params(v: View) -> list[Step]:
    a = v.args
    ni, no = int(a["n_in"]), int(a["n_out"])
    if bool(a.get("bias", True)):
        return [_step(v.sym.tex(), r"n_{\mathrm{out}} (n_{\mathrm{in}} + 1)", rf"{no} \cdot ({ni} + 1)", _n(v.out),
                      value=v.out, ref=v.eref(None))]
    return [_step(v.sym.tex(), r"n_{\mathrm{in}} \cdot n_{\mathrm{out}}", rf"{ni} \cdot {no}", _n(v.out), value=v.out,
                  ref=v.eref(None))]


@renders("batchnorm_params", "batchnorm_buffers")
def _render_bn_params(v: View) -> list[Step]:
    return [_step(v.sym.tex(), "2c", rf"2 \cdot {int(v.args['c'])}", _n(v.out), value=v.out, ref=v.eref(None))]


def _shape_tex(shape: Any) -> str:
    return r" \times ".join(str(int(t)) for t in shape)


@renders("propagate")
def _render_propagate(v: View) -> list[Step]:
    """Layer by layer: the layer, the size formula per axis with numbers, the shape after it."""
    from i2dl import shapes as sh

    shape = tuple(int(t) for t in np.asarray(v.args["input_shape"]).ravel())
    layers = _stack(v.args["layers"])
    after = sh.propagate(shape, layers)
    steps = [_step(r"\text{input}", _shape_tex(shape), role="given")]
    for i, (layer, out) in enumerate(zip(layers, after, strict=False)):
        kind = str(layer.get("type", "")).lower()
        desc = ", ".join(f"{k}={layer[k]}" for k in layer if k != "type")
        steps.append(_note(f"layer {i + 1}: {kind}" + (f" ({desc})" if desc else "")))
        steps += _layer_size_steps(kind, layer, shape)
        if kind == "flatten":
            steps.append(_step(v.sym.at((i,)), r" \cdot ".join(str(t) for t in shape), _shape_tex(out),
                               value=list(out), ref=None))
        else:
            steps.append(_step(v.sym.at((i,)), _shape_tex(out), value=list(out)))
        shape = tuple(out)
    return steps


def _layer_size_steps(kind: str, layer: dict[str, Any], shape: tuple[int, ...]) -> list[Step]:
    conv, pool = kind in ("conv1d", "conv2d"), kind in ("maxpool1d", "avgpool1d", "maxpool2d", "avgpool2d")
    if not (conv or pool):
        if kind == "linear":
            return [_note(f"a fully connected layer maps its {shape[-1]} inputs to out = {layer.get('out')} outputs")]
        if kind == "gap":
            return [_note(f"global average pooling keeps one mean per channel: {shape[0]} values")]
        return []
    nd = 1 if kind.endswith("1d") else 2
    spatial = shape[-nd:]
    k = _axes(layer["k"], nd)
    s = _axes(layer["stride"], nd) if layer.get("stride") is not None else (tuple(1 for _ in k) if conv else k)
    padding = layer.get("padding", 0)
    if padding == "same":
        return [_note("padding 'same' keeps the spatial size")]
    p = _axes(0 if padding == "valid" else padding, nd)
    d = _axes(layer.get("dilation", 1), nd)
    if conv and any(t != 1 for t in d):
        return [_size_step(f"{ax}'", n, kk, ss, pp, dd) for ax, n, kk, ss, pp, dd in zip("HW", spatial, k, s, p, d, strict=False)]
    steps = _spatial_sizes(Sym("out"), spatial, k, s, p, pool=pool)
    if conv:
        steps.append(_note(f"channels: one per filter, {layer['out']}"))
    return steps


@renders("receptive_fields")
def _render_receptive_fields(v: View) -> list[Step]:
    """r_l = r_(l-1) + (k_l - 1) j_(l-1) and j_l = j_(l-1) s_l, layer by layer."""
    return _rf_recurrence(_stack(v.args["layers"]))


@renders("rf_size")
def _render_rf_size(v: View) -> list[Step]:
    """The receptive-field recurrence up to the asked layer, then its r."""
    layers = _stack(v.args["layers"])
    last = int(v.args.get("i", -1)) % len(layers)
    steps = _rf_recurrence(layers[: last + 1])
    steps.append(_step(v.sym.tex(), f"r_{{{last + 1}}}", _n(v.out), value=v.out, ref=v.eref(None),
                       text=f"after layer {last + 1}:"))
    return steps


def _rf_recurrence(layers: list[dict[str, Any]]) -> list[Step]:
    """r_0 = j_0 = 1, then r_l and j_l for every layer (whole input after flatten or linear)."""
    r, j = 1, 1
    steps = [_step("r_{0}", "1", text="start: one input pixel,", role="given"), _step("j_{0}", "1", role="given")]
    for i, layer in enumerate(layers, start=1):
        kind = str(layer.get("type", "")).lower()
        if kind in ("flatten", "linear", "gap"):
            steps.append(_note(f"layer {i} ({kind}): every unit sees every input, so the whole input"))
            break
        if kind not in ("conv1d", "conv2d", "maxpool1d", "avgpool1d", "maxpool2d", "avgpool2d"):
            steps.append(_note(f"layer {i} ({kind}): unchanged, r_{i} = r_{i - 1} = {r}, j_{i} = j_{i - 1} = {j}"))
            continue
        k = int(np.atleast_1d(layer["k"])[0])
        conv = kind.startswith("conv")
        s = int(np.atleast_1d(layer["stride"])[0]) if layer.get("stride") is not None else (1 if conv else k)
        d = int(np.atleast_1d(layer.get("dilation", 1))[0])
        span = d * (k - 1) + 1
        steps.append(_note(f"layer {i}: {kind}, k={k}, s={s}" + (f", d={d}" if d != 1 else "")))
        nr, nj = r + (span - 1) * j, j * s
        ksym = f"(k_{{{i}}} - 1)" if d == 1 else f"d_{{{i}}}(k_{{{i}}} - 1)"
        knum = f"({k} - 1)" if d == 1 else f"{d} \\cdot ({k} - 1)"
        steps.append(_step(f"r_{{{i}}}", rf"r_{{{i - 1}}} + {ksym} \, j_{{{i - 1}}}", rf"{r} + {knum} \cdot {j}",
                           str(nr), value=nr))
        steps.append(_step(f"j_{{{i}}}", rf"j_{{{i - 1}}} \, s_{{{i}}}", rf"{j} \cdot {s}", str(nj), value=nj))
        r, j = nr, nj
    return steps


_CIN, _COUT = r"C_{\mathrm{in}}", r"C_{\mathrm{out}}"


@renders("param_counts")
def _render_param_counts(v: View) -> list[Step]:
    """Per layer: k k C_in C_out + C_out for a convolution, n_in n_out + n_out for a linear layer, 2C for batch norm."""
    from i2dl import shapes as sh

    shape = tuple(int(t) for t in np.asarray(v.args["input_shape"]).ravel())
    layers = _stack(v.args["layers"])
    after = sh.propagate(shape, layers)
    steps: list[Step] = []
    for i, (layer, out, n) in enumerate(zip(layers, after, list(v.out), strict=True), start=1):
        kind = str(layer.get("type", "")).lower()
        bias = bool(layer.get("bias", True))
        lhs, text = f"P_{{{i}}}", f"layer {i} ({kind}):"
        if kind in ("conv1d", "conv2d"):
            ks = [int(t) for t in _axes(layer["k"], 1 if kind == "conv1d" else 2)]
            ksym = r" \cdot ".join("k" for _ in ks)
            knum = r" \cdot ".join(str(t) for t in ks)
            cin, cout = shape[0], out[0]
            sym = rf"{ksym} \cdot {_CIN} \cdot {_COUT}" + (f" + {_COUT}" if bias else "")
            num = rf"{knum} \cdot {cin} \cdot {cout}" + (f" + {cout}" if bias else "")
            steps.append(_step(lhs, sym, num, _n(n), value=n, text=text))
        elif kind == "linear":
            ni, no = shape[-1], out[-1]
            sym = r"n_{\mathrm{in}} \cdot n_{\mathrm{out}}" + (r" + n_{\mathrm{out}}" if bias else "")
            num = rf"{ni} \cdot {no}" + (f" + {no}" if bias else "")
            steps.append(_step(lhs, sym, num, _n(n), value=n, text=text))
        elif n:
            steps.append(_step(lhs, r"2 C \; (\gamma \text{ and } \beta)", rf"2 \cdot {shape[0]}", _n(n), value=n,
                               text=text))
        else:
            steps.append(_step(lhs, "0", value=0, text=f"layer {i} ({kind}): no learnable parameters,"))
        shape = tuple(out)
    return steps


@renders("layer_index")
def _render_layer_index(v: View) -> list[Step]:
    """The first layer of the kind, counted from 1 in the list and from 0 as an index."""
    kind = str(v.args["kind"])
    pos = int(v.out)
    return [_step(v.sym.tex(), str(pos), value=pos, ref=v.eref(None),
                  text=f"the first {kind} layer is layer {pos + 1} of the list, so its index counting from 0 is")]


def _stack(layers: Any) -> list[dict[str, Any]]:
    """A stack argument as checked layer dicts (the compact text read, `kernel` written `k`)."""
    from i2dl import shapes as sh

    return sh.as_stack(layers if isinstance(layers, str) else list(layers))


def _plain_shape(shape: Any) -> str:
    return " x ".join(str(int(t)) for t in shape)


def _input_of(v: View) -> tuple[int, ...]:
    return tuple(int(t) for t in np.asarray(v.args["input_shape"]).ravel())


def _learnable(d: dict[str, Any]) -> bool:
    return d["type"] in ("conv1d", "conv2d", "linear") or (d["type"].startswith("batchnorm") and d.get("affine", True))


@renders("learnable_counts")
def _render_learnable_counts(v: View) -> list[Step]:
    """The count of every layer that has parameters (the per-layer formulas), listed in order."""
    from i2dl import shapes as sh

    shape, layers = _input_of(v), _stack(v.args["layers"])
    counts = sh.param_counts(shape, layers)
    inner = View(v.call, {**v.args, "input_shape": list(shape), "layers": layers}, v.nodes, counts, v.sym, None, v.ctx)
    steps = [st for st, d in zip(_render_param_counts(inner), layers, strict=True) if _learnable(d)]
    steps.append(_step(v.sym.tex(), "[" + ", ".join(_n(n) for n in v.out) + "]", value=list(v.out), ref=v.eref(None),
                       text="the layers with parameters, in order:"))
    return steps


@renders("weight_shapes")
def _render_weight_shapes(v: View) -> list[Step]:
    """Per layer with weights: (filters, input channels, kernel) for a convolution, (outputs, inputs) for linear."""
    from i2dl import shapes as sh

    shape, layers = _input_of(v), _stack(v.args["layers"])
    steps: list[Step] = []
    for i, (d, out, w) in enumerate(zip(layers, sh.propagate(shape, layers), v.out, strict=True), start=1):
        kind = d["type"]
        if kind in ("conv1d", "conv2d"):
            ks = r" \times ".join("k" for _ in w[2:])
            steps.append(_step(f"W_{{{i}}}", rf"{_COUT} \times {_CIN} \times {ks}", _shape_tex(w), value=list(w),
                               text=f"layer {i} ({kind}, input {' x '.join(str(t) for t in shape)}):"))
        elif kind == "linear":
            steps.append(_step(f"W_{{{i}}}", r"n_{\mathrm{out}} \times n_{\mathrm{in}}", _shape_tex(w), value=list(w),
                               text=f"layer {i} (linear, {shape[-1]} inputs):"))
        elif w:
            steps.append(_step(f"W_{{{i}}}", r"C \; (\gamma)", _shape_tex(w), value=list(w), text=f"layer {i} ({kind}):"))
        shape = tuple(out)
    if not steps:
        steps.append(_note("no layer of the stack has weights"))
    return steps


@renders("rf_sides")
def _render_rf_sides(v: View) -> list[Step]:
    """The receptive-field recurrence layer by layer; the whole input's side once a layer sees all of it."""
    layers = _stack(v.args["layers"])
    shape = _input_of(v)
    axis = int(v.args.get("axis", 0))
    steps = _rf_recurrence(layers)
    whole = next((i for i, d in enumerate(layers) if d["type"] in ("flatten", "linear", "gap")), None)
    if whole is not None:
        steps.append(_note(f"from layer {whole + 1} on, a unit sees the whole input: side {shape[1 + axis]}"))
    steps.append(_step(v.sym.tex(), "[" + ", ".join(_n(n) for n in v.out) + "]", value=list(v.out), ref=v.eref(None),
                       text="layer by layer:"))
    return steps


@renders("last_map_index")
def _render_last_map_index(v: View) -> list[Step]:
    """Where the outputs stop being feature maps, counted from 1 in the list and from 0 as an index."""
    pos = int(v.out)
    return [_step(v.sym.tex(), str(pos), value=pos, ref=v.eref(None),
                  text=f"layer {pos + 1} is the last whose output still has spatial axes, so its index counting from 0 is")]


@renders("head_index")
def _render_head_index(v: View) -> list[Step]:
    """The first flatten, gap or linear layer, counted from 1 in the list and from 0 as an index."""
    pos = int(v.out)
    return [_step(v.sym.tex(), str(pos), value=pos, ref=v.eref(None),
                  text=f"the head (flatten, gap or linear) starts at layer {pos + 1}, so its index counting from 0 is")]


@renders("first_downsampling")
def _render_first_downsampling(v: View) -> list[Step]:
    """The first pooling or strided layer, counted from 1 in the list and from 0 as an index."""
    pos = int(v.out)
    return [_step(v.sym.tex(), str(pos), value=pos, ref=v.eref(None),
                  text=f"layer {pos + 1} is the first that pools or strides, so its index counting from 0 is")]


@renders("weighted_layers")
def _render_weighted_layers(v: View) -> list[Step]:
    """The layers with weights, counted from 1 in the list and from 0 as indices."""
    at = [int(t) for t in v.out]
    return [_step(v.sym.tex(), "[" + ", ".join(str(t) for t in at) + "]", value=at, ref=v.eref(None),
                  text="the convolutions and linear layers are layers " + ", ".join(str(t + 1) for t in at)
                  + " of the list; counting from 0:")]


@renders("stride_product")
def _render_stride_product(v: View) -> list[Step]:
    """j = s_1 s_2 ... over the layers before the head."""
    layers = _stack(v.args["layers"])
    strides = []
    for d in layers:
        if d["type"] in ("flatten", "linear", "gap"):
            break
        if "k" in d:
            conv = d["type"].startswith("conv")
            s = d.get("stride")
            strides.append(int(np.atleast_1d(s)[0]) if s is not None else (1 if conv else int(np.atleast_1d(d["k"])[0])))
    num = r" \cdot ".join(str(t) for t in strides) or "1"
    return [_step(v.sym.tex(), r"\prod_l s_l", num, _n(v.out) if np.ndim(v.out) == 0 else str(v.out), value=v.out,
                  ref=v.eref(None), text="the strides of the layers before the head multiply:")]


@renders("fc_to_conv")
def _render_fc_to_conv(v: View) -> list[Step]:
    """Each linear layer of the head as a convolution: the first one's kernel covers the whole map, later ones 1 x 1."""
    from i2dl import shapes as sh

    shape, layers = _input_of(v), _stack(v.args["layers"])
    shapes = [shape, *sh.propagate(shape, layers)]
    steps: list[Step] = []
    first = True
    for i, d in enumerate(layers, start=1):
        if d["type"] == "flatten":
            fmap = shapes[i - 1]
            steps.append(_note(f"layer {i} (flatten) goes: the head now works on the {_plain_shape(fmap)} map itself"))
        elif d["type"] == "linear":
            fmap = shapes[i - 1] if not first else next(shapes[j] for j in range(i - 1, -1, -1) if len(shapes[j]) >= 2)
            if first:
                sides = " x ".join(str(t) for t in fmap[1:])
                steps.append(_step(f"k_{{{i}}}", r"H \times W", sides.replace(" x ", r" \times "),
                                   text=f"layer {i} (linear, {d['out']} outputs) sees the whole {_plain_shape(fmap)} map: "
                                   f"a convolution with {d['out']} filters of {fmap[0]} x {sides}, no padding,"))
                first = False
            else:
                steps.append(_step(f"k_{{{i}}}", "1", text=f"layer {i} (linear, {d['out']} outputs) sees one position's "
                                   f"{shapes[i - 1][-1]} values: a 1 x 1 convolution with {d['out']} filters,"))
    steps.append(_note(f"the converted stack: {len(v.out)} layer{'s' if len(v.out) != 1 else ''}, "
                       "holding the same weights and biases as before"))
    return steps


@renders("argmax_rows")
def _render_argmax_rows(v: View) -> list[Step]:
    """The position of each row's largest entry, counting from 0."""
    x = _arr(v.args["x"])
    out = _arr(v.out)
    steps = []
    for r in range(min(x.shape[0], MAX_ENTRIES)):
        steps.append(_step(v.sym.at((r,)), rf"\operatorname{{argmax}}\left({', '.join(_n(t) for t in x[r])}\right)",
                           _n(out[r]) + r" \text{ (counting from 0)}", value=float(out[r]), ref=v.eref((r,))))
    if x.shape[0] > MAX_ENTRIES:
        steps.append(_more(x.shape[0] - MAX_ENTRIES))
    return steps
