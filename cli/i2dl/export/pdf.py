"""The PDF exporter: the exam sheet as a paper exam (exam.pdf) and the grader's key (key.pdf), typeset by Typst.

A document is Typst source made here (every text through `typeset`, never pasted in raw) and compiled in
process by the `typst` package with its own fonts only, so the same exam gives byte-identical PDFs on any
machine. Problems are drawn by kind through SHEET_RENDERERS and KEY_RENDERERS: a new problem kind is one
function in each.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from i2dl.errors import I2dlError, SpecError
from i2dl.exam.model import Exam
from i2dl.export.typeset import escape, inline, markup, math, string
from i2dl.io import atomic_write_bytes
from i2dl.render import fmt_number, fmt_value
from i2dl.rounding import rule_of
from i2dl.spec.instance import PartInstance, ProblemInstance

try:  # figures are drawn by i2dl.figures when it is there; without it the sheet has none
    from i2dl.figures import figures_of
except ImportError:  # pragma: no cover - depends on which branches are merged
    def figures_of(problem: Any) -> list:  # type: ignore[misc]
        return []

SHEET_PDF = "exam.pdf"
KEY_PDF = "key.pdf"
PAPERS = {"a4": "a4", "letter": "us-letter"}
#: Pages left blank (but headed) at the end of a sheet for extra working.
EXTRA_PAGES = 2

#: Lines of an answer box per answer kind when the spec declares no `box`; a matrix of known shape is a grid.
DEFAULT_LINES: dict[str, int] = {"number": 1, "vector": 1, "matrix": 3, "shape": 1, "choice": 1, "bool": 1,
                                 "formula": 2, "text": 3}
UNKNOWN_KIND_LINES = 3


class PdfError(I2dlError):
    """Typst could not typeset a document (a bug in the exporter, or an unusual text)."""


# ---------------------------------------------------------------------------- document parts

_PREAMBLE = """\
#let answerbox(label, lines) = block(width: 100%, breakable: false, above: 0.5em, below: 0.7em)[
  #text(size: 8.5pt, fill: luma(90))[#label]
  #block(width: 100%, height: lines * 0.95cm, stroke: 0.5pt + luma(120), radius: 2pt)
]
#let answergrid(label, rows, cols) = block(breakable: false, above: 0.5em, below: 0.7em)[
  #text(size: 8.5pt, fill: luma(90))[#label]
  #grid(columns: (1.5cm,) * cols, rows: (0.95cm,) * rows, stroke: 0.5pt + luma(120), ..((none,) * (rows * cols)))
]
#let cross = box(width: 0.85em, height: 0.85em, stroke: 0.6pt, baseline: 0.1em)
#let field(label, value, width: 7cm) = box[#label #h(0.4em) #box(width: width, stroke: (bottom: 0.5pt), inset: (bottom: 2pt))[#value]]
"""


def _document(title: str, paper: str, header: str, body: str, top: str = "2.6cm") -> str:
    """A whole Typst document: fixed metadata (no date: the PDF does not depend on when it was made)."""
    return "\n".join([
        f"#set document(title: {string(title)}, author: \"i2dl\", date: none)",
        f"#set page(paper: \"{PAPERS[paper]}\", margin: (top: {top}, bottom: 2cm, x: 2cm), header-ascent: 25%,",
        f"  header: context {header})",
        "#set text(size: 10.5pt, lang: \"en\")",
        "#set par(justify: false, leading: 0.6em)",
        "#set heading(numbering: none)",
        "#show heading.where(level: 2): set text(size: 13pt)",
        "#show heading.where(level: 3): set text(size: 11pt)",
        _PREAMBLE,
        body,
    ])


def _header(left: str, qr_svg: str | None = None) -> str:
    """The running header: who and which variant on the left, 'page k of n' on the right, a QR code if given."""
    qr = f"#image(bytes({string(qr_svg)}), format: \"svg\", height: 1.3cm)" if qr_svg else ""
    return ("[#set text(size: 8.5pt)\n#grid(columns: (1fr, auto, auto), column-gutter: 0.6em, align: horizon,\n"
            f"  [{left}], [Page #counter(page).display() of #counter(page).final().first()], [{qr}])\n"
            "#line(length: 100%, stroke: 0.4pt)]")


def variant_code(exam: Exam) -> str:
    """The code that names a sheet's variant: the exam id, and within a cohort the variant's label."""
    return f"{exam.exam_id}/{exam.variant}" if exam.variant else exam.exam_id


def qr_svg(code: str) -> str:
    """A QR code of `code` as SVG text (segno; no XML declaration, so it embeds the same everywhere)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(code, error="m").save(buf, kind="svg", xmldecl=False, svgns=True, border=1, scale=4)
    return buf.getvalue().decode("utf-8")


def paper_instructions(text: str) -> str:
    """The exam's instructions as printed: sentences about the answer file (an online route) left out."""
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(str(text or "").split()))
    kept = [s for s in sentences if s and not re.search(r"answers?\.ya?ml|answer file|responses?\.csv", s, re.I)]
    return " ".join(kept)


# ---------------------------------------------------------------------------- the sheet


def _settings() -> dict[str, Any]:
    """The course's [defaults] the sheet reads (paper, date, aids), checked; outside a course the defaults."""
    from i2dl.course import active_course

    course = active_course()
    defaults = dict(course.config.defaults) if course is not None else {}
    paper = str(defaults.get("paper", "a4")).lower()
    if paper not in PAPERS:
        raise SpecError(f"paper '{defaults.get('paper')}' is not a paper size i2dl prints on",
                        where="i2dl.toml [defaults] paper", fix="paper = \"a4\" or paper = \"letter\"")
    course_name = ""
    if course is not None:
        course_name = course.config.title + (f", {course.config.term}" if course.config.term else "")
    return {"paper": paper, "date": str(defaults.get("date", "") or ""), "aids": str(defaults.get("aids", "") or ""),
            "course": course_name}


def pdf_settings() -> dict[str, Any]:
    """The settings sheet_source and key_source read (see _settings)."""
    return _settings()


def _points(x: float) -> str:
    return fmt_number(x)


def _cover(exam: Exam, settings: dict[str, Any], student: dict[str, str] | None) -> str:
    """The cover page: course, title, date, duration, aids, instructions, name fields and the points table."""
    out = []
    if settings["course"]:
        out.append(f"#align(center, text(size: 12pt)[{escape(settings['course'])}])")
    out.append(f"#align(center, text(size: 18pt, weight: \"bold\")[{escape(exam.title)}])")
    out.append("#v(0.6cm)")
    facts = [("Exam", f"#raw({string(variant_code(exam))})"),
             ("Date", escape(settings["date"]) or "#box(width: 4cm, height: 0.9em, stroke: (bottom: 0.5pt))"),
             ("Duration", f"{exam.duration} minutes" if exam.duration else "as announced"),
             ("Allowed aids", escape(settings["aids"]) or "none besides a pen"),
             ("Points", _points(exam.points))]
    out.append("#table(columns: (auto, 1fr), stroke: none, inset: 3pt, "
               + ", ".join(f"[*{k}*], [{v}]" for k, v in facts) + ")")
    out.append("#v(0.5cm)")
    name = escape(student.get("name", "")) if student else ""
    sid = f"#raw({string(student['student_id'])})" if student else ""
    out.append(f"#field([Name], [{name}], width: 10cm)\n#v(0.5cm)\n#field([Registration number], [{sid}], width: 6cm)")
    out.append("#v(0.6cm)\n== Instructions")
    rule = rule_of(exam.rounding)
    lines = [paper_instructions(exam.instructions),
             "Write each answer into the box below its part; use the space around it and the extra pages at the "
             "end for working, and mark there which part it belongs to.",
             rule.sentence() if rule else "",
             "Do not separate the pages of this exam."]
    out.append("\n".join(f"- {inline(t)}" for t in lines if t))
    out.append("#v(0.6cm)\n== Points")
    probs = exam.problems
    cells = ["[*Problem*]"] + [f"[{p.number}]" for p in probs] + ["[*Total*]"]
    cells += ["[*Points*]"] + [f"[{_points(p.points)}]" for p in probs] + [f"[{_points(exam.points)}]"]
    cells += ["[*Score*]"] + ["[]"] * (len(probs) + 1)
    out.append(f"#table(columns: (auto,) + (1fr,) * {len(probs) + 1}, align: center + horizon, "
               f"rows: (auto, auto, 1.1cm), " + ", ".join(cells) + ")")
    out.append("#pagebreak()")
    return "\n\n".join(out)


def _belongs(fig: Any, part: PartInstance | None) -> bool:
    """Whether a figure goes with `part` (None: the statement); a figure names its part by the part's id."""
    where = getattr(fig, "part", None)
    if where is None or part is None:
        return where is None and part is None
    return str(where) == part.id


def _figures(prob: ProblemInstance, part: PartInstance | None) -> str:
    """The problem's figures placed with the problem statement (part None) or with their part."""
    out = []
    for fig in figures_of(prob):
        if not _belongs(fig, part):
            continue
        caption = getattr(fig, "caption", "") or ""
        out.append(f"#figure(image(bytes({string(fig.svg())}), format: \"svg\", width: 85%), "
                   f"caption: [{inline(caption)}])" if caption else
                   f"#align(center, image(bytes({string(fig.svg())}), format: \"svg\", width: 85%))")
    return "\n\n".join(out)


def _shape(v: Any) -> tuple[int, ...]:
    import numpy as np

    try:
        return tuple(np.shape(v))
    except (TypeError, ValueError):
        return ()


def _declared_box(prob: ProblemInstance, part: PartInstance) -> int | None:
    """The lines the spec declares for a part's answer box (`box: {lines: N}`), or None."""
    try:
        compiled = prob.compiled_spec()
    except I2dlError:
        return None
    if compiled is None:
        return None
    for sp in compiled.spec.parts:
        if sp.id == part.id and getattr(sp, "box", None) is not None:
            return sp.box.lines
    return None


def _shape_is_asked(part: PartInstance) -> bool:
    """Whether a part's rubric gives points for the shape of an array (then the sheet must not draw it)."""
    from i2dl.spec.rubric import resolve_rubric

    try:
        return resolve_rubric(part.rubric).arrays.mode == "shape-then-values"
    except I2dlError:
        return True


def _answer_boxes(prob: ProblemInstance, part: PartInstance) -> str:
    """The part's answer space: the declared box, else one box per blank sized by its kind."""
    declared = _declared_box(prob, part)
    if declared is not None:
        labels = ", ".join(b.label for b in part.blanks)
        return f"#answerbox([{escape(labels)}], {declared})"
    out = []
    for b in part.blanks:
        shape = _shape(b.expected)
        if b.kind == "matrix" and len(shape) == 2 and not _shape_is_asked(part) and shape[1] <= 10:
            out.append(f"#answergrid([{escape(b.label)}], {shape[0]}, {shape[1]})")
        else:
            out.append(f"#answerbox([{escape(b.label)}], {DEFAULT_LINES.get(b.kind, UNKNOWN_KIND_LINES)})")
    return "\n".join(out)


def _own_rule_note(part: PartInstance, exam_rule: Any) -> str:
    rule = next((rule_of(b.rounding) for b in part.blanks if b.rounding is not None), None)
    if rule is None or rule == exam_rule:
        return ""
    text = rule.sentence()
    return f" #emph[{inline('In this part, ' + text[0].lower() + text[1:])}]"


def _part_head(part: PartInstance) -> str:
    return f"*{escape(part.number)}* #text(fill: luma(70))[({_points(part.points)} p)]"


def _spec_problem_sheet(prob: ProblemInstance, exam: Exam) -> str:
    """A spec problem: statement, figures, then each part with its points, text and answer boxes."""
    exam_rule = rule_of(exam.rounding)
    out = [markup(prob.statement)] if prob.statement else []
    figs = _figures(prob, None)
    if figs:
        out.append(figs)
    for part in prob.parts:
        # sticky: the part's text stays on the page of its first answer box
        block = [f"#block(sticky: true)[{_part_head(part)} {markup(part.text)}{_own_rule_note(part, exam_rule)}]"]
        figs = _figures(prob, part)
        if figs:
            block.append(figs)
        if part.options:  # a property question: its statements, each with a box to cross
            block.append(_option_grid(part))
        else:
            block.append(_answer_boxes(prob, part))
        out.append("\n\n".join(block))
    return "\n\n".join(out)


def _option_grid(part: PartInstance) -> str:
    """A part's options, one box to cross per option."""
    opts = ", ".join(f"[#cross], [*{escape(o.letter)}*], [{markup(o.text)}]" for o in part.options)
    return f"#grid(columns: (auto, auto, 1fr), column-gutter: 0.6em, row-gutter: 0.7em, {opts})"


def _mcq_problem_sheet(prob: ProblemInstance, exam: Exam) -> str:
    """Multiple choice: how to mark, then each question with a box to cross per option."""
    from i2dl.spec.rubric import resolve_rubric

    scoring = {"all-or-nothing": "A question earns its points only when every one of its options is judged "
                                 "right (crossed when true, left empty when false)."}
    schemes = {resolve_rubric(p.rubric, default="mcq-all-or-nothing").scheme for p in prob.parts}
    lines = ["Cross the box of every option you consider true. Any number of options may be true, "
             "none and all included; an empty box means false.",
             "To take a cross back, fill the box in completely; a filled box counts as empty.",
             scoring.get(schemes.pop(), "Each option judged right earns its share of the question's points.")
             if len(schemes) == 1 else ""]
    out = [f"#block(inset: 6pt, stroke: 0.5pt + luma(150), radius: 2pt, width: 100%)[{' '.join(inline(t) for t in lines if t)}]"]
    figs = _figures(prob, None)
    if figs:
        out.append(figs)
    for part in prob.parts:
        out.append(f"#block(breakable: false)[{_part_head(part)} {markup(part.text)}\n\n{_option_grid(part)}]")
    return "\n\n".join(out)


def _short_problem_sheet(prob: ProblemInstance, exam: Exam) -> str:
    """Written answers: each question with its points and a ruled box of the lines the bank declares."""
    out = [markup(prob.statement)] if prob.statement else []
    for part in prob.parts:
        lines = next((b.lines for b in part.blanks if b.kind == "text" and b.lines), None) or DEFAULT_LINES["text"]
        out.append(f"#block(sticky: true)[{_part_head(part)} {markup(part.text)}]\n\n"
                   f"#answerbox([{escape('your answer')}], {lines})")
    return "\n\n".join(out)


SHEET_RENDERERS: dict[str, Callable[[ProblemInstance, Exam], str]] = {
    "spec": _spec_problem_sheet, "mcq": _mcq_problem_sheet, "short": _short_problem_sheet}


def _renderer(table: dict[str, Callable], prob: ProblemInstance) -> Callable:
    try:
        return table[prob.kind]
    except KeyError:
        raise PdfError(f"problem {prob.number} is of kind '{prob.kind}', which the PDF exporter cannot draw",
                       fix="kinds it draws: " + ", ".join(sorted(table))) from None


def sheet_source(exam: Exam, student: dict[str, str] | None = None, settings: dict[str, Any] | None = None) -> str:
    """The exam sheet as Typst source: cover page, problems, extra pages; a cohort's sheet names its student."""
    settings = settings or _settings()
    code = variant_code(exam)
    who = f"Student #raw({string(student['student_id'])}) · " if student else ""
    header = _header(f"{escape(exam.title)} · {who}Exam #raw({string(code)})", qr_svg(code) if student else None)
    body = [_cover(exam, settings, student)]
    for prob in exam.problems:
        body.append(f"== Problem {prob.number}: {escape(prob.title)} #h(1fr) "
                    f"#text(weight: \"regular\", size: 10.5pt)[{_points(prob.points)} points]")
        body.append(_renderer(SHEET_RENDERERS, prob)(prob, exam))
    for _ in range(EXTRA_PAGES):
        body.append("#pagebreak()\n== Extra space\n#text(fill: luma(90))[Write the part number next to "
                    "everything you write here.]")
    return _document(exam.title, settings["paper"], header, "\n\n".join(body), top="3cm" if student else "2.6cm")


# ---------------------------------------------------------------------------- the key


def _tex_math(tex: str) -> str:
    return math(tex) if tex else ""


def _blank_points(part: PartInstance) -> list[float]:
    return part.blank_points()


def _step_line(st: dict[str, Any]) -> str:
    """One worked step as the key prints it: its role, its words, then lhs = rhs = ... as maths."""
    prefix = {"result": "*result:* ", "given": "given: ", "where": "where ", "formula": ""}.get(st.get("role"), "")
    chain = " = ".join(([st["lhs"]] if st.get("lhs") else []) + list(st.get("rhs") or []))
    words = inline(st.get("text") or "")
    return "- " + prefix + " ".join(t for t in (words, _tex_math(chain)) if t)


def _alternatives(b: Any) -> list[str]:
    out = []
    for alt in b.alternatives:
        credit = float(alt.get("credit", 0) or 0)
        value = _tex_math(fmt_value(alt["value"], "math"))
        what = (f"accepted alternative _{escape(alt['name'])}_ ({fmt_number(credit * 100)} % credit)" if credit > 0
                else f"named mistake _{escape(alt['name'])}_ (no credit)")
        out.append(f"  - {what}: {value} — {inline(alt.get('feedback') or '')}")
    return out


def _spec_problem_key(prob: ProblemInstance, exam: Exam, explained: dict[str, dict[str, Any]]) -> str:
    """Each part's answers with their points, alternatives, named mistakes and the worked steps."""
    from i2dl.spec.rubric import resolve_rubric

    out = []
    for part in prob.parts:
        try:
            rubric = resolve_rubric(part.rubric).name
        except I2dlError:
            rubric = str(part.rubric)
        block = [f"=== {escape(part.number)} #h(1fr) #text(weight: \"regular\")[{_points(part.points)} p · "
                 f"rubric #raw({string(rubric)})]", markup(part.text)]
        rows = []
        for b, pts in zip(part.blanks, _blank_points(part), strict=True):
            rows.append(f"[{escape(b.label)}], [{_tex_math(fmt_value(b.expected, 'math'))}], [{fmt_number(pts, 3)} p]")
        block.append("#table(columns: (auto, 1fr, auto), inset: 4pt, stroke: 0.4pt + luma(150), "
                     "[*blank*], [*answer*], [*points*], " + ", ".join(rows) + ")")
        if part.options:  # a property question: every statement shown, true or false, and why
            block.append(_option_lines(part))
        alts = [line for b in part.blanks for line in ([f"- {escape(b.label)}:"] + _alternatives(b)
                                                      if b.alternatives else [])]
        if alts:
            block.append("\n".join(alts))
        expl = explained.get(part.number)
        if expl and expl.get("blanks"):
            steps = ["*Worked solution*"]
            for blank in expl["blanks"]:
                steps.append(f"_{escape(blank['label'])}_")
                steps.append("\n".join(_step_line(st) for st in blank["steps"]))
            block.append("\n\n".join(steps))
        out.append("\n\n".join(block))
    return "\n\n".join(out)


def _key_head(part: PartInstance) -> str:
    """A part's heading in the key: its number, and its points at the right."""
    return f"=== {escape(part.number)} #h(1fr) #text(weight: \"regular\")[{_points(part.points)} p]"


def _mcq_problem_key(prob: ProblemInstance, exam: Exam, explained: dict[str, dict[str, Any]]) -> str:
    """Each question: the correct letters, then every option marked with why, and the mistake a wrong one names."""
    out = []
    for part in prob.parts:
        right = ", ".join(o.letter for o in part.options if o.correct) or "none"
        lines = [_key_head(part),
                 markup(part.text), f"Correct: *{escape(right)}*"]
        lines.append(_option_lines(part))
        out.append("\n\n".join(lines))
    return "\n\n".join(out)


def _option_lines(part: PartInstance) -> str:
    """Every option marked true or false with why, and the mistake a wrong one names."""
    opts = []
    for o in part.options:
        mark = "true" if o.correct else "false"
        mistake = f" (named mistake _{escape(o.mistake)}_)" if o.mistake else ""
        opts.append(f"- *{escape(o.letter)}* {mark}{mistake}: {inline(' '.join(o.text.split()))} — "
                    f"{inline(' '.join(o.reason.split()))}")
    return "\n".join(opts)


def _short_problem_key(prob: ProblemInstance, exam: Exam, explained: dict[str, dict[str, Any]]) -> str:
    """Each written answer: the model answer, then the checklist a TA applies (items, partials, deductions)."""
    out = []
    for part in prob.parts:
        lines = [_key_head(part),
                 markup(part.text)]
        for b in part.blanks:
            if b.kind != "text":
                continue
            lines.append(f"*Model answer:* {inline(' '.join((b.model_answer or '').split()))}")
            items = []
            for t in b.checklist or []:
                sign = f"+{_points(t.points)}" if t.points > 0 else _points(t.points)
                kind = (f", instead of {t.instead_of}" if t.instead_of else "" if t.points > 0 else
                        ", deduction" if t.points < 0 else ", common mistake")
                items.append(f"- #raw({_str(t.id)}) ({escape(sign + kind)}): {inline(' '.join(t.text.split()))}")
            if items:
                lines.append("*Checklist:*\n" + "\n".join(items))
        out.append("\n\n".join(lines))
    return "\n\n".join(out)


def _str(text: str) -> str:
    """A Typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


KEY_RENDERERS: dict[str, Callable[[ProblemInstance, Exam, dict[str, dict[str, Any]]], str]] = {
    "spec": _spec_problem_key, "mcq": _mcq_problem_key, "short": _short_problem_key}


def key_source(exam: Exam, explained: dict[str, dict[str, Any]] | None = None,
               settings: dict[str, Any] | None = None) -> str:
    """The key as Typst source: per part the answers, the points per blank, alternatives and worked steps."""
    if explained is None:
        from i2dl.explain import key_explanations

        explained = key_explanations(exam)
    settings = settings or _settings()
    code = variant_code(exam)
    header = _header(f"Solution key · {escape(exam.title)} · Exam #raw({string(code)})")
    body = [f"#align(center, text(size: 16pt, weight: \"bold\")[Solution key: {escape(exam.title)}])",
            f"#align(center)[Exam #raw({string(code)}) · seed {exam.seed} · {_points(exam.points)} points · "
            "for graders only]"]
    for prob in exam.problems:
        body.append(f"== Problem {prob.number}: {escape(prob.title)} #h(1fr) "
                    f"#text(weight: \"regular\", size: 10.5pt)[{_points(prob.points)} points]")
        body.append(_renderer(KEY_RENDERERS, prob)(prob, exam, explained))
    return _document("Solution key: " + exam.title, settings["paper"], header, "\n\n".join(body))


# ---------------------------------------------------------------------------- compiling and writing


_COMPILERS = threading.local()  # one Typst compiler per thread: its fonts are read once, not per document


def _compiler() -> Any:
    """This thread's Typst compiler (the fonts inside the typst package only)."""
    import typst

    made = getattr(_COMPILERS, "compiler", None)
    if made is None:
        made = _COMPILERS.compiler = typst.Compiler(ignore_system_fonts=True)
    return made


def compile_pdf(source: str) -> bytes:
    """Typst source as PDF bytes, with the fonts inside the typst package only; PdfError on an error or warning."""
    try:
        pdf, warnings = _compiler().compile_with_warnings(input=source.encode("utf-8"), format="pdf")
    except Exception as exc:  # typst raises its own TypstError
        raise PdfError(f"Typst could not typeset the document: {str(exc).splitlines()[0] if str(exc) else exc}",
                       fix="please report this with the exam folder") from None
    if warnings:
        raise PdfError(f"Typst warned: {warnings[0]}", fix="please report this with the exam folder")
    return pdf


def sheet_pdf(exam: Exam, student: dict[str, str] | None = None, settings: dict[str, Any] | None = None) -> bytes:
    """The exam sheet as PDF bytes."""
    return compile_pdf(sheet_source(exam, student, settings))


def key_pdf(exam: Exam, explained: dict[str, dict[str, Any]] | None = None,
            settings: dict[str, Any] | None = None) -> bytes:
    """The key as PDF bytes."""
    return compile_pdf(key_source(exam, explained, settings))


class PdfExporter:
    """exam.pdf (the paper sheet) and key.pdf (answers, points per blank, alternatives, worked steps)."""

    name = "pdf"
    files = {"sheet_pdf": SHEET_PDF, "key_pdf": KEY_PDF}

    def export(self, exam: Exam, out_dir: Path, *, explained: dict[str, dict[str, Any]] | None = None,
               **_: object) -> dict[str, Path]:
        """Write the sheet and the key (with `explained`, worked solutions by part number) as PDF."""
        settings = _settings()
        paths = {kind: Path(out_dir) / name for kind, name in self.files.items()}
        atomic_write_bytes(paths["sheet_pdf"], sheet_pdf(exam, None, settings))
        atomic_write_bytes(paths["key_pdf"], key_pdf(exam, explained, settings))
        return paths


# ---------------------------------------------------------------------------- a cohort's sheets and keys


def _compile_job(job: tuple[str, Path]) -> str | None:
    """Compile one document's source and write it; an error comes back as its message."""
    source, path = job
    try:
        data = compile_pdf(source)
    except PdfError as exc:
        return f"{path.name}: {exc.message}"
    atomic_write_bytes(path, data)
    return None


def write_cohort_pdfs(exam: Exam, sheets: dict[str, Path], keys: dict[str, Path], jobs: int | None = None,
                      made: dict[str, dict[str, bytes]] | None = None) -> None:
    """Each student's sheet (student id -> path) and each variant's key (label -> path) as PDF.

    `made[label]` holds PDFs already made where the variant was built ("key", and "sheet" of the
    student whose id is the label); they are written as they are. The sources of the others are made
    here while threads compile them (Typst runs outside Python's lock). Not processes: a process that
    has run Typst or tex2typst holds threads a fork does not copy, and a forked worker can hang.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    settings = _settings()
    by_id = {r["student_id"]: r for r in exam.roster}
    jobs = jobs or min(os.cpu_count() or 1, 8)
    errors: list[str] = []
    made = made or {}
    with ThreadPoolExecutor(jobs) as pool:
        pending = []
        for sid, path in sheets.items():
            student = by_id[sid]
            if student["variant"] == sid and "sheet" in made.get(sid, {}):
                atomic_write_bytes(path, made[sid]["sheet"])
                continue
            pending.append(pool.submit(_compile_job, (sheet_source(exam.variants[student["variant"]], student,
                                                                   settings), path)))
        for label, path in keys.items():
            if "key" in made.get(label, {}):
                atomic_write_bytes(path, made[label]["key"])
                continue
            pending.append(pool.submit(_compile_job, (key_source(exam.variants[label], None, settings), path)))
        errors = [e for e in (f.result() for f in pending) if e]
    if errors:
        raise PdfError(f"{len(errors)} PDF(s) could not be typeset; the first: {errors[0]}",
                       fix="please report this with the exam folder")
