"""The chain rule node by node: local VJPs, each hop entry by entry, the asked entry as a path sum."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.engine.checks import out_size, window_cells
from i2dl.errors import I2dlError
from i2dl.expr import Call, Const, Name, Node, Seq, free_names
from i2dl.functions import FUNCTIONS

from .activations import ACTIVATION_NAMES, _act_rule, _fprime_tex
from .context import _Ctx, branch_taken
from .forward import _axes, _conv_of, _unpadded
from .steps import (
    MAX_ENTRIES,
    Step,
    _arr,
    _is_num,
    _more,
    _n,
    _note,
    _step,
    _sum_products,
    _sum_terms,
    _sum_values,
    _v,
)
from .symbols import Sym, _partial, symbol
from .tex import _arg_nodes, _contains, _numerator, _Tex

MAX_PATHS = 8  # chain-rule paths written out in a path sum


@dataclass
class _Hop:
    """Gradient flowing from node n (nearer the loss) into its input u."""

    n: str
    u: str
    call: Call | None  # n's expression when it is one call with u as a direct argument
    param: str | None


def _hop(n: str, u: str, ctx: _Ctx) -> _Hop:
    node = ctx.graph.nodes[n].node
    if isinstance(node, Call) and node.fn in FUNCTIONS and "*" not in FUNCTIONS[node.fn].params:
        direct = [p for p, a in _arg_nodes(node).items() if a == Name(u)]
        others = [p for p, a in _arg_nodes(node).items() if a != Name(u) and u in free_names(a)]
        if len(direct) == 1 and not others:
            return _Hop(n, u, node, direct[0])
    return _Hop(n, u, None, None)


def _grad_steps(call: Call, ctx: _Ctx, lhs: Sym, focus: tuple[int, ...] | None, ref: str | None,
                indexed: bool) -> list[Step]:
    """The chain rule from out back to wrt: d L / d node for every node on the path, then the asked entry."""
    names = dict(zip(("out", "wrt", "upstream"), call.args, strict=False)) | dict(call.kwargs)
    if not isinstance(names.get("out"), Name) or not isinstance(names.get("wrt"), Name):
        return []
    out, wrt = names["out"].id, names["wrt"].id
    up_node = names.get("upstream")
    upstream = ctx.value(up_node) if up_node is not None else None
    try:
        trace = ctx.trace(out, wrt, upstream)
    except I2dlError as exc:
        return [_note(f"(the chain rule cannot be traced here: {exc.message})")]
    num = lhs.num or _numerator(call, ref)
    order = list(trace)
    hops = {u: [n for n in order if n != u and u in ctx.graph.deps.get(n, ()) and n != wrt] for u in order[1:]}
    steps: list[Step] = []
    if up_node is not None:
        label = _Tex(ctx, "sym")(up_node)
        steps.append(_step(symbol(out).grad(num).tex(), label, _v(upstream), role="given", value=upstream))
    chain = _chain_formula(order, hops, out, wrt, num, up_node is not None, lhs)
    n_hops = sum(len(v) for v in hops.values())
    merge = bool(chain) and n_hops == 1 and not indexed  # one hop: the chain rule opens its own line
    if chain and not merge:
        steps.append(_step(lhs.tex(), chain, role="formula"))
    for u in order[1:]:
        last = u == wrt
        g_u = trace[u]
        terms, opaque = _hop_terms(hops[u], u, ctx, num, out, up_node is None)
        sym = _sum_terms([_Tex(ctx, "sym", trace)(t) for t in terms])
        numbers = "" if opaque else _sum_terms([_Tex(ctx, "num", trace)(t) for t in terms])
        whole = ref if (last and not indexed) else None
        steps.append(_step(symbol(u).grad(num).tex(), chain if merge else "", sym, numbers, _v(g_u), value=g_u,
                           ref=(whole, None) if whole else None))
        if out in hops[u] or any(out in hops.get(n, []) for n in hops[u]):
            steps += _loss_shortcut(u, out, ctx, num, g_u, up_node is None)
        scalar = np.size(g_u) == 1 and all(np.size(ctx.values[n]) == 1 for n in hops[u])
        if len(hops[u]) == 1 and (last or opaque) and not scalar:
            entry_ref = ref if last else None
            steps += _hop_entries(_hop(hops[u][0], u, ctx), ctx, num, trace, out, up_node is None,
                                  focus if last else None, entry_ref, indexed and last)
    if focus is not None and n_hops >= 2:
        steps += _path_sum(order, hops, ctx, num, trace, out, wrt, focus, up_node is not None, ref if indexed else None)
    return steps


def _loss_shortcut(z: str, out: str, ctx: _Ctx, num: str, g_z: Any, seeded: bool) -> list[Step]:
    """Cross-entropy of a softmax (or BCE of a sigmoid) differentiated at once: dL/dz = p - onehot(y) (p - t)."""
    node = ctx.graph.nodes[out].node
    if not seeded or not isinstance(node, Call) or node.fn not in ("cross_entropy", "bce"):
        return []
    a = _arg_nodes(node)
    pred = a.get("pred")
    if not isinstance(pred, Name) or pred.id not in ctx.graph.nodes:
        return []
    inner = ctx.graph.nodes[pred.id].node
    squash = "softmax" if node.fn == "cross_entropy" else "sigmoid"
    if not (isinstance(inner, Call) and inner.fn in (squash, "sigma" if squash == "sigmoid" else squash)
            and inner.args and inner.args[0] == Name(z)):
        return []
    p = _arr(ctx.values[pred.id])
    t_node = a["target"]
    t = _arr(ctx.value(t_node))
    red = str(ctx.value(a["reduction"])) if "reduction" in a else "mean"
    if squash == "softmax":
        if t.shape != p.shape:
            t = np.eye(p.shape[-1])[np.atleast_1d(t).astype(int)].reshape(p.shape)
        n = p.shape[0] if p.ndim == 2 else 1
        target = r"\operatorname{onehot}(y)" if np.shape(ctx.value(t_node)) != p.shape else "t"
    else:
        t = np.broadcast_to(t, p.shape)
        n = int(p.size)
        target = "t"
    c = 1.0 / n if red == "mean" and n > 1 else 1.0
    pre = rf"\frac{{1}}{{{n}}}" if c != 1.0 else ""
    value = c * (p - t)
    if not np.allclose(value, _arr(g_z), atol=1e-9):
        return []  # z also reaches L another way: the shortcut would not be the whole gradient
    ps = symbol(pred.id).tex()
    text = (f"{squash} and {'cross-entropy' if squash == 'softmax' else 'binary cross-entropy'} together: "
            "the factors above collapse to")
    wrap = (lambda b: rf"{pre}\left({b}\right)") if pre else (lambda b: b)
    return [_step(symbol(z).grad(num).tex(), wrap(f"{ps} - {target}"), wrap(f"{_v(p)} - {_v(t if t.ndim else float(t))}"),
                  _v(g_z), text=text, value=g_z)]


def _chain_formula(order: list[str], hops: dict[str, list[str]], out: str, wrt: str, num: str,
                   has_upstream: bool, lhs: Sym) -> str:
    """dL/dout . dout/dn1 ... dnk/dwrt for a simple chain (with the asked entry on wrt)."""
    den = lhs.base
    if has_upstream and len(order) == 2:
        return rf"{symbol(out).grad(num).tex()} \cdot {_partial(symbol(out).tex(), den)}"
    chain = [out]
    while chain[-1] != wrt:
        nxt = [u for u in order if chain[-1] in hops.get(u, [])]
        if len(nxt) != 1 or any(len(hops[u]) != 1 for u in nxt):
            return ""
        chain.append(nxt[0])
    if len(chain) < 3:
        return ""
    factors = [symbol(out).grad(num).tex()] if has_upstream else []
    for a, b in zip(chain, chain[1:], strict=False):
        factors.append(_partial(symbol(a).tex(), den if b == wrt else symbol(b).tex()))
    return r" \cdot ".join(factors)


def _hop_terms(consumers: list[str], u: str, ctx: _Ctx, num: str, out: str, seeded: bool) -> tuple[list[Node], bool]:
    """The symbolic gradient into u from each consumer (and whether some rule had no formula)."""
    terms: list[Node] = []
    for n in consumers:
        g: Node = Const(1) if (n == out and seeded) else Call("_dsym", (Const(num), Const(n)))
        terms += _vjp_terms(ctx.graph.nodes[n].node, g, u, ctx, symbol(n).tex())
    opaque = any(_contains(t, "_opaque") for t in terms)
    return [_simplify(t) for t in terms], opaque


def _vjp_terms(node: Node, g: Node, target: str, ctx: _Ctx, label: str) -> list[Node]:
    """The gradient of L into `target` through `node`, as expressions in the upstream gradient g."""
    if isinstance(node, Name):
        return [g] if node.id == target else []
    if isinstance(node, Seq) and target in free_names(node):  # a stack [a, b, c]: entry k gets g_k
        return [t for k, item in enumerate(node.items)
                for t in _vjp_terms(item, _simplify(Call("index", (g, Const(k)))), target, ctx, label)]
    if not isinstance(node, Call) or target not in free_names(node):
        return []
    taken = branch_taken(node, ctx)  # `a if c else b` with one c: the gradient of the branch taken
    if taken is not None:
        return _vjp_terms(taken, g, target, ctx, label)
    first = _first_derivative(node, ctx)
    if first is not None:  # grad of a grad: the first derivative written out, then differentiated again
        return _vjp_terms(first, g, target, ctx, label)
    if node.fn == "grad" or node.fn not in FUNCTIONS or "*" in FUNCTIONS[node.fn].params:
        return [_opaque(g, label, target)]
    terms: list[Node] = []
    for param, arg in _arg_nodes(node).items():
        if target not in free_names(arg):
            continue
        local = _local_vjp(node, param, g, ctx)
        if local is None:
            return [_opaque(g, label, target)]
        terms += _vjp_terms(arg, _simplify(local), target, ctx, rf"\left({_Tex(ctx, 'sym')(arg)}\right)")
    return terms


def _first_derivative(node: Call, ctx: _Ctx) -> Node | None:
    """grad(f, w) of a scalar f as the expression f'(w) (i2dl.derivative), or None where that does not apply."""
    if node.fn != "grad" or len(node.args) != 2 or node.kwargs or not all(isinstance(a, Name) for a in node.args):
        return None
    out, wrt = node.args[0].id, node.args[1].id
    if out not in ctx.graph.nodes or np.ndim(ctx.values.get(out)) != 0 or np.ndim(ctx.values.get(wrt)) != 0:
        return None
    from i2dl.derivative import derivative
    from i2dl.errors import ExprError

    try:
        return derivative(ctx.graph.nodes[out].node, wrt, ctx.graph.nodes, ctx.graph.depends_on)
    except ExprError:
        return None


def _opaque(g: Node, label: str, target: str) -> Node:
    return Call("_opaque", (g, Const(_partial(label, symbol(target).tex()))))


def _c(fn: str, *args: Node) -> Call:
    return Call(fn, tuple(args))


#: The chain rule's local factor of each function, written as an expression in the upstream g:
#: SYMBOLIC_VJPS[fn](args, param, g, ctx, call) -> the gradient into `param`, or None (no simple
#: formula: the chain rule then names the partial derivative). tests/test_ops_registry.py
#: checks that every differentiable function has one or is listed there as opaque.
SymbolicVjp = Callable[[dict[str, Node], str, Node, _Ctx, Call], Node | None]
SYMBOLIC_VJPS: dict[str, SymbolicVjp] = {}


def _symbolic(*names: str) -> Callable[[SymbolicVjp], SymbolicVjp]:
    """Register the chain rule's local factor for the named functions."""

    def deco(f: SymbolicVjp) -> SymbolicVjp:
        for n in names:
            SYMBOLIC_VJPS[n] = f
        return f

    return deco


def _local_vjp(call: Call, param: str, g: Node, ctx: _Ctx) -> Node | None:
    """The gradient into one argument of a call, as an expression in g (None: no simple formula)."""
    rule = SYMBOLIC_VJPS.get(call.fn)
    return rule(_arg_nodes(call), param, g, ctx, call) if rule is not None else None


def _times(call: Call, ctx: _Ctx) -> str:
    """Elementwise product for arrays, plain product for scalars."""
    return "mul" if np.size(ctx.value(call)) == 1 else "_odot"


@_symbolic("pos", "sum")
def _vjp_identity(a, param, g, ctx, call):
    return g


def _unbroadcast(g: Node, a: dict[str, Node], param: str, ctx: _Ctx, call: Call) -> Node:
    """A scalar added to every entry collects the gradient of every entry: sum(g)."""
    if np.size(ctx.value(a[param])) == 1 and np.size(ctx.value(call)) > 1:
        return _c("sum", g)
    return g


@_symbolic("add")
def _vjp_add(a, param, g, ctx, call):
    return _unbroadcast(g, a, param, ctx, call)


@_symbolic("sub")
def _vjp_sub(a, param, g, ctx, call):
    return _unbroadcast(g if param == "a" else _c("neg", g), a, param, ctx, call)


@_symbolic("neg")
def _vjp_neg(a, param, g, ctx, call):
    return _c("neg", g)


@_symbolic("mul")
def _vjp_mul(a, param, g, ctx, call):
    return _c("mul", g, a["b" if param == "a" else "a"])


@_symbolic("div")
def _vjp_div(a, param, g, ctx, call):
    if param == "a":
        return _c("div", g, a["b"])
    return _c("neg", _c("div", _c("mul", g, a["a"]), _c("pow", a["b"], Const(2))))


@_symbolic("pow")
def _vjp_pow(a, param, g, ctx, call):
    if param == "a" and isinstance(a["b"], Const) and _is_num(a["b"].value):
        k = a["b"].value
        return _c("mul", g, _c("mul", Const(k), _c("pow", a["a"], Const(k - 1))))
    if param == "a" and isinstance(a["b"], Name) and np.size(ctx.value(a["b"])) == 1:
        k = a["b"]  # a named exponent such as q: q a^(q - 1)
        return _c(_times(call, ctx), g, _c("mul", k, _c("pow", a["a"], _c("sub", k, Const(1)))))
    return None


@_symbolic("abs")
def _vjp_abs(a, param, g, ctx, call):
    return _c(_times(call, ctx), g, Call("sign", (a["x"],)))


@_symbolic("exp")
def _vjp_exp(a, param, g, ctx, call):
    return _c("mul", g, call)


@_symbolic("log", "ln")
def _vjp_log(a, param, g, ctx, call):
    return _c("div", g, a["x"])


@_symbolic("sqrt")
def _vjp_sqrt(a, param, g, ctx, call):
    return _c("div", g, _c("mul", Const(2), call))


@_symbolic("mean")
def _vjp_mean(a, param, g, ctx, call):
    return _c("div", g, Const(int(np.size(ctx.value(a["x"])))))


@_symbolic("transpose")
def _vjp_transpose(a, param, g, ctx, call):
    return _c("transpose", g)


@_symbolic(*ACTIVATION_NAMES)
def _vjp_activation(a, param, g, ctx, call):
    return _c(_times(call, ctx), g, Call("_fprime", (a["x"], Const(call.fn), a.get("alpha", Const(None)))))


@_symbolic("activate")
def _vjp_activate(a, param, g, ctx, call):
    if param != "x":
        return None
    return _c(_times(call, ctx), g, Call("_fprime", (a["x"], a["kind"], a.get("alpha", Const(None)))))


@_symbolic("bce", "bce_with_logits", "cross_entropy", "cross_entropy_with_logits")
def _vjp_classification(a, param, g, ctx, call):
    return _classification_vjp(call.fn, g, a, ctx) if param == "pred" else None


def _classification_vjp(fn: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    """BCE: -t/p + (1 - t)/(1 - p); CE: -t/p; with logits: sigma(z) - t and softmax(z) - t, times c."""
    pred, t = a["pred"], a["target"]
    p = np.asarray(ctx.value(pred))
    red = str(ctx.value(a["reduction"])) if "reduction" in a else "mean"
    n = (p.shape[0] if p.ndim == 2 else 1) if fn.startswith("cross") else int(p.size)
    if fn.startswith("cross") and np.shape(ctx.value(t)) != p.shape:
        t = Call("_onehot", (t, Const(int(p.shape[-1]))))  # a class index as its one-hot vector
    if fn == "bce":
        core: Node = _c("add", _c("neg", _c("div", t, pred)), _c("div", _c("sub", Const(1), t), _c("sub", Const(1), pred)))
    elif fn == "cross_entropy":
        core = _c("neg", _c("div", t, pred))
    else:
        squash = Call("sigmoid" if fn == "bce_with_logits" else "softmax", (pred,))
        core = _c("sub", squash, t)
    scale = core if red != "mean" or n == 1 else _c("mul", _c("div", Const(1), Const(n)), core)
    return _c("mul", g, scale)


@_symbolic("dot", "matmul")
def _vjp_matmul(a, param, g, ctx, call):
    return _matmul_vjp(call.fn, param, g, a, ctx)


def _matmul_vjp(fn: str, param: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    va, vb = np.ndim(ctx.value(a["a"])), np.ndim(ctx.value(a["b"]))
    other = a["b"] if param == "a" else a["a"]
    if va == 1 and vb == 1:
        return _c("mul", g, other)
    if param == "a":
        return _c("matmul", g, _c("transpose", a["b"])) if vb == 2 else _c("matmul", _c("transpose", g), a["b"])
    return _c("matmul", _c("transpose", a["a"]), g) if va == 2 else _c("matmul", _c("transpose", a["a"]), g)


@_symbolic("conv_transpose1d", "conv_transpose2d")
def _vjp_conv_transpose(a, param, g, ctx, call):
    # scattering is the adjoint of sliding: dL/dx is g correlated with w, dL/dw that correlation's kernel gradient
    conv = "conv1d" if call.fn.endswith("1d") else "conv2d"
    geo = (("stride", a.get("stride", Const(1))), ("padding", a.get("padding", Const(0))))
    if param == "x":
        return Call(conv, (g, a["w"]), geo)
    return Call(f"{conv}_grad_weight", (g, a["w"], a["x"]), geo)


@_symbolic("linear")
def _vjp_linear(a, param, g, ctx, call):
    return _linear_vjp(param, g, a, ctx)


def _linear_vjp(param: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    conv = str(ctx.value(a["convention"])) if "convention" in a else "xW"
    if param == "b":
        # a bias is added to every sample: its gradient sums over the batch
        return Call("_batchsum", (g, Const(conv))) if np.ndim(ctx.value(a["x"])) == 2 else g
    if conv == "Wx":
        return _c("matmul", _c("transpose", a["w"]), g) if param == "x" else _c("matmul", g, _c("transpose", a["x"]))
    return _c("matmul", g, _c("transpose", a["w"])) if param == "x" else _c("matmul", _c("transpose", a["x"]), g)


@_symbolic("mse", "l1")
def _vjp_regression(a, param, g, ctx, call):
    return _regression_vjp(call.fn, g, a, ctx) if param == "pred" else None


def _regression_vjp(fn: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    red = str(ctx.value(a["reduction"])) if "reduction" in a else "mean"
    n = int(np.size(ctx.value(a["pred"])))
    diff = _c("sub", a["pred"], a["target"])
    core = diff if fn == "mse" else Call("sign", (diff,))
    scale = {"mean": (2, n), "sum": (2, 1), "half_sum": (1, 1)}[red] if fn == "mse" else \
        {"mean": (1, n), "sum": (1, 1), "half_sum": (1, 2)}[red]
    factor: Node = Const(scale[0]) if scale[1] == 1 else _c("div", Const(scale[0]), Const(scale[1]))
    return _c("mul", g, _c("mul", factor, core))


def _is_const(n: Node, v: float | None = None) -> bool:
    return isinstance(n, Const) and _is_num(n.value) and (v is None or float(n.value) == v)


def _simplify(node: Node) -> Node:
    """Drop factors of 1, fold constants, put constant factors first: 1 * 2 * (y - t)^1 -> 2(y - t)."""
    if not isinstance(node, Call):
        return node
    node = Call(node.fn, tuple(_simplify(a) for a in node.args), node.kwargs)
    fn, args = node.fn, node.args
    if fn in ("mul", "_odot", "matmul") and len(args) == 2:
        x, y = args
        if _is_const(x, 1):
            return y
        if _is_const(y, 1):
            return x
        if fn == "mul":
            if _is_const(x) and _is_const(y):
                return Const(_tidy(x.value * y.value))
            if _is_const(y) and not _is_const(x):
                return _simplify(_c("mul", y, x))
            if _is_const(x) and isinstance(y, Call) and y.fn == "mul" and _is_const(y.args[0]):
                return _simplify(_c("mul", Const(_tidy(x.value * y.args[0].value)), y.args[1]))
    if fn == "div" and len(args) == 2:
        x, y = args
        if _is_const(y, 1):
            return x
        if _is_const(x) and _is_const(y) and float(x.value) % float(y.value) == 0:
            return Const(_tidy(x.value / y.value))
    if fn == "pow" and _is_const(args[1], 1):
        return args[0]
    if fn == "pow" and _is_const(args[1], 0):
        return Const(1)
    if fn == "neg":
        if isinstance(args[0], Call) and args[0].fn == "neg":
            return args[0].args[0]
        if _is_const(args[0]):
            return Const(_tidy(-args[0].value))
    return node


def _tidy(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


# ---------------------------------------------------------------------------- one hop, entry by entry


# ---------------------------------------------------------------------------- one hop, entry by entry
def _unravel(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _hop_entries(hop: _Hop, ctx: _Ctx, num: str, trace: dict[str, Any], out: str, seeded: bool,
                 focus: tuple[int, ...] | None, ref: str | None, indexed: bool) -> list[Step]:
    """d L / d u_i = sum_k d L / d n_k * d n_k / d u_i for the asked (or the first few) entries of u."""
    try:
        J = ctx.jacobian(hop.n, hop.u)
    except I2dlError:
        return []
    if J is None:
        return []
    n_shape, u_shape = np.shape(ctx.values[hop.n]), np.shape(ctx.values[hop.u])
    G = np.ones(J.shape[0]) if (hop.n == out and seeded) else _arr(trace[hop.n]).ravel()
    total = _arr(trace[hop.u]).ravel()
    if not np.allclose(G @ J, total, atol=1e-9):
        return []  # another path also reaches u: the per-entry sums would be partial
    steps = _hop_notes(hop, ctx)
    if focus is not None and len(focus) == len(u_shape):
        chosen, hidden = [focus], 0
    else:
        chosen, hidden = ctx.pick(tuple(u_shape))
    n_sym, u_sym = symbol(hop.n), symbol(hop.u)
    # The exam writes every window's term for max pooling (2 * 1 + 1 * 0); elsewhere the nonzero ones,
    # keeping a weight times an input of 0 where the layer's structure has that term.
    show_all = hop.call is not None and hop.call.fn.startswith("maxpool") and J.shape[0] <= 4
    structural = hop.call is not None and hop.call.fn in ("conv1d", "conv2d", "linear", "dot", "matmul")
    for idx in chosen:
        i = int(np.ravel_multi_index(idx, u_shape)) if u_shape else 0
        labels = {}
        for k in range(J.shape[0]):
            if show_all or (G[k] != 0 and (J[k, i] != 0 or structural)):
                label = _factor_label(hop, ctx, _unravel(k, n_shape), idx)
                if show_all or J[k, i] != 0 or label != "0" and not label.startswith(r"\frac{\partial"):
                    labels[k] = label
        lhs = u_sym.grad(num).at(idx)
        entry_ref = (ref, None if indexed else idx) if ref else None
        if not labels:
            steps.append(_step(lhs, "0", text=f"no nonzero term reaches ${u_sym.at(idx)}$:", value=0.0, ref=entry_ref))
            continue
        sym_terms, rows = [], []
        for k, factor in labels.items():
            kidx = _unravel(k, n_shape)
            if hop.n == out and seeded:
                sym_terms.append(factor)
                rows.append((J[k, i],))
            else:
                sym_terms.append(rf"{n_sym.grad(num).at(kidx)} \cdot {factor}")
                rows.append((G[k], J[k, i]))
        value = float(total[i])
        rule = _activation_numbers(hop, ctx, idx) if len(labels) == 1 else ""
        numbers = (rule if hop.n == out and seeded else rf"{_n(rows[0][0])} \cdot \left({rule}\right)") if rule \
            else _sum_products(rows)
        steps.append(_step(lhs, " + ".join(sym_terms), numbers, _n(value), value=value, ref=entry_ref,
                           text=_windows_text(hop, labels, n_shape, u_sym.at(idx))))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _activation_numbers(hop: _Hop, ctx: _Ctx, idx: tuple[int, ...]) -> str:
    """f'(x_i) of an elementwise activation with the entry's number: 1 - (-0.761594)^2."""
    if hop.call is None or hop.param != "x" or not (hop.call.fn in ACTIVATION_NAMES or hop.call.fn == "activate"):
        return ""
    a = _arg_nodes(hop.call)
    kind = hop.call.fn if hop.call.fn != "activate" else str(ctx.value(a["kind"]))
    alpha = ctx.value(a["alpha"]) if "alpha" in a else None
    x = _arr(ctx.values[hop.u])
    try:
        _, numeric, _ = _act_rule(kind, float(x[idx] if x.ndim else x), alpha, True)
    except (KeyError, TypeError, ValueError):
        return ""
    return numeric


def _windows_text(hop: _Hop, labels: dict[int, str], n_shape: tuple[int, ...], entry: str) -> str:
    """Which output windows of a convolution cover an input entry, and the kernel entry each multiplies it by."""
    if hop.call is None or hop.call.fn not in ("conv1d", "conv2d") or hop.param != "x":
        return ""
    covered = [(k, f) for k, f in labels.items() if f != "0"]
    if not covered:
        return ""
    n_sym = symbol(hop.n)
    which = ", ".join(f"${n_sym.at(_unravel(k, n_shape))}$ (times ${f}$)" for k, f in covered)
    return f"${entry}$ lies in the window{'s' if len(covered) > 1 else ''} of {which}:"


def _hop_notes(hop: _Hop, ctx: _Ctx) -> list[Step]:
    """Why the local derivatives are what they are: the maximum of each pooling window."""
    if hop.call is None or not hop.call.fn.startswith(("maxpool", "avgpool")) or hop.param != "x":
        return []
    a = _arg_nodes(hop.call)
    x = _arr(ctx.value(a["x"]))
    nd = 1 if hop.call.fn.endswith("1d") else 2
    if x.ndim != nd:
        return []
    k = _axes(ctx.value(a["kernel"]), nd)
    st = a.get("stride")
    s = k if st is None or ctx.value(st) is None else _axes(ctx.value(st), nd)
    out_shape = tuple(out_size(n, kk, ss, 0) for n, kk, ss in zip(x.shape, k, s, strict=False))
    # The engine's own routes (its tie rule), not a second argmax.
    routes = _pool_routes(hop.call.fn, x, k, s) if hop.call.fn.startswith("max") else None
    xs, ms = symbol(hop.u), symbol(hop.n)
    steps = []
    for w, pos in enumerate(np.ndindex(*out_shape)):
        if w >= MAX_ENTRIES:
            steps.append(_more(int(np.prod(out_shape)) - MAX_ENTRIES))
            break
        cells = window_cells(pos, k, s)
        vals = [x[c] for c in cells]
        names = ", ".join(xs.at(c) for c in cells)
        if routes is not None:
            best = tuple(int(t) for t in np.unravel_index(int(routes[pos]), x.shape))
            steps.append(_note(f"window {w + 1} of ${ms.at(pos)}$: $({names}) = ({', '.join(_n(t) for t in vals)})$, "
                               f"maximum ${xs.at(best)} = {_n(x[best])}$, so "
                               f"${_partial(ms.at(pos), xs.at(best))} = 1$ and 0 for the others"))
        else:
            steps.append(_note(f"window {w + 1} of ${ms.at(pos)}$: $({names})$, each with "
                               f"${_partial(ms.at(pos), xs.at_tex(['i']))} = \\frac{{1}}{{{len(cells)}}}$"))
    return steps


def _pool_routes(fn: str, x: np.ndarray, k: tuple[int, ...], s: tuple[int, ...]) -> np.ndarray:
    """The flat input index each max-pool window passes its gradient to, from the numpy kernels."""
    from i2dl.engine import get_engine

    return np.asarray(getattr(get_engine("numpy"), f"{fn}_argmax")(x, k if len(k) > 1 else k[0],
                                                                  s if len(s) > 1 else s[0]))


def _factor_label(hop: _Hop, ctx: _Ctx, k: tuple[int, ...], i: tuple[int, ...]) -> str:
    """How d n_k / d u_i is written: w_i for a dot product, x_(i+j) for a kernel weight, f'(h_i), ..."""
    default = _partial(symbol(hop.n).at(k), symbol(hop.u).at(i))
    if hop.call is None:
        return _expression_rule(hop, ctx, i) or default
    a = _arg_nodes(hop.call)
    fn, p = hop.call.fn, hop.param

    def sym(param: str) -> Sym:
        node = a.get(param)
        return symbol(node.id) if isinstance(node, Name) else Sym(rf"\left({_Tex(ctx, 'sym')(node)}\right)")

    try:
        if fn in ("dot", "matmul"):
            return _matmul_label(fn, p, k, i, sym, ctx, a) or default
        if fn == "linear":
            return _linear_label(p, k, i, sym, ctx, a) or default
        if fn == "softmax" and p == "x" and len(k) == 1:
            pk, pi = symbol(hop.n).at(k), symbol(hop.n).at(i)
            return rf"{pk}(1 - {pk})" if k == i else rf"\left(-{pk} {pi}\right)"
        if fn in ACTIVATION_NAMES or fn == "activate":
            kind = fn if fn != "activate" else str(ctx.value(a["kind"]))
            return _fprime_tex(kind, sym("x").at(i))
        if fn in ("conv1d", "conv2d") and p in ("x", "w"):
            return _conv_label(fn, p, k, i, sym, ctx, a) or default
        if fn in ("mse", "l1") and p == "pred":
            y, t = sym("pred").at(i), sym("target").at(i)
            factor = _simplify(_regression_vjp(fn, Const(1), a, ctx).args[1].args[0])
            scale = "" if _is_const(factor, 1) else _Tex(ctx, "sym")(factor)
            core = rf"\left({y} - {t}\right)" if fn == "mse" else rf"\operatorname{{sign}}({y} - {t})"
            return f"{scale}{core}"
    except (KeyError, IndexError, TypeError, ValueError):
        return default
    return default


def _expression_rule(hop: _Hop, ctx: _Ctx, i: tuple[int, ...]) -> str:
    """The local derivative from n's expression: 2(y - t) for scalars, x_i for w . x + b."""
    terms = _vjp_terms(ctx.graph.nodes[hop.n].node, Const(1), hop.u, ctx, symbol(hop.n).tex())
    if len(terms) != 1 or _contains(terms[0], "_opaque"):
        return ""
    term = _simplify(terms[0])
    if np.size(ctx.values[hop.n]) == 1 and np.size(ctx.values[hop.u]) == 1:
        return _Tex(ctx, "sym")(term)
    if isinstance(term, Name) and np.shape(ctx.value(term)) == np.shape(ctx.values[hop.u]) \
            and np.size(ctx.values[hop.n]) == 1:
        return symbol(term.id).at(i)
    return ""


def _matmul_label(fn, p, k, i, sym, ctx, a) -> str:
    va, vb = np.ndim(ctx.value(a["a"])), np.ndim(ctx.value(a["b"]))
    if va == 1 and vb == 1:
        return sym("b" if p == "a" else "a").at(i)
    if va == 2 and vb == 1:  # y_k = sum_i A_ki x_i
        return sym("a").at((k[0], i[0])) if p == "b" else (sym("b").at((i[1],)) if i[0] == k[0] else "0")
    if va == 1 and vb == 2:  # y_k = sum_i x_i B_ik
        return sym("b").at((i[0], k[0])) if p == "a" else (sym("a").at((i[0],)) if i[1] == k[0] else "0")
    return ""


def _linear_label(p, k, i, sym, ctx, a) -> str:
    conv = str(ctx.value(a["convention"])) if "convention" in a else "xW"
    if p == "b":
        return "1" if (k[0] if conv == "Wx" else k[-1]) == i[0] else "0"
    if conv == "Wx":  # y_(j, n) = sum_i W_ji x_(i, n) + b_j
        j, col = k[0], k[1:]
        if p == "x":
            return sym("w").at((j, i[0])) if i[1:] == col else "0"
        return sym("x").at((i[1], *col)) if i[0] == j else "0"
    row, j = k[:-1], k[-1]  # xW: y_(n, j) = sum_i x_(n, i) W_ij + b_j
    if p == "x":
        return sym("w").at((i[-1], j)) if i[:-1] == row else "0"
    return sym("x").at((*row, i[0])) if i[1] == j else "0"


def _conv_label(fn, p, k, i, sym, ctx, a) -> str:
    nd = 1 if fn == "conv1d" else 2
    key = ("conv", nd, *(id(a.get(name)) for name in ("x", "w", "stride", "padding")))
    cv = ctx.memo.get(key)
    if cv is None:  # one padded view per call, not one per (output, input) entry labelled
        cv = ctx.memo[key] = _conv_of(ctx.value(a["x"]), ctx.value(a["w"]), ctx.value(a.get("stride", Const(1))),
                                      ctx.value(a.get("padding", Const(0))), nd)
    if not cv.single:
        return ""
    if p == "w":  # d z_k / d w_i = x_pad[k s + i]
        src = (0, *(kk * s + ii for kk, s, ii in zip(k, cv.s, i, strict=False)))
        inner = _unpadded(cv, src)
        return sym("x").at(inner) if inner is not None else "0"
    off = tuple(ii + pp - kk * s for ii, pp, kk, s in zip(i, cv.p, k, cv.s, strict=False))  # d z_k / d x_i = w[i + p - k s]
    if any(o < 0 or o >= n for o, n in zip(off, cv.w.shape[2:], strict=False)):
        return "0"
    return sym("w").at(off)


# ---------------------------------------------------------------------------- the asked entry as a path sum


# ---------------------------------------------------------------------------- the asked entry as a path sum
def _path_sum(order: list[str], hops: dict[str, list[str]], ctx: _Ctx, num: str, trace: dict[str, Any], out: str,
              wrt: str, focus: tuple[int, ...], has_upstream: bool, ref: str | None) -> list[Step]:
    """d L / d wrt_focus as the sum over every path of the product of local derivatives."""
    inputs = {n: [u for u in order if n in hops.get(u, [])] for n in order}
    jac: dict[tuple[str, str], np.ndarray] = {}
    try:
        for n, us in inputs.items():
            for u in us:
                J = ctx.jacobian(n, u)
                if J is None:
                    return []
                jac[(n, u)] = J
    except I2dlError:
        return []
    w_shape = np.shape(ctx.values[wrt])
    if len(focus) != len(w_shape):
        return []
    target = int(np.ravel_multi_index(focus, w_shape)) if w_shape else 0
    out_shape = np.shape(ctx.values[out])
    seeds = _arr(trace[out]).ravel() if has_upstream else np.ones(int(np.prod(out_shape)) if out_shape else 1)
    paths: list[list[tuple[str, int]]] = []

    def walk(path: list[tuple[str, int]]) -> bool:
        n, k = path[-1]
        if n == wrt:
            if k == target:
                paths.append(list(path))
            return len(paths) <= MAX_PATHS
        for u in inputs.get(n, []):
            col = jac[(n, u)][k]
            for i in np.flatnonzero(col):
                if not walk(path + [(u, int(i))]):
                    return False
        return True

    for k0 in range(len(seeds)):
        if seeds[k0] != 0 and not walk([(out, k0)]):
            return [_note(f"(more than {MAX_PATHS} chain-rule paths reach this entry; see the vectors above)")]
    if not paths:
        return []
    sym_terms, rows, values = [], [], []
    for path in paths:
        factors_sym = [symbol(out).grad(num).at(_unravel(path[0][1], out_shape))] if has_upstream else []
        factors_num = [seeds[path[0][1]]] if has_upstream else []
        for (n, k), (u, i) in zip(path, path[1:], strict=False):
            hop = _hop(n, u, ctx)
            factors_sym.append(_factor_label(hop, ctx, _unravel(k, np.shape(ctx.values[n])),
                                             _unravel(i, np.shape(ctx.values[u]))))
            factors_num.append(jac[(n, u)][k, i])
        sym_terms.append(r" \cdot ".join(factors_sym))
        rows.append(tuple(factors_num))
        values.append(float(np.prod(factors_num)))
    total = float(sum(values))
    if not np.isclose(total, float(_arr(trace[wrt]).ravel()[target]), atol=1e-9):
        return []
    lhs = symbol(wrt).grad(num).at(focus)
    return [_step(lhs, " + ".join(sym_terms), _sum_products(rows), _sum_values(values) if len(values) > 1 else "",
                  _n(total), text="every path from the loss to this entry, multiplied out:", value=total,
                  ref=(ref, None) if ref else None)]
