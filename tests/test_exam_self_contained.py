"""A generated exam is self-contained: exam.json carries each problem's spec (and digest) and each
question's options, so editing a spec afterwards changes neither grades nor explanations, only a notice.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.exam import build_exam, load_exam, spec_changes
from i2dl.explain import explain_part, explanation_markdown, key_steps
from i2dl.export import write_exam
from i2dl.export.answers import key_answers
from i2dl.grade.batch import grade_files, summary_data
from i2dl.io import dump_yaml
from i2dl.spec import load as spec_load
from i2dl.spec.load import Library

ROOT = Path(__file__).resolve().parent.parent
SPEC = "logistic-regression-step"
SCORE = 'expr: "dot(w, x) + b"'
runner = CliRunner()


def _change_spec(path: Path) -> None:
    """Edit the spec file as an instructor might after generating: the score gains a constant."""
    text = path.read_text(encoding="utf-8")
    assert SCORE in text
    path.write_text(text.replace(SCORE, 'expr: "dot(w, x) + b + 1"'), encoding="utf-8")


def _submissions(exam, folder: Path) -> list[Path]:
    """The key, and a student whose z is wrong but whose p follows from it (follow-through)."""
    folder.mkdir()
    key = key_answers(exam)
    z = exam.problems[0].values["z"] + 0.5
    wrong = {**key, "1.1": {"z": z, "p": float(1 / (1 + pow(2.718281828459045, -z)))}}
    paths = []
    for sid, answers in (("key", key), ("follow", wrong)):
        path = folder / f"{sid}.yaml"
        path.write_text(dump_yaml({"exam": exam.exam_id, "student_id": sid, "name": "", "answers": answers}))
        paths.append(path)
    return paths


@pytest.fixture()
def made(tmp_path):
    """An exam of a spec copied into a tmp library, written to disk and read back."""
    lib_dir = tmp_path / "specs"
    lib_dir.mkdir()
    shutil.copy(spec_load.builtin_dir("specs") / f"{SPEC}.yaml", lib_dir)
    library = Library([lib_dir])
    exam = build_exam(SPEC, 4, engine_name="numpy", library=library)
    write_exam(exam, tmp_path / "exam", steps=key_steps(exam))
    return tmp_path, library, lib_dir / f"{SPEC}.yaml"


def _grades(exam, paths, library) -> list:
    batch = grade_files(paths, exam, engine_name="numpy", library=library)
    return [(r.student_id, r.total, [(p.number, p.score, [(b.status, b.credit, b.feedback) for b in p.blanks])
                                     for p in r.parts]) for r in batch.graded]


def _explained(exam, library) -> dict[str, str]:
    return {part.number: explanation_markdown(explain_part(exam, part.number, library=library))
            for _, part in exam.parts()}


def _without_notices(text: str) -> str:
    """The explanation without its leading notice lines (and the blank line after them)."""
    return re.sub(r"\A(> \*\*notice:\*\*[^\n]*\n)+\n", "", text)


def test_changed_spec_leaves_grades_of_the_exam_unchanged(made):
    tmp, library, spec_file = made
    exam = load_exam(tmp / "exam")
    paths = _submissions(exam, tmp / "subs")
    before = _grades(exam, paths, library)
    assert any(b[0] == "follow-through" for _, _, parts in before for _, _, bs in parts for b in bs)
    _change_spec(spec_file)
    changed = Library([spec_file.parent])
    # The edit matters: the spec on disk now computes another score for the same parameters.
    from i2dl.engine import get_engine
    from i2dl.spec.instance import evaluate_instance

    now = evaluate_instance(changed.get(SPEC), exam.problems[0].params, get_engine("numpy"))
    assert now["z"] != exam.problems[0].values["z"]
    assert _grades(load_exam(tmp / "exam"), paths, changed) == before


def test_changed_spec_leaves_explanations_unchanged_but_for_a_notice(made):
    tmp, library, spec_file = made
    before = _explained(load_exam(tmp / "exam"), library)
    assert not any("notice" in text for text in before.values())
    _change_spec(spec_file)
    after = _explained(load_exam(tmp / "exam"), Library([spec_file.parent]))
    assert all(f"spec '{SPEC}' (problem 1) has changed since the exam was generated" in t for t in after.values())
    assert {k: _without_notices(v) for k, v in after.items()} == before


def test_changed_spec_is_noted_in_the_summary_with_both_digests(made):
    tmp, library, spec_file = made
    exam = load_exam(tmp / "exam")
    paths = _submissions(exam, tmp / "subs")
    assert grade_files(paths, exam, library=library).spec_changes == []
    _change_spec(spec_file)
    changed = Library([spec_file.parent])
    batch = grade_files(paths, exam, engine_name="numpy", library=changed)
    (change,) = summary_data(batch, exam)["spec_changes"]
    assert change["spec"] == SPEC and change["problems"] == [1] and change["path"] == str(spec_file)
    assert change["digest_exam"] == exam.problems[0].spec.digest != change["digest_now"] == changed.digest(SPEC)


def test_spec_changes_none_when_the_library_holds_the_same_file_or_no_such_spec(made):
    tmp, _, _ = made
    assert spec_changes(load_exam(tmp / "exam"), Library()) == []  # the shipped file is the one copied
    fixtures = Library([ROOT / "tests" / "fixtures" / "specs"])
    chain = build_exam("corpus-chain", 1, engine_name="numpy", library=fixtures)
    assert spec_changes(chain, Library()) == []  # not in the shipped library: nothing to compare


def test_cli_grade_and_explain_print_the_notice_when_a_shipped_spec_changed(tmp_path, monkeypatch):
    specs = tmp_path / "shipped"
    specs.mkdir()
    shutil.copy(spec_load.builtin_dir("specs") / f"{SPEC}.yaml", specs)
    original = spec_load.builtin_dir
    monkeypatch.setattr(spec_load, "builtin_dir", lambda kind: specs if kind == "specs" else original(kind))
    env = {"NO_COLOR": "1"}
    made = runner.invoke(app, ["--engine", "numpy", "generate", SPEC, "--seed", "4", "--out", str(tmp_path / "exam")])
    assert made.exit_code == 0, made.output
    exam = load_exam(tmp_path / "exam")
    _submissions(exam, tmp_path / "subs")
    _change_spec(specs / f"{SPEC}.yaml")
    graded = runner.invoke(app, ["--engine", "numpy", "grade", str(tmp_path / "subs"), "--exam", str(tmp_path / "exam"),
                                 "--out", str(tmp_path / "out")], env=env)
    assert graded.exit_code == 0, graded.output
    assert f"notice: spec '{SPEC}' (problem 1) has changed" in " ".join(graded.stderr.split())
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["spec_changes"][0]["spec"] == SPEC
    explained = runner.invoke(app, ["--engine", "numpy", "explain", "1.1", "--exam", str(tmp_path / "exam")], env=env)
    assert explained.exit_code == 0 and "notice: spec" in explained.output


# ---------------------------------------------------------------------------- the spec as data


def test_spec_compiled_from_the_exam_equals_the_spec_compiled_from_its_file(made):
    tmp, library, _ = made
    from_disk = library.get(SPEC)
    from_exam = load_exam(tmp / "exam").problems[0].compiled_spec()
    assert from_exam is not from_disk and type(from_exam) is type(from_disk)
    assert from_exam.source == from_disk.source  # the same document and digest, read from different places
    assert (from_exam.spec, from_exam.graph, from_exam.leaves, from_exam.alternatives) == \
        (from_disk.spec, from_disk.graph, from_disk.leaves, from_disk.alternatives)
    assert str(from_exam.path).endswith("exam.json problems[0].spec.document")  # errors point into exam.json


def test_exam_json_spec_digest_is_the_sha256_of_the_spec_file(made):
    import hashlib

    tmp, _, spec_file = made
    stored = json.loads((tmp / "exam" / "exam.json").read_text())["problems"][0]["spec"]
    assert stored["digest"] == hashlib.sha256(spec_file.read_bytes()).hexdigest()
    assert stored["document"]["id"] == SPEC and stored["document"]["parts"][0]["answers"][0]["expr"] == "dot(w, x) + b"


def test_explaining_a_loaded_exam_compiles_each_spec_at_most_once(made, monkeypatch):
    tmp, library, _ = made
    calls = []
    real = spec_load.compile_spec
    monkeypatch.setattr("i2dl.spec.instance.compile_spec", lambda *a, **k: calls.append(1) or real(*a, **k))
    exam = load_exam(tmp / "exam")
    for _, part in exam.parts():
        explain_part(exam, part.number, library=library)
    assert len(calls) == 1


def test_generate_compiles_each_spec_once(tmp_path, monkeypatch):
    from i2dl.generate import generate_exam

    compiled: list[str] = []
    real = spec_load.compile_spec

    def counting(source, *args, **kwargs):
        compiled.append(source.id)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(spec_load, "compile_spec", counting)  # what Library.get compiles with
    monkeypatch.setattr("i2dl.spec.instance.compile_spec", counting)  # what an instance recompiles with
    generate_exam("default", 2024, tmp_path / "exam", engine_name="numpy")
    assert len(compiled) == len(set(compiled)) == 8  # the default blueprint's eight specs, once each


# ---------------------------------------------------------------------------- multiple choice as data


def test_mcq_options_reasons_and_mistakes_are_stored_as_data(tmp_path):
    exam = build_exam("default", 2024, engine_name="numpy")
    write_exam(exam, tmp_path, formats=())
    data = json.loads((tmp_path / "exam.json").read_text())
    parts = data["problems"][0]["parts"]
    assert all(p["options"] and "- **A**" not in p["text"] for p in parts)
    assert all(set(o) == {"letter", "text", "correct", "reason", "mistake"} for p in parts for o in p["options"])
    assert any(o["mistake"] for p in parts for o in p["options"])  # computed options name their mistake
    assert all({o["letter"] for o in p["options"] if o["correct"]} == set(p["blanks"][0]["expected"]["set"])
               for p in parts)


def test_explain_reads_the_options_from_the_data_not_the_text(tmp_path):
    exam = build_exam("default", 2024, engine_name="numpy")
    part = exam.problems[0].parts[0]
    part.options[0].text = "an option text found only in the data"
    expl = explain_part(exam, part.number)
    assert expl["options"][0]["text"] == "an option text found only in the data"
    assert "- **A** an option text found only in the data" in explanation_markdown(expl)
