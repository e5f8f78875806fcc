"""Pinning: every name `i2dl list SPEC` shows is pinned by `solve`; sizes follow pinned arrays."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.engine import get_engine
from i2dl.errors import SpecError
from i2dl.generate import spec_names
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library

LIBRARY = Library()


def _plain(v):
    """A value as nested lists of floats (None and NaN alike), to compare a pin with what it became."""
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "nan"
    if isinstance(v, (bool, np.bool_, str)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


@pytest.mark.library
@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_solve_pins_every_name_list_shows_and_keeps_its_value(spec_id):
    compiled = LIBRARY.get(spec_id)
    engine = get_engine("numpy")
    inst = make_instance(compiled, 0, engine)
    names = spec_names(spec_id, LIBRARY)["names"]
    assert names, spec_id
    for row in names:
        name = row["name"]
        value = inst.params.get(name, inst.values.get(name))
        assert value is not None, (spec_id, name)
        # sizes given by an expression (pool_out_size(n, ...)) are not solved for: pin what they name too
        sizes = {w for d in row["shape"] or [] if isinstance(d, str) for w in re.findall(r"[A-Za-z_]\w*", d)}
        pins = {w: inst.params[w] for w in sizes if w in inst.params}
        pinned = make_instance(compiled, 1, engine, pins={**pins, name: value})
        got = pinned.params.get(name, pinned.values.get(name))
        assert _plain(got) == _plain(value), (spec_id, name)


def test_solve_takes_a_vector_length_from_the_pinned_vector():
    compiled = LIBRARY.get("conv1d-backprop")
    inst = make_instance(compiled, 0, get_engine("numpy"), pins={"x": [1, 2, 3, 4]})
    assert inst.params["n"] == 4 and len(inst.values["z"]) == 2


def test_solve_refuses_pins_that_disagree_on_a_size():
    with pytest.raises(SpecError) as err:
        make_instance(LIBRARY.get("conv1d-backprop"), 0, get_engine("numpy"), pins={"x": [1, 2, 3, 4], "n": 6})
    assert err.value.where.startswith("--param x")


def test_solve_names_the_nearest_parameter_for_a_misspelt_pin():
    result = CliRunner().invoke(app, ["solve", "conv1d-backprop", "--param", "xx=[1,2,3,4,5]"])
    assert result.exit_code != 0 and "'xx'" in result.output and "x" in result.output


def test_list_spec_shows_parameters_derived_values_and_part_givens():
    result = CliRunner().invoke(app, ["list", "conv1d-backprop", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)["names"]}
    assert rows["x"]["role"] == "parameter" and rows["x"]["shape"] == ["n"]
    assert rows["nz"]["role"] == "derived"
    assert rows["g_m"]["role"].startswith("given in part")


def _keys(inst) -> dict:
    return {b.name: _plain(b.expected) for p in inst.parts for b in p.blanks}


@pytest.mark.library
@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_solve_with_every_listed_name_pinned_to_a_sample_gives_that_samples_answers(spec_id):
    compiled = LIBRARY.get(spec_id)
    engine = get_engine("numpy")
    sample = make_instance(compiled, 0, engine)
    names = [row["name"] for row in spec_names(spec_id, LIBRARY)["names"]]
    pins = {n: sample.params.get(n, sample.values.get(n)) for n in names}
    again = make_instance(compiled, 7, engine, pins=pins)
    assert _keys(again) == _keys(sample)


def _cli(*args: str):
    return CliRunner().invoke(app, ["--engine", "numpy", "solve", *args], env={"NO_COLOR": "1"})


def _clear(result, name: str) -> None:
    """A refused pin: an error naming the pin and a fix, never a traceback or numpy's own wording."""
    out = result.output
    assert result.exit_code != 0, out
    assert f"--param {name}" in out and "fix:" in out, out
    assert "Traceback" not in out and "out of bounds" not in out, out


def _arrays(spec_id: str):
    for row in spec_names(spec_id, LIBRARY)["names"]:
        if row["type"] in ("vector", "matrix"):
            yield row


@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_solve_refuses_an_array_of_the_wrong_shape_clearly(spec_id):
    sample = make_instance(LIBRARY.get(spec_id), 0, get_engine("numpy"))
    for row in _arrays(spec_id):
        name = row["name"]
        value = np.asarray(sample.params.get(name, sample.values.get(name)))
        # the sizes it reads pinned as sampled, so that the longer array cannot resize them
        sizes = {w for d in row["shape"] or [] if isinstance(d, str) for w in re.findall(r"[A-Za-z_]\w*", d)}
        pins = [f"{w}={json.dumps(_plain(sample.params[w]))}" for w in sorted(sizes) if w in sample.params]
        wrong = np.ones(value.shape[:-1] + (value.shape[-1] + 1,)).tolist()
        args = [spec_id, *(x for p in pins for x in ("--param", p)), "--param", f"{name}={json.dumps(wrong)}"]
        result = _cli(*args)
        _clear(result, name)
        assert "shape" in result.output or "disagree" in result.output, result.output


@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_solve_refuses_an_unknown_name_and_a_value_of_the_wrong_type_clearly(spec_id):
    _clear(_cli(spec_id, "--param", "no_such_name=1"), "no_such_name")
    for row in spec_names(spec_id, LIBRARY)["names"]:
        if row["role"] == "parameter" and row["type"] in ("int", "decimal", "vector", "matrix"):
            result = _cli(spec_id, "--param", f"{row['name']}=abc")
            _clear(result, row["name"])
            assert "'abc'" in result.output and "must be" in result.output, result.output


def test_solve_compares_two_models_with_a_pinned_two_row_p():
    pins = {"label": 2, "P": [[0.5, 0.3, 0.2, 0], [0.25, 0.7, 0.05, 0]]}
    inst = make_instance(LIBRARY.get("classifier-comparison"), 0, get_engine("numpy"), pins=pins)
    assert (inst.params["n_models"], inst.params["n_classes"]) == (2, 4) and not inst.warnings
    assert _keys(inst)["correct"] == frozenset("B") and _keys(inst)["worst"] == frozenset("A")
    assert _keys(inst)["worst_loss"] == pytest.approx(-np.log(0.3))


def test_solve_refuses_a_p_whose_rows_disagree_with_the_pinned_number_of_models():
    result = _cli("classifier-comparison", "--param", "n_models=3", "--param", "P=[[0.5,0.5],[0.25,0.75]]")
    _clear(result, "P")
    assert "n_models" in result.output


def test_solve_takes_more_samples_and_features_from_a_pinned_data_matrix():
    pins = {"X": [[1, 2, 0], [0, 1, 1], [2, -1, 1], [1, 1, 1]], "t": [0, 1, 2, 3], "w": [1, 1, 1]}
    inst = make_instance(LIBRARY.get("linear-regression-step"), 0, get_engine("numpy"), pins=pins)
    assert (inst.params["N"], inst.params["D"]) == (4, 3)
    b = inst.params["b"]
    assert _keys(inst)["yhat"] == [3 + b, 2 + b, 2 + b, 3 + b]


def test_list_spec_shows_a_derived_values_declared_shape():
    result = CliRunner().invoke(app, ["list", "classifier-comparison", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)["names"]}
    assert rows["P"]["role"] == "derived" and rows["P"]["shape"] == ["n_models", "n_classes"]


def test_solve_names_the_declaration_of_a_refused_pin():
    result = _cli("conv1d-backprop", "--param", "n=abc")
    _clear(result, "n")
    assert "conv1d-backprop.yaml:7" in result.output
