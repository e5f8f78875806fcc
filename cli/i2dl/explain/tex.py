"""Expressions as LaTeX: names as their symbols, or as their values substituted."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from i2dl.errors import I2dlError
from i2dl.expr import Call, Const, Dict, Name, Node, Seq
from i2dl.functions import FUNCTIONS

from .activations import ACTIVATION_NAMES, _act_tex, _fprime_tex, _fprime_value
from .context import _Ctx, branch_taken
from .registry import RENDERERS
from .steps import MAX_ENTRIES, _is_num, _tx, _v
from .symbols import _GRAD_NAME, Sym, _partial, _plain_symbol, _word, index_base, symbol

ATOM, POW, NEG, PROD, SUM, CMP, LOGIC, COND = 100, 80, 70, 60, 50, 40, 20, 5


def _prec_of(tex: str) -> int:
    return NEG if tex.startswith("-") else ATOM


_INFIX = {"add": ("+", SUM), "sub": ("-", SUM), "mul": (r"\cdot", PROD), "dot": (r"\cdot", PROD),
          "matmul": (r"\,", PROD), "_odot": (r"\odot", PROD), "mod": (r"\bmod", PROD),
          "lt": ("<", CMP), "le": (r"\le", CMP), "gt": (">", CMP), "ge": (r"\ge", CMP),
          "eq": ("=", CMP), "ne": (r"\ne", CMP)}
# Calls rendered as operators keep their structure when numbers are substituted.
_OPERATORS = set(_INFIX) | {"neg", "pos", "div", "pow", "floordiv", "transpose", "and_", "or_", "not_",
                            "where", "_sum"}
def _wrap(t: tuple[str, int], need: int) -> str:
    tex, prec = t
    return rf"\left({tex}\right)" if prec < need else tex


def _arg_nodes(call: Call) -> dict[str, Node]:
    """The argument expressions of a call by parameter name (variadic: x0, x1, ...)."""
    fn = FUNCTIONS.get(call.fn)
    if fn is None or "*" in fn.params:
        return {f"x{i}": a for i, a in enumerate(call.args)}
    return dict(zip(fn.params, call.args, strict=False)) | dict(call.kwargs)


class _Tex:
    """Renders an expression tree as LaTeX: names as symbols ('sym') or as their values ('num')."""

    def __init__(self, ctx: _Ctx, mode: str, trace: dict[str, Any] | None = None, collapse: bool = False,
                 reduced: frozenset[Node] = frozenset()):
        self.ctx = ctx
        self.mode = mode
        self.trace = trace or {}
        self.collapse = collapse  # worked-out calls (dot, conv, grad, ...) as their values
        self.reduced = reduced  # sub-expressions already worked out: written as their values

    def __call__(self, node: Node) -> str:
        return self.render(node, root=True)[0]

    def render(self, node: Node, root: bool = False) -> tuple[str, int]:
        if self.reduced and node in self.reduced:
            return self.value(self.ctx.value(node))
        if isinstance(node, Const):
            return self.value(node.value)
        if isinstance(node, Name):
            if self.mode == "num" and (node.id in self.ctx.values or node.id in ("pi", "e")):
                return self.value(self.ctx.values.get(node.id, math.pi if node.id == "pi" else math.e))
            return symbol(node.id).tex(), ATOM
        if isinstance(node, Seq):
            return "[" + ", ".join(self.render(i)[0] for i in node.items) + "]", ATOM
        if isinstance(node, Dict):
            return r"\{" + ", ".join(f"{_tx(k)}: {self.render(v)[0]}" for k, v in node.items) + r"\}", ATOM
        assert isinstance(node, Call)
        return self.call(node, root)

    def scalar_maths(self, node: Call) -> bool:
        """min(1, 2), exp(0.5): small maths on numbers keeps its arguments when substituted."""
        fn = FUNCTIONS.get(node.fn)
        if fn is None or not fn.inline:
            return False
        # a root, power or log of a short vector is written out too: sqrt([4.75, 4.5])
        limit = MAX_ENTRIES if node.fn in HAND_CALLS else 1
        try:
            return all(np.size(self.ctx.value(a)) <= limit for a in node.args)
        except I2dlError:
            return False

    def value(self, v: Any) -> tuple[str, int]:
        t = _v(v)
        return t, _prec_of(t)

    def call(self, node: Call, root: bool) -> tuple[str, int]:
        fn, a = node.fn, node.args
        if self.collapse and not root and (fn in RENDERERS or fn == "grad" or _grad_root(node) is not None):
            return self.value(self.ctx.value(node))
        if self.mode == "num" and not root and fn not in _OPERATORS and not fn.startswith("_") \
                and not self.scalar_maths(node):
            return self.value(self.ctx.value(node))  # nested functions: their value
        if fn.startswith("_"):
            return self.special(node)
        if fn in _INFIX and len(a) == 2:
            return self.infix(fn, a[0], a[1])
        if fn == "neg":
            inner = self.render(a[0])
            return "-" + (_wrap(inner, PROD + 1) if not inner[0].startswith("-") else rf"\left({inner[0]}\right)"), NEG
        if fn == "pos":
            return self.render(a[0])
        if fn == "div":
            return rf"\frac{{{self.render(a[0])[0]}}}{{{self.render(a[1])[0]}}}", ATOM
        if fn == "floordiv":
            return rf"\left\lfloor \frac{{{self.render(a[0])[0]}}}{{{self.render(a[1])[0]}}} \right\rfloor", ATOM
        if fn == "pow":
            base = self.render(a[0])
            btex = rf"\left({base[0]}\right)" if base[1] < ATOM or base[0].startswith("-") else base[0]
            return f"{btex}^{{{self.render(a[1])[0]}}}", POW
        if fn == "transpose":
            return f"{_wrap(self.render(a[0]), ATOM)}^{{\\top}}", POW
        if fn in ("and_", "or_"):
            word = r"\text{ and }" if fn == "and_" else r"\text{ or }"
            return word.join(_wrap(self.render(x), CMP) for x in a), LOGIC
        if fn == "not_":
            return r"\text{not }" + _wrap(self.render(a[0]), CMP), LOGIC
        if fn == "where" and self.mode == "num" and np.size(self.ctx.value(a[0])) == 1:
            return self.render(a[1] if bool(np.all(self.ctx.value(a[0]))) else a[2])  # the branch taken
        if fn == "where":
            c, x, y = (self.render(t)[0] for t in a)
            return rf"{x} \text{{ if }} {c} \text{{ else }} {y}", COND
        if fn == "index":
            return self.index(node)
        if fn == "grad":
            return self.grad(node, None)
        return self.named(node)

    def infix(self, fn: str, left: Node, right: Node) -> tuple[str, int]:
        op, prec = _INFIX[fn]
        lt, rt = self.render(left), self.render(right)
        ltex = _wrap(lt, prec)
        # Right operands of - and of products are grouped; negative numbers get parentheses.
        rtex = _wrap(rt, prec + 1 if fn in ("sub", "mod") else prec)
        if rtex.startswith("-") and fn in ("add", "sub", "mul", "dot", "matmul", "_odot"):
            rtex = rf"\left({rtex}\right)"
        if fn == "mul" and _is_number_tex(ltex) and rt[1] < prec:
            return f"{ltex}{rtex}", prec  # 2(y - t), as on paper
        return f"{ltex} {op} {rtex}", prec

    def index(self, node: Call) -> tuple[str, int]:
        target, idx = node.args
        if self.mode == "num" and isinstance(target, Call) and target.fn == "_dsym" and isinstance(idx, Const):
            name = target.args[1].value  # entry k of a gradient on the trace (a stack's VJP)
            return self.value(np.asarray(self.trace.get(name, self.ctx.values.get(name)))[idx.value])
        if self.mode == "num":
            return self.value(self.ctx.value(node))
        if isinstance(target, Call) and target.fn == "grad":
            return self.grad(target, _index_subs(idx, self))
        if isinstance(idx, Call) and idx.fn == "slice_":
            if idx.args == (Const(None), Const(None), Const(-1)):
                return rf"\operatorname{{flip}}\left({self.render(target)[0]}\right)", ATOM
            lo, hi, st = (self.render(x)[0] if not (isinstance(x, Const) and x.value is None) else "" for x in idx.args)
            return f"{_wrap(self.render(target), ATOM)}_{{{lo}:{hi}{':' + st if st else ''}}}", ATOM
        if isinstance(target, Call) and target.fn == "index" and isinstance(target.args[1], Const) \
                and isinstance(target.args[1].value, str) and isinstance(target.args[0], Call) \
                and target.args[0].fn in _OPTIMIZERS and isinstance(idx, Const) and _is_num(idx.value):
            # opt(...)["w"][2] is w after step 2: time steps count from 0
            t = int(idx.value)
            return rf"{_word(target.args[1].value)}_{{{t}}} \text{{ of }} {self.render(target.args[0])[0]}", ATOM
        subs = _index_subs(idx, self)
        if isinstance(target, Name):
            return symbol(target.id).at_tex(subs), ATOM
        return Sym(self.render(target)[0]).at_tex(subs), ATOM

    def grad(self, node: Call, subs: list[str] | None) -> tuple[str, int]:
        if self.mode == "num":
            return self.value(self.ctx.value(node))
        names = dict(zip(("out", "wrt", "upstream"), node.args, strict=False)) | dict(node.kwargs)
        wrt = symbol(names["wrt"].id) if isinstance(names.get("wrt"), Name) else Sym("?")
        den = wrt.at_tex(subs) if subs else wrt.tex()
        return _partial(_numerator(node, None), den), ATOM

    def named(self, node: Call) -> tuple[str, int]:
        fn = node.fn
        args = _arg_nodes(node)
        r = {k: self.render(v)[0] for k, v in args.items()}
        if fn == "linear":
            conv = str(self.ctx.value(args.get("convention")) or "xW") if "convention" in args else "xW"
            x, w = _wrap(self.render(args["x"]), PROD), _wrap(self.render(args["w"]), PROD)
            core = f"{w} \\, {x}" if conv == "Wx" else f"{x} \\, {w}"
            return (f"{core} + {r['b']}" if "b" in args and not _is_none(args["b"]) else core), SUM
        if fn == "exp":
            return f"e^{{{r['x']}}}", POW
        if fn == "sqrt":
            return rf"\sqrt{{{r['x']}}}", ATOM
        if fn == "abs":
            return rf"\left|{r['x']}\right|", ATOM
        if fn in ("floor", "ceil"):
            lo, hi = (r"\lfloor", r"\rfloor") if fn == "floor" else (r"\lceil", r"\rceil")
            return rf"\left{lo} {r['x']} \right{hi}", ATOM
        if fn == "sum" and "axis" not in node.kwargs and len(node.args) == 1:
            return rf"\sum {_wrap(self.render(args['x']), ATOM)}", PROD
        if fn in ("activate", "activate_grad"):
            kind = str(self.ctx.value(args.get("kind")))
            name = _act_tex(kind)
            return f"{name}{chr(39) if fn == 'activate_grad' else ''}\\left({r['x']}\\right)", ATOM
        if fn.endswith("_grad") and fn[:-5] in ACTIVATION_NAMES:
            return f"{_act_tex(fn[:-5])}'\\left({r['x']}\\right)", ATOM
        name = FUNCTIONS[fn].latex if fn in FUNCTIONS else rf"\operatorname{{{fn.replace('_', chr(92) + '_')}}}"
        positional = [self.render(a)[0] for a in node.args]
        keywords = [f"{_tx(k)}={self.render(v)[0]}" for k, v in node.kwargs]
        return f"{name}\\left({', '.join(positional + keywords)}\\right)", ATOM

    def special(self, node: Call) -> tuple[str, int]:
        """The chain rule's own notation: gradient symbols, elementwise products, f'(x)."""
        fn, a = node.fn, node.args
        if fn == "_dsym":
            num, name = a[0].value, a[1].value
            if self.mode == "num":
                return self.value(self.trace.get(name, self.ctx.values.get(name)))
            return symbol(name).grad(num).tex(), ATOM
        if fn == "_odot":
            return self.infix("_odot", a[0], a[1])
        if fn == "_fprime":
            if self.mode == "num":
                return self.value(_fprime_value(self.ctx, node))
            return _fprime_tex(str(self.ctx.value(a[1])), self.render(a[0])[0]), ATOM
        if fn == "_opaque":
            g = self.render(a[0])
            return (a[1].value if g[0] in ("1", "") else f"{_wrap(g, PROD)} \\cdot {a[1].value}"), PROD
        if fn == "_batchsum":
            return rf"\sum_{{n}} {_wrap(self.render(a[0]), ATOM)}", PROD
        if fn == "_onehot":
            if self.mode == "num":
                return self.value(self.ctx.value(Call("onehot", (a[0], a[1]))))
            return rf"\operatorname{{onehot}}_{{{','.join(_index_subs(a[0], self))}}}", ATOM
        raise ValueError(fn)


#: Calls a student works out by hand on paper: each gets its own stage in a reduction.
HAND_CALLS = frozenset({"sqrt", "exp", "log", "ln", "log2", "log10", "abs", "sin", "cos", "pow", "div",
                        "floordiv"})


def _hand_depths(node: Node, ctx: _Ctx, out: dict[Node, int]) -> int:
    """How deep hand calls nest below node (0: none), collecting each call's depth; the branch taken only."""
    if isinstance(node, Seq):
        return max((_hand_depths(i, ctx, out) for i in node.items), default=0)
    if not isinstance(node, Call) or node.fn == "grad" or node.fn in RENDERERS:
        return 0
    kids: list[Node] = list(node.args) + [v for _, v in node.kwargs]
    if node.fn == "where":
        taken = branch_taken(node, ctx)
        if taken is None:
            return 0
        kids = [taken]
    below = max((_hand_depths(k, ctx, out) for k in kids), default=0)
    if node.fn in HAND_CALLS and _free(node):
        out[node] = below + 1
        return below + 1
    return below


def _free(node: Node) -> bool:
    """Whether an expression reads a name (a constant such as 1/2 needs no working)."""
    if isinstance(node, Name):
        return True
    if isinstance(node, Call):
        return any(_free(a) for a in node.args) or any(_free(v) for _, v in node.kwargs)
    if isinstance(node, Seq):
        return any(_free(i) for i in node.items)
    return False


def _stages(node: Node, ctx: _Ctx) -> list[str]:
    """The numbers reduced stage by stage: innermost roots, powers and quotients first, as on paper.

    Stage k writes every hand call nested at most k deep as its value:
    2 - 0.01 * 1 / (sqrt(0.4) + eps) -> 2 - 0.01 * 1 / (0.632456 + eps) -> 2 - 0.015811.
    """
    depths: dict[Node, int] = {}
    try:
        top = _hand_depths(node, ctx, depths)
        stages = []
        end = _v(ctx.value(node)) if top else ""
        for level in range(1, top + 1):
            done = frozenset(n for n, d in depths.items() if d <= level)
            stage = _Tex(ctx, "num", reduced=done)(node) if node not in done else end
            if stage == end:
                break  # the last stage is the value itself: the result line writes it
            stages.append(stage)
        return stages
    except (I2dlError, ArithmeticError, TypeError, ValueError):
        return []


def _is_number_tex(t: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", t)) or t.startswith(r"\frac{") and "partial" not in t


def _is_none(node: Node) -> bool:
    return isinstance(node, Const) and node.value is None


def _index_subs(idx: Node, tex: _Tex) -> list[str]:
    """An index expression written as the sheet counts: 1-based j - 1 -> j, 0 -> 1, i -> i + 1 (0-based: as is)."""
    items = idx.items if isinstance(idx, Seq) else (idx,)
    base = index_base()
    out = []
    for it in items:
        if isinstance(it, Const) and isinstance(it.value, str):
            out.append(_tx(it.value))
        elif isinstance(it, Const) and _is_num(it.value) and int(it.value) < 0:
            out.append("last" if int(it.value) == -1 else f"last{int(it.value) + 1}")  # Python's from-the-end index
        elif isinstance(it, Const) and _is_num(it.value):
            out.append(str(int(it.value) + base))
        elif isinstance(it, Call) and it.fn == "slice_":
            out.append(":")
        elif base == 0:
            out.append(tex.render(it)[0])
        elif isinstance(it, Call) and it.fn == "sub" and it.args[1] == Const(1):
            out.append(tex.render(it.args[0])[0])
        else:
            out.append(f"{_wrap(tex.render(it), SUM + 1)} + 1")
    return out


def _numerator(call: Call, blank: str | None) -> str:
    """Whose gradient a grad() node is: its out, or L (or the blank's dL..) with an upstream gradient."""
    names = dict(zip(("out", "wrt", "upstream"), call.args, strict=False)) | dict(call.kwargs)
    if "upstream" not in names and isinstance(names.get("out"), Name):
        return symbol(names["out"].id).tex()
    up = names.get("upstream")
    for candidate in (blank, up.id if isinstance(up, Name) else None):
        m = _GRAD_NAME.fullmatch(candidate or "")
        if m:
            return _plain_symbol(m.group(1)).base
    return "L"


def _grad_root(node: Node) -> tuple[Call, Node | None] | None:
    """(grad call, index expression) when the expression is grad(...) or grad(...)[i]."""
    if isinstance(node, Call) and node.fn == "grad":
        return node, None
    if isinstance(node, Call) and node.fn == "index" and isinstance(node.args[0], Call) and node.args[0].fn == "grad":
        return node.args[0], node.args[1]
    return None


def _contains(node: Node, fn: str) -> bool:
    if isinstance(node, Call):
        return node.fn == fn or any(_contains(a, fn) for a in node.args) or any(_contains(v, fn) for _, v in node.kwargs)
    if isinstance(node, Seq):
        return any(_contains(i, fn) for i in node.items)
    if isinstance(node, Dict):
        return any(_contains(v, fn) for _, v in node.items)
    return False


_OPTIMIZERS = frozenset(n for n, f in FUNCTIONS.items() if f.category == "optimizers")
