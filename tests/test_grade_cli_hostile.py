"""`i2dl grade` through the CLI on hostile input (issue 19): unwritable text, retyped ids, blank
choices, results swapped in whole, CSV formulas, output checks before grading, named skips, progress.

Every test runs the real command (CliRunner on i2dl.cli.app, or a subprocess) on the default exam
with seed 1, whose id is `public_exam_id("default", 1)` (a tag, not the seed).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import i2dl.cli as cli_module
import i2dl.grade.batch as batch_module
from i2dl.cli import app
from i2dl.errors import GradingIncomplete, NotFoundError, OutputError, UsageError
from i2dl.exam import load_exam
from i2dl.exam.build import public_exam_id
from i2dl.export.answers import key_answers
from i2dl.grade.score import Grader
from i2dl.io import dump_yaml

EXAM_ID = public_exam_id("default", 1)


@pytest.fixture(scope="module")
def exam_dir(default_exam_dir) -> Path:
    return default_exam_dir


@pytest.fixture(scope="module")
def key(exam_dir):
    return key_answers(load_exam(exam_dir))


def grade(exam_dir: Path, subs: Path, out: Path, *extra: str):
    """Run `i2dl grade` and check that it ended by an exit code, never by an exception."""
    res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(subs), "--exam", str(exam_dir),
                                   "--out", str(out), *extra], env={"NO_COLOR": "1"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def flat(text: str) -> str:
    return " ".join(text.split())


def write_sub(folder: Path, name: str, sid: str, answers=None, student_name: str = "") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(dump_yaml({"exam": EXAM_ID, "student_id": sid, "name": student_name,
                               "answers": answers or {}}), encoding="utf-8")
    return path


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def csv_rows(out: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8"))))[2:]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------- 1: text that cannot be written


def test_cli_grade_surrogate_in_json_name_refuses_that_file_and_grades_the_rest(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "b.yaml", "bbb")
    (subs / "a.json").write_text('{"exam":"' + EXAM_ID + '","student_id":"aaa","name":"\\ud800","answers":{}}')
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "a.json name" in flat(res.output) and "lone surrogate" in res.output
    assert [r[0] for r in csv_rows(tmp_path / "out")] == ["bbb"]
    assert (tmp_path / "out" / "feedback" / "bbb.md").exists()
    assert "a.json" in summary(tmp_path / "out")["failures"][0]["file"]


def test_cli_grade_surrogate_in_json_answer_is_an_invalid_blank(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "a.json").write_text('{"exam":"' + EXAM_ID + '","student_id":"aaa","name":"","answers":{"1.1":"\\ud800"}}')
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert summary(tmp_path / "out")["students"][0]["blanks"]["1.1"]["choice"] == "invalid"
    feedback = (tmp_path / "out" / "feedback" / "aaa.md").read_text(encoding="utf-8")
    assert "lone surrogate" in feedback and "\\ud800" in feedback


def test_cli_grade_non_utf8_file_name_is_refused_by_a_safe_name(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "ok.yaml", "ok")
    write_sub(subs, os.fsdecode(b"caf\xe9.yaml"), "cafe")
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "caf\\xe9.yaml" in res.output and "not UTF-8" in res.output
    assert [r[0] for r in csv_rows(tmp_path / "out")] == ["ok"]


# ---------------------------------------------------------------------------- 2: ids as written, collisions


@pytest.mark.parametrize("written", ["012345", "0777", "0x1F", "12_345", "1:30", "+42"])
def test_cli_grade_unquoted_id_is_kept_as_written(exam_dir, tmp_path, written):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "s.yaml").write_text(f"exam: {EXAM_ID}\nstudent_id: {written}\nanswers: {{}}\n")
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert summary(tmp_path / "out")["students"][0]["student_id"] == written
    assert csv_rows(tmp_path / "out")[0][0].lstrip("'") == written


def test_cli_grade_ids_differing_in_case_collide_naming_both_files(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "a.yaml", "GE42XYZ")
    write_sub(subs, "b.yaml", "ge42xyz")
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    out = flat(res.output)
    assert "b.yaml student_id" in out and "collides with 'GE42XYZ'" in out and "a.yaml" in out
    assert [s["student_id"] for s in summary(tmp_path / "out")["students"]] == ["GE42XYZ"]
    res = grade(exam_dir, subs, tmp_path / "out", "--id-case", "sensitive")
    assert res.exit_code == 0, res.output
    assert len(summary(tmp_path / "out")["students"]) == 2


def test_cli_grade_nfc_and_nfd_forms_of_one_id_collide(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "a.yaml", "Jos\u00e9")
    write_sub(subs, "b.yaml", "Jose\u0301")
    res = grade(exam_dir, subs, tmp_path / "out", "--id-case", "sensitive")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "was already graded from" in flat(res.output) and "a.yaml" in res.output


def test_cli_grade_unknown_id_case_policy_is_a_usage_error(exam_dir, tmp_path):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    assert grade(exam_dir, tmp_path / "subs", tmp_path / "out", "--id-case", "upper").exit_code == \
        UsageError.exit_code


# ---------------------------------------------------------------------------- 3: a blank is a skip


def test_cli_grade_untouched_answer_file_with_an_id_scores_zero(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    text = (exam_dir / "answers.yaml").read_text(encoding="utf-8")
    (subs / "s1.yaml").write_text(text.replace("student_id: ''", "student_id: s1"), encoding="utf-8")
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == 0, res.output
    student = summary(tmp_path / "out")["students"][0]
    assert student["total"] == 0
    assert student["blanks"]["1.1"] == {"choice": "missing"}


def test_cli_grade_none_is_an_answer_and_a_blank_is_not(exam_dir, tmp_path, key):
    exam = load_exam(exam_dir)
    empty = [p.number for prob, p in exam.parts() if prob.kind == "mcq" and not p.blanks[0].expected]
    assert empty, "seed 1 has a question without a correct option"
    subs = tmp_path / "subs"
    write_sub(subs, "none.yaml", "writes-none", {n: "none" for n in empty})
    write_sub(subs, "blank.yaml", "leaves-blank", {n: "" for n in empty})
    assert grade(exam_dir, subs, tmp_path / "out").exit_code == 0
    totals = {s["student_id"]: s["total"] for s in summary(tmp_path / "out")["students"]}
    assert totals["leaves-blank"] == 0 and totals["writes-none"] > 0


def test_cli_generate_answer_file_says_how_to_choose_none_and_how_to_skip(exam_dir):
    line = next(x for x in (exam_dir / "answers.yaml").read_text().splitlines() if "'1.1'" in x)
    assert "none" in line and "empty to skip" in line


# ---------------------------------------------------------------------------- 4: results as one transaction


def test_cli_grade_stale_feedback_of_students_no_longer_in_the_batch_disappears(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "a.yaml", "a")
    write_sub(subs, "b.yaml", "b")
    assert grade(exam_dir, subs, tmp_path / "out").exit_code == 0
    (subs / "b.yaml").unlink()
    assert grade(exam_dir, subs, tmp_path / "out").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir()) == ["a.md"]


def test_cli_grade_writes_a_manifest_whose_checksums_match(exam_dir, tmp_path):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    assert grade(exam_dir, tmp_path / "subs", tmp_path / "out").exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["complete"] is True
    files = tree(tmp_path / "out")
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    assert all(hashlib.sha256(files[k]).hexdigest() == v for k, v in manifest["files"].items())


def test_cli_grade_removes_leftovers_of_killed_runs(exam_dir, tmp_path):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".scores.csv.x1y2.tmp").write_text("half")  # the earlier writer's temp file
    dead = tmp_path / ".out.i2dl-999999999-0123abcd.tmp"  # a killed run's new folder (no such pid)
    (dead / "feedback").mkdir(parents=True)
    assert grade(exam_dir, tmp_path / "subs", out).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "subs"]
    assert sorted(tree(out)) == ["feedback/a.md", "gradebook.csv", "manifest.json", "scores.csv", "summary.json",
                               "text-answers.jsonl"]


def test_cli_grade_swaps_by_two_renames_where_atomic_exchange_is_missing(exam_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_module, "_exchange", lambda a, b: False)
    write_sub(tmp_path / "subs", "a.yaml", "a")
    write_sub(tmp_path / "subs", "b.yaml", "b")
    assert grade(exam_dir, tmp_path / "subs", tmp_path / "out").exit_code == 0
    (tmp_path / "subs" / "b.yaml").unlink()
    assert grade(exam_dir, tmp_path / "subs", tmp_path / "out").exit_code == 0
    assert sorted(tree(tmp_path / "out")) == ["feedback/a.md", "gradebook.csv", "manifest.json", "scores.csv", "summary.json",
                               "text-answers.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "subs"]


@pytest.mark.parametrize("new_complete", [True, False])
def test_cli_grade_finishes_a_swap_killed_between_its_two_renames(exam_dir, tmp_path, new_complete):
    """--out moved away, the new set not yet moved in: the next run puts a complete set back first."""
    write_sub(tmp_path / "subs", "a.yaml", "a")
    assert grade(exam_dir, tmp_path / "subs", tmp_path / "done").exit_code == 0
    moved_away, new = tmp_path / ".out.i2dl-999999999-0123abcd.old", tmp_path / ".out.i2dl-999999999-0123abcd.tmp"
    shutil.copytree(tmp_path / "done", moved_away)
    shutil.copytree(tmp_path / "done", new)
    (moved_away / "scores.csv").write_text("the earlier set\n")  # tell the two apart
    if not new_complete:
        (new / "manifest.json").unlink()
    folder = batch_module.ResultsFolder(tmp_path / "out")
    folder.clean_leftovers()
    expected = "the earlier set\n" if not new_complete else (tmp_path / "done" / "scores.csv").read_text()
    assert (tmp_path / "out" / "scores.csv").read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done", "out", "subs"]


def test_cli_grade_rerun_is_byte_identical(exam_dir, tmp_path, key):
    write_sub(tmp_path / "subs", "a.yaml", "a", key)
    write_sub(tmp_path / "subs", "b.yaml", "b")
    grade(exam_dir, tmp_path / "subs", tmp_path / "out1")
    grade(exam_dir, tmp_path / "subs", tmp_path / "out2")
    assert tree(tmp_path / "out1") == tree(tmp_path / "out2")


def test_cli_grade_full_disk_while_writing_keeps_the_earlier_results(exam_dir, tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    for i in range(5):
        write_sub(subs, f"s{i}.yaml", f"s{i}")
    out = tmp_path / "out"
    assert grade(exam_dir, subs, out).exit_code == 0
    before = tree(out)
    write_sub(subs, "s9.yaml", "s9")
    real, calls = batch_module._write_file, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) > 3:  # the trial write and two feedback files fit; then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    monkeypatch.setattr(batch_module, "_write_file", full_disk)
    res = grade(exam_dir, subs, out)
    assert res.exit_code == OutputError.exit_code
    assert "No space left on device" in flat(res.output) and "earlier results there are unchanged" in flat(res.output)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "subs"]  # no half-written folder left


# ---------------------------------------------------------------------------- 6: spreadsheet-safe CSV


def test_cli_grade_csv_neutralises_formulas_and_json_keeps_them(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "a.yaml", '=HYPERLINK("http://x.example","y")', student_name="=cmd|' /C calc'!A0")
    write_sub(subs, "b.yaml", "+1+1", student_name="@SUM(1)")
    write_sub(subs, "=1+1.yaml", "c")
    assert grade(exam_dir, subs, tmp_path / "out").exit_code == 0
    rows = {r[2]: r for r in csv_rows(tmp_path / "out")}
    assert rows["a.yaml"][:2] == ["'=HYPERLINK(\"http://x.example\",\"y\")", "'=cmd|' /C calc'!A0"]
    assert rows["b.yaml"][:2] == ["'+1+1", "'@SUM(1)"]
    assert "'=1+1.yaml" in rows
    ids = {s["student_id"] for s in summary(tmp_path / "out")["students"]}
    assert ids == {'=HYPERLINK("http://x.example","y")', "+1+1", "c"}


# ---------------------------------------------------------------------------- 7: --out checked before grading


@pytest.fixture()
def no_grading(monkeypatch):
    """Fail the test if anything is graded: the output checks must come first."""
    def never(self, sub):
        raise AssertionError("graded before --out was checked")

    monkeypatch.setattr(Grader, "grade", never)


def test_cli_grade_out_naming_a_file_fails_before_grading(exam_dir, tmp_path, no_grading):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    (tmp_path / "out").write_text("my notes")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == OutputError.exit_code
    assert "names a file" in res.output
    assert (tmp_path / "out").read_text() == "my notes"


def test_cli_grade_out_inside_a_file_fails_before_grading(exam_dir, tmp_path, no_grading):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    (tmp_path / "file").write_text("x")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "file" / "out")
    assert res.exit_code == OutputError.exit_code
    assert "trial write failed" in flat(res.output)


@pytest.mark.parametrize("target", ["subs", "exam", "."])
def test_cli_grade_never_replaces_a_folder_that_is_not_results(exam_dir, tmp_path, no_grading, target):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    shutil.copytree(exam_dir, tmp_path / "exam")
    before = tree(tmp_path)
    res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(tmp_path / "subs"), "--exam",
                                   str(tmp_path / "exam"), "--out", str(tmp_path / target)])
    assert res.exit_code == OutputError.exit_code, res.output
    assert tree(tmp_path) == before


def test_cli_grade_read_only_file_system_fails_before_grading(exam_dir, tmp_path, no_grading, monkeypatch):
    """A read-only mount stops root too: simulated at the one place results are written."""
    write_sub(tmp_path / "subs", "a.yaml", "a")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "scores.csv").write_text("earlier\n")

    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(batch_module, "_write_file", read_only)
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == OutputError.exit_code
    assert "trial write failed" in flat(res.output) and "Read-only file system" in flat(res.output)
    assert (tmp_path / "out" / "scores.csv").read_text() == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "subs"]


def test_cli_grade_out_the_system_reports_read_only_fails_before_grading(exam_dir, tmp_path, no_grading,
                                                                         monkeypatch):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    (tmp_path / "out").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: real(p, mode) and not (
        mode & os.W_OK and Path(p) == tmp_path / "out"))
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == OutputError.exit_code
    assert "read-only" in res.output


def _as_nobody_works() -> bool:
    try:
        return subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: os.setuid(65534),
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_cli_grade_read_only_out_fails_before_grading(exam_dir):
    """Root writes anywhere: the command runs as `nobody` then, in a folder only root may write."""
    root = Path(tempfile.mkdtemp(prefix="i2dl-ro-"))
    try:
        shutil.copytree(exam_dir, root / "exam")
        write_sub(root / "subs", "a.yaml", "a")
        (root / "results").mkdir()
        (root / "results" / "scores.csv").write_text("earlier\n")
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        (root / "results").chmod(0o555)
        cmd = [sys.executable, "-m", "i2dl", "--engine", "numpy", "grade", str(root / "subs"),
               "--exam", str(root / "exam"), "--out", str(root / "results")]
        if os.geteuid() == 0:
            if not _as_nobody_works():
                pytest.skip("cannot run as nobody to make a folder read-only for the command")
            proc = subprocess.run(cmd, preexec_fn=lambda: os.setuid(65534), capture_output=True, text=True,
                                  timeout=120, env={**os.environ, "NO_COLOR": "1", "HOME": str(root)})
        else:
            root.chmod(0o555)
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                                  env={**os.environ, "NO_COLOR": "1"})
        assert proc.returncode == OutputError.exit_code, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert "read-only" in flat(proc.stderr) or "trial write failed" in flat(proc.stderr)
        assert (root / "results" / "scores.csv").read_text() == "earlier\n"
    finally:
        root.chmod(0o755)
        (root / "results").chmod(0o755)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------- 9: nothing skipped silently


def test_cli_grade_names_links_fifos_and_folders_it_does_not_grade(exam_dir, tmp_path):
    subs = tmp_path / "subs"
    write_sub(subs, "ok.yaml", "ok")
    (subs / "dangling.yaml").symlink_to(tmp_path / "nowhere.yaml")
    (subs / "loop.yaml").symlink_to(subs / "loop.yaml")
    os.mkfifo(subs / "pipe.yaml")
    (subs / "folder.yaml").mkdir()
    res = grade(exam_dir, subs, tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    out = flat(res.output)
    for name, reason in (("dangling.yaml", "does not exist"), ("loop.yaml", "symlink loop"),
                         ("pipe.yaml", "FIFO"), ("folder.yaml", "is a folder")):
        assert name in out and reason in out, (name, out)
    assert "4 of 5 submissions could not be graded" in out
    assert {Path(f["file"]).name for f in summary(tmp_path / "out")["failures"]} == \
        {"dangling.yaml", "loop.yaml", "pipe.yaml", "folder.yaml"}


def test_cli_grade_fifo_as_the_argument_is_a_usage_error_not_a_hang(exam_dir, tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    res = grade(exam_dir, tmp_path / "pipe.yaml", tmp_path / "out")
    assert res.exit_code == UsageError.exit_code
    assert "FIFO" in res.output and not (tmp_path / "out").exists()


def test_cli_grade_dev_null_as_the_argument_is_a_usage_error(exam_dir, tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    res = grade(exam_dir, Path("/dev/null"), tmp_path / "out")
    assert res.exit_code == UsageError.exit_code
    assert "device" in res.output


def test_cli_grade_empty_folder_is_an_error(exam_dir, tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "notes.txt").write_text("not an answer file")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == NotFoundError.exit_code
    assert "no answer files" in res.output and not (tmp_path / "out").exists()


def test_cli_grade_folder_with_only_the_blank_form_is_an_error(exam_dir, tmp_path):
    (tmp_path / "subs").mkdir()
    shutil.copy(exam_dir / "answers.yaml", tmp_path / "subs" / "answers.yaml")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == NotFoundError.exit_code
    assert not (tmp_path / "out").exists()


def test_cli_grade_skips_the_pristine_blank_form_with_a_notice(exam_dir, tmp_path):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    shutil.copy(exam_dir / "answers.yaml", tmp_path / "subs" / "answers.yaml")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "skipped:" in res.output and "answers.yaml" in res.output
    assert summary(tmp_path / "out")["skipped"][0]["file"].endswith("answers.yaml")


def test_cli_grade_filled_in_answers_yaml_without_an_id_is_a_failure(exam_dir, tmp_path):
    write_sub(tmp_path / "subs", "a.yaml", "a")
    text = (exam_dir / "answers.yaml").read_text(encoding="utf-8").replace("'1.1': ''", "'1.1': 'AB'", 1)
    (tmp_path / "subs" / "answers.yaml").write_text(text, encoding="utf-8")
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == GradingIncomplete.exit_code
    assert "answers.yaml student_id" in flat(res.output) and "student_id is empty" in res.output


def test_cli_grade_progress_goes_to_stderr_never_stdout(exam_dir, tmp_path, monkeypatch):
    for i in range(3):
        write_sub(tmp_path / "subs", f"s{i}.yaml", f"s{i}")
    monkeypatch.setattr(cli_module, "PROGRESS_EVERY_SECONDS", 0.0)
    res = grade(exam_dir, tmp_path / "subs", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "grading: 3 of 3 submissions (100%)" in res.stderr
    assert "grading:" not in res.stdout


def test_cli_grade_progress_bar_on_a_terminal_leaves_stdout_alone(exam_dir, tmp_path):
    import pty

    for i in range(3):
        write_sub(tmp_path / "subs", f"s{i}.yaml", f"s{i}")
    outs = []
    for tty in (False, True):
        out = tmp_path / f"out{tty}"
        master, slave = pty.openpty() if tty else (None, subprocess.PIPE)
        proc = subprocess.run([sys.executable, "-m", "i2dl", "--engine", "numpy", "grade", str(tmp_path / "subs"),
                               "--exam", str(exam_dir), "--out", str(out)], stdout=subprocess.PIPE, stderr=slave,
                              env={**os.environ, "NO_COLOR": "1"}, timeout=120)
        if tty:
            os.close(slave)
            os.close(master)
        assert proc.returncode == 0
        outs.append(proc.stdout.replace(str(out).encode(), b"OUT"))
    assert outs[0] == outs[1]
