"""Every part of every shipped spec is explained step by step, over a sample of seeded instances.

What "step by step" means here (the acceptance test of issue 18's worked steps):

For one part of one instance, let the *text* be every lhs, rhs and note of every step of every
blank's explanation (LaTeX, as `explain` builds it), and let a value *appear* when its formatted
form (`fmt_value(v, "math")`, the formatter every step uses) occurs in the text, or, for an array,
when each of its first six entries (row-major) occurs as a formatted number. The expressions
*read* by a blank are its own expression and, recursively, those of the derived values it reads
(not those of earlier blanks: they are explained in their own part); `grad(out, wrt, g)` reads
only `g` for its value (the chain rule works out the rest), `c if cond else d` reads `cond`
and the branch taken only, and a property question's `statement_key(order, [...])` reads the
statements shown only.

(a) Some step of the part (a formula, a working step or a "where" line; not a given or the
    result) has a right-hand side, other than the bare value it ends in, containing a number of
    the instance as the formatter writes it: an entry of a sampled parameter, a given or an
    earlier blank the part reads. Parts that read no such number (a constant answer) have
    nothing to substitute.
(b) Every intermediate appears: every derived value and every earlier blank the part reads (when
    numeric), and the value of every sub-expression a student evaluates by hand in the
    expressions read: calls of sqrt, exp, the logarithms, abs, sin, cos, powers and quotients
    (with at least one name among their arguments), and calls of any function with worked steps
    of its own (one not marked quiet).
(c) Every call of a function with worked steps of its own in those expressions is worked out:
    the function has a renderer, and the renderer ran (no "worked steps not available" note).
(d) No negative number follows a + or a - bare (`2 - -1`): it is written in parentheses.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.evaluate import Evaluator
from i2dl.explain import RENDERERS, explain_instance
from i2dl.expr import Call, Const, Dict, Name, Node, Seq
from i2dl.functions import FUNCTIONS
from i2dl.render import fmt_number, fmt_value
from tests.samples import LIBRARY, SAMPLES, instances

#: seeds sampled per spec, spread over the cached 0..1999
PER_SPEC = 30
STRIDE = SAMPLES // PER_SPEC
#: calls whose value a student works out by hand on the way to the answer
HAND = {"sqrt", "exp", "log", "ln", "log2", "log10", "abs", "sin", "cos", "pow", "div", "floordiv"}
MAX_SHOWN = 6


def _texts(part: dict) -> list[str]:
    out = []
    for b in part["blanks"]:
        for s in b["steps"]:
            out += [s["lhs"], s["text"], *s["rhs"]]
    return out


def _numeric(v: Any) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return True
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.size > 0


def _token(s: str, text: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(s)}(?![\d.])", text) is not None


def _appears(v: Any, text: str) -> bool:
    if fmt_value(v, "math") in text:
        return True
    if isinstance(v, (bool, np.bool_, str)):
        return False
    a = np.asarray(v, dtype=float).ravel()
    return all(_token(fmt_number(float(e), style="math"), text) for e in a[:MAX_SHOWN])


class _Reader:
    """Walks the expressions a blank reads: derived names, hand-evaluated calls, worked functions."""

    def __init__(self, inst: Any, compiled: Any, answers: set[str]):
        self.graph = compiled.graph
        self.values = inst.values
        self.answers = answers
        self.ev = Evaluator(get_engine("numpy"), inst.values, compiled.graph)
        self.names: list[str] = []
        self.leaves: list[str] = []
        self.hand: list[tuple[Node, Any]] = []
        self.worked: list[str] = []

    def name(self, n: str) -> None:
        if n in self.names or n in self.leaves:
            return
        if n not in self.graph.nodes:
            if n in self.values:
                self.leaves.append(n)
            return
        self.names.append(n)
        if n not in self.answers:
            self.walk(self.graph.nodes[n].node)

    def walk(self, node: Node) -> None:
        if isinstance(node, Name):
            self.name(node.id)
        elif isinstance(node, Seq):
            for i in node.items:
                self.walk(i)
        elif isinstance(node, Dict):
            for _, v in node.items:
                self.walk(v)
        elif isinstance(node, Call):
            self.call(node)

    def call(self, node: Call) -> None:
        args = list(node.args) + [v for _, v in node.kwargs]
        if node.fn == "grad":
            for a in list(node.args[2:]) + [v for k, v in node.kwargs if k == "upstream"]:
                self.walk(a)
            return
        if node.fn == "statement_key" and len(node.args) == 2 and isinstance(node.args[1], Seq):
            self.walk(node.args[0])
            for i in np.asarray(self.ev.eval(node.args[0]), dtype=float).ravel():
                self.walk(node.args[1].items[int(i)])
            return
        if node.fn == "where" and np.ndim(self.ev.eval(node.args[0])) == 0:
            self.walk(node.args[0])
            self.walk(node.args[1] if bool(self.ev.eval(node.args[0])) else node.args[2])
            return
        for a in args:
            self.walk(a)
        fn = FUNCTIONS.get(node.fn)
        if fn is None:
            return
        if not fn.quiet:
            self.worked.append(node.fn)
        if (node.fn in HAND or not fn.quiet) and not all(isinstance(a, Const) for a in args):
            value = self.ev.eval(node)
            if _numeric(value):
                self.hand.append((node, value))


def _part_gaps(inst: Any, compiled: Any, part: Any, expl: dict) -> list[str]:
    """What the explanation of one part lacks, by the definition above (empty: complete)."""
    answers = {b.name for p in inst.parts for b in p.blanks}
    reader = _Reader(inst, compiled, answers)
    for b in part.blanks:
        reader.names.append(b.name)  # the blank itself is shown as the result
        reader.walk(compiled.graph.nodes[b.name].node)
    texts = _texts(expl)
    text = "\n".join(texts)
    gaps = []
    own = {b.name for b in part.blanks}
    read = reader.leaves + [n for n in reader.names if n in answers and n not in own]
    numbers = {fmt_number(float(e), style="math") for n in read if _numeric(inst.values[n])
               for e in np.asarray(inst.values[n], dtype=float).ravel()}
    if numbers:
        ok = False
        for b in expl["blanks"]:
            for s in b["steps"]:
                if s["role"] in ("given", "result") or not s["lhs"]:
                    continue
                end = None if s["value"] is None else fmt_value(s["value"], "math")
                rhs = [r for r in s["rhs"] if r != end]
                if any(_token(t, r) or _token(t.lstrip("-"), r) for r in rhs for t in numbers):
                    ok = True
        if not ok:
            gaps.append("(a) no formula with the instance's numbers")
    for n in reader.names:
        v = inst.values.get(n)
        if v is not None and _numeric(v) and not _appears(v, text):
            gaps.append(f"(b) the value of {n} = {fmt_value(v)} is not shown")
    for node, v in reader.hand:
        if not _appears(v, text):
            gaps.append(f"(b) {node.fn}(...) = {fmt_value(v)} is not shown")
    for fn in reader.worked:
        if fn not in RENDERERS:
            gaps.append(f"(c) {fn} has no worked steps")
    if "worked steps not available" in text:
        gaps.append("(c) a renderer failed")
    clash = _SIGN_CLASH.search(text)
    if clash:  # a negative number right after + or -: written in parentheses, as on paper
        gaps.append(f"(d) a sign clash: {clash.group(0)!r}")
    return gaps


_SIGN_CLASH = re.compile(r"[0-9}] [+-] -[0-9]")


def explanation_gaps(spec_id: str, seeds: range | list[int]) -> dict[str, list[str]]:
    """Gaps per 'seed part' for the given seeds of a spec (from the shared sample cache)."""
    compiled = LIBRARY.get(spec_id)
    cache = instances(spec_id)
    out: dict[str, list[str]] = {}
    for seed in seeds:
        inst = cache[seed]
        expl = explain_instance(inst, compiled=compiled)
        for part, pe in zip(inst.parts, expl["parts"], strict=True):
            gaps = _part_gaps(inst, compiled, part, pe)
            if gaps:
                out[f"seed {seed} part {part.number}"] = sorted(set(gaps))
    return out


@pytest.mark.library
@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_explanation_of_every_part_shows_a_formula_with_numbers_and_every_intermediate(spec_id):
    gaps = explanation_gaps(spec_id, range(0, SAMPLES, STRIDE))
    assert gaps == {}


# --------------------------------------------------------------------------- conv2d-by-hand counts from 0


def _indices(text: str, sym: str) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in re.findall(sym + r"_\{(\d+),(\d+)\}", text)}


def test_conv2d_by_hand_counts_from_0_on_the_sheet_in_the_key_and_in_the_worked_steps(tmp_path):
    from i2dl.exam import build_exam
    from i2dl.explain import explain_part, explain_spec, key_steps
    from i2dl.export import write_exam

    exam = build_exam("conv2d-by-hand", 3, engine_name="numpy")
    write_exam(exam, tmp_path, steps=key_steps(exam))
    sheet, key = (tmp_path / "exam.md").read_text(), (tmp_path / "key.md").read_text()
    prob = exam.problems[0]
    oh, ow = prob.values["oh"], prob.values["ow"]
    nh, nw = np.shape(prob.values["X"])
    assert "counting from 0" in sheet
    # the key's worked steps name outputs Z_00 .. Z_(oh-1)(ow-1) and inputs from X_00: never one past the end
    assert (0, 0) in _indices(key, "Z") and max(_indices(key, "Z")) < (oh, ow)
    assert (0, 0) in _indices(key, "X") and all(i < nh and j < nw for i, j in _indices(key, "X"))
    forward = explain_part(exam, "1.2")["blanks"][0]
    first = next(s for s in forward["steps"] if s["ref"] and s["ref"]["index"] == [0, 0])
    assert first["lhs"] == "Z_{0,0}" and first["value"] == pytest.approx(prob.values["Z"][0][0])
    grad = explain_part(exam, "1.3")["blanks"][0]
    assert any("$Z_{0,0}$ (times $K_{0,0}$)" in s["text"] for s in grad["steps"])
    # the formula is the sheet's: X at (s i + a, s j + b)
    strided = next(e for e in (explain_spec("conv2d-by-hand", seed=s, library=LIBRARY) for s in range(40))
                   if e["params"]["stride"] == 2)
    z_steps = strided["parts"][1]["blanks"][0]["steps"]
    assert any(s["lhs"] == "Z_{i,j}" and "2 i + a" in s["rhs"][0] and "2 j + b" in s["rhs"][0] for s in z_steps)
    # --entry counts as the sheet does
    one = explain_part(exam, "1.2", entry="0,1")["blanks"][0]
    assert [s["lhs"] for s in one["steps"] if s["ref"] and s["ref"]["index"]] == ["Z_{0,1}"]


def test_entry_counts_from_1_where_the_sheet_does():
    from i2dl.errors import UsageError
    from i2dl.explain import explain_spec

    one = explain_spec("conv1d-backprop", seed=0, entry="1", library=LIBRARY)
    z = one["parts"][1]["blanks"][0]["steps"]
    assert [s["lhs"] for s in z if s["ref"] and s["ref"]["index"]] == ["z_{1}"]
    with pytest.raises(UsageError):
        explain_spec("conv1d-backprop", seed=0, entry="0", library=LIBRARY)


# --------------------------------------------------------------------------- layer gradients called directly


def test_layer_gradient_functions_work_out_each_entry_as_the_engine_computes_it():
    """conv/pool/loss gradients and the softmax Jacobian: each shown entry's sum of products is the engine's entry."""
    from pathlib import Path

    from i2dl.explain import explain_spec
    from i2dl.expr import parse

    spec = Path(__file__).parent / "fixtures" / "layer-gradients.yaml"
    expl = explain_spec(str(spec))
    checked = set()
    for b in expl["parts"][0]["blanks"]:
        expected = np.asarray(b["expected"], dtype=float)
        for s in b["steps"]:
            if not (s["ref"] and s["ref"]["index"]):
                continue
            idx = tuple(s["ref"]["index"])
            assert s["value"] == pytest.approx(expected[idx]), (b["name"], idx)
            products = next((r for r in s["rhs"] if r"\cdot" in r and "_" not in r), None)
            if products is not None:  # the numbers line, read back by the expression parser
                text = products.replace(r"\cdot", "*").replace(r"\left", "").replace(r"\right", "")
                text = re.sub(r"\\frac\{(.+?)\}\{(.+?)\}", r"(\1)/(\2)", text)
                value = Evaluator(get_engine("numpy"), {}, None).eval(parse(text).node)
                assert float(value) == pytest.approx(expected[idx], abs=1e-5), (b["name"], idx, products)
            checked.add(b["name"])
    assert checked == {b["name"] for b in expl["parts"][0]["blanks"]}
