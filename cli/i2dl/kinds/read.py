"""The shared reader of what students write: a number or arithmetic expression, a list of entries.

A hand-written tokenizer and recursive-descent evaluator: nothing is ever eval'd. Arithmetic is
float64 throughout, so no input can build a huge integer (9**9**9 overflows at once instead of
hanging). `log` and `ln` are the natural logarithm; `log10` and `log2` are the other bases;
`sigma`/`sigmoid` is the logistic function; angles are in radians; `^` and `**` are powers.

Every failure is an AnswerParseError whose message a student can act on; a blank answer is
the subclass MissingAnswer, so grading can say "no answer" rather than "invalid". Each kind's
module (number, vector, matrix, ...) reads its own form with these pieces.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from i2dl.errors import AnswerParseError
from i2dl.io import SourceList, has_lone_surrogate

MAX_EXPR_CHARS = 500
MAX_TEXT_CHARS = 20_000  # a whole vector, matrix or free-text answer
MAX_DEPTH = 50
MAX_ABS = 1e15
MAX_ENTRIES = 10_000
MAX_DIMS = 16

NUMBER_FIX = "write a number such as 0.52, 27/9 or 1e-3, or an expression such as -log(0.35)"


class MissingAnswer(AnswerParseError):
    """No answer was given (None, a blank, an empty list): "no answer", not "invalid"."""


class _Reject(Exception):
    """Why an expression cannot be read; wrapped into an AnswerParseError with the text."""


TOO_LARGE = "number too large (|x| > 1e15)"
NON_FINITE = "NaN and infinity are not accepted"


def missing() -> MissingAnswer:
    """The error for a blank answer."""
    return MissingAnswer("no answer given", fix="fill in the blank to get credit for it")


def show(value: Any, limit: int = 40) -> str:
    """A short form of what the student wrote, for messages: text quoted, other values as is."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text) if isinstance(value, str) else text


def describe(value: Any) -> str:
    """What a non-answer YAML value is, in words."""
    if isinstance(value, dict):
        return "a mapping (key: value pairs)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return f"a value of type {type(value).__name__}"


def is_real(value: Any) -> bool:
    """A real number given directly (YAML int/float, numpy scalar), bools excluded."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def check_len(text: str, limit: int, what: str = "answer") -> None:
    """Bound the work any input can cause."""
    if len(text) > limit:
        raise AnswerParseError(f"{what} too long (> {limit} characters)", fix="shorten it")


# --------------------------------------------------------------------------- expressions

# Characters students paste from slides or word processors, mapped one-to-one so error
# positions still point at what they wrote.
NORMALIZE = str.maketrans({
    "\u2212": "-", "\u2013": "-", "\u2012": "-", "\u2010": "-", "\u2011": "-", "\ufe63": "-",
    "\uff0d": "-", "\u00d7": "*", "\u22c5": "*", "\u00b7": "*", "\u2217": "*", "\u00f7": "/",
    "\u2215": "/",
})
_COMMA_NUMBER = re.compile(r"(?<![0-9.,])[0-9]+,[0-9]+(?![0-9,])")
_GROUPED = re.compile(r"[0-9]+(?:,[0-9]+){2,}")
_THOUSANDS = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")  # '1,000': one thousand, or one to three decimals?
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

    def __init__(self, tokens: list[_Token], symbols: dict[str, float] | None = None) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.symbols = symbols or {}  # a formula's named symbols and their values at one point

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

    def terms(self) -> list[float]:
        """The signed values of the top-level terms of the whole text: '3*3*16 + 16' -> [144, 16]."""
        values = [self.term()]
        while self.at_op("+", "-"):
            op = self.take().text
            term = self.term()
            values.append(term if op == "+" else -term)
        tok = self.peek()
        if tok.kind != "end":
            raise self.after_value(tok)
        return values

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
        if tok.text in self.symbols:
            return self.symbols[tok.text]
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


_PLAIN = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
# '5x5', '16 x 7 x 7', '(2)x3': an x between two factors is a product, as written on paper.
_PRODUCT_X = re.compile(r"(?<=[0-9.)])(\s*)[xX](?=\s*[0-9.(])")


def _products(text: str) -> str:
    """Text with paper notation made parseable: '×' and '·' as '*', and an x between factors too (same length)."""
    return _PRODUCT_X.sub(lambda m: m.group(1) + "*", text.strip().translate(NORMALIZE))


def _decimal_commas(norm: str) -> str:
    """One value's text with its commas read as decimal commas; _Reject where a comma may group digits."""
    if _GROUPED.search(norm):
        raise _Reject(f"{_GROUPED.search(norm).group()!r} groups digits with ',' (a thousands separator)")
    for match in _COMMA_NUMBER.finditer(norm):
        if _THOUSANDS.fullmatch(match.group()):
            raise _Reject(f"{match.group()!r} may be a decimal comma or a thousands separator")
    # A number holds one value and functions take one argument, so a comma between digits is a
    # decimal comma: '0,52', '2 x 0,5'.
    return _TIGHT_COMMA.sub(".", norm)


def uses_paper_notation(text: Any) -> bool:
    """True for text read by a paper convention (a decimal comma, an x between factors), worth saying how."""
    return isinstance(text, str) and len(text) <= MAX_EXPR_CHARS and bool(
        _TIGHT_COMMA.search(text) or _PRODUCT_X.search(text))


def _number_from_text(text: str) -> float:
    """Evaluate a student's number or expression text."""
    check_len(text, MAX_EXPR_CHARS, "expression")
    stripped = text.strip()
    if not stripped:
        raise missing()
    if _PLAIN.fullmatch(stripped):  # most answers are plain numbers: read them without the parser
        try:
            return _in_range(_finite(float(stripped)))  # 1e999 is too large, as the parser says
        except _Reject as exc:
            raise AnswerParseError(f"could not read {show(stripped)} as a number: {exc}", fix=NUMBER_FIX) from None
    try:
        return _in_range(_Parser(_tokenize(_decimal_commas(_products(stripped)))).parse())
    except _Reject as exc:
        raise AnswerParseError(f"could not read {show(stripped)} as a number: {exc}",
                               fix=NUMBER_FIX) from None


# --------------------------------------------------------------------------- formulas in named symbols

FORMULA_FIX = "write a formula in the named symbols with * for products, e.g. 2*(y - t) or sigma(x)*(1 - sigma(x))"


def formula_names(text: str) -> tuple[set[str], set[str]]:
    """(the symbols, the functions called) in a formula's text; AnswerParseError if it cannot be tokenized."""
    check_len(text, MAX_EXPR_CHARS, "formula")
    try:
        tokens = _tokenize(_products(text))
    except _Reject as exc:
        raise AnswerParseError(f"could not read {show(text)} as a formula: {exc}", fix=FORMULA_FIX) from None
    symbols, calls = set(), set()
    for tok, nxt in zip(tokens, tokens[1:], strict=False):
        if tok.kind != "name":
            continue
        key = tok.text.lower()
        if key in _FUNCTIONS and nxt.text == "(":
            calls.add(key)
        elif key not in _CONSTANTS:
            symbols.add(tok.text)
    return symbols, calls


def evaluate_formula(text: str, values: dict[str, float]) -> float:
    """The formula's value with its symbols set to `values`; AnswerParseError if it has none there."""
    try:
        return _in_range(_Parser(_tokenize(_products(text)), values).parse())
    except _Reject as exc:
        raise AnswerParseError(f"could not evaluate {show(text)}: {exc}", fix=FORMULA_FIX) from None


def additive_terms(text: str) -> list[float] | None:
    """The values of the terms a student summed ('512x10 + 10' -> [5120, 10]); None if not readable."""
    if not isinstance(text, str) or len(text) > MAX_EXPR_CHARS:
        return None
    try:
        return [_in_range(t) for t in _Parser(_tokenize(_decimal_commas(_products(text)))).terms()]
    except _Reject:
        return None


def parse_number(value: Any) -> float:
    """A number from text (decimal comma, fraction, expression) or a YAML int/float."""
    if isinstance(value, str):
        return _number_from_text(value)
    if value is None:
        raise missing()
    if not is_real(value):
        raise AnswerParseError(f"expected a number, got {describe(value)}", fix=NUMBER_FIX)
    try:
        return _in_range(float(value))
    except OverflowError:  # an int beyond float range
        raise AnswerParseError(TOO_LARGE, fix=NUMBER_FIX) from None
    except _Reject as exc:
        raise AnswerParseError(str(exc), fix=NUMBER_FIX) from None


# --------------------------------------------------------------------------- lists of entries

PAIRS = {"[": "]", "(": ")"}


def unwrap(text: str) -> str:
    """`text` without one pair of enclosing brackets, when the first closes at the very end."""
    if len(text) < 2 or text[0] not in PAIRS or text[-1] != PAIRS[text[0]]:
        return text
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "[("
        depth -= ch in ")]"
        if depth == 0:
            return text[1:-1].strip() if i == len(text) - 1 else text
    return text


# A comma with a digit on both sides ('0,5') may be a decimal comma; one followed by a space is not.
_TIGHT_COMMA = re.compile(r"(?<=[0-9]),(?=[0-9])")
AMBIGUOUS_COMMAS = ("',' is used both between entries and inside numbers (a decimal comma?), so the "
                    "entries cannot be told apart")
COMMA_FIX = "separate entries with ';' when numbers have decimal commas ([2; -0,5]), or use decimal points ([2, -0.5])"


_ONE_DECIMAL = re.compile(r"\s*[-+\u2212]?[0-9]+,[0-9]+\s*")


def split_entries(body: str, one_entry: bool = False) -> list[str]:
    """Entries separated by ';', else ',', else whitespace (so '1 -2 3' is three entries).

    With ';' as the separator a comma is a decimal comma, and so it is in '0,5' where the key has one
    entry (`one_entry`). Otherwise commas must all be alike:
    '1,2,3' and '1, 2, 3' are three entries, but '2, -0,5' or '0,5 1,5' mix the two uses and are
    refused rather than guessed.
    """
    if ";" in body:
        return [p.strip() for p in body.split(";")]
    if one_entry and _ONE_DECIMAL.fullmatch(body):  # the key has one entry here: '0,5' is 0.5
        return [body.strip()]
    if "," in body:
        tight = len(_TIGHT_COMMA.findall(body))
        spaced = len(re.findall(r",\s", body))
        entries = [p.strip() for p in body.split(",")]
        # '0 -0,1' could be 0 - 0 and 1, or 0 and -0.1: with a decimal-looking comma, any space is suspect.
        if tight and (spaced or any(len(e.split()) > 1 for e in entries)):
            raise AnswerParseError(AMBIGUOUS_COMMAS, fix=COMMA_FIX)
        return entries
    return body.split()


def as_written(value: Any) -> Any:
    """A YAML flow list as the text the student typed where YAML may have split a number or an
    entry ([2, -0,5] is two entries or none, not YAML's three; [0; 1] and [0 -1] two, not one); others
    as YAML read them (quoted items, .nan, nested lists)."""
    if (isinstance(value, SourceList) and not any(q in value.source for q in "\"'")
            and (";" in value.source or _TIGHT_COMMA.search(value.source)
                 or any(isinstance(v, str) and len(v.split()) > 1 for v in value))):
        return value.source
    return value


def to_array(entries: list[Any], fix: str) -> np.ndarray:
    """Numbers from a flat list of entries, naming the entry that fails."""
    if not entries:
        raise missing()
    if len(entries) > MAX_ENTRIES:
        raise AnswerParseError(f"too many entries (> {MAX_ENTRIES})", fix="shorten it")
    out = []
    for i, entry in enumerate(entries, 1):
        if isinstance(entry, (list, tuple, dict, np.ndarray)):
            raise AnswerParseError(f"entry {i} is {describe(entry)}, expected a number", fix=fix)
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            raise AnswerParseError(f"entry {i} is empty", fix=fix)
        try:
            out.append(parse_number(entry))
        except AnswerParseError as exc:
            raise AnswerParseError(f"entry {i}: {exc.message}", fix=exc.fix) from None
    return np.array(out, dtype=np.float64)


def text_body(text: str) -> str:
    """The stripped text without enclosing brackets; blank means no answer."""
    check_len(text, MAX_TEXT_CHARS)
    body = unwrap(text.strip())
    if not body:
        raise missing()
    return body


def holds_surrogate(value: Any, budget: int = MAX_ENTRIES) -> bool:
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


