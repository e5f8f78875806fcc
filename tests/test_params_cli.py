"""Bad --param values in solve and generate: a typed error naming the parameter, the value given and the
form the spec's declaration expects; never a traceback or a message from a helper deep inside.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.errors import SpecError

runner = CliRunner()

# (spec, --param, what the message must say besides "--param NAME")
BAD = [
    ("conv2d-by-hand", "stride=abc", ["'stride' must be one of 1, 2 (a whole number)", "got 'abc'"]),
    ("conv2d-by-hand", "stride=9**9**9", ["'stride' must be one of 1, 2", "got '9**9**9'", "too large"]),
    ("conv2d-by-hand", "stride=1.5", ["'stride' must be one of 1, 2 (a whole number)", "got 1.5"]),
    ("conv2d-by-hand", "kernel=abc", ["'kernel' must be one of 2, 3", "got 'abc'"]),
    ("conv2d-by-hand", "X=abc", ["'X' must be a nh x nw array of numbers", "got 'abc'"]),
    ("conv1d-backprop", "n=abc", ["'n' must be an integer (the spec samples 5..6)", "got 'abc'"]),
    ("conv1d-backprop", "n=9**9**9", ["'n' must be an integer", "got '9**9**9'", "too large", "digits"]),
    ("conv1d-backprop", "n=[1,2]", ["'n' must be an integer", "got [1.0, 2.0]"]),
    ("conv1d-backprop", "n=2.5", ["'n' must be an integer", "got 2.5"]),
    ("conv1d-backprop", "n=", ["'n' must be an integer", "got ''"]),
    ("conv1d-backprop", "t=1/0", ["'t' must be an integer", "got '1/0'", "division by zero"]),
    ("conv1d-backprop", "x=[1,2", ["'x' must be a vector of length n", "got '[1,2'", "cannot parse"]),
    ("activation-values", "act=5", ["'act' must be one of elu, leaky_relu, sigmoid, tanh (a word)", "got 5"]),
    ("conv-layer-arithmetic", "stride=abc", ["'stride' must be", "got 'abc'"]),
]


def _run(command: str, spec: str, pin: str, tmp_path):
    args = ["--engine", "numpy", command, spec, "--param", pin]
    if command == "generate":
        args += ["--seed", "1", "--out", str(tmp_path / "exam")]
    return runner.invoke(app, args, env={"NO_COLOR": "1"})


@pytest.mark.parametrize("command", ["solve", "generate"])
@pytest.mark.parametrize(("spec", "pin", "needles"), BAD, ids=[f"{s}-{p}" for s, p, _ in BAD])
def test_param_bad_value_names_parameter_given_value_and_expected_form(command, spec, pin, needles, tmp_path):
    result = _run(command, spec, pin, tmp_path)
    out = " ".join(result.output.split())
    assert result.exit_code == SpecError.exit_code, result.output
    name = pin.partition("=")[0]
    assert f"error: --param {name} (declared at " in out and f"{spec}.yaml:" in out
    for needle in needles:
        assert needle in out, (needle, out)
    assert f"fix: e.g. --param {name}=" in out
    assert "Traceback" not in result.output and "()" not in out  # no helper function's own message
    assert not (tmp_path / "exam").exists()


def test_param_huge_size_is_a_budget_error_not_a_memory_error(tmp_path):
    result = _run("solve", "conv1d-backprop", "n=10**30", tmp_path)
    assert result.exit_code == SpecError.exit_code
    out = " ".join(result.output.split())
    assert "conv1d-backprop.yaml:11 params.x" in out and "too large" in out and "Traceback" not in out


def test_param_without_a_name_is_refused():
    result = runner.invoke(app, ["solve", "conv1d-backprop", "--param", "=3"], env={"NO_COLOR": "1"})
    assert result.exit_code == SpecError.exit_code
    assert "has no parameter name before '='" in result.output


@pytest.mark.parametrize("pin", ["stride=3", "kernel=4"])
def test_param_value_of_the_right_kind_outside_the_choices_is_the_instructors_to_pin(pin):
    result = runner.invoke(app, ["--engine", "numpy", "solve", "conv2d-by-hand", "--param", pin, "--json"])
    assert result.exit_code == 0, result.output


def test_param_word_outside_the_choices_is_passed_on_as_a_word():
    result = runner.invoke(app, ["--engine", "numpy", "solve", "activation-values", "--param", "act=relu", "--json"])
    assert result.exit_code == 0, result.output
