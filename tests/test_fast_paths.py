"""The shortcuts generation takes give exactly what the general code gives: the prepared samplers, the
comparisons of plain numbers, the and/or of conditions, the memoised number texts and indented JSON, the
Jacobian rows from one forward pass, the cohort's tasks, a constraint's truth and the one floating-point
scope a sample is checked in."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from i2dl.functions import FUNCTIONS
from i2dl.jsontext import indented_json
from i2dl.render import fmt_number
from i2dl.spec.instance import _all_params, _samplers, sample_param
from i2dl.spec.load import Library


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("spec_id", Library().ids())
def test_prepared_samplers_draw_what_sample_param_draws_for_every_spec(spec_id):
    compiled = Library().get(spec_id)
    params = _all_params(compiled.spec)
    draws = _samplers(compiled)
    for seed in range(25):
        fast, slow = np.random.default_rng(seed), np.random.default_rng(seed)
        env_fast: dict = {}
        env_slow: dict = {}
        for name in compiled.leaves:
            env_fast[name] = draws[name](fast, env_fast)
            env_slow[name] = sample_param(params[name], slow, env_slow, compiled.param_where.get(name))
            assert _same(env_fast[name], env_slow[name]), (spec_id, seed, name)
        assert fast.integers(0, 2**62) == slow.integers(0, 2**62)  # the same draws were taken from the stream


@pytest.mark.parametrize("name", ["lt", "le", "gt", "ge", "eq", "ne"])
def test_comparison_of_plain_numbers_agrees_with_numpys_at_the_float_edges(name):
    fn = FUNCTIONS[name].impl
    op = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "eq": np.equal,
          "ne": np.not_equal}[name]
    edges = [0, -0.0, 0.0, 1, 1.0, -1, 2**53 - 1, float(2**53 - 1), 2**52 + 0.5, 1e308, -1e308,
             float("inf"), float("nan"), 0.1, 0.30000000000000004, 3, 3.0000000000000004]
    for a in edges:
        for b in edges:
            got = fn(a, b)
            assert type(got) is bool and got == bool(op(a, b)), (a, b)


def test_and_or_not_of_bools_and_arrays_agree_with_all_of_numpy():
    a, o, n = FUNCTIONS["and_"].impl, FUNCTIONS["or_"].impl, FUNCTIONS["not_"].impl
    values = [True, False, np.bool_(True), np.array([1.0, 0.0]), np.array([2.0, 3.0]), 0.0, 0.5, float("nan"),
              np.array([]), 1]
    for x in values:
        assert n(x) is (not bool(np.all(x)))
        for y in values:
            assert a(x, y) is all(bool(np.all(v)) for v in (x, y))
            assert o(x, y) is any(bool(np.all(v)) for v in (x, y))


def test_fmt_number_of_a_float_is_the_same_text_on_every_call_and_style():
    rnd = random.Random(3)
    xs = [0.0, -0.0, 1e-5, -2.5e-7, 0.1 + 0.2, 1 / 3, -7.625, 1e16, float("inf"), float("nan")]
    xs += [rnd.uniform(-100, 100) for _ in range(200)]
    for style in ("text", "latex", "math"):
        first = [fmt_number(x, 6, style) for x in xs]
        assert [fmt_number(x, 6, style) for x in xs] == first
    assert fmt_number(-0.0) == "0" and fmt_number(0.1 + 0.2) == "0.3" and fmt_number(2.5e-7, style="math") == \
        r"2.5 \cdot 10^{-7}"
    assert fmt_number(1.0) == "1" and fmt_number(True) == "true"  # a bool is never served a float's text


def test_indented_json_writes_what_json_dumps_writes_for_rows_of_numbers_and_nested_data():
    rnd = random.Random(1)

    def value(depth: int = 0):
        k = rnd.random()
        if depth > 3 or k < 0.3:
            return rnd.choice([1, -2, 0, 1.5, -0.0, 1e300, 1e-7, math.nan, math.inf, -math.inf, 3**40, True, None,
                               "a,b", "ü", 2.0])
        if k < 0.6:
            return [rnd.choice([1, 2.5, -3, 1e-9, math.nan, 10**20, True]) for _ in range(rnd.randint(0, 6))]
        if k < 0.8:
            return [value(depth + 1) for _ in range(rnd.randint(0, 4))]
        return {f"k{i},": value(depth + 1) for i in range(rnd.randint(0, 4))}

    for _ in range(2000):
        v = value()
        for indent in ("", "  "):
            assert indented_json(v, indent=indent) == json.dumps(v, indent=1).replace("\n", "\n" + indent)
    assert indented_json([np.float64(1.5), 2]) == json.dumps([1.5, 2], indent=1)  # a numpy float: json's own rules


@pytest.mark.parametrize("spec_id", ["conv1d-backprop", "mlp-backprop", "batchnorm-stats", "conv2d-by-hand"])
def test_gradients_from_one_forward_pass_equal_one_gradient_call_per_upstream(spec_id):
    from i2dl.engine import get_engine
    from i2dl.evaluate import Evaluator
    from i2dl.spec.instance import make_instance

    compiled = Library().get(spec_id)
    engine = get_engine("numpy")
    inst = make_instance(compiled, 3, engine)
    graph = compiled.graph
    pairs = [(out, wrt) for out in graph.order for wrt in graph.deps.get(out, ()) if wrt in inst.values
             and np.ndim(inst.values[out]) <= 2 and np.size(inst.values[out]) > 1]
    compared = 0
    for out, wrt in pairs[:12]:
        value = np.asarray(inst.values[out], dtype=float)
        seeds = list(np.random.default_rng(0).normal(size=(3, *value.shape)))
        ev = Evaluator(engine, inst.values, graph)
        try:
            one_by_one = [ev.gradient(out, wrt, s) for s in seeds]
        except Exception:  # noqa: BLE001 - a node without a derivative is not what this test is about
            continue
        together = Evaluator(engine, inst.values, graph).gradients(out, wrt, seeds)
        for a, b in zip(one_by_one, together, strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b)), (spec_id, out, wrt)
        compared += 1
    assert compared >= 2, spec_id


@pytest.mark.parametrize("n, jobs", [(0, 2), (1, 2), (17, 2), (300, 2), (301, 3), (40, 8)])
def test_cohort_tasks_cover_every_student_in_order_and_shrink_towards_the_end(n, jobs):
    from i2dl.generate import _CHUNK, _chunks

    tasks = _chunks(list(range(n)), _CHUNK, jobs)
    assert [i for t in tasks for i in t] == list(range(n))
    sizes = [len(t) for t in tasks]
    assert all(1 <= k <= _CHUNK for k in sizes) and sizes == sorted(sizes, reverse=True)
    assert not sizes or sizes[-1] == 1


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_, 0, 1, 2.5, 0.0, np.array([]),
                                   np.array([True, False]), np.array([[1.0, 2.0]]), np.array(0.0), [1, 0]])
def test_holds_is_the_truth_numpys_all_gives(value):
    from i2dl.functions import holds

    assert holds(value) is bool(np.all(value))


def test_fp_errors_scope_raises_inside_restores_outside_and_nests():
    from i2dl.evaluate import FP_ERRORS, fp_errors

    before = np.geterr()
    with fp_errors():
        assert {k: np.geterr()[k] for k in FP_ERRORS} == FP_ERRORS
        with fp_errors():  # an inner scope changes nothing and leaves the outer one in force
            pass
        assert {k: np.geterr()[k] for k in FP_ERRORS} == FP_ERRORS
        with pytest.raises(FloatingPointError):
            np.float64(1.0) / np.float64(0.0)
    assert np.geterr() == before


def test_sample_checked_in_one_fp_scope_still_rejects_an_overflow_as_an_evaluation_error(tmp_path, np_engine):
    from i2dl.errors import ExprError
    from i2dl.spec.instance import evaluate_checked
    from i2dl.spec.load import load_spec

    spec = tmp_path / "overflow-check.yaml"
    spec.write_text("""id: overflow-check
title: An overflow inside a constraint
topic: test
params:
  x: {type: int, min: 1, max: 3}
  big: {type: derived, expr: "exp(1000 * x)"}
constraints:
  - {expr: "big > 0", why: "never reached"}
statement: "x is {{x}}."
parts:
  - id: a
    text: "What is 2x?"
    points: 1
    answers:
      - {name: y, expr: "2 * x"}
""", encoding="utf-8")
    compiled = load_spec(spec)
    before = np.geterr()
    with pytest.raises(ExprError):
        evaluate_checked(compiled, {"x": 2}, np_engine)
    assert np.geterr() == before  # the scope is left as it was found, also when evaluation fails
