"""The answer-kind registry drives these tests: every kind's key survives the answer file, the grader and
exam.json, has a form hint and formats in every style; a kind missing a piece fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import ValidationError

from i2dl import kinds
from i2dl.errors import AnswerParseError
from i2dl.exam.data import BlankData
from i2dl.export.answers import answer_text, blank_form
from i2dl.grade.score import BLANK, CORRECT, INVALID, MISSING, PENDING, WRONG, Grader
from i2dl.io import dump_yaml, load_yaml_text
from i2dl.kinds import KINDS, NAMES, AnswerKind, approx_equal, within
from i2dl.kinds.base import WHOLE, data_type
from i2dl.render import STYLES
from i2dl.spec.instance import Blank, PartInstance, ProblemInstance, from_data, to_data
from i2dl.spec.model import Answer
from i2dl.spec.rubric import Rubric

ROOT = Path(__file__).resolve().parent.parent
EACH = pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
N_OPTIONS = 4
#: More key values per kind than its own example: edge cases of the answer-file form.
MORE: dict[str, list[Any]] = {
    "number": [34944, -2.5e-5, 0, 1e15],
    "vector": [[7.0], [0.0, -1e-8, 123456.789]],
    "matrix": [[[1.0, 2.0, 3.0]], [[0.5], [-0.25]]],
    "shape": [(16,), np.array([3, 32, 32])],
    "choice": ["", "D", ["B", "a"]],
    "bool": [False, np.bool_(True)],
    "text": ["two words", "0.5"],
}


def _keys(kind: AnswerKind) -> list[Any]:
    return [kind.coerce(v) for v in [kind.example, *MORE.get(kind.name, [])]]


def _via_answer_file(value: Any) -> Any:
    """A key written into an answer file as `generate` writes it, and read back as grading reads it."""
    text = dump_yaml({"answers": {"1.1": {"x": answer_text(value)}}})
    return load_yaml_text(text)["answers"]["1.1"]["x"]


# ---------------------------------------------------------------------------- the registry


def test_registry_names_every_kind_once_in_the_documented_order():
    assert NAMES == ("number", "vector", "matrix", "shape", "choice", "bool", "formula", "text")
    assert all(KINDS[name].name == name for name in NAMES)


@EACH
def test_kind_has_an_example_key_and_a_summary(kind):
    assert kind.example is not None and kind.summary


@EACH
def test_kind_names_the_key_type_of_its_own_keys_only(kind):
    for key in _keys(kind):
        assert [k.name for k in KINDS.values() if k.holds(key)] == [kind.name]
        assert kinds.value_kind(key) is kind


def test_kinds_numeric_ones_have_a_default_tolerance_and_the_others_compare_exactly():
    for kind in KINDS.values():
        assert (min(kind.tol) > 0) == kind.numeric, kind.name


def test_spec_schema_accepts_every_registered_kind_and_no_other():
    for name in NAMES:
        Answer(name="y", expr="1", kind=name, options=2)
    with pytest.raises(ValidationError):
        Answer(name="y", expr="1", kind="tensor")


def test_exam_json_schema_accepts_every_registered_kind_and_no_other():
    blank = {"name": "y", "label": "y", "expected": 1, "tol_abs": 0.0, "tol_rel": 0.0, "points": None,
             "alternatives": [], "options": 0, "rounding": None}
    for name in NAMES:
        BlankData(kind=name, **blank)
    with pytest.raises(ValidationError):
        BlankData(kind="tensor", **blank)


def test_get_unknown_kind_is_a_value_error_listing_the_kinds():
    with pytest.raises(ValueError, match="number, vector, matrix, shape, choice, bool, formula, text"):
        kinds.get("tensor")


# ---------------------------------------------------------------------------- every kind, end to end


@EACH
def test_kind_key_round_trips_through_the_answer_file_to_full_credit(kind):
    for key in _keys(kind):
        got = kinds.parse_answer(_via_answer_file(key), kind.name, n_options=N_OPTIONS)
        assert kind.holds(got)
        assert kind.compare(got, key, kind.tol, WHOLE, 1.0) == (1.0, "")


@EACH
def test_kind_form_hint_is_one_nonempty_line(kind):
    for key in _keys(kind):
        hint = kind.form(key, N_OPTIONS)
        assert hint.strip() and "\n" not in hint
        assert blank_form(kind.name, key, N_OPTIONS) == hint


@EACH
def test_kind_exam_json_data_round_trips_and_passes_its_own_check(kind):
    for key in _keys(kind):
        data = json.loads(json.dumps(kind.to_data(key)))
        assert kind.data_problem(data, N_OPTIONS) is None
        back = kind.from_data(data)
        assert kind.holds(back)
        assert kind.compare(back, key, (0.0, 0.0), WHOLE, 1.0) == (1.0, "")
        assert kind.to_data(back) == data


@EACH
def test_kind_refuses_the_exam_json_data_of_every_other_kind(kind):
    for other in KINDS.values():
        if other is not kind:
            data = json.loads(json.dumps(other.to_data(other.coerce(other.example))))
            why = kind.data_problem(data, N_OPTIONS)
            assert why and why.startswith("expected"), (kind.name, other.name)


@EACH
def test_kind_formats_its_keys_in_every_style(kind):
    for key in _keys(kind):
        for style in STYLES:
            text = kind.format(key, style)
            assert isinstance(text, str) and text.strip()


@EACH
def test_kind_reads_a_blank_as_missing_never_as_wrong(kind):
    for raw in (None, "", "   "):
        with pytest.raises(kinds.MissingAnswer):
            kinds.parse_answer(raw, kind.name, n_options=N_OPTIONS)


# ---------------------------------------------------------------------------- particular kinds


def test_number_key_keeps_an_integer_an_integer():
    assert type(KINDS["number"].coerce(np.int64(34944))) is int
    assert type(KINDS["number"].coerce(np.float64(2.0))) is float


@pytest.mark.parametrize(("kind", "value", "words"), [
    ("number", [1.0, 2.0], "shape (2,)"),
    ("vector", [[1.0]], "shape (1, 1)"),
    ("matrix", [1.0, 2.0], "shape (2,)"),
    ("shape", [2.5, 3], "positive whole numbers"),
    ("shape", [0, 3], "positive whole numbers"),
])
def test_kind_coerce_refuses_a_key_of_another_shape_saying_which(kind, value, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        KINDS[kind].coerce(value)


def test_choice_answer_text_of_no_correct_option_is_none_not_a_skip():
    assert answer_text(frozenset()) == "none"
    assert kinds.parse_answer("none", "choice", n_options=3) == frozenset()


def test_text_kind_is_graded_by_hand_and_the_only_such_kind():
    assert [k.name for k in KINDS.values() if k.by_hand] == ["text"]


@pytest.mark.parametrize(("mode", "credit", "note"), [
    ("whole", 0.0, "1 of 4 entries wrong"),
    ("per-entry", 0.75, "3 of 4 entries right"),
    ("shape-then-values", 0.5, "shape right, 1 of 4 entries wrong"),
    ("deduct-per-entry", 0.75, "1 wrong entry, -0.5 each"),
])
def test_matrix_compare_credits_entries_by_the_rubric_array_mode(mode, credit, note):
    arrays = SimpleNamespace(mode=mode, shape_credit=0.5, deduct=0.5)
    got, key = np.array([[1.0, 2.0], [3.0, 9.0]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    assert KINDS["matrix"].compare(got, key, (0.01, 0.01), arrays, 2.0) == (credit, note)


def test_vector_compare_of_another_shape_is_no_credit_naming_both_shapes():
    assert KINDS["vector"].compare(np.zeros(2), np.zeros(3), (0.01, 0.01)) == (0.0, "shape 2 instead of 3")


# ---------------------------------------------------------------------------- approximate equality


def test_within_accepts_either_tolerance_entrywise():
    key = np.array([100.0, 0.0])
    assert within(np.array([100.9, 0.009]), key, 0.01, 0.01).tolist() == [True, True]
    assert within(np.array([101.1, 0.011]), key, 0.01, 0.01).tolist() == [False, False]


def test_approx_equal_needs_equal_shapes_and_compares_other_values_exactly():
    assert approx_equal([1.0, 2.0], [1.0, 2.0 + 1e-9])
    assert not approx_equal([1.0, 2.0], [[1.0, 2.0]])
    assert approx_equal(frozenset("AC"), frozenset("CA"))
    assert not approx_equal(frozenset("A"), frozenset("B"))
    assert not approx_equal(np.zeros(2), frozenset("A"))


# ---------------------------------------------------------------------------- a kind added to the registry


class PercentKind(AnswerKind):
    """A share p in [0, 100], written with or without a percent sign (a kind only this test knows)."""

    name = "percent"
    tol: ClassVar[tuple[float, float]] = (0.5, 0.0)
    numeric = True
    example = 42.0
    summary = "a percentage"

    def holds(self, value: Any) -> bool:
        return False  # shares its key type with number: only found by name

    def coerce(self, value: Any) -> float:
        return float(value)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> float:
        text = str(raw if raw is not None else "").strip().removesuffix("%")
        if not text:
            raise kinds.MissingAnswer("no answer given")
        try:
            return float(text)
        except ValueError:
            raise AnswerParseError(f"could not read {raw!r} as a percentage", fix="write e.g. 42%") from None

    def compare(self, got, expected, tol, arrays=WHOLE, points=1.0):
        return (1.0, "") if bool(within(got, expected, *tol)) else (0.0, "")

    def form(self, expected: Any, n_options: int = 0) -> str:
        return "a percentage, e.g. 42%"

    def to_data(self, value: Any) -> Any:
        return {"percent": value}

    def from_data(self, data: Any) -> Any:
        return data["percent"]

    def data_problem(self, data: Any, n_options: int) -> str | None:
        return None if isinstance(data, dict) and "percent" in data else f"expected a percent, got {data_type(data)}"


def _percent_exam() -> SimpleNamespace:
    blank = Blank("p", "percent", "share", 42.0, 0.5, 0.0)
    part = PartInstance("1.1", "share", "What share?", 2.0, [blank])
    prob = ProblemInstance(1, "none", "T", "t", "", 0, {}, {"p": 42.0}, [part], 2.0)
    return SimpleNamespace(problems=[prob], points=2.0, parts=lambda: [(prob, part)])


def test_a_kind_added_to_the_registry_is_graded_hinted_and_stored_with_no_other_change(monkeypatch):
    monkeypatch.setitem(KINDS, "percent", PercentKind())
    exam = _percent_exam()
    prob, part = exam.problems[0], exam.problems[0].parts[0]
    assert blank_form("percent", 42.0) == "a percentage, e.g. 42%"
    grader = Grader(exam, "numpy")
    rubric = Rubric(name="per-blank", follow_through=0)
    for raw, status, credit in (("42.3%", CORRECT, 1.0), ("45", WRONG, 0.0), ("", MISSING, 0.0),
                                ("lots", INVALID, 0.0)):
        result = grader.grade_blank(prob, part, part.blanks[0], raw, rubric, 2.0, {})
        assert (result.status, result.credit) == (status, credit)
    data = to_data(prob)
    assert data["parts"][0]["blanks"][0]["expected"] == {"percent": 42.0}
    assert from_data(json.loads(json.dumps(data))).parts[0].blanks[0].expected == 42.0


def test_grader_holds_a_by_hand_answer_pending_an_empty_one_blank_and_a_mapping_invalid():
    blank = Blank("t", "text", "why", "because", 0.0, 0.0)
    part = PartInstance("1.1", "why", "Why?", 1.0, [blank])
    prob = ProblemInstance(1, "none", "T", "t", "", 0, {}, {}, [part], 1.0)
    exam = SimpleNamespace(problems=[prob], points=1.0, parts=lambda: [(prob, part)])
    grader = Grader(exam, "numpy")

    def grade(raw):
        result = grader.grade_blank(prob, part, blank, raw, Rubric(name="per-blank"), 1.0, {})
        return result.status, result.credit

    assert grade("because") == (PENDING, 0.0)  # even the key's own text waits for a TA
    assert grade("  ") == (BLANK, 0.0) and grade(None) == (BLANK, 0.0)
    assert grade({"not": "text"}) == (INVALID, 0.0)


# ---------------------------------------------------------------------------- documentation


def _kinds_table() -> list[list[str]]:
    """The rows of the answer-kinds table in docs/spec-format.md, cells stripped."""
    doc = (ROOT / "docs" / "spec-format.md").read_text(encoding="utf-8")
    section = doc.split("## Answer kinds", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


def test_docs_list_every_answer_kind_in_registry_order():
    assert [row[0].strip("`") for row in _kinds_table()] == list(NAMES)


def test_docs_describe_each_kind_key_as_the_kind_does():
    assert {row[0].strip("`"): row[1] for row in _kinds_table()} == {k.name: k.summary for k in KINDS.values()}


def test_docs_state_each_kind_default_tolerance():
    for row in _kinds_table():
        kind = KINDS[row[0].strip("`")]
        want = (f"the rounding rule's (exams before format 4: abs {kind.tol[0]:g}, rel {kind.tol[1]:g})"
                if kind.numeric else "—" if kind.by_hand else "exact")
        assert row[-1] == want, kind.name
