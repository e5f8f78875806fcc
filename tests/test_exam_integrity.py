"""exam.json is tamper-evident and schema-checked: a modified exam is refused (unless the instructor says
--accept-modified, which the results record), a malformed one gets a located error, an old one a warning.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.errors import ExamError
from i2dl.exam import load_exam
from i2dl.export.answers import key_answers
from i2dl.io import dump_yaml

CORPUS = Path(__file__).resolve().parent / "corpus" / "exams"
# exam.json of tests/fixtures/blueprints/legacy.yaml (seed 3) as i2dl wrote it before format 3.
LEGACY = Path(__file__).resolve().parent / "fixtures" / "exams" / "format-2"
runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, ["--engine", "numpy", *args], env={"NO_COLOR": "1"})


def _text(result) -> str:
    return " ".join(result.output.split())


def _with_key_answers(root: Path) -> SimpleNamespace:
    """root/exam with its key as one student's answer file in root/subs, and the exam's data."""
    exam = load_exam(root / "exam")
    subs = root / "subs"
    subs.mkdir()
    (subs / "key.yaml").write_text(dump_yaml({"exam": exam.exam_id, "student_id": "key", "name": "",
                                              "answers": key_answers(exam)}))
    return SimpleNamespace(root=root, subs=subs, data=json.loads((root / "exam" / "exam.json").read_text()),
                           points=exam.points)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The default exam for seed 7 and a folder with its key as one student's answer file."""
    root = tmp_path_factory.mktemp("integrity")
    assert _cli("generate", "--seed", "7", "--out", str(root / "exam")).exit_code == 0
    return _with_key_answers(root)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """A format-2 exam.json written before exams carried their specs, and its key as one answer file."""
    root = tmp_path_factory.mktemp("legacy")
    shutil.copytree(LEGACY, root / "exam")
    return _with_key_answers(root)


def _variant(made, name: str, change: Callable[[dict], None]) -> Path:
    """A copy of the exam folder whose exam.json is changed by `change` (the other files kept)."""
    folder = made.root / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(made.root / "exam", folder)
    data = copy.deepcopy(made.data)
    change(data)
    (folder / "exam.json").write_text(json.dumps(data, indent=1))
    return folder


def _blank(d: dict) -> dict:
    return d["problems"][1]["parts"][0]["blanks"][0]  # the softmax vector of problem 2


def _key_plus_one(d):
    _blank(d)["expected"]["array"][0] += 1


def _part_points_100(d):
    d["problems"][1]["parts"][0]["points"] = 100


def _part_points_100_and_problem(d):  # a consistent edit: only the digest tells
    d["problems"][1]["points"] += 100 - d["problems"][1]["parts"][0]["points"]
    d["problems"][1]["parts"][0]["points"] = 100


def _part_removed(d):
    d["problems"][1]["parts"].pop()


def _tolerance_1e9(d):
    _blank(d)["tol_abs"] = 1e9


def _title_changed(d):
    d["title"] = "Another title"


def _old_format(d):
    d.pop("integrity")
    d["format"] = 1


def _spec_expression_changed(d):  # the graph follow-through and explain use: part of the key
    d["problems"][1]["spec"]["document"]["parts"][0]["answers"][0]["expr"] = "softmax(z) * 2"


def _option_text_changed(d):  # wording only
    d["problems"][0]["parts"][0]["options"][0]["text"] = "Another option"


TAMPERED = {"key-plus-one": _key_plus_one, "part-points-100": _part_points_100,
            "part-and-problem-points": _part_points_100_and_problem, "part-removed": _part_removed,
            "tolerance-1e9": _tolerance_1e9, "title-changed": _title_changed,
            "spec-expression-changed": _spec_expression_changed, "option-text-changed": _option_text_changed}


# ---------------------------------------------------------------------------- written with digests


def test_exam_json_carries_content_and_key_digests_and_loads_verified(made):
    integrity = made.data["integrity"]
    assert integrity["algorithm"] == "sha256" and len(integrity["content"]) == len(integrity["key"]) == 64
    assert made.data["format"] == 6
    assert load_exam(made.root / "exam").integrity["status"] == "verified"


def test_exam_json_digest_is_deterministic_for_a_seed(made, tmp_path):
    assert _cli("generate", "--seed", "7", "--out", str(tmp_path / "again")).exit_code == 0
    assert (tmp_path / "again" / "exam.json").read_bytes() == (made.root / "exam" / "exam.json").read_bytes()


# ---------------------------------------------------------------------------- modified exams


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_grade_refuses_a_modified_exam_saying_how_to_go_on(made, name):
    exam = _variant(made, name, TAMPERED[name])
    result = _cli("grade", str(made.subs), "--exam", str(exam), "--out", str(made.root / f"out-{name}"))
    assert result.exit_code == ExamError.exit_code, result.output
    out = _text(result)
    assert f"{exam / 'exam.json'}: exam.json was modified after it was generated" in out
    assert "--accept-modified" in out and "i2dl generate default --seed 7" in out
    assert "Traceback" not in result.output and "internal error" not in out
    assert not (made.root / f"out-{name}").exists()  # nothing graded, nothing written


def test_grade_names_what_looks_changed_in_a_modified_exam(made):
    exam = _variant(made, "points-named", _part_points_100)
    out = _text(_cli("grade", str(made.subs), "--exam", str(exam), "--out", str(made.root / "o")))
    assert "its key, points or tolerances changed" in out
    assert "problems[1].points: the parts of problem 2 add up to 103 points, but the problem has 4" in out


@pytest.mark.parametrize(("name", "what"), [
    ("title-changed", "only its wording changed, not its key"),
    ("option-text-changed", "only its wording changed, not its key"),
    ("spec-expression-changed", "its key, points or tolerances changed"),
])
def test_grade_tells_a_wording_change_from_a_key_change(made, name, what):
    exam = _variant(made, f"wording-{name}", TAMPERED[name])
    assert what in _text(_cli("grade", str(made.subs), "--exam", str(exam)))


def test_grade_accept_modified_grades_and_records_it_in_the_summary(made):
    exam = _variant(made, "accepted", _part_points_100_and_problem)
    out_dir = made.root / "out-accepted"
    result = _cli("grade", str(made.subs), "--exam", str(exam), "--out", str(out_dir), "--accept-modified")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "--accept-modified" in _text(result)
    summary = json.loads((out_dir / "summary.json").read_text())
    integrity = summary["exam_integrity"]
    assert integrity["status"] == "modified" and integrity["accepted"] is True and integrity["key_changed"] is True
    assert integrity["digest_written"] == made.data["integrity"]["content"] != integrity["digest_now"]
    assert summary["max_points"] == made.points + 99  # graded as edited, on purpose (part 2.1 was 1 point)


def test_grade_summary_records_a_verified_exam(made):
    out_dir = made.root / "out-verified"
    assert _cli("grade", str(made.subs), "--exam", str(made.root / "exam"), "--out", str(out_dir)).exit_code == 0
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["exam_integrity"]["status"] == "verified"
    # the key's answers score everything but the short answers, which await a TA
    student = summary["students"][0]
    assert student["total"] + student["pending"] == made.points and student["pending"] == 30


@pytest.mark.parametrize(("name", "where"), [
    ("tolerance-1e9", "problems[1].parts[0].blanks[0].tol_abs: an absolute tolerance of 1e+09 accepts almost any"),
    ("part-removed", "problems[1].points: the parts of problem 2 add up to"),
    ("part-points-100", "problems[1].points: the parts of problem 2 add up to 103 points"),
])
def test_grade_accept_modified_still_refuses_an_inconsistent_exam(made, name, where):
    exam = _variant(made, f"inconsistent-{name}", TAMPERED[name])
    result = _cli("grade", str(made.subs), "--exam", str(exam), "--out", str(made.root / "o2"), "--accept-modified")
    assert result.exit_code == ExamError.exit_code
    assert where in _text(result)


def test_explain_refuses_a_modified_exam_unless_accepted(made):
    exam = _variant(made, "explain", _key_plus_one)
    refused = _cli("explain", "2.1", "--exam", str(exam))
    assert refused.exit_code == ExamError.exit_code and "modified after it was generated" in _text(refused)
    accepted = _cli("explain", "2.1", "--exam", str(exam), "--accept-modified")
    assert accepted.exit_code == 0, accepted.output


# ---------------------------------------------------------------------------- exams written before format 3


def test_grade_reads_a_format_2_exam_with_a_warning_that_it_predates_self_contained_exams(legacy):
    out_dir = legacy.root / "out-2"
    result = _cli("grade", str(legacy.subs), "--exam", str(legacy.root / "exam"), "--out", str(out_dir))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "before exams carried their own specs (format 2)" in _text(result)
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["exam_integrity"]["status"] == "verified"  # its digests are checked as they were written
    assert summary["students"][0]["total"] == legacy.points


def test_load_exam_format_2_keeps_options_and_reasons_and_falls_back_to_the_library(legacy):
    exam = load_exam(legacy.root / "exam")
    mcq, spec = exam.problems
    part = mcq.parts[0]
    assert [o.letter for o in part.options] == [chr(65 + i) for i in range(part.blanks[0].options)]
    assert [o.reason for o in part.options] == legacy.data["problems"][0]["parts"][0]["reasons"]
    assert {o.letter for o in part.options if o.correct} == part.blanks[0].expected
    assert "- **A** " in part.text  # format 2 kept the options inside the text, which stays as written
    assert spec.spec is None and spec.compiled_spec() is None


def test_explain_a_format_2_exam_says_its_steps_come_from_the_spec_on_disk(legacy):
    spec_part = _cli("explain", "2.1", "--exam", str(legacy.root / "exam"), "--format", "md")
    assert spec_part.exit_code == 0, spec_part.output
    assert "**notice:** this exam was written before exams carried their own specs" in spec_part.output
    assert "**result:**" in spec_part.output  # still worked out, from the library's spec
    question = _cli("explain", "1.1", "--exam", str(legacy.root / "exam"), "--format", "md")
    assert question.exit_code == 0 and "notice" not in question.output  # options and reasons are in the file
    assert "Correct options:" in question.output


def test_grade_reads_an_old_exam_without_digest_with_a_warning(legacy):
    exam = _variant(legacy, "old", _old_format)
    out_dir = legacy.root / "out-old"
    result = _cli("grade", str(legacy.subs), "--exam", str(exam), "--out", str(out_dir))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "format 1" in _text(result)
    assert json.loads((out_dir / "summary.json").read_text())["exam_integrity"]["status"] == "unverified"


def test_grade_checks_an_old_exam_for_what_needs_no_digest(legacy):
    def old_with_100_points(d):
        _old_format(d)
        _part_points_100(d)

    exam = _variant(legacy, "old-100", old_with_100_points)
    result = _cli("grade", str(legacy.subs), "--exam", str(exam))
    assert result.exit_code == ExamError.exit_code
    assert "problems[1].points: the parts of problem 2 add up to 104.5 points" in _text(result)


def test_a_format_2_layout_claiming_format_3_is_refused_with_the_key_at_fault(legacy):
    def claims_3(d):
        d["format"] = 3

    result = _cli("grade", str(legacy.subs), "--exam", str(_variant(legacy, "claims-3", claims_3)))
    assert result.exit_code == ExamError.exit_code
    assert "problems[0].parts[0].options: missing key 'options'" in _text(result)


# ---------------------------------------------------------------------------- malformed exams


def _set(path: tuple, value):
    def change(d):
        target = d
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    return change


def _drop(path: tuple):
    def change(d):
        target = d
        for k in path[:-1]:
            target = target[k]
        del target[path[-1]]
    return change


# name -> (change, what the message must say after the file)
MALFORMED = {
    "points-as-text": (_set(("problems", 2, "parts", 1, "points"), "3"),
                       "problems[2].parts[1].points: expected a number"),
    "seed-as-float": (_set(("seed",), 7.5), "seed: expected a whole number"),
    "kind-missing": (_drop(("problems", 0, "parts", 0, "blanks", 0, "kind")),
                     "problems[0].parts[0].blanks[0].kind: missing key 'kind'"),
    "problems-missing": (_drop(("problems",)), "problems: missing key 'problems'"),
    "parts-as-mapping": (_set(("problems", 0, "parts"), {"1.1": {}}), "problems[0].parts: expected a list"),
    "blank-as-list": (_set(("problems", 0, "parts", 0, "blanks", 0), ["name", "kind"]),
                      "problems[0].parts[0].blanks[0]: expected an object"),
    "unknown-kind": (_set(("problems", 0, "parts", 0, "blanks", 0, "kind"), "essay"),
                     "problems[0].parts[0].blanks[0].kind: expected one of"),
    "unknown-key": (_set(("problems", 0, "bonus"), 5), "problems[0].bonus: unknown key 'bonus'"),
    "negative-tolerance": (_set(("problems", 1, "parts", 0, "blanks", 0, "tol_rel"), -1),
                           "problems[1].parts[0].blanks[0].tol_rel: expected a number >= 0"),
    "expected-not-a-vector": (_set(("problems", 1, "parts", 0, "blanks", 0, "expected"), {"array": "abc"}),
                              "problems[1].parts[0].blanks[0].expected: expected {\"array\": [...]}"),
    "expected-ragged-matrix": (_set(("problems", 1, "parts", 0, "blanks", 0, "expected"), {"array": [[1], [1, 2]]}),
                               "problems[1].parts[0].blanks[0].expected"),
    "value-undecodable": (_set(("problems", 1, "values", "p"), {"set": [1, 2]}), "problems[1].values.p: expected"),
    "part-number-odd": (_set(("problems", 1, "parts", 0, "number"), "7.1"), "problems[1].parts[0].number"),
    "option-letter-lower-case": (_set(("problems", 0, "parts", 0, "options", 0, "letter"), "a"),
                                 "problems[0].parts[0].options[0].letter: expected text of the form"),
    "option-correct-flipped": (lambda d: d["problems"][0]["parts"][0]["options"][0].update(
        correct=not d["problems"][0]["parts"][0]["options"][0]["correct"]),
        "problems[0].parts[0].options: the options marked correct"),
    "spec-missing": (_set(("problems", 1, "spec"), None), "problems[1].spec: problem 2 was made from spec"),
    "spec-of-another-id": (_set(("problems", 1, "spec", "document", "id"), "mlp-backprop"),
                           "problems[1].spec.document.id: the stored spec is \"mlp-backprop\""),
    "spec-digest-not-hex": (_set(("problems", 1, "spec", "digest"), "abc"),
                            "problems[1].spec.digest: expected text of the form"),
    "spec-on-mcq": (lambda d: d["problems"][0].update(spec=d["problems"][1]["spec"]),
                    "problems[0].spec: a multiple-choice problem has no spec"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_grade_malformed_exam_gets_one_located_schema_error(made, name):
    change, needle = MALFORMED[name]
    exam = _variant(made, f"malformed-{name}", change)
    result = _cli("grade", str(made.subs), "--exam", str(exam), "--out", str(made.root / "o3"))
    assert result.exit_code == ExamError.exit_code, result.output
    out = _text(result)
    assert f"{exam / 'exam.json'}: {needle}" in out, out
    assert "fix:" in out and "Traceback" not in result.output and "internal error" not in out
    assert "KeyError" not in out and "TypeError" not in out


# file in tests/corpus/exams -> what the message must say
CORPUS_FILES = {
    "truncated.json": ["truncated.json:", "not valid JSON", "the file looks truncated"],
    "top-level-list.json": ["(top level): expected an object", "got a list"],
    "empty.json": ["the file is empty"],
    "blank-lines.json": ["the file is empty"],
    "newer-format.json": ["format: exam data format 8 is newer than this i2dl reads", "upgrade i2dl"],
    "format-as-text.json": ["format: format must be a whole number"],
    "format-zero.json": ["format: unknown exam data format 0"],
    "no-format.json": ["format: missing key 'format'"],
    "not-utf8.json": ["not-utf8.json:1: not UTF-8 text"],
    "deep-nesting.json": ["nested too deeply"],
    "giant-integer.json": ["a number too long to be exam data"],
    "problems-is-a-mapping.json": ["problems: expected a list"],
}


def test_exam_corpus_every_file_has_an_expectation():
    assert {p.name for p in CORPUS.iterdir()} == set(CORPUS_FILES)


@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_grade_corpus_exam_file_gets_a_located_error(made, name):
    result = _cli("grade", str(made.subs), "--exam", str(CORPUS / name), "--out", str(made.root / "o4"))
    assert result.exit_code == ExamError.exit_code, result.output
    out = _text(result)
    assert f"error: {CORPUS / name}" in out
    for needle in CORPUS_FILES[name]:
        assert needle in out, (needle, out)
    assert "fix:" in out and "Traceback" not in result.output


def test_exam_that_is_not_a_regular_file_is_refused(made, tmp_path):
    import os

    fifo = tmp_path / "exam.json"
    os.mkfifo(fifo)
    result = _cli("grade", str(made.subs), "--exam", str(fifo))
    assert result.exit_code == ExamError.exit_code and "not a regular file" in _text(result)
