"""Shared fixtures: both engines, and a visible skip for torch comparisons without torch."""

from __future__ import annotations

import pytest

from i2dl.engine import get_engine, torch_available

ENGINES = ["numpy", "torch"]


def pytest_collection_modifyitems(config, items):
    # Without torch every torch comparison is skipped with a reason, never silently dropped.
    if torch_available():
        return
    skip = pytest.mark.skip(reason="torch is not installed: torch comparisons skipped")
    for item in items:
        if "torch" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def np_engine():
    return get_engine("numpy")


@pytest.fixture(scope="session")
def torch_engine():
    if not torch_available():
        pytest.skip("torch is not installed: torch comparisons skipped")
    return get_engine("torch")


@pytest.fixture(params=ENGINES, scope="session")
def engine(request):
    """Each engine in turn; the torch one is skipped visibly when torch is missing."""
    if request.param == "torch" and not torch_available():
        pytest.skip("torch is not installed: torch engine skipped")
    return get_engine(request.param)
