"""Into the LMS and back: variant pools exported as Moodle XML or a QTI 2.1 package, and an LMS's
responses report read back for grading with i2dl's rubrics (see docs/lms-moodle.md, docs/lms-canvas.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from i2dl.errors import UsageError
from i2dl.io import atomic_write_bytes, atomic_write_text, display_path

LMS_FORMATS = {"moodle": "moodle.xml", "qti": "qti.zip"}


def _figures() -> Any:
    try:
        from i2dl.figures import figures_of
    except ImportError:  # figures are optional for an LMS export
        return lambda problem: []
    return figures_of


def _source_exam(source: str | Path, *, seed: int, engine_name: str | None) -> Any:
    """An exam folder's exam, or a fresh exam of a spec or blueprint named `source`."""
    from i2dl.exam import build_exam, load_exam

    path = Path(source)
    if (path / "exam.json").is_file():
        return load_exam(path)
    if path.is_dir():
        raise UsageError(f"'{display_path(path)}' is no exam folder (it has no exam.json)",
                         fix="give an exam folder written by `i2dl generate`, a blueprint, or a spec id such as "
                             "conv2d-by-hand")
    return build_exam(str(source), seed, engine_name=engine_name)  # a spec id, a blueprint name or its file


def lms_pool(exam: Any, variants: int, engine_name: str | None = None) -> list[Any]:
    """The exam's variant pool (see i2dl.lms.pool)."""
    from i2dl.engine import get_engine
    from i2dl.lms.pool import build_pool
    from i2dl.mcq import Bank

    try:
        bank = Bank()
    except Exception:  # the pool still holds the exam's own questions
        bank = None
    return build_pool(exam, variants, engine=get_engine(engine_name), bank=bank)


def _steps_of(exam: Any):
    from i2dl.explain.api import key_steps

    def steps(v: Any) -> dict[str, str]:
        return key_steps(dataclasses.replace(exam, problems=[v.problem], variants={}, roster=[]))
    return steps


def export_lms(fmt: str, source: str | Path, out: str | Path, *, variants: int = 10, seed: int = 0,
               engine_name: str | None = None, all_or_nothing: bool = False) -> dict[str, Any]:
    """Write the pool of `source` (exam folder, spec or blueprint) as `fmt` into `out`; what was written."""
    if fmt not in LMS_FORMATS:
        raise UsageError(f"no LMS format '{fmt}'", fix="formats: " + ", ".join(LMS_FORMATS))
    exam = _source_exam(source, seed=seed, engine_name=engine_name)
    pool = lms_pool(exam, variants, engine_name)
    target = Path(out) / LMS_FORMATS[fmt]
    if fmt == "moodle":
        from i2dl.lms.moodle import moodle_xml

        text, notes = moodle_xml(exam, pool, _steps_of(exam), _figures(), all_or_nothing=all_or_nothing)
        atomic_write_text(target, text)
    else:
        from i2dl.lms.qti import qti_package

        data, notes = qti_package(exam, pool, _steps_of(exam), _figures())
        atomic_write_bytes(target, data)
    return {"format": fmt, "exam_id": exam.exam_id, "file": display_path(target),
            "categories": [{"slot": c.slot, "title": c.title, "variants": len(c.variants), "points": c.points}
                           for c in pool],
            "questions": sum(len(c.variants) for c in pool), "notes": notes}
