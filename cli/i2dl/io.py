"""Safe file I/O: guarded YAML/JSON loading with line marks, deterministic dumps, atomic writes.

Every loader error is raised as the caller's error class (SpecError by default; grading passes
SubmissionError) and says where (file:line:col), what was expected, and how to fix it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from json.decoder import scanstring
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, ScalarEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from i2dl.errors import I2dlError, NotFoundError, SpecError, UsageError

KeyPath = tuple[Any, ...]
ErrorClass = type[I2dlError]
PathLike = str | os.PathLike[str]

MAX_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_NODES = 100_000
#: A long scalar costs one extra node per this many characters, so aliasing one long string
#: many times cannot multiply memory (or a later dump) behind a small node count.
CHARS_PER_NODE = 1000
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Limit(Exception):
    """A guard tripped while reading; carries the 1-based line and column of the offender."""

    def __init__(self, message: str, fix: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message, self.fix, self.line, self.col = message, fix, line, col


def _mark_limit(message: str, fix: str, mark: Any) -> _Limit:
    """A _Limit at a PyYAML mark (0-based line and column)."""
    return _Limit(message, fix, mark.line + 1, mark.column + 1)


def _too_deep(max_depth: int) -> str:
    """The message for nesting beyond the cap."""
    return f"nesting is deeper than {max_depth} levels"


_DEEP_FIX = "flatten the structure; no spec or submission needs this much nesting"


# --------------------------------------------------------------------------- YAML

try:
    from yaml.cyaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None

#: Parse YAML with libyaml when PyYAML has it (several times faster). Data and errors are the
#: same as with the pure-Python parser, which is the fallback; tests switch this off to cover it.
USE_LIBYAML = _CParser is not None
#: libyaml's composer recurses in C without a depth check (about 25,000 nesting levels overflow
#: an 8 MB stack and kill the process) and builds every node before the guards can look. So a
#: text is composed in C only if it holds at most this many of the characters '[{-:?,': every
#: collection, and every node but the root, hangs on one of them (a few nodes per character at
#: most), which bounds both the C recursion and the nodes built. Other texts are composed in
#: Python from libyaml's events, with the guards checked as each node is composed.
C_COMPOSE_MAX_INDICATORS = 2000
_INDICATORS = "[{-:?,"


class _GuardedComposer(Composer):
    """Composer that bounds depth, counts nodes (an alias at its expanded size) and rejects duplicate keys.

    Mixed into a loader with the pure-Python parser (_GuardedLoader) or libyaml's (_CEventLoader);
    the guards see the same events either way.
    """

    def _start_guards(self, max_depth: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.depth = 0
        self.total = 0
        # Expanded size and collection height of every finished node: an alias is charged what
        # it would cost if copied, so a billion-laughs document fails after a few hundred events.
        self.sizes: dict[Node, int] = {}
        self.heights: dict[Node, int] = {}
        self.key_values: dict[Node, Any] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        """Compose one node, charging it (or the alias's expansion) against the caps."""
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is reported by the base class
                self._charge_alias(event.anchor, target, event.start_mark)
            return super().compose_node(parent, index)
        nested = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if nested:
            self.depth += 1
            if self.depth > self.max_depth:
                raise _mark_limit(_too_deep(self.max_depth), _DEEP_FIX, event.start_mark)
        before = self.total
        extra = len(event.value) // CHARS_PER_NODE if isinstance(event, ScalarEvent) else 0
        self._charge(1 + extra, event.start_mark)
        node = super().compose_node(parent, index)
        if nested:
            self.depth -= 1
        self.sizes[node] = self.total - before
        self.heights[node] = self._height(node)
        return node

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        """Compose a mapping and reject a key that occurs twice (PyYAML would keep the last)."""
        node = super().compose_mapping_node(anchor)
        _check_duplicate_keys(node, self.key_value)
        return node

    def _charge(self, cost: int, mark: Any) -> None:
        """Add `cost` nodes; fail as soon as the budget is exceeded."""
        self.total += cost
        if self.total > self.max_nodes:
            raise _mark_limit(_too_many(self.max_nodes), _MANY_FIX, mark)

    def _charge_alias(self, anchor: str, target: Node, mark: Any) -> None:
        """Charge an alias the expanded size and height of the node it repeats."""
        if target not in self.sizes:
            raise _mark_limit(
                f"alias '*{anchor}' is used inside the block it names (a recursive structure)",
                "an alias may only repeat a block that is already complete",
                mark,
            )
        if self.depth + self.heights[target] > self.max_depth:
            raise _mark_limit(_too_deep(self.max_depth), _DEEP_FIX, mark)
        self._charge(self.sizes[target], mark)

    def _height(self, node: Node) -> int:
        """Collection levels in `node`, its children's heights already known."""
        if isinstance(node, SequenceNode):
            return 1 + max((self.heights[c] for c in node.value), default=0)
        if isinstance(node, MappingNode):
            return 1 + max((self.heights[c] for pair in node.value for c in pair), default=0)
        return 0

    def key_value(self, key_node: Node) -> Any:
        """The constructed value of a scalar mapping key."""
        if key_node not in self.key_values:
            self.key_values[key_node] = self.construct_object(key_node, deep=True)
        return self.key_values[key_node]


class _GuardedLoader(_GuardedComposer, yaml.SafeLoader):
    """The pure-Python reader, scanner and parser, guarded composer, SafeConstructor."""

    def __init__(self, text: str, max_depth: int, max_nodes: int) -> None:
        yaml.SafeLoader.__init__(self, text)  # its reader rejects control characters
        self._start_guards(max_depth, max_nodes)


if _CParser is not None:

    class _CEventLoader(_GuardedComposer, _CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser, guarded composer (in Python), SafeConstructor."""

        def __init__(self, text: str, max_depth: int, max_nodes: int) -> None:
            _CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)
            self._start_guards(max_depth, max_nodes)


def _too_many(max_nodes: int) -> str:
    """The message for a document over the node cap."""
    return f"document has more than {max_nodes:,} nodes once aliases are expanded"


_MANY_FIX = "remove anchors/aliases (&name / *name) that repeat large blocks, or split the file"


def _check_duplicate_keys(node: MappingNode, key_value: Any) -> None:
    """Raise for a scalar key that occurs twice in `node` (merge keys `<<` aside)."""
    seen: dict[Any, Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = key_value(key_node)
        try:
            first = seen.get(key)
        except TypeError:  # unhashable keys are reported by the constructor
            continue
        if first is not None:
            raise _mark_limit(
                f"duplicate key {key!r} (first defined at line {first.start_mark.line + 1})",
                "keep one entry: YAML would silently drop the first value",
                key_node.start_mark,
            )
        seen[key] = key_node


class _GraphRejected(Exception):
    """The guard walk over a libyaml node graph failed; the text is re-read to say where."""


def _check_graph(root: Node, key_value: Any, max_depth: int, max_nodes: int) -> None:
    """The guards of _GuardedComposer, as one walk over a composed node graph.

    An alias is a second visit to a node: memoised, it costs the node's expanded size and
    height without expanding it, and a visit to a node still being walked is a recursive alias.
    Nodes are visited in document order, so the running total is the one the composer keeps.
    """
    sizes: dict[Node, int] = {}
    heights: dict[Node, int] = {}
    total = 0

    def visit(node: Node, depth: int) -> int:
        """Charge `node` (walking it the first time) and return its collection height."""
        nonlocal total
        height = heights.get(node)
        if height is not None:  # an alias of a finished node
            if depth + height > max_depth:
                raise _GraphRejected
            total += sizes[node]
        elif node in sizes:  # an alias inside the node it names
            raise _GraphRejected
        else:
            before = total
            value = node.value
            if type(node) is ScalarNode:
                total += 1 + len(value) // CHARS_PER_NODE
                height = 0
            else:
                if depth >= max_depth:
                    raise _GraphRejected
                total += 1
                sizes[node] = -1  # being walked
                below = 0
                if type(node) is SequenceNode:
                    for child in value:
                        below = max(below, visit(child, depth + 1))
                else:
                    for key_node, value_node in value:
                        below = max(below, visit(key_node, depth + 1), visit(value_node, depth + 1))
                    _check_duplicate_keys(node, key_value)
                height = 1 + below
            sizes[node] = total - before
            heights[node] = height
        if total > max_nodes:
            raise _GraphRejected
        return height

    try:
        visit(root, 0)
    finally:
        visit = None  # a recursive closure refers to itself: unbound, the nodes it holds are freed at once


def _load_composed_in_c(text: str, max_depth: int, max_nodes: int, want_marks: bool,
                        text_keys: frozenset[str] = frozenset(), flow_text: bool = False
                        ) -> tuple[Any, dict[KeyPath, int]] | None:
    """Compose in C, guard-walk the graph, then construct; None if anything fails before that.

    A failure is left to the event-by-event path, which reports the same error, with the
    same position, as the pure-Python parser (aliases, for one, leave no mark in the graph).
    """
    loader = yaml.CSafeLoader(text)
    key_values: dict[Node, Any] = {}

    def key_value(key_node: Node) -> Any:
        if key_node not in key_values:
            key_values[key_node] = loader.construct_object(key_node, deep=True)
        return key_values[key_node]

    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            _check_graph(node, key_value, max_depth, max_nodes)
        except (_GraphRejected, _Limit, yaml.YAMLError, ValueError, OverflowError, RecursionError):
            return None
        data = loader.construct_document(node)  # SafeConstructor: plain data only
        _keep_source_text(node, data, text_keys)
        if flow_text:
            data = _keep_flow_text(node, data, text, key_value)
        return data, _yaml_marks(node, key_value) if want_marks else {}
    finally:
        loader.dispose()


def _load_guarded(text: str, max_depth: int, max_nodes: int, want_marks: bool,
                  text_keys: frozenset[str] = frozenset(), flow_text: bool = False
                  ) -> tuple[Any, dict[KeyPath, int]]:
    """Compose with the guards checked event by event, then construct.

    A text libyaml refuses is read again by the pure-Python parser, so that what the user is
    told (which guard tripped, where, and the problem) never depends on libyaml's own limits
    and wording: libyaml scans flow collections ahead and stops at its own depth limit before
    the guards see an event.
    """
    if USE_LIBYAML:
        try:
            return _compose_and_construct(_CEventLoader(text, max_depth, max_nodes), want_marks, text_keys,
                                          text if flow_text else None)
        except yaml.YAMLError:
            pass
    return _compose_and_construct(_GuardedLoader(text, max_depth, max_nodes), want_marks, text_keys,
                                  text if flow_text else None)


def _compose_and_construct(loader: _GuardedComposer, want_marks: bool, text_keys: frozenset[str],
                           flow_source: str | None = None) -> tuple[Any, dict[KeyPath, int]]:
    """One document's data and marks from a guarded loader, which is disposed of after."""
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        data = loader.construct_document(node)  # SafeConstructor: plain data only
        _keep_source_text(node, data, text_keys)
        if flow_source is not None:
            data = _keep_flow_text(node, data, flow_source, loader.key_value)
        return data, _yaml_marks(node, loader.key_value) if want_marks else {}
    finally:
        loader.dispose()


def _load_yaml_data(text: str, max_depth: int, max_nodes: int, want_marks: bool,
                    text_keys: frozenset[str] = frozenset(), flow_text: bool = False
                    ) -> tuple[Any, dict[KeyPath, int]]:
    """Data and key-path lines of a YAML text, by the fastest safe route."""
    if USE_LIBYAML:
        yaml.reader.Reader(text)  # the pure-Python reader's check for control characters
        if sum(map(text.count, _INDICATORS)) <= C_COMPOSE_MAX_INDICATORS:
            loaded = _load_composed_in_c(text, max_depth, max_nodes, want_marks, text_keys, flow_text)
            if loaded is not None:
                return loaded
    return _load_guarded(text, max_depth, max_nodes, want_marks, text_keys, flow_text)


_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"


def _keep_source_text(root: Node, data: Any, text_keys: frozenset[str]) -> None:
    """Top-level `text_keys` whose value is a scalar get the text as written (no YAML 1.1 retyping).

    An unquoted 012345 stays '012345' instead of the octal 5349; null (an empty value) stays None.
    """
    if not text_keys or not isinstance(root, MappingNode) or not isinstance(data, dict):
        return
    for key_node, value_node in root.value:
        if (isinstance(key_node, ScalarNode) and key_node.tag == _STR_TAG and key_node.value in text_keys
                and isinstance(value_node, ScalarNode) and value_node.tag != _NULL_TAG
                and key_node.value in data):
            data[key_node.value] = value_node.value


class SourceList(list):
    """A YAML flow list that keeps the text it was written as: to YAML `[2, -0,5]` is three items,
    to a reader of answers it is two numbers with a decimal comma, or ambiguous."""

    def __init__(self, items: Any = (), source: str = "") -> None:
        super().__init__(items)
        self.source = source


def _keep_flow_text(root: Node, data: Any, text: str, key_value: Any) -> Any:
    """`data` with every flow sequence replaced by a SourceList holding its slice of `text`."""
    def walk(node: Node, value: Any) -> Any:
        if isinstance(node, SequenceNode) and isinstance(value, list):
            items = [walk(n, v) for n, v in zip(node.value, value, strict=False)]
            if node.flow_style:
                return SourceList(items, text[node.start_mark.index:node.end_mark.index])
            value[:] = items
            return value
        if isinstance(node, MappingNode) and isinstance(value, dict):
            for key_node, value_node in node.value:
                key = key_value(key_node)
                if isinstance(key, (str, int, float, bool)) and key in value:
                    value[key] = walk(value_node, value[key])
        return value

    try:
        return walk(root, data)
    finally:
        walk = None  # the closure's cycle broken (see _check_graph)


def _yaml_marks(root: Node, key_value: Any) -> dict[KeyPath, int]:
    """The 1-based line of every key path: a mapping entry's key line, a list item's first line.

    Walked after construction, through aliases (bounded by the node cap already checked).
    """
    marks: dict[KeyPath, int] = {(): root.start_mark.line + 1}

    def walk(node: Node, path: KeyPath) -> None:
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                marks[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))
        elif isinstance(node, MappingNode):
            # After construction merge keys are flattened: merged pairs first, explicit ones
            # later, so plain assignment lets an explicit key win as it does in the data.
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                    continue
                key = key_value(key_node)
                try:
                    hash(key)
                except TypeError:
                    continue
                marks[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))

    try:
        walk(root, ())
    finally:
        walk = None  # the closure's cycle broken (see _check_graph)
    return marks


_GENERIC_YAML_FIX = "check indentation, quotes and brackets at this position"
_CLOSERS = {"[": "]", "{": "}", '"': '"', "'": "'"}


def _yaml_fix(exc: yaml.MarkedYAMLError, text: str) -> str:
    """A fix for a YAML error, chosen from the error's class and the text at its marks.

    Never from the library's wording, which changes between releases; what cannot be
    recognised gets the generic fix.
    """
    mark, ctx = exc.problem_mark, exc.context_mark
    at = text[mark.index:mark.index + 80] if mark is not None else ""
    line_start = text[text.rfind("\n", 0, mark.index) + 1:mark.index] if mark is not None else ""
    name = re.match(r"[*&]([^\s,\[\]{}]+)", at)
    if at.startswith("\t") or "\t" in line_start and not line_start.strip():
        return "indent with spaces, not tabs"
    if isinstance(exc, yaml.constructor.ConstructorError) and at.startswith("!"):
        return "remove the '!tag': only plain YAML data is allowed"
    if isinstance(exc, yaml.composer.ComposerError):
        if at.startswith("*") and name:
            return f"define the anchor &{name.group(1)} before using the alias *{name.group(1)}"
        if at.startswith("&") and name:
            return f"give each anchor a name of its own (&{name.group(1)} is defined twice)"
        if at.startswith(("---", "...")):
            return "remove the '---' separator: one document per file"
    opener = text[ctx.index] if ctx is not None and ctx.index < len(text) else ""
    if opener in _CLOSERS and not isinstance(exc, yaml.constructor.ConstructorError):
        return (f"close the {opener!r} opened at line {ctx.line + 1}, column {ctx.column + 1} "
                f"with {_CLOSERS[opener]!r}, or quote the value")
    if isinstance(exc, yaml.scanner.ScannerError) and at.startswith(":"):
        return "quote a value that contains ': ', or fix the indentation"
    return _GENERIC_YAML_FIX


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """The error's context and problem, as the parser words them."""
    return ", ".join(p for p in (exc.context, exc.problem) if p)


def _where(source: str, line: int | None = None, col: int | None = None) -> str:
    """'file:line:col', with as much as is known."""
    if line is None:
        return source
    return f"{source}:{line}:{col}" if col is not None else f"{source}:{line}"


def _parse_yaml(
    text: str, source: str, max_depth: int, max_nodes: int, error: ErrorClass, want_marks: bool,
    text_keys: frozenset[str] = frozenset(), flow_text: bool = False,
) -> tuple[Any, dict[KeyPath, int]]:
    """Load with the guards and SafeConstructor, and map every failure to `error`."""
    try:
        data, marks = _load_yaml_data(text, max_depth, max_nodes, want_marks, text_keys, flow_text)
    except _Limit as exc:
        raise error(exc.message, where=_where(source, exc.line, exc.col), fix=exc.fix) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _where(source, mark.line + 1, mark.column + 1) if mark else source
        raise error(f"invalid YAML: {_yaml_problem(exc)}", where=where, fix=_yaml_fix(exc, text)) from None
    except yaml.YAMLError as exc:  # e.g. ReaderError for control characters: no mark
        raise error(f"invalid YAML: {exc}", where=source, fix="remove control characters") from None
    except RecursionError:
        raise error(_too_deep(max_depth), where=source, fix=_DEEP_FIX) from None
    except (ValueError, OverflowError) as exc:  # e.g. a 5000-digit int or a 2024-13-45 date
        raise error(f"cannot read a value: {exc}", where=source,
                    fix="quote the value to keep it as text") from None
    if data is None:
        raise _empty(source, error)
    return data, marks


def _empty(source: str, error: ErrorClass) -> I2dlError:
    """The error for a document without data."""
    return error("file holds no data (it is empty, only comments, or null)", where=source,
                 fix="write the expected content into the file")


# --------------------------------------------------------------------------- JSON


@dataclass(slots=True)
class _Frame:
    """One open JSON container while scanning."""

    is_object: bool
    key: Any = None
    index: int = -1
    expect_key: bool = True
    keys: dict[str, int] = field(default_factory=dict)


_JSON_STOP = frozenset(' \t\n\r{}[],:"')
_JSON_CONSTANTS = ("NaN", "Infinity", "-Infinity")


def _scan_json(text: str, max_depth: int, max_nodes: int, want_marks: bool,
               text_keys: frozenset[str] = frozenset()
               ) -> tuple[dict[KeyPath, int], _Limit | None, dict[str, str]]:
    """One pass over JSON text: depth and node caps, key-path lines, the first duplicate key, and
    the source text of the non-string scalar values of the top-level `text_keys`.

    Syntax is left to json.loads; this only tracks structure, so the C parser never recurses
    past the depth cap and duplicates get a line (json keeps the last value silently).
    """
    stack: list[_Frame] = []
    marks: dict[KeyPath, int] = {}
    duplicate: _Limit | None = None
    raw: dict[str, str] = {}
    nodes, line, line_start, i, n = 0, 1, 0, 0, len(text)

    def path() -> KeyPath:
        return tuple(f.key if f.is_object else f.index for f in stack)

    def count(col: int) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > max_nodes:
            raise _Limit(f"document has more than {max_nodes:,} values", "split the file", line, col)

    def value_start(col: int) -> None:
        count(col)
        if stack and not stack[-1].is_object:
            stack[-1].index += 1
        if want_marks and (not stack or not stack[-1].is_object):
            marks[path()] = line  # an object's value keeps its key's line

    while i < n:
        ch = text[i]
        if ch == "\n":
            line, line_start, i = line + 1, i + 1, i + 1
            continue
        if ch in " \t\r:":
            i += 1
            continue
        col = i - line_start + 1
        top = stack[-1] if stack else None
        if ch == '"':
            try:
                value, end = scanstring(text, i + 1)
            except ValueError:
                break  # malformed string: json.loads reports it with its position
            if top is not None and top.is_object and top.expect_key:
                count(col)
                if value in top.keys and duplicate is None:
                    duplicate = _Limit(
                        f"duplicate key {value!r} (first defined at line {top.keys[value]})",
                        "keep one entry: JSON readers would silently drop the first value",
                        line, col)
                top.keys.setdefault(value, line)
                top.key, top.expect_key = value, False
                if want_marks:
                    marks[path()] = line
            else:
                value_start(col)
            i = end
            continue
        if ch in "{[":
            value_start(col)
            stack.append(_Frame(is_object=ch == "{"))
            if len(stack) > max_depth:
                raise _Limit(_too_deep(max_depth), _DEEP_FIX, line, col)
        elif ch in "}]":
            if stack:
                stack.pop()
        elif ch == ",":
            if top is not None and top.is_object:
                top.expect_key = True
        else:
            j = i
            while j < n and text[j] not in _JSON_STOP:
                j += 1
            if text[i:j] in _JSON_CONSTANTS:
                raise _Limit(f"{text[i:j]} is not valid JSON", "write a finite number", line, col)
            if len(stack) == 1 and top is not None and top.is_object and top.key in text_keys:
                raw[top.key] = text[i:j]
            value_start(col)
            i = j
            continue
        i += 1
    return marks, duplicate, raw


def _parse_json(
    text: str, source: str, max_depth: int, max_nodes: int, error: ErrorClass, want_marks: bool,
    text_keys: frozenset[str] = frozenset(), flow_text: bool = False,  # JSON has no decimal commas
) -> tuple[Any, dict[KeyPath, int]]:
    """json.loads behind the structural scan; errors carry file:line:col."""
    try:
        marks, duplicate, raw = _scan_json(text, max_depth, max_nodes, want_marks, text_keys)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _Limit(f"invalid JSON: {exc.msg}", "check commas, quotes and brackets here",
                         exc.lineno, exc.colno) from None
        if duplicate is not None:
            raise duplicate
    except _Limit as exc:
        raise error(exc.message, where=_where(source, exc.line, exc.col), fix=exc.fix) from None
    except RecursionError:
        raise error(_too_deep(max_depth), where=source, fix=_DEEP_FIX) from None
    except ValueError as exc:  # e.g. a 5000-digit integer
        raise error(f"cannot read a value: {exc}", where=source, fix="shorten the value") from None
    if data is None:
        raise _empty(source, error)
    if isinstance(data, dict):
        for key, written in raw.items():
            if data.get(key) is not None:  # null stays None, as in YAML
                data[key] = written
    return data, marks


# --------------------------------------------------------------------------- loading API


def _read_text(path: Path, max_bytes: int, error: ErrorClass) -> str:
    """The file's UTF-8 text, its size checked before reading a byte."""
    return _read_source(path, max_bytes, error)[0]


def _read_source(path: Path, max_bytes: int, error: ErrorClass) -> tuple[str, bytes]:
    """The file's UTF-8 text and the bytes it was decoded from, its size checked before reading a byte."""
    source = display_path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFoundError("file not found", where=source, fix="check the path") from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", where=source) from None
    if stat.S_ISDIR(st.st_mode):
        raise error("is a directory, expected a file", where=source, fix="name a file")
    not_regular = error(f"is {file_kind(st.st_mode)}, not a regular file", where=source,
                        fix="name a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise not_regular  # a FIFO would block the read forever; /dev files never end
    too_big = error(f"file is larger than the {max_bytes:,}-byte limit", where=source,
                    fix="split or shorten the file")
    if st.st_size > max_bytes:
        raise too_big
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the check cannot block the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise not_regular
            raw = fh.read(max_bytes + 1)  # bounded even if stat lied (growth)
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", where=source) from None
    if len(raw) > max_bytes:
        raise too_big
    try:
        return raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"not UTF-8 text (byte 0x{raw[exc.start]:02x})", where=_where(source, line, col),
                    fix="save the file as UTF-8") from None


def _load(path: PathLike, max_bytes: int, max_depth: int, max_nodes: int, error: ErrorClass,
          want_marks: bool, text_keys: frozenset[str] = frozenset(), flow_text: bool = False
          ) -> tuple[Any, dict[KeyPath, int]]:
    """Read `path` and parse it as JSON (by suffix) or YAML."""
    p = Path(path)
    text = _read_text(p, max_bytes, error)
    if not text.strip():
        raise _empty(display_path(p), error)
    parse = _parse_json if p.suffix.lower() == ".json" else _parse_yaml
    return parse(text, display_path(p), max_depth, max_nodes, error, want_marks, text_keys, flow_text)


def load_yaml(path: PathLike, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
              max_nodes: int = MAX_NODES, error: ErrorClass = SpecError,
              text_keys: frozenset[str] = frozenset(), flow_text: bool = False) -> Any:
    """Safely load a YAML (or, by suffix, JSON) file, raising `error` for anything wrong with it.

    Scalar values of the top-level `text_keys` are returned as the text written (ids: 012345);
    with `flow_text`, every flow list ([...]) is a SourceList that also keeps its text.
    """
    return _load(path, max_bytes, max_depth, max_nodes, error, want_marks=False, text_keys=text_keys,
                 flow_text=flow_text)[0]


def load_yaml_with_marks(path: PathLike, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                         max_nodes: int = MAX_NODES, error: ErrorClass = SpecError
                         ) -> tuple[Any, dict[KeyPath, int]]:
    """Like load_yaml, plus the 1-based line of every key path, e.g. ("parts", 0, "answers")."""
    return _load(path, max_bytes, max_depth, max_nodes, error, want_marks=True)


def load_yaml_source(path: PathLike, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                     max_nodes: int = MAX_NODES, error: ErrorClass = SpecError
                     ) -> tuple[Any, dict[KeyPath, int], str]:
    """Like load_yaml_with_marks, plus the SHA-256 (hex) of the very bytes that were parsed."""
    p = Path(path)
    text, raw = _read_source(p, max_bytes, error)  # read once: the digest and the data agree
    if not text.strip():
        raise _empty(str(p), error)
    data, marks = _parse_yaml(text, str(p), max_depth, max_nodes, error, want_marks=True)
    return data, marks, hashlib.sha256(raw).hexdigest()


def file_digest(path: PathLike, *, max_bytes: int = MAX_BYTES, error: ErrorClass = SpecError) -> str:
    """The SHA-256 (hex) of a file's bytes, read under the same size cap and checks as loading it."""
    return hashlib.sha256(_read_source(Path(path), max_bytes, error)[1]).hexdigest()


def load_yaml_text(text: str, *, source: str = "<text>", max_depth: int = MAX_DEPTH,
                   max_nodes: int = MAX_NODES, error: ErrorClass = SpecError, flow_text: bool = False) -> Any:
    """Safely load YAML from a string (no size cap beyond the caller's); `source` names it in errors."""
    if not text.strip():
        raise _empty(source, error)
    return _parse_yaml(text, source, max_depth, max_nodes, error, want_marks=False, flow_text=flow_text)[0]


def line_of(marks: dict[KeyPath, int], key_path: KeyPath) -> int | None:
    """The line of `key_path`, or of its deepest ancestor that has one (a missing key's parent)."""
    k = tuple(key_path)
    while k not in marks:
        if not k:
            return None
        k = k[:-1]
    return marks[k]


# --------------------------------------------------------------------------- dumping


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never writes anchors/aliases: a shared list is written out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    """Shortest round-trip text (repr), spelled so YAML 1.1 still reads it as a float."""
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
        if "." not in text:  # '1e-05' is a string to YAML 1.1; '1.0e-05' is a float
            text = text.replace("e", ".0e")
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_ODD_BREAKS = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    """Multi-line strings as literal blocks; odd line breaks double-quoted (escaped)."""
    style = "|" if "\n" in value else None
    if any(b in value for b in _ODD_BREAKS):
        style = '"'  # PyYAML writes them raw in other styles and reads them back as spaces
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(str, _represent_str)


def to_plain(data: Any) -> Any:
    """`data` as plain JSON/YAML data: arrays and tuples as lists, numpy scalars as numbers, letter sets as "AC"."""
    if isinstance(data, np.ndarray):
        return to_plain(data.tolist())
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, dict):
        return {to_plain(k): to_plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [to_plain(v) for v in data]
    if isinstance(data, (set, frozenset)):
        if all(isinstance(v, str) and len(v) == 1 for v in data):
            return "".join(sorted(data))  # option letters as a student writes them: "AC"
        # Set order depends on hash seeds; sorting keeps dumps byte-identical across runs.
        return sorted((to_plain(v) for v in data), key=repr)
    if isinstance(data, os.PathLike):
        return os.fspath(data)
    return data


def dump_yaml(data: Any) -> str:
    """Deterministic YAML text: insertion order, unicode, no aliases, floats by repr."""
    return yaml.dump(to_plain(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1_000_000)


# --------------------------------------------------------------------------- writing


def _temp_beside(target: Path, data: bytes | Iterable[bytes], *, fsync: bool) -> str:
    """`data` (bytes, or pieces of them) in a new temp file beside `target` (readable by all), its path;
    nothing is left on failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same directory so os.replace is a rename on one filesystem; the name is cut so the
    # temp name stays under the 255-byte limit; the dot keeps it out of globs.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:100]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                fh.write(piece)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results and exams are meant to be shared
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def atomic_write_bytes(path: PathLike, data: bytes | Iterable[bytes]) -> Path:
    """Write `data` (bytes, or pieces of them) to a temp file beside `path`, then rename it over: never a partial file."""
    target = Path(path)
    tmp = _temp_beside(target, data, fsync=True)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


class AtomicBatch:
    """Many files written as atomic_write_bytes writes one, with one sync for all (a fsync each costs ~10 ms).

    Each file goes to a temp file beside its target; commit() syncs them all to disk, then renames each
    over its target: a crash leaves every file either as it was or complete, as atomic_write_bytes does.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, Path]] = []

    def add(self, path: PathLike, data: bytes) -> Path:
        target = Path(path)
        self.pending.append((_temp_beside(target, data, fsync=False), target))  # synced at commit, all at once
        return target

    def add_text(self, path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
        return self.add(path, text.encode(encoding))

    def commit(self) -> None:
        """Every pending file synced to disk, then renamed over its target."""
        sync_paths([Path(t) for t, _ in self.pending])
        for tmp, target in self.pending:
            os.replace(tmp, target)
        self.pending.clear()

    def abort(self) -> None:
        for tmp, _ in self.pending:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.pending.clear()

    def __enter__(self) -> AtomicBatch:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def sync_paths(paths: list[Path], folder: Path | None = None) -> None:
    """`paths` on disk: one syncfs of their file system (`folder`'s, else the first path's) on Linux, else a fsync each."""
    if not paths:
        return
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            syncfs = None
        if syncfs is not None:
            fd = os.open(folder or paths[0].parent, os.O_RDONLY)
            try:
                if syncfs(fd) == 0:
                    return
            finally:
                os.close(fd)
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """atomic_write_bytes for text (no newline translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


_SLUG_BAD = re.compile(r"[^A-Za-z0-9._-]")
SLUG_MAX = 100


def slugify(name: str, max_len: int = SLUG_MAX) -> str:
    """A file-name-safe form: [A-Za-z0-9._-] kept, others '_', no leading dots, bounded, never empty."""
    slug = _SLUG_BAD.sub("_", name).lstrip(".")[:max_len]
    return slug or "_"


def safe_child(root: PathLike, name: str, *, error: ErrorClass = UsageError) -> Path:
    """root/slugify(name), checked to resolve inside root (a symlinked child cannot escape)."""
    base = Path(root).resolve()
    child = Path(root) / slugify(name)
    resolved = child.resolve()
    if resolved == base or not resolved.is_relative_to(base):
        raise error(f"the name {name!r} leads outside {root}", where=str(child),
                    fix="remove the symlink or use another name")
    return child


# --------------------------------------------------------------------------- text that can be written

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """True if `text` holds a lone surrogate (e.g. from a JSON "\\ud800"): it cannot be written as UTF-8."""
    return _SURROGATE.search(text) is not None


def printable(text: str) -> str:
    """`text` with every lone surrogate spelled as its \\udXXX escape, so it can be written as UTF-8."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def display_path(path: PathLike) -> str:
    """A path as text that can be printed and written: undecodable bytes shown as \\xNN escapes."""
    text = os.fspath(path)
    if not has_lone_surrogate(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that did not come from the file system
        return printable(text)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words (for 'is a FIFO, not a regular file')."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


#: What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A user-written CSV text cell that a spreadsheet cannot run: a formula start gets a leading quote."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
