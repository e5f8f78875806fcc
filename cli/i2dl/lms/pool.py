"""A pool of variants for an LMS: per problem (per part for multiple choice) N distinct instances.

An LMS quiz draws "a random question from a category"; the category is one problem of the exam
(one question of a multiple-choice block) and holds its variants. Variant 1 is the exam's own
instance; the others are sampled from the spec stored in exam.json with seeds derived from the
exam's seed, so the same exam and library always give the same pool, and regrading an LMS's
responses rebuilds it exactly. Every variant carries a tag (exam, slot, variant, digest) that the
question text shows, so a response can be matched to its variant and a changed pool is noticed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from i2dl.errors import UsageError
from i2dl.exam.model import Exam
from i2dl.rounding import rule_of
from i2dl.spec.instance import PartInstance, ProblemInstance, make_instance

#: Problem kinds whose parts are questions of their own in an LMS (a category per part).
PER_PART = ("mcq", "short")
#: How many seeds past N are tried to find N distinct variants before the pool stays smaller.
EXTRA_TRIES = 50
MAX_VARIANTS = 500
TAG = re.compile(r"i2dl:(?P<exam>[A-Za-z0-9_.-]+):(?P<slot>\d+(?:\.\d+)?):v(?P<k>\d+):(?P<digest>[0-9a-f]{8})")


@dataclass(frozen=True)
class Variant:
    """One question of the pool: the problem it belongs to (an MCQ block: one part of it), its number k."""

    slot: str                   # '3' for spec problem 3, '1.4' for part 4 of multiple-choice problem 1
    k: int                      # 1-based; 1 is the exam's own instance
    problem: ProblemInstance    # for an MCQ slot: a one-part problem holding that question's variant
    digest: str

    def tag(self, exam_id: str) -> str:
        """The text that names this variant in the LMS: i2dl:EXAM:SLOT:vK:DIGEST."""
        return f"i2dl:{exam_id}:{self.slot}:v{self.k:02d}:{self.digest}"

    @property
    def parts(self) -> list[PartInstance]:
        return self.problem.parts


@dataclass(frozen=True)
class Category:
    """A slot of the exam and its variants, in order."""

    slot: str
    title: str
    points: float
    kind: str  # 'spec', 'mcq' or 'short'
    variants: list[Variant]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:8]


def problem_digest(prob: ProblemInstance) -> str:
    """Eight hex digits that change whenever the instance's numbers do."""
    return _digest([prob.spec_id, {k: np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
                                   for k, v in sorted(prob.params.items())}])


def part_digest(part: PartInstance) -> str:
    """Eight hex digits naming one multiple-choice variant: its stem and options."""
    return _digest([part.id, part.text, [(o.text, o.correct) for o in part.options]])


def _variant_seed(exam_seed: int, slot: str, k: int) -> int:
    return int(np.random.SeedSequence([exam_seed & (2**63 - 1), *map(int, slot.split(".")), k]).generate_state(1)[0])


def _one_part(prob: ProblemInstance, part: PartInstance) -> ProblemInstance:
    """A multiple-choice part as a problem of its own (for a category per question)."""
    return dataclasses.replace(prob, parts=[part], points=part.points, title=f"{prob.title} {part.number}")


def build_pool(exam: Exam, n: int, *, engine: Any, bank: Any = None) -> list[Category]:
    """Per slot up to `n` distinct variants (fewer when the spec has fewer instances); deterministic."""
    if not 1 <= n <= MAX_VARIANTS:
        raise UsageError(f"--variants {n} is out of range", fix=f"give 1 to {MAX_VARIANTS} variants")
    if exam.is_cohort:
        return _cohort_pool(exam, n)
    rule = rule_of(exam.rounding)
    out = []
    for prob in exam.problems:
        if prob.kind == "mcq":
            out += [_mcq_category(exam, prob, part, n, engine, bank) for part in prob.parts]
            continue
        if prob.kind == "short":  # each written question its own category: a quiz draws them one by one
            out += [Category(part.number, f"{prob.title} {part.number}", part.points, "short",
                             [Variant(part.number, 1, _one_part(prob, part), part_digest(part))]) for part in prob.parts]
            continue
        slot = str(prob.number)
        variants = [Variant(slot, 1, prob, problem_digest(prob))]
        compiled = prob.compiled_spec()
        seen = {variants[0].digest}
        tries = 0
        while compiled is not None and len(variants) < n and tries < n + EXTRA_TRIES:
            tries += 1
            inst = make_instance(compiled, _variant_seed(exam.seed, slot, tries), engine, number=prob.number,
                                 points=prob.points, rounding=rule)
            inst.title = prob.title
            d = problem_digest(inst)
            if d not in seen:
                seen.add(d)
                variants.append(Variant(slot, len(variants) + 1, inst, d))
        out.append(Category(slot, prob.title, prob.points, "spec", variants))
    return out


def _mcq_category(exam: Exam, prob: ProblemInstance, part: PartInstance, n: int, engine: Any, bank: Any) -> Category:
    from i2dl.mcq import make_variant, variant_part

    slot = part.number
    variants = [Variant(slot, 1, _one_part(prob, part), part_digest(part))]
    question = None
    if bank is not None and part.id in bank.questions:
        question = bank.get(part.id)
    if question is not None and question.question.params:  # a computed question: fresh numbers per variant
        seen = {variants[0].digest}
        for t in range(1, n + EXTRA_TRIES):
            if len(variants) >= n:
                break
            v = make_variant(question, _variant_seed(exam.seed, slot, t), engine)
            new = variant_part(v, part.number, part.points, part.rubric)
            d = part_digest(new)
            if d not in seen:
                seen.add(d)
                variants.append(Variant(slot, len(variants) + 1, _one_part(prob, new), d))
    return Category(slot, f"{prob.title} {part.number}", part.points, "mcq", variants)


def _cohort_pool(exam: Exam, n: int) -> list[Category]:
    """A cohort's pool: per slot the distinct instances its students were given, in roster order."""
    out = []
    first = next(iter(exam.variants.values()))
    for i, prob in enumerate(first.problems):
        per_part = prob.kind in PER_PART
        slots = [p.number for p in prob.parts] if per_part else [str(prob.number)]
        for slot in slots:
            variants: list[Variant] = []
            seen: set[str] = set()
            for v in exam.variants.values():
                p = v.problems[i]
                inst, d = _mcq_slot(p, slot) if per_part else (p, problem_digest(p))
                if d not in seen and len(variants) < n:
                    seen.add(d)
                    variants.append(Variant(slot, len(variants) + 1, inst, d))
            title = f"{prob.title} {slot}" if per_part else prob.title
            points = prob.part(slot).points if per_part else prob.points
            out.append(Category(slot, title, points, prob.kind, variants))
    return out


def _mcq_slot(prob: ProblemInstance, slot: str) -> tuple[ProblemInstance, str]:
    part = prob.part(slot)
    return _one_part(prob, part), part_digest(part)


def find_variant(pool: list[Category], slot: str, k: int) -> Variant | None:
    """The variant k of `slot`, or None."""
    for c in pool:
        if c.slot == slot:
            return next((v for v in c.variants if v.k == k), None)
    return None
