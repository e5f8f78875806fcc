"""The exam as a format-neutral model: its problems as instances, and how to find a part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from i2dl import __version__
from i2dl.errors import NotFoundError
from i2dl.spec.instance import ProblemInstance


@dataclass
class Exam:
    """A generated exam: plain data that grading and explaining read back."""

    exam_id: str
    title: str
    seed: int
    source: str
    instructions: str
    problems: list[ProblemInstance]
    version: str = __version__
    engine: str = ""
    duration: int | None = None
    warnings: list[str] = field(default_factory=list)
    # the exam-wide rounding rule as data ({decimals, significant}); None for exams before format 4
    rounding: dict[str, Any] | None = None
    # what load_exam found of exam.json's digest: status verified, modified (accepted) or unverified
    integrity: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # the variant's label within a cohort ("" for a single exam)
    # A cohort: every variant by label (each an Exam of its own) and the roster, student -> variant.
    # The cohort's own problems are its first variant's: they give the layout every variant shares.
    variants: dict[str, Exam] = field(default_factory=dict)
    roster: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_cohort(self) -> bool:
        return bool(self.variants)

    @property
    def points(self) -> float:
        return sum(p.points for p in self.problems)

    def parts(self):
        for prob in self.problems:
            yield from ((prob, part) for part in prob.parts)

    def find_part(self, number: str):
        """(problem, part) for '3.2', or NotFoundError listing the part numbers."""
        for prob, part in self.parts():
            if part.number == number:
                return prob, part
        raise NotFoundError(f"no part {number} in exam {self.exam_id}",
                            fix="parts: " + ", ".join(p.number for _, p in self.parts()))

    def find_problem(self, number: int) -> ProblemInstance:
        for prob in self.problems:
            if prob.number == number:
                return prob
        raise NotFoundError(f"no problem {number} in exam {self.exam_id}",
                            fix="problems: " + ", ".join(str(p.number) for p in self.problems))
