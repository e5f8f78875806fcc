"""The text kind: free text, graded by hand; the reader keeps it, stripped, for the person grading."""

from __future__ import annotations

from typing import Any

from i2dl.errors import AnswerParseError
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type
from i2dl.kinds.read import MAX_TEXT_CHARS, check_len, describe, is_real, missing


def parse_text(value: Any) -> str:
    """Free text, stripped; a YAML number or bool is turned back into its text."""
    if value is None:
        raise missing()
    if isinstance(value, bool):  # YAML reads an unquoted yes/no as a bool
        return "true" if value else "false"
    if is_real(value):
        return str(value)
    if not isinstance(value, str):
        raise AnswerParseError(f"expected text, got {describe(value)}",
                               fix="write the answer as plain text")
    check_len(value, MAX_TEXT_CHARS)
    text = value.strip()
    if not text:
        raise missing()
    return text


class TextKind(AnswerKind):
    """Free text t. Graded by hand: an answer is "pending" until a TA marks it (grade.manual), an empty one "blank"."""

    name = "text"
    by_hand = True
    example = "ReLU"
    summary = "free text"

    def holds(self, value: Any) -> bool:
        from i2dl.kinds.formula import Formula

        return isinstance(value, str) and not isinstance(value, Formula)

    def coerce(self, value: Any) -> str:
        return str(value)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> str:
        return parse_text(raw)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        # Only identical text is known to be right; anything else needs a person, so it is no credit here.
        return (1.0, "") if str(got).strip() == str(expected).strip() else (0.0, "")

    def form(self, expected: Any, n_options: int = 0) -> str:
        return "free text (graded by hand)"

    def answer_text(self, value: Any) -> Any:
        return str(value)

    def to_data(self, value: Any) -> Any:
        return str(value)

    def from_data(self, data: Any) -> Any:
        return data

    def data_problem(self, data: Any, n_options: int) -> str | None:
        return None if isinstance(data, str) else f"expected text, got {data_type(data)}"


TEXT = TextKind()
