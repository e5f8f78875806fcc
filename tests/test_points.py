"""Rescaling a spec's part points to a blueprint's total: half points, exact sum, order kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from i2dl.spec.instance import split_points

weights = st.lists(st.sampled_from([0.5, 1, 1.5, 2, 3, 4]), min_size=1, max_size=8)


@given(weights, st.integers(min_value=1, max_value=60))
def test_split_points_sums_exactly_to_the_blueprint_total_in_half_points(ws, total_halves):
    total = max(total_halves, len(ws)) / 2
    out = split_points(ws, total)
    assert sum(out) == total
    assert all(p >= 0.5 and (p * 2) == int(p * 2) for p in out)


@given(weights)
def test_split_points_without_a_total_keeps_the_spec_points(ws):
    assert split_points(ws, None) == ws


def test_split_points_gives_spare_half_points_to_the_largest_remainders():
    assert split_points([1, 1, 1], 2) == [1.0, 0.5, 0.5]
    assert split_points([2, 1], 6) == [4.0, 2.0]
