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
from i2dl.render import fmt_value
from i2dl.spec.instance import PartInstance

SHEET_FILE = "exam.md"
KEY_FILE = "key.md"


def part_text(part: PartInstance) -> str:
    """A part's text as the sheet prints it: for multiple choice, the stem and then its options as a list."""
    if not part.options:
        return part.text
    return part.text + "\n\n" + "\n".join(f"- **{o.letter}** {o.text}" for o in part.options)


def sheet_markdown(exam: Exam) -> str:
    """The exam sheet: Markdown with LaTeX math."""
    out = [f"# {exam.title}", ""]
    meta = f"Exam `{exam.exam_id}` · {fmt_value(exam.points)} points"
    if exam.duration:
        meta += f" · {exam.duration} minutes"
    out += [meta, ""]
    if exam.instructions:
        out += [exam.instructions, ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title} ({fmt_value(prob.points)} points)", ""]
        if prob.statement:
            out += [prob.statement, ""]
        for part in prob.parts:
            out += [f"**{part.number}** ({fmt_value(part.points)} p) {part_text(part)}", ""]
    return "\n".join(out).rstrip() + "\n"


def key_markdown(exam: Exam, steps: dict[str, str] | None = None) -> str:
    """The solution key: every blank's answer and, where given, the worked steps."""
    out = [f"# Solution key: {exam.title}", "", f"Exam `{exam.exam_id}`, seed {exam.seed}.", ""]
    for prob in exam.problems:
        out += [f"## Problem {prob.number}: {prob.title}", ""]
        for part in prob.parts:
            out.append(f"### {part.number} ({fmt_value(part.points)} p)")
            out.append("")
            for b in part.blanks:
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
