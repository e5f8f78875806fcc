"""The answer file (answers.yaml): one entry per blank with a comment giving its form, and the key in that form."""

from __future__ import annotations

import csv
import io
from typing import Any

from i2dl import kinds
from i2dl.exam.model import Exam
from i2dl.rounding import rule_of

ANSWERS_FILE = "answers.yaml"
RESPONSES_FILE = "responses-template.csv"
#: The columns of a responses CSV before the blanks: who, and (optional) which exam.
ID_COLUMN, NAME_COLUMN, EXAM_COLUMN = "student_id", "name", "exam"


def blank_form(kind: str, expected: Any, options: int = 0, rounding: dict[str, Any] | None = None) -> str:
    """The comment that tells a student what form a blank takes (and how to round it)."""
    rule = rule_of(rounding)
    return kinds.get(kind).form(expected, options) + (f"; {rule.hint()}" if rule is not None else "")


def answer_file_text(exam: Exam, student: dict[str, str] | None = None) -> str:
    """The blank answer file: one entry per blank, a comment giving its expected form (a cohort's names its student)."""
    sid, name = (student["student_id"], student.get("name", "")) if student else ("", "")
    lines = [
        "# i2dl answer file: fill in each blank after the colon, keep the keys as they are.",
        "# Numbers may be written as on paper (0,52  27/9  -log(0.35)  2^3); leave a blank empty to skip it.",
        f"exam: {exam.exam_id}",
        f"student_id: {_quoted(sid)}",
        f"name: {_quoted(name)}",
        "answers:",
    ]
    for _, part in exam.parts():
        if single_value(part):
            b = part.blanks[0]
            hint = SHORT_HINT if b.model_answer is not None else blank_form(b.kind, b.expected, b.options)
            lines.append(f"  '{part.number}': ''    # {hint}")
            continue
        lines.append(f"  '{part.number}':")
        for b in part.blanks:
            lines.append(f"    {b.name}: ''    # {b.label}: {blank_form(b.kind, b.expected, b.options, b.rounding)}")
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    """A YAML single-quoted scalar (ids such as 012345 stay text)."""
    return "'" + text.replace("'", "''") + "'"


#: How a student writes a short answer in answers.yaml (a YAML block keeps its line breaks).
SHORT_HINT = "a few sentences; for several lines write | and then the lines, indented"


def single_value(part: Any) -> bool:
    """True for a part answered as one value (a lone choice blank, or a short answer), not as a mapping of blanks."""
    return len(part.blanks) == 1 and (part.blanks[0].kind == "choice" or part.blanks[0].model_answer is not None)


def response_columns(exam: Exam) -> list[tuple[str, str, str | None]]:
    """(header, part number, blank name; None for a one-value part) of every blank, in exam order."""
    cols: list[tuple[str, str, str | None]] = []
    for _, part in exam.parts():
        if single_value(part):
            cols.append((part.number, part.number, None))
        else:
            cols.extend((f"{part.number}:{b.name}", part.number, b.name) for b in part.blanks)
    return cols


def responses_template_text(exam: Exam) -> str:
    """The header of a responses CSV: id, name, exam, then one column per blank (3.2:z)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        [ID_COLUMN, NAME_COLUMN, EXAM_COLUMN] + [h for h, _, _ in response_columns(exam)])
    return buf.getvalue()


def key_answers(exam: Exam) -> dict[str, Any]:
    """The key's own answers in answer-file form (what a perfect student would write)."""
    answers: dict[str, Any] = {}
    for _, part in exam.parts():
        if single_value(part):
            answers[part.number] = answer_text(part.blanks[0].expected)
        else:
            answers[part.number] = {b.name: answer_text(b.expected) for b in part.blanks}
    return answers


def answer_text(v: Any) -> Any:
    """A key value as a student writes it in the answer file: letters, 16x21x21, lists."""
    return kinds.answer_text(v)
