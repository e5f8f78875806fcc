"""Hand-marked text answers: a TA's mark (checklist items and a comment) made into points.

Marks are plain data keyed by (student id, part number, blank name); where they are stored is the
review app's business. A mark holds the answer it was given for: when the student's answer is no
longer that text (after whitespace is normalised) the mark is stale and the answer pending again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from i2dl.spec.instance import Blank, CheckItem

#: A text blank with an answer that no TA has marked yet, and one left empty (no answer, 0 points).
PENDING, BLANK, MARKED = "pending", "blank", "marked"


@dataclass(frozen=True)
class Mark:
    """A TA's mark of one answer: the checklist item ids applied, a comment, and the answer they were applied to."""

    items: tuple[str, ...]
    comment: str = ""
    answer: str = ""


Marks = Mapping[tuple[str, str, str], Mark]


def normalise(text: str) -> str:
    """The text with every run of whitespace made one space, and none at either end."""
    return " ".join(str(text).split())


def is_stale(mark: Mark, answer: str) -> bool:
    """The mark was given to another text than the student's answer now."""
    return normalise(mark.answer) != normalise(answer)


def applied_items(checklist: Iterable[CheckItem], ids: Iterable[str]) -> list[CheckItem]:
    """The checklist items a mark names, in checklist order; a partial item drops out when its full item is there."""
    chosen = set(ids)
    return [t for t in checklist if t.id in chosen and not (t.instead_of is not None and t.instead_of in chosen)]


def unknown_items(checklist: Iterable[CheckItem], ids: Iterable[str]) -> list[str]:
    """The ids of a mark that name no item of the checklist, in the mark's order."""
    known = {t.id for t in checklist}
    return [i for i in ids if i not in known]


def mark_points(checklist: Iterable[CheckItem], ids: Iterable[str], points: float) -> float:
    """The sum of the applied items' points, clamped to [0, points]."""
    total = sum(t.points for t in applied_items(checklist, ids))
    return round(min(max(total, 0.0), points), 6)


def full_marks(b: Blank) -> tuple[str, ...]:
    """The ids of every full item (what a model answer earns)."""
    return tuple(t.id for t in b.checklist if t.full)


def item_line(t: CheckItem) -> str:
    """An applied item as feedback prints it: its points, then its text."""
    from i2dl.render import fmt_number

    sign = "+" if t.points > 0 else ""
    return f"({sign}{fmt_number(t.points)}) {t.text}"


def auto_award_exact() -> bool:
    """The course's [review] auto_award_exact setting (off outside a course, and by default)."""
    from i2dl.course import active_course

    course = active_course()
    return bool(course is not None and course.config.review.auto_award_exact)
