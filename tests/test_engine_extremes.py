"""Engines at the extremes: numpy equals torch for inputs up to |x| = 1e4, under the same
floating-point checks that evaluation uses, and an overflow both engines share is an error
that names the operation and the value."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from i2dl.errors import EngineError, ExprError
from i2dl.evaluate import FP_ERRORS, Evaluator
from i2dl.expr import parse
from tests.strategies import assert_close, cli_solve, extreme_arrays

FAST = settings(max_examples=40, deadline=None)
SHAPES = array_shapes(min_dims=1, max_dims=2, max_side=4)


def numpy_call(engine, name: str, *args, **kw):
    """The numpy op under evaluation's floating-point checks: a warning would be an error."""
    with np.errstate(**FP_ERRORS):
        return getattr(engine, name)(*args, **kw)


#: Results that are sums or differences of terms as large as the inputs (1 - tanh^2,
#: sigmoid - t, softmax - onehot, g - sum(g s), max(z, 0) - z t + log(1 + e^-|z|), z - logsumexp z)
#: are fixed by float64 only to a few ulps of those terms, in either engine: np.tanh and
#: torch.tanh differ in the last bit at x = 9, torch's sigmoid(-2.2e-16) - 0.5 is 0, not -2^-54,
#: and torch takes log(1 + 2.3e-6) where numpy takes log1p.
CANCELLING = ("tanh_grad", "bce_with_logits_grad", "cross_entropy_with_logits_grad", "softmax_grad",
              "bce_with_logits", "cross_entropy_with_logits")


def atol(name: str, args: tuple) -> float:
    """The absolute tolerance: a few ulps of the largest input for cancelling ops, else none."""
    if name not in CANCELLING:
        return 1e-300
    scale = max([1.0] + [float(np.max(np.abs(a))) for a in args if isinstance(a, np.ndarray) and a.size])
    return 16 * np.finfo(np.float64).eps * scale


def assert_engines_agree(np_engine, torch_engine, name: str, *args, **kw) -> None:
    """Both finite and equal to 1e-10 relative, or both refused with the same message."""
    try:
        expected = getattr(torch_engine, name)(*args, **kw)
    except EngineError as exc:
        with pytest.raises(EngineError) as info:
            numpy_call(np_engine, name, *args, **kw)
        assert str(info.value) == str(exc)
        return
    if not np.all(np.isfinite(expected)):  # the true value overflows: numpy must not hide it
        with pytest.raises(FloatingPointError):
            numpy_call(np_engine, name, *args, **kw)
        return
    actual = numpy_call(np_engine, name, *args, **kw)
    assert_close(actual, expected, rtol=1e-10, atol=atol(name, args))


ELEMENTWISE = ["sigmoid", "sigmoid_grad", "tanh", "tanh_grad", "elu", "elu_grad", "relu", "leaky_relu"]


@pytest.mark.torch
@pytest.mark.parametrize("name", ELEMENTWISE)
@FAST
@given(x=extreme_arrays(SHAPES))
def test_elementwise_activation_at_extremes_equals_torch(np_engine, torch_engine, name, x):
    assert_engines_agree(np_engine, torch_engine, name, x)


@pytest.mark.torch
@FAST
@given(data=st.data())
def test_softmax_and_vjp_at_extremes_equal_torch(np_engine, torch_engine, data):
    x = data.draw(extreme_arrays(SHAPES))
    g = data.draw(arrays(np.float64, x.shape, elements=st.floats(-3, 3, width=64)))
    assert_engines_agree(np_engine, torch_engine, "softmax", x)
    assert_engines_agree(np_engine, torch_engine, "softmax_grad", x, g)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["bce_with_logits", "bce_with_logits_grad"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@FAST
@given(data=st.data())
def test_bce_from_logits_at_extremes_equals_torch(np_engine, torch_engine, name, reduction, data):
    z = data.draw(extreme_arrays(SHAPES))
    t = data.draw(arrays(np.float64, z.shape, elements=st.sampled_from([0.0, 1.0, 0.5])))
    assert_engines_agree(np_engine, torch_engine, name, z, t, reduction)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["bce", "bce_grad"])
@FAST
@given(data=st.data())
def test_bce_from_saturated_probabilities_equals_torch(np_engine, torch_engine, name, data):
    # sigmoid of an extreme logit is exactly 0 or 1 in float64: log(0) where the target agrees.
    z = data.draw(extreme_arrays(SHAPES))
    p = numpy_call(np_engine, "sigmoid", z)
    t = data.draw(arrays(np.float64, z.shape, elements=st.sampled_from([0.0, 1.0])))
    assert_engines_agree(np_engine, torch_engine, name, p, t)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["cross_entropy_with_logits", "cross_entropy_with_logits_grad",
                                  "cross_entropy", "cross_entropy_grad"])
@FAST
@given(data=st.data())
def test_cross_entropy_at_extremes_equals_torch(np_engine, torch_engine, name, data):
    z = data.draw(extreme_arrays(array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=4)))
    target = data.draw(st.integers(0, z.shape[-1] - 1)) if z.ndim == 1 else np.array(
        [data.draw(st.integers(0, z.shape[-1] - 1)) for _ in range(z.shape[0])])
    scores = z if "logits" in name else numpy_call(np_engine, "softmax", z)
    assert_engines_agree(np_engine, torch_engine, name, scores, target)


@pytest.mark.parametrize("text, env", [
    ("sigmoid(x)", {"x": [-1e4, -800.0, 2.0, 800.0, 1e4]}),
    ("exp(x)", {"x": [-1e4, -800.0]}),
    ("softmax(x)", {"x": [1e4, -1e4, 0.0]}),
], ids=["sigmoid", "exp-underflow", "softmax"])
def test_evaluation_treats_underflow_as_zero_on_every_engine(engine, text, env):
    value = np.asarray(Evaluator(engine, env).eval(parse(text).node), dtype=float)
    assert np.all(np.isfinite(value))


@pytest.mark.parametrize("text, env, shown", [
    ("exp(x)", {"x": 800.0}, "exp(x=800.0)"),
    ("exp(x)", {"x": 1e4}, "exp(x=10000.0)"),
    ("mse(x, y)", {"x": [1e200], "y": [-1e200]}, "mse(pred=[1.e+200], target=[-1.e+200]"),
    ("cross_entropy_grad(x, 0)", {"x": [float(np.exp(-710.0)), 1.0]}, "cross_entropy_grad(pred=[4.47"),
    ("x * x", {"x": 1e200}, "mul(a=1e+200, b=1e+200)"),  # Python's float arithmetic returns inf silently
], ids=["exp-800", "exp-1e4", "mse", "ce-grad-of-subnormal", "python-float-product"])
def test_evaluation_overflow_names_operation_and_value(engine, text, env, shown):
    with pytest.raises(ExprError) as info:
        Evaluator(engine, env).eval(parse(text).node)
    assert info.value.message.startswith(shown)
    assert "overflows or is undefined" in info.value.message and info.value.fix


@pytest.mark.torch
def test_evaluation_overflow_message_is_identical_on_both_engines(np_engine, torch_engine):
    env = {"x": [float(np.exp(-710.0)), 1.0]}
    messages = set()
    for eng in (np_engine, torch_engine):
        with pytest.raises(ExprError) as info:
            Evaluator(eng, env).eval(parse("cross_entropy_grad(x, 0)").node)
        messages.add(str(info.value))
    assert len(messages) == 1


# The two commands of the fresh-machine report: saturated but legal inputs.
SATURATED = [
    ("logistic-regression-step", ["x=[3,5,-1]", "w=[40,150,-20]", "b=10", "t=1", "lr=0.1", "i=1"]),
    ("activation-values", ["act=sigmoid", "x=[-40,2,800]"]),
]


@pytest.mark.torch
@pytest.mark.parametrize("spec_id, pins", SATURATED, ids=[s for s, _ in SATURATED])
def test_solve_saturated_inputs_gives_same_numbers_on_both_engines(torch_engine, spec_id, pins):
    by_engine = {e: cli_solve(spec_id, pins, engine=e) for e in ("numpy", "torch")}
    for data in by_engine.values():
        data.pop("engine")
    assert by_engine["numpy"] == by_engine["torch"]


def test_solve_saturated_logistic_step_keys_the_limits():
    data = cli_solve(*SATURATED[0])
    values = {b["name"]: b["value"] for p in data["parts"] for b in p["blanks"]}
    assert values["z"] == 900 and values["p"] == 1.0
    assert values["dLdz"] == 0 and values["dLdw"] == 0 and values["w_new"] == 40


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "elu"])
def test_explain_saturated_activation_has_the_solved_numbers(engine, act):
    from typer.testing import CliRunner

    from i2dl.cli import app

    result = CliRunner().invoke(app, ["--engine", engine.name, "explain", "activation-values",
                                      "--param", f"act={act}", "--param", "x=[-800,2,800]"])
    assert result.exit_code == 0, result.output
    assert "f'(x)" in result.output and "Traceback" not in result.output
