"""`generate SPEC --count N`: N instances of one spec in one instances.jsonl, each line the problem that
`generate SPEC --seed S` writes into exam.json for the same seed, the same bytes on every run."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.generate import _INSTANCE_CHUNK, INSTANCES_FILE

SPEC = "conv2d-by-hand"
#: Enough instances for the worker path (two chunks and a part of one).
COUNT = 2 * _INSTANCE_CHUNK + 7


def run(*args: str):
    res = CliRunner().invoke(app, ["--engine", "numpy", *args], env={"NO_COLOR": "1"})
    return res


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    out = tmp_path_factory.mktemp("count") / "many"
    res = run("generate", SPEC, "--count", str(COUNT), "--seed", "40", "--out", str(out))
    assert res.exit_code == 0, res.output
    return out / INSTANCES_FILE


def test_generate_count_writes_one_line_per_seed_in_order(instances):
    lines = [json.loads(x) for x in instances.read_text(encoding="utf-8").splitlines()]
    assert [x["seed"] for x in lines] == list(range(40, 40 + COUNT))
    assert {x["problem"]["spec_id"] for x in lines} == {SPEC}
    assert len({json.dumps(x["problem"]["params"], sort_keys=True) for x in lines}) > COUNT // 2  # varied numbers


@pytest.mark.parametrize("index", [0, 61, COUNT - 1])
def test_generate_count_instance_equals_the_single_generate_of_its_seed(instances, tmp_path, index):
    line = json.loads(instances.read_text(encoding="utf-8").splitlines()[index])
    res = run("generate", SPEC, "--seed", str(40 + index), "--out", str(tmp_path / "one"))
    assert res.exit_code == 0, res.output
    exam = json.loads((tmp_path / "one" / "exam.json").read_text(encoding="utf-8"))
    problem = exam["problems"][0]
    problem["spec"] = {"digest": problem["spec"]["digest"]}  # the document is left out of each line
    assert line["problem"] == problem
    assert line["exam_id"] == exam["exam_id"]


def test_generate_count_is_the_same_bytes_on_every_run(instances, tmp_path):
    res = run("generate", SPEC, "--count", str(COUNT), "--seed", "40", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert (tmp_path / INSTANCES_FILE).read_bytes() == instances.read_bytes()


def test_generate_count_refuses_a_blueprint_and_an_existing_file(instances, tmp_path):
    res = run("generate", "default", "--count", "3", "--out", str(tmp_path))
    assert res.exit_code == 2 and "not a spec id" in res.output
    res = run("generate", SPEC, "--count", "3", "--out", str(instances.parent))
    assert res.exit_code == 2 and "already exists" in res.output
