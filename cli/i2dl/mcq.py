"""The multiple-choice bank: questions, computed options from named mistakes, seeded shuffles."""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, ValidationError, model_validator

from i2dl.errors import ExprError, NotFoundError, SamplingError, SpecError
from i2dl.evaluate import Evaluator
from i2dl.expr import Parsed, parse
from i2dl.render import fmt_value, render_template
from i2dl.spec.instance import Blank, McqOption, PartInstance, sample_param
from i2dl.spec.load import library_files, load_document, unknown_key_warnings, validation_errors
from i2dl.spec.model import Param, _Model

LETTERS = string.ascii_uppercase


class Option(_Model):
    text: str
    correct: bool | str
    why: str
    value: str | None = None
    mistake: str | None = None


class Question(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    difficulty: int = Field(default=2, ge=1, le=3)
    tags: list[str] = Field(default_factory=list)
    params: dict[str, Param] = Field(default_factory=dict)
    constraints: list[str] = Field(default_factory=list)
    stem: str
    options: list[Option] = Field(min_length=3, max_length=5)

    @model_validator(mode="after")
    def _distinct_static_options(self):
        texts = [o.text for o in self.options]
        if not self.params and len(set(texts)) != len(texts):
            raise ValueError("two options have the same text")
        return self


class McqFile(_Model):
    topic: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    questions: list[Question] = Field(min_length=1)


@dataclass
class BankQuestion:
    """A validated question with its global id and topic."""

    qid: str
    topic: str
    question: Question
    path: Path

    @property
    def parameterized(self) -> bool:
        return bool(self.question.params) or any(o.value for o in self.question.options)


def load_mcq_file(path: Path) -> tuple[list[BankQuestion], list[str]]:
    """The questions of one bank file and its unknown-key warnings."""
    data, lines = load_document(path)
    try:
        f = McqFile.model_validate(data)
    except ValidationError as exc:
        raise validation_errors(exc, path, lines)[0] from None
    ids = [q.id for q in f.questions]
    for i, q in enumerate(ids):
        if ids.index(q) != i:
            raise SpecError(f"question id '{q}' is used twice", where=f"{path} questions[{i}].id")
    qs = [BankQuestion(f"mcq.{path.stem}.{q.id}", f.topic, q, path) for q in f.questions]
    for bq in qs:
        _check_expressions(bq)
    return qs, unknown_key_warnings(f, path, lines)


def _check_expressions(bq: BankQuestion) -> None:
    for i, o in enumerate(bq.question.options):
        for src in ([o.value] if o.value else []) + ([o.correct] if isinstance(o.correct, str) else []):
            parse(src, where=f"{bq.path} {bq.question.id}.options[{i}]")
    for c in bq.question.constraints:
        parse(c, where=f"{bq.path} {bq.question.id}.constraints")


class Bank:
    """Every question of the active course's bank and the shipped one (and extra folders), by global id."""

    kind_name = "multiple-choice question"
    list_hint = "run `i2dl list --mcq` to see the bank"

    def __init__(self, extra: list[Path] | None = None):
        self.questions: dict[str, BankQuestion] = {}
        self.warnings: list[str] = []
        paths = list(library_files("mcq").values())
        for folder in extra or []:
            paths += sorted(folder.glob("*.yaml")) if folder.is_dir() else [folder]
        for path in paths:
            qs, warns = load_mcq_file(path)
            self.warnings += warns
            for q in qs:
                self.questions[q.qid] = q

    def topics(self) -> list[str]:
        return sorted({q.topic for q in self.questions.values()})

    def get(self, qid: str) -> BankQuestion:
        try:
            return self.questions[qid]
        except KeyError:
            import difflib

            near = difflib.get_close_matches(qid, list(self.questions), n=3)
            raise NotFoundError(f"no {self.kind_name} '{qid}'",
                                fix=("did you mean " + ", ".join(near) + "?") if near else self.list_hint) from None

    def draw(self, rng: np.random.Generator, count: int, *, topic: str | None = None, tag: str | None = None,
             difficulty: int | None = None, exclude: set[str] | None = None) -> list[BankQuestion]:
        """`count` different questions matching the filters, none from `exclude`."""
        pool = [q for qid, q in sorted(self.questions.items())
                if (topic is None or q.topic == topic) and (tag is None or tag in q.question.tags)
                and (difficulty is None or q.question.difficulty == difficulty)
                and qid not in (exclude or set())]
        if len(pool) < count:
            raise SpecError(f"the bank has only {len(pool)} unused questions for topic={topic}, tag={tag}, "
                            f"difficulty={difficulty}; {count} were asked for",
                            fix="ask for fewer, or widen the filter; topics: " + ", ".join(self.topics()))
        picks = rng.choice(len(pool), size=count, replace=False)
        return [pool[int(i)] for i in picks]


@dataclass
class McqVariant:
    """One drawn and shuffled question: option texts, which are correct, and why."""

    qid: str
    stem: str
    options: list[str]
    correct: frozenset[str]
    reasons: list[str]
    mistakes: list[str | None]
    params: dict[str, Any]
    order: list[int]  # the bank's option index shown at each position
    warnings: list[str] = field(default_factory=list)  # constraints the pinned values do not meet


def make_variant(bq: BankQuestion, seed: int, engine, max_tries: int = 500,
                 pins: dict[str, Any] | None = None) -> McqVariant:
    """Sample the question's parameters (`pins` kept as given), compute its options, shuffle them (all from `seed`)."""
    q = bq.question
    rng = np.random.default_rng(seed)
    last_problem = "no tries"
    fixed = _pinned(bq, pins or {})
    sampled = [n for n in q.params if n not in fixed]
    for _ in range(max_tries if sampled else 1):
        env = {name: fixed[name] if name in fixed else sample_param(p, rng) for name, p in q.params.items()}
        try:
            ev = Evaluator(engine, env)
            unmet = [c for c in q.constraints if not bool(ev.eval(_p(c, bq).node))]
            if unmet and not (fixed and not sampled):
                last_problem = "a constraint was not met"
                continue
            # every parameter pinned: the instructor's numbers win, the unmet constraint is a warning
            warnings = [f"constraint not met by the pinned values: {c}" for c in unmet]
            rows = []
            for i, o in enumerate(q.options):
                local = dict(env)
                if o.value is not None:
                    local["value"] = ev.eval(_p(o.value, bq, i).node)
                ev_o = Evaluator(engine, local)

                def val(expr: str, _ev=ev_o) -> Any:
                    return _ev.eval(parse(expr, where=f"{bq.path} {q.id}").node)

                text = render_template(o.text, val)
                why = render_template(o.why, val)
                correct = bool(val(o.correct)) if isinstance(o.correct, str) else o.correct
                rows.append((text, correct, why, o.mistake, local.get("value")))
        except ExprError as exc:
            last_problem = str(exc)
            continue
        texts = [r[0] for r in rows]
        values = [fmt_value(r[4]) for r in rows if r[4] is not None]
        if len(set(texts)) != len(texts) or len(set(values)) != len(values):
            last_problem = "two options came out equal"
            continue
        if _too_close([r[4] for r in rows]):
            last_problem = f"two numeric options differ by less than {OPTION_GAP:g}"
            continue
        order = rng.permutation(len(rows))
        rows = [rows[int(i)] for i in order]
        stem_ev = Evaluator(engine, env)
        stem = render_template(q.stem, lambda e, _ev=stem_ev: _ev.eval(parse(e).node))
        return McqVariant(bq.qid, stem, [r[0] for r in rows],
                          frozenset(LETTERS[i] for i, r in enumerate(rows) if r[1]),
                          [r[2] for r in rows], [r[3] for r in rows], env, [int(i) for i in order], warnings)
    raise SamplingError(f"question '{bq.qid}' produced no valid variant: {last_problem}", where=str(bq.path))


def _pinned(bq: BankQuestion, pins: dict[str, Any]) -> dict[str, Any]:
    """The pinned parameters of a computed question, checked against their declarations."""
    from i2dl.spec.instance import coerce_pin

    params = bq.question.params
    for name in pins:
        if name not in params:
            import difflib

            near = difflib.get_close_matches(name, list(params), n=3)
            raise SpecError(f"question '{bq.qid}' has no parameter '{name}'", where=f"--param {name}",
                            fix=("did you mean " + ", ".join(near) + "?") if near else
                            ("parameters: " + ", ".join(params)) if params else "this question has no parameters")
    out: dict[str, Any] = {}
    for name, p in params.items():  # in declaration order: a size may read an earlier pinned value
        if name in pins:
            out[name] = coerce_pin(name, pins[name], p, out)
    return out


def question_names(bq: BankQuestion) -> list[dict[str, Any]]:
    """Every name `solve --param` pins in a computed question, with what it accepts (as `i2dl list SPEC`)."""
    from i2dl.spec.instance import _example, param_form

    return [{"name": name, "role": "parameter", "type": p.type, "shape": None, "accepts": param_form(p),
             "example": _example(p)} for name, p in bq.question.params.items()]


#: Numeric options closer than this are not told apart by a student who works to three decimals.
OPTION_GAP = 2e-3


def _too_close(values: list[Any]) -> bool:
    """Two non-integer numeric option values within OPTION_GAP of each other."""
    nums = [float(v) for v in values if isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, (bool, np.bool_))]
    for i, a in enumerate(nums):
        for b in nums[i + 1:]:
            if a != b and abs(a - b) < OPTION_GAP and not (a.is_integer() and b.is_integer()):
                return True
    return False


def _p(src: str, bq: BankQuestion, i: int | None = None) -> Parsed:
    return parse(src, where=f"{bq.path} {bq.question.id}" + (f".options[{i}]" if i is not None else ""))


def variant_part(v: McqVariant, number: str, points: float, rubric: Any = None) -> PartInstance:
    """A drawn question as an exam part: its stem, one choice blank, and its options as data."""
    blank = Blank("choice", "choice", "options", v.correct, options=len(v.options))
    options = [McqOption(LETTERS[i], text, LETTERS[i] in v.correct, reason, mistake)
               for i, (text, reason, mistake) in enumerate(zip(v.options, v.reasons, v.mistakes, strict=True))]
    return PartInstance(number, v.qid, v.stem, points, [blank], rubric=rubric or "mcq-all-or-nothing",
                        options=options)
