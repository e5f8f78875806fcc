"""Property questions: statements judged by the engine, drawn and shuffled by the seed, keyed by the maths.

A part with `statements:` becomes one `choice` answer. Which statements are shown, and in which
order, is a sampled parameter (`<name>_order`: the indices into `from`, distinct, drawn from the
instance's seed like every other parameter, and pinnable); the key is the set of letters whose
statement's `holds` expression is true for the instance, `statement_key(order, [holds...])`.
"""

from __future__ import annotations

from typing import Any

from i2dl.spec import model as m

ORDER_SUFFIX = "_order"


def answer_name(part: m.Part) -> str:
    """The name of a property question's choice answer: `statements.name`, else the part id."""
    st = part.statements
    assert st is not None
    return st.name or "s_" * (not part.id[0].isalpha()) + part.id.replace("-", "_")


def order_name(part: m.Part) -> str:
    """The sampled parameter that says which statements are shown, in order."""
    return answer_name(part) + ORDER_SUFFIX


def statement_answer(part: m.Part) -> m.Answer:
    """The one choice answer of a property question: the letters of the drawn statements that hold."""
    st = part.statements
    assert st is not None
    holds = ", ".join(f"({s.holds})" for s in st.from_)
    order = order_name(part)
    # a statement judged the wrong way round (every other one right) is its named mistake, where it is shown
    alts = [m.Alternative(name=s.mistake.name, expr=f"statement_flip({order}, [{holds}], {k})", credit=0,
                          feedback=s.mistake.feedback, when=f"statement_shown({order}, {k})")
            for k, s in enumerate(st.from_) if s.mistake is not None]
    return m.Answer(name=answer_name(part), expr=f"statement_key({order}, [{holds}])", kind="choice",
                    label=st.label or "true statements", options=st.shown, alternatives=alts)


def order_params(spec: m.Spec) -> dict[str, m.VectorParam]:
    """The order parameter of each property question: `pick` distinct indices into its statements."""
    return {order_name(p): m.VectorParam(type="vector", length=p.statements.shown,
                                         choices=list(range(len(p.statements.from_))), distinct=True)
            for p in spec.parts if p.statements is not None}


def count_constraints(spec: m.Spec) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(expression, why, key path) of each property question's at_least_true / at_least_false."""
    out = []
    for i, p in enumerate(spec.parts):
        st = p.statements
        if st is None:
            continue
        name = answer_name(p)
        if st.at_least_true:
            out.append((f"len({name}) >= {st.at_least_true}",
                        f"at least {st.at_least_true} shown statement(s) of part {p.id} hold",
                        ("parts", i, "statements", "at_least_true")))
        if st.at_least_false:
            out.append((f"len({name}) <= {st.shown - st.at_least_false}",
                        f"at least {st.at_least_false} shown statement(s) of part {p.id} are false",
                        ("parts", i, "statements", "at_least_false")))
    return out


def shown(part: m.Part, values: dict[str, Any]) -> list[tuple[int, m.Statement]]:
    """The drawn statements of a property question in the order shown: (index in `from`, statement)."""
    order = values[order_name(part)]
    return [(int(i), part.statements.from_[int(i)]) for i in list(order)]


def check_order_pins(spec: m.Spec, pins: dict[str, Any]) -> None:
    """A pinned order must name `pick` different statements of its part, each by its index in `from`."""
    import numpy as np

    from i2dl.errors import SpecError

    for part in spec.parts:
        if part.statements is None or order_name(part) not in pins:
            continue
        name, n = order_name(part), len(part.statements.from_)
        try:
            idx = [float(i) for i in np.asarray(pins[name], dtype=float).ravel()]
        except (TypeError, ValueError):
            idx = []
        ok = (len(idx) == part.statements.shown and all(i.is_integer() and 0 <= i < n for i in idx)
              and len(set(idx)) == len(idx))
        if not ok:
            got = np.shape(pins[name]) if isinstance(pins[name], (list, tuple, np.ndarray)) else None
            shape = f" (shape {list(got)})" if got is not None and list(got) != [part.statements.shown] else ""
            raise SpecError(f"'{name}' must be {part.statements.shown} distinct indices from 0 to {n - 1}, a vector "
                            f"of shape [{part.statements.shown}] (the statements of part {part.id} to show, in "
                            f"order); got {pins[name]}{shape}",
                            where=f"--param {name}", fix=f"e.g. --param {name}={list(range(part.statements.shown))}")
