"""A spec's `loop`: T steps of a state update, unrolled into derived values with step-numbered names.

Step t reads the state before it (`w` means w_{t-1}), its data row (`x` means X's row t, cycled),
the step number `step`, and the body values of the same step; its update gives w_t (updates run in
order, like assignments: momentum's `w: "w - lr * v"` after `v: "beta * v + grad(L, w)"` uses the
new v). So a training
run is ordinary answer-graph nodes: z_1, L_1, w_1, z_2, ... and, per name, the stack of every
step's value (`w_steps`, `L_steps`; the state also as `w_0`). `grad(L, w)` in an update is the
gradient of the step's L by the state before the step, through that step only (each step is one
SGD step). Renaming is done on tokens, never by evaluating text.
"""

from __future__ import annotations

import io
import keyword
import tokenize

from i2dl.errors import SpecError
from i2dl.spec.model import DerivedParam, Loop

STEP = "step"


def rename(text: str, names: dict[str, str], where: str) -> str:
    """`text` with every variable token in `names` replaced (function names, keywords and kwargs kept)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise SpecError(f"cannot read '{text}': {exc}", where=where, fix="check brackets and operators") from None
    out = []
    for i, t in enumerate(toks):
        prev = toks[i - 1].string if i else ""
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        if (t.type == tokenize.NAME and t.string in names and not keyword.iskeyword(t.string)
                and prev != "." and nxt not in ("=", "(")):
            out.append((tokenize.NAME, names[t.string]))
        else:
            out.append((t.type, t.string))
    return tokenize.untokenize(out).strip()


def unroll(loop: Loop, taken: set[str], where: str = "loop") -> dict[str, DerivedParam]:
    """The loop's derived values in evaluation order: w_0, then per step data, body and new state, then stacks."""
    out: dict[str, str] = {}
    for s, expr in loop.state.items():
        out[f"{s}_0"] = expr
    for t in range(1, loop.steps + 1):
        names = {s: f"{s}_{t - 1}" for s in loop.state} | {STEP: str(t)}
        for d, src in loop.data.items():
            out[f"{d}_{t}"] = f"{src}[({t} - 1) % len({src})]"
            names[d] = f"{d}_{t}"
        for b, expr in loop.body.items():
            out[f"{b}_{t}"] = rename(expr, names, f"{where}.body.{b}")
            names[b] = f"{b}_{t}"
        for s, expr in loop.update.items():  # in order: a later update sees the new value of an earlier one
            out[f"{s}_{t}"] = rename(expr, names, f"{where}.update.{s}")
            names[s] = f"{s}_{t}"
    steps = range(1, loop.steps + 1)
    for n in [*loop.state, *loop.body]:
        out[f"{n}_steps"] = "[" + ", ".join(f"{n}_{t}" for t in steps) + "]"
    clash = sorted(set(out) & taken)
    if clash:
        raise SpecError(f"the loop makes the names {', '.join(clash)}, which the spec already uses",
                        where=where, fix="rename the loop's state, data or body names, or the parameters")
    return {name: DerivedParam(type="derived", expr=expr) for name, expr in out.items()}


def loop_names(loop: Loop) -> set[str]:
    """Every name the loop makes (the step values and their stacks)."""
    names = {f"{s}_0" for s in loop.state}
    for t in range(1, loop.steps + 1):
        names |= {f"{n}_{t}" for n in (*loop.data, *loop.body, *loop.state)}
    return names | {f"{n}_steps" for n in (*loop.state, *loop.body)}
