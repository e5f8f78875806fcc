"""The free-text answers a results folder keeps for the grading queue (RESULTS/text-answers.jsonl).

`grade` writes one JSON line per graded student holding their by-hand answers as the grader read
them ({"student_id": ..., "answers": {part number: {blank name: text}}}); empty answers are left
out (they are missing, not awaiting a mark).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from i2dl.errors import NotFoundError, OutputError
from i2dl.grade.batch import TEXTS_FILE
from i2dl.io import display_path


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
                rows = [(str(sid), str(part), str(blank), str(text))
                        for part, blanks in answers.items() for blank, text in blanks.items()]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise OutputError(f"line {n} of {TEXTS_FILE} is damaged", where=display_path(path),
                                  fix="grade the submissions again to rewrite the results") from None
            yield from rows
