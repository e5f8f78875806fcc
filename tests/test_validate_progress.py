"""`i2dl validate` shows how far each stress test has got: a bar on a terminal's stderr, nothing elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from i2dl import cli
from i2dl.cli import app
from i2dl.validate import validate_paths

NEWTON = Path(__file__).resolve().parents[1] / "problems" / "specs" / "newton-step.yaml"
runner = CliRunner()


def test_validate_progress_is_reported_per_sample():
    seen: list[tuple[str, int, int]] = []
    validate_paths([NEWTON], samples=3,
                   engine_name="numpy", progress=lambda f, done, total: seen.append((Path(f).name, done, total)))
    assert seen[0] == ("newton-step.yaml", 0, 3) and seen[-1] == ("newton-step.yaml", 3, 3)


def test_validate_cli_draws_progress_on_a_terminal_stderr_only(monkeypatch):
    args = ["--engine", "numpy", "validate", str(NEWTON), "--samples", "3"]
    plain = runner.invoke(app, args, env={"NO_COLOR": "1"})
    assert plain.exit_code == 0 and "stress test" not in plain.output  # not a terminal: no bar

    term = io.StringIO()
    monkeypatch.setattr(cli, "_progress_console", lambda: Console(file=term, force_terminal=True, width=100))
    drawn = runner.invoke(app, args, env={"NO_COLOR": "1"})
    assert drawn.exit_code == 0
    assert "stress test newton-step.yaml" in term.getvalue() and "3/3" in term.getvalue()
    assert drawn.stdout == plain.stdout  # the report itself is unchanged
