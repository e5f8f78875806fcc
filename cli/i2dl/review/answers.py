"""The free-text answers a results folder keeps for the grading queue (RESULTS/text-answers.jsonl).

`grade` writes one JSON line per graded student holding their by-hand answers, as the grader read
them: {"student_id": ..., "answers": {part number: {blank name: text}}}. Empty answers are left out
(they are missing, not awaiting a mark).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from i2dl.errors import NotFoundError, OutputError
from i2dl.io import display_path

TEXTS_FILE = "text-answers.jsonl"


def by_hand_blanks(exam: Any) -> list[tuple[str, str]]:
    """(part number, blank name) of every blank graded by hand, in exam order."""
    from i2dl import kinds

    return [(part.number, b.name) for _, part in exam.parts() for b in part.blanks if kinds.get(b.kind).by_hand]


def text_answers(result: Any, exam: Any) -> dict[str, dict[str, str]]:
    """One graded student's non-empty by-hand answers: part number -> blank name -> text."""
    wanted = set(by_hand_blanks(exam))
    out: dict[str, dict[str, str]] = {}
    for p in result.parts:
        for b in p.blanks:
            text = (b.read or "").strip()
            if (p.number, b.name) in wanted and text:
                out.setdefault(p.number, {})[b.name] = text
    return out


def text_line(result: Any, exam: Any) -> bytes:
    """The student's line of text-answers.jsonl."""
    return (json.dumps({"student_id": result.student_id, "answers": text_answers(result, exam)},
                       ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def read_text_answers(results_dir: Path | str) -> Iterator[tuple[str, str, str, str]]:
    """(student, part, blank, text) for every kept answer, in grading order."""
    path = Path(results_dir) / TEXTS_FILE
    if not path.is_file():
        raise NotFoundError(f"no {TEXTS_FILE} in the results folder", where=display_path(results_dir),
                            fix="grade the submissions again with this i2dl (`i2dl grade SUBMISSIONS --out "
                                f"{display_path(results_dir)}`); it keeps the free-text answers there")
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                sid, answers = row["student_id"], row["answers"]
                for part, blanks in answers.items():
                    for blank, text in blanks.items():
                        yield str(sid), str(part), str(blank), str(text)
            except (ValueError, KeyError, TypeError, AttributeError):
                raise OutputError(f"line {n} of {TEXTS_FILE} is damaged", where=display_path(path),
                                  fix="grade the submissions again to rewrite the results") from None
