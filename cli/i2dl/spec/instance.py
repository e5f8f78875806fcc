"""Instances: a spec's parameters sampled (or pinned), its answer graph evaluated; plain data."""

from __future__ import annotations

import copy
import math
import re
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Any

import numpy as np

from i2dl import kinds, limits
from i2dl.errors import (
    BudgetError,
    EngineError,
    ExprError,
    SamplingError,
    SamplingTimeout,
    SpecError,
)
from i2dl.evaluate import Evaluator, fp_errors
from i2dl.expr import Name, free_names, parse
from i2dl.functions import holds
from i2dl.kinds import approx_equal
from i2dl.render import fmt_number, fmt_value, render_template
from i2dl.rounding import Rounding, default_rounding, rule_of, tolerance
from i2dl.spec import model as m
from i2dl.spec.load import CompiledSpec, SpecSource, compile_spec


@dataclass
class CheckItem:
    """A checklist item of a short answer: full (> 0), partial (`instead_of` a full one), deduction (< 0), mistake (0)."""

    id: str
    points: float
    text: str
    instead_of: str | None = None
    suggest: list[str] = field(default_factory=list)  # words that pre-highlight the item for a TA, nothing more

    @property
    def full(self) -> bool:
        return self.points > 0 and self.instead_of is None


@dataclass
class Blank:
    """One answer blank: what is expected and how it is compared."""

    name: str
    kind: str
    label: str
    expected: Any
    tol_abs: float = 0.0
    tol_rel: float = 0.0
    points: float | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    options: int = 0  # number of options, for choice blanks
    rounding: dict[str, Any] | None = None  # the rounding rule of a numeric blank (None: tol_abs/tol_rel alone)
    # A short answer (text, marked by a TA): what full credit says, the items awarded, the box's height.
    model_answer: str | None = None
    checklist: list[CheckItem] = field(default_factory=list)
    lines: int | None = None

    def tolerance(self, value: Any) -> tuple[Any, float]:
        """(absolute, relative) tolerance around `value`: the rounding rule's unit, or wider where tol says."""
        # The key's and the alternatives' are asked for on every comparison: computed once each.
        slot = -1 if value is self.expected else next(
            (i for i, a in enumerate(self.alternatives) if a["value"] is value), None)
        if slot is None:
            return tolerance(value, self.rule(), self.tol_abs, self.tol_rel)
        cache = self.__dict__.setdefault("_tolerances", {})
        if slot not in cache:
            cache[slot] = tolerance(value, self.rule(), self.tol_abs, self.tol_rel)
        return cache[slot]

    def rule(self) -> Rounding | None:
        """The rounding rule this blank is written with (None for kinds that are not numbers)."""
        if "_rule" not in self.__dict__:  # validated once, not at every comparison
            self.__dict__["_rule"] = rule_of(self.rounding)
        return self.__dict__["_rule"]


@dataclass
class McqOption:
    """One option of a multiple-choice part: letter, text, whether it is correct, why, and the mistake it names."""

    letter: str
    text: str
    correct: bool
    reason: str
    mistake: str | None = None  # the named mistake a computed wrong option comes from


@dataclass
class PartInstance:
    number: str
    id: str
    text: str  # for multiple choice the question's stem: its options are `options`
    points: float
    blanks: list[Blank]
    given: list[str] = field(default_factory=list)
    rubric: Any = None
    options: list[McqOption] = field(default_factory=list)  # multiple choice only, in the order shown
    fallback: dict[str, Any] = field(default_factory=dict)  # values offered for earlier answers, by name

    def blank_points(self) -> list[float]:
        """Each blank's points: as the answers give them (scaled to the part), else equal shares."""
        given = [b.points for b in self.blanks]
        if all(p is not None for p in given) and sum(given) > 0:
            scale = self.points / sum(given)
            return [p * scale for p in given]
        return [self.points / len(self.blanks)] * len(self.blanks)


@dataclass
class ProblemInstance:
    """A problem as plain data: spec id, seed, parameters, every computed value, the parts."""

    number: int
    spec_id: str
    title: str
    topic: str
    statement: str
    seed: int
    params: dict[str, Any]
    values: dict[str, Any]
    parts: list[PartInstance]
    points: float
    kind: str = "spec"
    warnings: list[str] = field(default_factory=list)
    tries: int = 1
    # The spec it was made from, as data (None for multiple choice, and for exams written before format 3).
    spec: SpecSource | None = None
    _compiled: CompiledSpec | None = field(default=None, init=False, repr=False, compare=False)

    def part(self, number: str) -> PartInstance | None:
        return next((p for p in self.parts if p.number == number), None)

    def givens(self) -> dict[str, Any]:
        """What the statement may show: every value but the answers (the blanks' keys)."""
        answers = {b.name for p in self.parts for b in p.blanks}
        return {k: v for k, v in self.values.items() if k not in answers}

    def compiled_spec(self) -> CompiledSpec | None:
        """The spec this instance was made from: the one it was sampled with, or compiled once from `spec`."""
        if self._compiled is None and self.spec is not None:
            self._compiled = compile_spec(self.spec)
        return self._compiled


# ---------------------------------------------------------------------------- sampling


@lru_cache(maxsize=1024)
def _reads(text: str, where: str) -> tuple[str, ...]:
    """The names a size or bound expression reads."""
    return tuple(sorted(free_names(parse(text, where=where).node)))


_SIZE_VALUES: dict[tuple, Any] = {}  # (text, where, budget, the values it reads) -> its value
_SCALAR_TYPES = (int, float, bool, str, np.int64, np.float64, np.bool_)


def _size_value(text: str, where: str, env: dict[str, Any]) -> Any:
    """The value of a size or bound expression over `env`, worked out once per distinct value of what it reads."""
    try:
        read = tuple((type(v), v) for v in (env.get(n, _size_value) for n in _reads(text, where)))
        key = (text, where, limits.current_budget(), read)
        hit = _SIZE_VALUES.get(key, _size_value)
    except TypeError:  # an array among the values: not a key, evaluated every time
        key, hit = None, _size_value
    if hit is not _size_value:
        return hit
    value = Evaluator(None, env).eval(parse(text, where=where).node, where)
    if key is not None and type(value) in _SCALAR_TYPES:
        if len(_SIZE_VALUES) >= 4096:
            _SIZE_VALUES.clear()
        _SIZE_VALUES[key] = value
    return value


def _bound(v: float | str, env: dict[str, Any] | None) -> float:
    """A range bound: a number, or an expression over earlier values (max: h)."""
    if isinstance(v, str):
        return float(_size_value(v, f"bound '{v}'", env or {}))
    return float(v)


def _bound_text(v: float | str) -> str:
    return v if isinstance(v, str) else fmt_number(v)


def _grid(p: m._Grid, env: dict[str, Any] | None = None, where: str | None = None) -> np.ndarray | list:
    if p.choices is not None:
        return list(p.choices)
    exclude = tuple(p.exclude or ())
    lo, hi = _bound(p.min, env), _bound(p.max, env)
    if lo > hi:
        raise SpecError(f"the range {p.min}..{p.max} is empty here ({lo:g} > {hi:g})", where=where)
    if not np.isfinite(hi - lo):
        raise SpecError(f"the range {p.min}..{p.max} is not finite here ({lo:g}..{hi:g})", where=where)
    count = np.floor((hi - lo) / p.step + 1e-9) + 1
    # the grid is built in full: its size is checked before it is allocated (the text only when it is too large)
    if count > limits.current_budget().elements:
        limits.check_elements(count, limits.current_budget(), where,
                              f"range {_bound_text(p.min)}..{_bound_text(p.max)} step {_bound_text(p.step)}")
    return _fixed_grid(lo, hi, float(p.step), exclude)


@lru_cache(maxsize=1024)
def _fixed_grid(lo: float, hi: float, step: float, exclude: tuple) -> np.ndarray:
    """A grid of these bounds, built once: sampling reads it on every try (read-only, so shared safely)."""
    grid = _range_grid(lo, hi, step, exclude)
    grid.flags.writeable = False
    return grid


def _range_grid(lo: float, hi: float, step: float, exclude: tuple) -> np.ndarray:
    """lo, lo + step, ... up to hi, rounded to the step's decimals, without `exclude` (its size already checked)."""
    n = int(np.floor((hi - lo) / step + 1e-9) + 1)
    decimals = max(0, -int(np.floor(np.log10(step))) if step < 1 else 0) + 2
    values = np.round(lo + step * np.arange(n), decimals)
    if exclude:
        values = values[~np.isin(values, np.asarray(exclude, dtype=float))]
    return values


def _plain(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        f = float(x)
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    return x


def param_shape(p: Any, env: dict[str, Any] | None = None, where: str | None = None) -> tuple[int, ...]:
    """The shape of a vector or matrix parameter; sizes may be expressions over earlier values."""
    dims = [p.length] if isinstance(p, m.VectorParam) else list(p.shape)
    if all(isinstance(d, int) for d in dims):  # constant sizes, checked by the model: the common case, kept cheap
        size = 1
        for d in dims:
            size *= d
        if size > limits.current_budget().elements:
            limits.check_elements(float(size), limits.current_budget(), where, f"shape {_short_repr(dims)}")
        return tuple(dims)
    out = []
    for d in dims:
        if isinstance(d, str):
            at = f"{where} size '{d}'" if where else f"size '{d}'"
            v = _size_value(d, at, env or {})
            if not _whole(v) or int(v) < 1:
                raise SpecError(f"size '{d}' evaluates to {_short_repr(v)}, not a positive whole number",
                                where=where, fix="pin or sample the sizes it reads as positive integers")
            d = int(v)
        out.append(int(d))
    size = float(math.prod(out))
    if size > limits.current_budget().elements:  # the message is built only when it is needed
        limits.check_elements(size, limits.current_budget(), where, f"shape {_short_repr(out)}")
    return tuple(out)


def _whole(v: Any) -> bool:
    """True for a finite whole number (an int, a float such as 3.0, a 0-d array); False for anything else."""
    if isinstance(v, (bool, np.bool_, str)):
        return False
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return isinstance(v, int)  # an int too large for a float is still whole
    return np.isfinite(f) and f == int(f)


def _short_repr(v: Any, limit: int = 60) -> str:
    text = repr(v.tolist() if isinstance(v, np.ndarray) else v)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def sample_param(p: Any, rng: np.random.Generator, env: dict[str, Any] | None = None,
                 where: str | None = None) -> Any:
    """One value of a parameter from its sampler (sizes may read earlier values in `env`)."""
    if isinstance(p, m.FixedParam):
        return _coerce_fixed(p.value)
    if isinstance(p, m.BoolParam):
        return bool(rng.integers(0, 2))
    if isinstance(p, m.ChoiceParam):
        return _coerce_fixed(p.choices[int(rng.integers(0, len(p.choices)))])
    grid = _grid(p, env, where)
    if len(grid) == 0:
        raise SpecError("the value range is empty after exclusions", where=where)
    if isinstance(p, (m.IntParam, m.DecimalParam)):
        return _scalar_value(p, grid[int(rng.integers(0, len(grid)))])
    shape = param_shape(p, env, where)
    entries = _entries(p, grid)
    if p.distinct and len(entries) < math.prod(shape):
        raise SpecError(f"cannot draw {math.prod(shape)} distinct entries from {len(entries)} values")
    return _draw_array(entries, shape, p.distinct, rng)


def _scalar_value(p: Any, v: Any) -> Any:
    """A grid value of an int or decimal parameter as the parameter gives it."""
    v = _plain(v)
    return int(v) if isinstance(p, m.IntParam) else (float(v) if not isinstance(v, str) else v)


def _entries(p: Any, grid: Any) -> np.ndarray:
    """The values an array parameter's entries are drawn from."""
    values = np.asarray(grid, dtype=np.float64)
    return values[values != 0] if p.nonzero else values


def _draw_array(entries: np.ndarray, shape: tuple[int, ...], distinct: bool, rng: np.random.Generator) -> np.ndarray:
    """An array of `shape` with entries drawn from `entries` (distinct: without replacement)."""
    size = math.prod(shape)
    if distinct:
        flat = rng.choice(entries, size=size, replace=False)
    else:
        flat = entries[rng.integers(0, len(entries), size=size)]
    return flat.reshape(shape).astype(np.float64)


def _coerce_fixed(v: Any) -> Any:
    if isinstance(v, list):
        try:
            return np.asarray(v, dtype=np.float64)
        except (ValueError, TypeError):
            return v
    return v


class PinText(str):
    """A --param value kept as text because it is not a number or list (`relu`), with why it was not."""

    reason: str = ""


def param_form(p: Any) -> str:
    """What a parameter's declaration accepts, in words: 'an integer (sampled from 1..3)'."""
    def grid() -> str:
        if getattr(p, "choices", None) is not None:
            return " (the spec samples one of " + ", ".join(_choice_text(c) for c in p.choices) + ")"
        return f" (the spec samples {_bound_text(p.min)}..{_bound_text(p.max)})"

    if isinstance(p, m.IntParam):
        return "an integer" + grid()
    if isinstance(p, m.DecimalParam):
        return "a number" + grid()
    if isinstance(p, m.ChoiceParam):
        return "one of " + ", ".join(_choice_text(c) for c in p.choices)
    if isinstance(p, m.BoolParam):
        return "true or false"
    if isinstance(p, m.VectorParam):
        return f"a vector of length {p.length}, e.g. [1, 2, 3]"
    if isinstance(p, m.MatrixParam):
        return f"a {' x '.join(str(d) for d in p.shape)} array of numbers, e.g. [[1, 2], [3, 4]] row by row"
    if isinstance(p, m.FixedParam):
        return f"a value like {_choice_text(p.value)}"
    return "a value"


def _example(p: Any) -> str:
    """A value the declaration accepts, written as on the command line."""
    if getattr(p, "choices", None):
        c = p.choices[0]
        return _choice_text(c).replace(" ", "")
    if isinstance(p, (m.IntParam, m.DecimalParam)):
        return _bound_text(p.min) if not isinstance(p.min, str) else "1"
    if isinstance(p, m.BoolParam):
        return "true"
    if isinstance(p, m.VectorParam):
        return "[1,2,3]"
    if isinstance(p, m.MatrixParam):
        return "[[1,2],[3,4]]"
    return "VALUE"


def _choice_text(c: Any) -> str:
    return str(c) if isinstance(c, str) else _short_repr(c)


def _given(value: Any) -> str:
    """How a pinned value is named in an error: the text as written, and why it was not read."""
    if isinstance(value, PinText):
        return repr(str(value)) + (f" ({value.reason})" if value.reason else "")
    return _short_repr(value)


def _real(value: Any) -> float | None:
    """`value` as a finite real number, or None (text, lists, booleans, NaN and infinity are not)."""
    if isinstance(value, (bool, np.bool_, str)) or np.ndim(value) != 0:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if np.isfinite(f) else None


def coerce_pin(name: str, value: Any, p: Any, env: dict[str, Any] | None = None) -> Any:
    """A pinned value checked against its declaration; a SpecError names the parameter, value and form if not."""
    where = f"--param {name}"

    def wrong(what: str = "") -> SpecError:
        return SpecError(f"'{name}' must be {what or param_form(p)}; got {_given(value)}", where=where,
                         fix=f"e.g. --param {name}={_example(p)}")

    if isinstance(p, (m.VectorParam, m.MatrixParam)):
        if isinstance(value, str):
            raise wrong()
        try:
            a = np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise wrong() from None
        if not np.all(np.isfinite(a)):
            raise wrong(f"{param_form(p)} with finite entries")
        want = param_shape(p, env, where)
        if isinstance(p, m.VectorParam) and a.ndim != 1:
            raise SpecError(f"'{name}' is a vector; got shape {a.shape}", where=where, fix="write it as [1, 2, 3]")
        if isinstance(p, m.MatrixParam) and a.ndim != len(want):
            raise SpecError(f"'{name}' needs {len(want)} dimensions (like {list(want)}); got shape {a.shape}",
                            where=where, fix="write a matrix as [[1, 2], [3, 4]]")
        if a.shape != want:
            dims = [d for d in ([p.length] if isinstance(p, m.VectorParam) else p.shape) if isinstance(d, str)]
            # the names a size expression reads (n in pool_out_size(conv_out_size(n, kernel), ...)), not its functions
            sizes = list(dict.fromkeys(w for d in dims for w in re.findall(r"\b([A-Za-z_]\w*)\b(?!\s*\()", d)))
            raise SpecError(f"'{name}' must have shape {list(want)}; got {list(a.shape)}", where=where,
                            fix=f"pin the sizes it depends on to match ({', '.join(sizes)}), or give "
                                f"{int(np.prod(want))} entries" if sizes else
                            f"give {int(np.prod(want))} entries in shape {list(want)}")
        return a
    if isinstance(p, m.IntParam):
        f = _real(value)
        if f is None and not _is_big_int(value) or f is not None and not f.is_integer():
            raise wrong()
        return int(value)
    if isinstance(p, m.DecimalParam):
        f = _real(value)
        if f is None:
            raise wrong()
        return f
    if isinstance(p, m.BoolParam):
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # a bare word reads as text
            value = value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise wrong()
        return value
    if isinstance(p, m.ChoiceParam):
        return _coerce_choice(value, p, wrong)
    if isinstance(p, np.ndarray):
        return p
    if isinstance(p, m.DerivedParam) and p.shape:
        return _coerce_shaped(name, value, p, env, where)
    return _coerce_fixed(value) if isinstance(value, list) else value


def _coerce_shaped(name: str, value: Any, p: m.DerivedParam, env: dict[str, Any] | None, where: str) -> np.ndarray:
    """A pinned derived value that declares its shape: an array of that shape (sizes not yet known are not checked)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise SpecError(f"'{name}' must be an array of numbers of shape {p.shape}; got {_given(value)}",
                        where=where, fix=f"write it as nested lists, e.g. --param {name}=[[1, 2], [3, 4]]") from None
    dims = list(p.shape)
    want = []
    for d in dims:
        try:
            want.append(int(d) if isinstance(d, int) else int(Evaluator(None, env or {}).eval(parse(d, where=where).node)))
        except (ExprError, TypeError, ValueError):
            want.append(None)  # a size the other pins do not fix yet
    if a.ndim != len(dims) or any(w is not None and w != g for w, g in zip(want, a.shape, strict=True)):
        sizes = [d for d in dims if isinstance(d, str)]
        raise SpecError(f"'{name}' must have shape [{', '.join(str(d) for d in dims)}]"
                        + (f" (here {[w if w is not None else '?' for w in want]})" if sizes else "")
                        + f"; got {list(a.shape)}", where=where,
                        fix=f"pin the sizes it names to match ({', '.join(sizes)})" if sizes else
                        f"give an array of shape {dims}")
    return a


def _is_big_int(value: Any) -> bool:
    """An int too large for a float (its size is for the budget checks to judge, not the type check)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _coerce_choice(value: Any, p: m.ChoiceParam, wrong) -> Any:
    """A pinned choice: any value of the same kind as the declared choices (the instructor's numbers win)."""
    kinds = {_kind(c) for c in p.choices}
    got = _kind(value)
    if len(kinds) == 1 and got not in kinds and not (kinds == {"number"} and got == "integer"):
        (want,) = kinds
        noun = {"integer": "a whole number", "number": "a number", "text": "a word", "list": "a list",
                "bool": "true or false"}.get(want, want)
        raise wrong(f"{param_form(p)} ({noun})")
    if isinstance(value, PinText):
        return str(value)
    return _coerce_fixed(value.tolist() if isinstance(value, np.ndarray) else value) if got == "list" else (
        int(value) if got == "integer" else value)


def _kind(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, str):
        return "text"
    if isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) > 0:
        return "list"
    f = _real(v)
    if f is None:
        return "integer" if _is_big_int(v) else type(v).__name__
    return "integer" if f.is_integer() else "number"


def parse_pin(text: str) -> tuple[str, Any]:
    """'name=value' from the command line: a literal or arithmetic (1/9), never eval; else text with the reason."""
    if "=" not in text:
        raise SpecError(f"cannot read --param '{text}'", fix="write --param name=value, e.g. --param X='[[1,2],[3,4]]'")
    name, _, raw = text.partition("=")
    name = name.strip()
    raw = raw.strip()
    if not name:
        raise SpecError(f"--param '{text}' has no parameter name before '='", fix="write --param name=value")
    try:
        parsed = parse(raw, where=f"--param {name}")
        if isinstance(parsed.node, Name):
            return name, PinText(raw)
        value = Evaluator(None, {}).eval(parsed.node, f"--param {name}")
    except ExprError as exc:
        pin = PinText(raw)  # a bare word such as relu is a string choice
        pin.reason = exc.message
        return name, pin
    if isinstance(value, np.ndarray):
        value = value.astype(np.float64)
    return name, value


# ---------------------------------------------------------------------------- instances


def _all_params(spec: m.Spec) -> dict[str, Any]:
    params: dict[str, Any] = dict(spec.params)
    for part in spec.parts:
        params.update(part.given)
    return params


def _as_kind(value: Any, kind: str, name: str, where: str) -> Any:
    """An answer value in its declared kind, or a SpecError naming the answer (a type mismatch)."""
    try:
        return kinds.get(kind).coerce(value)
    except (ValueError, TypeError) as exc:
        raise SpecError(f"answer '{name}': {exc}", where=where,
                        fix=f"change the expression or declare kind: {kind}") from None


def evaluate_instance(compiled: CompiledSpec, leaves: dict[str, Any], engine,
                      overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every node's value for the given leaf values (overrides replace node values)."""
    ev = Evaluator(engine, leaves, compiled.graph, overrides)
    return ev.run(compiled.where)


def check_constraints(compiled: CompiledSpec, env: dict[str, Any], engine) -> str | None:
    """The description of the first unmet constraint, or None."""
    ev = Evaluator(engine, env, compiled.graph)
    for parsed, why, where in compiled.constraints:
        ok = ev.eval(parsed.node, where)
        if not bool(np.all(ok)):
            return why
    return offer_is_key(compiled, env, engine)


def offer_is_key(compiled: CompiledSpec, env: dict[str, Any], engine) -> str | None:
    """Why the sample is refused when a value a part offers to continue with is the key itself."""
    if not compiled.fallbacks:
        return None
    ev = Evaluator(engine, env, compiled.graph)
    for (_, name), parsed in compiled.fallbacks.items():
        tol = _answer_tol(compiled, name)
        if approx_equal(ev.eval(parsed.node), env[name], tol_abs=tol.abs, tol_rel=tol.rel):
            return f"the value offered for {name} would be right (it must differ from the key)"
    return None


def _answer_tol(compiled: CompiledSpec, name: str) -> m.Tolerance:
    """The tolerance answer `name` is graded with."""
    ans = next(a for p in compiled.spec.parts for a in p.answers if a.name == name)
    return ans.tol or m.Tolerance(**dict(zip(("abs", "rel"), kinds.get(ans.kind).tol, strict=True)))


def _constraint_needs(compiled: CompiledSpec) -> list[list[str]]:
    """Per constraint, the graph nodes it reads (directly or through other nodes) not needed before, in graph order."""
    cached = getattr(compiled, "_constraint_needs", None)
    if cached is not None:
        return cached
    graph, done, out = compiled.graph, set(), []
    for parsed, _, _ in compiled.constraints:
        want = {n for n in parsed.names if n in graph.nodes}
        stack = list(want)
        while stack:
            for d in graph.deps.get(stack.pop(), ()):
                if d in graph.nodes and d not in want:
                    want.add(d)
                    stack.append(d)
        step = [n for n in graph.order if n in want and n not in done]
        done.update(step)
        out.append(step)
    compiled._constraint_needs = out  # type: ignore[attr-defined]
    return out


def evaluate_checked(compiled: CompiledSpec, leaves: dict[str, Any], engine,
                     overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], str | None]:
    """(every node's value, None) when the constraints hold, else (the values so far, the first unmet constraint).

    Each constraint is checked as soon as the nodes it reads are evaluated, so a rejected sample costs
    only what its failing constraint needs (not the gradients and alternatives of the whole graph).
    """
    ev = Evaluator(engine, leaves, compiled.graph, overrides)
    with fp_errors():  # set once for the sample, not once per node
        for (parsed, why, where), step in zip(compiled.constraints, _constraint_needs(compiled), strict=True):
            for name in step:
                ev.eval_node(name, compiled.where.get(name))
            if not holds(ev.eval(parsed.node, where)):
                return ev.env, why
        for name in compiled.graph.order:
            if name not in ev.env:
                ev.eval_node(name, compiled.where.get(name))
    return ev.env, None


_SIZE_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:([+-])\s*([0-9]+))?")  # n, K - 1, m + 2


def infer_sizes(compiled: CompiledSpec, pins: dict[str, Any]) -> dict[str, Any]:
    """The pins with every unpinned size a pinned vector or matrix fixes: x = [1, 2, 3, 4] with length n gives n = 4."""
    params = _all_params(compiled.spec)
    out = dict(pins)
    for name, value in pins.items():
        p = params.get(name)
        if not (isinstance(p, (m.VectorParam, m.MatrixParam)) or isinstance(p, m.DerivedParam) and p.shape) \
                or isinstance(value, str):
            continue
        try:
            shape = np.shape(np.asarray(value, dtype=np.float64))
        except (ValueError, TypeError):
            continue  # coerce_pin says what is wrong with it
        dims = [p.length] if isinstance(p, m.VectorParam) else list(p.shape)
        if len(shape) != len(dims):
            continue  # coerce_pin says what is wrong with it
        for d, got in zip(dims, shape, strict=True):
            hit = _SIZE_NAME.fullmatch(d.strip()) if isinstance(d, str) else None
            sized = params.get(hit.group(1)) if hit else None
            if isinstance(sized, m.IntParam) or (isinstance(sized, m.ChoiceParam)
                                                 and all(type(c) is int for c in sized.choices)):
                size = hit.group(1)
                offset = int(hit.group(3) or 0) * (1 if hit.group(2) == "+" else -1)
                got = got - offset  # the size n of a length n + c
                if size in out and out[size] != got:
                    raise SpecError(f"the pinned values disagree on '{size}': {out[size]} and {got} (from '{name}')",
                                    where=f"--param {name}", fix=f"give the arrays sized by {size} the same length")
                out.setdefault(size, got)
    return out


def pinnables(compiled: CompiledSpec) -> list[dict[str, Any]]:
    """Every name `solve --param` pins: parameters, derived values and part givens, with what each accepts."""
    rows = []
    for part in [None, *compiled.spec.parts]:
        declared = compiled.spec.params if part is None else part.given
        for name, p in declared.items():
            if isinstance(p, m.DerivedParam):
                form, role = f"computed from {p.expr} (pin to override)", "derived"
            elif isinstance(p, m.FixedParam):
                form, role = f"fixed at {_given(p.value)}", "fixed"
            else:
                form, role = param_form(p), "parameter"
            shape = None
            if isinstance(p, m.VectorParam):
                shape = [p.length]
            elif isinstance(p, (m.MatrixParam, m.DerivedParam)) and getattr(p, "shape", None):
                shape = list(p.shape)
            rows.append({"name": name, "role": role if part is None else f"given in part {part.id}",
                         "type": p.type, "shape": shape, "accepts": form,
                         "example": _example(p) if role == "parameter" else None})
    from i2dl.spec.statements import order_name

    orders = {order_name(p): p for p in compiled.spec.parts if p.statements is not None}
    for row in rows:  # a property question's drawn statements: which ones, in which order
        part = orders.get(row["name"])
        if part is not None:
            k, n = part.statements.shown, len(part.statements.from_)
            row.update(role=f"statements of part {part.id}", example=str(list(range(k))),
                       accepts=f"{k} distinct indices 0..{n - 1} into the part's statements, in the order shown")
    return rows


def _located(compiled: CompiledSpec, name: str, check: Callable[[], Any]) -> Any:
    """check(), with a refused pin's error naming where the spec declares the name (file and line)."""
    try:
        return check()
    except SpecError as exc:
        decl = compiled.param_where.get(name)
        if decl and exc.where == f"--param {name}":
            exc.where = f"--param {name} (declared at {decl})"
        raise


def sample_leaves(compiled: CompiledSpec, rng: np.random.Generator, pins: dict[str, Any]) -> dict[str, Any]:
    params = _all_params(compiled.spec)
    samplers = _samplers(compiled)
    env: dict[str, Any] = {}
    for name in compiled.leaves:
        if name in pins:
            env[name] = _located(compiled, name, lambda n=name: coerce_pin(n, pins[n], params[n], env))
        else:
            env[name] = samplers[name](rng, env)
    return env


def _samplers(compiled: CompiledSpec) -> dict[str, _Draw]:
    """Each leaf's sampler, made once per compiled spec: sample_param's draw with its per-try set-up done ahead."""
    cached = getattr(compiled, "_samplers", None)
    if cached is None:
        params = _all_params(compiled.spec)
        cached = {name: _Draw(params[name], compiled.param_where.get(name)) for name in compiled.leaves}
        compiled._samplers = cached  # type: ignore[attr-defined]
    return cached


class _Draw:
    """sample_param(p, rng, env, where) as a call (rng, env): the same draws from rng, the same values.

    A grid with constant bounds (or choices) is built and converted once; anything else, and every case
    that raises, goes through sample_param itself, so its errors are unchanged. (A class, not a closure:
    a compiled spec stays picklable.)"""

    def __init__(self, p: Any, where: str | None):
        self.p, self.where, self.kind = p, where, "general"
        self.checked: float | None = None  # a range's grid size, checked against the budget in force
        try:
            self._prepare(p)
        except Exception:  # noqa: BLE001 - whatever fails here fails in sample_param, which says why
            self.kind = "general"

    def _prepare(self, p: Any) -> None:
        if isinstance(p, m.ChoiceParam):
            self.kind, self.values = "choice", list(p.choices)
            return
        if isinstance(p, (m.FixedParam, m.BoolParam)) or not isinstance(p, m._Grid):
            return
        if p.choices is None and (isinstance(p.min, str) or isinstance(p.max, str)):
            return  # bounds read earlier values: the grid is made per try
        grid = _grid(p, None, self.where)
        if len(grid) == 0:
            return
        if p.choices is None:  # as _grid counts it (before exclusions)
            self.checked = float(np.floor((float(p.max) - float(p.min)) / p.step + 1e-9) + 1)
        if isinstance(p, (m.IntParam, m.DecimalParam)):
            self.kind, self.values = "scalar", [_scalar_value(p, v) for v in grid]
            return
        self.entries = _entries(p, grid)
        dims = [p.length] if isinstance(p, m.VectorParam) else list(p.shape)
        at = [f"{self.where} size '{d}'" if self.where else f"size '{d}'" for d in dims if isinstance(d, str)]
        self.reads = sorted({n for d, w in zip([d for d in dims if isinstance(d, str)], at, strict=True)
                             for n in _reads(d, w)})
        self.shapes: dict[tuple, tuple[int, ...]] = {}
        self.kind = "array"

    def _shape(self, env: dict[str, Any]) -> tuple[int, ...]:
        """param_shape(p, env): worked out once per distinct value of the sizes it reads (each use checked
        against the budget in force)."""
        try:
            key = tuple((type(v), v) for v in (env.get(n, _Draw) for n in self.reads))
            shape = self.shapes.get(key)
        except TypeError:  # an array among the values: not a key
            return param_shape(self.p, env, self.where)
        if shape is None or math.prod(shape) > limits.current_budget().elements:
            shape = param_shape(self.p, env, self.where)
            if all(type(v) in _SCALAR_TYPES for _, v in key):
                if len(self.shapes) >= 256:
                    self.shapes.clear()
                self.shapes[key] = shape
        return shape

    def __call__(self, rng: np.random.Generator, env: dict[str, Any]) -> Any:
        kind = self.kind
        if kind == "choice":
            return _coerce_fixed(self.values[int(rng.integers(0, len(self.values)))])
        if kind == "general" or (self.checked is not None and self.checked > limits.current_budget().elements):
            return sample_param(self.p, rng, env, self.where)
        if kind == "scalar":
            return self.values[int(rng.integers(0, len(self.values)))]
        shape = self._shape(env)
        if self.p.distinct and len(self.entries) < math.prod(shape):
            return sample_param(self.p, rng, env, self.where)  # which says why
        return _draw_array(self.entries, shape, self.p.distinct, rng)


#: A check of a sample that meets the constraints: why it is rejected, or None to keep it.
Acceptance = Callable[[dict[str, Any]], "str | None"]


def solve_leaves(compiled: CompiledSpec, seed: int, pins: dict[str, Any], engine,
                 rejections: Counter[str] | None = None,
                 accept: Acceptance | None = None) -> tuple[dict, dict, list[str], int]:
    """Sample until the constraints (and `accept`) hold: (leaves, values, warnings, tries used).

    `rejections`, when given, counts the samples each constraint (or evaluation error) rejected.
    """
    spec = compiled.spec
    params = _all_params(spec)
    unknown = [k for k in pins if k not in params]
    if unknown:
        import difflib

        from i2dl.spec.vocabulary import suggestion

        renamed = suggestion(unknown[0])
        near = [renamed] if renamed in params else difflib.get_close_matches(unknown[0], list(params), n=3)
        raise SpecError(f"spec '{spec.id}' has no parameter '{unknown[0]}'", where=f"--param {unknown[0]}",
                        fix=(f"it is called '{renamed}' (the parameter names of docs/spec-format.md)"
                             if renamed in params else ("did you mean " + ", ".join(near) + "? ") if near else
                             "parameters: " + ", ".join(params)))
    pins = infer_sizes(compiled, pins)
    if any(part.statements is not None for part in spec.parts):
        from i2dl.spec.statements import check_order_pins

        check_order_pins(spec, pins)
    overrides = {k: _located(compiled, k, lambda k=k, v=v: coerce_pin(k, v, params[k], pins))
                 for k, v in pins.items() if k in compiled.graph.nodes}
    fully_pinned = all(n in pins or isinstance(params[n], m.FixedParam) for n in compiled.leaves)
    failures: Counter[str] = Counter()
    try:
        return _sample_until_valid(compiled, seed, pins, engine, overrides, fully_pinned, failures, accept)
    finally:
        if rejections is not None:
            rejections.update(failures)


def _sample_until_valid(compiled: CompiledSpec, seed: int, pins: dict[str, Any], engine, overrides: dict,
                        fully_pinned: bool, failures: Counter[str],
                        accept: Acceptance | None = None) -> tuple[dict, dict, list[str], int]:
    spec = compiled.spec
    rng = np.random.default_rng(seed)
    tries = 1 if fully_pinned else spec.max_tries
    fallback = None  # with pins, the instructor's numbers win over exam-quality constraints
    for attempt in range(1, tries + 1):
        try:
            limits.check_clock(str(compiled.path))
            leaves = sample_leaves(compiled, rng, pins)
            values, unmet = evaluate_checked(compiled, leaves, engine, overrides)
            if unmet is None:
                unmet = offer_is_key(compiled, values, engine)
            if unmet is None and accept is not None:
                unmet = accept(values)
        except BudgetError:
            raise  # a value beyond the budget is the spec's runaway expression, never bad luck
        except SamplingTimeout as exc:
            raise _timed_out(exc, compiled, attempt - 1, tries, failures) from None
        except (ExprError, EngineError) as exc:
            key = f"evaluation failed: {exc.message}"
            failures[key] += 1
            # The same error on every early try is the spec's or the pins' fault, not bad luck.
            if fully_pinned or (attempt == 50 and failures[key] == 50):
                if not fully_pinned:
                    exc.message += " (on every sample tried)"
                    exc.fix = exc.fix or ("check the pinned values" if pins else "check this expression")
                raise
            continue
        if unmet is None:
            return leaves, values, [], attempt
        if fully_pinned:
            values = evaluate_instance(compiled, leaves, engine, overrides)
            return leaves, values, [f"constraint not met by the pinned values: {unmet}"], attempt
        failures[unmet] += 1
        if pins and fallback is None:
            try:
                fallback = (leaves, evaluate_instance(compiled, leaves, engine, overrides), unmet, attempt)
            except (ExprError, EngineError):
                pass  # a fallback must have every value; a later sample may
        if fallback is not None and attempt >= min(tries, 500):
            break
    if fallback is not None:
        leaves, values, unmet, attempt = fallback
        return leaves, values, [f"constraint not met with the pinned values (no sample of the other "
                                f"parameters met it): {unmet}"], attempt
    worst, n = failures.most_common(1)[0]
    raise SamplingError(
        f"no instance of '{spec.id}' met the constraints in {tries} tries; "
        f"most often failed: {worst} ({n / tries:.0%} of tries)",
        where=str(compiled.path), fix="widen the parameter ranges, relax that constraint, or pin parameters")


def _timed_out(exc: SamplingTimeout, compiled: CompiledSpec, done: int, tries: int,
               failures: Counter[str]) -> SamplingTimeout:
    """The timeout restated for the spec: tries used, the constraint that failed most, what was running."""
    seconds = getattr(exc, "seconds", None)
    text = (f"no instance of '{compiled.id}' within the {seconds:g} s sampling time budget" if seconds else
            f"no instance of '{compiled.id}': {exc.message}") + f" ({done} of {tries} tries used)"
    where = str(compiled.path)
    if failures and done:
        worst, n = failures.most_common(1)[0]
        text += f"; most often failed: {worst} ({n / done:.0%} of tries)"
        where = next((w for _, why, w in compiled.constraints if why == worst), where)
    if getattr(exc, "doing", ""):
        text += f"; time ran out while evaluating {exc.doing}"
    return SamplingTimeout(text, where=where, fix=exc.fix)


def make_instance(compiled: CompiledSpec, seed: int, engine, *, pins: dict[str, Any] | None = None,
                  number: int = 1, points: float | None = None, rejections: Counter[str] | None = None,
                  budget: limits.Budget | None = None, rounding: Rounding | None = None) -> ProblemInstance:
    """A fresh instance of `compiled` for `seed` (pinned parameters kept as given), within `budget`.

    `rounding` is the exam-wide rule (default: default_rounding()); a spec or part may declare its own.
    """
    with limits.sampling(budget):
        return _make_instance(compiled, seed, engine, pins, number, points, rejections,
                              default_rounding() if rounding is None else rounding)


def part_rule(spec: m.Spec, part: m.Part, exam_rule: Rounding) -> Rounding:
    """The rounding rule of a part: its own, else its spec's, else the exam's."""
    return part.rounding or spec.rounding or exam_rule


def _make_instance(compiled: CompiledSpec, seed: int, engine, pins: dict[str, Any] | None, number: int,
                   points: float | None, rejections: Counter[str] | None, exam_rule: Rounding) -> ProblemInstance:
    spec = compiled.spec
    scale = 1.0 if points is None else points / spec.total_points
    built: dict[str, Any] = {}

    def accept(values: dict[str, Any]) -> str | None:
        blanks, why = _blanks(compiled, values, engine, exam_rule, scale)
        built.update(values=values, blanks=blanks)
        return why

    leaves, values, warnings, tries = solve_leaves(compiled, seed, dict(pins or {}), engine, rejections, accept)
    if built.get("values") is not values:  # a pinned fallback sample: its blanks are built now
        accept(values)
    part_blanks = built["blanks"]
    answer_names = {a.name for p in spec.parts for a in p.answers}
    visible = {k: v for k, v in values.items() if k not in answer_names}
    tmpl_eval = Evaluator(engine, visible)

    def ev(expr: str) -> Any:
        where = f"{compiled.path} template"
        return tmpl_eval.eval(parse(expr, where=where).node, where)  # parse() keeps each text's tree

    part_points = split_points([p.points for p in spec.parts], points)
    parts = []
    for i, part in enumerate(spec.parts):
        fallback = {n: _as_kind(tmpl_eval.eval(p.node), _answer_kind(spec, n), n, compiled.where[n])
                    for (pid, n), p in compiled.fallbacks.items() if pid == part.id}
        text = render_template(part.text, ev).strip() + "".join(
            f" If you are unsure of your {_answer_label(spec, n)}, continue with {_answer_label(spec, n)} = "
            f"${fmt_value(v, 'math')}$."
            for n, v in fallback.items())
        options = _statement_options(part, part_blanks[i][0], values, ev, engine, compiled) \
            if part.statements is not None else []
        parts.append(PartInstance(f"{number}.{i + 1}", part.id, text, part_points[i], part_blanks[i],
                                  list(part.given), part.rubric, options=options, fallback=fallback))
    inst = ProblemInstance(
        number=number, spec_id=spec.id, title=spec.title, topic=spec.topic,
        statement=render_template(spec.statement, ev).strip(), seed=seed,
        params=leaves, values=values, parts=parts,
        points=sum(p.points for p in parts), warnings=warnings, tries=tries, spec=compiled.source)
    inst._compiled = compiled  # the very object it was sampled with: explaining the key compiles nothing again
    return inst


def _statement_options(part: m.Part, blank: Blank, values: dict[str, Any], ev: Callable[[str], Any], engine,
                       compiled: CompiledSpec) -> list[McqOption]:
    """A property question's drawn statements as options: text from the givens, truth from the key, why from all values."""
    from i2dl.spec.statements import shown

    letters = string.ascii_uppercase  # the letters the bank's options get too (mcq.LETTERS)

    full = Evaluator(engine, values)
    where = f"{compiled.path} statements"

    def ev_all(expr: str) -> Any:
        return full.eval(parse(expr, where=where).node, where)

    return [McqOption(letters[j], render_template(st.text, ev).strip(), letters[j] in blank.expected,
                      " ".join(render_template(st.why, ev_all).split()))
            for j, (_, st) in enumerate(shown(part, values))]


def _blanks(compiled: CompiledSpec, values: dict[str, Any], engine, exam_rule: Rounding,
            scale: float) -> tuple[list[list[Blank]], str | None]:
    """Every part's blanks for these values, and why the sample is unfair (a mistake inside the key's tolerance)."""
    spec = compiled.spec
    for part in spec.parts:
        for ans in part.answers:
            values[ans.name] = _as_kind(values[ans.name], ans.kind, ans.name, compiled.where[ans.name])
    full = Evaluator(engine, values, compiled.graph)
    keys = {ans.name: (ans.kind, values[ans.name]) for part in spec.parts for ans in part.answers}
    out: list[list[Blank]] = []
    why: str | None = None
    for part in spec.parts:
        rule = part_rule(spec, part, exam_rule)
        blanks = []
        for ans in part.answers:
            expected = values[ans.name]
            kind = kinds.get(ans.kind)
            if kind.numeric:
                tol = ans.tol or m.Tolerance()
                rounding = rule.data()
            else:
                tol = ans.tol or m.Tolerance(**dict(zip(("abs", "rel"), kind.tol, strict=True)))
                rounding = None
            alts = []
            for alt in ans.alternatives:
                cond = compiled.alternatives.get((ans.name, alt.name + "?when"))
                if cond is not None and not bool(np.all(full.eval(cond.node))):
                    continue
                try:
                    v = full.eval(compiled.alternatives[(ans.name, alt.name)].node)
                    v = _as_kind(v, ans.kind, ans.name, compiled.where[ans.name])
                except (ExprError, EngineError, SpecError):
                    continue  # an alternative that does not exist for these numbers is simply not offered
                alts.append({"name": alt.name, "value": v, "credit": alt.credit,
                             "feedback": render_template(alt.feedback, lambda e, _f=full: _f.eval(parse(e).node),
                                                         style="text"), "key_of": None})
            for comp in ans.components:
                v = _as_kind(full.eval(compiled.alternatives[(ans.name, "component:" + comp.name)].node),
                             ans.kind, ans.name, compiled.where[ans.name])
                text = comp.feedback or f"the {comp.name} term is right"
                alts.append({"name": comp.name, "value": v, "credit": comp.credit, "component": True,
                             "feedback": render_template(text, lambda e, _f=full: _f.eval(parse(e).node),
                                                         style="text"), "key_of": None})
            n_options = 0
            if ans.kind == "choice":
                opt = compiled.alternatives.get((ans.name, "?options"))
                n_options = int(full.eval(opt.node)) if opt is not None else int(ans.options)
                bad = sorted(x for x in expected if not ("A" <= x < chr(65 + n_options)))
                if bad:
                    raise SpecError(f"answer '{ans.name}' names option {bad[0]} but there are only {n_options}",
                                    where=compiled.where[ans.name], fix="raise 'options' or fix the expression")
            blank = Blank(ans.name, ans.kind, ans.label or ans.name, expected, tol.abs, tol.rel,
                          None if ans.points is None else ans.points * scale, alts, n_options, rounding)
            for alt in alts:
                # An accepted answer that is another blank's key counts only where that blank is not also it.
                if alt["credit"] > 0 and not alt.get("component"):
                    alt["key_of"] = next((n for n, (k, v) in keys.items()
                                          if n != ans.name and k == ans.kind and overlaps(blank, alt["value"], v)),
                                         None)
            why = why or unfair(blank)
            blanks.append(blank)
        out.append(blanks)
    return out, why


def overlaps(b: Blank, x: Any, y: Any) -> bool:
    """Two values of blank `b` that a student cannot tell apart: their tolerance intervals meet (entrywise)."""
    kind = kinds.get(b.kind)
    if not kind.numeric:
        return kind.compare(x, y, (0.0, 0.0))[0] >= 1.0
    try:
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if xa.shape != ya.shape:
        return False

    def reach(v: Any, a: np.ndarray) -> np.ndarray:
        t_abs, t_rel = b.tolerance(v)  # of the value the blank holds (not its array copy): worked out once
        return np.maximum(t_abs, t_rel * np.abs(a))

    return bool(np.all(np.abs(xa - ya) <= reach(x, xa) + reach(y, ya)))


def unfair(b: Blank) -> str | None:
    """Why a blank cannot be graded fairly: a mistake inside the key's tolerance, or two credits for one value."""
    for alt in b.alternatives:
        if alt["credit"] < 1 and overlaps(b, alt["value"], b.expected):
            return f"the mistake '{alt['name']}' of {b.name} lands within the tolerance of the key"
    for i, a in enumerate(b.alternatives):
        for c in b.alternatives[i + 1:]:
            if a.get("component") or c.get("component"):
                continue  # a component is the term a mistake keeps (weights alone = bias forgotten), on purpose
            if a["credit"] != c["credit"] and overlaps(b, a["value"], c["value"]):
                return f"the alternatives '{a['name']}' and '{c['name']}' of {b.name} coincide but earn different credit"
    return None


def _answer_kind(spec: m.Spec, name: str) -> str:
    return next(a.kind for p in spec.parts for a in p.answers if a.name == name)


def _answer_label(spec: m.Spec, name: str) -> str:
    return next(a.label or a.name for p in spec.parts for a in p.answers if a.name == name)


def split_points(weights: list[float], total: float | None) -> list[float]:
    """Points per part in half points, proportional to `weights`, summing exactly to `total`.

    Largest remainders get the spare half points, so a blueprint's 10 points stay 10.
    """
    if total is None:
        return list(weights)
    halves = int(round(total * 2))
    raw = [w * halves / sum(weights) for w in weights]
    out = [max(1, int(np.floor(r))) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - np.floor(raw[i])), i))
    k = 0
    while sum(out) < halves:
        out[order[k % len(order)]] += 1
        k += 1
    while sum(out) > halves and max(out) > 1:
        i = max((j for j in range(len(out)) if out[j] > 1), key=lambda j: (out[j] - raw[j], -j))
        out[i] -= 1
    return [h / 2 for h in out]


# ---------------------------------------------------------------------------- plain data


def encode(v: Any) -> Any:
    """A value as JSON-ready data; arrays and sets tagged so they come back as they were."""
    if isinstance(v, np.ndarray):
        return {"array": v.tolist()}
    if isinstance(v, (frozenset, set)):
        return {"set": sorted(v)}
    if isinstance(v, tuple):
        return {"tuple": [encode(t) for t in v]}
    if isinstance(v, dict):
        return {"dict": {k: encode(x) for k, x in v.items()}}
    if isinstance(v, list):
        return [encode(t) for t in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def decode(v: Any) -> Any:
    """The inverse of encode."""
    if isinstance(v, dict):
        if "array" in v:
            return np.asarray(v["array"], dtype=np.float64)
        if "set" in v:
            return frozenset(v["set"])
        if "tuple" in v:
            return tuple(decode(t) for t in v["tuple"])
        if "dict" in v:
            return {k: decode(x) for k, x in v["dict"].items()}
    if isinstance(v, list):
        return [decode(t) for t in v]
    return v


def to_data(p: ProblemInstance) -> dict[str, Any]:
    """The instance as JSON-ready data (exam.json's problem layout)."""
    return {
        "number": p.number, "spec_id": p.spec_id, "title": p.title, "topic": p.topic, "statement": p.statement,
        "seed": p.seed, "params": {k: encode(v) for k, v in p.params.items()},
        "values": {k: encode(v) for k, v in p.values.items()},
        "parts": [_part_data(part) for part in p.parts], "points": p.points, "kind": p.kind,
        "warnings": list(p.warnings), "tries": p.tries,
        "spec": None if p.spec is None else {"digest": p.spec.digest, "document": p.spec.document},
    }


#: A short answer's own fields: written only on blanks that have a model answer.
SHORT_FIELDS = ("model_answer", "checklist", "lines")


_BLANK_FIELDS = tuple(f.name for f in fields(Blank))


def _blank_data(b: Blank) -> dict[str, Any]:
    # asdict(b) would deep-copy the key and every alternative only to replace them: field by field instead.
    d = {name: getattr(b, name) for name in _BLANK_FIELDS}
    d.update(expected=kinds.get(b.kind).to_data(b.expected),
             alternatives=[{**a, "value": kinds.get(b.kind).to_data(a["value"])} for a in b.alternatives],
             rounding=copy.deepcopy(b.rounding), checklist=[asdict(t) for t in b.checklist])
    if b.model_answer is None:
        for k in SHORT_FIELDS:
            del d[k]
    return d


def _part_data(part: PartInstance) -> dict[str, Any]:
    blanks = [_blank_data(b) for b in part.blanks]
    out = {"number": part.number, "id": part.id, "text": part.text, "points": part.points, "blanks": blanks,
           "given": list(part.given), "rubric": part.rubric, "options": [asdict(o) for o in part.options]}
    if part.fallback:  # written only where offered: other exams keep their bytes
        out["fallback"] = {k: encode(v) for k, v in part.fallback.items()}
    return out


def from_data(d: dict[str, Any], origin: str = "") -> ProblemInstance:
    """The instance back from data written by to_data; `origin` names where its spec document is stored."""
    parts = []
    for part in d["parts"]:
        blanks = []
        for b in part["blanks"]:
            kind = kinds.get(b["kind"])
            alts = [{**a, "value": kind.from_data(a["value"])} for a in b["alternatives"]]
            items = [CheckItem(**{**t, "suggest": list(t.get("suggest", []))}) for t in b.get("checklist", [])]
            blanks.append(Blank(**{**b, "expected": kind.from_data(b["expected"]), "alternatives": alts,
                                   "checklist": items}))
        options = [McqOption(**o) for o in part["options"]]
        fallback = {k: decode(v) for k, v in part.get("fallback", {}).items()}
        parts.append(PartInstance(**{**part, "blanks": blanks, "options": options, "fallback": fallback}))
    spec = d.get("spec")
    source = None if spec is None else SpecSource(spec["document"], spec["digest"], origin)
    return ProblemInstance(**{**d, "params": {k: decode(v) for k, v in d["params"].items()},
                              "values": {k: decode(v) for k, v in d["values"].items()}, "parts": parts,
                              "spec": source})
