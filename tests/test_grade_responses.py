"""Grading a responses CSV (one row per student, a column per blank) and the gradebook export, through the CLI.

The default exam with seed 1 (numpy engine), id `public_exam_id('default', 1)`. The same answers are graded once as a
CSV and once as answer files; the totals per student must agree. Grading runs in a course that auto-awards an exact
model answer, so the key's answers (short answers included) score full marks without a TA.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.engine import get_engine
from i2dl.errors import GradingIncomplete
from i2dl.exam import load_exam
from i2dl.exam.build import public_exam_id
from i2dl.export.answers import RESPONSES_FILE, answer_text, key_answers, response_columns
from i2dl.io import dump_yaml, to_plain
from i2dl.spec.instance import evaluate_instance

EXAM_ID = public_exam_id("default", 1)


@pytest.fixture(scope="module")
def exam_dir(default_exam_dir) -> Path:
    return default_exam_dir


@pytest.fixture(scope="module")
def exam(exam_dir):
    return load_exam(exam_dir)


@pytest.fixture(scope="module", autouse=True)
def _auto_award_course(tmp_path_factory):
    global COURSE
    COURSE = tmp_path_factory.mktemp("course")
    (COURSE / "i2dl.toml").write_text('title = "Responses"\n\n[review]\nauto_award_exact = true\n')


COURSE: Path | None = None


def grade(exam_dir: Path, subs: Path, out: Path, *extra: str):
    res = CliRunner().invoke(app, ["--engine", "numpy", "--course", str(COURSE), "grade", str(subs), "--exam",
                                   str(exam_dir), "--out", str(out), *extra], env={"NO_COLOR": "1"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def flat(text: str) -> str:
    return " ".join(text.split())


def cell(v) -> str:
    """What a spreadsheet cell holds for an answer-file value: lists as written, numbers as text."""
    v = to_plain(v)
    if v is None:
        return ""
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def row_cells(exam, answers: dict) -> list[str]:
    out = []
    for _, part, blank in response_columns(exam):
        v = answers.get(part)
        out.append(cell(v if blank is None else (v or {}).get(blank)))
    return out


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")  # as spreadsheets write it
    w.writerow(header)
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8"))
    return path


def header(exam) -> list[str]:
    return ["student_id", "name", "exam"] + [h for h, _, _ in response_columns(exam)]


# ---------------------------------------------------------------------------- answer sets


def wrong_answers(exam) -> dict:
    """The key with every number of problems 2 and 3 one too large and 1.1 answered 'none'."""
    answers = copy.deepcopy(key_answers(exam))
    answers["1.1"] = "none"
    for prob, part in exam.parts():
        if prob.number in (2, 3):
            for b in part.blanks:
                answers[part.number][b.name] = answer_text(np.asarray(b.expected, dtype=float) + 1)
    return answers


def follow_through_answers(exam) -> dict:
    """In every spec problem the first answer that others depend on is off by one, and every
    later answer is computed from it: what a careful student with one slip writes."""
    engine = get_engine("numpy")
    answers = copy.deepcopy(key_answers(exam))
    for prob in exam.problems:
        if prob.kind != "spec":
            continue
        compiled = prob.compiled_spec()
        blanks = [(part, b) for part in prob.parts for b in part.blanks if b.kind in ("number", "vector", "matrix")]
        upstream = [b for _, b in blanks if any(compiled.graph.depends_on(o.name, b.name) for _, o in blanks)]
        if not upstream:
            continue
        slip = upstream[0]
        try:
            values = evaluate_instance(compiled, prob.params, engine,
                                       {slip.name: np.asarray(slip.expected, dtype=float) + 1})
        except Exception:  # a slip that breaks a later step: keep the key there
            continue
        for part in prob.parts:
            for b in part.blanks:
                if b.name in values and isinstance(answers.get(part.number), dict):
                    answers[part.number][b.name] = answer_text(values[b.name])
    return answers


def invalid_answers(exam) -> dict:
    """The key with unreadable text in every second blank."""
    answers = copy.deepcopy(key_answers(exam))
    junk = ["abc", "[1, 2", "1/0", "Z?", "."]
    i = 0
    for _, part in exam.parts():
        if isinstance(answers[part.number], dict):
            for name in answers[part.number]:
                i += 1
                if i % 2:
                    answers[part.number][name] = junk[i % len(junk)]
        elif part.blanks[0].kind != "text":  # any text is a readable short answer
            i += 1
            if i % 2:
                answers[part.number] = "Z?"
    return answers


@pytest.fixture(scope="module")
def answer_sets(exam) -> dict[str, dict]:
    return {"right": key_answers(exam), "wrong": wrong_answers(exam), "follow": follow_through_answers(exam),
            "invalid": invalid_answers(exam), "empty": {}}


def scores_by_id(out: Path) -> dict[str, dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8"))))
    return {r["student_id"]: r for r in rows if r["student_id"] != "(max)"}


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- the same scores as answer files


@pytest.fixture(scope="module")
def graded_both_ways(exam_dir, exam, answer_sets, tmp_path_factory):
    """The answer sets graded as one CSV (with malformed rows among them) and as answer files."""
    root = tmp_path_factory.mktemp("responses")
    rows = [[sid, f"Student {sid}", EXAM_ID] + row_cells(exam, ans) for sid, ans in answer_sets.items()]
    bad = [["", "No Id", EXAM_ID] + row_cells(exam, answer_sets["right"]),  # row 7: empty id
           ["other", "Other Exam", "default-2"] + row_cells(exam, answer_sets["right"]),  # row 8
           ["short", "Short Row", EXAM_ID, "AB"],  # row 9: too few cells
           ["right", "Again", EXAM_ID] + row_cells(exam, {})]  # row 10: the id of row 2 again
    write_csv(root / "csv" / "responses.csv", header(exam), rows + bad)
    for sid, ans in answer_sets.items():
        (root / "files").mkdir(exist_ok=True)
        (root / "files" / f"{sid}.yaml").write_text(
            dump_yaml({"exam": EXAM_ID, "student_id": sid, "name": "", "answers": ans}), encoding="utf-8")
    res_csv = grade(exam_dir, root / "csv" / "responses.csv", root / "out-csv")
    res_files = grade(exam_dir, root / "files", root / "out-files")
    return root, res_csv, res_files


def test_grade_responses_csv_totals_equal_the_same_answers_as_answer_files(graded_both_ways, answer_sets, exam):
    root, res_csv, res_files = graded_both_ways
    assert res_files.exit_code == 0, res_files.output
    by_csv, by_files = scores_by_id(root / "out-csv"), scores_by_id(root / "out-files")
    assert set(by_csv) == set(answer_sets) == set(by_files)
    for sid in answer_sets:
        assert by_csv[sid]["total"] == by_files[sid]["total"], sid
        parts = [p.number for _, p in exam.parts()]
        assert [by_csv[sid][n] for n in parts] == [by_files[sid][n] for n in parts], sid
    assert float(by_csv["right"]["total"]) == exam.points
    assert float(by_csv["empty"]["total"]) == 0
    assert 0 < float(by_csv["wrong"]["total"]) < exam.points


def test_grade_responses_csv_rows_get_follow_through_and_invalid_statuses(graded_both_ways):
    root = graded_both_ways[0]
    statuses = {s["student_id"]: [st for part in s["blanks"].values() for st in part.values()]
                for s in summary(root / "out-csv")["students"]}
    assert "follow-through" in statuses["follow"]
    assert "invalid" in statuses["invalid"] and "invalid" not in statuses["right"]
    assert set(statuses["right"]) == {"correct", "marked"} and set(statuses["empty"]) == {"missing", "blank"}


def test_grade_responses_csv_bad_rows_are_named_by_row_and_column_and_the_rest_graded(graded_both_ways):
    root, res = graded_both_ways[0], graded_both_ways[1]
    assert res.exit_code == GradingIncomplete.exit_code
    out = flat(res.output)
    assert "not graded: " in out
    assert "responses.csv row 7, column student_id: student_id is empty" in out
    assert f"responses.csv row 8, column exam: this submission is for exam 'default-2', not '{EXAM_ID}'" in out
    assert "responses.csv row 9: has 4 cells, the header has" in out and "double quotes" in out
    assert "responses.csv row 10 student_id: student id 'right' was already graded from" in out
    assert "4 of 9 submissions could not be graded" in out
    data = summary(root / "out-csv")
    assert data["graded"] == 5 and data["failed"] == 4
    assert {s["file"] for s in data["students"]} >= {"responses.csv row 2", "responses.csv row 6"}


# ---------------------------------------------------------------------------- the template and the CSV's shape


def test_generate_writes_a_responses_template_with_a_column_per_blank(exam_dir, exam):
    rows = list(csv.reader(io.StringIO((exam_dir / RESPONSES_FILE).read_text(encoding="utf-8"))))
    assert rows == [header(exam)]
    blanks = sum(len(p.blanks) for _, p in exam.parts())
    assert len(rows[0]) == 3 + blanks and "1.1" in rows[0] and "5.1:len_z" in rows[0]


def test_grade_filled_in_template_gives_the_key_full_marks(exam_dir, exam, tmp_path):
    head = next(csv.reader(io.StringIO((exam_dir / RESPONSES_FILE).read_text(encoding="utf-8"))))
    write_csv(tmp_path / "r.csv", head, [["ge42xyz", "Ada", EXAM_ID] + row_cells(exam, key_answers(exam))])
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert float(scores_by_id(tmp_path / "out")["ge42xyz"]["total"]) == exam.points


def test_grade_blank_template_in_the_folder_is_skipped_with_a_notice(exam_dir, exam, tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / RESPONSES_FILE).write_bytes((exam_dir / RESPONSES_FILE).read_bytes())
    write_csv(tmp_path / "subs" / "r.csv", header(exam), [["a", "", EXAM_ID] + row_cells(exam, {})])
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert f"skipped: {tmp_path / 'subs' / RESPONSES_FILE}" in flat(res.output) and "no rows" in res.output


def test_grade_excel_semicolon_csv_with_bom_reads_decimal_commas(exam_dir, exam, tmp_path):
    key = key_answers(exam)
    cells = row_cells(exam, key)
    # 2.1's first blank written with a decimal comma, as a German Excel writes it.
    h = header(exam)
    row = ["s1", "", EXAM_ID] + cells
    col = next(i for i, c in enumerate(row) if i > 2 and "." in c and c.replace(".", "").lstrip("-").isdigit())
    value = float(row[col])
    row[col] = repr(value).replace(".", ",")
    write_csv(tmp_path / "r.csv", h, [row], delimiter=";", bom=True)
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert float(scores_by_id(tmp_path / "out")["s1"]["total"]) == exam.points


def test_grade_csv_with_columns_of_another_exam_fails_as_one_line(exam_dir, exam, tmp_path):
    write_csv(tmp_path / "subs" / "r.csv", ["student_id", "12.1:q", "12.2:w"], [["a", "1", "2"], ["b", "3", "4"]])
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b2", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    out = flat(res.output)
    assert out.count("not graded:") == 1
    assert f"r.csv row 1: has columns that are not blanks of exam '{EXAM_ID}': 12.1:q, 12.2:w" in out
    assert set(scores_by_id(tmp_path / "out")) == {"b2"}


def test_grade_csv_whose_exam_column_names_another_exam_fails_as_one_line(exam_dir, exam, tmp_path):
    rows = [[f"s{i}", "", "default-2"] + row_cells(exam, {}) for i in range(5)]
    write_csv(tmp_path / "subs" / "r.csv", header(exam), rows)
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b2", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    out = flat(res.output)
    assert out.count("not graded:") == 1 and f"holds responses to exam 'default-2', not '{EXAM_ID}'" in out


def test_grade_csv_without_exam_column_is_graded_for_the_exam_given_with_a_notice(exam_dir, exam, tmp_path):
    h = ["student_id", "Email address"] + [x for x, _, _ in response_columns(exam)]
    write_csv(tmp_path / "r.csv", h, [["s1", "s1@uni.example"] + row_cells(exam, key_answers(exam)), [""] * len(h)])
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out")
    assert res.exit_code == 0, res.output
    out = flat(res.output)
    assert f"no exam column, so its rows are graded as answers to exam '{EXAM_ID}'" in out
    assert "columns ignored (not an id, name, exam or blank): Email address" in out
    assert "1 empty row skipped" in out
    assert float(scores_by_id(tmp_path / "out")["s1"]["total"]) == exam.points


def test_grade_csv_unclosed_quote_is_named_and_earlier_rows_graded(exam_dir, exam, tmp_path):
    text = write_csv(tmp_path / "r.csv", header(exam), [["s1", "", EXAM_ID] + row_cells(exam, {})]).read_text()
    (tmp_path / "r.csv").write_text(text + f's2,"Bob,{EXAM_ID}\r\ns3,,{EXAM_ID}\r\n', encoding="utf-8")
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "row 3" in res.output and "never closed" in flat(res.output)
    assert set(scores_by_id(tmp_path / "out")) == {"s1"}


def test_grade_csv_not_utf8_is_one_failure_with_the_fix(exam_dir, exam, tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "r.csv").write_bytes(("student_id,name,1.1\r\ns1,J" + "\u00fc" + "rgen,A\r\n").encode("cp1252"))
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b2", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "is not UTF-8 text (line 2, byte 5 of the line)" in flat(res.output) and "CSV UTF-8" in res.output


def test_grade_folder_mixing_answer_files_and_csv_sees_one_id_in_both(exam_dir, exam, tmp_path):
    write_csv(tmp_path / "subs" / "r.csv", header(exam), [["a1", "", EXAM_ID] + row_cells(exam, {})])
    (tmp_path / "subs" / "z.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "A1", "answers": {}}))
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b1", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "student id 'A1' collides with 'a1', already graded from" in flat(res.output)
    assert set(scores_by_id(tmp_path / "out")) == {"a1", "b1"}


def test_grade_roster_like_csv_without_blank_columns_is_skipped_not_failed(exam_dir, exam, tmp_path):
    write_csv(tmp_path / "subs" / "roster.csv", ["student_id", "name"], [["a1", "Ada"]])
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b1", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "skipped:" in res.output and "not a responses file" in res.output


# ---------------------------------------------------------------------------- the gradebook


def test_gradebook_has_id_total_and_one_column_per_problem_without_a_max_row(graded_both_ways, exam):
    out = graded_both_ways[0] / "out-csv"
    rows = list(csv.reader(io.StringIO((out / "gradebook.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["student_id", "total"] + [f"problem {p.number}" for p in exam.problems]
    scores = scores_by_id(out)
    assert [r[0] for r in rows[1:]] == sorted(scores)  # one row per graded student, no "(max)" row
    for r in rows[1:]:
        s = scores[r[0]]
        assert r[1] == s["total"] and r[2:] == [s[f"problem {p.number}"] for p in exam.problems]
        assert all(float(v) >= 0 for v in r[1:])  # plain numbers an LMS reads


def test_grade_id_column_reads_the_lms_id_and_heads_the_gradebook(exam_dir, exam, tmp_path):
    h = ["ID number", "name"] + [x for x, _, _ in response_columns(exam)]
    write_csv(tmp_path / "r.csv", h, [["0815", "Ada"] + row_cells(exam, key_answers(exam))])
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out", "--id-column", "ID number")
    assert res.exit_code == 0, res.output
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8"))))
    assert rows[0][:2] == ["ID number", "total"] and rows[1][:2] == ["0815", f"{exam.points:g}"]


def test_grade_csv_id_column_missing_says_how_to_name_it(exam_dir, exam, tmp_path):
    h = ["Username"] + [x for x, _, _ in response_columns(exam)]
    write_csv(tmp_path / "subs" / "r.csv", h, [["ada"] + row_cells(exam, {})])
    (tmp_path / "subs" / "b.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "b1", "answers": {}}))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "has no student id column" in flat(res.output) and "--id-column" in res.output


# ---------------------------------------------------------------------------- the report within a screenful


@pytest.fixture(scope="module")
def cohort_csv(exam, tmp_path_factory) -> Path:
    """2,000 students: every tenth with the key's answers, the others blank (quick to grade)."""
    root = tmp_path_factory.mktemp("cohort")
    key, empty = row_cells(exam, key_answers(exam)), row_cells(exam, {})
    rows = [[f"s{i:04d}", "", EXAM_ID] + (key if i % 10 == 0 else empty) for i in range(2000)]
    rows.append(["", "", EXAM_ID] + empty)  # one failure among them
    return write_csv(root / "responses.csv", header(exam), rows)


def test_grade_report_for_2000_students_stays_within_a_screenful(exam_dir, cohort_csv, tmp_path):
    res = grade(exam_dir, cohort_csv, tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    lines = res.stdout.splitlines()
    assert len(lines) <= 45, len(lines)
    out = flat(res.stdout)
    assert f"exam {EXAM_ID}: 2,000 graded, 1 not graded; total of 96: mean 9.6, median 0, min 0, max 96" in out
    assert "mean score per problem" in out and "s0001" not in out
    assert "--details" in out
    assert len(scores_by_id(tmp_path / "out")) == 2000


def test_grade_details_lists_every_student_and_part(exam_dir, cohort_csv, tmp_path):
    res = grade(exam_dir, cohort_csv, tmp_path / "out", "--details")
    assert res.exit_code == GradingIncomplete.exit_code
    assert all(f"s{i:04d}" in res.stdout for i in range(0, 2000, 7))
    assert "mean score per part" in res.stdout and len(res.stdout.splitlines()) > 2000


# ---------------------------------------------------------------------------- --json


def test_grade_json_is_the_summary_with_files_and_exit_code(graded_both_ways, exam_dir, tmp_path):
    root = graded_both_ways[0]
    res = grade(exam_dir, root / "csv" / "responses.csv", tmp_path / "out", "--json")
    assert res.exit_code == GradingIncomplete.exit_code
    data = json.loads(res.stdout)
    assert data["exit_code"] == GradingIncomplete.exit_code and data["graded"] == 5 and data["failed"] == 4
    assert {s["student_id"]: s["total"] for s in data["students"]}["right"] == data["max_points"]
    assert data["files"]["gradebook"].endswith("gradebook.csv")
    assert any("row 7, column student_id" in f["error"] for f in data["failures"])
    assert "error:" in res.stderr  # the message still goes to stderr


def test_grade_progress_counts_csv_rows_on_stderr(exam_dir, exam, tmp_path, monkeypatch):
    import i2dl.cli as cli_module

    monkeypatch.setattr(cli_module, "PROGRESS_EVERY_SECONDS", 0.0)
    write_csv(tmp_path / "r.csv", header(exam), [[f"s{i}", "", EXAM_ID] + row_cells(exam, {}) for i in range(3)])
    res = grade(exam_dir, tmp_path / "r.csv", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "grading: 3 of 3 submissions (100%)" in res.stderr and "grading:" not in res.stdout
