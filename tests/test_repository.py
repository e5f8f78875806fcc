"""The repository itself: nothing in it names a developer's machine, and the lock covers what
pyproject.toml asks for, so a fresh clone installs the same versions everywhere."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
# Built from pieces so that this file does not match itself.
ABSOLUTE = re.compile("(/" + "root/|/" + "home/[a-z]|/" + "work/|/" + "tmp/pytest-of|/" + "Users/[A-Za-z])")


def tracked_files() -> list[Path]:
    """The files git tracks, or every file outside virtual environments when there is no git."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {".git", ".venv", ".venv-notorch", ".hypothesis", "__pycache__"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


def test_repository_names_no_absolute_machine_path():
    hits = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                 if ABSOLUTE.search(line)]
    assert hits == []


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line such as 'PyYAML>=6'."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)).lower()


def locked() -> dict[str, str]:
    """name -> exact version pinned in requirements.lock."""
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: '{line}' is not pinned with =="
            pins[_name(name)] = version.split(";")[0].strip()
    return pins


def test_lock_pins_every_dependency_and_extra():
    tomllib = pytest.importorskip("tomllib")

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = locked()
    assert sorted(_name(r) for r in wanted if _name(r) not in pins) == []


def test_lock_pins_torch_to_the_cpu_wheel_and_nothing_of_cuda():
    pins = locked()
    assert pins["torch"].split("+")[0] == "2.13.0"
    assert [n for n in pins if n.startswith(("nvidia-", "triton"))] == []


def _makefile_environment() -> bool:
    """True inside the virtual environments the Makefile builds from the lock."""
    return Path(sys.prefix).resolve() in {(ROOT / ".venv").resolve(), (ROOT / ".venv-notorch").resolve()}


def test_environment_holds_exactly_the_locked_versions():
    from importlib.metadata import distributions

    if not _makefile_environment():
        pytest.skip("not an environment the Makefile built from the lock")
    pins = locked()
    # The venv's own installer (setuptools too, unless torch asks for it) and the project itself.
    own = {"i2dl", "pip", "setuptools", "wheel"}
    installed = {_name(d.metadata["Name"]): d.version.split("+")[0] for d in distributions()}
    installed = {n: v for n, v in installed.items() if n not in own}
    extra = sorted(set(installed) - set(pins))
    wrong = {n: (v, pins[n]) for n, v in installed.items() if n in pins and v != pins[n].split("+")[0]}
    assert extra == [] and wrong == {}


def test_pyproject_ships_every_subpackage():
    # setuptools' package list is explicit: a subpackage missing from it is missing from the wheel.
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT / "cli").parts) for p in (ROOT / "cli" / "i2dl").rglob("__init__.py")}
    assert sorted(found - listed) == []


def test_git_tracks_every_source_file():
    # An ignore pattern that matches inside the package (the exam/ output folder once matched
    # cli/i2dl/exam/) would leave modules out of every clone while the working tree still runs.
    try:
        out = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "-z", "cli", "tests"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    ignored = [n for n in out.decode().split("\0") if n.endswith((".py", ".yaml", ".json"))]
    assert ignored == []


def test_readme_library_table_lists_every_shipped_spec_and_counts_them():
    from i2dl.spec.load import Library

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", readme.split("## The problem library", 1)[1].split("\n## ", 1)[0],
                        flags=re.M)
    shipped = [i for i in Library().ids() if not i.startswith("mcq.")]
    assert sorted(listed) == sorted(shipped)
    assert f"{len(shipped)} problem families" in readme
