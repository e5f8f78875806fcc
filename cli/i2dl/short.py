"""The short-answer bank: written questions, a model answer each, and the checklist a TA marks with."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from i2dl.errors import SpecError
from i2dl.mcq import Bank
from i2dl.spec.instance import Blank, CheckItem, PartInstance
from i2dl.spec.load import (
    KeyPath,
    library_files,
    load_document,
    locate,
    unknown_key_warnings,
    validation_errors,
)
from i2dl.spec.model import _Model

_ID = r"^[a-z0-9][a-z0-9\-]*$"
#: The largest answer box a sheet gives one part (a page of lines).
MAX_LINES = 40
#: The name of a short-answer part's one blank (its answer in answers.yaml is the part's own value).
BLANK = "answer"


class CheckItemSpec(_Model):
    """A rubric item: full (> 0 points), partial (instead of a full one), deduction (< 0) or named mistake (0)."""

    id: str = Field(pattern=_ID)
    points: float = Field(allow_inf_nan=False)
    text: str = Field(min_length=1)
    instead_of: str | None = None
    suggest: list[str] = Field(default_factory=list)


class ShortQuestion(_Model):
    id: str = Field(pattern=_ID)
    points: float = Field(gt=0, allow_inf_nan=False)
    lines: int = Field(ge=1, le=MAX_LINES)
    question: str = Field(min_length=1)
    model_answer: str
    checklist: list[CheckItemSpec]
    difficulty: int = Field(default=2, ge=1, le=3)
    tags: list[str] = Field(default_factory=list)


class ShortFile(_Model):
    topic: str = Field(pattern=_ID)
    questions: list[ShortQuestion] = Field(min_length=1)


_RANGE_FIX = {"greater_than": "use a number above the bound", "greater_than_equal": "use a number at least the bound",
              "less_than_equal": f"use at most the bound (an answer box has at most {MAX_LINES} lines)",
              "string_too_short": "write the text", "float_parsing": "write a number", "int_parsing": "write a "
              "whole number", "string_type": "write text (quote it if YAML reads it as something else)",
              "list_type": "write a list, one '- ' entry a line"}


@dataclass
class ShortBankQuestion:
    """A validated short-answer question with its global id (short.<topic>.<id>) and topic."""

    qid: str
    topic: str
    question: ShortQuestion
    path: Path


def load_short_file(path: Path) -> tuple[list[ShortBankQuestion], list[str]]:
    """The questions of one short-answer bank file and its unknown-key warnings; SpecError at the first broken rule."""
    data, lines = load_document(path)
    try:
        f = ShortFile.model_validate(data)
    except ValidationError as exc:
        err = validation_errors(exc, path, lines)[0]
        err.fix = err.fix or _RANGE_FIX.get(exc.errors()[0]["type"])
        raise err from None
    if f.topic != path.stem:
        raise SpecError(f"the file is named '{path.stem}' but its topic is '{f.topic}'",
                        where=locate(path, lines, ("topic",)),
                        fix=f"name the file {f.topic}.yaml (one file per topic, named after it)")
    seen: dict[str, int] = {}
    for i, q in enumerate(f.questions):
        if q.id in seen:
            raise SpecError(f"question id '{q.id}' is used twice (also questions[{seen[q.id]}])",
                            where=locate(path, lines, ("questions", i, "id")), fix="give each question its own id")
        seen[q.id] = i
        _check_question(q, path, lines, ("questions", i))
    qs = [ShortBankQuestion(f"short.{f.topic}.{q.id}", f.topic, q, path) for q in f.questions]
    return qs, unknown_key_warnings(f, path, lines)


def _check_question(q: ShortQuestion, path: Path, lines: dict[KeyPath, int], at: KeyPath) -> None:
    """The bank's rules: a model answer, two items or more, full items adding up, partials below their item."""

    def fail(message: str, key: KeyPath, fix: str) -> None:
        raise SpecError(message, where=locate(path, lines, at + key), fix=fix)

    if not q.model_answer.strip():
        fail("the model answer is empty", ("model_answer",), "write what a full-credit answer says")
    if len(q.checklist) < 2:
        fail(f"the checklist has {len(q.checklist)} item(s); a question needs at least two", ("checklist",),
             "add the items a TA awards or deducts, e.g. a partial item or a common mistake")
    ids: dict[str, int] = {}
    for j, item in enumerate(q.checklist):
        if item.id in ids:
            fail(f"checklist id '{item.id}' is used twice in question '{q.id}'", ("checklist", j, "id"),
                 "give each item its own id within the question")
        ids[item.id] = j
    for j, item in enumerate(q.checklist):
        if item.instead_of is None:
            continue
        key = ("checklist", j, "instead_of")
        target = next((t for t in q.checklist if t.id == item.instead_of), None)
        if target is None:
            fail(f"instead_of names '{item.instead_of}', which is no item of question '{q.id}'", key,
                 "name one of: " + ", ".join(t.id for t in q.checklist if t is not item))
        elif target is item:
            fail(f"item '{item.id}' is awarded instead of itself", key, "name the full item it stands in for")
        elif target.instead_of is not None or target.points <= 0:
            fail(f"instead_of names '{target.id}', which is not a full item (positive points, no instead_of)",
                 key, "name the full item this partial one stands in for")
        elif not 0 < item.points < target.points:
            fail(f"a partial item is worth more than 0 and less than the item it replaces: '{item.id}' has "
                 f"{item.points:g}, '{target.id}' {target.points:g}", ("checklist", j, "points"),
                 f"give '{item.id}' between 0 and {target.points:g} points")
    full = sum(t.points for t in q.checklist if t.points > 0 and t.instead_of is None)
    if not math.isclose(full, q.points, abs_tol=1e-9):
        fail(f"the full items add up to {full:g} points but the question has {q.points:g}", ("points",),
             "make the positive items without instead_of add up to the question's points")


class ShortBank(Bank):
    """Every short-answer question of the active course's bank and the shipped one (and extra folders)."""

    kind_name = "short-answer question"
    list_hint = "run `i2dl list --short` to see the bank"

    def __init__(self, extra: list[Path] | None = None):
        self.questions: dict[str, ShortBankQuestion] = {}  # type: ignore[assignment]
        self.warnings: list[str] = []
        paths = list(library_files("short").values())
        for folder in extra or []:
            paths += sorted(folder.glob("*.yaml")) if folder.is_dir() else [folder]
        for path in paths:
            qs, warns = load_short_file(path)
            self.warnings += warns
            for q in qs:
                if q.qid in self.questions:
                    raise SpecError(f"short-answer question '{q.qid}' is defined twice: {self.questions[q.qid].path} "
                                    f"and {path}", where=str(path), fix="give the question another id")
                self.questions[q.qid] = q


    def draw_short(self, rng: Any, count: int, *, topic: str | None = None, tag: str | None = None,
                   difficulty: int | None = None, points: float | None = None,
                   exclude: set[str] | None = None) -> list[ShortBankQuestion]:
        """`count` different questions matching the filters (and worth `points`, if given), none from `exclude`."""
        other = {qid for qid, q in self.questions.items() if points is not None and q.question.points != points}
        try:
            return self.draw(rng, count, topic=topic, tag=tag, difficulty=difficulty, exclude=(exclude or set()) | other)
        except SpecError as exc:
            if points is None:
                raise
            raise SpecError(exc.message.replace("; ", f", points={points:g}; ", 1), fix=exc.fix) from None


def check_items(q: ShortQuestion) -> list[CheckItem]:
    """The question's checklist as exam data."""
    return [CheckItem(t.id, t.points, t.text.strip(), t.instead_of, list(t.suggest)) for t in q.checklist]


def short_part(bq: ShortBankQuestion, number: str) -> PartInstance:
    """A drawn short-answer question as an exam part: its text, one text blank with model answer and checklist."""
    q = bq.question
    answer = q.model_answer.strip()
    blank = Blank(BLANK, "text", "answer", answer, points=q.points, model_answer=answer, checklist=check_items(q),
                  lines=q.lines)
    return PartInstance(number, bq.qid, q.question.strip(), q.points, [blank])


def describe(bq: ShortBankQuestion) -> dict[str, Any]:
    """One bank question as a row for `i2dl list --short`."""
    q = bq.question
    return {"id": bq.qid, "topic": bq.topic, "points": q.points, "lines": q.lines, "items": len(q.checklist),
            "question": " ".join(q.question.split())}
