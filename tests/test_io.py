"""i2dl.io: guarded YAML/JSON loading, key-path lines, deterministic dumps, atomic writes, safe names."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import i2dl.io as io_module
from i2dl.errors import NotFoundError, SpecError, SubmissionError, UsageError
from i2dl.io import (
    atomic_write_bytes,
    atomic_write_text,
    display_path,
    dump_yaml,
    has_lone_surrogate,
    line_of,
    load_yaml,
    load_yaml_text,
    load_yaml_with_marks,
    printable,
    safe_child,
    slugify,
    spreadsheet_safe,
    to_plain,
)

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

SPEC = """\
id: conv
parts:
  - name: out
    answers:
      - name: h
        expr: (n - k) / s + 1
      - name: w
        expr: h
title: "Conv"
"""


#: The routes a YAML text can take: the pure-Python parser (PyYAML without libyaml), libyaml
#: composing in C then one guard walk over the graph, and libyaml's events composed in Python
#: with the guards (texts too big to compose in C, and every text the walk rejects).
YAML_BACKENDS = ("python", "libyaml", "libyaml-events")


@contextlib.contextmanager
def yaml_route(name: str):
    """Load YAML through route `name` inside the block."""
    if name != "python" and io_module._CParser is None:
        pytest.skip("PyYAML is built without libyaml")
    saved = io_module.USE_LIBYAML, io_module.C_COMPOSE_MAX_INDICATORS
    io_module.USE_LIBYAML = name != "python"
    if name == "libyaml-events":
        io_module.C_COMPOSE_MAX_INDICATORS = -1
    try:
        yield
    finally:
        io_module.USE_LIBYAML, io_module.C_COMPOSE_MAX_INDICATORS = saved


@pytest.fixture(params=YAML_BACKENDS)
def yaml_backend(request):
    """Run the test once per YAML route: data and errors must not depend on it."""
    with yaml_route(request.param):
        yield request.param


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- load_yaml


def test_load_yaml_reads_mapping_in_file_order(tmp_path, yaml_backend):
    data = load_yaml(write(tmp_path, "s.yaml", "b: 1\na: [1.5, x, true]\n"))
    assert data == {"b": 1, "a": [1.5, "x", True]}
    assert list(data) == ["b", "a"]


def test_load_yaml_missing_file_raises_not_found(tmp_path):
    with pytest.raises(NotFoundError, match="not found"):
        load_yaml(tmp_path / "nope.yaml")


def test_load_yaml_directory_raises_error(tmp_path):
    with pytest.raises(SpecError, match="directory"):
        load_yaml(tmp_path)


def test_load_yaml_checks_size_before_parsing(tmp_path):
    path = write(tmp_path, "big.yaml", "a: " + "x" * 200 + "\n")
    with pytest.raises(SpecError, match="100-byte limit") as info:
        load_yaml(path, max_bytes=100)
    assert info.value.where == str(path)
    assert info.value.fix


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "~\n", "null\n"])
def test_load_yaml_empty_file_is_a_clear_error(tmp_path, text, yaml_backend):
    with pytest.raises(SpecError, match="no data"):
        load_yaml(write(tmp_path, "e.yaml", text))


def test_load_yaml_billion_laughs_stops_at_the_node_budget(tmp_path, yaml_backend):
    path = write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    with pytest.raises(SpecError, match="more than 100,000 nodes") as info:
        load_yaml(path)
    assert info.value.where.startswith(f"{path}:")
    assert "alias" in info.value.fix


def test_load_yaml_billion_laughs_raises_callers_error_class(tmp_path, yaml_backend):
    path = write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    with pytest.raises(SubmissionError):
        load_yaml(path, error=SubmissionError)


def test_load_yaml_counts_alias_expansion_against_node_cap(tmp_path, yaml_backend):
    # 10 aliases of a 10-item list: 11 distinct items on disk, over 100 once expanded.
    text = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    with pytest.raises(SpecError, match="more than 100 nodes"):
        load_yaml(write(tmp_path, "x.yaml", text), max_nodes=100)
    assert load_yaml(write(tmp_path, "y.yaml", text), max_nodes=200)["b"][9] == list(range(1, 11))


def test_load_yaml_counts_long_aliased_strings(tmp_path, yaml_backend):
    text = f"a: &a {'x' * 50_000}\nb: [{', '.join(['*a'] * 100)}]\n"
    with pytest.raises(SpecError, match="nodes"):
        load_yaml(write(tmp_path, "s.yaml", text), max_nodes=1000)


def test_load_yaml_rejects_recursive_alias(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="recursive") as info:
        load_yaml(write(tmp_path, "r.yaml", "a: &a [1, *a]\n"))
    assert info.value.where.endswith(":1:11")


def test_load_yaml_rejects_nesting_beyond_max_depth(tmp_path, yaml_backend):
    deep = "[" * 51 + "]" * 51
    with pytest.raises(SpecError, match="deeper than 50 levels"):
        load_yaml(write(tmp_path, "d.yaml", f"a: {deep}\n"))
    assert load_yaml(write(tmp_path, "ok.yaml", "[" * 50 + "]" * 50))


def test_load_yaml_rejects_block_nesting_beyond_max_depth(tmp_path, yaml_backend):
    text = "".join("  " * i + f"k{i}:\n" for i in range(6)) + "  " * 6 + "v\n"
    with pytest.raises(SpecError, match="deeper than 5 levels"):
        load_yaml(write(tmp_path, "d.yaml", text), max_depth=5)


def test_load_yaml_huge_nesting_is_an_error_not_a_crash(tmp_path, yaml_backend):
    # libyaml stops deep flow nesting with its own limit and wording; i2dl reports its own cap.
    path = write(tmp_path, "d.yaml", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(SpecError, match="deeper than 50 levels") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:1:51"
    assert info.value.fix


def test_load_yaml_counts_alias_height_against_max_depth(tmp_path, yaml_backend):
    text = "a: &a [[[[1]]]]\nb: [[[*a]]]\n"  # 1 + 4 own levels, then 1 + 3 + 4 through the alias
    with pytest.raises(SpecError, match="deeper than 6"):
        load_yaml(write(tmp_path, "d.yaml", text), max_depth=6)
    assert load_yaml(write(tmp_path, "e.yaml", text), max_depth=8)["b"] == [[[[[[[1]]]]]]]


def test_load_yaml_alias_over_node_cap_names_the_alias(tmp_path, yaml_backend):
    # 15 nodes before the list's items, 11 per *a: the 8th alias (line 2, column 26) passes 100.
    text = "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    path = write(tmp_path, "x.yaml", text)
    with pytest.raises(SpecError, match="more than 100 nodes") as info:
        load_yaml(path, max_nodes=100)
    assert info.value.where == f"{path}:2:26"


def test_load_yaml_alias_over_max_depth_names_the_alias(tmp_path, yaml_backend):
    path = write(tmp_path, "d.yaml", "a: &a [[[[1]]]]\nb: [[[*a]]]\n")
    with pytest.raises(SpecError, match="deeper than 6") as info:
        load_yaml(path, max_depth=6)
    assert info.value.where == f"{path}:2:7"


def test_load_yaml_guards_do_not_expand_aliases(tmp_path, yaml_backend):
    # Under a cap high enough to let it through, the bomb (~4e8 nodes expanded) loads at once:
    # neither the guards nor the constructor copy what an alias repeats.
    path = write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    data = load_yaml(path, max_nodes=10**12)
    assert data["i"][0] is data["h"]  # shared, not copied


@pytest.mark.parametrize("text", ["- " * 100_000 + "x\n", "a: " + "{b: " * 100_000 + "1\n"])
def test_load_yaml_huge_nesting_in_any_style_is_an_error_not_a_crash(tmp_path, yaml_backend, text):
    # libyaml's C composer has no depth check: ~25,000 levels overflow the stack and kill the
    # process, so such a text must never reach it.
    with pytest.raises(SpecError, match="deeper than 50"):
        load_yaml(write(tmp_path, "d.yaml", text))


def test_load_yaml_composes_in_c_only_texts_with_few_indicators(tmp_path, monkeypatch):
    if io_module._CParser is None:
        pytest.skip("PyYAML is built without libyaml")
    import yaml

    composed = []
    real = yaml.CSafeLoader
    monkeypatch.setattr(yaml, "CSafeLoader", lambda text: composed.append(text) or real(text))
    small = "a: [" + ", ".join(["1"] * 10) + "]\n"
    big = "a: [" + ", ".join(["1"] * (io_module.C_COMPOSE_MAX_INDICATORS + 1)) + "]\n"
    assert load_yaml(write(tmp_path, "s.yaml", small))["a"] == [1] * 10
    assert load_yaml(write(tmp_path, "b.yaml", big))["a"] == [1] * (io_module.C_COMPOSE_MAX_INDICATORS + 1)
    assert composed == [small]


def test_load_yaml_malformed_names_file_line_and_column(tmp_path, yaml_backend):
    path = write(tmp_path, "bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:3:2"
    assert "'[' opened at line 2, column 4" in info.value.fix


# A tab in a flow collection: libyaml words it otherwise than PyYAML; the fix is the same.
@pytest.mark.parametrize("text", ["a:\n\tb: 1\n", "é: [1, 2\n\tc: 3\n"], ids=["block", "flow-collection"])
def test_load_yaml_tab_indentation_gets_specific_fix(tmp_path, yaml_backend, text):
    path = write(tmp_path, "tab.yaml", text)
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:1"
    assert "spaces" in info.value.fix


def test_load_yaml_alias_and_anchor_errors_name_the_anchor(tmp_path, yaml_backend):
    path = write(tmp_path, "u.yaml", "a: *x\n")
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:1:4"
    assert "&x" in info.value.fix and "*x" in info.value.fix
    path = write(tmp_path, "d.yaml", "a: &x 1\nb: &x 2\n")
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:4"
    assert "&x is defined twice" in info.value.fix


def test_load_yaml_duplicate_key_names_key_and_lines(tmp_path, yaml_backend):
    path = write(tmp_path, "dup.yaml", "a: 1\nb:\n  c: 2\n  d: 3\n  c: 4\n")
    with pytest.raises(SpecError, match=r"duplicate key 'c' \(first defined at line 3\)") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:5:3"


def test_load_yaml_duplicate_key_detected_across_quoting(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="duplicate key 'a'"):
        load_yaml(write(tmp_path, "dup.yaml", "a: 1\n'a': 2\n"))


def test_load_yaml_duplicate_key_detected_in_flow_mapping(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="duplicate key 1"):
        load_yaml(write(tmp_path, "dup.yaml", "m: {1: x, 1: y}\n"))


def test_load_yaml_merge_key_override_is_not_a_duplicate(tmp_path, yaml_backend):
    text = "base: &b {p: 1, q: 2}\nder:\n  <<: *b\n  q: 3\n"
    assert load_yaml(write(tmp_path, "m.yaml", text))["der"] == {"p": 1, "q": 3}


def test_load_yaml_same_key_in_different_mappings_is_fine(tmp_path, yaml_backend):
    assert load_yaml(write(tmp_path, "k.yaml", "a: {x: 1}\nb: {x: 2}\n")) == {
        "a": {"x": 1}, "b": {"x": 2}}


def test_load_yaml_never_constructs_python_objects(tmp_path, yaml_backend):
    marker = tmp_path / "pwned"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    path = write(tmp_path, "evil.yaml", text)
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(path)
    assert not marker.exists()
    assert info.value.where == f"{path}:1:4"
    assert "'!tag'" in info.value.fix


def test_load_yaml_rejects_several_documents(tmp_path, yaml_backend):
    path = write(tmp_path, "two.yaml", "a: 1\n---\nb: 2\n")
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:1"
    assert "one document per file" in info.value.fix


def test_load_yaml_invalid_utf8_names_line(tmp_path):
    path = write(tmp_path, "latin.yaml", b"a: 1\nb: M\xfcller\n")
    with pytest.raises(SpecError, match="not UTF-8") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:5"


def test_load_yaml_accepts_utf8_bom(tmp_path, yaml_backend):
    assert load_yaml(write(tmp_path, "bom.yaml", "\ufeffa: ü\n".encode())) == {"a": "ü"}


def test_load_yaml_huge_integer_is_an_error_not_a_crash(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="cannot read a value"):
        load_yaml(write(tmp_path, "int.yaml", "a: " + "9" * 5000 + "\n"))


def test_load_yaml_bad_date_is_an_error_not_a_crash(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="cannot read a value"):
        load_yaml(write(tmp_path, "date.yaml", "a: 2024-13-45\n"))


def test_load_yaml_control_character_is_an_error(tmp_path, yaml_backend):
    with pytest.raises(SpecError, match="invalid YAML") as info:
        load_yaml(write(tmp_path, "ctl.yaml", "a: b\x07c\n"))
    assert "#x0007: special characters are not allowed" in info.value.message


def test_load_yaml_text_reports_source_name(yaml_backend):
    with pytest.raises(SubmissionError) as info:
        load_yaml_text("a: [1\n", source="<answers>", error=SubmissionError)
    assert info.value.where.startswith("<answers>:")
    assert load_yaml_text("a: 1") == {"a": 1}


# --------------------------------------------------------------------------- JSON


def test_load_yaml_reads_json_by_suffix(tmp_path):
    assert load_yaml(write(tmp_path, "s.json", '{"a": [1, 2.5, null], "b": "x"}')) == {
        "a": [1, 2.5, None], "b": "x"}


def test_load_yaml_json_malformed_names_line_and_column(tmp_path):
    path = write(tmp_path, "bad.json", '{"a": 1,\n "b": [1, 2,]\n}')
    with pytest.raises(SpecError, match="invalid JSON") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:13"


def test_load_yaml_json_duplicate_key_names_key_and_line(tmp_path):
    path = write(tmp_path, "dup.json", '{"a": 1,\n "b": {"a": 2},\n "a": 3}')
    with pytest.raises(SpecError, match=r"duplicate key 'a' \(first defined at line 1\)") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:3:2"


def test_load_yaml_json_deep_nesting_is_rejected_before_parsing(tmp_path):
    path = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(SpecError, match="deeper than 50") as info:
        load_yaml(path)
    assert info.value.where == f"{path}:1:51"


def test_load_yaml_json_node_cap(tmp_path):
    with pytest.raises(SpecError, match="more than 10 values"):
        load_yaml(write(tmp_path, "n.json", json.dumps(list(range(20)))), max_nodes=10)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_load_yaml_json_rejects_non_finite_constants(tmp_path, constant):
    with pytest.raises(SpecError, match="not valid JSON"):
        load_yaml(write(tmp_path, "c.json", f'{{"a": {constant}}}'))


def test_load_yaml_json_empty_and_null_are_clear_errors(tmp_path):
    for text in ("", "null"):
        with pytest.raises(SpecError, match="no data"):
            load_yaml(write(tmp_path, "e.json", text))


def test_load_yaml_json_uses_callers_error_class(tmp_path):
    with pytest.raises(SubmissionError):
        load_yaml(write(tmp_path, "b.json", "{"), error=SubmissionError)


# --------------------------------------------------------------------------- marks


def test_load_yaml_with_marks_maps_key_paths_to_lines(tmp_path, yaml_backend):
    data, marks = load_yaml_with_marks(write(tmp_path, "spec.yaml", SPEC))
    assert data["parts"][0]["answers"][1]["expr"] == "h"
    assert marks[()] == 1
    assert marks[("id",)] == 1
    assert marks[("parts",)] == 2
    assert marks[("parts", 0)] == 3
    assert marks[("parts", 0, "answers")] == 4
    assert marks[("parts", 0, "answers", 0, "expr")] == 6
    assert marks[("parts", 0, "answers", 1)] == 7
    assert marks[("title",)] == 9


def test_load_yaml_with_marks_merged_keys_point_at_their_definition(tmp_path, yaml_backend):
    text = "base: &b {p: 1, q: 2}\nder:\n  <<: *b\n  q: 3\n"
    data, marks = load_yaml_with_marks(write(tmp_path, "m.yaml", text))
    assert data["der"] == {"p": 1, "q": 3}
    assert marks[("der", "p")] == 1
    assert marks[("der", "q")] == 4


def test_load_yaml_with_marks_reads_json_lines(tmp_path):
    text = '{\n  "parts": [\n    {"name": "a",\n     "answers": [1,\n       2]}\n  ]\n}\n'
    data, marks = load_yaml_with_marks(write(tmp_path, "s.json", text))
    assert data == {"parts": [{"name": "a", "answers": [1, 2]}]}
    assert marks[("parts",)] == 2
    assert marks[("parts", 0)] == 3
    assert marks[("parts", 0, "answers")] == 4
    assert marks[("parts", 0, "answers", 1)] == 5


def test_line_of_falls_back_to_nearest_ancestor(tmp_path, yaml_backend):
    _, marks = load_yaml_with_marks(write(tmp_path, "spec.yaml", SPEC))
    assert line_of(marks, ("parts", 0, "answers", 0, "missing_key")) == 5
    assert line_of(marks, ("nope", "deeper")) == 1
    assert line_of({}, ("a",)) is None


# --------------------------------------------------------------------------- dump_yaml


def test_dump_yaml_keeps_insertion_order_and_unicode():
    text = dump_yaml({"z": 1, "a": "Müller × 2", "m": None})
    assert text == "z: 1\na: Müller × 2\nm: null\n"


def test_dump_yaml_converts_numpy_to_plain_types():
    data = {"v": np.array([1.5, 2.0]), "m": np.arange(4).reshape(2, 2), "s": np.float64(0.1),
            "i": np.int64(3), "b": np.bool_(True), "t": (1, 2)}
    text = dump_yaml(data)
    assert "!!" not in text
    assert load_yaml_text(text) == {"v": [1.5, 2.0], "m": [[0, 1], [2, 3]], "s": 0.1, "i": 3,
                                    "b": True, "t": [1, 2]}


def test_dump_yaml_writes_floats_shortest_round_trip():
    text = dump_yaml({"a": 0.1, "b": 1e-05, "c": 1e16, "d": 1 / 3, "e": -0.0})
    assert text == "a: 0.1\nb: 1.0e-05\nc: 1.0e+16\nd: 0.3333333333333333\ne: -0.0\n"


def test_dump_yaml_writes_shared_lists_without_aliases():
    shared = [1, 2]
    text = dump_yaml({"a": shared, "b": shared})
    assert "&" not in text and "*" not in text


def test_dump_yaml_writes_multiline_text_as_block():
    assert dump_yaml({"t": "line 1\nline 2"}) == "t: |-\n  line 1\n  line 2\n"


def test_dump_yaml_sorts_sets_for_determinism():
    assert dump_yaml({"s": {"ca", "ab", "b"}}) == "s:\n- ab\n- b\n- ca\n"


def test_plain_data_writes_option_letters_as_a_student_does_everywhere():
    from i2dl.explain.steps import _plain as explain_plain
    from i2dl.generate import _plain as solve_plain

    letters = frozenset("CA")
    assert to_plain(letters) == explain_plain(letters) == solve_plain(letters) == "AC"
    assert dump_yaml({"s": letters}) == "s: AC\n"


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(yaml_values)
def test_dump_yaml_round_trips_and_is_byte_identical(data):
    text = dump_yaml(data)
    assert dump_yaml(data) == text
    if data is not None:
        assert load_yaml_text(text) == data


@settings(max_examples=100, deadline=None)
@given(yaml_values)
def test_yaml_routes_read_dumped_data_alike(data):
    text = dump_yaml({"d": data})
    for name in YAML_BACKENDS:
        with yaml_route(name):
            assert load_yaml_text(text) == {"d": data}, name


@given(st.floats(allow_nan=False))
def test_dump_yaml_float_text_is_repr(x):
    text = dump_yaml({"x": x})
    if math.isfinite(x):
        assert float(text[3:]) == x
        assert text[3:].strip().replace(".0e", "e") == repr(x)


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_text_creates_parents_and_content(tmp_path):
    path = tmp_path / "a" / "b" / "out.yaml"
    assert atomic_write_text(path, "x: ü\n") == path
    assert path.read_text(encoding="utf-8") == "x: ü\n"
    assert os.listdir(path.parent) == ["out.yaml"]


def test_atomic_write_text_sets_mode_0644(tmp_path):
    path = atomic_write_text(tmp_path / "f.txt", "x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_atomic_write_bytes_overwrites_existing(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"new\x00")
    assert path.read_bytes() == b"new\x00"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "old")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_atomic_write_bytes_bad_data_leaves_no_temp(tmp_path):
    with pytest.raises(TypeError):
        atomic_write_bytes(tmp_path / "f.bin", "not bytes")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_atomic_write_text_long_name_fits_temp_name(tmp_path):
    path = tmp_path / ("n" * 250)
    atomic_write_text(path, "x")
    assert path.read_text() == "x"


# --------------------------------------------------------------------------- safe_child


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", ".", "a/../../b",
                                  "~root", "C:\\Windows", "a\x00b", "\u202egnp.exe"])
def test_safe_child_stays_inside_root(tmp_path, name):
    child = safe_child(tmp_path, name)
    assert child.parent == tmp_path
    assert child.resolve().is_relative_to(tmp_path.resolve())
    assert not child.name.startswith(".")


def test_safe_child_keeps_plain_ids(tmp_path):
    assert safe_child(tmp_path, "ge42xyz_01.v2") == tmp_path / "ge42xyz_01.v2"


def test_safe_child_empty_name_becomes_underscore(tmp_path):
    assert safe_child(tmp_path, "") == tmp_path / "_"
    assert safe_child(tmp_path, "...") == tmp_path / "_"


def test_safe_child_replaces_unicode(tmp_path):
    assert safe_child(tmp_path, "Müller Jörg").name == "M_ller_J_rg"


def test_safe_child_bounds_length(tmp_path):
    assert len(safe_child(tmp_path, "x" * 10_000).name) == 100


def test_safe_child_refuses_symlink_out_of_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "evil").symlink_to(tmp_path)
    with pytest.raises(UsageError, match="outside"):
        safe_child(root, "evil")


def test_slugify_examples():
    assert slugify("../../etc/passwd") == "_.._etc_passwd"
    assert slugify(".hidden") == "hidden"
    assert slugify("a b") == "a_b"


@given(st.text())
def test_safe_child_any_name_is_a_direct_child(name):
    root = Path("/tmp/i2dl-safe-child-root")
    child = safe_child(root, name)
    assert child.parent == root
    assert 1 <= len(child.name) <= 100
    assert child.name not in (".", "..")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in child.name)


def _marked_error(cls, text: str, index: int, problem: str):
    """A YAML error of `cls` at `index` of `text`, worded as no PyYAML release words it."""
    import yaml

    line = text.count("\n", 0, index)
    mark = yaml.Mark("<t>", index, line, index - (text.rfind("\n", 0, index) + 1), text, index)
    return cls(None, None, problem, mark)


@pytest.mark.parametrize(("kind", "text", "index", "expected"), [
    ("scanner", "a:\n\tb: 1\n", 3, "spaces"),
    ("composer", "a: *x\n", 3, "&x"),
    ("composer", "a: &x 1\nb: &x 2\n", 11, "twice"),
    ("composer", "a: 1\n---\nb: 2\n", 5, "one document"),
    ("constructor", "a: !foo 1\n", 3, "'!tag'"),
    ("scanner", "a: b: c\n", 4, "': '"),
    ("scanner", "a: 1\nb: 2 %\n", 10, "check indentation"),
], ids=["tab", "alias", "anchor", "documents", "tag", "colon", "unrecognised"])
def test_yaml_fix_is_chosen_from_the_text_not_the_wording(kind, text, index, expected):
    import yaml

    cls = {"scanner": yaml.scanner.ScannerError, "composer": yaml.composer.ComposerError,
           "constructor": yaml.constructor.ConstructorError}[kind]
    exc = _marked_error(cls, text, index, "zz a wording no release uses")
    assert expected in io_module._yaml_fix(exc, text)


def test_load_yaml_unfamiliar_parser_error_gets_generic_fix_and_location(tmp_path, monkeypatch):
    import yaml

    text = "a: 1\nb: 2\n"
    path = write(tmp_path, "x.yaml", text)

    def refuse(self):
        raise _marked_error(yaml.parser.ParserError, text, 8, "qq something new went wrong")

    monkeypatch.setattr(io_module, "USE_LIBYAML", False)
    monkeypatch.setattr(io_module._GuardedLoader, "get_single_node", refuse)
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    assert info.value.where == f"{path}:2:4"
    assert info.value.fix == io_module._GENERIC_YAML_FIX
# --------------------------------------------------------------------------- text keys, special files, text helpers

ID_TEXTS = ["012345", "0777", "0x1F", "12_345", "1:30", "+42", "1.50", "1e5", "true", "no", "2024-01-31", ".inf"]


@pytest.mark.parametrize("written", ID_TEXTS)
def test_load_yaml_text_keys_keep_the_scalar_as_written(tmp_path, yaml_backend, written):
    path = write(tmp_path, "s.yaml", f"id: {written}\nother: {written}\n")
    data = load_yaml(path, text_keys=frozenset({"id"}))
    assert data["id"] == written
    assert data["other"] == load_yaml(path)["other"]  # only the named keys are kept as text


@pytest.mark.parametrize("text, expected", [("id:\n", None), ("id: ~\n", None), ("id: ''\n", ""),
                                            ("id: '0777'\n", "0777"), ("id: [1]\n", [1])])
def test_load_yaml_text_keys_leave_null_strings_and_collections_alone(tmp_path, yaml_backend, text, expected):
    assert load_yaml(write(tmp_path, "s.yaml", text), text_keys=frozenset({"id"}))["id"] == expected


@pytest.mark.parametrize("written", ["12", "1.50", "-0", "1E5", "true"])
def test_load_json_text_keys_keep_the_number_as_written(tmp_path, written):
    path = write(tmp_path, "s.json", f'{{"id": {written}, "n": {{"id": {written}}}}}')
    data = load_yaml(path, text_keys=frozenset({"id"}))
    assert data["id"] == written
    assert data["n"]["id"] == json.loads(written)  # nested keys of the same name are data


def test_load_json_text_keys_leave_null_alone(tmp_path):
    assert load_yaml(write(tmp_path, "s.json", '{"id": null}'), text_keys=frozenset({"id"})) == {"id": None}


def test_load_yaml_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SubmissionError, match="FIFO"):  # refused from its stat, never opened
        load_yaml(fifo, error=SubmissionError)


def test_load_yaml_device_is_refused(tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    with pytest.raises(SpecError, match="device"):
        load_yaml("/dev/null")


def test_printable_spells_lone_surrogates_as_escapes():
    assert printable("a\ud800b") == "a\\ud800b"
    assert printable("Zoë") == "Zoë"
    assert has_lone_surrogate("\udcff") and not has_lone_surrogate("🙂")
    printable("\ud83d\ude00 \udfff").encode("utf-8")


def test_display_path_shows_undecodable_bytes_escaped():
    name = os.fsdecode(b"caf\xe9.yaml")
    assert display_path(Path("subs") / name) == "subs/caf\\xe9.yaml"
    assert display_path("subs/café.yaml") == "subs/café.yaml"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"x\")"])
def test_spreadsheet_safe_quotes_formula_starts(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["ge42xyz", "", "1", "Zoë", " =1", "'quoted"])
def test_spreadsheet_safe_leaves_other_text_alone(cell):
    assert spreadsheet_safe(cell) == cell


@pytest.mark.parametrize("flow_text", [False, True])  # with marks, or with flow texts
def test_load_yaml_frees_its_node_graph_without_the_cycle_collector(tmp_path, flow_text):
    # A batch reads thousands of files: what one read leaves must go by reference counting alone,
    # not wait in the young generation for a collection (the guard walks are recursive closures).
    import gc

    path = tmp_path / "answers.yaml"
    path.write_text("student_id: s1\nanswers:\n  '1.1': [[1, 2], [3, 4]]\n  '1.2': {a: 0.5, b: [1, 2]}\n"
                    "  '1.3': &x [5, 6]\n  '1.4': *x\n", encoding="utf-8")
    read = io_module.load_yaml_with_marks if flow_text else partial(load_yaml, flow_text=True)
    read(path)  # imports and caches warmed
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            read(path)
        assert gc.collect() == 0
    finally:
        gc.enable()
