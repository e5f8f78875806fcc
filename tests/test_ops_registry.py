"""The operation records drive these tests: every function spec expressions may call, and every
activation, has each piece the package needs (kernels in both engines, a derivative, a LaTeX
name, worked steps, documentation); a missing piece fails here, never silently elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.explain import RENDERERS
from i2dl.explain.activations import _act_rule, _fprime_tex
from i2dl.functions import FUNCTIONS
from i2dl.ops.activations import ACTIVATIONS
from tests.strategies import assert_close, central_difference

ROOT = Path(__file__).resolve().parent.parent
#: Functions whose explanation is their formula with numbers substituted, no worked steps of
#: their own yet. This list may only shrink: a new function needs a renderer or `quiet=True`.
FORMULA_ONLY: set[str] = set()
#: Differentiable functions the chain rule writes as a named partial derivative (the layers are
#: explained by their own hop notes). This list may only shrink.
OPAQUE_IN_CHAIN_RULE = {
    "avgpool1d", "avgpool2d", "conv1d", "conv2d", "cos", "flatten", "index", "log10", "log2",
    "maxpool1d", "maxpool2d", "reshape", "sign", "sin", "softmax", "where",
}
ACTS = pytest.mark.parametrize("name", sorted(ACTIVATIONS))


def test_every_function_has_worked_steps_or_says_it_needs_none():
    missing = sorted(n for n, f in FUNCTIONS.items() if n not in RENDERERS and not f.quiet)
    assert missing == sorted(FORMULA_ONLY)


def test_every_differentiable_function_has_a_chain_rule_factor_or_says_it_has_none():
    from i2dl.explain.chain import SYMBOLIC_VJPS

    assert set(SYMBOLIC_VJPS) <= {n for n, f in FUNCTIONS.items() if f.vjp is not None}
    missing = sorted(n for n, f in FUNCTIONS.items() if f.vjp is not None and n not in SYMBOLIC_VJPS)
    assert missing == sorted(OPAQUE_IN_CHAIN_RULE)


def test_every_function_has_a_one_line_doc_and_a_latex_name():
    for name, fn in FUNCTIONS.items():
        assert fn.doc and "\n" not in fn.doc, name
        assert fn.latex.startswith("\\") or fn.latex.isalpha(), name


def test_engine_backends_export_the_same_operations(np_engine, torch_engine):
    assert sorted(np_engine.ops) == sorted(torch_engine.ops)


def test_every_engine_call_of_a_function_exists_in_the_numpy_backend():
    # A function that calls E.<op> for an op the backend lacks would fail only when used.
    source = (ROOT / "cli" / "i2dl" / "functions.py").read_text(encoding="utf-8")
    called = set(re.findall(r"\bE\.([a-z_0-9]+)\(", source))
    assert sorted(called - set(get_engine("numpy").ops)) == []


@ACTS
def test_activation_has_kernels_functions_and_a_chain_factor(np_engine, name):
    act = ACTIVATIONS[name]
    assert {name, f"{name}_grad"} <= set(np_engine.ops)
    assert {name, f"{name}_grad"} <= set(FUNCTIONS)
    assert FUNCTIONS[name].vjp is not None and FUNCTIONS[name].latex == act.tex
    assert name in RENDERERS and f"{name}_grad" in RENDERERS
    assert "X" in act.forward.symbolic or act.forward.symbolic == "X"
    assert _fprime_tex(name, "z") != "z"


@ACTS
@pytest.mark.parametrize("x", [-1.5, 0.5, 2.0])
def test_activation_worked_step_shows_the_engine_value(np_engine, name, x):
    act = ACTIVATIONS[name]
    kw = {} if act.alpha is None else {"alpha": act.alpha}
    for derivative in (False, True):
        symbolic, numeric, value = _act_rule(name, x, None, derivative)
        op = f"{name}_grad" if derivative else name
        assert value == pytest.approx(float(getattr(np_engine, op)(x, **kw)), rel=1e-12, abs=1e-15)
        assert numeric and not re.search(r"\{(x|xp|a|y|yp)\}", numeric)


@ACTS
def test_activation_derivative_kernel_matches_central_differences(np_engine, name):
    act = ACTIVATIONS[name]
    kw = {} if act.alpha is None else {"alpha": act.alpha}
    x = np.array([-1.7, -0.3, 0.4, 2.2])  # away from kinks
    g = np.ones_like(x)
    numeric = central_difference(lambda v: getattr(np_engine, name)(v, **kw), x, g)
    assert_close(getattr(np_engine, f"{name}_grad")(x, **kw), numeric, rtol=1e-6, atol=1e-8)


@ACTS
def test_activation_engines_agree(np_engine, torch_engine, name):
    act = ACTIVATIONS[name]
    kw = {} if act.alpha is None else {"alpha": act.alpha}
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    for op in (name, f"{name}_grad"):
        assert_close(getattr(np_engine, op)(x, **kw), getattr(torch_engine, op)(x, **kw))


@ACTS
def test_activation_solves_and_explains_through_a_spec(tmp_path, name):
    from typer.testing import CliRunner

    from i2dl.cli import app

    spec = tmp_path / "one-activation.yaml"
    spec.write_text(f"""id: one-activation
title: One activation
topic: activations
params:
  x: {{type: vector, length: 2, choices: [-1.5, 0.5]}}
statement: "Apply it."
parts:
  - id: values
    text: "f(x) and f'(x)."
    points: 2
    answers:
      - {{name: fx, expr: "activate(x, '{name}')", kind: vector, label: "f(x)"}}
      - {{name: dfx, expr: "grad(fx, x)", kind: vector, label: "f'(x)"}}
""", encoding="utf-8")
    pins = ["--param", "x=[-1.5,0.5]"]
    solved = CliRunner().invoke(app, ["--engine", "numpy", "solve", str(spec), *pins, "--json"])
    assert solved.exit_code == 0, solved.output
    explained = CliRunner().invoke(app, ["--engine", "numpy", "explain", str(spec), *pins, "--format", "md"])
    assert explained.exit_code == 0, explained.output
    act = ACTIVATIONS[name]
    # the rule, with the entry's symbol for X, is written out for each entry
    assert act.forward.symbolic.split("X")[0] in explained.stdout


def test_docs_list_every_activation_and_engine_operation():
    doc = (ROOT / "docs" / "engine-api.md").read_text(encoding="utf-8")
    ops = set(get_engine("numpy").ops)
    missing = sorted(op for op in ops if f"`{op}" not in doc)
    assert missing == []


def test_functions_page_is_generated_from_the_records():
    from i2dl.functions import functions_markdown

    assert (ROOT / "docs" / "functions.md").read_text(encoding="utf-8") == functions_markdown()


def test_every_command_has_help_an_example_and_a_readme_line():
    from typer.main import get_command

    from i2dl.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in get_command(app).commands.items():
        assert command.help and "Example: i2dl" in command.help, name
        assert f"i2dl {name}" in readme, name


# --- every differentiable function: its VJP against central differences, on both engines ----------

V = np.array([0.7, -1.3, 2.1])
M = np.array([[0.5, -1.2, 0.3], [1.1, 0.4, -0.8]])
X1 = np.array([0.3, -1.1, 2.2, 0.9, -0.4, 1.7])  # distinct: one clear maximum per pooling window
X2 = np.array([[0.3, -1.1, 2.2, 0.9], [-0.4, 1.7, 0.2, -2.0], [1.3, 0.8, -0.6, 0.1]])
#: Arguments at which each differentiable function is checked: away from kinks and ties.
#: A new differentiable function without an entry here fails test_every_differentiable_function_has_an_example.
EXAMPLES: dict[str, dict] = {
    "abs": {"x": V}, "activate": {"x": V, "kind": "elu"}, "add": {"a": V, "b": V[::-1].copy()},
    "avgpool1d": {"x": X1, "kernel": 2}, "avgpool2d": {"x": X2, "kernel": 2, "stride": 1},
    "bce": {"pred": np.array([0.2, 0.7, 0.9]), "target": np.array([0.0, 1.0, 1.0])},
    "bce_with_logits": {"pred": V, "target": np.array([0.0, 1.0, 1.0])},
    "conv1d": {"x": X1, "w": np.array([0.5, -1.0, 2.0]), "b": 0.3, "stride": 2, "padding": 1},
    "conv2d": {"x": X2, "w": np.array([[0.5, -1.0], [2.0, 0.25]]), "b": -0.2, "stride": 1, "padding": 1},
    "conv_transpose1d": {"x": V, "w": np.array([0.5, -1.0, 2.0]), "stride": 2, "padding": 1},
    "conv_transpose2d": {"x": M, "w": np.array([[0.5, -1.0], [2.0, 0.25]]), "stride": 2, "padding": 1},
    "cos": {"x": V}, "cross_entropy": {"pred": np.array([0.2, 0.5, 0.3]), "target": 1},
    "cross_entropy_with_logits": {"pred": V, "target": 2}, "div": {"a": V, "b": np.array([1.5, -2.0, 0.8])},
    "dot": {"a": V, "b": np.array([1.5, -2.0, 0.8])}, "elu": {"x": V}, "exp": {"x": V},
    "flatten": {"x": M}, "identity": {"x": V}, "index": {"x": V, "i": 1},
    "l1": {"pred": V, "target": np.array([0.1, 0.2, 0.3])}, "leaky_relu": {"x": V},
    "linear": {"x": V, "w": M.T.copy(), "b": np.array([0.1, -0.2])},
    "ln": {"x": np.abs(V)}, "log": {"x": np.abs(V)}, "log10": {"x": np.abs(V)}, "log2": {"x": np.abs(V)},
    "matmul": {"a": M, "b": M.T.copy()}, "maxpool1d": {"x": X1, "kernel": 2},
    "maxpool2d": {"x": X2, "kernel": 2, "stride": 1}, "mean": {"x": M}, "mse": {"pred": V, "target": V * 0.5},
    "mul": {"a": V, "b": np.array([1.5, -2.0, 0.8])}, "neg": {"a": V}, "pos": {"a": V},
    "pow": {"a": np.abs(V), "b": 3}, "relu": {"x": V}, "reshape": {"x": M, "shape": [3, 2]},
    "sigma": {"x": V}, "sigmoid": {"x": V}, "sign": {"x": V}, "sin": {"x": V}, "softmax": {"x": V},
    "sqrt": {"x": np.abs(V)}, "sub": {"a": V, "b": V * 0.3}, "sum": {"x": M}, "tanh": {"x": V},
    "transpose": {"x": M}, "where": {"cond": np.array([True, False, True]), "a": V, "b": V * 2.0},
}
DIFFERENTIABLE = sorted(n for n, f in FUNCTIONS.items() if f.vjp is not None)


def test_every_differentiable_function_has_an_example():
    assert sorted(set(DIFFERENTIABLE) - set(EXAMPLES)) == []


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_function_vjp_matches_central_differences_on_every_engine(engine, name):
    fn = FUNCTIONS[name]
    bound = fn.bind([], dict(EXAMPLES[name]))
    out = fn.call(engine, bound)
    rng = np.random.default_rng(7)
    g = rng.normal(size=np.shape(out))
    grads = fn.vjp(engine, g, out, **bound)
    checked = 0
    for arg, grad in grads.items():
        if grad is None or not isinstance(bound[arg], (np.ndarray, float)):
            continue
        checked += 1
        x0 = np.asarray(bound[arg], dtype=float)

        def f(x, arg=arg, x0=x0):
            return np.asarray(fn.call(engine, {**bound, arg: x.reshape(x0.shape) if x0.ndim else float(x)}))

        numeric = central_difference(f, x0, g)
        assert_close(np.asarray(grad, dtype=float).reshape(x0.shape), numeric, rtol=1e-5, atol=1e-7)
    assert checked  # the example gives the function at least one differentiable argument
