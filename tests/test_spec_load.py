"""Spec validation: broken specs get located errors (file, line, key path) with a fix."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from i2dl.errors import ExprError, SamplingError, SpecError
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library, builtin_dir, load_spec

GOOD = """\
id: tiny
title: Tiny
topic: test
params:
  a: {type: int, min: 1, max: 5}
  b: {type: int, min: 1, max: 5}
parts:
  - id: sum
    text: "Add {{a}} and {{b}}."
    points: 1
    answers:
      - {name: s, expr: "a + b"}
"""


def write(tmp_path: Path, text: str, name: str = "tiny.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def error_of(tmp_path: Path, text: str) -> Exception:
    with pytest.raises((SpecError, ExprError)) as info:
        load_spec(write(tmp_path, text))
    return info.value


def test_load_spec_accepts_a_minimal_spec(tmp_path, np_engine):
    inst = make_instance(load_spec(write(tmp_path, GOOD)), 1, np_engine)
    assert inst.values["s"] == inst.params["a"] + inst.params["b"]
    assert inst.parts[0].text == f"Add {inst.params['a']} and {inst.params['b']}."


def test_missing_key_names_line_and_path(tmp_path):
    err = error_of(tmp_path, GOOD.replace("    points: 1\n", ""))
    assert "parts[0].points" in str(err)
    assert "tiny.yaml:8" in str(err)
    assert "missing required key 'points'" in str(err)


def test_wrong_param_type_lists_the_known_types(tmp_path):
    err = error_of(tmp_path, GOOD.replace("type: int, min: 1, max: 5}\n  b", "type: integer, min: 1}\n  b"))
    assert "params.a" in str(err)
    assert "int, decimal" in str(err)


def test_unknown_name_in_an_answer_suggests_a_fix(tmp_path):
    err = error_of(tmp_path, GOOD.replace('"a + b"', '"a + bb"'))
    assert "bb" in str(err) and "parts[0].answers[0].expr" in str(err)
    assert "did you mean" in str(err)


def test_unknown_function_is_a_load_time_error(tmp_path):
    err = error_of(tmp_path, GOOD.replace('"a + b"', '"conv3d(a, b)"'))
    assert "conv3d" in str(err) and "tiny.yaml:12" in str(err)


def test_cycle_is_a_load_time_error(tmp_path):
    text = GOOD.replace('      - {name: s, expr: "a + b"}', '      - {name: s, expr: "u + 1"}\n      - {name: u, expr: "s + 1"}')
    err = error_of(tmp_path, text)
    assert "cycle" in str(err)


def test_syntax_error_in_an_expression_names_its_place(tmp_path):
    err = error_of(tmp_path, GOOD.replace('"a + b"', '"a + (b"'))
    assert "parts[0].answers[0].expr" in str(err)


def test_unknown_rubric_lists_the_rubrics(tmp_path):
    err = error_of(tmp_path, GOOD.replace("    points: 1\n", "    points: 1\n    rubric: halfsies\n"))
    assert "halfsies" in str(err) and "parts[0].rubric" in str(err)


def test_duplicate_names_are_refused(tmp_path):
    err = error_of(tmp_path, GOOD.replace("{name: s,", "{name: a,"))
    assert "defined twice" in str(err)


def test_unknown_keys_warn_with_a_suggestion(tmp_path):
    spec = load_spec(write(tmp_path, GOOD.replace("topic: test", "topic: test\ndificulty: 2")))
    assert any("dificulty" in w and "difficulty" in w for w in spec.warnings)


def test_type_mismatch_between_kind_and_value_names_the_answer(tmp_path, np_engine):
    spec = load_spec(write(tmp_path, GOOD.replace('"a + b"', '"[a, b]"')))
    with pytest.raises(SpecError, match="answer 's'.*shape"):
        make_instance(spec, 0, np_engine)


def test_impossible_constraint_fails_naming_it(tmp_path, np_engine):
    spec = load_spec(write(tmp_path, GOOD.replace("parts:", 'constraints:\n  - {expr: "a > 10", why: "a is big"}\nmax_tries: 50\nparts:')))
    with pytest.raises(SamplingError, match="a is big"):
        make_instance(spec, 0, np_engine)


def test_pinned_values_that_break_a_constraint_only_warn(tmp_path, np_engine):
    spec = load_spec(write(tmp_path, GOOD.replace("parts:", 'constraints: ["a != b"]\nparts:')))
    inst = make_instance(spec, 0, np_engine, pins={"a": 2, "b": 2})
    assert inst.values["s"] == 4
    assert inst.warnings and "a != b" in inst.warnings[0]


def test_same_seed_same_instance_different_seed_different_numbers(np_engine):
    spec = Library().get("conv1d-backprop")
    a, b = make_instance(spec, 11, np_engine), make_instance(spec, 11, np_engine)
    c = make_instance(spec, 12, np_engine)
    assert repr(a.values) == repr(b.values)
    assert repr(a.values) != repr(c.values)


def test_library_unknown_spec_lists_what_exists():
    from i2dl.errors import NotFoundError

    with pytest.raises(NotFoundError) as info:
        Library().get("conv1d-backprp")
    assert "conv1d-backprop" in (info.value.fix or "")


def test_choice_answer_without_options_is_a_load_error(tmp_path):
    err = error_of(tmp_path, GOOD.replace('{name: s, expr: "a + b"}', '{name: s, expr: "letter(0)", kind: choice}'))
    assert "options" in str(err)


def test_alternative_when_offers_it_only_where_it_holds_and_renders_feedback(tmp_path, np_engine):
    text = GOOD.replace('{name: s, expr: "a + b"}', '{name: s, expr: "a + b", alternatives: ['
                        '{name: product, expr: "a * b", when: "a * b != a + b", feedback: "{{a}} times {{b}} is not a sum."}]}')
    spec = load_spec(write(tmp_path, text))
    both_two = make_instance(spec, 0, np_engine, pins={"a": 2, "b": 2})
    assert both_two.parts[0].blanks[0].alternatives == []
    other = make_instance(spec, 0, np_engine, pins={"a": 2, "b": 3})
    (alt,) = other.parts[0].blanks[0].alternatives
    assert alt["value"] == 6 and alt["feedback"] == "2 times 3 is not a sum."


def test_stress_test_reports_how_often_each_constraint_rejects(tmp_path, np_engine):
    from i2dl.validate import stress_spec

    spec = load_spec(write(tmp_path, GOOD.replace("parts:", 'constraints:\n  - {expr: "a != b", why: "a and b differ"}\nparts:')))
    stats = stress_spec(spec, 200, np_engine)
    rate = stats["rejection_rates"]["a and b differ"]
    assert 0.1 < rate < 0.3  # a == b for 1 in 5 samples
    assert stats["failures"] == 0 and 1.0 < stats["tries_per_instance"] < 1.5


def test_partial_pins_that_break_a_constraint_give_a_warning_not_a_failure(tmp_path, np_engine):
    spec = load_spec(write(tmp_path, GOOD.replace("parts:", 'constraints: ["a + b > 20"]\nmax_tries: 100\nparts:')))
    inst = make_instance(spec, 0, np_engine, pins={"a": 1})
    assert inst.params["a"] == 1
    assert inst.warnings and "a + b > 20" in inst.warnings[0]


def test_range_bounds_may_read_earlier_parameters(tmp_path, np_engine):
    spec = load_spec(write(tmp_path, GOOD.replace("b: {type: int, min: 1, max: 5}", "b: {type: int, min: 1, max: a}")))
    for seed in range(30):
        inst = make_instance(spec, seed, np_engine)
        assert 1 <= inst.params["b"] <= inst.params["a"]


# ---------------------------------------------------------------------------- the spec as data


def test_load_spec_source_is_the_document_and_the_sha256_of_the_file(tmp_path):
    import hashlib

    path = write(tmp_path, GOOD)
    compiled = load_spec(path)
    assert compiled.source.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert compiled.source.document["id"] == compiled.id and compiled.source.origin == str(path)


def test_spec_with_a_value_json_cannot_hold_is_refused_with_its_location(tmp_path):
    text = (builtin_dir("specs") / "logistic-regression-step.yaml").read_text(encoding="utf-8")
    path = tmp_path / "logistic-regression-step.yaml"
    path.write_text(text.replace("tags: [", "released: 2024-01-15\ntags: ["), encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert "released" in exc.value.where and "exam.json stores it" in exc.value.message


def test_every_shipped_spec_survives_a_json_round_trip_unchanged():
    library = Library()
    for spec_id in library.ids():
        document = library.get(spec_id).source.document
        assert json.loads(json.dumps(document)) == document, spec_id
