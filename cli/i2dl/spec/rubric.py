"""Rubrics: how the results of a part's blanks become its points (YAML files in `rubrics/`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from i2dl.errors import NotFoundError, SpecError
from i2dl.kinds.base import SHAPE_FORMS
from i2dl.spec.load import (
    library_dirs,
    library_files,
    load_document,
    validation_errors,
)
from i2dl.spec.model import _Model

DEFAULT_RUBRIC = "per-blank"
MCQ_RUBRIC = "mcq-all-or-nothing"


class Threshold(_Model):
    """At least `correct` blanks right (or all) earns `credit` of the part's points."""

    correct: int | Literal["all"]
    credit: float = Field(ge=0, le=1)


class Arrays(_Model):
    """How vector and matrix answers earn credit."""

    mode: Literal["whole", "per-entry", "shape-then-values", "deduct-per-entry"] = "whole"
    shape_credit: float = Field(default=0.5, ge=0, le=1)
    deduct: float = Field(default=0.5, gt=0)
    # Shape answers: the other conventions accepted for a per-sample C x H x W ([] for exactly as keyed).
    shape_forms: list[Literal[SHAPE_FORMS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(SHAPE_FORMS))


class Penalty(_Model):
    """Points taken off when a blank matches the named alternative (a stated slip)."""

    mistake: str
    deduct: float = Field(gt=0)


class Implied(_Model):
    """Credit for `blank` when the student got `by` right without stating `blank` ("the loss value is
    right, so the model was found, though not named")."""

    blank: str
    by: str
    credit: float = Field(gt=0, le=1)


class Form(_Model):
    """A required form for `blank`: `simplified` is one number, not an expression left to evaluate;
    `in-terms-of` is a formula that uses every name of `of` (the function itself: sigma(x)(1 - sigma(x)))."""

    blank: str
    form: Literal["simplified", "in-terms-of"]
    of: list[str] = Field(default_factory=list)
    deduct: float = Field(gt=0)

    @model_validator(mode="after")
    def _names_for_in_terms_of(self):
        if self.form == "in-terms-of" and not self.of:
            raise ValueError("form 'in-terms-of' needs 'of', the names the formula must use, e.g. of: [sigma]")
        return self


class Rubric(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    description: str = ""
    scheme: Literal["per-blank", "threshold", "all-or-nothing", "per-option", "final-or-steps"] = "per-blank"
    thresholds: list[Threshold] = Field(default_factory=list)
    #: threshold: whether a value right only for the student's own earlier answer counts as right
    count_follow_through: bool = False
    #: final-or-steps: the blank whose right value earns the whole part (default: the last blank)
    final: str | None = None
    follow_through: float = Field(default=1.0, ge=0, le=1)
    arrays: Arrays = Field(default_factory=Arrays)
    penalties: list[Penalty] = Field(default_factory=list)
    implied: list[Implied] = Field(default_factory=list)
    #: number blanks are side lengths of square regions (receptive fields): "5x5" is read as the side 5
    sides: bool = False
    forms: list[Form] = Field(default_factory=list)

    @model_validator(mode="after")
    def _thresholds_for_threshold(self):
        if self.scheme == "threshold" and not self.thresholds:
            raise ValueError("scheme 'threshold' needs a list of thresholds, e.g. [{correct: all, credit: 1}]")
        return self


def load_rubric(path: Path) -> Rubric:
    """A rubric file, validated; errors name the file, line and key."""
    data, lines = load_document(path)
    if not isinstance(data, dict):
        raise SpecError("a rubric must be a mapping with name and scheme", where=str(path))
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise validation_errors(exc, path, lines)[0] from None


def shipped_rubrics() -> dict[str, Rubric]:
    """Every rubric of the active course and of `rubrics/`, by name."""
    return _rubrics(tuple(library_dirs("rubrics")))


@cache
def _rubrics(dirs: tuple[Path, ...]) -> dict[str, Rubric]:
    """The rubrics found in `dirs` (cached per lookup path: a course's are read once)."""
    return {name: _rubric(dirs, name) for name in _rubric_files(dirs)}


@cache
def _rubric_files(dirs: tuple[Path, ...]) -> dict[str, Path]:
    return library_files("rubrics", dirs)


@cache
def _rubric(dirs: tuple[Path, ...], name: str) -> Rubric:
    """The rubric `name` of `dirs`, read when first used (a part names one of several files)."""
    p = _rubric_files(dirs)[name]
    r = load_rubric(p)
    if r.name != name:
        raise SpecError(f"rubric name '{r.name}' does not match the file name", where=str(p),
                        fix=f"rename the file to {r.name}.yaml")
    return r


def resolve_rubric(ref: Any, *, default: str = DEFAULT_RUBRIC) -> Rubric:
    """A part's rubric: a name, an inline rubric, or {use: name, ...overrides}."""
    dirs = tuple(library_dirs("rubrics"))
    if ref is None:
        ref = default
    if isinstance(ref, str):
        names = _rubric_files(dirs)
        if ref not in names:
            import difflib

            near = difflib.get_close_matches(ref, list(names), n=3)
            raise NotFoundError(f"no rubric '{ref}'", fix=("did you mean " + ", ".join(near) + "? ") if near
                                else "rubrics: " + ", ".join(sorted(names)))
        return _rubric(dirs, ref)
    if isinstance(ref, dict):
        base = resolve_rubric(ref.get("use", default)).model_dump()
        merged = {**base, **{k: v for k, v in ref.items() if k != "use"}, "name": ref.get("name", base["name"])}
        try:
            return Rubric.model_validate(merged)
        except ValidationError as exc:
            raise SpecError("inline rubric: " + "; ".join(e["msg"] for e in exc.errors())) from None
    raise SpecError(f"a rubric is a name or a mapping, not {type(ref).__name__}")
