"""The answer file (answers.yaml): one entry per blank with a comment giving its form, and the key in that form."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.exam.model import Exam

ANSWERS_FILE = "answers.yaml"


def blank_form(kind: str, expected: Any, options: int = 0) -> str:
    """The comment that tells a student what form a blank takes."""
    if kind == "number":
        return "a number, e.g. 0.52, -3, 27/9 or -log(0.35)"
    if kind == "vector":
        return f"a vector of {len(expected)} numbers, e.g. [{', '.join(['1'] * min(len(expected), 3))}{', ...' if len(expected) > 3 else ''}]"
    if kind == "matrix":
        r, c = np.shape(expected)[:2]
        return f"a {r}x{c} matrix, e.g. [[1, 2], [3, 4]] row by row"
    if kind == "shape":
        return "a shape, e.g. 16x21x21"
    if kind == "choice":
        return f"letters of all correct options among {', '.join(chr(65 + i) for i in range(options))}, e.g. AC; none (or -) if no option is correct, empty to skip"
    if kind == "bool":
        return "true or false"
    return "free text (graded by hand)"


def answer_file_text(exam: Exam) -> str:
    """The blank answer file: one entry per blank, a comment giving its expected form."""
    lines = [
        "# i2dl answer file: fill in each blank after the colon, keep the keys as they are.",
        "# Numbers may be written as on paper (0,52  27/9  -log(0.35)  2^3); leave a blank empty to skip it.",
        f"exam: {exam.exam_id}",
        "student_id: ''",
        "name: ''",
        "answers:",
    ]
    for _, part in exam.parts():
        if len(part.blanks) == 1 and part.blanks[0].kind == "choice":
            b = part.blanks[0]
            lines.append(f"  '{part.number}': ''    # {blank_form(b.kind, b.expected, b.options)}")
            continue
        lines.append(f"  '{part.number}':")
        for b in part.blanks:
            lines.append(f"    {b.name}: ''    # {b.label}: {blank_form(b.kind, b.expected, b.options)}")
    return "\n".join(lines) + "\n"


def key_answers(exam: Exam) -> dict[str, Any]:
    """The key's own answers in answer-file form (what a perfect student would write)."""
    answers: dict[str, Any] = {}
    for _, part in exam.parts():
        if len(part.blanks) == 1 and part.blanks[0].kind == "choice":
            answers[part.number] = answer_text(part.blanks[0].expected)
        else:
            answers[part.number] = {b.name: answer_text(b.expected) for b in part.blanks}
    return answers


def answer_text(v: Any) -> Any:
    """A key value as a student writes it in the answer file: letters, 16x21x21, lists."""
    if isinstance(v, (frozenset, set)):
        return "".join(sorted(v)) or "none"  # an empty blank is a skip, not "no option is correct"
    if isinstance(v, tuple):
        return "x".join(str(t) for t in v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v
