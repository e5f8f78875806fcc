"""Exam quality of every shipped spec over the 2,000 shared samples (seeds 0..1999): enough distinct
instances for per-student variants, hand-sized numbers, mistakes apart from the key, no foregone
answers, and none of the degenerate instances issue 18 found; plus the variety report of validate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.spec.instance import overlaps
from i2dl.validate import answer_repeats, collision_figures, sheet_key, validate_paths
from tests.samples import LIBRARY, SAMPLES, counting_spec, instances

SPECS = LIBRARY.ids()
#: distinct instances (distinct sheets) a spec must give in SAMPLES samples
MIN_DISTINCT = 1500
#: a number a student computes by hand stays below this in magnitude
HAND_SIZED = 1e5




def _values(spec_id: str, name: str) -> list:
    return [inst.values[name] for inst in instances(spec_id)]


# ---------------------------------------------------------------------------- every spec


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPECS)
def test_spec_gives_at_least_1500_distinct_instances_in_2000_samples(spec_id):
    distinct = len({sheet_key(inst) for inst in instances(spec_id)})
    assert distinct >= MIN_DISTINCT, f"{spec_id}: {distinct} distinct sheets in {SAMPLES} samples"


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPECS)
def test_spec_instances_are_finite_hand_sized_and_no_mistake_equals_the_key(spec_id):
    tries = 0
    for inst in instances(spec_id):
        tries += inst.tries
        assert not inst.warnings, f"seed {inst.seed}: {inst.warnings}"
        for part in inst.parts:
            assert part.points > 0
            for b in part.blanks:
                if b.kind in ("number", "vector", "matrix"):
                    a = np.asarray(b.expected, dtype=float)
                    assert np.all(np.isfinite(a)), f"seed {inst.seed}: {b.name} is not finite"
                    assert np.all(np.abs(a) < HAND_SIZED), f"seed {inst.seed}: {b.name} = {a} is not hand-sized"
                for alt in b.alternatives:
                    if alt["credit"] < 1:
                        assert not overlaps(b, alt["value"], b.expected), \
                            f"seed {inst.seed}: mistake '{alt['name']}' of {b.name} is within the key's tolerance"
    assert tries / SAMPLES < 100, f"{tries / SAMPLES:.1f} tries per instance: constraints too tight"


@pytest.mark.library
@pytest.mark.parametrize("spec_id", SPECS)
def test_spec_has_no_constant_answer_and_no_bool_or_choice_key_above_95_percent(spec_id):
    # an answer the spec marks `constant: why` is a fact the part checks on purpose
    assert answer_repeats(LIBRARY.get(spec_id), list(instances(spec_id))) == []


# ---------------------------------------------------------------------------- the patterns of issue 18


@pytest.mark.library
def test_activation_values_never_draws_a_leaky_or_exponential_branch_steeper_than_the_positive_one():
    assert all(inst.params["alpha"] < 1 for inst in instances("activation-values"))


@pytest.mark.library
def test_activation_values_slope_from_value_is_never_just_alpha():
    for inst in instances("activation-values"):
        assert inst.params["act"] != "leaky_relu", f"seed {inst.seed}: part 3 is f'(x0) = alpha"
        assert not math.isclose(inst.values["df0"], inst.params["alpha"]), f"seed {inst.seed}"


@pytest.mark.library
def test_adam_first_step_true_false_is_true_exactly_when_adam_steps_less_than_sgd():
    answers = []
    for inst in instances("adam-steps"):
        p, v = inst.params, inst.values
        assert abs(v["w1"] - p["w0"]) == pytest.approx(p["lr"], rel=1e-6)  # Adam's first step: lr
        assert v["step1_shorter_than_sgd"] is bool(abs(p["g"][0]) > 1)
        answers.append(v["step1_shorter_than_sgd"])
    assert 0.05 < np.mean(answers) < 0.95


@pytest.mark.library
def test_layer_stack_receptive_field_takes_at_least_five_values():
    assert len({float(rf[-1]) for rf in _values("layer-stack", "rf_layers")}) >= 5


@pytest.mark.library
def test_newton_step_has_no_answer_constant_across_samples():
    names = [a.name for p in LIBRARY.get("newton-step").spec.parts for a in p.answers]
    assert len(names) == 11
    for name in names:
        assert len({repr(v) for v in _values("newton-step", name)}) > 1, name


@pytest.mark.library
def test_conv1d_backprop_never_asks_for_a_zero_kernel_gradient():
    assert all(v != 0 for v in _values("conv1d-backprop", "dLdc_j"))


@pytest.mark.library
def test_sgd_weight_decay_first_step_always_moves_the_weight():
    for inst in instances("sgd-weight-decay"):
        assert inst.values["w1"] != inst.params["w0"], f"seed {inst.seed}"


# ---------------------------------------------------------------------------- the variety report


def test_collision_figures_of_four_equally_likely_instances_match_the_birthday_problem():
    fig = collision_figures([500, 500, 500, 500], class_size=3)
    assert fig["distinct"] == 4 and fig["samples"] == 2000
    assert fig["pair_share"] == pytest.approx(4 * 500 * 499 / (2000 * 1999))
    assert fig["expected_shared_pairs"] == pytest.approx(3 * 0.25, rel=0.01)  # C(3,2) / 4
    assert fig["p_any_shared"] == pytest.approx(1 - (3 / 4) * (2 / 4), abs=0.002)  # exact: 0.625


def test_collision_figures_are_zero_when_no_two_samples_coincide_and_certain_beyond_the_instances():
    fig = collision_figures([1] * 50, class_size=300)
    assert fig["expected_shared_pairs"] == 0 and fig["p_any_shared"] == 0 and fig["effective_instances"] is None
    # 3 students, 2 instances: some pair shares (the estimate of q from samples is a little below 1/2)
    assert collision_figures([1000, 1000], class_size=3)["p_any_shared"] == pytest.approx(1.0, abs=1e-3)


TINY = counting_spec("tiny", 4)


def _tiny(tmp_path, extra: str = ""):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY + extra, encoding="utf-8")
    return path


def test_validate_reports_distinct_instances_and_the_collision_figure_of_a_known_spec(tmp_path):
    (report,) = validate_paths([_tiny(tmp_path)], samples=400, engine_name="numpy", class_size=3)["files"]
    v = report["variety"]
    assert (v["samples"], v["distinct"], v["class_size"]) == (400, 4, 3)
    assert v["expected_shared_pairs"] == pytest.approx(0.75, abs=0.05)
    assert v["p_any_shared"] == pytest.approx(0.625, abs=0.04)
    assert any("4 distinct of 400 samples" in n for n in report["notes"])


def test_validate_cli_prints_the_variety_and_gives_it_as_json(tmp_path):
    path = _tiny(tmp_path)
    runner = CliRunner()
    human = runner.invoke(app, ["--engine", "numpy", "validate", str(path), "--samples", "200", "--class-size", "5"])
    assert human.exit_code == 0, human.output
    assert "4 distinct of 200" in human.output and "class of 5" in human.output
    result = runner.invoke(app, ["--engine", "numpy", "validate", str(path), "--samples", "200", "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)["files"]
    assert report["variety"]["distinct"] == 4 and report["variety"]["class_size"] == 300
    assert report["variety"]["p_any_shared"] == 1.0  # 300 students, 4 instances


def test_validate_warns_about_a_constant_answer_unless_the_spec_says_why(tmp_path):
    constant = "      - {name: zero, expr: \"0 * n\"}\n"
    (report,) = validate_paths([_tiny(tmp_path, constant)], samples=200, engine_name="numpy")["files"]
    assert any("zero is" in w and "every sample" in w for w in report["warnings"]), report["warnings"]
    said = "      - {name: zero, expr: \"0 * n\", constant: \"zero times anything is zero\"}\n"
    (report,) = validate_paths([_tiny(tmp_path, said)], samples=200, engine_name="numpy")["files"]
    assert report["warnings"] == []
