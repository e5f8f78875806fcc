"""Building an exam: a blueprint (or one spec) made into instances, multiple-choice blocks drawn."""

from __future__ import annotations

from typing import Any

import numpy as np

from i2dl.blueprint import Blueprint, McqBlock, ProblemEntry, find_blueprint, load_blueprint
from i2dl.engine import get_engine
from i2dl.errors import UsageError
from i2dl.exam.model import Exam
from i2dl.mcq import Bank, make_variant, variant_part
from i2dl.rounding import Rounding, default_rounding
from i2dl.spec.instance import ProblemInstance, make_instance
from i2dl.spec.load import Library


def fresh_seed() -> int:
    """A new seed from the operating system's entropy (printed, so the exam can be remade)."""
    return int(np.random.SeedSequence().entropy % 1_000_000_000)


def problem_seed(seed: int, number: int) -> int:
    """Each problem's own seed, so changing one problem leaves the others' numbers alone."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def build_exam(source: str = "default", seed: int | None = None, *, pins: dict[str, Any] | None = None,
               engine_name: str | None = None, library: Library | None = None, bank: Bank | None = None,
               rounding: Rounding | None = None) -> Exam:
    """Instances for every problem of a blueprint (by name or path) or of a single spec id.

    `rounding` is the course's exam-wide rule; a blueprint that declares its own wins.
    """
    seed = fresh_seed() if seed is None else int(seed)
    library = library or Library()
    engine = get_engine(engine_name)
    pins = dict(pins or {})
    if source in library.paths:
        bp = Blueprint(id=source, title=library.get(source).spec.title,
                       problems=[ProblemEntry(spec=source)])
        warnings: list[str] = []
    else:
        if pins:
            raise UsageError("--param pins parameters of a single spec",
                             fix="give a spec id, or pin parameters in the blueprint's params")
        bp, warnings = load_blueprint(find_blueprint(source))
    rule = bp.rounding or default_rounding(rounding)
    problems: list[ProblemInstance] = []
    used_mcq: set[str] = set()
    for number, entry in enumerate(bp.problems, start=1):
        pseed = problem_seed(seed, number)
        if entry.mcq is not None:
            bank = bank or Bank()
            problems.append(_mcq_problem(entry, entry.mcq, number, pseed, engine, bank, used_mcq))
            continue
        compiled = library.get(entry.spec)
        inst = make_instance(compiled, pseed, engine, pins={**entry.params, **pins}, number=number,
                             points=entry.points, rounding=rule)
        if entry.title:
            inst.title = entry.title
        problems.append(inst)
        warnings += [f"problem {number} ({entry.spec}): {w}" for w in inst.warnings]
    exam_id = f"{bp.id}-{seed}"
    return Exam(exam_id, bp.title, seed, source, bp.instructions.strip(), problems,
                engine=engine.name, duration=bp.duration, warnings=warnings, rounding=rule.data())


def _mcq_problem(entry: ProblemEntry, block: McqBlock, number: int, seed: int, engine, bank: Bank,
                 used: set[str]) -> ProblemInstance:
    rng = np.random.default_rng(seed)
    chosen = [bank.get(q) for q in block.ids]
    used |= {q.qid for q in chosen}
    for d in block.draw:
        picks = bank.draw(rng, d.count, topic=d.topic, tag=d.tag, difficulty=d.difficulty, exclude=used)
        used |= {q.qid for q in picks}
        chosen += picks
    parts = []
    for i, bq in enumerate(chosen, start=1):
        variant = make_variant(bq, int(rng.integers(0, 2**31)), engine)
        parts.append(variant_part(variant, f"{number}.{i}", block.points_each, block.rubric))
    statement = ("Any number of options may be correct, including none or all. Give the letters of "
                 "every correct option; a question earns its points only if every option is judged right.")
    return ProblemInstance(number=number, spec_id="mcq", title=entry.title or "Multiple choice",
                           topic="multiple-choice", statement=statement, seed=seed, params={},
                           values={}, parts=parts, points=sum(p.points for p in parts), kind="mcq")
