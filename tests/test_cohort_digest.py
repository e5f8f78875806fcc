"""Pinned digests of generated files: a cohort (served by worker processes), its PDFs, and a single exam.

The digests were computed before the cohort was made faster; any change to what `generate` writes for
the same seed and secret shows here. If a change to the output is intended, recompute them with
`python -m tests.test_cohort_digest` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.course import SECRET_ENV

SECRET = "d" * 64
#: 17 students: more than two worker tasks of eight, so the forked pool builds the cohort.
PLAIN_STUDENTS = 17
PDF_STUDENTS = 3
PINNED = {
    "cohort-markdown": "30b0def014d8c24b9abaaeb938c167cf1b515480352162485e3e801003d5501c",
    "cohort-pdf": "0a2aa80df2ad83b7552b66f5974c677fe6b15f29fbe0d4d8baa15810f715766e",
    "single-exam": "2009976dc859c8504ba0a5e804a8b8e1ac8448b9fa6c57432299a5b293eb8993",
}


def tree_digest(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in path order."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _run(*args: str) -> None:
    res = CliRunner().invoke(app, ["--engine", "numpy", *args])
    assert res.exit_code == 0, res.output


def _roster(path: Path, n: int) -> Path:
    path.write_text("student_id,name\n" + "".join(f"p{i:03d},Student {i}\n" for i in range(n)), encoding="utf-8")
    return path


def generated(tmp: Path, case: str) -> Path:
    """The folder `generate` writes for one pinned case."""
    out = tmp / case
    if case == "single-exam":
        _run("generate", "default", "--seed", "7", "--out", str(out))
    elif case == "cohort-markdown":
        _run("generate", "default", "--roster", str(_roster(tmp / "r17.csv", PLAIN_STUDENTS)), "--exam-id",
             "pin-1", "--out", str(out), "--format", "markdown")
    else:
        _run("generate", "default", "--roster", str(_roster(tmp / "r3.csv", PDF_STUDENTS)), "--exam-id", "pin-2",
             "--out", str(out), "--format", "markdown", "--format", "pdf")
    return out


@pytest.mark.parametrize("case", sorted(PINNED))
def test_generate_writes_the_pinned_bytes_for_a_fixed_seed_and_secret(case, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.chdir(tmp_path)
    assert tree_digest(generated(tmp_path, case)) == PINNED[case]


if __name__ == "__main__":  # print the digests of the current code
    import os
    import tempfile

    os.environ[SECRET_ENV] = SECRET
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        for c in sorted(PINNED):
            print(f'    "{c}": "{tree_digest(generated(Path(d), c))}",', file=sys.stdout)


def test_cohort_json_text_from_variant_records_equals_encoding_the_whole_cohort():
    from i2dl.course import RosterStudent
    from i2dl.exam.build import build_cohort
    from i2dl.exam.data import cohort_json_text, cohort_to_data, exam_json_text, variant_record

    students = [RosterStudent(f"q{i}", f"Student {i}") for i in range(3)]
    exam = build_cohort("default", students, SECRET.encode(), exam_id="pin-3", engine_name="numpy")
    records = {label: variant_record(label, v) for label, v in exam.variants.items()}
    assert cohort_json_text(exam, records) == exam_json_text(cohort_to_data(exam))


def test_indented_json_writes_what_json_dumps_writes_for_exam_data_and_edge_values():
    import json

    from i2dl.exam import build_exam
    from i2dl.exam.data import exam_to_data
    from i2dl.jsontext import indented_json

    data = json.loads(json.dumps(exam_to_data(build_exam("default", 3, engine_name="numpy"))))
    edge = [[], {}, [[]], {"a": {}}, {"é": "ü\u2028\x00\"\\\n", "n": [float("nan"), float("inf"), -float("inf"), -0.0,
                                                                      1e300, 10**30, True, False, None, 2.5]},
            [(1, 2)], {1: 2}, 7, "s", None]  # the last ones are not plain: the library's own rules apply
    for value in [data, *edge]:
        for step in (" ", "  "):
            assert indented_json(value, step) == json.dumps(value, indent=len(step))
            # placed inside a larger document (summary.json's students), with json's default= for other types
            assert indented_json(value, step, indent="  ", default=str) == \
                json.dumps(value, indent=len(step), default=str).replace("\n", "\n  ")
    assert indented_json({"p": Path("a"), "t": (1, [2.5])}, default=str) == \
        json.dumps({"p": Path("a"), "t": (1, [2.5])}, indent=1, default=str)
