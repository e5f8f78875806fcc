"""The parameter vocabulary: one name per concept across specs and computed MCQs (docs/spec-format.md#parameter-names)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Term:
    """A concept, the name a spec gives it, and the names it must not use for it (with when they are barred)."""

    concept: str
    name: str
    #: barred name -> when it is barred: None (always) or a key of WHEN
    never: dict[str, str | None] = field(default_factory=dict)
    #: several of them in one spec are numbered (kernel1, kernel2): the barred names are barred numbered too
    numbered: bool = False


#: when a barred name is barred, in words (the docs table prints these)
WHEN: dict[str, str] = {
    "integer": "as an integer",
    "given": "as a sampled value",
    "index": "as an index",
    "adam": "in an Adam spec",
    "momentum": "in a momentum spec",
}

VOCABULARY: tuple[Term, ...] = (
    Term("side of a (square) kernel", "kernel", {"k": None, "ks": None, "kk": None, "kernel_size": None}, numbered=True),
    Term("stride", "stride", {"s": None}, numbered=True),
    Term("zero padding on each side", "padding", {"pad": None, "p": "integer"}, numbered=True),
    Term("dilation", "dilation", {"dil": None}, numbered=True),
    Term("groups of a grouped convolution", "groups", {"grp": None}, numbered=True),
    Term("output padding of a transposed convolution", "output_padding", {"op": None}),
    Term("pooling window", "pool_kernel", {"pk": None, "pool_k": None, "pool_size": None}),
    Term("pooling stride", "pool_stride", {"ps": None, "pool_s": None}),
    Term("learning rate", "lr", {"eta": None, "learning_rate": None}),
    Term("decay rate of Adam's first moment", "beta1", {"b1": "adam"}),
    Term("decay rate of Adam's second moment", "beta2", {"b2": "adam"}),
    Term("momentum coefficient", "mu", {"momentum": None, "beta": "momentum"}),
    Term("epsilon of a denominator", "eps", {"epsilon": None}),
    Term("weight decay or penalty weight", "lam", {"lambda_": None, "wd": None, "weight_decay": None}),
    Term("target (`T` for a matrix of them)", "t", {"y": "given", "target": None}),
    Term("a model's output or prediction (`Y` for a matrix of them)", "y", {}),
    Term("class index, counted from 1", "label", {"t": "index", "y": "index", "c": "index", "cls": None,
                                                  "class_index": None}),
    Term("number of classes", "n_classes", {"K": "integer", "num_classes": None, "nc": None}),
)


def barred(name: str) -> list[tuple[Term, str | None]]:
    """The terms that bar `name` (numbered forms such as k1 included), with when each bars it."""
    hits = []
    for term in VOCABULARY:
        if name in term.never:
            hits.append((term, term.never[name]))
        elif term.numbered:
            m = re.fullmatch(r"([A-Za-z_]+?)_?(\d+)", name)
            if m and m.group(1) in term.never:
                hits.append((term, term.never[m.group(1)]))
    return hits


def suggestion(name: str) -> str | None:
    """The vocabulary's name for a barred `name` (k -> kernel, k1 -> kernel1), or None."""
    hits = barred(name)
    if not hits:
        return None
    return _renamed(name, hits[0][0])


def _renamed(name: str, term: Term) -> str:
    digits = re.search(r"\d+$", name)
    return term.name + (digits.group(0) if digits and term.numbered and name not in term.never else "")


def is_integer_sampler(p: Any) -> bool:
    """True when a parameter declaration gives whole numbers (int, a choice of ints, a fixed int)."""
    kind = getattr(p, "type", None)
    if kind == "int":
        return True
    if kind == "choice":
        return all(isinstance(c, int) and not isinstance(c, bool) for c in p.choices)
    if kind == "fixed":
        return isinstance(p.value, int) and not isinstance(p.value, bool)
    return False


def used_as_index(name: str, expressions: list[str]) -> bool:
    """True when an expression indexes with `name` (x[t], P[:, t - 1], onehot(t, K), cross_entropy(p, t))."""
    n = re.escape(name)
    pats = [rf"\[[^\[\]]*\b{n}\b\s*(-\s*1\s*)?\]", rf"onehot\(\s*{n}\b", rf"cross_entropy\([^,()]+,\s*{n}\b",
            rf"argmax(_rows)?\([^()]*\)\s*==\s*{n}\b"]
    return any(re.search(p, e) for p in pats for e in expressions)


def problems(names: dict[str, Any], expressions: list[str], tags: set[str]) -> list[tuple[str, str, str]]:
    """(name, concept, name to use) for every declared name the vocabulary bars in this context."""
    out = []
    for name, p in names.items():
        for term, when in barred(name):
            applies = (when is None or when == "integer" and is_integer_sampler(p)
                       or when == "given" and getattr(p, "type", None) not in ("derived", "fixed")
                       and not used_as_index(name, expressions)
                       or when == "index" and used_as_index(name, expressions)
                       or when in ("adam", "momentum") and when in tags)
            if applies:
                out.append((name, term.concept, _renamed(name, term)))
    return out
