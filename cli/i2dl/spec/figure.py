"""The `figure:` key of a spec: a figure kind and which given names fill its slots (pydantic schema)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

IDENT = r"^[A-Za-z][A-Za-z0-9_]*$"
#: a slot that takes a value: the name of a parameter or part given the statement prints
Ref = Annotated[str, Field(pattern=IDENT)]
LABEL_FIELD = re.compile(r"\{\{\s*(.*?)\s*\}\}")
# a number written into a label by hand would not come from the instance; word-bounded, so conv2d is fine
_LITERAL_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def text_names(text: str) -> list[str]:
    """The names a label's `{{name}}` fields read (a label is literal text plus such fields)."""
    return LABEL_FIELD.findall(text)


def _check_label(v: str | None) -> str | None:
    if v is None:
        return v
    for name in text_names(v):
        if not re.match(IDENT, name):
            raise ValueError(f"'{{{{{name}}}}}' in label '{v}' is not a single name: a figure label shows a given "
                             "as it is (write the expression as a derived parameter and name that)")
    literal = _LITERAL_NUMBER.search(LABEL_FIELD.sub("", v))
    if literal:
        raise ValueError(f"label '{v}' writes the number {literal.group()} by hand: a figure's numbers come "
                         "from the instance, so name the given that holds it, as {{name}}")
    return v


Label = Annotated[str, Field(min_length=1)]


class _Decl(BaseModel):
    # unknown keys are kept so the loader warns about them with a suggestion, as for every spec key
    model_config = ConfigDict(extra="allow", defer_build=True)

    @field_validator("*", mode="after")
    @classmethod
    def _labels(cls, v: Any, info) -> Any:
        if isinstance(v, str) and info.field_name in cls._labels_of():
            return _check_label(v)
        return v

    @classmethod
    def _labels_of(cls) -> set[str]:
        return {"caption", "label", "activation", "note", "tensor", "op", "input_label", "kernel_label", "type"}


class _Common(_Decl):
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]*$")  # default: the kind
    caption: str | None = None  # default: the kind's own sentence
    part: str | None = None  # the part the figure belongs to (default: the statement)


class NetLayer(_Decl):
    """One layer of nodes: W[i, j] joins node i of the layer before to node j (h = x W + b)."""

    label: Label  # the symbol of its nodes (h gives h₁, h₂, ...)
    weights: Ref | None = None  # a matrix (or one number for one node); none: one plain edge per node
    bias: Ref | None = None
    activation: str | None = None  # a label, e.g. "{{act_name}}" or "ReLU"


class Skip(_Decl):
    """A skip connection from one column of nodes to a later one (0 is the input)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)
    from_: int = Field(alias="from", ge=0)
    to: int = Field(ge=1)
    label: str | None = None

    @model_validator(mode="after")
    def _forward(self):
        if self.to <= self.from_ + 1:
            raise ValueError(f"a skip connection joins non-neighbouring columns: from {self.from_} to at least "
                             f"{self.from_ + 2}")
        return self


class NetworkFigure(_Common):
    """A fully connected network: input values, weights on the edges, biases beside the nodes."""

    kind: Literal["network"]
    input: Ref
    input_label: Label = "x"
    layers: list[NetLayer] = Field(min_length=1)
    skips: list[Skip] = Field(default_factory=list)
    target: Ref | None = None

    @model_validator(mode="after")
    def _skips_inside(self):
        for s in self.skips:
            if s.to > len(self.layers):
                raise ValueError(f"skip to column {s.to}, but the network has columns 0..{len(self.layers)}")
        return self


class Stage(_Decl):
    """One step of a pipeline: a tensor (its symbol, maybe its values) or an operation (maybe its weights)."""

    tensor: str | None = None
    op: str | None = None
    value: Ref | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.tensor is None) == (self.op is None):
            raise ValueError("a stage is either a tensor (tensor: symbol) or an operation (op: name), not both")
        return self


class PipelineFigure(_Common):
    """A chain of tensors and operations, left to right, with the given vectors and kernels."""

    kind: Literal["pipeline"]
    stages: list[Stage] = Field(min_length=2)


class LayerBox(_Decl):
    """One layer of a stack, by its hyper-parameters (each a given name)."""

    type: Label
    label: str | None = None
    out: Ref | None = None
    k: Ref | None = None
    stride: Ref | None = None
    padding: Ref | None = None


class LayersFigure(_Common):
    """A stack of layers, one box per layer with its hyper-parameters, after an input box with its shape."""

    kind: Literal["layers"]
    input: Ref | list[Ref]  # a shape value, or the names of its sizes
    input_label: Label = "input"
    layers: Ref | list[LayerBox]  # a list of layer() values, or boxes declared here

    @field_validator("layers")
    @classmethod
    def _some(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("declare at least one layer")
        return v


class GridFigure(_Common):
    """An input grid with the padding and the kernel's first window drawn, and the kernel beside it."""

    kind: Literal["grid"]
    input: Ref
    kernel: Ref | None = None
    padding: Ref | None = None
    stride: Ref | None = None
    input_label: Label | None = None  # default: the input's name
    kernel_label: Label | None = None


def _kind_of(v: Any) -> str | None:
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    return f"kind={kind}" if isinstance(kind, str) else None


#: the figure kinds a spec may declare, by name (each has a builder and a renderer in the registry)
DECLARATIONS: dict[str, type[_Common]] = {"network": NetworkFigure, "pipeline": PipelineFigure,
                                          "layers": LayersFigure, "grid": GridFigure}

FigureDecl = Annotated[
    Annotated[NetworkFigure, Tag("kind=network")] | Annotated[PipelineFigure, Tag("kind=pipeline")]
    | Annotated[LayersFigure, Tag("kind=layers")] | Annotated[GridFigure, Tag("kind=grid")],
    Discriminator(_kind_of, custom_error_type="figure_kind",
                  custom_error_message="a figure needs 'kind': one of network, pipeline, layers, grid"),
]
FIGURE_FIX = "set kind to one of: " + ", ".join(DECLARATIONS) + " (docs/spec-format.md, Figures)"


def declared(figure: Any) -> list[_Common]:
    """A spec's figures: its `figure:` declaration as a list (empty without one)."""
    return [] if figure is None else [figure]


def slot_names(decl: _Common) -> list[tuple[tuple[Any, ...], str]]:
    """(key path inside the figure, given name) of every name a declaration reads, labels' fields included."""
    out: list[tuple[tuple[Any, ...], str]] = []

    def walk(model: BaseModel, key: tuple[Any, ...]) -> None:
        for fname in type(model).model_fields:
            v = getattr(model, fname)
            k = key + ((type(model).model_fields[fname].alias or fname),)
            if isinstance(v, BaseModel):
                walk(v, k)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    if isinstance(x, BaseModel):
                        walk(x, k + (i,))
                    elif isinstance(x, str) and fname in _REF_FIELDS:
                        out.append((k + (i,), x))
            elif isinstance(v, str):
                if fname in _REF_FIELDS:
                    out.append((k, v))
                elif fname in _Decl._labels_of():
                    out.extend((k, n) for n in text_names(v))

    walk(decl, ())
    return out


#: the slots whose value is a given's name (every other string slot is a label)
_REF_FIELDS = {"input", "weights", "bias", "target", "value", "out", "k", "stride", "padding", "kernel", "layers"}


def check_figures(spec: Any, deps: dict[str, frozenset[str]], known: set[str],
                  locate: Any) -> None:
    """Every figure reads names the statement shows (printed, or what a printed value is made from), never an
    answer; its part exists; ids are unique. `locate(key path)` says where; raises SpecError."""
    import difflib

    from i2dl.errors import SpecError
    from i2dl.expr import free_names, parse

    decls = declared(spec.figure)
    if not decls:
        return
    answers = {a.name for p in spec.parts for a in p.answers}
    printed: set[str] = set()
    for text in [spec.statement] + [p.text for p in spec.parts]:
        for expr in LABEL_FIELD.findall(text):
            try:
                printed |= free_names(parse(expr).node)
            except Exception:  # noqa: BLE001 - a broken template is reported where it is rendered
                continue
    shown, stack = set(printed), list(printed)
    while stack:  # what a printed value is computed from is shown by it (describe_layers(layers) shows layers)
        for d in deps.get(stack.pop(), ()):
            if d not in shown:
                shown.add(d)
                stack.append(d)
    shown -= answers
    ids: dict[str, int] = {}
    part_ids = [p.id for p in spec.parts]
    for i, decl in enumerate(decls):
        at: tuple[Any, ...] = ("figure",) if len(decls) == 1 else ("figure", i)
        fid = decl.id or decl.kind
        if fid in ids:
            raise SpecError(f"two figures have the id '{fid}'", where=locate(at + ("id",)),
                            fix="give each figure its own id: key")
        ids[fid] = i
        if decl.part is not None and decl.part not in part_ids:
            raise SpecError(f"figure '{fid}' belongs to part '{decl.part}', which the spec does not have",
                            where=locate(at + ("part",)), fix="parts: " + ", ".join(part_ids))
        for key, name in slot_names(decl):
            where = locate(at + key)
            if name in answers:
                raise SpecError(f"figure '{fid}' would show '{name}', an answer: a figure shows only what the "
                                "statement gives", where=where, fix="name a parameter or given instead")
            if name not in known:
                near = difflib.get_close_matches(name, sorted(known - answers), n=3)
                raise SpecError(f"figure '{fid}' names '{name}', which is no parameter or given", where=where,
                                fix=("did you mean " + ", ".join(near) + "?") if near else
                                "name a parameter or a part's given")
            if name not in shown:
                raise SpecError(f"figure '{fid}' shows '{name}', which the statement never prints", where=where,
                                fix=f"print it in the statement or a part ({{{{{name}}}}}), or name a value "
                                    "the statement shows")
