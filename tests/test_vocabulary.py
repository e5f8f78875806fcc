"""The parameter vocabulary: every shipped spec and computed MCQ uses one name per concept, class labels count from 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.mcq import Bank
from i2dl.spec.load import Library
from i2dl.spec.vocabulary import VOCABULARY, WHEN, problems, suggestion

LIBRARY = Library()
BANK = Bank()
DOCS = Path(__file__).resolve().parents[1] / "docs" / "spec-format.md"
# specs left out of the vocabulary check (none: every shipped spec follows it)
REWRITTEN_ELSEWHERE: set[str] = set()


def _spec_names(spec) -> dict:
    """Every name a spec declares that --param pins: parameters and part givens."""
    names = dict(spec.params)
    for part in spec.parts:
        names.update(part.given)
    return names


def _spec_expressions(spec) -> list[str]:
    """Every expression of a spec, as text (derived values, constraints, answers, alternatives, givens)."""
    out = [getattr(p, "expr", "") or "" for p in _spec_names(spec).values()]
    out += [c if isinstance(c, str) else c.expr for c in spec.constraints]
    for part in spec.parts:
        for a in part.answers:
            out += [a.expr, *(alt.expr for alt in a.alternatives)]
    return [e for e in out if isinstance(e, str)]


def _mcq_expressions(q) -> list[str]:
    return [*q.constraints, *(o.value for o in q.options if o.value),
            *(o.correct for o in q.options if isinstance(o.correct, str))]


def _bad(where: str, found: list[tuple[str, str, str]]) -> list[str]:
    return [f"{where}: '{name}' ({concept}) -> call it '{use}'" for name, concept, use in found]


@pytest.mark.parametrize("spec_id", sorted(set(LIBRARY.ids()) - REWRITTEN_ELSEWHERE))
def test_vocabulary_spec_uses_the_vocabulary_names(spec_id):
    spec = LIBRARY.get(spec_id).spec
    found = problems(_spec_names(spec), _spec_expressions(spec), set(spec.tags))
    assert not found, "\n".join(_bad(f"problems/specs/{spec_id}.yaml", found))


def test_vocabulary_computed_mcqs_use_the_vocabulary_names():
    bad = []
    for _qid, bq in sorted(BANK.questions.items()):
        q = bq.question
        bad += _bad(f"{bq.path.name} {q.id}", problems(dict(q.params), _mcq_expressions(q), set(q.tags)))
    assert not bad, "\n".join(bad)


def _label_sources():
    for spec_id in LIBRARY.ids():
        spec = LIBRARY.get(spec_id).spec
        for name, p in _spec_names(spec).items():
            if name == "label" or name.startswith("label_"):
                yield f"problems/specs/{spec_id}.yaml", name, p, _spec_expressions(spec)
    for bq in BANK.questions.values():
        for name, p in bq.question.params.items():
            if name == "label" or name.startswith("label_"):
                yield f"{bq.path.name} {bq.question.id}", name, p, _mcq_expressions(bq.question)


def test_vocabulary_a_label_counts_from_one_and_is_shifted_where_it_indexes():
    seen = 0
    for where, name, p, exprs in _label_sources():
        seen += 1
        if p.type == "int":
            lo = p.min if p.choices is None else min(p.choices)
            assert isinstance(lo, str) or lo >= 1, f"{where}: '{name}' starts at {lo}; class labels count from 1"
        elif p.type == "choice":
            assert min(p.choices) >= 1, f"{where}: '{name}' offers {min(p.choices)}; class labels count from 1"
        for e in exprs:
            # where a label indexes (p[...], onehot, cross_entropy) it is converted to 0-based first
            for m in re.finditer(rf"(\[[^\[\]]*\b{name}\b[^\[\]]*\]|onehot\(\s*{name}\b[^,]*|cross_entropy\([^,()]+,\s*{name}\b[^)]*)", e):
                assert f"{name} - 1" in m.group(0), f"{where}: '{m.group(0)}' indexes with the 1-based '{name}'"
    assert seen >= 2  # softmax-cross-entropy and classifier-comparison at least


def test_vocabulary_bars_the_old_names_in_context():
    class Int:
        type, choices, min, max = "int", None, 0, 3

    class Dec:
        type = "decimal"

    assert problems({"k": Int(), "pad": Int(), "s1": Int()}, [], set()) == [
        ("k", "side of a (square) kernel", "kernel"), ("pad", "zero padding on each side", "padding"),
        ("s1", "stride", "stride1")]
    # a probability p and a bias b1 are not barred; an integer p and Adam's b1 are
    assert problems({"p": Dec(), "b1": Dec()}, [], set()) == []
    assert [u for *_, u in problems({"p": Int(), "b1": Dec()}, [], {"adam"})] == ["padding", "beta1"]
    # a given y is a target, a y that indexes is a class label
    assert [u for *_, u in problems({"y": Dec()}, ["(y - t)^2"], set())] == ["t"]
    assert [u for *_, u in problems({"y": Int()}, ["p[y - 1]"], set())] == ["label"]


def test_vocabulary_docs_table_lists_every_term_and_barred_name():
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Parameter names", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| concept")
            and not r.startswith("|---")]
    table = {}
    for r in rows:
        concept, name, never = [c.strip() for c in r.strip("|").split("|")]
        table[re.findall(r"`([^`]+)`", name)[0]] = never
    for term in VOCABULARY:
        assert term.name in table, f"docs/spec-format.md: no row for '{term.name}' ({term.concept})"
        for bad, when in term.never.items():
            want = f"`{bad}`" + (f" {WHEN[when]}" if when else "")
            assert want in table[term.name], f"docs/spec-format.md, row '{term.name}': missing {want}"


def test_vocabulary_solve_suggests_the_new_name_for_an_old_one():
    result = CliRunner().invoke(app, ["--engine", "numpy", "solve", "conv-layer-arithmetic", "--param", "k=3"])
    assert result.exit_code != 0
    assert "'k'" in result.output and "kernel" in result.output
    assert suggestion("pk") == "pool_kernel" and suggestion("k2") == "kernel2" and suggestion("x") is None


OLD_SPECS = Path(__file__).resolve().parent / "fixtures" / "before-vocabulary"


@pytest.mark.parametrize("spec_id", ["conv2d-by-hand", "softmax-cross-entropy"])
def test_vocabulary_an_exam_made_before_the_rename_still_grades_and_explains(spec_id, tmp_path):
    """The fixtures are the specs as shipped before the rename (k, pad; y as a class): exam.json keeps its copy."""
    from i2dl.exam import build_exam, load_exam
    from i2dl.explain import explain_part, explanation_markdown, key_steps
    from i2dl.export import write_exam
    from i2dl.export.answers import key_answers
    from i2dl.grade.batch import grade_files
    from i2dl.io import dump_yaml

    old = Library([OLD_SPECS])
    exam = build_exam(spec_id, 3, engine_name="numpy", library=old)
    assert {"k", "pad"} <= set(exam.problems[0].params) or "y" in exam.problems[0].params
    write_exam(exam, tmp_path / "exam", steps=key_steps(exam))
    exam = load_exam(tmp_path / "exam")
    sub = tmp_path / "subs" / "key.yaml"
    sub.parent.mkdir()
    sub.write_text(dump_yaml({"exam": exam.exam_id, "student_id": "key", "name": "", "answers": key_answers(exam)}))
    batch = grade_files([sub], exam, engine_name="numpy", library=Library())
    (result,) = batch.graded
    assert result.total == exam.points == result.max_points
    assert [c["spec"] for c in batch.spec_changes] == [spec_id]  # the shipped spec has changed since
    for _, part in exam.parts():
        text = explanation_markdown(explain_part(exam, part.number, library=Library()))
        assert "has changed since the exam was generated" in text
