"""Worked solutions from the answer graph: `i2dl explain` and the steps in the solution key.

For every blank of a part the explanation gives the formula (the blank's expression rendered as
maths), the numbers substituted, the steps a student would write in between (each conv output
as its sum of products, each pooling window, the chain rule node by node, ...) and the result.
All of it is derived from the spec's expressions and the instance's stored values; no text is
written per instance. Detail steps are computed from stored values with plain numpy; values
the instance does not hold (a nested sub-expression, the chain rule's intermediate gradients)
are evaluated with the numpy engine unless another engine is asked for, so explaining an
instance never imports torch.

Explanations are plain data (dicts, lists, strings, numbers): `explanation_markdown` renders
them as Markdown with LaTeX, `explanation_renderable` as terminal text with Unicode maths.

One idea per module, each importing only the ones before it:
steps (numbers and step records), symbols (names as maths), context (an instance's values),
activations (f and f'), registry (renderers by function), tex (expressions as LaTeX),
forward (forward operations written out), backward (layer gradients given dL/dy), chain (the chain rule),
student (--student),
parts (a part's blanks and options), output (Markdown, Unicode, rich), api (the entry points).
"""

from .api import (
    explain_instance,
    explain_part,
    explain_problem,
    explain_spec,
    explain_target,
    key_explanations,
    key_steps,
)
from .forward import View
from .output import (
    explanation_markdown,
    explanation_renderable,
    latex_to_unicode,
    part_markdown,
    text_to_unicode,
)
from .registry import RENDERERS, renders
from .steps import Step
from .symbols import Sym, symbol

__all__ = [
    "RENDERERS", "Step", "Sym", "View", "explain_instance", "explain_part", "explain_problem", "explain_spec", "explain_target",
    "explanation_markdown", "explanation_renderable", "key_explanations", "key_steps", "latex_to_unicode", "part_markdown",
    "renders", "symbol", "text_to_unicode",
]
