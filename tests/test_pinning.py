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
    assert err.value.where == "--param x"


def test_solve_names_the_nearest_parameter_for_a_misspelt_pin():
    result = CliRunner().invoke(app, ["solve", "conv1d-backprop", "--param", "xx=[1,2,3,4,5]"])
    assert result.exit_code != 0 and "'xx'" in result.output and "x" in result.output


def test_list_spec_shows_parameters_derived_values_and_part_givens():
    result = CliRunner().invoke(app, ["list", "conv1d-backprop", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)["names"]}
    assert rows["x"]["role"] == "parameter" and rows["x"]["shape"] == ["n"]
    assert rows["nz"]["role"] == "derived"
    assert rows["g_m"]["role"].startswith("given in part")
