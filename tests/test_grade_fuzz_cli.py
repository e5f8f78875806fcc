"""Random JSON and YAML answer files through the whole `i2dl grade` command: never a traceback, an
exit code from the documented set, and every file either graded, named as not graded, or skipped
with a notice."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.errors import GradingIncomplete, NotFoundError
from i2dl.exam.build import public_exam_id

EXAM_ID = public_exam_id("default", 1)
PARTS = ["1.1", "1.5", "2.1", "3.2", "5.6", "9.4", "9.9", "1", ""]
#: `grade` on files that exist: all graded, some not graded, or (only the blank form) nothing to grade.
EXIT_CODES = {0, GradingIncomplete.exit_code, NotFoundError.exit_code}

# Text with lone surrogates, controls, formula starts and odd scripts.
surrogate = st.integers(0xD800, 0xDFFF).map(chr)
odd_text = st.lists(st.one_of(st.characters(), surrogate, st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n",
                                                                            "\u0301", "ß", "İ", "`", "'"])),
                    max_size=12).map("".join)
huge = st.one_of(st.integers(-(10**40), 10**40), st.floats(allow_nan=False), st.sampled_from([1e308, -1e308,
                                                                                             10**4000]))
scalars = st.one_of(st.none(), st.booleans(), huge, odd_text, st.sampled_from(["", "none", "-", "AC", "1/0",
                                                                              "[[1, 2], [3, 4]]", "3x3"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(["h", "y", "z", "M", "S",
                                                                                        "choice", "x"]),
                                                                       inner, max_size=3)), max_leaves=12)
ids = st.one_of(odd_text, huge, st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                st.sampled_from(["012345", "0777", "0x1F", "12_345", "1:30", "+42", "GE42XYZ", "ge42xyz",
                                 "Jos\u00e9", "Jose\u0301", "../../x", "=cmd|' /C calc'!A0"]))
documents = st.fixed_dictionaries(
    {"exam": st.sampled_from([EXAM_ID, EXAM_ID, EXAM_ID, "other-1", ""]), "student_id": ids,
     "name": st.one_of(odd_text, huge, st.none()),
     "answers": st.one_of(st.dictionaries(st.sampled_from(PARTS) | odd_text, values, max_size=5), values)})
# Unquoted scalars that YAML 1.1 would retype, written into the text as they are.
plain_ids = st.sampled_from(["012345", "0777", "0x1F", "12_345", "1:30", "+42", "1e3", "yes", "~", "2024-01-31",
                             ".nan", "-.inf", "0b101", "'quoted'", '"\\ud800"', "[a, b]", "{a: 1}", "&x 1", "*x"])


def _text(kind: str, doc: dict, plain: str | None) -> str:
    """One answer file's text: JSON (surrogates as \\u escapes), YAML dumped, or YAML with an unquoted id."""
    if kind == "json":
        return json.dumps(doc, default=str)
    if plain is not None:
        return f"exam: {EXAM_ID}\nstudent_id: {plain}\nanswers:\n  '1.1': AC\n"
    try:
        return yaml.safe_dump(doc, allow_unicode=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        return json.dumps(doc, default=str)  # JSON is YAML too


files = st.lists(st.tuples(st.sampled_from(["json", "yaml"]), documents, st.none() | plain_ids),
                 min_size=1, max_size=4)


@pytest.fixture(scope="module")
def exam_dir(default_exam_dir) -> Path:
    return default_exam_dir


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(batch=files, add_blank_form=st.booleans())
def test_cli_grade_random_answer_files_are_graded_or_named(exam_dir, batch, add_blank_form):
    with tempfile.TemporaryDirectory(prefix="i2dl-fuzz-") as tmp:
        subs, out = Path(tmp) / "subs", Path(tmp) / "out"
        subs.mkdir()
        names = set()
        for i, (kind, doc, plain) in enumerate(batch):
            name = f"f{i}.{kind}"
            (subs / name).write_text(_text(kind, doc, plain), encoding="utf-8")
            names.add(name)
        if add_blank_form:
            (subs / "answers.yaml").write_text((exam_dir / "answers.yaml").read_text(encoding="utf-8"))
            names.add("answers.yaml")
        res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(subs), "--exam", str(exam_dir),
                                       "--out", str(out)], env={"NO_COLOR": "1"})
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert "Traceback" not in res.output
        assert res.exit_code in EXIT_CODES, res.output
        if res.exit_code == NotFoundError.exit_code:  # nothing to grade: only the blank form was there
            assert not out.exists() and len(names) == 1 and add_blank_form
            return
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        graded = {s["file"] for s in summary["students"]}
        failed = {Path(f["file"]).name for f in summary["failures"]}
        skipped = {Path(f["file"]).name for f in summary.get("skipped", [])}
        assert graded | failed | skipped == names
        assert not graded & failed and not graded & skipped and not failed & skipped
        assert (res.exit_code == 0) == (not failed)
        assert not [f for f in summary["failures"] if "internal error" in f["error"]], summary["failures"]
        assert len(list((out / "feedback").iterdir())) == len(graded)
