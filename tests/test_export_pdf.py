"""The PDF exporter: sheets and keys typeset by Typst with no error and no warning, the numbers a sheet
must show (and must not), escaping, answer boxes, per-student sheets, determinism and the math table."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.exam import build_exam, load_exam
from i2dl.exam.model import Exam
from i2dl.export import pdf
from i2dl.export.markdown import sheet_markdown
from i2dl.export.typeset import TEX_FIXES, escape, markup, tex_to_typst
from i2dl.render import fmt_value
from i2dl.spec.instance import ProblemInstance

pypdf = pytest.importorskip("pypdf")


def pdf_text(data: bytes) -> str:
    """The text of every page, minus signs as '-'."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() for p in reader.pages).replace("\u2212", "-")


_NUM = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")


def numbers(text: str) -> set[str]:
    """The numbers written in a text, without their signs (PDF text runs a superscript -10 into 10^-10)."""
    return set(_NUM.findall(text))


def check_sheet_numbers(exam: Exam, text: str) -> None:
    """The sheet shows every number the Markdown sheet gives (the instance's givens as stated) and no key value."""
    shown = numbers(re.sub(r"Page \d+ of \d+", "", text))  # the running header's page numbers set aside
    md = numbers(sheet_markdown(exam))
    assert not md - shown, md - shown
    for prob in exam.problems:
        for part in prob.parts:
            for name in part.given:  # a given the statement prints is on the sheet (some are only named: x0)
                value = numbers(fmt_value(prob.values[name]))
                assert value <= shown or not value <= md, (prob.spec_id, part.number, name)
            for b in part.blanks:
                if b.kind == "choice":
                    continue
                leaked = (numbers(fmt_value(b.expected)) - md) & shown
                assert not leaked, (prob.spec_id, part.number, b.label, leaked)
    assert shown <= md, shown - md  # no number the Markdown sheet does not have


def one_exam(problems: list[ProblemInstance], title: str = "All of a spec") -> Exam:
    """One exam of the given problems, numbered 1, 2, ... (copies: shared instances keep their numbers)."""
    problems = [copy.copy(p) for p in problems]
    for i, p in enumerate(problems, start=1):
        p.number = i
        p.parts = [copy.copy(q) for q in p.parts]
        for k, q in enumerate(p.parts, start=1):
            q.number = f"{i}.{k}"
    return Exam(exam_id="test-pdf", title=title, seed=0, source="test", instructions="", problems=problems,
                rounding={"decimals": 3, "significant": 3})


# ---------------------------------------------------------------------------- the default exam


def test_default_exam_sheet_shows_every_given_number_and_no_key_value(default_exam_dir):
    exam = load_exam(default_exam_dir)
    data = (default_exam_dir / "exam.pdf").read_bytes()
    text = pdf_text(data)
    check_sheet_numbers(exam, text)
    assert "answers.yaml" not in text and "answer file" not in text  # a paper exam
    assert "Registration number" in text and "Name" in text
    pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count("Extra space") == pdf.EXTRA_PAGES
    for prob in exam.problems:
        assert f"Problem {prob.number}: {prob.title}" in " ".join(text.split())


def test_default_exam_key_holds_every_answer_and_the_points_per_blank(default_exam_dir):
    exam = load_exam(default_exam_dir)
    text = " ".join(pdf_text((default_exam_dir / "key.pdf").read_bytes()).split())
    got = numbers(text)
    for _prob, part in exam.parts():
        for b in part.blanks:
            if b.kind == "choice":
                right = ", ".join(sorted(b.expected)) or "none"
                assert f"Correct: {right}" in text, part.number
            else:
                assert numbers(fmt_value(b.expected)) <= got, (part.number, b.label)
                assert b.label in text
    assert "Worked solution" in text and "named mistake" in text and "accepted alternative" in text


def test_default_exam_pdfs_are_byte_identical_when_rendered_again(default_exam_dir, tmp_path):
    exam = load_exam(default_exam_dir)
    again = pdf.PdfExporter().export(exam, tmp_path)
    assert again["sheet_pdf"].read_bytes() == (default_exam_dir / "exam.pdf").read_bytes()
    assert again["key_pdf"].read_bytes() == (default_exam_dir / "key.pdf").read_bytes()
    assert b"/CreationDate" not in again["sheet_pdf"].read_bytes()  # nothing depends on when it was made


def test_export_pdf_command_rerenders_an_exam_folder(default_exam_dir, tmp_path):
    import shutil

    folder = tmp_path / "exam"
    shutil.copytree(default_exam_dir, folder)
    (folder / "exam.pdf").unlink()
    res = CliRunner().invoke(app, ["export", "pdf", str(folder)])
    assert res.exit_code == 0, res.output
    assert (folder / "exam.pdf").read_bytes() == (default_exam_dir / "exam.pdf").read_bytes()


def test_generate_format_markdown_writes_no_pdf(tmp_path):
    res = CliRunner().invoke(app, ["--engine", "numpy", "generate", "stacked-linear", "--seed", "2", "--out",
                                   str(tmp_path / "e"), "--format", "markdown"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e" / "exam.md").exists() and not (tmp_path / "e" / "exam.pdf").exists()


# ---------------------------------------------------------------------------- escaping and maths


NASTY = '#panic("boom") $x$ *b* _i_ [a] <l> @ref // not a comment = h - i + j ~ \\ `c` "q"'


def test_escaped_text_is_printed_literally_and_never_runs_as_typst():
    data = pdf.compile_pdf(f"{escape(NASTY)}\n\n{markup('Plain #set text(red) and ' + NASTY.replace('$', ''))}")
    text = " ".join(pdf_text(data).split())
    assert '#panic("boom")' in text and "@ref // not a comment" in text and "#set text(red)" in text


def test_a_students_name_on_the_sheet_is_text_not_code():
    exam = build_exam("stacked-linear", 1, engine_name="numpy")
    student = {"student_id": "ge42#xyz", "name": '#set page(width: 1cm) ]) #panic("x")'}
    text = " ".join(pdf_text(pdf.sheet_pdf(exam, student)).split())
    assert '#set page(width: 1cm) ]) #panic("x")' in text and "ge42#xyz" in text


def test_tex_fixes_replace_names_the_pinned_typst_rejects_or_warns_about():
    import typst

    def clean(math: str) -> bool:
        try:
            _, warnings = typst.compile_with_warnings(f"${math}$".encode(), format="pdf", ignore_system_fonts=True)
        except Exception:
            return False
        return not warnings

    for bad, good in TEX_FIXES.items():
        assert not clean(bad), bad  # an entry the current Typst accepts is dead weight
        assert clean(good), good
    assert tex_to_typst(r"a \odot b") == "a dot.o b"


def test_long_working_is_converted_piece_by_piece_with_the_same_maths():
    from tex2typst import tex2typst

    tex = r"\frac{\partial L}{\partial z_{1}} = 2 \cdot (-0.5) + w_{i+1} - \left( a + b \right) = 1.5 + (-2) = -0.5"
    assert tex_to_typst(tex).replace(" ", "") == tex2typst(tex).replace(" ", "")


# ---------------------------------------------------------------------------- answer boxes and MCQ


def test_answer_boxes_follow_the_kind_a_declared_box_and_a_matrix_shape(tmp_path):
    from i2dl import kinds
    from i2dl.engine import get_engine
    from i2dl.spec.instance import make_instance
    from i2dl.spec.load import load_spec

    assert set(kinds.NAMES) <= set(pdf.DEFAULT_LINES)  # every answer kind has a default box
    spec = tmp_path / "boxed.yaml"
    spec.write_text("""\
id: boxed
title: Boxes
topic: testing
params:
  a: {type: int, min: 1, max: 3}
statement: "Take a = {{a}}."
parts:
  - id: long
    text: "Explain 2 a."
    points: 1
    box: {lines: 7}
    answers:
      - {name: d, expr: "2 * a"}
  - id: grid
    text: "Give the 2 x 3 matrix of a's."
    points: 1
    answers:
      - {name: m, expr: "a * ones([2, 3])", kind: matrix}
  - id: one
    text: "Give a + 1."
    points: 1
    answers:
      - {name: n, expr: "a + 1"}
""")
    inst = make_instance(load_spec(spec), 0, get_engine("numpy"))
    src = pdf.sheet_source(one_exam([inst]))
    assert "#answerbox([d], 7)" in src and "#answergrid([m], 2, 3)" in src and "#answerbox([n], 1)" in src
    pdf.compile_pdf(src)


def test_mcq_options_are_boxes_to_cross_with_marking_instructions(default_exam_dir):
    exam = load_exam(default_exam_dir)
    src = pdf.sheet_source(exam)
    mcq = next(p for p in exam.problems if p.kind == "mcq")
    assert src.count("[#cross]") == sum(len(p.options) for p in mcq.parts)
    text = " ".join(pdf_text((default_exam_dir / "exam.pdf").read_bytes()).split())
    assert "Cross the box of every option you consider true" in text


def test_an_unknown_problem_kind_is_a_typed_error_naming_the_kinds():
    exam = build_exam("stacked-linear", 1, engine_name="numpy")
    exam.problems[0].kind = "essay"
    with pytest.raises(pdf.PdfError, match="essay"):
        pdf.sheet_source(exam)


# ---------------------------------------------------------------------------- per-student sheets and courses


def test_per_student_sheet_names_the_student_and_embeds_the_qr_of_its_variant():
    exam = build_exam("stacked-linear", 1, engine_name="numpy", exam_id="quiz-1", variant="ge42xyz")
    student = {"student_id": "ge42xyz", "name": "Ada Lovelace"}
    src = pdf.sheet_source(exam, student)
    svg = pdf.qr_svg("quiz-1/ge42xyz")
    assert svg.startswith("<svg") and "<path" in svg
    assert f"bytes({pdf.string(svg)})" in src
    text = " ".join(pdf_text(pdf.compile_pdf(src)).split())
    assert "Student ge42xyz" in text and "Ada Lovelace" in text and "quiz-1/ge42xyz" in text


def test_generate_roster_writes_a_pdf_sheet_per_student_and_a_key_per_variant(tmp_path, monkeypatch):
    monkeypatch.setenv("I2DL_COURSE_SECRET", "0" * 64)
    (tmp_path / "r.csv").write_text("student_id,name\nge00aaa,Ann\nge00bbb,Bob\n")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["--engine", "numpy", "generate", "stacked-linear", "--roster", "r.csv", "--out",
                                   "e", "--exam-id", "quiz-1"])
    assert res.exit_code == 0, res.output
    for sid in ("ge00aaa", "ge00bbb"):
        text = pdf_text((tmp_path / "e" / "sheets" / f"{sid}.pdf").read_bytes())
        assert sid in text
        assert (tmp_path / "e" / "keys" / f"{sid}.pdf").exists()


def test_course_paper_letter_is_used_and_an_unknown_paper_is_refused(tmp_path):
    from i2dl.course import use_course
    from i2dl.errors import SpecError

    res = CliRunner().invoke(app, ["init", str(tmp_path / "c"), "--title", "DL"])
    assert res.exit_code == 0, res.output
    toml = tmp_path / "c" / "i2dl.toml"
    exam = build_exam("stacked-linear", 1, engine_name="numpy")
    toml.write_text(toml.read_text() + '\npaper = "letter"\naids = "one sheet of notes"\n')
    with use_course(tmp_path / "c"):
        src = pdf.sheet_source(exam)
    assert 'paper: "us-letter"' in src and "one sheet of notes" in src
    toml.write_text(toml.read_text().replace('paper = "letter"', 'paper = "a3"'))
    with use_course(tmp_path / "c"), pytest.raises(SpecError, match="a3"):
        pdf.sheet_source(exam)


# ---------------------------------------------------------------------------- the library


SEEDS = 20
KEY_SEEDS = 3  # the key's worked steps are slow to convert (tex2typst): every spec, fewer seeds


@pytest.mark.library
def test_every_shipped_spec_at_20_seeds_typesets_clean_with_its_givens_and_no_key():
    from i2dl.explain import key_explanations
    from tests.samples import LIBRARY, instances

    for spec_id in LIBRARY.ids():
        exam = one_exam(list(instances(spec_id, SEEDS)), spec_id)
        check_sheet_numbers(exam, pdf_text(pdf.sheet_pdf(exam)))  # raises PdfError on any warning
        exam.problems = exam.problems[:KEY_SEEDS]
        explained = key_explanations(exam)
        assert len(explained) == sum(len(p.parts) for p in exam.problems), spec_id
        text = " ".join(pdf_text(pdf.key_pdf(exam, explained)).split())
        assert text.count("Worked solution") == len(explained), spec_id


@pytest.mark.library
def test_every_shipped_question_typesets_clean_on_the_sheet_and_in_the_key():
    from i2dl.engine import get_engine
    from i2dl.mcq import Bank, make_variant, variant_part

    bank, engine = Bank(), get_engine("numpy")
    parts = [variant_part(make_variant(q, 0, engine), f"1.{i}", 1) for i, (_, q) in
             enumerate(sorted(bank.questions.items()), start=1)]
    prob = ProblemInstance(number=1, spec_id="mcq", title="Bank", topic="mcq", statement="", seed=0, params={},
                           values={}, parts=parts, points=len(parts), kind="mcq")
    exam = one_exam([prob], "Question bank")
    text = " ".join(pdf_text(pdf.sheet_pdf(exam)).split())
    assert text.count("A ") >= len(parts)
    pdf.key_pdf(exam, {})


def test_docs_pictures_exist_and_the_readme_links_them():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    for name in ("docs/sheet-page1.png", "docs/key-page1.png"):
        assert (root / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert name in readme


def test_figures_are_embedded_after_the_statement_and_with_their_part(monkeypatch):
    from dataclasses import dataclass

    @dataclass
    class FakeFigure:
        caption: str
        part: str | None

        def svg(self) -> str:
            return ('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
                    f'<rect width="40" height="20" fill="none" stroke="black"/><!-- {self.caption} --></svg>')

    exam = build_exam("stacked-linear", 1, engine_name="numpy")
    prob = exam.problems[0]
    figs = [FakeFigure("The network, #with its weights", None), FakeFigure("For part two", prob.parts[1].id)]
    monkeypatch.setattr(pdf, "figures_of", lambda p: figs if p is prob else [])
    src = pdf.sheet_source(exam)
    first, second = (src.index(pdf.string(f.svg())) for f in figs)
    assert src.index(pdf.markup(prob.statement)) < first < src.index(f"*{prob.parts[0].number}*")
    assert src.index(f"*{prob.parts[1].number}*") < second
    text = " ".join(pdf_text(pdf.compile_pdf(src)).split())
    assert "The network, #with its weights" in text and "For part two" in text


def test_plain_arithmetic_is_written_as_tex2typst_would_write_it():
    from tex2typst import tex2typst

    from i2dl.export.typeset import _convert

    for tex in (r"= 2 \cdot (-0.5) + 1.5", r"[2, -1, 0.5]", r"+ (-2) \cdot 3", r"(1 + 2) \cdot 3 - 4 = -0.25",
                r"= \begin{bmatrix} 1.5 & -2 \\ 0 & 3 \end{bmatrix}", r"\begin{bmatrix} -1 & 2 & 0.25 \end{bmatrix}"):
        assert _convert(tex).replace(" ", "") == tex2typst(tex).replace(" ", "")


def test_tex_to_typst_braces_a_slice_of_a_named_subscript_and_keeps_words_whole():
    import typst

    from i2dl.export.typeset import tex_to_typst

    out = tex_to_typst(r"W_{23} = w_{\mathrm{steps}}_{1:}")  # explain's w_steps[1:] of a training loop
    assert 'upright("steps")' in out and "none" not in out
    typst.compile(f"${out}$".encode())


# ---------------------------------------------------------------------------- maths converted by its shape


def test_by_shape_converts_every_piece_of_every_shipped_key_as_tex2typst_does(monkeypatch):
    from tex2typst import tex2typst

    from i2dl.explain import key_explanations
    from i2dl.export import typeset
    from tests.samples import LIBRARY, instances

    pieces: set[str] = set()
    shaped = typeset._by_shape
    monkeypatch.setattr(typeset, "_by_shape", lambda source: pieces.add(source) or shaped(source))
    typeset._convert.cache_clear()
    for spec_id in LIBRARY.ids():
        exam = one_exam(list(instances(spec_id, 2)), spec_id)
        pdf.key_source(exam, key_explanations(exam))
    assert len(pieces) > 1000  # the steps of every family, with their numbers
    assert [p for p in pieces if shaped(p) != tex2typst(p)] == []


@given(numbers=st.lists(st.one_of(st.integers(0, 10_000).map(str),
                                  st.decimals("0", "999", places=3).map(lambda d: f"{d:f}")), min_size=1, max_size=6),
       shape=st.sampled_from([r"\frac{{{}}}{{{}}}", r"x_{{{}}}^{{{}}}", r"{} \cdot \left( {} - w_{{{}}} \right)",
                              r"\sqrt{{{}}} + {}^{{2}}", r"\mathrm{{conv}}{}\left({}, {}\right)", r"{}x + {}.",
                              r"\begin{{bmatrix}} {} & {} \\ x & {} \end{{bmatrix}}", r"e^{{-{}}} \le {}"]))
def test_by_shape_puts_back_each_number_where_tex2typst_writes_it(numbers, shape):
    from tex2typst import tex2typst

    from i2dl.export.typeset import _by_shape

    fields = shape.replace("{{", "").replace("}}", "").count("{}")
    tex = shape.format(*(numbers * fields)[:fields])
    assert _by_shape(tex) == tex2typst(tex)


_TEX_TOKENS = [r"\frac", "{", "}", "(", ")", "[", "]", "=", "+", "-", r"\cdot", r"\cdot x", r"\left(", r"\right)",
               r"\begin{bmatrix}", r"\end{bmatrix}", " ", "x", "_", "^", "2", "0.5", ",", "&", r"\\", r"\{", r"\partial"]


@given(st.lists(st.sampled_from(_TEX_TOKENS), max_size=40))
def test_pieces_cut_where_one_token_per_character_would(tokens):
    from i2dl.export import typeset

    tex = "".join(tokens)
    per_char = re.compile(r"\\(begin|end)\{[^}]*\}|\\(left|right)\b|\\cdot\b|\\[A-Za-z]+|\\.|.", re.S)
    runs = typeset._ENV
    pieces = typeset._pieces(tex)
    assert "".join(pieces) == tex
    try:
        typeset._ENV = per_char
        assert typeset._pieces(tex) == pieces
    finally:
        typeset._ENV = runs
