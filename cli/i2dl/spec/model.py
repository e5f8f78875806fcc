"""The declared schema of problem specs (pydantic): what a spec file may say, and nothing else."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from i2dl.kinds import NAMES
from i2dl.rounding import Rounding
from i2dl.spec.figure import FigureDecl

#: the answer kinds a spec may declare: the registry's names
ANSWER_KINDS = NAMES
IDENT = r"^[A-Za-z][A-Za-z0-9_]*$"
SPEC_ID = r"^[a-z0-9][a-z0-9.\-]*$"


class _Model(BaseModel):
    # Unknown keys are kept so the loader can warn about them with a suggestion.
    model_config = ConfigDict(extra="allow", frozen=False, defer_build=True)


class _Grid(_Model):
    """Values from min..max in steps, or from an explicit list."""

    min: float | str | None = None  # a number, or an expression over earlier parameters
    max: float | str | None = None
    step: float = 1
    choices: list[Any] | None = None
    exclude: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _range_or_choices(self):
        if self.choices is None and (self.min is None or self.max is None):
            raise ValueError("give either min and max (with an optional step) or choices")
        if self.choices is not None and not self.choices:
            raise ValueError("choices must not be empty")
        numbers = isinstance(self.min, (int, float)) and isinstance(self.max, (int, float))
        if numbers and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        if self.step <= 0:
            raise ValueError("step must be > 0")
        return self


class IntParam(_Grid):
    type: Literal["int"]


class DecimalParam(_Grid):
    type: Literal["decimal"]
    step: float = 0.1


class ChoiceParam(_Model):
    type: Literal["choice"]
    choices: list[Any] = Field(min_length=1)


class BoolParam(_Model):
    type: Literal["bool"]


class VectorParam(_Grid):
    type: Literal["vector"]
    length: int | str  # an int, or an expression over earlier parameters
    distinct: bool = False
    nonzero: bool = False


class MatrixParam(_Grid):
    type: Literal["matrix"]
    shape: list[int | str] = Field(min_length=2, max_length=4)
    distinct: bool = False
    nonzero: bool = False

    @field_validator("shape")
    @classmethod
    def _positive(cls, v: list[int | str]) -> list[int | str]:
        if any(isinstance(n, int) and n < 1 for n in v):
            raise ValueError("every dimension must be >= 1")
        return v


class FixedParam(_Model):
    type: Literal["fixed"]
    value: Any


class DerivedParam(_Model):
    type: Literal["derived"]
    expr: str
    # optional: the shape the value has, so that a pinned value is checked and fixes the sizes it names
    shape: list[int | str] | None = None


Param = Annotated[
    IntParam | DecimalParam | ChoiceParam | BoolParam | VectorParam | MatrixParam | FixedParam | DerivedParam,
    Field(discriminator="type"),
]


class Tolerance(_Model):
    """A tolerance wider than the rounding rule's: a value within abs, or within rel |key|, is right."""

    abs: float = Field(default=0.0, ge=0)
    rel: float = Field(default=0.0, ge=0)


class Alternative(_Model):
    """A named answer that is wrong but understandable, or a recognised common mistake."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    expr: str
    credit: float = Field(default=0.0, ge=0, le=1)
    feedback: str
    when: str | None = None  # an expression: the alternative is offered only where it holds


class Component(_Model):
    """A term of the answer (the weights of a parameter count): found alone or as a term of what the
    student summed, it earns its share of the blank."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    expr: str
    credit: float = Field(gt=0, lt=1)
    feedback: str | None = None


class Answer(_Model):
    name: str = Field(pattern=IDENT)
    expr: str
    kind: Literal[ANSWER_KINDS] = "number"  # type: ignore[valid-type]
    label: str | None = None
    tol: Tolerance | None = None
    points: float | None = Field(default=None, ge=0)
    options: int | str | None = None  # choice answers: how many letters (an int or an expression)
    alternatives: list[Alternative] = Field(default_factory=list)
    #: Why the answer is what it is, in words and numbers, templated; the worked solution shows it.
    why: str | None = None
    # why the key is (nearly) the same in every instance, e.g. "upsampling has no weights": the
    # variety checks of validate and the tests then accept it
    constant: str | None = None
    components: list[Component] = Field(default_factory=list)

    @model_validator(mode="after")
    def _components_of_numbers(self):
        if self.components and self.kind != "number":
            raise ValueError(f"answer '{self.name}': components are terms of a number; this answer is a {self.kind}")
        if sum(c.credit for c in self.components) > 1 + 1e-9:
            raise ValueError(f"answer '{self.name}': the components' credits add up to more than 1")
        return self

    @model_validator(mode="after")
    def _choice_needs_options(self):
        if self.kind == "choice" and self.options is None:
            raise ValueError(f"answer '{self.name}' is a choice: give 'options', the number of letters (A, B, ...)")
        return self


class AnswerBox(_Model):
    """The answer space a paper sheet leaves for a part: a box `lines` lines (about 1 cm each) high."""

    lines: int = Field(ge=1, le=40)


class StatementMistake(_Model):
    """Judging one statement the wrong way round, named, with feedback for the student who did."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    feedback: str


class Statement(_Model):
    """One statement of a property question: its text, the predicate that says whether it holds, and why."""

    text: str
    holds: str  # an expression over the instance: true when the statement is true
    why: str
    # why its truth value is the same in every instance: validate then accepts it as foregone
    constant: str | None = None
    # the named mistake of judging this statement wrongly (all else right): its feedback, templated
    mistake: StatementMistake | None = None


class Statements(_Model):
    """A property question: `pick` statements drawn from `from` and shuffled by the seed; the key is those that hold."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    name: str | None = Field(default=None, pattern=IDENT)  # the choice answer's name (default: the part id)
    label: str | None = None
    pick: int | None = Field(default=None, ge=2, le=26)  # how many are shown (default: all)
    at_least_true: int = Field(default=0, ge=0)
    at_least_false: int = Field(default=0, ge=0)
    # an instance where every shown statement is true (or every one false) is fair here: validate accepts it
    allow_uniform: bool = False
    from_: list[Statement] = Field(alias="from", min_length=2, max_length=26)

    @model_validator(mode="after")
    def _counts_fit(self):
        shown = self.shown
        if shown > len(self.from_):
            raise ValueError(f"pick ({shown}) is larger than the number of statements ({len(self.from_)})")
        if self.at_least_true + self.at_least_false > shown:
            raise ValueError(f"at_least_true + at_least_false ({self.at_least_true + self.at_least_false}) "
                             f"is more than the {shown} statements shown")
        return self

    @property
    def shown(self) -> int:
        return self.pick if self.pick is not None else len(self.from_)


class Part(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    text: str
    points: float = Field(gt=0)
    given: dict[str, Param] = Field(default_factory=dict)
    answers: list[Answer] = Field(default_factory=list)
    #: a property question: statements drawn and judged by the engine; its one choice answer is made from them
    statements: Statements | None = None
    rubric: str | dict[str, Any] | None = None
    # Values offered for earlier answers ("if unsure, continue with p = 0.85"): answer name -> expression.
    fallback: dict[str, str] = Field(default_factory=dict)
    rounding: Rounding | None = None  # this part's own rule (the sheet prints it next to the part)
    box: AnswerBox | None = None  # the PDF sheet's answer box (default: sized by each answer's kind)

    @field_validator("given")
    @classmethod
    def _given_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        import re

        for k in v:
            if not re.match(IDENT, k):
                raise ValueError(f"given name '{k}' must start with a letter and use letters, digits, _")
        return v

    @model_validator(mode="after")
    def _answers_or_statements(self):
        if self.statements is None and not self.answers:
            raise ValueError(f"part '{self.id}' asks nothing: give 'answers' (at least one) or 'statements'")
        if self.statements is not None and self.answers:
            raise ValueError(f"part '{self.id}' has both 'statements' and 'answers': a property question's one "
                             "answer is the set of statements that hold")
        if self.statements is not None:
            from i2dl.spec.statements import statement_answer

            self.answers = [statement_answer(self)]
        return self


class Constraint(_Model):
    expr: str
    why: str | None = None


class Loop(_Model):
    """T steps of a state update over a data sequence, unrolled into named values (docs/spec-format.md#loops)."""

    steps: int = Field(ge=1, le=20)
    #: name -> an array whose rows are the steps' data, used in turn (cycled when there are fewer rows)
    data: dict[str, str] = Field(default_factory=dict)
    #: name -> its value before the first step
    state: dict[str, str] = Field(min_length=1)
    #: name -> its value at a step, from the state before the step, the step's data and earlier body values
    body: dict[str, str] = Field(default_factory=dict)
    #: state name -> its value after the step (grad(L, w) differentiates a body value by the state before it)
    update: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_state_updated(self) -> Loop:
        if set(self.update) != set(self.state):
            missing, extra = set(self.state) - set(self.update), set(self.update) - set(self.state)
            raise ValueError("update must give each state name its new value"
                             + (f"; missing {', '.join(sorted(missing))}" if missing else "")
                             + (f"; not in state: {', '.join(sorted(extra))}" if extra else ""))
        names = [*self.data, *self.state, *self.body]
        if len(set(names)) != len(names):
            raise ValueError("data, state and body names must differ")
        return self


class Spec(_Model):
    id: str = Field(pattern=SPEC_ID)
    title: str
    topic: str
    tags: list[str] = Field(default_factory=list)
    difficulty: int = Field(default=2, ge=1, le=3)
    points: float | None = Field(default=None, gt=0)
    params: dict[str, Param] = Field(default_factory=dict)
    constraints: list[str | Constraint] = Field(default_factory=list)
    max_tries: int = Field(default=2000, ge=1, le=100_000)
    statement: str = ""
    rounding: Rounding | None = None  # the rule of every part that declares none (printed with the problem)
    #: How the sheet counts entries (x_1 or x_0); worked solutions and keys count the same way.
    index_base: Literal[0, 1] = 1
    loop: Loop | None = None
    parts: list[Part] = Field(min_length=1)
    #: the figure the sheet shows: a kind and which given names fill its slots (docs/spec-format.md, Figures)
    figure: FigureDecl | None = None

    @field_validator("params")
    @classmethod
    def _param_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        import re

        for k in v:
            if not re.match(IDENT, k):
                raise ValueError(f"parameter name '{k}' must start with a letter and use letters, digits, _")
        return v

    def constraint_list(self) -> list[Constraint]:
        return [c if isinstance(c, Constraint) else Constraint(expr=c) for c in self.constraints]

    @property
    def total_points(self) -> float:
        return self.points if self.points is not None else sum(p.points for p in self.parts)
