"""Many seeded instances of every shipped spec, made once per test session and shared by the
tests that judge the library as a whole (fairness, variety, explanations)."""

from __future__ import annotations

from functools import cache

from i2dl.engine import get_engine
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library

#: how many seeds the library-wide tests sample per spec (the issue's acceptance figure)
SAMPLES = 2000
LIBRARY = Library()


@cache
def instances(spec_id: str, n: int = SAMPLES) -> tuple:
    """Instances of `spec_id` for seeds 0..n-1 with the numpy engine (the sampler does not depend on it)."""
    compiled = LIBRARY.get(spec_id)
    engine = get_engine("numpy")
    return tuple(make_instance(compiled, seed, engine) for seed in range(n))


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
