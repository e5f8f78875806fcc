"""Loading specs: YAML, then the declared schema, then the answer graph; every error located."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from i2dl.errors import ExprError, NotFoundError, SpecError
from i2dl.evaluate import Graph, build_graph
from i2dl.expr import Parsed, called_functions, parse
from i2dl.functions import FUNCTIONS, SPECIAL_FORMS
from i2dl.spec.figure import FIGURE_FIX, check_figures
from i2dl.spec.model import DerivedParam, Spec

KeyPath = tuple[Any, ...]


def fmt_path(path: KeyPath) -> str:
    """('parts', 0, 'answers') -> 'parts[0].answers'."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def load_document(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    """The YAML data of `path` and the line of each key path (1-based)."""
    from i2dl.io import load_yaml_with_marks

    return load_yaml_with_marks(path)


def locate(path: Path, lines: dict[KeyPath, int], key: KeyPath) -> str:
    """'file:line key.path' for the deepest key path that has a known line."""
    k = tuple(key)
    while k and k not in lines:
        k = k[:-1]
    line = lines.get(k)
    return f"{path}:{line} {fmt_path(key)}" if line else f"{path} {fmt_path(key)}"


_FIXES = {
    "missing": "add the key",
    "extra_forbidden": "remove the key",
    "literal_error": "use one of the listed values",
    "union_tag_invalid": "set type to one of: int, decimal, choice, bool, vector, matrix, fixed, derived",
    "union_tag_not_found": "add a 'type' key: int, decimal, choice, bool, vector, matrix, fixed or derived",
    "string_pattern_mismatch": "use lower-case letters, digits and hyphens (names: letters, digits, _)",
    "too_short": "add at least one entry",
    "figure_kind": FIGURE_FIX,
}


def validation_errors(exc: ValidationError, path: Path, lines: dict[KeyPath, int]) -> list[SpecError]:
    """pydantic's errors as located SpecErrors with a suggested fix."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p in _UNION_TAGS or p.startswith("kind="))))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = f"missing required key '{loc[-1]}'"
        if err["type"] == "figure_kind" and isinstance(err.get("input"), dict) and "kind" in err["input"]:
            msg = f"unknown figure kind '{err['input']['kind']}'"
        out.append(SpecError(msg, where=locate(path, lines, loc), fix=_FIXES.get(err["type"])))
    return out


_UNION_TAGS = {"int", "decimal", "choice", "bool", "vector", "matrix", "fixed", "derived", "str", "Constraint",
               "dict[str,any]"}


def unknown_key_warnings(model: BaseModel, path: Path, lines: dict[KeyPath, int], key: KeyPath = ()) -> list[str]:
    """Keys the schema does not know, with the nearest known key as a suggestion."""
    warnings = []
    extra = model.model_extra or {}
    known = list(type(model).model_fields)
    for name in extra:
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else f"; known keys: {', '.join(known)}"
        warnings.append(f"{locate(path, lines, key + (name,))}: unknown key '{name}' is ignored{hint}")
    for fname in type(model).model_fields:
        value = getattr(model, fname)
        if isinstance(value, BaseModel):
            warnings += unknown_key_warnings(value, path, lines, key + (fname,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, BaseModel):
                    warnings += unknown_key_warnings(v, path, lines, key + (fname, i))
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    warnings += unknown_key_warnings(v, path, lines, key + (fname, k))
    return warnings


@dataclass(frozen=True)
class SpecSource:
    """A spec as data: the parsed document, the digest of the file it was read from, and where it was read."""

    document: dict[str, Any]
    digest: str  # SHA-256 (hex) of the spec file's bytes
    origin: str = field(default="", compare=False)  # the file, or the exam.json key path that stored it

    @property
    def id(self) -> str:
        return str(self.document.get("id", "")) if isinstance(self.document, dict) else ""


@dataclass
class CompiledSpec:
    """A validated spec with its parsed expressions and answer graph, and the source it was compiled from."""

    spec: Spec
    path: Path
    graph: Graph
    where: dict[str, str]
    leaves: list[str]
    constraints: list[tuple[Parsed, str, str]]
    alternatives: dict[tuple[str, str], Parsed]
    source: SpecSource
    warnings: list[str] = field(default_factory=list)
    param_where: dict[str, str] = field(default_factory=dict)  # 'file:line key.path' of each sampled parameter
    fallbacks: dict[tuple[str, str], Parsed] = field(default_factory=dict)  # (part id, answer) -> offered value

    @property
    def id(self) -> str:
        return self.spec.id


#: Compiled specs of this process by (digest, origin, located): a spec is compiled once however often it is read.
_COMPILED: dict[tuple[str, str, bool], CompiledSpec] = {}
_COMPILED_MAX = 512


def compile_spec(source: SpecSource, lines: dict[KeyPath, int] | None = None) -> CompiledSpec:
    """Validate a spec document and build its answer graph (from a file or from exam.json), or raise the first error."""
    key = (source.digest, source.origin, bool(lines))
    hit = _COMPILED.get(key)
    # The document is compared too: an exam edited and accepted with --accept-modified keeps its old digest.
    if hit is not None and hit.source.document == source.document:
        return hit
    compiled = _compile_spec(source, lines)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = compiled
    return compiled


def _compile_spec(source: SpecSource, lines: dict[KeyPath, int] | None = None) -> CompiledSpec:
    # The one compile path: load_spec and an exam's stored spec both come here, so both give the same spec.
    lines = lines or {}
    data, path = source.document, Path(source.origin or "<spec>")
    if not isinstance(data, dict):
        raise SpecError("a spec must be a mapping with id, title, topic, params and parts",
                        where=str(path), fix="see docs/spec-format.md for a complete example")
    bad = _not_json(data)
    if bad is not None:
        key, what = bad
        # exam.json stores the document itself, so it must come back from JSON as it was read.
        raise SpecError(f"{what}: a spec must be plain JSON-like data, because exam.json stores it",
                        where=locate(path, lines, key), fix="write the value as text (in quotes) or as a number")
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc, path, lines)
        first = errors[0]
        if len(errors) > 1:
            first.message += f" (and {len(errors) - 1} more: " + "; ".join(
                f"{e.where}: {e.message}" for e in errors[1:4]) + ")"
        raise first from None
    warnings = unknown_key_warnings(spec, path, lines)
    if spec.loop is not None:  # the steps become derived values after the parameters they read
        from i2dl.spec.loop import unroll

        taken = set(spec.params) | {g for part in spec.parts for g in part.given} | {
            a.name for part in spec.parts for a in part.answers}
        spec.params = {**spec.params, **unroll(spec.loop, taken, locate(path, lines, ("loop",)))}
    statement_where: dict[str, KeyPath] = {}
    if any(part.statements is not None for part in spec.parts):  # each property question's drawn order: a parameter
        from i2dl.spec.statements import order_name, order_params

        statement_where = {order_name(part): ("parts", i, "statements") for i, part in enumerate(spec.parts)
                           if part.statements is not None}
        for name, key in statement_where.items():
            if name in spec.params or any(name in part.given for part in spec.parts):
                raise SpecError(f"name '{name}' is the drawn order of a property question, and the spec uses it too",
                                where=locate(path, lines, key), fix="rename the parameter, or set statements.name")
        spec.params = {**spec.params, **order_params(spec)}

    where: dict[str, str] = {}
    nodes: dict[str, Parsed] = {}
    leaves: list[str] = []
    param_where: dict[str, str] = {}
    seen: dict[str, str] = {}

    def claim(name: str, key: KeyPath) -> None:
        if name in seen:
            raise SpecError(f"name '{name}' is defined twice (also at {seen[name]})",
                            where=locate(path, lines, key), fix="give every parameter, given and answer its own name")
        if name in FUNCTIONS or name in SPECIAL_FORMS:
            raise SpecError(f"name '{name}' shadows the function of the same name",
                            where=locate(path, lines, key), fix="rename it")
        seen[name] = fmt_path(key)

    def parse_at(text: str, key: KeyPath) -> Parsed:
        w = locate(path, lines, key)
        parsed = parse(text, where=w)
        for fn in called_functions(parsed.node):
            if fn not in FUNCTIONS and fn not in SPECIAL_FORMS and fn not in _OPERATOR_FNS:
                near = difflib.get_close_matches(fn, list(FUNCTIONS), n=3)
                raise ExprError(f"unknown function '{fn}' in '{text}'", where=w,
                                fix=("did you mean " + ", ".join(near) + "?") if near else "run `i2dl functions`")
        return parsed

    for name, p in spec.params.items():
        claim(name, statement_where.get(name, ("params", name)))
        if isinstance(p, DerivedParam):
            nodes[name] = parse_at(p.expr, ("params", name, "expr"))
            where[name] = locate(path, lines, ("params", name, "expr"))
        else:
            leaves.append(name)
            param_where[name] = locate(path, lines, statement_where.get(name, ("params", name)))
    alternatives: dict[tuple[str, str], Parsed] = {}
    for i, part in enumerate(spec.parts):
        for g in part.given:
            claim(g, ("parts", i, "given", g))
            if isinstance(part.given[g], DerivedParam):
                nodes[g] = parse_at(part.given[g].expr, ("parts", i, "given", g, "expr"))
                where[g] = locate(path, lines, ("parts", i, "given", g, "expr"))
            else:
                leaves.append(g)
                param_where[g] = locate(path, lines, ("parts", i, "given", g))
        if part.statements is not None:  # its one answer is made from the statements: errors name the statement
            for k, st in enumerate(part.statements.from_):
                parse_at(st.holds, ("parts", i, "statements", "from", k, "holds"))
            ans = part.answers[0]
            claim(ans.name, ("parts", i, "statements", "name"))
            nodes[ans.name] = parse(ans.expr, where=locate(path, lines, ("parts", i, "statements")))
            where[ans.name] = locate(path, lines, ("parts", i, "statements"))
            continue
        for j, ans in enumerate(part.answers):
            claim(ans.name, ("parts", i, "answers", j, "name"))
            nodes[ans.name] = parse_at(ans.expr, ("parts", i, "answers", j, "expr"))
            where[ans.name] = locate(path, lines, ("parts", i, "answers", j, "expr"))
    from i2dl.spec.rubric import resolve_rubric

    for i, part in enumerate(spec.parts):
        if part.rubric is not None:
            try:
                rubric = resolve_rubric(part.rubric)
            except (SpecError, NotFoundError) as exc:
                raise SpecError(exc.message, where=locate(path, lines, ("parts", i, "rubric")), fix=exc.fix) from None
            names = [a.name for a in part.answers]
            used = [("final", rubric.final)] + [(f"implied.{k}", n) for k, r in enumerate(rubric.implied)
                                                 for n in (r.blank, r.by)]
            used += [(f"forms.{k}", f.blank) for k, f in enumerate(rubric.forms)]
            for key, name in used:
                if name is not None and name not in names:
                    raise SpecError(f"the rubric's {key} names '{name}', which is not an answer of part '{part.id}'",
                                    where=locate(path, lines, ("parts", i, "rubric")),
                                    fix="answers of this part: " + ", ".join(names))
    ids = [p.id for p in spec.parts]
    for i, pid in enumerate(ids):
        if ids.index(pid) != i:
            raise SpecError(f"part id '{pid}' is used twice", where=locate(path, lines, ("parts", i, "id")),
                            fix="give every part its own id")
    known = set(leaves) | set(nodes)
    for i, part in enumerate(spec.parts):
        for k, st in enumerate(part.statements.from_ if part.statements is not None else []):
            key = ("parts", i, "statements", "from", k, "holds")
            _check_names(parse(st.holds), known, locate(path, lines, key))
    graph = build_graph(nodes, set(leaves), where=where)
    check_figures(spec, graph.deps, known, lambda key: locate(path, lines, key))
    for i, part in enumerate(spec.parts):
        for j, ans in enumerate(part.answers):
            for k, alt in enumerate(ans.alternatives):
                key = ("parts", i, "answers", j, "alternatives", k, "expr")
                parsed = parse_at(alt.expr, key)
                _check_names(parsed, known, locate(path, lines, key))
                alternatives[(ans.name, alt.name)] = parsed
                if alt.when is not None:
                    wkey = ("parts", i, "answers", j, "alternatives", k, "when")
                    cond = parse_at(alt.when, wkey)
                    _check_names(cond, known, locate(path, lines, wkey))
                    alternatives[(ans.name, alt.name + "?when")] = cond
            for k, comp in enumerate(ans.components):
                key = ("parts", i, "answers", j, "components", k, "expr")
                parsed = parse_at(comp.expr, key)
                _check_names(parsed, known, locate(path, lines, key))
                alternatives[(ans.name, "component:" + comp.name)] = parsed
            if isinstance(ans.options, str):
                okey = ("parts", i, "answers", j, "options")
                cond = parse_at(ans.options, okey)
                _check_names(cond, known, locate(path, lines, okey))
                alternatives[(ans.name, "?options")] = cond
    constraints = []
    for i, c in enumerate(spec.constraint_list()):
        key = ("constraints", i) if isinstance(spec.constraints[i], str) else ("constraints", i, "expr")
        parsed = parse_at(c.expr, key)
        _check_names(parsed, known, locate(path, lines, key))
        constraints.append((parsed, c.why or c.expr, locate(path, lines, key)))
    if statement_where:
        from i2dl.spec.statements import count_constraints

        for expr, why, key in count_constraints(spec):
            constraints.append((parse_at(expr, key), why, locate(path, lines, key)))
    fallbacks: dict[tuple[str, str], Parsed] = {}
    earlier: set[str] = set()
    for i, part in enumerate(spec.parts):
        for name, expr in part.fallback.items():
            key = ("parts", i, "fallback", name)
            if name not in earlier:
                raise SpecError(f"fallback '{name}' is not an answer of an earlier part", where=locate(path, lines, key),
                                fix="offer a value for an answer that an earlier part asks for"
                                    + (f" (earlier answers: {', '.join(sorted(earlier))})" if earlier else ""))
            if not any(graph.depends_on(a.name, name) for a in part.answers):
                raise SpecError(f"no answer of part '{part.id}' uses '{name}', so offering a value for it helps nobody",
                                where=locate(path, lines, key), fix="move the fallback to the part that uses it")
            parsed = parse_at(expr, key)
            _check_names(parsed, set(leaves), locate(path, lines, key))  # from the givens, never from keys
            fallbacks[(part.id, name)] = parsed
        earlier |= {a.name for a in part.answers}
    return CompiledSpec(spec, path, graph, where, leaves, constraints, alternatives, source, warnings, param_where,
                        fallbacks)


def _not_json(v: Any, key: KeyPath = ()) -> tuple[KeyPath, str] | None:
    """(key path, what) of the first value JSON cannot hold as it is (a date, a number key, .inf), or None."""
    if isinstance(v, dict):
        for k, x in v.items():
            if not isinstance(k, str):
                return key + (k,), f"the key {k!r} is not text"
            found = _not_json(x, key + (k,))
            if found:
                return found
        return None
    if isinstance(v, list):
        return next((f for f in (_not_json(x, key + (i,)) for i, x in enumerate(v)) if f), None)
    if isinstance(v, float) and not math.isfinite(v):
        return key, f"{v} is not a finite number"
    if v is None or isinstance(v, (str, bool, int, float)):
        return None
    return key, f"the {type(v).__name__} value {v!r} is not text, a number, true/false, a list or a mapping"


_OPERATOR_FNS = {"index", "slice_"}


def _check_names(parsed: Parsed, known: set[str], where: str) -> None:
    from i2dl.functions import CONSTANTS

    unknown = sorted(n for n in parsed.names if n not in known and n not in CONSTANTS)
    if unknown:
        near = difflib.get_close_matches(unknown[0], sorted(known), n=3)
        raise ExprError(f"unknown name '{unknown[0]}' in '{parsed.text}'", where=where,
                        fix=("did you mean " + ", ".join(near) + "?") if near else "define it under params")


def load_spec(path: Path) -> CompiledSpec:
    """Read, validate and compile one spec file."""
    from i2dl.io import load_yaml_source

    data, lines, digest = load_yaml_source(path)
    return compile_spec(SpecSource(data, digest, str(path)), lines)


def builtin_dir(kind: str) -> Path:
    """The folder of shipped specs ('specs', 'mcq', 'short', 'blueprints') or rubrics ('rubrics')."""
    if kind == "rubrics":
        return Path(str(resources.files("i2dl.rubrics")))
    return Path(str(resources.files("i2dl.problems"))) / kind


def library_dirs(kind: str) -> list[Path]:
    """Where files of `kind` are looked up, in order: the active course's folder, then the shipped one."""
    from i2dl.course import active_course

    course = active_course()
    own = [course.dir(kind)] if course is not None and course.dir(kind).is_dir() else []
    return own + [builtin_dir(kind)]


def library_files(kind: str, dirs: list[Path] | tuple[Path, ...] | None = None) -> dict[str, Path]:
    """Every file of `kind` in `dirs` (default: library_dirs) by id (file stem); an id found twice is a SpecError naming both."""
    found: dict[str, Path] = {}
    for folder in library_dirs(kind) if dirs is None else dirs:
        for p in sorted(folder.glob("*.yaml")):
            if p.stem in found:
                raise SpecError(f"{_KIND_NAMES.get(kind, kind)} id '{p.stem}' is defined twice: {found[p.stem]} "
                                f"and {p}", where=str(found[p.stem]),
                                fix="rename the course's file (and the id inside it): a course may add to the "
                                    "shipped library but not shadow it")
            found[p.stem] = p
    return found


def check_library_ids() -> None:
    """SpecError if any id of any kind is both the active course's and the shipped library's."""
    for kind in _KIND_NAMES:
        library_files(kind)


_KIND_NAMES = {"specs": "spec", "mcq": "question bank", "short": "short-answer bank", "blueprints": "blueprint", "rubrics": "rubric"}


class Library:
    """The specs of the active course and the shipped ones (plus any extra files or folders, which win), by id."""

    def __init__(self, extra: list[Path] | None = None):
        self.paths: dict[str, Path] = dict(library_files("specs"))
        for e in extra or []:
            for p in sorted(e.glob("*.yaml")) if e.is_dir() else [e]:
                self.paths[p.stem] = p
        self._cache: dict[str, CompiledSpec] = {}

    def ids(self) -> list[str]:
        return sorted(self.paths)

    def digest(self, spec_id: str) -> str | None:
        """The SHA-256 of spec `spec_id`'s file as it is now (None when the library has no such spec)."""
        from i2dl.io import file_digest

        path = self.paths.get(spec_id)
        return None if path is None else file_digest(path)

    def get(self, spec_id: str) -> CompiledSpec:
        """The compiled spec `spec_id` (file stem and id agree), or NotFoundError with what exists."""
        if spec_id not in self._cache:
            path = self.paths.get(spec_id)
            if path is None:
                near = difflib.get_close_matches(spec_id, self.ids(), n=3)
                raise NotFoundError(f"no spec '{spec_id}'",
                                    fix=("did you mean " + ", ".join(near) + "? ") if near else
                                    "" + "known specs: " + ", ".join(self.ids()))
            compiled = load_spec(path)
            if compiled.id != spec_id:
                raise SpecError(f"spec id '{compiled.id}' does not match the file name '{path.name}'",
                                where=f"{path} id", fix=f"rename the file to {compiled.id}.yaml or change the id")
            self._cache[spec_id] = compiled
        return self._cache[spec_id]
