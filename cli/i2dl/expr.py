"""A small safe expression language: arithmetic and whitelisted functions, never Python eval.

Text is parsed with `ast.parse(mode="eval")` and converted, node by node against a whitelist,
into a tiny tree of `Const`, `Name`, `Call`, `Seq` and `Dict` nodes. Operators become calls
(`a + b` is `Call("add", a, b)`), so evaluation, differentiation and rendering walk one kind of
node. Nothing from the text ever reaches `eval`, `exec` or an attribute lookup.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from typing import Any, Union

from i2dl.errors import ExprError

MAX_LENGTH = 2000
MAX_DEPTH = 60


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class Seq:
    """A list literal `[a, b, c]`: evaluates to an array when numeric, else a list."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Dict:
    """A dict literal with string keys, e.g. a layer description `{"type": "conv2d", "k": 3}`."""

    items: tuple[tuple[str, Node], ...]


Node = Union[Const, Name, Call, Seq, Dict]  # noqa: UP007 - a runtime alias of dataclasses

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv",
    ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
}
_UNARY = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not_"}
_COMPARE = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_BOOL = {ast.And: "and_", ast.Or: "or_"}


@dataclass
class Parsed:
    """A parsed expression with its source text and the free names it reads."""

    text: str
    node: Node
    names: frozenset[str] = field(default_factory=frozenset)


#: Parsed texts: templates and feedback are parsed again for every instance otherwise.
_PARSED: dict[str, Parsed] = {}
_PARSED_MAX = 8192


def parse(text: str, *, where: str | None = None) -> Parsed:
    """The expression tree of `text`, or an ExprError that says where and why."""
    hit = _PARSED.get(text) if isinstance(text, str) else None
    if hit is not None:
        return hit
    parsed = _parse(text, where)
    if isinstance(text, str) and len(_PARSED) < _PARSED_MAX:  # bounded: a long session parses student text too
        _PARSED[text] = parsed
    return parsed


def _parse(text: str, where: str | None) -> Parsed:
    if not isinstance(text, str):
        if isinstance(text, bool) or isinstance(text, (int, float)):
            return Parsed(str(text), Const(text), frozenset())
        raise ExprError(f"expected an expression string, got {type(text).__name__}", where=where)
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters", where=where)
    try:
        tree = ast.parse(_caret_as_power(text.strip()), mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        raise ExprError(
            f"cannot parse '{text}': {exc.msg} at column {col + 1}",
            where=where, fix="check brackets and operators; use ** or ^ for powers",
        ) from None
    node = _convert(tree.body, text, where, 0)
    return Parsed(text, node, frozenset(free_names(node)))


def _caret_as_power(text: str) -> str:
    """`^` operator tokens as `**`, so `a * b^2` is `a * (b ** 2)` with the power's precedence.

    Python parses `^` as xor, which binds more loosely than `+` and `*`; string literals keep
    their `^`. Text that does not tokenize is returned as is (ast.parse then reports the error).
    """
    if "^" not in text:
        return text
    try:
        toks = [(t.type, "**" if t.type == tokenize.OP and t.string == "^" else t.string)
                for t in tokenize.generate_tokens(io.StringIO(text).readline)]
    except (tokenize.TokenError, SyntaxError):
        return text
    return tokenize.untokenize(toks).strip()


def _convert(n: ast.AST, text: str, where: str | None, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise ExprError("expression nested too deeply", where=where)
    d = depth + 1

    def conv(x: ast.AST) -> Node:
        return _convert(x, text, where, d)

    if isinstance(n, ast.Constant):
        if isinstance(n.value, (int, float, str, bool)) or n.value is None:
            return Const(n.value)
        raise ExprError(f"unsupported constant {n.value!r} in '{text}'", where=where)
    if isinstance(n, ast.Name):
        if n.id.startswith("_"):
            raise ExprError(f"names may not start with '_': '{n.id}'", where=where)
        return Name(n.id)
    if isinstance(n, ast.BinOp) and type(n.op) in _BINOPS:
        # '^' is xor in Python; exams write it for powers.
        return Call(_BINOPS[type(n.op)], (conv(n.left), conv(n.right)))
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitXor):
        return Call("pow", (conv(n.left), conv(n.right)))
    if isinstance(n, ast.UnaryOp) and type(n.op) in _UNARY:
        operand = conv(n.operand)
        if isinstance(n.op, ast.USub) and isinstance(operand, Const) and isinstance(operand.value, (int, float)):
            return Const(-operand.value)
        return Call(_UNARY[type(n.op)], (operand,))
    if isinstance(n, ast.Compare):
        parts = []
        left = conv(n.left)
        for op, right_ast in zip(n.ops, n.comparators, strict=False):
            if type(op) not in _COMPARE:
                raise ExprError(f"unsupported comparison in '{text}'", where=where)
            right = conv(right_ast)
            parts.append(Call(_COMPARE[type(op)], (left, right)))
            left = right
        return parts[0] if len(parts) == 1 else Call("and_", tuple(parts))
    if isinstance(n, ast.BoolOp):
        return Call(_BOOL[type(n.op)], tuple(conv(v) for v in n.values))
    if isinstance(n, ast.IfExp):
        return Call("where", (conv(n.test), conv(n.body), conv(n.orelse)))
    if isinstance(n, ast.Call):
        if not isinstance(n.func, ast.Name):
            raise ExprError(f"only plain function names can be called in '{text}'", where=where)
        if any(isinstance(a, ast.Starred) for a in n.args) or any(k.arg is None for k in n.keywords):
            raise ExprError(f"* and ** arguments are not supported in '{text}'", where=where)
        return Call(n.func.id, tuple(conv(a) for a in n.args),
                    tuple((k.arg, conv(k.value)) for k in n.keywords))
    if isinstance(n, (ast.List, ast.Tuple)):
        return Seq(tuple(conv(e) for e in n.elts))
    if isinstance(n, ast.Dict):
        items = []
        for k, v in zip(n.keys, n.values, strict=False):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise ExprError(f"dict keys must be strings in '{text}'", where=where)
            items.append((k.value, conv(v)))
        return Dict(tuple(items))
    if isinstance(n, ast.Subscript):
        return Call("index", (conv(n.value), _convert_index(n.slice, conv, text, where)))
    if isinstance(n, ast.Attribute) and n.attr == "T":
        return Call("transpose", (conv(n.value),))
    raise ExprError(
        f"'{ast.unparse(n)}' is not allowed in expressions",
        where=where, fix="use arithmetic, comparisons, lists, indexing and the listed functions",
    )


def _convert_index(s: ast.AST, conv, text: str, where: str | None) -> Node:
    if isinstance(s, ast.Tuple):
        return Seq(tuple(_convert_index(e, conv, text, where) for e in s.elts))
    if isinstance(s, ast.Slice):
        parts = [conv(p) if p is not None else Const(None) for p in (s.lower, s.upper, s.step)]
        return Call("slice_", tuple(parts))
    return conv(s)


def free_names(node: Node) -> set[str]:
    """The names an expression reads (function names excluded)."""
    if isinstance(node, Name):
        return {node.id}
    if isinstance(node, Call):
        out: set[str] = set()
        for a in node.args:
            out |= free_names(a)
        for _, v in node.kwargs:
            out |= free_names(v)
        return out
    if isinstance(node, Seq):
        return set().union(*(free_names(i) for i in node.items)) if node.items else set()
    if isinstance(node, Dict):
        return set().union(*(free_names(v) for _, v in node.items)) if node.items else set()
    return set()


def called_functions(node: Node) -> set[str]:
    """The function names an expression calls."""
    if isinstance(node, Call):
        out = {node.fn}
        for a in node.args:
            out |= called_functions(a)
        for _, v in node.kwargs:
            out |= called_functions(v)
        return out
    if isinstance(node, Seq):
        return set().union(*(called_functions(i) for i in node.items)) if node.items else set()
    if isinstance(node, Dict):
        return set().union(*(called_functions(v) for _, v in node.items)) if node.items else set()
    return set()


_INFIX = {v: k for k, v in {
    "+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow", "@": "matmul",
    "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}.items()}


def node_text(node: Node, limit: int = 80) -> str:
    """The expression of `node` written back as text (shortened to `limit` characters), for messages."""
    text = _text(node)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _text(node: Node) -> str:
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Seq):
        return "[" + ", ".join(_text(i) for i in node.items) + "]"
    if isinstance(node, Dict):
        return "{" + ", ".join(f"{k!r}: {_text(v)}" for k, v in node.items) + "}"
    if node.fn in _INFIX and len(node.args) == 2:
        left, right = (_text(a) if not (isinstance(a, Call) and a.fn in _INFIX) else f"({_text(a)})"
                       for a in node.args)
        return f"{left} {_INFIX[node.fn]} {right}"
    if node.fn == "neg" and len(node.args) == 1:
        return f"-{_text(node.args[0])}"
    if node.fn == "transpose" and len(node.args) == 1:
        return f"{_text(node.args[0])}.T"
    if node.fn == "index" and len(node.args) == 2:
        return f"{_text(node.args[0])}[{_text(node.args[1])}]"
    args = [_text(a) for a in node.args] + [f"{k}={_text(v)}" for k, v in node.kwargs]
    return f"{node.fn}({', '.join(args)})"
