"""Library entry points behind `generate`, `solve` and `list`: each returns plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from i2dl.engine import get_engine
from i2dl.exam import build_exam
from i2dl.export import write_exam
from i2dl.io import to_plain
from i2dl.mcq import Bank
from i2dl.render import fmt_value
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library, load_spec
from i2dl.spec.model import DerivedParam


def _plain(v: Any) -> Any:
    """JSON-ready data (see io.to_plain)."""
    return to_plain(v)


def generate_exam(source: str = "default", seed: int | None = None, out: Path | str = "exam", *,
                  pins: dict[str, Any] | None = None, engine_name: str | None = None) -> dict[str, Any]:
    """Build the exam for `source` and write its files; a summary of what was written."""
    from i2dl.explain import key_steps

    exam = build_exam(source, seed, pins=pins, engine_name=engine_name)
    files = write_exam(exam, out, steps=key_steps(exam))
    return {
        "exam_id": exam.exam_id, "title": exam.title, "seed": exam.seed, "points": exam.points,
        "engine": exam.engine,
        "problems": [{"number": p.number, "title": p.title, "spec": p.spec_id, "parts": len(p.parts),
                      "points": p.points} for p in exam.problems],
        "files": {k: str(v) for k, v in files.items()},
        "warnings": exam.warnings,
    }


def solve_spec(spec: str, pins: dict[str, Any], *, seed: int = 0, engine_name: str | None = None,
               library: Library | None = None) -> dict[str, Any]:
    """Every part's answers of one spec for pinned (and otherwise seeded) parameters."""
    library = library or Library()
    path = Path(spec)
    compiled = load_spec(path) if path.suffix in (".yaml", ".yml") and path.exists() else library.get(spec)
    engine = get_engine(engine_name)
    inst = make_instance(compiled, seed, engine, pins=pins)
    return {
        "spec": compiled.id, "title": compiled.spec.title, "engine": engine.name, "seed": seed,
        "params": {k: _plain(v) for k, v in inst.params.items()},
        "parts": [{"number": p.number, "id": p.id, "points": p.points,
                   "blanks": [{"name": b.name, "label": b.label, "kind": b.kind, "value": _plain(b.expected),
                               "text": fmt_value(b.expected)} for b in p.blanks]}
                  for p in inst.parts],
        "values": {k: _plain(v) for k, v in inst.values.items()},
        "warnings": inst.warnings,
    }


def list_specs(library: Library | None = None) -> list[dict[str, Any]]:
    """The shipped specs: id, title, topic, tags, parts, points, parameters."""
    library = library or Library()
    rows = []
    for sid in library.ids():
        s = library.get(sid).spec
        rows.append({"id": s.id, "title": s.title, "topic": s.topic, "tags": s.tags, "difficulty": s.difficulty,
                     "parts": len(s.parts), "points": s.total_points,
                     "params": [k for k, p in s.params.items() if not isinstance(p, DerivedParam)]})
    return rows


def list_bank(bank: Bank | None = None) -> list[dict[str, Any]]:
    """The multiple-choice bank: id, topic, difficulty, options, whether options are computed."""
    bank = bank or Bank()
    return [{"id": q.qid, "topic": q.topic, "difficulty": q.question.difficulty, "tags": q.question.tags,
             "options": len(q.question.options), "parameterized": q.parameterized}
            for _, q in sorted(bank.questions.items())]
