"""Which variant grades a submission: one exam has one; a cohort maps each student to their own.

Every source of submissions (answer files, a responses CSV) yields `Submission` objects; the
grader chosen here only looks at the submission's student id, so all of them are graded alike.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from i2dl.errors import SubmissionError
from i2dl.exam import Exam
from i2dl.grade.score import Grader, Submission, SubmissionResult


def id_key(student_id: str, id_case: str) -> str:
    """The form two ids are compared in: NFC, and case-folded unless ids are case-sensitive."""
    key = student_id.casefold() if id_case == "insensitive" else student_id
    return unicodedata.normalize("NFC", key)


class CohortGrader:
    """Grades each submission against the variant the roster gave its student (a Grader per variant)."""

    def __init__(self, exam: Exam, engine_name: str | None = None, library: Any = None,
                 id_case: str = "insensitive", *, marks: Any = None, auto_award: bool = False):
        self.exam = exam
        self.marks, self.auto_award = marks, auto_award  # passed to each variant's grader
        self.engine_name = engine_name
        self.library = library
        self.id_case = id_case
        self.roster = {id_key(r["student_id"], id_case): r for r in exam.roster}
        self._graders: dict[str, Grader] = {}

    def grader_for(self, sub: Submission) -> Grader:
        """The grader of the student's own variant; SubmissionError when the id is not on the roster."""
        entry = self.roster.get(id_key(sub.student_id, self.id_case))
        if entry is None:
            raise SubmissionError(f"student id '{sub.student_id}' is not on the roster of exam {self.exam.exam_id}, "
                                  "so there is no variant to grade it against", where=f"{sub.file} student_id",
                                  fix="correct the id to the one on the roster (exam.json lists it), or "
                                      "generate a variant for this student")
        label = entry["variant"]
        if label not in self._graders:
            grader = Grader(self.exam.variants[label], self.engine_name, library=self.library, marks=self.marks,
                            auto_award=self.auto_award)
            first = next(iter(self._graders.values()), None)
            if first is not None:
                grader._engine = first._engine  # one engine for the whole cohort
            self._graders[label] = grader
        return self._graders[label]

    def grade(self, sub: Submission) -> SubmissionResult:
        """The submission scored against its student's variant."""
        result = self.grader_for(sub).grade(sub)
        if sub.student_id != (entry := self.roster[id_key(sub.student_id, self.id_case)])["student_id"]:
            result.notes.append(f"graded as roster student '{entry['student_id']}' (ids compared ignoring case)")
        return result

    def missing(self, graded: list[str]) -> list[dict[str, str]]:
        """The roster's students (id, name, variant) among none of the `graded` ids, in roster order."""
        done = {id_key(s, self.id_case) for s in graded}
        return [dict(r) for r in self.exam.roster if id_key(r["student_id"], self.id_case) not in done]


def make_grader(exam: Exam, engine_name: str | None = None, library: Any = None,
                id_case: str = "insensitive", *, marks: Any = None, auto_award: bool = False) -> Grader | CohortGrader:
    """The grader for `exam`: its own for one exam, a grader choosing each student's variant for a cohort.

    `marks`: TAs' marks of text answers by (student id, part number, blank name) (grade.manual.Mark).
    """
    if exam.is_cohort:
        return CohortGrader(exam, engine_name, library, id_case, marks=marks, auto_award=auto_award)
    return Grader(exam, engine_name, library=library, marks=marks, auto_award=auto_award)
