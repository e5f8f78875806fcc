"""Exam quality of every shipped spec over 500 seeds: sampling succeeds, numbers stay hand-sized,
mistakes stay outside the key's tolerance, and the seeds give real variety."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.spec.instance import make_instance, overlaps
from i2dl.spec.load import Library

SEEDS = 500
LIBRARY = Library()




@pytest.mark.parametrize("spec_id", LIBRARY.ids())
def test_spec_gives_exam_quality_instances_for_500_seeds(spec_id, np_engine):
    compiled = LIBRARY.get(spec_id)
    seen: set[str] = set()
    tries = 0
    for seed in range(SEEDS):
        inst = make_instance(compiled, seed, np_engine)
        tries += inst.tries
        assert not inst.warnings, f"seed {seed}: {inst.warnings}"
        for part in inst.parts:
            assert part.points > 0
            for b in part.blanks:
                if b.kind in ("number", "vector", "matrix"):
                    a = np.asarray(b.expected, dtype=float)
                    assert np.all(np.isfinite(a)), f"seed {seed}: {b.name} is not finite"
                    assert np.all(np.abs(a) < 1e5), f"seed {seed}: {b.name} = {a} is not hand-sized"
                for alt in b.alternatives:
                    if alt["credit"] < 1:
                        assert not overlaps(b, alt["value"], b.expected), \
                            f"seed {seed}: mistake '{alt['name']}' of {b.name} is within the key's tolerance"
        seen.add(repr(sorted((k, np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                             for k, v in inst.params.items())))
    assert tries / SEEDS < 100, f"{tries / SEEDS:.1f} tries per instance: constraints too tight"
    assert len(seen) >= min(50, SEEDS // 10), f"only {len(seen)} distinct instances in {SEEDS} seeds"
