"""Reading what students write: numbers, expressions, vectors, matrices, shapes, choices, booleans.

A hand-written tokenizer and recursive-descent evaluator: nothing is ever eval'd. Arithmetic is
float64 throughout, so no input can build a huge integer (9**9**9 overflows at once instead of
hanging). `log` and `ln` are the natural logarithm; `log10` and `log2` are the other bases;
`sigma`/`sigmoid` is the logistic function; angles are in radians; `^` and `**` are powers.

Every failure is an AnswerParseError whose message a student can act on; a blank answer is
the subclass MissingAnswer, so grading can say "no answer" rather than "invalid".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.io import has_lone_surrogate

MAX_EXPR_CHARS = 500
MAX_TEXT_CHARS = 20_000  # a whole vector, matrix or free-text answer
MAX_DEPTH = 50
MAX_ABS = 1e15
MAX_ENTRIES = 10_000
MAX_DIMS = 16
KINDS = ("number", "vector", "matrix", "shape", "choice", "bool", "text")

NUMBER_FIX = "write a number such as 0.52, 27/9 or 1e-3, or an expression such as -log(0.35)"
VECTOR_FIX = "write a vector such as [1, 2, 3] or 1 2 3"
MATRIX_FIX = "write a matrix row by row, such as [[1, 2], [3, 4]] or 1 2; 3 4"
SHAPE_FIX = "write a shape such as 16x21x21 or (16, 21, 21)"
BOOL_FIX = "write true or false (yes/no, y/n, t/f and 1/0 also work)"


class MissingAnswer(AnswerParseError):
    """No answer was given (None, a blank, an empty list): "no answer", not "invalid"."""


class _Reject(Exception):
    """Why an expression cannot be read; wrapped into an AnswerParseError with the text."""


TOO_LARGE = "number too large (|x| > 1e15)"
NON_FINITE = "NaN and infinity are not accepted"


def _missing() -> MissingAnswer:
    """The error for a blank answer."""
    return MissingAnswer("no answer given", fix="fill in the blank to get credit for it")


def _show(value: Any, limit: int = 40) -> str:
    """A short form of what the student wrote, for messages: text quoted, other values as is."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text


def _describe(value: Any) -> str:
    """What a non-answer YAML value is, in words."""
    if isinstance(value, dict):
        return "a mapping (key: value pairs)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return f"a value of type {type(value).__name__}"


def _is_number(value: Any) -> bool:
    """A real number given directly (YAML int/float, numpy scalar), bools excluded."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _check_len(text: str, limit: int, what: str = "answer") -> None:
    """Bound the work any input can cause."""
    if len(text) > limit:
        raise AnswerParseError(f"{what} too long (> {limit} characters)", fix="shorten it")


# --------------------------------------------------------------------------- expressions

# Characters students paste from slides or word processors, mapped one-to-one so error
# positions still point at what they wrote.
_NORMALIZE = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\ufe63": "-",
    "\uff0d": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*", "\u2217": "*", "\u00f7": "/",
    "\u2215": "/",
})
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+(?:[eE][+-]?[0-9]+)?")
_TOKEN = re.compile(
    r"\s+"
    r"|(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*|\u03c0)"
    r"|(?P<op>\*\*|[-+*/^()])"
)


def _sigmoid(x: float) -> float:
    """Logistic function, written so neither branch overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "log": math.log, "ln": math.log, "log10": math.log10, "log2": math.log2, "exp": math.exp,
    "sqrt": math.sqrt, "abs": abs, "sigma": _sigmoid, "sigmoid": _sigmoid, "tanh": math.tanh,
    "sin": math.sin, "cos": math.cos,
}
_CONSTANTS = {"e": math.e, "pi": math.pi, "\u03c0": math.pi}
_NON_FINITE_NAMES = frozenset({"nan", "inf", "infinity"})
_KNOWN = ", ".join([*_FUNCTIONS, "e", "pi"])


class _Token(NamedTuple):
    """A token and its 1-based position in the text."""

    kind: str  # num, name, op, end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    """Numbers, names and operators; anything else is rejected at its position."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] == "\u221e":
                raise _Reject(NON_FINITE)
            raise _Reject(f"unexpected {text[pos]!r} at position {pos + 1}")
        if match.lastgroup:
            tokens.append(_Token(match.lastgroup, match.group(), pos + 1))
        pos = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _finite(x: float) -> float:
    """An intermediate result, which may be large but never infinite."""
    if not math.isfinite(x):
        raise _Reject(TOO_LARGE)
    return x


def _arith(op: str, a: float, b: float) -> float:
    """a op b for + - * /."""
    if op == "+":
        return _finite(a + b)
    if op == "-":
        return _finite(a - b)
    if op == "*":
        return _finite(a * b)
    if b == 0:
        raise _Reject("division by zero")
    return _finite(a / b)


def _power(a: float, b: float) -> float:
    """a ** b on floats: overflow is an error, never a long computation."""
    try:
        return _finite(math.pow(a, b))
    except OverflowError:
        raise _Reject(TOO_LARGE) from None
    except ValueError:
        if a == 0:
            raise _Reject("0 to a negative power is undefined (division by zero)") from None
        raise _Reject("a negative number to a fractional power is not a real number") from None


def _call(name: str, x: float) -> float:
    """A named function of one argument, domain errors in words."""
    try:
        return _finite(_FUNCTIONS[name](x))
    except OverflowError:
        raise _Reject(TOO_LARGE) from None
    except ValueError:
        if name == "sqrt":
            raise _Reject(f"sqrt of a negative number ({x:g})") from None
        raise _Reject(f"{name} is only defined for positive numbers (got {x:g})") from None


class _Parser:
    """Recursive descent: expr := term (+|- term)*; term := unary (*|/ unary)*;
    unary := (+|-) unary | power; power := atom ((^|**) unary)?; atom := number | name | (expr).

    Unary minus binds looser than a power (-2^2 = -4), powers associate to the right.
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in ops

    def parse(self) -> float:
        """The value of the whole token list."""
        value = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise self.after_value(tok)
        return value

    def expr(self) -> float:
        value = self.term()
        while self.at_op("+", "-"):
            op = self.take().text
            value = _arith(op, value, self.term())
        return value

    def term(self) -> float:
        value = self.unary()
        while self.at_op("*", "/"):
            op = self.take().text
            value = _arith(op, value, self.unary())
        return value

    def unary(self) -> float:
        # Every recursive path passes through here, so this one counter bounds the stack.
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Reject(f"too deeply nested (more than {MAX_DEPTH} levels)")
            if self.at_op("+", "-"):
                sign = self.take().text
                value = self.unary()
                return -value if sign == "-" else value
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> float:
        base = self.atom()
        if self.at_op("^", "**"):
            self.take()
            return _power(base, self.unary())
        return base

    def atom(self) -> float:
        tok = self.take()
        if tok.kind == "num":
            return _finite(float(tok.text))
        if tok.kind == "name":
            return self.name(tok)
        if tok.text == "(":
            value = self.expr()
            self.close(tok)
            return value
        if tok.kind == "end":
            raise _Reject("incomplete: a number is missing at the end")
        raise _Reject(f"unexpected {tok.text!r} at position {tok.pos}")

    def name(self, tok: _Token) -> float:
        key = tok.text.lower()
        if key in _CONSTANTS:
            return _CONSTANTS[key]
        if key in _NON_FINITE_NAMES:
            raise _Reject(NON_FINITE)
        if key not in _FUNCTIONS:
            raise _Reject(f"unknown name {tok.text!r} at position {tok.pos} (known: {_KNOWN})")
        opener = self.take()
        if opener.text != "(":
            raise _Reject(f"{tok.text} needs parentheses, e.g. {key}(2), at position {tok.pos}")
        value = self.expr()
        self.close(opener)
        return _call(key, value)

    def close(self, opener: _Token) -> None:
        tok = self.take()
        if tok.kind == "end":
            raise _Reject(f"missing ')' for the '(' at position {opener.pos}")
        if tok.text != ")":
            raise self.after_value(tok)

    def after_value(self, tok: _Token) -> _Reject:
        """The error for a token that follows a complete value without an operator."""
        if tok.text == ")":
            return _Reject(f"unmatched ')' at position {tok.pos}")
        hint = " (use * to multiply)" if tok.kind in ("num", "name") or tok.text == "(" else ""
        return _Reject(f"unexpected {tok.text!r} at position {tok.pos}{hint}")


def _in_range(x: float) -> float:
    """Finite and at most MAX_ABS in magnitude."""
    if not math.isfinite(x):
        raise _Reject(NON_FINITE)
    if abs(x) > MAX_ABS:
        raise _Reject(TOO_LARGE)
    return x


def _number_from_text(text: str) -> float:
    """Evaluate a student's number or expression text."""
    _check_len(text, MAX_EXPR_CHARS, "expression")
    stripped = text.strip()
    if not stripped:
        raise _missing()
    norm = stripped.translate(_NORMALIZE)
    if _DECIMAL_COMMA.fullmatch(norm):  # '0,52' on its own: a decimal comma, not a list
        norm = norm.replace(",", ".")
    try:
        return _in_range(_Parser(_tokenize(norm)).parse())
    except _Reject as exc:
        raise AnswerParseError(f"could not read {_show(stripped)} as a number: {exc}",
                               fix=NUMBER_FIX) from None


def parse_number(value: Any) -> float:
    """A number from text (decimal comma, fraction, expression) or a YAML int/float."""
    if isinstance(value, str):
        return _number_from_text(value)
    if value is None:
        raise _missing()
    if not _is_number(value):
        raise AnswerParseError(f"expected a number, got {_describe(value)}", fix=NUMBER_FIX)
    try:
        return _in_range(float(value))
    except OverflowError:  # an int beyond float range
        raise AnswerParseError(TOO_LARGE, fix=NUMBER_FIX) from None
    except _Reject as exc:
        raise AnswerParseError(str(exc), fix=NUMBER_FIX) from None


# --------------------------------------------------------------------------- vectors, matrices

_PAIRS = {"[": "]", "(": ")"}
_ROW = re.compile(r"\[([^\[\]]*)\]")
_ROW_GAP = " \t\r\n,;"


def _unwrap(text: str) -> str:
    """`text` without one pair of enclosing brackets, when the first closes at the very end."""
    if len(text) < 2 or text[0] not in _PAIRS or text[-1] != _PAIRS[text[0]]:
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "[("
        depth -= ch in ")]"
        if depth == 0:
            return text[1:-1].strip() if i == len(text) - 1 else text
    return text


def _split_entries(body: str) -> list[str]:
    """Entries separated by ';', else ',', else whitespace (so '1 -2 3' is three entries)."""
    if ";" in body:
        return [p.strip() for p in body.split(";")]
    if "," in body:
        return [p.strip() for p in body.split(",")]
    return body.split()


def _to_array(entries: list[Any], fix: str) -> np.ndarray:
    """Numbers from a flat list of entries, naming the entry that fails."""
    if not entries:
        raise _missing()
    if len(entries) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    out = []
    for i, entry in enumerate(entries, 1):
        if isinstance(entry, (list, tuple, dict, np.ndarray)):
            raise AnswerParseError(f"entry {i} is {_describe(entry)}, expected a number", fix=fix)
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            raise AnswerParseError(f"entry {i} is empty", fix=fix)
        try:
            out.append(parse_number(entry))
        except AnswerParseError as exc:
            raise AnswerParseError(f"entry {i}: {exc.message}", fix=exc.fix) from None
    return np.array(out, dtype=np.float64)


def _text_body(text: str) -> str:
    """The stripped text without enclosing brackets; blank means no answer."""
    _check_len(text, MAX_TEXT_CHARS)
    body = _unwrap(text.strip())
    if not body:
        raise _missing()
    return body


def parse_vector(value: Any) -> np.ndarray:
    """A 1-D float array from a YAML list or text such as '[1, 2, 3]', '1 2 3' or '(1; 2; 3)'."""
    if value is None:
        raise _missing()
    if isinstance(value, str):
        body = _text_body(value)
        if "[" in body or "]" in body:
            raise AnswerParseError("a vector is a flat list, found nested brackets", fix=VECTOR_FIX)
        entries: list[Any] = _split_entries(body)
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        entries = list(value)
    elif isinstance(value, (list, tuple)):
        entries = list(value)
    elif _is_number(value):
        entries = [value]
    else:
        raise AnswerParseError(f"expected a vector, got {_describe(value)}", fix=VECTOR_FIX)
    return _to_array(entries, VECTOR_FIX)


def _text_rows(text: str) -> list[list[str]]:
    """Rows of entry texts: '[[1, 2], [3, 4]]', numpy's printout, '1 2; 3 4' or one row a line."""
    body = _text_body(text)
    if "[" not in body and "]" not in body:
        return [_split_entries(r) for r in re.split(r"[;\n]", body) if r.strip()]
    rows, end = [], 0
    for match in _ROW.finditer(body):
        _check_gap(body[end:match.start()])
        rows.append(_split_entries(_unwrap(match.group(1).strip())))
        end = match.end()
    _check_gap(body[end:])
    return rows


def _check_gap(gap: str) -> None:
    """Only separators may stand between bracketed rows."""
    rest = gap.strip(_ROW_GAP)
    if not rest:
        return
    if "[" in rest or "]" in rest:
        raise AnswerParseError("brackets are unbalanced or nested too deeply", fix=MATRIX_FIX)
    raise AnswerParseError(f"unexpected {_show(rest)} outside the rows", fix=MATRIX_FIX)


def _entries(n: int) -> str:
    """'1 entry', '3 entries'."""
    return f"{n} entry" if n == 1 else f"{n} entries"


def _list_rows(value: list[Any] | tuple[Any, ...]) -> list[list[Any]]:
    """Rows from a YAML list whose items are lists or row texts."""
    rows: list[list[Any]] = []
    for r, row in enumerate(value, 1):
        if isinstance(row, (list, tuple, np.ndarray)):
            rows.append(list(row))
        elif isinstance(row, str) and row.strip():
            rows.append(_split_entries(_unwrap(row.strip())))
        else:
            raise AnswerParseError(f"row {r} is {_describe(row) if row is not None else 'empty'}, "
                                   "expected a list of numbers", fix=MATRIX_FIX)
    return rows


def parse_matrix(value: Any) -> np.ndarray:
    """A 2-D float array from a YAML list of lists or text such as '[[1, 2], [3, 4]]' or '1 2; 3 4'."""
    if value is None:
        raise _missing()
    if isinstance(value, str):
        rows: list[list[Any]] = _text_rows(value)
    elif isinstance(value, np.ndarray) and value.ndim == 2:
        rows = [list(r) for r in value]
    elif isinstance(value, (list, tuple)):
        rows = _list_rows(value)
    elif _is_number(value):
        rows = [[value]]
    else:
        raise AnswerParseError(f"expected a matrix, got {_describe(value)}", fix=MATRIX_FIX)
    if not rows:
        raise _missing()
    if sum(len(r) for r in rows) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    arrays: list[np.ndarray] = []
    for r, row in enumerate(rows, 1):
        if not row:
            raise AnswerParseError(f"row {r} is empty", fix=MATRIX_FIX)
        try:
            arrays.append(_to_array(row, MATRIX_FIX))
        except AnswerParseError as exc:
            raise AnswerParseError(f"row {r}, {exc.message}", fix=exc.fix) from None
        if len(arrays[-1]) != len(arrays[0]):
            raise AnswerParseError(
                f"row {r} has {_entries(len(arrays[-1]))} but row 1 has {_entries(len(arrays[0]))}",
                fix="every row needs the same number of entries")
    return np.vstack(arrays)


# --------------------------------------------------------------------------- shapes

_SHAPE_SEP = re.compile(r"\s*[xX*,;]\s*|\s+")
_DIGITS = re.compile(r"[0-9]{1,16}")


def _dim(entry: Any, i: int) -> int:
    """One positive whole dimension."""
    if isinstance(entry, str) and _DIGITS.fullmatch(entry.strip()):
        n = int(entry)
    elif isinstance(entry, (int, np.integer)) and not isinstance(entry, (bool, np.bool_)):
        n = int(entry)
    elif isinstance(entry, (float, np.floating)) and float(entry).is_integer():
        n = int(entry)
    elif isinstance(entry, str) and not entry.strip():
        raise AnswerParseError(f"dimension {i} is empty", fix=SHAPE_FIX)
    else:
        raise AnswerParseError(f"dimension {i} ({_show(entry)}) is not a whole number",
                               fix=SHAPE_FIX)
    if n <= 0:
        raise AnswerParseError(f"dimension {i} is {n}, but dimensions must be positive",
                               fix=SHAPE_FIX)
    if n > MAX_ABS:
        raise AnswerParseError(f"dimension {i}: {TOO_LARGE}", fix=SHAPE_FIX)
    return n


def parse_shape(value: Any) -> tuple[int, ...]:
    """A shape from '16x21x21', '16 × 21 × 21', '(16, 21, 21)', '16*21*21', a list, or one int."""
    if value is None:
        raise _missing()
    if isinstance(value, str):
        body = _text_body(value.translate(_NORMALIZE))  # '×' becomes '*', also a separator
        parts: list[Any] = _SHAPE_SEP.split(body)
        if len(parts) > 1 and body.endswith(","):  # Python's one-element tuple: (16,)
            parts.pop()
    elif isinstance(value, (list, tuple)):
        if not value:
            raise _missing()
        parts = list(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        parts = [value]
    else:
        raise AnswerParseError(f"expected a shape, got {_describe(value)}", fix=SHAPE_FIX)
    if len(parts) > MAX_DIMS:
        raise AnswerParseError(f"too many dimensions (> {MAX_DIMS})", fix=SHAPE_FIX)
    return tuple(_dim(p, i) for i, p in enumerate(parts, 1))


# --------------------------------------------------------------------------- choices, booleans, text

# "None of the options" is written out; an empty blank is a skip, never a claim that none is right.
_NONE_WORDS = frozenset({"none", "nothing", "-", "--"})
_BLANK_WORDS = frozenset({"", "[]", "()", "{}"})
_CHOICE_SEPARATORS = frozenset(" \t\r\n,;/+&|'\"[](){}")


def _option_range(n_options: int) -> str:
    """'A to D' (or 'A' for one option)."""
    return "A" if n_options == 1 else f"A to {chr(64 + n_options)}"


def _letters(text: str, n_options: int) -> set[str]:
    """Option letters in `text`, upper-cased; a letter past the last option is an error."""
    _check_len(text, MAX_EXPR_CHARS)
    stripped = text.strip()
    word = stripped.translate(_NORMALIZE).lower()
    if word in _BLANK_WORDS:
        raise _missing()
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
                f"could not read {_show(stripped)} as options: unexpected {ch!r} at position {pos}",
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
        raise _missing()
    if isinstance(value, str):
        return frozenset(_letters(value, n_options))
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise AnswerParseError(f"expected option letters such as 'AC', got {_describe(value)}",
                               fix=f"write letters from {_option_range(n_options)}")
    if len(value) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    letters: set[str] = set()
    answered = False
    for i, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise AnswerParseError(f"entry {i} ({_show(item)}) is not an option letter",
                                   fix=f"write letters from {_option_range(n_options)}")
        try:
            letters |= _letters(item, n_options)
        except MissingAnswer:
            continue
        answered = True
    if not answered:  # [] or only blank entries: skipped, as an empty blank is
        raise _missing()
    return frozenset(letters)


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def parse_bool(value: Any) -> bool:
    """True/false from YAML bools, 0/1, or text true/false, yes/no, y/n, t/f, 1/0."""
    if value is None:
        raise _missing()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        raise AnswerParseError(f"expected true or false, got {_show(value)}", fix=BOOL_FIX)
    word = value.strip().lower()
    if not word:
        raise _missing()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise AnswerParseError(f"could not read {_show(value.strip())} as true or false", fix=BOOL_FIX)


def parse_text(value: Any) -> str:
    """Free text, stripped; a YAML number or bool is turned back into its text."""
    if value is None:
        raise _missing()
    if isinstance(value, bool):  # YAML reads an unquoted yes/no as a bool
        return "true" if value else "false"
    if _is_number(value):
        return str(value)
    if not isinstance(value, str):
        raise AnswerParseError(f"expected text, got {_describe(value)}",
                               fix="write the answer as plain text")
    _check_len(value, MAX_TEXT_CHARS)
    text = value.strip()
    if not text:
        raise _missing()
    return text


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "number": parse_number, "vector": parse_vector, "matrix": parse_matrix,
    "shape": parse_shape, "bool": parse_bool, "text": parse_text,
}


def _holds_surrogate(value: Any, budget: int = MAX_ENTRIES) -> bool:
    """True if a string in `value` (or in its lists and mappings, to a bounded count) holds a lone surrogate."""
    stack = [value]
    while stack and budget > 0:
        item = stack.pop()
        budget -= 1
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return True
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def parse_answer(value: Any, kind: str, *, n_options: int | None = None) -> Any:
    """Parse `value` as an answer of `kind` (one of KINDS); choice needs n_options."""
    if _holds_surrogate(value):
        raise AnswerParseError("the answer holds a lone surrogate escape (such as \\ud800), which is not text",
                               fix="retype the answer as plain characters")
    if kind == "choice":
        if n_options is None:
            raise ValueError("parse_answer(kind='choice') needs n_options")
        return parse_choices(value, n_options)
    try:
        parser = _PARSERS[kind]
    except KeyError:
        raise ValueError(f"unknown answer kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return parser(value)
