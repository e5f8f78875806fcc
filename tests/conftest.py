"""Shared fixtures: both engines, and a visible skip for torch comparisons without torch."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from i2dl.engine import get_engine, torch_available

ENGINES = ["numpy", "torch"]

# CI replays the same examples every run (a red build is reproducible); locally each run explores.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


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


@pytest.fixture(scope="session")
def default_exam_dir(tmp_path_factory):
    """The default exam for seed 1 (numpy engine), generated once through the CLI; read-only by convention."""
    from typer.testing import CliRunner

    from i2dl.cli import app

    root = tmp_path_factory.mktemp("default-exam")
    res = CliRunner().invoke(app, ["--engine", "numpy", "generate", "--seed", "1", "--out", str(root / "exam")])
    assert res.exit_code == 0, res.output
    return root / "exam"


@pytest.fixture(autouse=True)
def _no_course_left_active():
    """A CLI run with --course (or inside a course) sets the active course for the process: reset it after each test."""
    yield
    from i2dl.course import reset_course

    reset_course()
