"""The choice kind: the set of option letters a student marks, read from 'AC', 'A, C', '[A, C]' or a list."""

from __future__ import annotations

from typing import Any

from i2dl.errors import AnswerParseError
from i2dl.kinds.base import WHOLE, AnswerKind, ArrayScheme, data_type, tagged
from i2dl.kinds.read import (
    MAX_ENTRIES,
    MAX_EXPR_CHARS,
    NORMALIZE,
    MissingAnswer,
    check_len,
    describe,
    missing,
    show,
)

# "None of the options" is written out; an empty blank is a skip, never a claim that none is right.
_NONE_WORDS = frozenset({"none", "nothing", "-", "--"})
_BLANK_WORDS = frozenset({"", "[]", "()", "{}"})
_CHOICE_SEPARATORS = frozenset(" \t\r\n,;/+&|'\"[](){}")


def _option_range(n_options: int) -> str:
    """'A to D' (or 'A' for one option)."""
    return "A" if n_options == 1 else f"A to {chr(64 + n_options)}"


def _letters(text: str, n_options: int) -> set[str]:
    """Option letters in `text`, upper-cased; a letter past the last option is an error."""
    check_len(text, MAX_EXPR_CHARS)
    stripped = text.strip()
    word = stripped.translate(NORMALIZE).lower()
    if word in _BLANK_WORDS:
        raise missing()
    if word in _NONE_WORDS:
        return set()
    fix = (f"write the letters of the options you choose, e.g. 'AC' or 'A, C' "
           f"(valid: {_option_range(n_options)}); write 'none' to choose none")
    letters: set[str] = set()
    for pos, ch in enumerate(stripped, 1):
        if ch in _CHOICE_SEPARATORS:
            continue
        up = ch.upper()
        if not (ch.isascii() and "A" <= up <= "Z"):
            raise AnswerParseError(
                f"could not read {show(stripped)} as options: unexpected {ch!r} at position {pos}",
                fix=fix)
        if ord(up) - 65 >= n_options:
            raise AnswerParseError(
                f"option {up!r} does not exist: valid options are {_option_range(n_options)}",
                fix=fix)
        letters.add(up)
    return letters


def parse_choices(value: Any, n_options: int) -> frozenset[str]:
    """Chosen option letters from 'AC', 'A, C', '[A, C]', 'a c' or a YAML list; 'none'/'-' is {}, '' no answer."""
    if not 1 <= n_options <= 26:
        raise ValueError(f"n_options must be between 1 and 26, got {n_options}")
    if value is None:
        raise missing()
    if isinstance(value, str):
        return frozenset(_letters(value, n_options))
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise AnswerParseError(f"expected option letters such as 'AC', got {describe(value)}",
                               fix=f"write letters from {_option_range(n_options)}")
    if len(value) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    letters: set[str] = set()
    answered = False
    for i, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise AnswerParseError(f"entry {i} ({show(item)}) is not an option letter",
                                   fix=f"write letters from {_option_range(n_options)}")
        try:
            letters |= _letters(item, n_options)
        except MissingAnswer:
            continue
        answered = True
    if not answered:  # [] or only blank entries: skipped, as an empty blank is
        raise missing()
    return frozenset(letters)


class ChoiceKind(AnswerKind):
    """A set S of option letters (possibly empty: no option is correct), right only when the sets are equal."""

    name = "choice"
    few_values = True
    example = "AC"
    summary = "a set of option letters; needs `options`"

    def holds(self, value: Any) -> bool:
        return isinstance(value, (frozenset, set))

    def coerce(self, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            return frozenset(value.upper())
        return frozenset(str(v).upper() for v in value)

    def read(self, raw: Any, *, n_options: int | None = None, shape: tuple[int, ...] | None = None) -> frozenset[str]:
        if n_options is None:
            raise ValueError("the choice kind reads letters only given n_options, the number of options")
        return parse_choices(raw, n_options)

    def compare(self, got: Any, expected: Any, tol: tuple[float, float], arrays: ArrayScheme = WHOLE,
                points: float = 1.0) -> tuple[float, str]:
        return (1.0, "") if frozenset(got) == frozenset(expected) else (0.0, "")

    def form(self, expected: Any, n_options: int = 0) -> str:
        letters = ", ".join(chr(65 + i) for i in range(n_options))
        return (f"letters of all correct options among {letters}, e.g. AC; none (or -) if no option is correct, "
                "empty to skip")

    def answer_text(self, value: Any) -> Any:
        return "".join(sorted(value)) or "none"  # an empty blank is a skip, not "no option is correct"

    def to_data(self, value: Any) -> Any:
        return {"set": sorted(value)}

    def from_data(self, data: Any) -> Any:
        return frozenset(data["set"])

    def data_problem(self, data: Any, n_options: int) -> str | None:
        letters = tagged(data, "set")
        last = chr(64 + (n_options or 26))
        if not isinstance(letters, list) or not all(isinstance(x, str) and len(x) == 1 and "A" <= x <= last
                                                    for x in letters):
            return f"expected {{\"set\": [letters A to {last}]}} (the correct options), got {data_type(data)}"
        return None


CHOICE = ChoiceKind()
