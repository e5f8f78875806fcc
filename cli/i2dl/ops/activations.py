"""Elementwise activations as records: one per function, read by the expression language
(`relu(x)`, `activate(x, kind)`), the engines (kernels `name` and `name_grad`) and explain
(the rule and its derivative with the instance's numbers).

Adding an activation is one record here plus its two kernels in each engine backend; the
registry test fails until every piece exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """f(X) (or f'(X)) written with X for the input and alpha for the parameter, then with numbers.

    The numeric forms take the placeholders {x} (the input), {xp} (the input, bracketed when
    negative), {a} (alpha), {y} and {yp} (the activation's value at x); `numeric_neg` is the
    form for x <= 0 of a piecewise rule.
    """

    symbolic: str
    numeric: str
    numeric_neg: str | None = None

    def numbers(self, x: float, fill: Mapping[str, str]) -> str:
        """The numeric form for input x, placeholders filled."""
        text = self.numeric if x > 0 or self.numeric_neg is None else self.numeric_neg
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        return text


@dataclass(frozen=True)
class Activation:
    """One elementwise activation function."""

    name: str
    tex: str  # its name in formulas
    forward: Rule
    derivative: Rule
    #: f'(x) as a factor of the chain rule, {x} for the argument; None writes tex'(x).
    chain_factor: str | None = None
    #: Default of the parameter alpha; None when the function takes none.
    alpha: float | None = None
    #: x from y = f(x) where f is one-to-one ("logit"), named as in the expression language; None if not.
    inverse: str | None = None

    def factor(self, x: str) -> str:
        """f'(x) in the chain rule, for the LaTeX argument x."""
        if self.chain_factor is None:
            return f"{self.tex}'({x})"
        return self.chain_factor.replace("{x}", x)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", r"\operatorname{ReLU}",
               Rule(r"\max(0, X)", r"\max(0, {x})"),
               Rule(r"\mathbb{1}[X > 0]", r"\mathbb{1}[{x} > 0]"),
               r"\mathbb{1}[{x} > 0]"),
    Activation("leaky_relu", r"\operatorname{LReLU}",
               Rule(r"\max(\alpha X, X)", r"\max({a} \cdot {xp}, {x})"),
               Rule(r"1 \text{ if } X > 0 \text{ else } \alpha", "1", r"\alpha = {a}"),
               r"(\mathbb{1}[{x} > 0] + \alpha \, \mathbb{1}[{x} \le 0])", alpha=0.01),
    Activation("sigmoid", r"\sigma",
               Rule(r"\frac{1}{1 + e^{-X}}", r"\frac{1}{1 + e^{-{xp}}}"),
               Rule(r"\sigma(X)(1 - \sigma(X))", r"{y}(1 - {y})"),
               r"\sigma({x})(1 - \sigma({x}))", inverse="logit"),
    Activation("tanh", r"\tanh",
               Rule(r"\tanh(X)", r"\tanh({x})"),
               Rule(r"1 - \tanh^{2}(X)", r"1 - {yp}^{2}"),
               r"(1 - \tanh^{2}({x}))", inverse="atanh"),
    Activation("elu", r"\operatorname{ELU}",
               Rule(r"X \text{ if } X > 0 \text{ else } \alpha(e^{X} - 1)", "{x}", r"{a}(e^{{x}} - 1)"),
               Rule(r"1 \text{ if } X > 0 \text{ else } \alpha e^{X}", "1", r"{a} e^{{x}}"),
               alpha=1.0),
    Activation("identity", r"\operatorname{id}",
               Rule("X", "{x}"),
               Rule("1", "1"),
               "1"),
)}

#: Other names a spec may use for an activation.
ALIASES = {"sigma": "sigmoid"}


def activation(kind: str) -> Activation | None:
    """The record of an activation by name or alias, None if there is none."""
    return ACTIVATIONS.get(ALIASES.get(kind, kind))
