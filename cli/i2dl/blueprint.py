"""Exam blueprints: which problems, in which order, with how many points and which parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from i2dl.errors import NotFoundError, SpecError
from i2dl.rounding import Rounding
from i2dl.spec.load import (
    library_files,
    load_document,
    unknown_key_warnings,
    validation_errors,
)
from i2dl.spec.model import _Model


class Draw(_Model):
    """Draw `count` multiple-choice questions, optionally from one topic or with a tag."""

    count: int = Field(ge=1, le=50)
    topic: str | None = None
    tag: str | None = None
    difficulty: int | None = Field(default=None, ge=1, le=3)


class McqBlock(_Model):
    draw: list[Draw] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)
    points_each: float = Field(default=2, gt=0)
    rubric: str | dict[str, Any] | None = None

    @model_validator(mode="after")
    def _something(self):
        if not self.draw and not self.ids:
            raise ValueError("a multiple-choice block needs 'draw' (by topic) or 'ids' (fixed questions)")
        return self


class ShortDraw(Draw):
    """Draw `count` short-answer questions; `points` keeps only questions worth that much (one layout per cohort)."""

    points: float | None = Field(default=None, gt=0)


class ShortBlock(_Model):
    """Short-answer questions, drawn from the bank or fixed by id; each keeps its own points and checklist."""

    draw: list[ShortDraw] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self):
        if not self.draw and not self.ids:
            raise ValueError("a short-answer block needs 'draw' (by topic) or 'ids' (fixed questions)")
        return self


class ProblemEntry(_Model):
    title: str | None = None
    spec: str | None = None
    mcq: McqBlock | None = None
    short: ShortBlock | None = None
    points: float | None = Field(default=None, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self):
        if sum(x is not None for x in (self.spec, self.mcq, self.short)) != 1:
            raise ValueError("each problem needs exactly one of 'spec' (a problem spec id), 'mcq' (a question "
                             "block) or 'short' (a short-answer block)")
        return self


class Blueprint(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    instructions: str = ""
    rounding: Rounding | None = None  # the exam-wide rule (default: i2dl.rounding.default_rounding())
    duration: int | None = Field(default=None, gt=0)
    problems: list[ProblemEntry] = Field(min_length=1)


def load_blueprint(path: Path) -> tuple[Blueprint, list[str]]:
    """A validated blueprint and its unknown-key warnings."""
    data, lines = load_document(path)
    if not isinstance(data, dict):
        raise SpecError("a blueprint must be a mapping with id, title and problems", where=str(path))
    try:
        bp = Blueprint.model_validate(data)
    except ValidationError as exc:
        raise validation_errors(exc, path, lines)[0] from None
    return bp, unknown_key_warnings(bp, path, lines)


def find_blueprint(name: str) -> Path:
    """A blueprint by file path, or by name: the active course's first, then the shipped ones."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    known = library_files("blueprints")
    if name in known:
        return known[name]
    raise NotFoundError(f"no blueprint '{name}'", fix="blueprints: " + ", ".join(sorted(known)))
