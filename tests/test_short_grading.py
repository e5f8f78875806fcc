"""Short answers on the sheet and key, and graded: pending until marked, marks made into points, auto-award."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from i2dl.exam import build_exam, load_exam
from i2dl.export import write_exam
from i2dl.export.markdown import key_markdown, sheet_markdown
from i2dl.grade.batch import grade_folder
from i2dl.grade.manual import Mark, applied_items, mark_points
from i2dl.spec.instance import CheckItem

DEAD = "short.activations.dead-relu-units"  # 2 p: zero-gradient 1, no-update 1, no-update-vague 0.5 (instead), -0.5, 0
TANH = "short.activations.tanh-vs-sigmoid-centering"  # 1 p: zero-centred 1, no-saturation 0
SOFTMAX = "short.activations.softmax-output-choice"  # 2 p: softmax 1, sums-to-one 1, sums-vague 0.5, relu-output -1


@pytest.fixture(scope="module")
def exam_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("short-exam")
    bp = root / "bp.yaml"
    bp.write_text("id: short-only\ntitle: Written\nproblems:\n  - {spec: softmax-cross-entropy, points: 4}\n"
                  f"  - short: {{ids: [{DEAD}, {TANH}, {SOFTMAX}]}}\n")
    write_exam(build_exam(str(bp), 11, engine_name="numpy"), root / "exam")
    return root / "exam"


def _submit(folder: Path, exam_dir: Path, sid: str, answers: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"exam": load_exam(exam_dir).exam_id, "student_id": sid, "name": "", "answers": answers}
    (folder / f"{sid}.yaml").write_text(yaml.safe_dump(data))


ANSWER = "Negative input gives zero gradient,\n so the weights never update."


def _grade(tmp_path: Path, exam_dir: Path, marks=None, auto_award=False):
    subs = tmp_path / "subs"
    _submit(subs, exam_dir, "s1", {"2.1": ANSWER, "2.2": "", "2.3": "softmax, the outputs sum to one"})
    _submit(subs, exam_dir, "s2", {"2.1": "", "2.2": "tanh is zero-centred", "2.3": ""})
    out = tmp_path / "results"
    batch = grade_folder(subs, exam_dir=exam_dir, out=out, engine_name="numpy", marks=marks, auto_award=auto_award)
    return batch, out


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_sheet_gives_each_short_answer_a_box_of_its_lines(exam_dir):
    sheet = (exam_dir / "exam.md").read_text()
    part = sheet.split("**2.1**")[1].split("**2.2**")[0]
    assert "*Answer (4 lines):*" in part
    box = part.split("```text\n")[1].split("```")[0]
    assert box == "\n" * 4
    assert sheet_markdown(load_exam(exam_dir)) == sheet


def test_key_lists_model_answer_and_checklist_as_text_not_maths(exam_dir):
    key = key_markdown(load_exam(exam_dir))
    part = key.split("### 2.1")[1].split("### 2.2")[0]
    assert "- **Model answer**: A unit whose pre-activation is negative" in part
    assert "  - `no-update-vague` (+0.5, instead of `no-update`): Only says the unit" in part
    assert "  - `blames-lr-now` (-0.5, deduction): Claims that lowering" in part
    assert "  - `kink` (0, common mistake): Names the kink" in part
    assert "$A unit" not in key and "\\text" not in part


def test_answer_file_takes_a_short_answer_as_the_parts_own_value(exam_dir):
    data = yaml.safe_load((exam_dir / "answers.yaml").read_text())
    assert data["answers"]["2.1"] == "" and data["answers"]["2.3"] == ""
    assert (exam_dir / "responses-template.csv").read_text().strip().endswith(",2.1,2.2,2.3")


def test_unmarked_text_answer_is_pending_and_an_empty_one_blank(tmp_path, exam_dir):
    batch, out = _grade(tmp_path, exam_dir)
    summary = json.loads((out / "summary.json").read_text())
    s1 = next(s for s in summary["students"] if s["student_id"] == "s1")
    assert s1["blanks"]["2.1"] == {"answer": "pending"} and s1["blanks"]["2.2"] == {"answer": "blank"}
    assert s1["pending"] == 4 and s1["pending_parts"] == ["2.1", "2.3"]
    assert summary["pending"] == {"answers": 3, "points": 5, "students": 2}
    rows = {r["student_id"]: r for r in _csv(out / "scores.csv")}
    assert rows["s1"]["2.1"] == "pending" and rows["s1"]["2.2"] == "0" and rows["s1"]["problem 2"] == "pending"
    assert rows["s1"]["total"] == "0" and rows["s1"]["pending"] == "4"
    header = (out / "scores.csv").read_text().splitlines()[0].split(",")
    assert header[-4:] == ["pending", "total", "max", "percent"]
    book = {r["student_id"]: r for r in _csv(out / "gradebook.csv")}
    assert book["s2"] == {"student_id": "s2", "total": "0", "problem 1": "0", "problem 2": "pending", "pending": "1"}
    feedback = (out / "feedback" / "s1.md").read_text()
    assert "4 points still to be graded by hand" in feedback and "## 2.1: pending / 2 points" in feedback
    assert "awaiting grading by a TA" in feedback


def test_grade_cli_reports_how_many_answers_await_manual_grading(tmp_path, exam_dir):
    from typer.testing import CliRunner

    from i2dl.cli import app

    _grade(tmp_path, exam_dir)
    res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(tmp_path / "subs"), "--exam", str(exam_dir),
                                   "--out", str(tmp_path / "r2")])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "pending: 3 answers of 2 students await manual grading (5 points not yet in the totals)" in flat
    assert "0/9 (+4 pending)" in flat and "│ s1 │ 0 │ pending │" in flat


ITEMS = [CheckItem("cause", 1, "c"), CheckItem("cause-vague", 0.5, "v", "cause"), CheckItem("effect", 1, "e"),
         CheckItem("wrong", -0.5, "w"), CheckItem("slip", 0, "s")]


@pytest.mark.parametrize(("ids", "points"), [
    ((), 0), (("cause", "effect"), 2), (("cause-vague", "effect"), 1.5), (("cause", "cause-vague"), 1),
    (("cause", "effect", "wrong"), 1.5), (("wrong",), 0), (("cause-vague", "wrong", "slip"), 0),
    (("slip", "effect"), 1),
])
def test_mark_points_sum_items_partials_instead_deductions_clamped(ids, points):
    assert mark_points(ITEMS, ids, 2) == points


def test_mark_points_clamp_to_the_part_points():
    over = ITEMS + [CheckItem("bonus", 1, "b")]  # not a valid bank item set; the clamp still holds
    assert mark_points(over, ("cause", "effect", "bonus"), 2) == 2
    assert [t.id for t in applied_items(ITEMS, ("effect", "cause-vague", "cause"))] == ["cause", "effect"]


def test_marks_give_points_and_totals_equal_the_hand_sum(tmp_path, exam_dir):
    marks = {
        ("s1", "2.1", "answer"): Mark(("zero-gradient", "no-update-vague", "blames-lr-now"), "see the update rule",
                                      "Negative input gives zero gradient, so the weights   never update."),
        ("s1", "2.3", "answer"): Mark(("softmax", "sums-to-one"), "", "softmax, the outputs sum to one"),
        ("s2", "2.2", "answer"): Mark(("zero-centred",), "", "tanh is zero-centred"),
    }
    batch, out = _grade(tmp_path, exam_dir, marks=marks)
    rows = {r["student_id"]: r for r in _csv(out / "scores.csv")}
    # s1: 1 + 0.5 - 0.5 = 1 on 2.1, 2 on 2.3; s2: 1 on 2.2 (problem 1 left empty by both)
    assert (rows["s1"]["2.1"], rows["s1"]["2.3"], rows["s1"]["problem 2"], rows["s1"]["total"]) == ("1", "2", "3", "3")
    assert rows["s1"]["pending"] == "0" and rows["s2"]["total"] == "1"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pending"] == {"answers": 0, "points": 0, "students": 0}
    assert {s["student_id"]: s["total"] for s in summary["students"]} == {"s1": 3, "s2": 1}
    book = _csv(out / "gradebook.csv")  # nothing pending: the plain shape an LMS imports
    assert book[0] == {"student_id": "s1", "total": "3", "problem 1": "0", "problem 2": "3"}
    feedback = (out / "feedback" / "s1.md").read_text()
    assert "## 2.1: 1 / 2 points" in feedback
    assert "  - (+1) States that the ReLU's derivative is zero" in feedback
    assert "  - (+0.5) Only says the unit" in feedback and "  - (-0.5) Claims that lowering" in feedback
    assert "  - comment: see the update rule" in feedback


def test_a_mark_for_another_answer_is_stale_and_the_part_stays_pending(tmp_path, exam_dir):
    marks = {("s1", "2.1", "answer"): Mark(("zero-gradient", "no-update"), "", "an earlier answer"),
             ("s1", "2.3", "answer"): Mark(("softmax", "no-such-item"), "", "softmax, the outputs sum to one")}
    batch, out = _grade(tmp_path, exam_dir, marks=marks)
    s1 = next(s for s in json.loads((out / "summary.json").read_text())["students"] if s["student_id"] == "s1")
    assert s1["blanks"]["2.1"] == {"answer": "pending"} and s1["blanks"]["2.3"] == {"answer": "pending"}
    assert s1["total"] == 0 and s1["pending"] == 4
    feedback = (out / "feedback" / "s1.md").read_text()
    assert "the mark on record was given to a different answer" in feedback
    assert "items this checklist lacks: no-such-item" in feedback


def test_auto_award_scores_an_exact_model_answer_only_when_on(tmp_path, exam_dir):
    model = load_exam(exam_dir).find_part("2.2")[1].blanks[0].model_answer
    subs = tmp_path / "subs"
    _submit(subs, exam_dir, "s3", {"2.2": "  " + model.replace(" ", "\n", 3) + " "})
    off = grade_folder(subs, exam_dir=exam_dir, out=None, engine_name="numpy", auto_award=False)
    on = grade_folder(subs, exam_dir=exam_dir, out=None, engine_name="numpy", auto_award=True)
    assert off.students[0].total == 0 and off.students[0].pending == 1
    assert on.students[0].total == 1 and on.students[0].pending == 0


def test_auto_award_follows_the_course_setting(tmp_path, exam_dir):
    from i2dl.course import load_course, use_course

    root = tmp_path / "course"
    root.mkdir()
    model = load_exam(exam_dir).find_part("2.2")[1].blanks[0].model_answer
    _submit(tmp_path / "subs", exam_dir, "s4", {"2.2": model})
    for flag, total in (("false", 0), ("true", 1)):
        (root / "i2dl.toml").write_text(f'title = "T"\n\n[review]\nauto_award_exact = {flag}\n')
        with use_course(load_course(root)):
            batch = grade_folder(tmp_path / "subs", exam_dir=exam_dir, out=None, engine_name="numpy")
        assert batch.students[0].total == total
