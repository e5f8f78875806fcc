"""Grading with worker processes (`grade --jobs N`): the results folder is the same, byte for byte, as one
process's, for answer files and for a responses CSV, repeated ids and unreadable files included."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.exam import load_exam
from i2dl.export.answers import key_answers
from i2dl.grade.batch import JOB_CHUNK, grade_folder
from i2dl.io import dump_yaml
from tests.test_grade_responses import (
    EXAM_ID,
    follow_through_answers,
    header,
    invalid_answers,
    row_cells,
    write_csv,
    wrong_answers,
)

#: Enough submissions for several chunks per worker, so that order across chunks is exercised.
N_FILES = 3 * JOB_CHUNK + 5


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256 of its bytes)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def exam(default_exam_dir):
    return load_exam(default_exam_dir)


@pytest.fixture(scope="module")
def answer_cycle(exam) -> list[dict]:
    return [key_answers(exam), wrong_answers(exam), follow_through_answers(exam), invalid_answers(exam), {}]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory, answer_cycle) -> Path:
    """Answer files of every kind, a repeated id, an id differing only in case, and a file that is not YAML."""
    folder = tmp_path_factory.mktemp("parallel") / "subs"
    folder.mkdir()
    for i in range(N_FILES):
        sid = f"s{i:03d}"
        doc = {"exam": EXAM_ID, "student_id": sid, "name": f"Student {i}", "answers": answer_cycle[i % 5]}
        (folder / f"{sid}.yaml").write_text(dump_yaml(doc), encoding="utf-8")
    (folder / "t-again.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "s007", "answers": {}}),
                                         encoding="utf-8")
    (folder / "t-case.yaml").write_text(dump_yaml({"exam": EXAM_ID, "student_id": "S012", "answers": {}}),
                                        encoding="utf-8")
    (folder / "t-broken.yaml").write_text("answers: [1, 2\n", encoding="utf-8")
    return folder


def test_grade_folder_with_two_workers_writes_the_same_bytes_as_one(default_exam_dir, submissions, tmp_path):
    serial = grade_folder(submissions, exam_dir=default_exam_dir, out=tmp_path / "one", engine_name="numpy", jobs=1)
    parallel = grade_folder(submissions, exam_dir=default_exam_dir, out=tmp_path / "two", engine_name="numpy",
                            jobs=2)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")
    assert len(tree(tmp_path / "one")) == N_FILES + 5  # feedback per graded student, the four result files, text-answers.jsonl
    assert [f["file"] for f in parallel.failed] == [f["file"] for f in serial.failed]
    assert sorted(Path(f["file"]).name for f in serial.failed) == ["t-again.yaml", "t-broken.yaml", "t-case.yaml"]
    assert "already graded from" in next(f["error"] for f in parallel.failed if "t-again" in f["file"])


def test_grade_responses_csv_with_two_workers_writes_the_same_bytes_as_one(default_exam_dir, exam, answer_cycle,
                                                                           tmp_path):
    rows = [[f"c{i:03d}", f"Student {i}", EXAM_ID] + row_cells(exam, answer_cycle[i % 5]) for i in range(N_FILES)]
    rows.append(["c004", "Again", EXAM_ID] + row_cells(exam, {}))  # the id of an earlier row
    csv_path = write_csv(tmp_path / "in" / "responses.csv", header(exam), rows)
    for jobs in (1, 2):
        grade_folder(csv_path, exam_dir=default_exam_dir, out=tmp_path / f"out{jobs}", engine_name="numpy", jobs=jobs)
    assert tree(tmp_path / "out1") == tree(tmp_path / "out2")
    assert len(list((tmp_path / "out2" / "feedback").iterdir())) == N_FILES


def test_grade_cli_jobs_option_gives_the_serial_results(default_exam_dir, submissions, tmp_path):
    outs = []
    for jobs in ("1", "2"):
        res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(submissions), "--exam",
                                       str(default_exam_dir), "--out", str(tmp_path / jobs), "--jobs", jobs],
                                 env={"NO_COLOR": "1"})
        assert res.exit_code == 10, res.output  # the three bad files: graded incomplete, the rest written
        outs.append(tree(tmp_path / jobs))
    assert outs[0] == outs[1]


# ---------------------------------------------------------------------------- the feedback writer thread


def test_feedback_files_written_by_the_writer_thread_match_the_manifest(default_exam_dir, submissions, tmp_path):
    import json

    grade_folder(submissions, exam_dir=default_exam_dir, out=tmp_path / "out", engine_name="numpy", jobs=1)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    feedback = {k: v for k, v in manifest["files"].items() if k.startswith("feedback/")}
    assert len(feedback) == N_FILES  # the repeated id and the broken file get none
    files = tree(tmp_path / "out")
    assert all(files[name] == digest for name, digest in feedback.items())
    assert not [p for p in (tmp_path / "out").rglob("*.pending")]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), RuntimeError("a bug")])
def test_a_failed_feedback_write_stops_the_batch_and_leaves_no_results(default_exam_dir, submissions, tmp_path,
                                                                        monkeypatch, failure):
    from i2dl.errors import OutputError
    from i2dl.grade import batch

    real, calls = batch._write_file, []

    def failing(path, chunks):
        calls.append(path)
        if path.name.endswith(".pending") and len(calls) > 5:
            raise failure
        return real(path, chunks)

    monkeypatch.setattr(batch, "_write_file", failing)
    with pytest.raises(OutputError if isinstance(failure, OSError) else RuntimeError):
        grade_folder(submissions, exam_dir=default_exam_dir, out=tmp_path / "out", engine_name="numpy", jobs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither --out nor a half-written folder
    assert sum(p.name.endswith(".pending") for p in calls) < N_FILES  # it stopped writing at the error
