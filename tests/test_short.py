"""Short-answer parts: the bank loader's rules, drawing from blueprints, and exam.json carrying the checklist."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from i2dl.errors import NotFoundError, SpecError
from i2dl.exam import build_exam, load_exam
from i2dl.exam.data import exam_json_text, exam_to_data, write_exam_data
from i2dl.short import ShortBank, load_short_file

GOOD = """\
topic: {topic}
questions:
  - id: q-one
    points: 2
    lines: 4
    question: Why?
    model_answer: Because.
    checklist:
      - id: cause
        points: 1
        text: Names the cause.
        suggest: [cause]
      - id: cause-vague
        points: 0.5
        instead_of: cause
        text: Vague about the cause.
      - id: effect
        points: 1
        text: Names the effect.
      - id: wrong-claim
        points: -0.5
        text: A wrong claim.
      - id: named-mistake
        points: 0
        text: A common mistake.
  - id: q-two
    points: 3
    lines: 2
    question: How?
    model_answer: Like this.
    checklist:
      - id: step
        points: 3
        text: The step.
      - id: slip
        points: 0
        text: A slip.
"""


def _write(tmp_path: Path, text: str, name: str = "act") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_short_loader_reads_full_partial_deduction_and_mistake_items(tmp_path):
    qs, warnings = load_short_file(_write(tmp_path, GOOD.format(topic="act")))
    assert [q.qid for q in qs] == ["short.act.q-one", "short.act.q-two"]
    items = qs[0].question.checklist
    assert [(t.id, t.points, t.instead_of) for t in items] == [
        ("cause", 1, None), ("cause-vague", 0.5, "cause"), ("effect", 1, None), ("wrong-claim", -0.5, None),
        ("named-mistake", 0, None)]
    assert items[0].suggest == ["cause"] and warnings == []


@pytest.mark.parametrize(("old", "new", "where", "message"), [
    ("points: 2\n", "points: 3\n", "questions[0].points", "the full items add up to 2 points but the question has 3"),
    ("model_answer: Because.", "model_answer: '  '", "questions[0].model_answer", "the model answer is empty"),
    ("instead_of: cause", "instead_of: caus", "questions[0].checklist[1].instead_of",
     "instead_of names 'caus', which is no item"),
    ("instead_of: cause", "instead_of: wrong-claim", "questions[0].checklist[1].instead_of",
     "'wrong-claim', which is not a full item"),
    ("points: 0.5", "points: 1.5", "questions[0].checklist[1].points", "a partial item is worth more than 0 and less"),
    ("id: effect", "id: cause", "questions[0].checklist[2].id", "checklist id 'cause' is used twice"),
    ("id: q-two", "id: q-one", "questions[1].id", "question id 'q-one' is used twice"),
    ("      - id: slip\n        points: 0\n        text: A slip.\n", "", "questions[1].checklist",
     "the checklist has 1 item(s); a question needs at least two"),
    ("    lines: 2\n", "", "questions[1].lines", "missing required key 'lines'"),
    ("lines: 2", "lines: 0", "questions[1].lines", ""),
    ("topic: act", "topic: other", "topic", "the file is named 'act' but its topic is 'other'"),
])
def test_short_loader_error_names_file_key_path_and_fix(tmp_path, old, new, where, message):
    text = GOOD.format(topic="act")
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(SpecError) as err:
        load_short_file(path)
    assert str(path) in err.value.where and err.value.where.endswith(where)
    assert message in err.value.message
    assert err.value.fix


def test_shipped_short_bank_loads_and_every_question_keeps_the_rules():
    bank = ShortBank()
    assert len(bank.questions) >= 3
    for q in bank.questions.values():
        full = sum(t.points for t in q.question.checklist if t.points > 0 and t.instead_of is None)
        assert full == pytest.approx(q.question.points)
        assert q.question.model_answer.strip() and len(q.question.checklist) >= 2


def test_short_bank_unknown_id_is_not_found_with_a_hint():
    with pytest.raises(NotFoundError) as err:
        ShortBank().get("short.zzz.qqq")
    assert "i2dl list --short" in err.value.fix


def _blueprint(tmp_path: Path, short_block: str) -> Path:
    path = tmp_path / "bp.yaml"
    path.write_text("id: bp-short\ntitle: Short\nproblems:\n  - {spec: softmax-cross-entropy, points: 6}\n"
                    "  - title: Written\n    short:\n" + textwrap.indent(textwrap.dedent(short_block), "      "))
    return path


def test_blueprint_draws_short_answers_by_topic_and_points_without_repeats(tmp_path):
    bank = ShortBank([_write(tmp_path, GOOD.format(topic="act"))])
    bp = _blueprint(tmp_path, "draw:\n  - {count: 1, topic: act, points: 3}\n  - {count: 1, topic: act}\n")
    for seed in range(6):
        exam = build_exam(str(bp), seed, engine_name="numpy", short_bank=bank)
        prob = exam.problems[1]
        assert prob.kind == "short" and prob.spec_id == "short"
        assert [p.id for p in prob.parts] == ["short.act.q-two", "short.act.q-one"]
        assert [p.points for p in prob.parts] == [3, 2] and prob.points == 5


def test_blueprint_draw_asking_for_more_than_the_bank_has_says_so(tmp_path):
    bank = ShortBank([_write(tmp_path, GOOD.format(topic="act"))])
    bp = _blueprint(tmp_path, "draw:\n  - {count: 2, topic: act, points: 2}\n")
    with pytest.raises(SpecError) as err:
        build_exam(str(bp), 0, engine_name="numpy", short_bank=bank)
    assert "only 1 unused questions for topic=act" in err.value.message and "points=2" in err.value.message


def test_short_part_round_trips_through_exam_json(tmp_path):
    bp = _blueprint(tmp_path, "ids: [short.activations.dead-relu-units]\n")
    exam = build_exam(str(bp), 4, engine_name="numpy")
    write_exam_data(exam, tmp_path)
    data = json.loads((tmp_path / "exam.json").read_text())
    assert data["format"] == 6
    blank = data["problems"][1]["parts"][0]["blanks"][0]
    assert blank["kind"] == "text" and blank["lines"] == 4
    assert blank["model_answer"].startswith("A unit whose pre-activation is negative")
    assert [(t["id"], t["points"], t["instead_of"]) for t in blank["checklist"]] == [
        ("zero-gradient", 1, None), ("no-update", 1, None), ("no-update-vague", 0.5, "no-update"),
        ("blames-lr-now", -0.5, None), ("kink", 0, None)]
    # spec problems' blanks carry none of the short-answer keys
    assert "checklist" not in data["problems"][0]["parts"][0]["blanks"][0]
    back = load_exam(tmp_path)
    b = back.problems[1].parts[0].blanks[0]
    assert b.lines == 4 and b.checklist[2].instead_of == "no-update" and b.checklist[0].suggest[0] == "derivative"
    assert exam_json_text(exam_to_data(back)) == (tmp_path / "exam.json").read_text()


def test_exam_json_refuses_a_checklist_whose_full_items_do_not_add_up(tmp_path):
    from i2dl.errors import ExamError

    bp = _blueprint(tmp_path, "ids: [short.activations.dead-relu-units]\n")
    data = exam_to_data(build_exam(str(bp), 4, engine_name="numpy"))
    data["problems"][1]["parts"][0]["blanks"][0]["checklist"][0]["points"] = 1.5
    (tmp_path / "exam.json").write_text(exam_json_text(data))
    with pytest.raises(ExamError) as err:
        load_exam(tmp_path)
    assert "problems[1].parts[0].blanks[0].checklist: the full items add up to 2.5 points" in err.value.message


def test_format_4_and_5_exam_files_stay_readable(tmp_path):
    from i2dl.exam.data import read_exam_data

    data = exam_to_data(build_exam("softmax-cross-entropy", 2, engine_name="numpy"))
    data["format"] = 4
    (tmp_path / "exam.json").write_text(exam_json_text(data))
    exam = load_exam(tmp_path)
    assert exam.problems[0].spec_id == "softmax-cross-entropy"
    assert read_exam_data(tmp_path / "exam.json").integrity["status"] == "verified"
    # a short-answer key in a format 4 file is unknown there
    data["problems"][0]["parts"][0]["blanks"][0]["lines"] = 3
    (tmp_path / "exam.json").write_text(exam_json_text(data))
    with pytest.raises(Exception) as err:
        load_exam(tmp_path)
    assert "unknown key 'lines'" in str(err.value)


def test_short_draw_is_deterministic_for_a_seed(tmp_path):
    bank = ShortBank([_write(tmp_path, GOOD.format(topic="act"))])
    picks = [[q.qid for q in bank.draw_short(np.random.default_rng(s), 1, topic="act")] for s in (5, 5)]
    assert picks[0] == picks[1]


def test_default_blueprint_gives_short_answers_about_a_third_of_its_points():
    exam = build_exam("default", 0, engine_name="numpy")
    short = [p for p in exam.problems if p.kind == "short"]
    assert len(short) == 1 and all(b.kind == "text" and b.checklist for part in short[0].parts for b in part.blanks)
    assert 90 <= exam.points <= 100
    assert 0.28 <= short[0].points / exam.points <= 0.38


def test_list_short_shows_each_question_with_points_lines_and_items():
    from typer.testing import CliRunner

    from i2dl.cli import app

    res = CliRunner().invoke(app, ["list", "--short", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.output)}
    assert rows["short.activations.dead-relu-units"] | {"question": ""} == {
        "id": "short.activations.dead-relu-units", "topic": "activations", "points": 2, "lines": 4, "items": 5,
        "question": ""}


def test_cohort_variants_draw_different_short_answers_with_one_layout(tmp_path):
    from types import SimpleNamespace

    from i2dl.exam.build import build_cohort

    bp = _blueprint(tmp_path, "ids: [short.activations.dead-relu-units]\ndraw:\n  - {count: 2, points: 2}\n")
    students = [SimpleNamespace(student_id=f"s{i}", name="") for i in range(6)]
    exam = build_cohort(str(bp), students, b"k" * 32, exam_id="c1", engine_name="numpy")
    layouts = {tuple(p.points for p in v.problems[1].parts) for v in exam.variants.values()}
    assert layouts == {(2, 2, 2)}
    assert len({tuple(p.id for p in v.problems[1].parts) for v in exam.variants.values()}) > 1
    write_exam_data(exam, tmp_path / "out")
    back = load_exam(tmp_path / "out")
    assert json.loads((tmp_path / "out" / "exam.json").read_text())["format"] == 7
    assert back.variants["s0"].problems[1].parts[0].blanks[0].checklist[0].id == "zero-gradient"
