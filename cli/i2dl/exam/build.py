"""Building an exam: a blueprint (or one spec) made into instances, multiple-choice blocks drawn."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.blueprint import (
    Blueprint,
    McqBlock,
    ProblemEntry,
    ShortBlock,
    find_blueprint,
    load_blueprint,
)
from i2dl.engine import get_engine
from i2dl.errors import UsageError
from i2dl.exam.model import Exam
from i2dl.mcq import Bank, make_variant, variant_part
from i2dl.rounding import Rounding, default_rounding
from i2dl.short import ShortBank, short_part
from i2dl.spec.instance import ProblemInstance, make_instance
from i2dl.spec.load import Library

#: Fresh seeds are drawn below this bound: too many to try one by one against a public exam id.
SEED_BOUND = 2**53


def fresh_seed() -> int:
    """A new seed from the operating system's entropy (printed, so the exam can be remade)."""
    return secrets.randbelow(SEED_BOUND)


def public_exam_id(name: str, seed: int) -> str:
    """`name-<8 hex>`: an exam id that tells exams apart but from which the seed cannot be read back."""
    # One-way: the tag is a hash of the seed, so the sheet does not print the seed that rebuilds its key.
    return f"{name}-{hashlib.sha256(f'i2dl exam id {seed}'.encode()).hexdigest()[:8]}"


def problem_seed(seed: int, number: int) -> int:
    """Each problem's own seed, so changing one problem leaves the others' numbers alone."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def build_exam(source: str = "default", seed: int | None = None, *, pins: dict[str, Any] | None = None,
               engine_name: str | None = None, library: Library | None = None, bank: Bank | None = None,
               rounding: Rounding | None = None, exam_id: str | None = None, variant: str = "",
               short_bank: ShortBank | None = None) -> Exam:
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
    used_short: set[str] = set()
    for number, entry in enumerate(bp.problems, start=1):
        pseed = problem_seed(seed, number)
        if entry.short is not None:
            short_bank = short_bank or ShortBank()
            problems.append(_short_problem(entry, entry.short, number, pseed, short_bank, used_short))
            continue
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
    exam_id = exam_id or public_exam_id(bp.id, seed)
    return Exam(exam_id, bp.title, seed, source, bp.instructions.strip(), problems,
                engine=engine.name, duration=bp.duration, warnings=warnings, rounding=rule.data(),
                variant=variant)


def blueprint_id(source: str, library: Library | None = None) -> str:
    """The id of the blueprint (or single spec) `source` names."""
    library = library or Library()
    if source in library.paths:
        return source
    return load_blueprint(find_blueprint(source))[0].id


def build_cohort(source: str, students: list[Any], secret: bytes, *, exam_id: str,
                 engine_name: str | None = None, library: Library | None = None,
                 bank: Bank | None = None, rounding: Rounding | None = None) -> Exam:
    """One variant per student, each seeded by HMAC(secret, exam id, student id); the cohort as one Exam."""
    library, bank, short_bank = library or Library(), bank or Bank(), ShortBank()
    variants = [build_exam(source, seed, engine_name=engine_name, library=library, bank=bank, exam_id=exam_id,
                           variant=label, rounding=rounding, short_bank=short_bank)
                for label, seed in cohort_seeds(students, secret, exam_id)]
    return assemble_cohort(variants, students)


def cohort_seeds(students: list[Any], secret: bytes, exam_id: str) -> list[tuple[str, int]]:
    """(variant label, seed) per student: every student has their own variant, labelled with their id."""
    from i2dl.course import variant_seed

    if not students:
        raise UsageError("the roster lists no students", fix="add a line per student")
    return [(st.student_id, variant_seed(secret, exam_id, st.student_id)) for st in students]


def assemble_cohort(variants: list[Exam], students: list[Any]) -> Exam:
    """The cohort Exam of built variants (in roster order) and the students they belong to."""
    return assemble_stored(variants[0], [variant_facts(v) for v in variants], {v.variant: v for v in variants},
                           students)


@dataclass(frozen=True)
class VariantFacts:
    """What assembling a cohort reads of a variant: its label, its layout (problems, parts, points), its warnings."""

    variant: str
    layout: list[tuple[int, float, list[tuple[str, float]]]]
    warnings: list[str]


def variant_facts(v: Exam) -> VariantFacts:
    return VariantFacts(v.variant, [(p.number, p.points, [(q.number, q.points) for q in p.parts]) for p in v.problems],
                        list(v.warnings))


def assemble_stored(first: Exam, facts: list[VariantFacts], store: Mapping[str, Exam], students: list[Any]) -> Exam:
    """The cohort Exam of variants in `store` (label -> variant, e.g. kept packed until read) whose facts,
    in roster order, are `facts`; `first` is the first variant."""
    layout = facts[0].layout
    for f in facts[1:]:
        if f.layout != layout:
            raise UsageError(f"variant '{f.variant}' does not have the problems, parts and points of variant "
                             f"'{first.variant}'", fix="give every problem of the blueprint fixed points")
    roster = [{"student_id": st.student_id, "name": st.name, "variant": f.variant}
              for st, f in zip(students, facts, strict=True)]
    warnings = sorted({w for f in facts for w in f.warnings})
    return Exam(first.exam_id, first.title, 0, first.source, first.instructions, first.problems,
                engine=first.engine, duration=first.duration, warnings=warnings, rounding=first.rounding,
                variants=store, roster=roster)  # type: ignore[arg-type]  # any mapping of label -> variant


class PackedVariants(Mapping):
    """A cohort's variants by label, each kept as a compressed pickle until read (then unpacked afresh):
    2,000 variants as objects take about 1 GB, packed a tenth of that. `attach` gives a read variant its
    compiled specs (not packed: they are large, and the same for every variant)."""

    def __init__(self, packed: dict[str, Exam | bytes], attach: Callable[[Exam], None]):
        self._packed = packed
        self._attach = attach

    def __getitem__(self, label: str) -> Exam:
        item = self._packed[label]
        if not isinstance(item, bytes):
            return item
        exam = unpack_variant(item)
        self._attach(exam)
        return exam

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


def pack_variant(v: Exam) -> bytes:
    """A variant as a compressed pickle, its compiled specs left out (see PackedVariants)."""
    import pickle
    import zlib

    compiled = [p._compiled for p in v.problems]
    for p in v.problems:
        p._compiled = None
    try:
        return zlib.compress(pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL), 1)
    finally:
        for p, c in zip(v.problems, compiled, strict=True):
            p._compiled = c


def unpack_variant(packed: bytes) -> Exam:
    import pickle
    import zlib

    return pickle.loads(zlib.decompress(packed))  # noqa: S301  (bytes this process's own workers made)


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


def _short_problem(entry: ProblemEntry, block: ShortBlock, number: int, seed: int, bank: ShortBank,
                   used: set[str]) -> ProblemInstance:
    """A block of short-answer questions: fixed ids first, then each draw, no question twice in an exam."""
    rng = np.random.default_rng(seed)
    chosen = [bank.get(q) for q in block.ids]
    used |= {q.qid for q in chosen}
    for d in block.draw:
        picks = bank.draw_short(rng, d.count, topic=d.topic, tag=d.tag, difficulty=d.difficulty, points=d.points,
                                exclude=used)
        used |= {q.qid for q in picks}
        chosen += picks
    parts = [short_part(bq, f"{number}.{i}") for i, bq in enumerate(chosen, start=1)]
    statement = ("Answer each question in a few sentences of your own, in the box below it. Points are awarded "
                 "for each idea the answer states correctly.")
    return ProblemInstance(number=number, spec_id="short", title=entry.title or "Short answers",
                           topic="short-answer", statement=statement, seed=seed, params={}, values={}, parts=parts,
                           points=sum(p.points for p in parts), kind="short")
