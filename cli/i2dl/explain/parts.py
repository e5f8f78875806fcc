"""A part worked out: each blank's formula, numbers, inner steps and result, or each option and why."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.errors import I2dlError
from i2dl.expr import Call, Dict, Name, Node, Seq, parse
from i2dl.functions import FUNCTIONS
from i2dl.render import fmt_value, render_template

from . import (
    backward,  # noqa: F401  (registers the layer-gradient renderers)
    metrics,  # noqa: F401  (registers the metric and schedule renderers)
)
from .chain import _grad_steps
from .context import _Ctx, branch_taken
from .forward import _view
from .registry import RENDERERS
from .steps import Step, _is_num, _note, _plain, _step, _v
from .student import _Graded
from .symbols import Sym, counting_from, symbol
from .tex import _contains, _grad_root, _hand_depths, _index_subs, _numerator, _stages, _Tex


def _part_explanation(prob: Any, part: Any, ctx: _Ctx | None, graded: _Graded | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "part", "number": part.number, "id": part.id, "problem": prob.number,
                           "title": prob.title, "spec": prob.spec_id, "text": part.text, "points": part.points,
                           "blanks": [], "options": []}
    if part.options:
        out["options"] = _options(part)
    if part.options and ctx is not None and _statement_call(part, ctx) is not None:
        ctx.shown = set()
        with counting_from(ctx.base):
            out["blanks"] = [_statements_explanation(part, ctx)]
    elif ctx is not None and not part.options:
        ctx.shown = set()
        with counting_from(ctx.base):
            out["blanks"] = [_blank_explanation(b, ctx) for b in part.blanks]
    if graded is not None:
        graded.attach(prob, part, out)
    return out


def _blank_explanation(b: Any, ctx: _Ctx) -> dict[str, Any]:
    node = ctx.graph.nodes[b.name].node
    grad_root = _grad_root(node)
    sym = _grad_lhs(grad_root, b.name, ctx) if grad_root else symbol(b.name)
    steps: list[Step] = []
    for name in _derived_names(node, ctx):
        steps += _derived_steps(name, ctx)
    if grad_root is None:
        formula = _Tex(ctx, "sym")(node)
        numbers = _Tex(ctx, "num")(node) if not _contains(node, "grad") else ""
        if formula != sym.tex() or numbers:
            steps.append(_step(sym.tex(), formula, numbers, *(_stages(node, ctx) if numbers else []),
                               role="formula"))
    steps += _detail_steps(node, ctx, sym, b.name, top=True)
    collapsed = _collapsed(node, ctx)
    if collapsed and not any(collapsed in st["rhs"] for st in steps):
        steps.append(_step(sym.tex(), collapsed, value=b.expected, ref=(b.name, None)))
    if b.name in ctx.whys:
        steps += _why(ctx.whys[b.name], ctx)
    steps.append(_step(sym.tex(), _v(b.expected), role="result", value=b.expected, ref=(b.name, None)))
    return {"name": b.name, "label": b.label, "kind": b.kind, "expected": _plain(b.expected),
            "expected_text": fmt_value(b.expected), "tex": sym.tex(), "steps": steps}


MAX_SHOWN = 240  # characters of a derived value's LaTeX worth a "where" line (a 3 x 5 matrix fits)


def _why(template: str, ctx: _Ctx) -> list[Step]:
    """The spec's reason for an answer, its {{ expressions }} filled with the instance's values."""
    try:
        text = render_template(template, lambda e: ctx.value(parse(e).node))
    except I2dlError:
        return []  # a reason that cannot be filled in is left out; the steps above still stand
    return [_note(" ".join(text.split()))]


def _collapsed(node: Node, ctx: _Ctx) -> str:
    """The expression once its worked-out inner parts are numbers: w . x + b -> 2.05 + (-0.5)."""
    if not isinstance(node, Call) or node.fn in RENDERERS or _grad_root(node) is not None:
        return ""
    inner = [a for a in list(node.args) + [v for _, v in node.kwargs] if _has_worked(a)]
    if not inner:
        return ""
    return _Tex(ctx, "num", collapse=True)(node)


def _has_worked(node: Node) -> bool:
    """Whether an expression contains a call whose value the steps work out."""
    if isinstance(node, Call):
        if node.fn in RENDERERS or node.fn == "grad":
            return True
        return any(_has_worked(a) for a in node.args) or any(_has_worked(v) for _, v in node.kwargs)
    if isinstance(node, Seq):
        return any(_has_worked(i) for i in node.items)
    return False


def _grad_lhs(root: tuple[Call, Node | None], blank: str, ctx: _Ctx) -> Sym:
    call, idx = root
    names = dict(zip(("out", "wrt", "upstream"), call.args, strict=False)) | dict(call.kwargs)
    wrt = symbol(names["wrt"].id) if isinstance(names.get("wrt"), Name) else Sym("?")
    num = _numerator(call, blank)
    if idx is None:
        return wrt.grad(num)
    return Sym(wrt.at_tex(_index_subs(idx, _Tex(ctx, "sym"))), num)


def _names_in_order(node: Node) -> list[str]:
    """Names an expression reads for its value (a grad's out and wrt are read for their gradients)."""
    if isinstance(node, Name):
        return [node.id]
    kids: list[Node] = []
    if isinstance(node, Call) and node.fn == "grad":
        kids = list(node.args[2:]) + [v for k, v in node.kwargs if k == "upstream"]
    elif isinstance(node, Call):
        kids = list(node.args) + [v for _, v in node.kwargs]
    elif isinstance(node, Seq):
        kids = list(node.items)
    elif isinstance(node, Dict):
        kids = [v for _, v in node.items]
    out: list[str] = []
    for k in kids:
        out += [n for n in _names_in_order(k) if n not in out]
    return out


def _derived_names(node: Node, ctx: _Ctx) -> list[str]:
    """Derived (non-answer) nodes an expression reads, inner ones first, each once per part."""
    out: list[str] = []
    for name in _names_in_order(node):
        if name in ctx.graph.nodes and name not in ctx.answers and name not in ctx.shown:
            ctx.shown.add(name)
            out += _derived_names(ctx.graph.nodes[name].node, ctx) + [name]
    return out


def _derived_steps(name: str, ctx: _Ctx) -> list[Step]:
    """'where' lines for a derived value: its inner worked steps, then formula = numbers = value."""
    node = ctx.graph.nodes[name].node
    value = ctx.values.get(name)
    sym = symbol(name)
    details = _detail_steps(node, ctx, sym, None, top=True)
    formula = _Tex(ctx, "sym")(node)
    numbers = "" if _contains(node, "grad") else _Tex(ctx, "num")(node)
    shown = _v(value)
    if not details and (isinstance(value, str) or len(shown) > MAX_SHOWN):
        return []
    numbers = numbers if len(numbers) <= 160 else ""
    # A renderer of the whole expression ends in the value: state the formula first, without it.
    if details and isinstance(node, Call) and node.fn in RENDERERS:
        return [_step(sym.tex(), formula, numbers, role="where")] + details
    stages = _stages(node, ctx) if numbers else []
    where = _step(sym.tex(), formula, numbers, *stages, shown if len(shown) <= MAX_SHOWN else "", role="where",
                  value=value if _is_num(value) else None)
    return details + [where]


def _detail_steps(node: Node, ctx: _Ctx, sym: Sym, ref: str | None, top: bool) -> list[Step]:
    """The worked steps inside an expression: inner calls first, as a student would write them."""
    if isinstance(node, Seq):
        return [s for item in node.items for s in _detail_steps(item, ctx, sym, None, False)]
    if not isinstance(node, Call):
        return []
    root = _grad_root(node)
    if root is not None:
        call, idx = root
        focus = _focus(ctx, idx)
        lhs = _grad_lhs(root, ref or "", ctx) if top else _grad_lhs(root, "", ctx)
        return _grad_steps(call, ctx, lhs, focus, ref if top else None, indexed=idx is not None)
    steps: list[Step] = []
    taken = branch_taken(node, ctx)  # `a if c else b` with one c: the steps of the branch taken
    args = [taken] if taken is not None else list(node.args) + [v for _, v in node.kwargs]
    for arg in args:  # an inner call names itself (see `here`): no symbol of its own to pass down
        steps += _detail_steps(arg, ctx, sym, None, False)
    renderer = RENDERERS.get(node.fn)
    if renderer is not None:
        steps += _argument_steps(node, ctx)
    if not top and _Tex(ctx, "num").scalar_maths(node):
        return steps  # min(1, 2) is written out where it is used
    if renderer is not None:
        here = sym
        if not top:  # an inner call is named by its formula (long ones get a short name)
            written = _Tex(ctx, "sym")(node)
            here = Sym(written if len(written) <= 64 else r"\mathrm{out}")
        try:
            steps += renderer(_view(node, ctx, here, ref if top else None))
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, FloatingPointError):
            steps.append(_note(f"({node.fn}: worked steps not available for these values)"))
    elif not top and not (FUNCTIONS[node.fn].quiet if node.fn in FUNCTIONS else node.fn.startswith("_")):
        steps.append(_step(_Tex(ctx, "num")(node), _v(ctx.value(node)), value=ctx.value(node)))
    return steps


def _argument_steps(node: Call, ctx: _Ctx) -> list[Step]:
    """An argument worked out by hand before a renderer uses its entries: |w|^q = |[1.5, -0.5]|^2 = [1.5, 0.5]^2."""
    steps = []
    for arg in list(node.args) + [v for _, v in node.kwargs]:
        depths: dict[Node, int] = {}
        if not isinstance(arg, Call) or arg.fn in RENDERERS or _hand_depths(arg, ctx, depths) == 0:
            continue
        value = ctx.value(arg)
        steps.append(_step(_Tex(ctx, "sym")(arg), _Tex(ctx, "num")(arg), *_stages(arg, ctx), _v(value),
                           value=value if _is_num(value) else None))
    return steps


def _focus(ctx: _Ctx, idx: Node | None) -> tuple[int, ...] | None:
    """The asked entry of a gradient: grad(...)[i], or --entry."""
    if idx is None:
        return ctx.entry
    v = ctx.value(idx)
    items = v if isinstance(v, (tuple, list, np.ndarray)) else (v,)
    return tuple(int(i) for i in np.asarray(items, dtype=float).ravel())


def _statement_call(part: Any, ctx: _Ctx) -> Call | None:
    """The `statement_key(order, [holds...])` call of a property question's blank, or None."""
    if len(part.blanks) != 1 or part.blanks[0].name not in ctx.graph.nodes:
        return None
    node = ctx.graph.nodes[part.blanks[0].name].node
    ok = isinstance(node, Call) and node.fn == "statement_key" and len(node.args) == 2 and isinstance(node.args[1], Seq)
    return node if ok else None


def _statements_explanation(part: Any, ctx: _Ctx) -> dict[str, Any]:
    """Each shown statement judged: its predicate with the instance's numbers, true or false, and why."""
    b = part.blanks[0]
    call = _statement_call(part, ctx)
    order = [int(i) for i in np.asarray(ctx.value(call.args[0]), dtype=float).ravel()]
    steps: list[Step] = []
    for idx, option in zip(order, part.options, strict=False):
        node = call.args[1].items[idx]
        value = bool(np.all(ctx.value(node)))
        steps.append(_note(f"{option.letter}: {' '.join(option.text.split())}"))
        for name in _derived_names(node, ctx):
            steps += _derived_steps(name, ctx)
        sym = Sym(rf"\text{{{option.letter}}}")
        steps += _detail_steps(node, ctx, sym, None, top=False)
        formula, numbers = _Tex(ctx, "sym")(node), _Tex(ctx, "num")(node)
        steps.append(_step(sym.tex(), formula, numbers, *_stages(node, ctx), _v(value), value=value,
                           text=f"statement {option.letter} is {'true' if value else 'false'}:"))
        if option.reason:
            steps.append(_note(" ".join(option.reason.split())))
    steps.append(_step(symbol(b.name).tex(), _v(b.expected), role="result", value=b.expected, ref=(b.name, None)))
    return {"name": b.name, "label": b.label, "kind": b.kind, "expected": _plain(b.expected),
            "expected_text": fmt_value(b.expected), "tex": symbol(b.name).tex(), "steps": steps}


def _options(part: Any) -> list[dict[str, Any]]:
    """Each option with whether it is correct, why, and the mistake it names (from the exam's data)."""
    return [{"letter": o.letter, "text": o.text, "correct": o.correct, "reason": o.reason, "mistake": o.mistake}
            for o in part.options]
