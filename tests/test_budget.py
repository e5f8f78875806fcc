"""Evaluation budgets: hostile specs (tests/corpus/specs) fail fast with a located error naming the
expression, before the huge value is built; sampling stops at its time budget.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.errors import BudgetError, SamplingTimeout, UsageError
from i2dl.evaluate import Evaluator
from i2dl.expr import parse
from i2dl.limits import Budget
from i2dl.spec.instance import make_instance
from i2dl.spec.load import load_spec

SPECS = Path(__file__).resolve().parent / "corpus" / "specs"
runner = CliRunner()

# file -> what the error must say besides the file: its line and key path, the expression, the unit.
BOMBS = {
    "string-bomb.yaml": [":12 parts[0].answers[0].expr", "`'ab' * 1000000000`", "2,000,000,000 characters",
                         "I2DL_MAX_STRING"],
    "list-bomb.yaml": [":12 parts[0].answers[0].expr", "`['a', 'b'] * 1000000000`", "items"],
    "ones-bomb.yaml": [":12 parts[0].answers[0].expr", "`ones([40000, 40000])`", "1,600,000,000 entries",
                       "I2DL_MAX_ELEMENTS"],
    "eye-bomb.yaml": ["`eye(100000 * n)`", "entries"],
    "power-tower.yaml": [":12 parts[0].answers[0].expr", "`((n ** 64) ** 64) ** 64`", "digits", "I2DL_MAX_DIGITS"],
    "broadcast-bomb.yaml": ["`reshape(x, [2000, 1]) * reshape(x, [1, 2000])`", "4,000,000 entries"],
    "conv-matrix-bomb.yaml": ["`conv1d_matrix(c, 100000)`", "entries"],
    "padding-bomb.yaml": ["`conv2d(X, K, padding=100000)`", "entries"],
    "huge-range.yaml": [":6 params.n", "range 0..1000000000000 step 1", "entries"],
    "huge-shape.yaml": [":6 params.A", "shape [100000, 100000]", "10,000,000,000 entries"],
    "string-doubling.yaml": [":7 params.b.expr", "`a + a`", "120,000 characters"],
}
SLOW = "unsatisfiable-matrix.yaml"


def _solve(name: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["--engine", "numpy", "solve", str(SPECS / name)], env={"NO_COLOR": "1", **(env or {})})


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_budget_corpus_every_spec_has_an_expectation():
    assert {p.name for p in SPECS.glob("*.yaml")} == set(BOMBS) | {SLOW}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_budget_solve_refuses_a_runaway_expression_before_building_it(name):
    tracemalloc.start()
    try:
        result = _solve(name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 4, result.output
    out = _one_line(result.output)
    assert f"{name}:" in out and "too large" in out and "budget" in out
    for needle in BOMBS[name]:
        assert needle in out, (needle, out)
    assert "Traceback" not in result.output and "internal" not in out
    assert peak < 64 * 1024 * 1024  # refused from the sizes of the arguments, not after building the value


def test_budget_sampling_time_stops_an_unsatisfiable_constraint_naming_it():
    result = _solve(SLOW, {"I2DL_SAMPLING_SECONDS": "0.2"})
    assert result.exit_code == 5, result.output
    out = _one_line(result.output)
    assert f"{SLOW}:9 constraints[0].expr" in out
    assert "0.2 s sampling time budget" in out
    assert "most often failed: every entry of A A^T A is above 100 (100% of tries)" in out
    assert "I2DL_SAMPLING_SECONDS" in out and "Traceback" not in result.output


def test_budget_sampling_time_can_be_given_as_a_parameter():
    compiled = load_spec(SPECS / SLOW)
    with pytest.raises(SamplingTimeout, match="sampling time budget"):
        make_instance(compiled, 0, None, budget=Budget(seconds=0.05))


def test_budget_validate_reports_a_bomb_as_an_error_of_its_file():
    result = runner.invoke(app, ["--engine", "numpy", "validate", str(SPECS / "string-bomb.yaml"), "--samples", "5"],
                           env={"NO_COLOR": "1"})
    assert result.exit_code == 4
    assert "`'ab' * 1000000000` is too large" in _one_line(result.output)


def test_budget_validate_stops_the_stress_test_at_the_time_budget():
    result = runner.invoke(app, ["--engine", "numpy", "validate", str(SPECS / SLOW), "--samples", "50"],
                           env={"NO_COLOR": "1", "I2DL_SAMPLING_SECONDS": "0.2"})
    assert result.exit_code == 4
    out = _one_line(result.output)
    assert "stress test stopped at seed 0 of 50" in out and "sampling time budget" in out


def test_budget_bad_environment_value_is_a_usage_error_naming_the_variable():
    result = _solve("string-bomb.yaml", {"I2DL_MAX_ELEMENTS": "lots"})
    assert result.exit_code == UsageError.exit_code
    assert "I2DL_MAX_ELEMENTS='lots' is not a positive number" in _one_line(result.output)


@pytest.mark.parametrize(("text", "budget", "unit"), [
    ("ones([4, 4])", Budget(elements=10), "entries"),
    ("'ab' * 3", Budget(string=5), "characters"),
    ("'abc' + 'abc'", Budget(string=5), "characters"),
    ("2 ** 40", Budget(digits=10), "digits"),
    ("12345678 * 12345678", Budget(digits=10), "digits"),
    ("prod([100000, 100000, 100000])", Budget(digits=10), "digits"),
    ("softmax_jacobian([1, 2, 3, 4])", Budget(elements=10), "entries"),  # known only from the result
    ("[ones([3, 3]), ones([3, 3])]", Budget(elements=10), "entries"),
])
def test_budget_evaluator_refuses_values_over_a_given_budget(text, budget, unit):
    from i2dl.engine import get_engine

    with pytest.raises(BudgetError, match=unit):
        Evaluator(get_engine("numpy"), {}, budget=budget).eval(parse(text).node)


def test_budget_evaluator_allows_values_within_the_budget():
    assert Evaluator(None, {}, budget=Budget(elements=16, digits=13)).eval(parse("sum(ones([4, 4])) + 2 ** 40").node) \
        == 16 + 2**40
