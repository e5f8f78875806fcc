"""Moodle XML: a question bank with a category per exam slot, its variants as questions.

A spec problem with one number blank is a `numerical` question; any other spec problem is one
`cloze` (embedded answers) question holding every part's fields; each multiple-choice question of
a block is a `multichoice` question. The worked solution is the general feedback; figures are
embedded as files. Tolerances are absolute (Moodle's nominal tolerance), the key's own.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from i2dl.lms.fields import (
    Field,
    fmt,
    integer_weights,
    not_expressible,
    question_fields,
)
from i2dl.lms.html import inline_html, markdown_html
from i2dl.lms.pool import Category, Variant

#: The grades Moodle offers for an answer (question/format.php), as percentages.
GRADES = (100, 90, 83.33333, 80, 75, 70, 66.66667, 60, 50, 40, 33.33333, 30, 25, 20, 16.66667, 14.28571,
          12.5, 11.11111, 10, 5, 0)
NONE_OF_THESE = "None of the other options is correct."


def moodle_grade(fraction: float) -> str:
    """A credit in [-1, 1] as the nearest grade Moodle offers, in percent ('33.33333')."""
    sign = -1 if fraction < 0 else 1
    best = min(GRADES, key=lambda g: abs(g - abs(fraction) * 100))
    text = f"{best:.5f}".rstrip("0").rstrip(".")
    return ("-" if sign < 0 and best else "") + text


def _cloze_escape(text: str) -> str:
    """Text inside a Cloze code: the characters the parser treats specially are escaped."""
    for ch in ("\\", "}", "#", "~", "/", '"'):
        text = text.replace(ch, "\\" + ch)
    return text


def cloze_code(f: Field, weight: int) -> str:
    """The embedded answer {weight:TYPE:...} of one field."""
    if f.kind == "numerical":
        alts = "".join(f"~%{moodle_grade(c)}%{fmt(v)}:{fmt(f.tolerance)}#{_cloze_escape(fb)}"
                       for v, c, fb in f.mistakes)
        return f"{{{weight}:NUMERICAL:={fmt(f.value)}:{fmt(f.tolerance)}{alts}}}"
    if f.kind == "shortanswer":
        return f"{{{weight}:SHORTANSWER:={_cloze_escape(str(f.value))}}}"
    choices = _choices(f)
    if f.kind == "multichoice":
        body = "~".join(("=" if c else "%0%") + _cloze_escape(t) + (f"#{_cloze_escape(fb)}" if fb else "")
                        for t, c, fb in choices)
        return f"{{{weight}:MULTICHOICE:{body}}}"
    body = "~".join(f"%{_fraction(c, choices)}%{_cloze_escape(t)}" + (f"#{_cloze_escape(fb)}" if fb else "")
                    for t, c, fb in choices)
    return f"{{{weight}:MULTIRESPONSE:{body}}}"


def _choices(f: Field) -> tuple[tuple[str, bool, str], ...]:
    if any(c for _, c, _ in f.choices):
        return f.choices
    return (*f.choices, (NONE_OF_THESE, True, ""))


def _fraction(correct: bool, choices: tuple[tuple[str, bool, str], ...]) -> str:
    """A choice's share: correct ones add up to 100%, wrong ones to -100% (never below 0 in all)."""
    n_right = sum(1 for _, c, _ in choices if c)
    n_wrong = len(choices) - n_right
    return moodle_grade(1 / n_right) if correct else (moodle_grade(-1 / n_wrong) if n_wrong else "0")


def _text(tag: str, content: str, fmt_: str | None = "html") -> str:
    attr = f' format="{fmt_}"' if fmt_ else ""
    return f"<{tag}{attr}><text><![CDATA[{_cdata(content)}]]></text></{tag}>"


def _cdata(text: str) -> str:
    return text.replace("]]>", "]]]]><![CDATA[>")


def _figures_html(v: Variant, figures_of: Callable[[Any], list[Any]]) -> tuple[str, str]:
    """(img tags, <file> elements) of the variant's figures."""
    imgs, files = [], []
    for i, fig in enumerate(figures_of(v.problem), 1):
        name = f"figure-{v.slot.replace('.', '-')}-{i}.svg"
        data = base64.b64encode(fig.svg().encode("utf-8")).decode("ascii")
        files.append(f'<file name="{name}" path="/" encoding="base64">{data}</file>')
        imgs.append(f'<p><img src="@@PLUGINFILE@@/{name}" alt="{escape(fig.caption, {chr(34): "&quot;"})}"></p>')
    return "".join(imgs), "".join(files)


def question_html(v: Variant, exam_id: str, fields_html: Callable[[Any], str], figures: str = "") -> str:
    """The question text: the variant's tag, the statement, figures, then each part and its fields."""
    prob = v.problem
    out = [f'<p><small>{escape(v.tag(exam_id))}</small></p>']
    if prob.statement and prob.kind == "spec":
        out.append(markdown_html(prob.statement))
    out.append(figures)
    for part in prob.parts:
        out.append(f"<p><strong>{escape(part.number)}</strong> ({fmt(part.points)} p) {inline_html(part.text)}</p>")
        out.append(fields_html(part))
    return "\n".join(o for o in out if o)


def solution_html(v: Variant, steps: dict[str, str]) -> str:
    """The general feedback: per part the key and, where there are any, the worked steps."""
    out = []
    for part in v.problem.parts:
        if part.options:  # the correct options by letter and text, and why each other one is wrong
            keys = "correct: " + (", ".join(o.letter for o in part.options if o.correct) or "none of the options")
            reasons = "".join(f"<li>{escape(o.letter)} ({'correct' if o.correct else 'wrong'}): "
                              f"{inline_html(o.reason)}</li>" for o in part.options if o.reason)
            out.append(f"<p><strong>{escape(part.number)}</strong> {keys}</p>" + (f"<ul>{reasons}</ul>" if reasons else ""))
            continue
        keys = "; ".join(f"{b.label} = {escape(str(_shown(b)))}" for b in part.blanks)
        out.append(f"<p><strong>{escape(part.number)}</strong> {keys}</p>")
        if part.number in steps:
            out.append(markdown_html(steps[part.number]))
    return "\n".join(out)


def _shown(b: Any) -> str:
    from i2dl.render import fmt_value

    return fmt_value(b.expected)


def _common(v: Variant, exam_id: str, qtext: str, files: str, solution: str, points: float) -> str:
    return (f"<name><text>{escape(v.tag(exam_id))}</text></name>"
            f'<questiontext format="html"><text><![CDATA[{_cdata(qtext)}]]></text>{files}</questiontext>'
            + _text("generalfeedback", solution)
            + f"<defaultgrade>{fmt(points)}</defaultgrade><penalty>0</penalty><hidden>0</hidden>"
            f"<idnumber>{escape(v.tag(exam_id))[:100]}</idnumber>")


def numerical_question(v: Variant, exam_id: str, f: Field, figs: tuple[str, str], solution: str) -> str:
    """A `numerical` question for a problem with one number blank."""
    qtext = question_html(v, exam_id, lambda part: "", figs[0])
    answers = [(f.value, 1.0, ""), *f.mistakes]
    body = "".join(f'<answer fraction="{moodle_grade(c)}" format="moodle_auto_format"><text>{fmt(val)}</text>'
                   + _text("feedback", inline_html(fb)) + f"<tolerance>{fmt(f.tolerance)}</tolerance></answer>"
                   for val, c, fb in answers)
    return (f'<question type="numerical">{_common(v, exam_id, qtext, figs[1], solution, v.problem.points)}'
            f"{body}<unitgradingtype>0</unitgradingtype><unitpenalty>0</unitpenalty><showunits>3</showunits>"
            "<unitsleft>0</unitsleft></question>")


def cloze_question(v: Variant, exam_id: str, figs: tuple[str, str], solution: str) -> str:
    """One `cloze` question holding every field of every part, weighted by points."""
    fields = question_fields(v.parts)
    weights = dict(zip(map(id, fields), integer_weights([f.points for f in fields]), strict=True))

    def fields_html(part: Any) -> str:
        return "<br>".join(f"{escape(f.label)}: {cloze_code(f, weights[id(f)])}"
                           for f in fields if f.part == part.number)

    qtext = question_html(v, exam_id, fields_html, figs[0])
    return f'<question type="cloze">{_common(v, exam_id, qtext, figs[1], solution, v.problem.points)}</question>'


def _all_or_nothing(v: Variant) -> bool:
    return "all-or-nothing" in str(v.parts[0].rubric)


def multichoice_question(v: Variant, exam_id: str, f: Field, figs: tuple[str, str], solution: str,
                         all_or_nothing: bool = False) -> str:
    """A `multichoice` question: one answer when exactly one option is correct, else several with shares.

    With `all_or_nothing` (the Moodle plugin qtype_multichoiceset installed), several correct options
    under an all-or-nothing rubric become an all-or-nothing question, as the exam grades them.
    """
    choices = _choices(f)
    single = sum(1 for _, c, _ in choices if c) == 1
    if all_or_nothing and not single and _all_or_nothing(v):
        body = "".join(f'<answer fraction="{"100" if c else "0"}" format="html">'
                       f"<text><![CDATA[{_cdata(inline_html(t))}]]></text>" + _text("feedback", inline_html(fb))
                       + "</answer>" for t, c, fb in choices)
        qtext = question_html(v, exam_id, lambda part: "", figs[0])
        return (f'<question type="multichoiceset">{_common(v, exam_id, qtext, figs[1], solution, v.problem.points)}'
                "<shuffleanswers>false</shuffleanswers><answernumbering>ABCD</answernumbering>"
                + _text("correctfeedback", "") + _text("incorrectfeedback", "") + f"{body}</question>")
    body = "".join(f'<answer fraction="{("100" if c else "0") if single else _fraction(c, choices)}" format="html">'
                   f"<text><![CDATA[{_cdata(inline_html(t))}]]></text>" + _text("feedback", inline_html(fb))
                   + "</answer>" for t, c, fb in choices)
    qtext = question_html(v, exam_id, lambda part: "", figs[0])
    return (f'<question type="multichoice">{_common(v, exam_id, qtext, figs[1], solution, v.problem.points)}'
            f"<single>{'true' if single else 'false'}</single><shuffleanswers>false</shuffleanswers>"
            "<answernumbering>ABCD</answernumbering><showstandardinstruction>0</showstandardinstruction>"
            + _text("correctfeedback", "") + _text("partiallycorrectfeedback", "") + _text("incorrectfeedback", "")
            + f"{body}</question>")


def essay_question(v: Variant, exam_id: str, f: Field, figs: tuple[str, str]) -> str:
    """An `essay` question for a written answer: the box of its lines, the model answer and checklist for graders."""
    part = v.parts[0]
    b = next(x for x in part.blanks if x.name == f.blank)
    lines = getattr(b, "lines", None) or 5
    items = "".join(f"<li>{escape(t.id)} ({fmt(t.points)} p): {inline_html(t.text)}</li>"
                    for t in getattr(b, "checklist", None) or [])
    info = f"<p><strong>Model answer:</strong> {inline_html(str(f.value))}</p>" + (f"<ul>{items}</ul>" if items else "")
    qtext = question_html(v, exam_id, lambda part: "", figs[0])
    return (f'<question type="essay">{_common(v, exam_id, qtext, figs[1], "", v.problem.points)}'
            f"<responseformat>editor</responseformat><responserequired>0</responserequired>"
            f"<responsefieldlines>{max(5, lines)}</responsefieldlines><attachments>0</attachments>"
            + _text("graderinfo", info) + _text("responsetemplate", "") + "</question>")


def variant_xml(v: Variant, exam_id: str, steps: dict[str, str], figures_of: Callable[[Any], list[Any]],
                all_or_nothing: bool = False) -> str:
    """The question of one variant, of the type its fields need."""
    figs = _figures_html(v, figures_of)
    fields = question_fields(v.parts)
    if len(fields) == 1 and fields[0].kind == "essay":
        return essay_question(v, exam_id, fields[0], figs)
    solution = solution_html(v, steps)
    if v.problem.kind == "mcq" and len(fields) == 1:
        return multichoice_question(v, exam_id, fields[0], figs, solution, all_or_nothing)
    if len(fields) == 1 and fields[0].kind == "numerical" and fields[0].index is None:
        return numerical_question(v, exam_id, fields[0], figs, solution)
    return cloze_question(v, exam_id, figs, solution)


def category_xml(exam_id: str, title: str, c: Category) -> str:
    """The category question that files the following questions under the exam and slot."""
    path = f"$course$/top/i2dl/{exam_id}/{c.slot} {c.title}".replace("//", "/")
    return (f'<question type="category"><category><text>{escape(path)}</text></category>'
            + _text("info", f"{escape(title)}: {len(c.variants)} variant(s) of {c.slot}") + "</question>")


def moodle_xml(exam: Any, pool: list[Category], steps_of: Callable[[Variant], dict[str, str]],
               figures_of: Callable[[Any], list[Any]] = lambda p: [], *,
               all_or_nothing: bool = False) -> tuple[str, list[str]]:
    """The Moodle XML text of the pool, and notes on what Moodle cannot grade as i2dl does."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    notes: set[str] = {"follow-through and per-entry rubrics are i2dl's: regrade the responses with "
                       "`i2dl grade --responses` to give that credit"}
    for c in pool:
        out.append(category_xml(exam.exam_id, exam.title, c))
        for v in c.variants:
            out.append(variant_xml(v, exam.exam_id, steps_of(v), figures_of, all_or_nothing))
            for part in v.parts:
                notes.update(n.split(": ", 1)[1] if ": " in n else n for n in not_expressible(part))
                if v.problem.kind == "mcq" and len(set(part.blanks[0].expected)) > 1 and \
                        _all_or_nothing(v) and not all_or_nothing:
                    notes.add("a multiple-choice question with several correct options is exported with shares "
                              "per option (core Moodle has no all-or-nothing multiple answer): regrade with i2dl "
                              "for the exam's rule, or export with --all-or-nothing for the qtype_multichoiceset plugin")
    out.append("</quiz>")
    return "\n".join(out) + "\n", sorted(notes)
