"""Worked solutions from the answer graph: `i2dl explain` and the steps in the solution key.

For every blank of a part the explanation gives the formula (the blank's expression rendered as
maths), the numbers substituted, the steps a student would write in between (each conv output
as its sum of products, each pooling window, the chain rule node by node, ...) and the result.
All of it is derived from the spec's expressions and the instance's stored values; no text is
written per instance. Detail steps are computed from stored values with plain numpy; values
the instance does not hold (a nested sub-expression, the chain rule's intermediate gradients)
are evaluated with the numpy engine unless another engine is asked for, so explaining an
instance never imports torch.

Explanations are plain data (dicts, lists, strings, numbers): `explanation_markdown` renders
them as Markdown with LaTeX, `explanation_renderable` as terminal text with Unicode maths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from i2dl.errors import I2dlError, NotFoundError, UsageError
from i2dl.evaluate import Evaluator, Graph
from i2dl.expr import Call, Const, Dict, Name, Node, Seq, free_names
from i2dl.functions import FUNCTIONS
from i2dl.render import fmt_number, fmt_value

MAX_ENTRIES = 6  # entries written out before "... and N more"
MAX_STEPS_T = 4  # optimizer steps written out
MAX_PATHS = 8  # chain-rule paths written out in a path sum
MAX_JACOBIAN = 4096  # entries of a local Jacobian worth computing for a hand-sized problem
ATOM, POW, NEG, PROD, SUM, CMP, LOGIC, COND = 100, 80, 70, 60, 50, 40, 20, 5

Step = dict[str, Any]


# ============================================================================ public API


def explain_part(exam: Any, number: str, *, engine_name: str | None = None,
                 entry: Any = None, student: str | Path | None = None) -> dict[str, Any]:
    """The worked solution of part `number` ('3.6') of an exam (an Exam or its folder)."""
    exam = _exam(exam)
    prob, part = exam.find_part(str(number))
    graded = _grade_student(exam, student, engine_name)
    ctx = _context(prob, engine_name, _entry(entry)) if prob.kind == "spec" else None
    return _part_explanation(prob, part, ctx, graded)


def explain_problem(exam: Any, problem_number: int | str, *, engine_name: str | None = None,
                    entry: Any = None, student: str | Path | None = None) -> dict[str, Any]:
    """The worked solution of every part of problem `problem_number` of an exam."""
    exam = _exam(exam)
    try:
        number = int(problem_number)
    except (TypeError, ValueError):
        raise UsageError(f"'{problem_number}' is not a problem number",
                         fix="problems: " + ", ".join(str(p.number) for p in exam.problems)) from None
    prob = exam.find_problem(number)
    graded = _grade_student(exam, student, engine_name)
    return _problem_explanation(prob, engine_name, _entry(entry), graded)


def explain_spec(spec_id: str, pins: dict[str, Any] | None = None, seed: int = 0, *,
                 engine_name: str | None = None, entry: Any = None, library: Any = None) -> dict[str, Any]:
    """The worked solution of every part of a spec for pinned (and otherwise seeded) parameters."""
    from i2dl.engine import get_engine
    from i2dl.spec.instance import make_instance
    from i2dl.spec.load import Library, load_spec

    library = library or Library()
    path = Path(spec_id)
    try:
        compiled = load_spec(path) if path.suffix in (".yaml", ".yml") and path.exists() else library.get(spec_id)
    except NotFoundError as exc:
        if "known specs" not in (exc.fix or ""):  # name what exists, not only the near misses
            exc.fix = (exc.fix or "").strip() + " known specs: " + ", ".join(library.ids())
        raise
    inst = make_instance(compiled, int(seed), get_engine(engine_name or "numpy"), pins=dict(pins or {}))
    out = _problem_explanation(inst, engine_name, _entry(entry), None, compiled=compiled)
    out["params"] = {k: _plain(v) for k, v in inst.params.items()}
    out["warnings"] = list(inst.warnings)
    return out


def explain_target(words: list[str], *, exam_dir: str | Path = "exam", pins: dict[str, Any] | None = None,
                   seed: int = 0, engine_name: str | None = None, entry: Any = None,
                   student: str | Path | None = None) -> dict[str, Any]:
    """What `i2dl explain WORDS` asks for: 'problem 3.6', '3.6', 'problem 3', or a spec id."""
    words = [w for w in words if w.strip()]
    if words and words[0].lower() == "problem":
        words = words[1:]
        if not words:
            raise UsageError("'explain problem' needs a number", fix="e.g. i2dl explain problem 3.6")
    if len(words) != 1:
        raise UsageError(f"expected one part, problem or spec id, got {' '.join(words) or 'nothing'}",
                         fix="e.g. i2dl explain 3.6, i2dl explain problem 3, i2dl explain conv1d-backprop")
    target = words[0]
    if re.fullmatch(r"\d+(\.\d+)?", target):
        if pins:
            raise UsageError("--param pins the parameters of a spec, not of an exam problem",
                             fix="give a spec id, e.g. i2dl explain conv1d-backprop --param j=2")
        exam = _exam(exam_dir)
        if "." in target:
            return explain_part(exam, target, engine_name=engine_name, entry=entry, student=student)
        return explain_problem(exam, int(target), engine_name=engine_name, entry=entry, student=student)
    if student is not None:
        raise UsageError("--student compares with an exam's answers; it needs a part or problem number",
                         fix="e.g. i2dl explain 3.6 --student answers.yaml")
    return explain_spec(target, pins, seed, engine_name=engine_name, entry=entry)


def key_steps(exam: Any) -> dict[str, str]:
    """Worked steps per part number, as Markdown, for the solution key (spec problems only)."""
    steps: dict[str, str] = {}
    for prob in exam.problems:
        if prob.kind != "spec":
            continue
        try:
            ctx = _context(prob, None, None)
        except I2dlError:
            continue  # a spec that no longer loads keeps its key without worked steps
        for part in prob.parts:
            try:
                expl = _part_explanation(prob, part, ctx, None)
            except (I2dlError, ArithmeticError, LookupError, TypeError, ValueError):
                continue  # the key keeps this part's answers; worked steps must never stop an exam
            steps[part.number] = part_markdown(expl, header=False)
    return steps


# ============================================================================ plumbing


def _exam(exam: Any) -> Any:
    """An Exam, loading it from a folder; a missing folder lists the exams that do exist."""
    if not isinstance(exam, (str, Path)):
        return exam
    from i2dl.exam import EXAM_FILE, load_exam

    try:
        return load_exam(exam)
    except NotFoundError as exc:
        here = sorted(str(p.parent) for p in Path(".").glob(f"*/{EXAM_FILE}"))
        exc.fix = ("exams here: " + ", ".join(here) + " (pass --exam DIR)") if here else \
            "no exam folders here: run `i2dl generate --out DIR` first, or pass --exam DIR"
        raise


def _entry(entry: Any) -> tuple[int, ...] | None:
    """A 1-based entry 'i' or 'i,j' (or a tuple) as a 0-based index tuple."""
    if entry is None or entry == "":
        return None
    items = entry if isinstance(entry, (tuple, list)) else str(entry).replace(";", ",").split(",")
    try:
        idx = tuple(int(str(i).strip()) - 1 for i in items)
    except ValueError:
        raise UsageError(f"cannot read --entry '{entry}'", fix="write a 1-based entry: --entry 2 or --entry 1,2") from None
    if not idx or min(idx) < 0:
        raise UsageError(f"--entry '{entry}' must be 1-based positive numbers", fix="e.g. --entry 1,2")
    return idx


def _context(prob: Any, engine_name: str | None, entry: tuple[int, ...] | None, compiled: Any = None) -> _Ctx:
    from i2dl.spec.load import Library

    compiled = compiled or Library().get(prob.spec_id)
    answers = {b.name for part in prob.parts for b in part.blanks}
    return _Ctx(compiled.graph, dict(prob.values), engine_name, entry, answers)


def _problem_explanation(prob: Any, engine_name: str | None, entry: tuple[int, ...] | None,
                         graded: _Graded | None, compiled: Any = None) -> dict[str, Any]:
    ctx = _context(prob, engine_name, entry, compiled) if prob.kind == "spec" else None
    parts = [_part_explanation(prob, part, ctx, graded) for part in prob.parts]
    out = {"kind": "problem", "number": prob.number, "title": prob.title, "spec": prob.spec_id,
           "seed": prob.seed, "statement": prob.statement, "points": prob.points, "parts": parts}
    if graded is not None:
        out["student"] = graded.header()
    return out


class _LazyEngine:
    """An engine loaded on first use, so explaining from stored values loads none at all."""

    def __init__(self, name: str):
        self._name = name
        self._loaded = None

    def __getattr__(self, op: str) -> Any:
        if self._loaded is None:
            from i2dl.engine import get_engine

            self._loaded = get_engine(self._name)
        return getattr(self._loaded, op)


class _Ctx:
    """One instance's graph and values; evaluates what is not stored, once, with the engine."""

    def __init__(self, graph: Graph, values: dict[str, Any], engine_name: str | None,
                 entry: tuple[int, ...] | None, answers: set[str]):
        self.graph = graph
        self.values = values
        self.entry = entry
        self.answers = answers
        # The numbers are the same on both engines; numpy keeps torch unloaded.
        self.engine = _LazyEngine(engine_name or "numpy")
        self._cache: dict[Node, Any] = {}
        self._traces: dict[tuple, dict[str, Any]] = {}
        self._jacobians: dict[tuple[str, str], np.ndarray | None] = {}
        self.shown: set[str] = set()

    def value(self, node: Node | None) -> Any:
        """The value of an expression: stored when it is a node, else evaluated once."""
        if node is None:
            return None
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Name) and node.id in self.values:
            return self.values[node.id]
        if node not in self._cache:
            self._cache[node] = Evaluator(self.engine, self.values, self.graph).eval(node)
        return self._cache[node]

    def trace(self, out: str, wrt: str, upstream: Any) -> dict[str, Any]:
        """d L / d node for every named node between out and wrt (out first, wrt last)."""
        key = (out, wrt, _key(upstream))
        if key not in self._traces:
            trace: dict[str, Any] = {}
            Evaluator(self.engine, self.values, self.graph).gradient(out, wrt, upstream, trace=trace)
            self._traces[key] = trace
        return self._traces[key]

    def jacobian(self, n: str, u: str) -> np.ndarray | None:
        """The local Jacobian d n / d u (rows: entries of n, columns: entries of u), other inputs fixed."""
        if (n, u) not in self._jacobians:
            self._jacobians[(n, u)] = self._local_jacobian(n, u)
        return self._jacobians[(n, u)]

    def _local_jacobian(self, n: str, u: str) -> np.ndarray | None:
        vn, vu = _arr(self.values[n]), _arr(self.values[u])
        if vn.size * vu.size > MAX_JACOBIAN:
            return None
        # A one-node graph: the gradient flows through n's own expression only.
        mini = Graph({n: self.graph.nodes[n]}, [n], {n: self.graph.deps.get(n, frozenset())})
        ev = Evaluator(self.engine, self.values, mini)
        rows = []
        for k in range(vn.size):
            seed = np.zeros(vn.size)
            seed[k] = 1.0
            g = ev.gradient(n, u, seed.reshape(vn.shape) if vn.ndim else 1.0)
            rows.append(_arr(g).ravel())
        return np.array(rows).reshape(vn.size, vu.size)

    def pick(self, shape: tuple[int, ...]) -> tuple[list[tuple[int, ...]], int]:
        """The entries to write out (the asked one, or the first few) and how many are left out."""
        every = list(np.ndindex(*shape)) if shape else [()]
        if self.entry is not None and len(self.entry) <= len(shape):
            chosen = [p for p in every if p[len(p) - len(self.entry):] == self.entry]
            if chosen:
                return chosen, 0
        return every[:MAX_ENTRIES], max(0, len(every) - MAX_ENTRIES)


def _key(v: Any) -> Any:
    if v is None:
        return None
    a = _arr(v)
    return (a.shape, tuple(np.round(a.ravel(), 12)))


# ============================================================================ plain values and numbers


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _plain(v: Any) -> Any:
    """JSON-ready data: arrays as lists, sets as letters, tuples as lists."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (frozenset, set)):
        return "".join(sorted(v))
    if isinstance(v, (tuple, list)):
        return [_plain(t) for t in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _n(v: Any) -> str:
    """A number in LaTeX; tiny numbers such as eps as powers of ten."""
    if isinstance(v, (bool, np.bool_)):
        return r"\text{true}" if v else r"\text{false}"
    f = float(v)
    if f != 0 and abs(f) < 1e-4 and math.isfinite(f):
        mant, exp = f"{f:.3e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        power = f"10^{{{int(exp)}}}"
        return power if mant == "1" else ("-" + power if mant == "-1" else f"{mant} \\cdot {power}")
    return fmt_number(v)


def _f(v: Any) -> str:
    """A number as a factor: negative numbers in parentheses."""
    t = _n(v)
    return f"({t})" if t.startswith("-") else t


def _tx(s: Any) -> str:
    """Text inside LaTeX, escaped."""
    s = str(s)
    for a, b in (("\\", r"\backslash "), ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("%", r"\%"),
                 ("&", r"\&"), ("#", r"\#"), ("$", r"\$")):
        s = s.replace(a, b)
    return rf"\text{{{s}}}"


def _v(v: Any) -> str:
    """Any value in LaTeX: numbers, vectors [a, b], matrices as bmatrix, shapes a x b, text."""
    if v is None:
        return _tx("none")
    if isinstance(v, str):
        return _tx(v)
    if isinstance(v, (bool, np.bool_)) or _is_num(v):
        return _n(v)
    if isinstance(v, (frozenset, set)):
        return _tx(", ".join(sorted(v)) if v else "none")
    if isinstance(v, dict):
        return r"\{" + ", ".join(f"{_tx(k)}: {_v(x)}" for k, x in v.items()) + r"\}"
    if isinstance(v, tuple) and v and all(isinstance(t, (int, np.integer)) for t in v) and not hasattr(v, "_fields"):
        return r" \times ".join(str(int(t)) for t in v)
    if isinstance(v, (list, tuple)) and not all(_is_num(t) for t in v):
        return "[" + ", ".join(_v(t) for t in v) + "]"
    a = np.asarray(v)
    if a.dtype.kind not in "biuf":
        return _tx(fmt_value(v))
    if a.ndim == 0:
        return _n(a.item())
    if a.ndim == 1:
        return "[" + ", ".join(_n(t) for t in a.tolist()) + "]"
    if a.ndim == 2:
        rows = [" & ".join(_n(t) for t in row) for row in a.tolist()]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"
    return "[" + ", ".join(_v(r) for r in a) + "]"


def _prec_of(tex: str) -> int:
    return NEG if tex.startswith("-") else ATOM


def _sum_products(rows: list[tuple[Any, ...]]) -> str:
    """'0.5 \\cdot 2 + 1.5 \\cdot (-1)': every factor but the very first in parentheses when negative."""
    terms = []
    for i, row in enumerate(rows):
        terms.append(r" \cdot ".join(_n(f) if i == 0 and j == 0 else _f(f) for j, f in enumerate(row)))
    return " + ".join(terms) if terms else "0"


def _sum_values(values: list[Any]) -> str:
    """'1 + 4.5 + (-0.5)'."""
    return " + ".join(_n(t) if i == 0 else _f(t) for i, t in enumerate(values)) if values else "0"


def _close(a: Any, b: Any, tol_abs: float = 1e-6, tol_rel: float = 1e-6) -> bool:
    try:
        x, y = _arr(a), _arr(b)
    except (TypeError, ValueError):
        return a == b
    return x.shape == y.shape and bool(np.all(np.abs(x - y) <= np.maximum(tol_abs, tol_rel * np.abs(y)) + 1e-12))


# ============================================================================ steps


def _step(lhs: str = "", *rhs: str, text: str = "", value: Any = None, ref: tuple[str, Any] | None = None,
          role: str = "step") -> Step:
    """One line of working: text, then lhs = rhs[0] = rhs[1] = ..., repeats dropped."""
    chain: list[str] = []
    for r in rhs:
        if r and r != lhs and (not chain or r != chain[-1]):
            chain.append(r)
    return {"role": role, "text": text, "lhs": lhs, "rhs": chain, "value": _plain(value),
            "ref": None if ref is None else {"node": ref[0], "index": None if ref[1] is None else list(ref[1])}}


def _note(text: str) -> Step:
    return _step(text=text, role="note")


def _more(hidden: int) -> Step:
    return _note(f"... and {hidden} more entries, computed the same way (--entry i,j shows one)")


# ============================================================================ symbols


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "nu", "rho",
          "sigma", "tau", "phi", "psi", "omega", "pi", "kappa", "xi", "zeta", "chi"}
_ALIASES = {"eps": r"\epsilon", "sig2": r"\sigma^{2}", "sigma2": r"\sigma^{2}", "var": r"\sigma^{2}"}
_GRAD_NAME = re.compile(r"d([A-Z][a-z]?\d*|[a-z])d([A-Za-z][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Sym:
    """How a quantity is written: its base symbol, and a numerator when it is a gradient dnum/dbase."""

    base: str
    num: str | None = None

    def tex(self) -> str:
        return _partial(self.num, self.base) if self.num else self.base

    def at(self, idx: Any) -> str:
        """The entry idx (0-based ints, or LaTeX subscripts) written 1-based."""
        if idx is None or (isinstance(idx, tuple) and not idx):
            return self.tex()
        subs = [s if isinstance(s, str) else str(int(s) + 1) for s in idx]
        return self.at_tex(subs)

    def at_tex(self, subs: list[str]) -> str:
        base = self.base
        if any(t in base for t in ("_", "\\frac", " ", "^", "(")):
            base = rf"\left({base}\right)"
        entry = f"{base}_{{{','.join(subs)}}}"
        return _partial(self.num, entry) if self.num else entry

    def grad(self, num: str) -> Sym:
        return Sym(self.base, num)


def _partial(num: str, den: str) -> str:
    return rf"\frac{{\partial {num}}}{{\partial {den}}}"


def _word(w: str) -> str:
    if w in _GREEK:
        return "\\" + w
    if len(w) == 1 or w.isdigit():
        return w
    return rf"\mathrm{{{w}}}"


def _plain_symbol(name: str) -> Sym:
    parts = [p for p in name.split("_") if p]
    if not parts:
        return Sym(_tx(name))
    head, subs = parts[0], parts[1:]
    if len(head) > 1 and head not in _GREEK and any(len(t) > 1 and not t.isdigit() and t != "hat" for t in subs):
        return Sym(_tx(name).replace(r"\text", r"\mathrm", 1))  # params_conv1, lands_on_minimum: a word
    if subs == ["star"]:
        return Sym(f"{_word(head)}^{{*}}")
    hat = bool(subs) and subs[-1] == "hat"
    if hat:
        subs = subs[:-1]
    if head in _ALIASES and not subs:
        return Sym(_ALIASES[head])
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", head)
    digits = []
    if m and (len(m.group(1)) <= 2 or m.group(1) in _GREEK):
        head, digits = m.group(1), [m.group(2)]
    if subs and re.fullmatch(r"hat\d*", subs[0]):  # m_hat1: m-hat with index 1
        hat, digits, subs = True, digits + ([subs[0][3:]] if subs[0][3:] else []), subs[1:]
    if re.fullmatch(r"[a-z]{1,2}hat", head):  # xhat
        hat, head = True, head[:-3]
    base = _word(head)
    if hat:
        base = rf"\hat{{{base}}}"
    idx = digits + [_word(s) for s in subs]
    return Sym(f"{base}_{{{','.join(idx)}}}" if idx else base)


def symbol(name: str) -> Sym:
    """How a node name is written: W1 -> W_1, g_y -> g_y, dLdz -> dL/dz, x_hat -> x-hat, beta -> beta."""
    m = _GRAD_NAME.fullmatch(name)
    if m:
        return Sym(_plain_symbol(m.group(2)).base, _plain_symbol(m.group(1)).base)
    return _plain_symbol(name)


# ============================================================================ expressions as maths


_INFIX = {"add": ("+", SUM), "sub": ("-", SUM), "mul": (r"\cdot", PROD), "dot": (r"\cdot", PROD),
          "matmul": (r"\,", PROD), "_odot": (r"\odot", PROD), "mod": (r"\bmod", PROD),
          "lt": ("<", CMP), "le": (r"\le", CMP), "gt": (">", CMP), "ge": (r"\ge", CMP),
          "eq": ("=", CMP), "ne": (r"\ne", CMP)}
# Calls rendered as operators keep their structure when numbers are substituted.
_OPERATORS = set(_INFIX) | {"neg", "pos", "div", "pow", "floordiv", "transpose", "and_", "or_", "not_",
                            "where", "_sum"}
_ACT_NAMES = {"relu": r"\operatorname{ReLU}", "leaky_relu": r"\operatorname{LReLU}", "sigmoid": r"\sigma",
              "sigma": r"\sigma", "tanh": r"\tanh", "elu": r"\operatorname{ELU}", "identity": r"\operatorname{id}"}
_FN_NAMES = {**_ACT_NAMES, "softmax": r"\operatorname{softmax}", "mse": r"\operatorname{MSE}",
             "l1": r"\operatorname{L1}", "bce": r"\operatorname{BCE}", "cross_entropy": r"\operatorname{CE}",
             "bce_with_logits": r"\operatorname{BCE}_{\sigma}",
             "cross_entropy_with_logits": r"\operatorname{CE}_{\operatorname{softmax}}",
             "log": r"\ln", "ln": r"\ln", "log2": r"\log_{2}", "log10": r"\log_{10}", "sin": r"\sin",
             "cos": r"\cos", "max": r"\max", "min": r"\min", "mean": r"\operatorname{mean}"}


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

    def __init__(self, ctx: _Ctx, mode: str, trace: dict[str, Any] | None = None, collapse: bool = False):
        self.ctx = ctx
        self.mode = mode
        self.trace = trace or {}
        self.collapse = collapse  # worked-out calls (dot, conv, grad, ...) as their values

    def __call__(self, node: Node) -> str:
        return self.render(node, root=True)[0]

    def render(self, node: Node, root: bool = False) -> tuple[str, int]:
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
        if node.fn not in _SCALAR_MATHS:
            return False
        try:
            return all(np.size(self.ctx.value(a)) == 1 for a in node.args)
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
            return "-" + _wrap(self.render(a[0]), PROD + 1), NEG
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
            name = _ACT_NAMES.get(kind, _tx(kind))
            return f"{name}{chr(39) if fn == 'activate_grad' else ''}\\left({r['x']}\\right)", ATOM
        if fn.endswith("_grad") and fn[:-5] in _ACT_NAMES:
            return f"{_ACT_NAMES[fn[:-5]]}'\\left({r['x']}\\right)", ATOM
        name = _FN_NAMES.get(fn, rf"\operatorname{{{fn.replace('_', chr(92) + '_')}}}")
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


def _is_number_tex(t: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", t)) or t.startswith(r"\frac{") and "partial" not in t


def _is_none(node: Node) -> bool:
    return isinstance(node, Const) and node.value is None


def _index_subs(idx: Node, tex: _Tex) -> list[str]:
    """An index expression written 1-based: j - 1 -> j, 0 -> 1, i -> i + 1."""
    items = idx.items if isinstance(idx, Seq) else (idx,)
    out = []
    for it in items:
        if isinstance(it, Const) and isinstance(it.value, str):
            out.append(_tx(it.value))
        elif isinstance(it, Const) and _is_num(it.value):
            out.append(str(int(it.value) + 1))
        elif isinstance(it, Call) and it.fn == "sub" and it.args[1] == Const(1):
            out.append(tex.render(it.args[0])[0])
        elif isinstance(it, Call) and it.fn == "slice_":
            out.append(":")
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


# ============================================================================ blanks and parts


def _part_explanation(prob: Any, part: Any, ctx: _Ctx | None, graded: _Graded | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "part", "number": part.number, "id": part.id, "problem": prob.number,
                           "title": prob.title, "spec": prob.spec_id, "text": part.text, "points": part.points,
                           "blanks": [], "options": []}
    if part.reasons:
        out["options"] = _options(part)
    elif ctx is not None:
        ctx.shown = set()
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
            steps.append(_step(sym.tex(), formula, numbers, role="formula"))
    steps += _detail_steps(node, ctx, sym, b.name, top=True)
    collapsed = _collapsed(node, ctx)
    if collapsed and not any(collapsed in st["rhs"] for st in steps):
        steps.append(_step(sym.tex(), collapsed, value=b.expected, ref=(b.name, None)))
    steps.append(_step(sym.tex(), _v(b.expected), role="result", value=b.expected, ref=(b.name, None)))
    return {"name": b.name, "label": b.label, "kind": b.kind, "expected": _plain(b.expected),
            "expected_text": fmt_value(b.expected), "tex": sym.tex(), "steps": steps}


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


def _grad_root(node: Node) -> tuple[Call, Node | None] | None:
    """(grad call, index expression) when the expression is grad(...) or grad(...)[i]."""
    if isinstance(node, Call) and node.fn == "grad":
        return node, None
    if isinstance(node, Call) and node.fn == "index" and isinstance(node.args[0], Call) and node.args[0].fn == "grad":
        return node.args[0], node.args[1]
    return None


def _grad_lhs(root: tuple[Call, Node | None], blank: str, ctx: _Ctx) -> Sym:
    call, idx = root
    names = dict(zip(("out", "wrt", "upstream"), call.args, strict=False)) | dict(call.kwargs)
    wrt = symbol(names["wrt"].id) if isinstance(names.get("wrt"), Name) else Sym("?")
    num = _numerator(call, blank)
    if idx is None:
        return wrt.grad(num)
    return Sym(wrt.at_tex(_index_subs(idx, _Tex(ctx, "sym"))), num)


def _contains(node: Node, fn: str) -> bool:
    if isinstance(node, Call):
        return node.fn == fn or any(_contains(a, fn) for a in node.args) or any(_contains(v, fn) for _, v in node.kwargs)
    if isinstance(node, Seq):
        return any(_contains(i, fn) for i in node.items)
    if isinstance(node, Dict):
        return any(_contains(v, fn) for _, v in node.items)
    return False


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
    if not details and (isinstance(value, str) or len(shown) > 120):
        return []
    numbers = numbers if len(numbers) <= 160 else ""
    # A renderer of the whole expression ends in the value: state the formula first, without it.
    if details and isinstance(node, Call) and node.fn in RENDERERS:
        return [_step(sym.tex(), formula, numbers, role="where")] + details
    where = _step(sym.tex(), formula, numbers, shown if len(shown) <= 120 else "", role="where",
                  value=value if _is_num(value) else None)
    return details + [where]


_OPTIMIZERS = {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}
_SCALAR_MATHS = {"min", "max", "abs", "floor", "ceil", "round", "exp", "log", "ln", "log2", "log10", "sqrt", "sin",
                 "cos", "sign"}
_QUIET = _OPERATORS | _SCALAR_MATHS | {"index", "slice_", "transpose", "flatten", "reshape", "shape", "len", "zeros", "ones", "eye",
                       "onehot", "concat", "stack", "layer", "letters", "letter", "int", "float", "count", "size",
                       "is_int", "decimals", "distinct", "nonzero", "mixed_sign", "pool_ties", "all", "any", "round",
                       "lt", "le", "gt", "ge", "eq", "ne", "outer"}


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
    for arg in list(node.args) + [v for _, v in node.kwargs]:
        steps += _detail_steps(arg, ctx, Sym(_Tex(ctx, "sym")(arg)), None, False)
    renderer = RENDERERS.get(node.fn)
    if not top and _Tex(ctx, "num").scalar_maths(node):
        return steps  # min(1, 2) is written out where it is used
    written = _Tex(ctx, "sym")(node)
    here = sym if top else Sym(written if len(written) <= 40 else r"\mathrm{out}")  # long calls get a short name
    if renderer is not None:
        try:
            steps += renderer(_view(node, ctx, here, ref if top else None))
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, FloatingPointError):
            steps.append(_note(f"({node.fn}: worked steps not available for these values)"))
    elif not top and node.fn not in _QUIET and not node.fn.startswith("_"):
        steps.append(_step(_Tex(ctx, "num")(node), _v(ctx.value(node)), value=ctx.value(node)))
    return steps


def _focus(ctx: _Ctx, idx: Node | None) -> tuple[int, ...] | None:
    """The asked entry of a gradient: grad(...)[i], or --entry."""
    if idx is None:
        return ctx.entry
    v = ctx.value(idx)
    items = v if isinstance(v, (tuple, list, np.ndarray)) else (v,)
    return tuple(int(i) for i in np.asarray(items, dtype=float).ravel())


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


# ============================================================================ renderers: layers

RENDERERS: dict[str, Callable[[View], list[Step]]] = {}


def renders(*names: str) -> Callable:
    """Register a detail renderer for the named functions."""

    def deco(f: Callable[[View], list[Step]]) -> Callable[[View], list[Step]]:
        for n in names:
            RENDERERS[n] = f
        return f

    return deco


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
        sizes = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in
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
        out = []
        for c in range(self.x.shape[0]):
            for off in np.ndindex(*self.w.shape[2:]):
                src = tuple(i * s + j for i, s, j in zip(spatial, self.s, off, strict=False))
                out.append(((o, c, *off), (c, *src)))
        return out


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
    for idx in chosen:
        pos = cv.channel(idx)
        rows = [(cv.w[wi], cv.xp[xi]) for wi, xi in cv.taps(pos)]
        total = sum(a * c for a, c in rows) + (bias[pos[0]] if bias is not None else 0.0)
        rhs = _sum_products(rows) + (f" + {_f(bias[pos[0]])}" if bias is not None else "")
        steps.append(_step(v.sym.at(idx), rhs, _n(total), value=total, ref=v.eref(idx)))
    if hidden:
        steps.append(_more(hidden))
    return steps


def _conv_formula(v: View, cv: _Conv, bias: bool) -> Step:
    """z_i = sum_j c_j x_(i-1)s+j (+ b): which inputs each output multiplies."""
    x = v.s("x").base + (r"^{\mathrm{pad}}" if any(cv.p) else "")
    xs, ws = Sym(x), v.s("w")
    if cv.nd == 1:
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
        steps.append(_step(v.sym.at_tex([str(i + 1), ":"]), _v(T[i]), value=T[i]))
    if T.shape[0] > MAX_ENTRIES:
        steps.append(_more(T.shape[0] - MAX_ENTRIES))
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
    out_sp = tuple((n - kk) // ss + 1 for n, kk, ss in zip(xc.shape[1:], k, s, strict=False))
    shape = out_sp if x.ndim == nd else (xc.shape[0], *out_sp)
    chosen, hidden = v.ctx.pick(shape)
    xs = v.s("x")
    for idx in chosen:
        c, pos = (0, idx) if x.ndim == nd else (idx[0], idx[1:])
        cells = [tuple(i * ss + j for i, ss, j in zip(pos, s, off, strict=False)) for off in np.ndindex(*k)]
        vals = [xc[(c, *cell)] for cell in cells]
        names = [xs.at(cell if x.ndim == nd else (c, *cell)) for cell in cells]
        if kind == "max":
            sym = rf"\max\left({', '.join(names)}\right)" if len(cells) <= 4 else ""
            num = rf"\max\left({', '.join(_n(t) for t in vals)}\right)"
            value = max(vals)
        else:
            sym = rf"\frac{{{' + '.join(names)}}}{{{len(cells)}}}" if len(cells) <= 4 else ""
            num = rf"\frac{{{_sum_values(vals)}}}{{{len(cells)}}}"
            value = float(np.mean(vals))
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


# ============================================================================ renderers: activations, softmax


def _act_forward(kind: str, x: float, alpha: float) -> tuple[str, str, float]:
    """(symbolic, numeric, value) of one activation entry; `x` written as X in the symbolic form."""
    if kind == "relu":
        return r"\max(0, X)", rf"\max(0, {_n(x)})", max(0.0, x)
    if kind == "leaky_relu":
        return (r"\max(\alpha X, X)", rf"\max({_n(alpha)} \cdot {_f(x)}, {_n(x)})", x if x > 0 else alpha * x)
    if kind in ("sigmoid", "sigma"):
        return r"\frac{1}{1 + e^{-X}}", rf"\frac{{1}}{{1 + e^{{-{_f(x)}}}}}", 1.0 / (1.0 + math.exp(-x))
    if kind == "tanh":
        return r"\tanh(X)", rf"\tanh({_n(x)})", math.tanh(x)
    if kind == "elu":
        return (r"X \text{ if } X > 0 \text{ else } \alpha(e^{X} - 1)",
                _n(x) if x > 0 else rf"{_n(alpha)}(e^{{{_n(x)}}} - 1)", x if x > 0 else alpha * (math.exp(x) - 1))
    return "X", _n(x), x


def _act_derivative(kind: str, x: float, alpha: float) -> tuple[str, str, float]:
    """(symbolic, numeric, value) of one activation derivative entry."""
    if kind == "relu":
        return r"\mathbb{1}[X > 0]", rf"\mathbb{{1}}[{_n(x)} > 0]", 1.0 if x > 0 else 0.0
    if kind == "leaky_relu":
        return (r"1 \text{ if } X > 0 \text{ else } \alpha", "1" if x > 0 else rf"\alpha = {_n(alpha)}",
                1.0 if x > 0 else alpha)
    if kind in ("sigmoid", "sigma"):
        sv = 1.0 / (1.0 + math.exp(-x))
        return r"\sigma(X)(1 - \sigma(X))", rf"{_n(sv)}(1 - {_n(sv)})", sv * (1 - sv)
    if kind == "tanh":
        t = math.tanh(x)
        return r"1 - \tanh^{2}(X)", rf"1 - {_f(t)}^{{2}}", 1 - t * t
    if kind == "elu":
        return (r"1 \text{ if } X > 0 \text{ else } \alpha e^{X}", "1" if x > 0 else rf"{_n(alpha)} e^{{{_n(x)}}}",
                1.0 if x > 0 else alpha * math.exp(x))
    return "1", "1", 1.0


@renders("relu", "sigmoid", "sigma", "tanh", "leaky_relu", "elu", "identity", "activate",
         "relu_grad", "sigmoid_grad", "tanh_grad", "leaky_relu_grad", "elu_grad", "identity_grad", "activate_grad")
def _render_activation(v: View) -> list[Step]:
    """f(x_i) (or f'(x_i)) per entry, with the rule and the numbers."""
    fn = v.call.fn
    derivative = fn.endswith("_grad")
    kind = str(v.args["kind"]) if fn.startswith("activate") else fn.removesuffix("_grad")
    alpha = float(v.args.get("alpha", 0.01 if kind == "leaky_relu" else 1.0))
    x = _arr(v.args["x"])
    rule = _act_derivative if derivative else _act_forward
    xs = v.s("x")
    chosen, hidden = v.ctx.pick(x.shape)
    steps = []
    for idx in chosen:
        sym, num, val = rule(kind, float(x[idx]), alpha)
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
        for i in range(len(row)):
            p = ex[i] / total
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
                      _n(v.out), value=v.out, ref=v.eref(None))]
    return [_step(v.sym.tex(), r"w - H^{-1} \nabla f(w)", rf"{_v(w)} - {_v(h)}^{{-1}} {_v(g)}", _v(v.out),
                  value=v.out, ref=v.eref(None))]


# ============================================================================ renderers: batch norm, reductions


@renders("batchnorm_train")
def _render_batchnorm(v: View) -> list[Step]:
    """Per channel: the batch mean, the (biased) variance, the normalized values, scale and shift."""
    x = _arr(v.args["x"])
    gamma, beta, eps = v.args.get("gamma"), v.args.get("beta"), float(v.args.get("eps", 1e-5))
    cols = x.reshape(x.shape[0], x.shape[1], -1) if x.ndim > 1 else x.reshape(-1, 1, 1)
    steps: list[Step] = []
    for c in range(min(cols.shape[1], 3)):
        vals = cols[:, c, :].ravel()
        mu, var = float(vals.mean()), float(vals.var())
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
        for i, t in enumerate(vals[:MAX_ENTRIES]):
            xh = (t - mu) / math.sqrt(var + eps)
            at = f"{i + 1},{c + 1}" if cols.shape[1] > 1 else f"{i + 1}"
            steps.append(_step(rf"\hat{{x}}_{{{at}}}", rf"\frac{{{_n(t)} - {_f(mu)}}}{{\sqrt{{{_n(var)} + {_n(eps)}}}}}",
                               _n(xh), value=xh))
            if gamma is not None or beta is not None:
                steps.append(_step(f"y_{{{at}}}", rf"\gamma{sub} \hat{{x}}_{{{at}}} + \beta{sub}",
                                   rf"{_n(g)} \cdot {_f(xh)} + {_f(b)}", _n(g * xh + b), value=g * xh + b))
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


@renders("max", "min", "argmax")
def _render_extreme(v: View) -> list[Step]:
    vals = v.args.get("*", [v.args.get("x")])
    flat = list(_arr(vals[0]).ravel()) if len(vals) == 1 else [float(t) for t in vals]
    if not 2 <= len(flat) <= 12:
        return []
    word = {"max": r"\max", "min": r"\min", "argmax": r"\operatorname{argmax}"}[v.call.fn]
    shown = _v(v.out) + (r" \text{ (counting from 0)}" if v.call.fn == "argmax" else "")
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


@renders("conv_params")
def _render_conv_params(v: View) -> list[Step]:
    a = v.args
    ks = [int(t) for t in np.atleast_1d(np.asarray(a["k"]))]
    if len(ks) == 1 and np.ndim(a["k"]) == 0:
        ks = ks * 2  # k means a k x k kernel
    kt, kn = r" \cdot ".join(["k"] * len(ks)) if len(set(ks)) == 1 else r" \cdot ".join(f"k_{i + 1}" for i in range(len(ks))), \
        r" \cdot ".join(str(t) for t in ks)
    cin, cout = int(a["c_in"]), int(a["c_out"])
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
    layers = list(v.args["layers"])
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
            return [_note(f"a fully connected layer maps the last axis ({shape[-1]}) to out = {layer.get('out')}")]
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
    layers = list(v.args["layers"])
    r, j = 1, 1
    steps = [_step("r_{0}", "1", text="start: one input pixel,", role="given"), _step("j_{0}", "1", role="given")]
    for i, layer in enumerate(layers, start=1):
        kind = str(layer.get("type", "")).lower()
        if kind in ("flatten", "linear"):
            steps.append(_note(f"layer {i} ({kind}): every unit sees every input, so the whole input"))
            break
        if kind not in ("conv1d", "conv2d", "maxpool1d", "avgpool1d", "maxpool2d", "avgpool2d"):
            steps.append(_note(f"layer {i} ({kind}): unchanged, r_{i} = r_{i - 1}"))
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


# ============================================================================ the chain rule


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
        sym = " + ".join(_Tex(ctx, "sym", trace)(t) for t in terms) if terms else "0"
        numbers = "" if opaque else " + ".join(_Tex(ctx, "num", trace)(t) for t in terms)
        whole = ref if (last and not indexed) else None
        steps.append(_step(symbol(u).grad(num).tex(), chain if merge else "", sym, numbers, _v(g_u), value=g_u,
                           ref=(whole, None) if whole else None))
        scalar = np.size(g_u) == 1 and all(np.size(ctx.values[n]) == 1 for n in hops[u])
        if len(hops[u]) == 1 and (last or opaque) and not scalar:
            entry_ref = ref if last else None
            steps += _hop_entries(_hop(hops[u][0], u, ctx), ctx, num, trace, out, up_node is None,
                                  focus if last else None, entry_ref, indexed and last)
    if focus is not None and n_hops >= 2:
        steps += _path_sum(order, hops, ctx, num, trace, out, wrt, focus, up_node is not None, ref if indexed else None)
    return steps


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
    if not isinstance(node, Call) or target not in free_names(node):
        return []
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


def _opaque(g: Node, label: str, target: str) -> Node:
    return Call("_opaque", (g, Const(_partial(label, symbol(target).tex()))))


def _c(fn: str, *args: Node) -> Call:
    return Call(fn, tuple(args))


def _local_vjp(call: Call, param: str, g: Node, ctx: _Ctx) -> Node | None:
    """The gradient into one argument of a call, as an expression in g (None: no simple formula)."""
    a = _arg_nodes(call)
    fn = call.fn
    if fn in ("add", "pos", "sum") or (fn == "sub" and param == "a"):
        return g
    if fn in ("neg",) or (fn == "sub" and param == "b"):
        return _c("neg", g)
    if fn == "mul":
        return _c("mul", g, a["b" if param == "a" else "a"])
    if fn == "div":
        if param == "a":
            return _c("div", g, a["b"])
        return _c("neg", _c("div", _c("mul", g, a["a"]), _c("pow", a["b"], Const(2))))
    if fn == "pow" and param == "a" and isinstance(a["b"], Const) and _is_num(a["b"].value):
        k = a["b"].value
        return _c("mul", g, _c("mul", Const(k), _c("pow", a["a"], Const(k - 1))))
    if fn == "exp":
        return _c("mul", g, call)
    if fn in ("log", "ln"):
        return _c("div", g, a["x"])
    if fn == "sqrt":
        return _c("div", g, _c("mul", Const(2), call))
    if fn == "mean":
        return _c("div", g, Const(int(np.size(ctx.value(a["x"])))))
    if fn == "transpose":
        return _c("transpose", g)
    if fn in ("dot", "matmul"):
        return _matmul_vjp(fn, param, g, a, ctx)
    if fn == "linear":
        return _linear_vjp(param, g, a, ctx)
    times = "mul" if np.size(ctx.value(call)) == 1 else "_odot"  # elementwise only for arrays
    if fn in _ACT_NAMES:
        return _c(times, g, Call("_fprime", (a["x"], Const(fn), a.get("alpha", Const(None)))))
    if fn == "activate" and param == "x":
        return _c(times, g, Call("_fprime", (a["x"], a["kind"], a.get("alpha", Const(0.01)))))
    if fn in ("mse", "l1") and param == "pred":
        return _regression_vjp(fn, g, a, ctx)
    if fn in ("bce", "bce_with_logits", "cross_entropy", "cross_entropy_with_logits") and param == "pred":
        return _classification_vjp(fn, g, a, ctx)
    return None


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


def _matmul_vjp(fn: str, param: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    va, vb = np.ndim(ctx.value(a["a"])), np.ndim(ctx.value(a["b"]))
    other = a["b"] if param == "a" else a["a"]
    if va == 1 and vb == 1:
        return _c("mul", g, other)
    if param == "a":
        return _c("matmul", g, _c("transpose", a["b"])) if vb == 2 else _c("matmul", _c("transpose", g), a["b"])
    return _c("matmul", _c("transpose", a["a"]), g) if va == 2 else _c("matmul", _c("transpose", a["a"]), g)


def _linear_vjp(param: str, g: Node, a: dict[str, Node], ctx: _Ctx) -> Node:
    conv = str(ctx.value(a["convention"])) if "convention" in a else "xW"
    if param == "b":
        # a bias is added to every sample: its gradient sums over the batch
        return Call("_batchsum", (g, Const(conv))) if np.ndim(ctx.value(a["x"])) == 2 else g
    if conv == "Wx":
        return _c("matmul", _c("transpose", a["w"]), g) if param == "x" else _c("matmul", g, _c("transpose", a["x"]))
    return _c("matmul", g, _c("transpose", a["w"])) if param == "x" else _c("matmul", _c("transpose", a["x"]), g)


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


def _fprime_tex(kind: str, x: str) -> str:
    if kind == "relu":
        return rf"\mathbb{{1}}[{x} > 0]"
    if kind in ("sigmoid", "sigma"):
        return rf"\sigma({x})(1 - \sigma({x}))"
    if kind == "tanh":
        return rf"(1 - \tanh^{{2}}({x}))"
    if kind == "identity":
        return "1"
    if kind == "leaky_relu":
        return rf"(\mathbb{{1}}[{x} > 0] + \alpha \, \mathbb{{1}}[{x} \le 0])"
    return f"{_ACT_NAMES.get(kind, _tx(kind))}'({x})"


def _fprime_value(ctx: _Ctx, node: Call) -> Any:
    x, kind, alpha = node.args
    k = str(ctx.value(kind))
    al = ctx.value(alpha)
    xs = _arr(ctx.value(x))
    alpha_v = float(al) if al is not None else (0.01 if k == "leaky_relu" else 1.0)
    vals = np.vectorize(lambda t: _act_derivative(k, float(t), alpha_v)[2])(xs) if xs.size else xs
    return float(vals) if np.ndim(vals) == 0 else vals


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
        steps.append(_step(lhs, " + ".join(sym_terms), _sum_products(rows), _n(value), value=value, ref=entry_ref))
    if hidden:
        steps.append(_more(hidden))
    return steps


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
    out_shape = tuple((n - kk) // ss + 1 for n, kk, ss in zip(x.shape, k, s, strict=False))
    xs, ms = symbol(hop.u), symbol(hop.n)
    steps = []
    for w, pos in enumerate(np.ndindex(*out_shape)):
        if w >= MAX_ENTRIES:
            steps.append(_more(int(np.prod(out_shape)) - MAX_ENTRIES))
            break
        cells = [tuple(i * ss + j for i, ss, j in zip(pos, s, off, strict=False)) for off in np.ndindex(*k)]
        vals = [x[c] for c in cells]
        names = ", ".join(xs.at(c) for c in cells)
        if hop.call.fn.startswith("max"):
            best = cells[int(np.argmax(vals))]
            steps.append(_note(f"window {w + 1} of ${ms.at(pos)}$: $({names}) = ({', '.join(_n(t) for t in vals)})$, "
                               f"maximum ${xs.at(best)} = {_n(x[best])}$, so "
                               f"${_partial(ms.at(pos), xs.at(best))} = 1$ and 0 for the others"))
        else:
            steps.append(_note(f"window {w + 1} of ${ms.at(pos)}$: $({names})$, each with "
                               f"${_partial(ms.at(pos), xs.at_tex(['i']))} = \\frac{{1}}{{{len(cells)}}}$"))
    return steps


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
        if fn in _ACT_NAMES or fn == "activate":
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
    cv = _conv_of(ctx.value(a["x"]), ctx.value(a["w"]), ctx.value(a.get("stride", Const(1))),
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


# ============================================================================ multiple choice


_OPTION = re.compile(r"^- \*\*([A-Z])\*\* (.*)$", re.M)


def _options(part: Any) -> list[dict[str, Any]]:
    """Each option with whether it is correct and why."""
    texts = dict(_OPTION.findall(part.text))
    expected = part.blanks[0].expected if part.blanks else frozenset()
    return [{"letter": chr(65 + i), "text": texts.get(chr(65 + i), ""), "correct": chr(65 + i) in expected,
             "reason": r} for i, r in enumerate(part.reasons)]


# ============================================================================ a student's answers


class _Graded:
    """A student's graded submission, matched to the explanation's steps."""

    def __init__(self, file: str, sub: Any, result: Any, exam: Any):
        self.file, self.sub, self.result, self.exam = file, sub, result, exam
        self.parts = {p.number: p for p in result.parts}

    def header(self) -> dict[str, Any]:
        r = self.result
        return {"file": self.file, "student_id": r.student_id, "name": r.name, "total": r.total,
                "max_points": r.max_points}

    def read_values(self, prob: Any) -> dict[str, Any]:
        """The student's readable values by node name across the problem (for upstream steps)."""
        out = {}
        for part in prob.parts:
            pr = self.parts.get(part.number)
            for br in pr.blanks if pr else []:
                if br.value is not None:
                    out[br.name] = br.value
        return out

    def attach(self, prob: Any, part: Any, expl: dict[str, Any]) -> None:
        """Put the student's answer next to each step and the rubric outcome on the part."""
        pr = self.parts.get(part.number)
        if pr is None:
            return
        # The grader's own shares, so the points shown agree with the grade.
        from i2dl.grade.score import _blank_points

        read = self.read_values(prob)
        tol = {b.name: (b.tol_abs or 1e-6, b.tol_rel or 1e-6) for p in prob.parts for b in p.blanks}
        results = {br.name: br for br in pr.blanks}
        # Blank points only mean something when the rubric adds them up (not for thresholds).
        per_blank = sum(br.credit * w for br, w in zip(pr.blanks, _blank_points(part), strict=False))
        shares = dict(zip([b.name for b in part.blanks], _blank_points(part), strict=False)) \
            if abs(per_blank - pr.score) < 1e-6 else {}
        first = None
        for blank in expl["blanks"]:
            br = results.get(blank["name"])
            if br is not None:
                blank["student"] = _blank_student(br, shares.get(br.name))
            diverges = _mark_steps(blank, br, read, tol)
            if first is None and diverges is not None:
                first = {"blank": blank["name"], "step": diverges, "label": blank["label"]}
        if expl["options"] and pr.blanks:
            chosen = pr.blanks[0].value or frozenset()
            for opt in expl["options"]:
                opt["chosen"] = opt["letter"] in chosen
            expl["options_student"] = _blank_student(pr.blanks[0], pr.points)
        expl["student"] = {"score": pr.score, "points": pr.points, "rubric": pr.rubric, "feedback": list(pr.feedback),
                           "diverges": first}


def _mark_steps(blank: dict[str, Any], br: Any, read: dict[str, Any], tol: dict[str, tuple[float, float]]) -> int | None:
    """Mark each step with the student's value; the index of the first step where they differ."""
    first = None
    for i, st in enumerate(blank["steps"]):
        mark = _step_student(st, read, tol)
        if mark is None:
            continue
        if not mark["ok"] and br is not None and br.status == "follow-through" and st["ref"]["node"] == blank["name"]:
            mark.update(ok=True, follow=True)  # wrong against the key, right from their own upstream values
        st["student"] = mark
        if not mark["ok"] and first is None:
            first = i
    if first is None and br is not None and br.status not in ("correct", "follow-through", "missing", "manual"):
        first = len(blank["steps"]) - 1  # wrong, though no single step shows it: the result
    return first


def _blank_student(br: Any, share: float | None) -> dict[str, Any]:
    points = None if share is None else round(br.credit * share, 6)
    return {"read": br.read, "status": br.status, "credit": br.credit, "points": points,
            "of": None if share is None else round(share, 6), "feedback": br.feedback, "alternative": br.alternative,
            "expected": br.expected}


def _step_student(st: Step, read: dict[str, Any], tol: dict[str, tuple[float, float]]) -> dict[str, Any] | None:
    """The student's value for the quantity a step computes, and whether it agrees."""
    ref = st.get("ref")
    if not ref or ref["node"] not in read or st.get("value") is None:
        return None
    got = read[ref["node"]]
    try:
        if ref["index"] is not None:
            a = np.asarray(got, dtype=float)
            idx = tuple(ref["index"])
            if a.ndim != len(idx) or any(i >= n for i, n in zip(idx, a.shape, strict=False)):
                return None
            got = float(a[idx])
        ta, tr = tol.get(ref["node"], (0.01, 0.01))
        ok = _close(got, st["value"], ta, tr)
    except (TypeError, ValueError):
        return None
    return {"value": _plain(got), "text": fmt_value(got), "ok": bool(ok)}


def _grade_student(exam: Any, student: str | Path | None, engine_name: str | None) -> _Graded | None:
    if student is None:
        return None
    from i2dl.grade.batch import load_submission
    from i2dl.grade.score import Grader

    path = Path(student)
    if not path.is_file():
        raise NotFoundError(f"no answer file '{student}'", fix="pass the student's answers.yaml with --student FILE")
    grader = Grader(exam, engine_name or "numpy")
    sub = load_submission(path, grader)
    return _Graded(str(path), sub, grader.grade(sub), exam)


# ============================================================================ Markdown


def _math(st: Step) -> str:
    parts = ([st["lhs"]] if st["lhs"] else []) + st["rhs"]
    return " = ".join(parts)


def explanation_markdown(expl: dict[str, Any]) -> str:
    """An explanation (part or problem) as Markdown with LaTeX maths."""
    if expl.get("kind") == "problem":
        out = [f"## Problem {expl['number']}: {expl['title']}", ""]
        if expl.get("params"):
            out += ["Parameters: " + ", ".join(f"${symbol(k).tex()} = {_v(_param_value(v))}$"
                                               for k, v in expl["params"].items()), ""]
        if expl.get("statement"):
            out += [expl["statement"], ""]
        for part in expl["parts"]:
            out += [part_markdown(part), ""]
        return "\n".join(out).rstrip() + "\n"
    return part_markdown(expl) + "\n"


def _param_value(v: Any) -> Any:
    return np.asarray(v, dtype=float) if isinstance(v, list) and v and all(_is_num(t) or isinstance(t, list) for t in v) else v


def part_markdown(expl: dict[str, Any], header: bool = True) -> str:
    """One part's worked solution as Markdown (without its header and text for the key)."""
    out: list[str] = []
    if header:
        out += [f"### {expl['number']} ({fmt_number(expl['points'])} p)", "", expl["text"], ""]
    else:
        out += ["**Worked solution**", ""]
    if expl.get("options"):
        right = [o["letter"] for o in expl["options"] if o["correct"]]
        out += [f"Correct options: **{', '.join(right) or 'none'}**", ""]
    for opt in expl.get("options", []):
        mark = "correct" if opt["correct"] else "wrong"
        chosen = "" if "chosen" not in opt else (" — you chose it" if opt["chosen"] else " — you did not choose it")
        out.append(f"- **{opt['letter']}** ({mark}{chosen}): {opt['reason']}")
    for blank in expl.get("blanks", []):
        out += [f"**{blank['label']}**", ""]
        for st in blank["steps"]:
            out.append(_step_markdown(st))
        if "student" in blank:
            out.append(_student_markdown(blank["student"]))
        out.append("")
    if "student" in expl:
        s = expl["student"]
        line = f"**Your score:** {fmt_number(s['score'], 3)} / {fmt_number(s['points'])} points (rubric {s['rubric']})"
        if s.get("diverges"):
            d = s["diverges"]
            line += f"; your working first differs in **{d['label']}**, step {d['step'] + 1}"
        out.append(line + ".")
        out += [f"- {f}" for f in s["feedback"]]
    return "\n".join(out).rstrip()


def _step_markdown(st: Step) -> str:
    math_ = _math(st)
    text = st["text"]
    prefix = {"result": "**result:** ", "given": "given: ", "where": "where "}.get(st["role"], "")
    body = " ".join(t for t in (text, f"${math_}$" if math_ else "") if t)
    line = f"- {prefix}{body}"
    mark = st.get("student")
    if mark:
        verdict = ("✓ (from your own earlier values)" if mark.get("follow") else "✓") if mark["ok"] else "✗"
        line += f" — yours: `{mark['text']}` {verdict}"
    return line


def _student_markdown(s: dict[str, Any]) -> str:
    line = f"- *your answer:* `{s['read'] or '(none)'}` — {s['status']}"
    if s["points"] is not None:
        line += f", {fmt_number(s['points'], 3)} / {fmt_number(s['of'], 3)} p"
    if s["feedback"]:
        line += f". {s['feedback']}"
    return line


# ============================================================================ terminal: Unicode maths

_GREEK_U = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "eta": "η",
            "theta": "θ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
            "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω", "kappa": "κ", "zeta": "ζ",
            "Delta": "Δ", "Sigma": "Σ", "Gamma": "Γ", "Lambda": "Λ", "Omega": "Ω", "Phi": "Φ"}
_SYMBOLS_U = {**_GREEK_U, "partial": "∂", "cdot": "·", "odot": "⊙", "times": "×", "top": "ᵀ", "sum": "Σ",
              "prod": "Π", "infty": "∞", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠",
              "approx": "≈", "to": "→", "Rightarrow": "⇒", "rightarrow": "→", "in": "∈", "lfloor": "⌊",
              "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "ldots": "…", "cdots": "⋯", "max": "max", "min": "min",
              "log": "log", "ln": "ln", "exp": "exp", "tanh": "tanh", "sin": "sin", "cos": "cos", "wedge": "∧",
              "vee": "∨", "bmod": "mod", "mid": "|", "quad": "  ", "qquad": "    ", "backslash": "\\",
              "nabla": "∇", "ell": "ℓ", "pm": "±", "cup": "∪", "cap": "∩", "|": "‖", "lVert": "‖", "rVert": "‖"}
_SUP = dict(zip("0123456789+-=()niTtkx", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵗᵏˣ", strict=False)) | {"ᵀ": "ᵀ", "'": "′", "*": "*"}
# Spaces after these are LaTeX spacing only; after operators they keep the text readable.
_SWALLOW = {"partial", "left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "lfloor", "lceil", "nabla",
            "frac", "sqrt", "operatorname", "mathrm", "text", "mathbf", "mathit", "textbf", "mathsf", "boldsymbol",
            "hat", "bar", "tilde", "vec", "mathbb", "begin", "end", "sum", "prod"}
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvx,", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ,", strict=False))
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def latex_to_unicode(tex: str) -> str:
    """The LaTeX this module writes (and exam texts use) as readable Unicode: dL/dz₁ = 2·1 + 1·0 = 2."""
    text, _ = _conv(tex, 0, None)
    text = re.sub(r"([⌊⌈(\[]) +", r"\1", text)
    text = re.sub(r" +([⌋⌉)\],])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def text_to_unicode(text: str) -> str:
    """Prose with $...$ maths, the maths made Unicode."""
    return _MATH.sub(lambda m: latex_to_unicode(m.group(1) or m.group(2)), text)


def _conv(s: str, i: int, stop: str | None) -> tuple[str, int]:
    out: list[str] = []
    while i < len(s):
        c = s[i]
        if stop is not None and c == stop:
            return "".join(out), i + 1
        if c == "\\":
            text, i = _command(s, i)
            out.append(text)
        elif c in "^_":
            arg, i = _arg(s, i + 1)
            out.append(_script(arg, _SUP if c == "^" else _SUB, c))
        elif c == "{":
            inner, i = _conv(s, i + 1, "}")
            out.append(inner)
        elif c == "}":
            i += 1
        elif c == "~":
            out.append(" ")
            i += 1
        elif c == "&":
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out), i


def _arg(s: str, i: int) -> tuple[str, int]:
    """One argument: {group}, a command, or a single character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        return _conv(s, i + 1, "}")
    if s[i] == "\\":
        return _command(s, i)
    return s[i], i + 1


def _raw_group(s: str, i: int) -> tuple[str, int]:
    while i < len(s) and s[i] == " ":
        i += 1
    if i < len(s) and s[i] == "{":
        depth, j = 1, i + 1
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        return s[i + 1:j - 1], j
    return (s[i], i + 1) if i < len(s) else ("", i)


def _command(s: str, i: int) -> tuple[str, int]:
    m = re.match(r"\\([A-Za-z]+|.)", s[i:])
    if m is None:
        return "\\", i + 1
    name = m.group(1)
    i += len(m.group(0))
    if name in _SWALLOW:
        while i < len(s) and s[i] == " ":
            i += 1
    if name == "frac":
        a, i = _arg(s, i)
        b, i = _arg(s, i)
        return f"{_group(a)}/{_group(b)}", i
    if name == "sqrt":
        a, i = _arg(s, i)
        return "√" + _group(a), i
    if name in ("operatorname", "mathrm", "text", "mathbf", "mathit", "textbf", "mathsf", "boldsymbol"):
        a, i = _arg(s, i)
        return a, i
    if name in ("hat", "bar", "tilde", "vec"):
        a, i = _arg(s, i)
        return a + {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7"}[name], i
    if name == "mathbb":
        a, i = _arg(s, i)
        return {"1": "𝟙", "R": "ℝ", "E": "𝔼"}.get(a, a), i
    if name == "begin":
        env, i = _raw_group(s, i)
        end = s.find(rf"\end{{{env}}}", i)
        body = s[i:end if end >= 0 else len(s)]
        i = end + len(rf"\end{{{env}}}") if end >= 0 else len(s)
        rows = [r for r in re.split(r"\\\\", body) if r.strip()]
        cells = [[latex_to_unicode(c) for c in r.split("&")] for r in rows]
        return "[" + ", ".join("[" + ", ".join(r) + "]" for r in cells) + "]", i
    if name in ("left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr"):
        if s[i:i + 1] == ".":
            return "", i + 1
        return "", i
    if name in (",", ";", ":", " "):
        return " ", i
    if name == "!":
        return "", i
    if name in ("{", "}", "_", "%", "&", "#", "$"):
        return name, i
    return _SYMBOLS_U.get(name, name), i


def _group(t: str) -> str:
    """Parentheses around a fraction's part when it is more than one term or factor."""
    t = t.strip()
    if re.search(r"[\s+\-·×/⊙]", t.lstrip("-∂")) and not (t.startswith("(") and t.endswith(")")):
        return f"({t})"
    return t


def _script(arg: str, table: dict[str, str], mark: str) -> str:
    arg = arg.strip()
    if arg and all(ch in table or ch in table.values() for ch in arg):
        return "".join(table.get(ch, ch) for ch in arg)
    return f"{mark}{arg}" if len(arg) == 1 else f"{mark}({arg})"


# ============================================================================ terminal: rich


def explanation_renderable(expl: dict[str, Any]) -> Any:
    """An explanation for the terminal: Unicode maths, aligned steps, colours that read without colour."""
    from rich.console import Group
    from rich.text import Text

    lines: list[Any] = []
    if expl.get("kind") == "problem":
        lines.append(Text(f"Problem {expl['number']} · {expl['title']} ({expl['spec']})", style="bold"))
        if expl.get("params"):
            lines.append(Text("parameters: " + ", ".join(
                f"{latex_to_unicode(symbol(k).tex())} = {latex_to_unicode(_v(_param_value(v)))}"
                for k, v in expl["params"].items()), style="dim"))
        if expl.get("statement"):
            lines.append(Text(text_to_unicode(expl["statement"])))
        if expl.get("student"):
            s = expl["student"]
            lines.append(Text(f"student {s['student_id']} ({s['file']}): {fmt_number(s['total'], 3)} / "
                              f"{fmt_number(s['max_points'])} points in the exam", style="bold"))
        for part in expl["parts"]:
            lines.append(Text(""))
            lines += _part_lines(part)
    else:
        lines += _part_lines(expl)
    return Group(*lines)


def _part_lines(expl: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    head = Text(f"{expl['number']}  ({fmt_number(expl['points'])} p)  ", style="bold")
    head.append(text_to_unicode(expl["text"].split("\n- **")[0] if expl.get("options") else expl["text"]))
    lines: list[Any] = [head]
    for opt in expl.get("options", []):
        t = Text("  ")
        t.append(f"{opt['letter']} ", style="bold")
        t.append("✓ correct " if opt["correct"] else "✗ wrong   ", style="green" if opt["correct"] else "red")
        if "chosen" in opt:
            right = opt["chosen"] == opt["correct"]
            t.append("[chosen] " if opt["chosen"] else "[not chosen] ", style="green" if right else "red bold")
        t.append(text_to_unicode(opt["text"]))
        lines.append(t)
        lines.append(Text("      " + text_to_unicode(opt["reason"]), style="dim"))
    if expl.get("options"):
        right = [o["letter"] for o in expl["options"] if o["correct"]]
        lines.append(Text(f"  correct options: {', '.join(right) or 'none'}", style="bold"))
    if expl.get("options_student"):
        lines.append(_student_text(expl["options_student"]))
    for blank in expl.get("blanks", []):
        lines.append(Text(""))
        lines.append(Text(f"▸ {blank['label']}", style="bold cyan"))
        lines += _step_lines(blank["steps"])
        if "student" in blank:
            lines.append(_student_text(blank["student"]))
    if "student" in expl:
        s = expl["student"]
        t = Text(f"\nscore {fmt_number(s['score'], 3)} / {fmt_number(s['points'])} p (rubric {s['rubric']})",
                 style="bold")
        if s.get("diverges"):
            d = s["diverges"]
            t.append(f"; first difference: {d['label']}, step {d['step'] + 1} (marked ✗)", style="yellow")
        lines.append(t)
        lines += [Text(f"  {f}", style="yellow") for f in s["feedback"]]
    return lines


def _step_lines(steps: list[Step]) -> list[Any]:
    from rich.cells import cell_len
    from rich.text import Text

    lhs = [latex_to_unicode(st["lhs"]) if st["lhs"] else "" for st in steps]
    width = min(max([cell_len(t) for t in lhs if t] + [0]), 28)
    out = []
    for st, left in zip(steps, lhs, strict=False):
        gutter = {"result": "⇒ ", "given": "· ", "where": "· "}.get(st["role"], "  ")
        line = Text("  " + gutter, style="bold green" if st["role"] == "result" else "dim")
        if st["text"]:
            line.append(text_to_unicode(st["text"]) + (" " if left or st["rhs"] else ""),
                        style="italic dim" if st["role"] == "note" else "italic")
        if left:
            pad = " " * max(0, width - cell_len(left)) if not st["text"] else ""
            line.append(left + pad, style="bold green" if st["role"] == "result" else "cyan")
        if st["rhs"]:
            rhs = [latex_to_unicode(r) for r in st["rhs"]]
            line.append(" = " if left else "", style="dim")
            body = " = ".join(rhs)
            line.append(body, style="bold green" if st["role"] == "result" else "")
        if st["role"] == "given":
            line.append("  (given)", style="dim")
        mark = st.get("student")
        if mark:
            line.append(f"   yours: {mark['text']} ", style="dim")
            line.append(("✓ from your own earlier values" if mark.get("follow") else "✓") if mark["ok"] else "✗ differs",
                        style="green" if mark["ok"] else "bold red")
        out.append(line)
    return out


def _student_text(s: dict[str, Any]) -> Any:
    from rich.text import Text

    good = s["status"] in ("correct", "follow-through")
    t = Text("  your answer: ", style="bold")
    t.append(s["read"] or "(none)")
    t.append(f"  {'✓' if good else '✗'} {s['status']}", style="green" if good else "red")
    if s["points"] is not None:
        t.append(f"  {fmt_number(s['points'], 3)} / {fmt_number(s['of'], 3)} p")
    if s["feedback"]:
        t.append(f"  {s['feedback']}", style="yellow")
    return t
