"""Many seeded instances of every shipped spec, made once per test session and shared by the
tests that judge the library as a whole (fairness, variety, explanations)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from functools import cache

from i2dl.engine import get_engine
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library

#: how many seeds the library-wide tests sample per spec (the issue's acceptance figure)
SAMPLES = 2000
LIBRARY = Library()


@cache
def instances(spec_id: str, n: int = SAMPLES) -> tuple:
    """Instances of `spec_id` for seeds 0..n-1 with the numpy engine (the sampler does not depend on it).

    Made in forked workers, one share of the seeds each (each seed's instance is the same wherever it
    is made); every instance keeps the compiled spec it was sampled with, as make_instance leaves it.
    """
    compiled = LIBRARY.get(spec_id)
    jobs = min(os.cpu_count() or 1, 4)
    if jobs < 2 or n < 200 or "fork" not in multiprocessing.get_all_start_methods():
        return tuple(_seeds(spec_id, range(n)))
    shares = [range(i, n, jobs) for i in range(jobs)]  # interleaved: slow seeds spread over the workers
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        made = list(pool.map(_stripped, [(spec_id, share) for share in shares]))
    out = [made[seed % jobs][seed // jobs] for seed in range(n)]
    for inst in out:
        inst._compiled = compiled
    return tuple(out)


def _seeds(spec_id: str, seeds: range) -> list:
    compiled, engine = LIBRARY.get(spec_id), get_engine("numpy")
    return [make_instance(compiled, seed, engine) for seed in seeds]


def _stripped(job: tuple[str, range]) -> list:
    """A worker's instances without their compiled spec (the parent attaches its own; it is large to send)."""
    made = _seeds(*job)
    for inst in made:
        inst._compiled = None
    return made


def counting_spec(spec_id: str, instances: int) -> str:
    """A spec file's text with exactly `instances` equally likely instances (n = 1..instances; answer 2 n)."""
    return f"""\
id: {spec_id}
title: A spec with {instances} equally likely instances
topic: testing
params:
  n: {{type: int, min: 1, max: {instances}}}
statement: "Take n = {{{{n}}}}."
parts:
  - id: double
    text: "Give 2 n."
    points: 1
    answers:
      - {{name: d, expr: "2 * n"}}
"""
