"""The Markdown exporter: the exam sheet (exam.md), the solution key (key.md) and the blank answer file."""

from __future__ import annotations

from pathlib import Path

from i2dl.exam.model import Exam
from i2dl.export.answers import (
    ANSWERS_FILE,
    RESPONSES_FILE,
    answer_file_text,
    responses_template_text,
)
from i2dl.io import atomic_write_text
from i2dl.render import fmt_number, fmt_value
from i2dl.rounding import Rounding, rule_of
from i2dl.spec.instance import Blank, PartInstance, ProblemInstance

SHEET_FILE = "exam.md"
KEY_FILE = "key.md"


def part_text(part: PartInstance) -> str:
    """A part's text as the sheet prints it: for multiple choice, the stem and then its options as a list."""
    if not part.options:
        return part.text
    return part.text + "\n\n" + "\n".join(f"- **{o.letter}** {o.text}" for o in part.options)


def sheet_markdown(exam: Exam, student: dict[str, str] | None = None) -> str:
    """The exam sheet: Markdown with LaTeX math; a cohort's sheet names its student (never a seed)."""
    out = [f"# {exam.title}", ""]
    meta = f"Exam `{exam.exam_id}` · {fmt_value(exam.points)} points"
    if student is not None:
        who = f"Student `{student['student_id']}`" + (f" ({student['name']})" if student.get("name") else "")
        meta = f"{who} · {meta}"
    if exam.duration:
        meta += f" · {exam.duration} minutes"
    out += [meta, ""]
    exam_rule = rule_of(exam.rounding)
    intro = "\n".join(t for t in (exam.instructions, exam_rule.sentence() if exam_rule else "") if t)
    if intro:
        out += [intro, ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title} ({fmt_value(prob.points)} points)", ""]
        if prob.statement:
            out += [prob.statement, ""]
        own = own_rules(prob, exam_rule)
        shared = set(own.values())
        once = len(shared) == 1 and len(own) == len(prob.parts)  # one rule for the whole problem: said once
        if once:
            out += [f"*{_own('problem', shared.pop())}*", ""]
        for part in prob.parts:
            line = f"**{part.number}** ({fmt_value(part.points)} p) {part_text(part)}"
            if part.number in own and not once:
                line += f" *{_own('part', own[part.number])}*"
            out += [line, ""]
            out += answer_box(part)
    return "\n".join(out).rstrip() + "\n"


def answer_box(part: PartInstance) -> list[str]:
    """The sheet's box for a written answer: a fenced block `lines` lines high (nothing for other parts)."""
    lines = next((b.lines for b in part.blanks if b.kind == "text" and b.lines), None)
    if not lines:
        return []
    return [f"*Answer ({lines} lines):*", "", "```text", *([""] * lines), "```", ""]


def _item(text: str, indent: str = "  ") -> str:
    """Text as the body of a list item: its later lines indented to stay inside the item."""
    return ("\n" + indent).join(line.rstrip() for line in text.strip().splitlines())


def checklist_lines(b: Blank) -> list[str]:
    """A short answer in the key: the model answer and every checklist item with its points, as text."""
    out = [f"- **Model answer**: {_item(b.model_answer or '')}", "- **Checklist**:"]
    for t in b.checklist:
        sign = f"+{fmt_number(t.points)}" if t.points > 0 else fmt_number(t.points)
        kind = (f", instead of `{t.instead_of}`" if t.instead_of else "" if t.points > 0 else
                ", deduction" if t.points < 0 else ", common mistake")
        out.append(f"  - `{t.id}` ({sign}{kind}): {_item(t.text, '    ')}")
    return out


def own_rules(prob: ProblemInstance, exam_rule: Rounding | None) -> dict[str, Rounding]:
    """Part number -> the rounding rule of each part whose numbers follow a rule other than the exam's."""
    out = {}
    for part in prob.parts:
        rule = next((rule_of(b.rounding) for b in part.blanks if b.rounding is not None), None)
        if rule is not None and rule != exam_rule:
            out[part.number] = rule
    return out


def _own(where: str, rule) -> str:
    """A rule that differs from the exam's, as the sheet states it: 'In this problem, give ...'."""
    text = rule.sentence()
    return f"In this {where}, {text[0].lower()}{text[1:]}"


def key_markdown(exam: Exam, steps: dict[str, str] | None = None) -> str:
    """The solution key: every blank's answer and, where given, the worked steps."""
    variant = f", variant `{exam.variant}`" if exam.variant else ""
    out = [f"# Solution key: {exam.title}", "", f"Exam `{exam.exam_id}`{variant}, seed {exam.seed}.", ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title}", ""]
        for part in prob.parts:
            out.append(f"### {part.number} ({fmt_value(part.points)} p)")
            out.append("")
            for b in part.blanks:
                if b.model_answer is not None:
                    out += checklist_lines(b)
                elif b.kind == "text":  # words, not maths
                    out.append(f"- **{b.label}**: {_item(str(b.expected))}")
                else:
                    out.append(f"- **{b.label}** = ${fmt_value(b.expected, 'latex')}$")
            if part.options:
                out.append("")
                for o in part.options:
                    out.append(f"  - {o.letter} ({'correct' if o.correct else 'wrong'}): {o.reason}")
            if steps and part.number in steps:
                out += ["", steps[part.number]]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


class MarkdownExporter:
    """exam.md and key.md (Markdown with LaTeX maths), answers.yaml and the responses CSV template."""

    name = "markdown"
    files = {"sheet": SHEET_FILE, "key": KEY_FILE, "answers": ANSWERS_FILE, "responses": RESPONSES_FILE}

    def export(self, exam: Exam, out_dir: Path, *, steps: dict[str, str] | None = None, **_: object
               ) -> dict[str, Path]:
        """Write the sheet, the key (with `steps`, worked solutions by part number) and the answer file."""
        paths = {kind: Path(out_dir) / name for kind, name in self.files.items()}
        atomic_write_text(paths["sheet"], sheet_markdown(exam))
        atomic_write_text(paths["key"], key_markdown(exam, steps))
        atomic_write_text(paths["answers"], answer_file_text(exam))
        atomic_write_text(paths["responses"], responses_template_text(exam))
        return paths
