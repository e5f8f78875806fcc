"""The CLI through Typer's CliRunner: help, version, engine selection, generate, solve, list, validate."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl import __version__
from i2dl.cli import app
from i2dl.exam.build import public_exam_id

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("generate", "grade", "explain", "solve", "list", "validate"):
        assert cmd in result.output


def test_version_prints_the_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_does_not_import_torch():
    code = "import sys; from i2dl.cli import main; sys.argv=['i2dl','--help']\n" \
           "try:\n main()\nexcept SystemExit: pass\nassert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_unknown_engine_is_a_clear_usage_error():
    result = runner.invoke(app, ["--engine", "jax", "list"])
    assert result.exit_code == 2
    assert "unknown engine 'jax'" in result.output


def test_engine_environment_variable_selects_numpy():
    result = runner.invoke(app, ["solve", "conv1d-backprop", "--json"], env={"I2DL_ENGINE": "numpy"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["engine"] == "numpy"


def test_solve_json_reproduces_endterm_2024_problem_3():
    args = ["--engine", "numpy", "solve", "conv1d-backprop", "--json"]
    for p in ("n=5", "x=[2,3,1,2,-1]", "c=[0.5,1.5,0.5]", "w=[-1,3]", "t=2", "g_y=2", "g_m=[2,1]",
              "g_z=[1,2,3]", "j=2"):
        args += ["--param", p]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)["values"]
    assert values["z"] == [6, 4, 3] and values["m"] == [6, 4]
    assert values["y"] == 6 and values["L"] == 16 and values["dLdy"] == 8
    assert values["dLdm"] == [-2, 6] and values["dLdz"] == [2, 1, 0] and values["dLdc_j"] == 11


def test_solve_unknown_parameter_is_a_located_error():
    result = runner.invoke(app, ["solve", "conv1d-backprop", "--param", "q=1"])
    assert result.exit_code == 4
    assert "--param q" in result.output and "no parameter 'q'" in result.output


def test_solve_unknown_spec_lists_what_exists():
    result = runner.invoke(app, ["solve", "no-such-spec"])
    assert result.exit_code == 3
    assert "conv1d-backprop" in result.output


def test_list_json_has_topic_parts_points_params():
    result = runner.invoke(app, ["list", "--json"])
    rows = json.loads(result.output)
    row = next(r for r in rows if r["id"] == "conv1d-backprop")
    assert row["parts"] == 7 and row["points"] > 0 and "x" in row["params"]


def test_list_mcq_shows_the_bank():
    result = runner.invoke(app, ["list", "--mcq", "--json"])
    assert result.exit_code == 0
    assert len(json.loads(result.output)) >= 80


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generate_same_seed_gives_byte_identical_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, "7"), (b, "7"), (c, "8")):
        result = runner.invoke(app, ["--engine", "numpy", "generate", "--seed", seed, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert _digest(a) == _digest(b)
    assert (a / "exam.json").read_bytes() != (c / "exam.json").read_bytes()
    files = set(_digest(a))
    assert {f for f in files if not f.startswith("figures/")} == {
        "exam.md", "key.md", "answers.yaml", "responses-template.csv", "exam.json", "exam.pdf", "key.pdf"}
    # the default exam's problems 3-7 declare a figure each (conv layer, network, 1D CNN, CNN, 2D grid)
    assert {f for f in files if f.startswith("figures/")} == {
        "figures/3-layers.svg", "figures/4-network.svg", "figures/5-pipeline.svg", "figures/6-layers.svg",
        "figures/7-grid.svg"}


def test_generate_without_seed_prints_the_fresh_seed(tmp_path):
    result = runner.invoke(app, ["--engine", "numpy", "generate", "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    assert "seed" in result.output


def test_generate_single_spec_with_pinned_matrix_param(tmp_path):
    out = tmp_path / "one"
    result = runner.invoke(app, ["--engine", "numpy", "generate", "conv1d-backprop", "--seed", "1", "--out", str(out),
                                 "--param", "n=5", "--param", "x=[2,3,1,2,-1]"])
    assert result.exit_code == 0, result.output
    assert "[2, 3, 1, 2, -1]" in (out / "exam.md").read_text()


def test_generate_answer_file_has_one_entry_per_blank_with_a_form_comment(tmp_path):
    out = tmp_path / "e"
    runner.invoke(app, ["--engine", "numpy", "generate", "--seed", "3", "--out", str(out)])
    text = (out / "answers.yaml").read_text()
    assert "student_id:" in text and "# letters of all correct options" in text
    assert "# conv output z: a vector of" in text


@pytest.mark.parametrize("bad", ["x=[1,2", "nonsense"])
def test_generate_bad_param_is_reported_not_crashing(tmp_path, bad):
    result = runner.invoke(app, ["--engine", "numpy", "generate", "conv1d-backprop", "--out", str(tmp_path),
                                 "--param", bad])
    assert result.exit_code != 0
    assert "error" in result.output.lower()
    assert "Traceback" not in result.output


def test_validate_passes_on_the_shipped_library():
    result = runner.invoke(app, ["--engine", "numpy", "validate", "--samples", "20"])
    assert result.exit_code == 0, result.output
    assert " 0 errors" in result.output


def test_validate_reports_a_broken_spec_with_file_and_line(tmp_path):
    bad = tmp_path / "specs" / "broken.yaml"
    bad.parent.mkdir()
    bad.write_text("id: broken\ntitle: B\ntopic: t\nparts:\n  - id: p\n    text: x\n    points: 1\n"
                   "    answers:\n      - {name: y, expr: 'q + 1'}\n")
    result = runner.invoke(app, ["validate", str(bad), "--samples", "5"])
    assert result.exit_code == 4
    assert "broken.yaml:9" in result.output and "q" in result.output


def test_one_number_format_writes_tiny_values_as_powers_of_ten_everywhere():
    from i2dl.explain.steps import _n, _v
    from i2dl.render import fmt_number, fmt_value

    assert fmt_number(1e-8) == "1e-8" and fmt_value([2.5e-5, 0.5]) == "[2.5e-5, 0.5]"
    assert fmt_number(1e-8, style="latex") == _n(1e-8) == "10^{-8}"
    assert fmt_value(np.array([[2.5e-5, 1.0]]), "latex") == r"\begin{bmatrix} 2.5 \cdot 10^{-5} & 1 \end{bmatrix}"
    assert _v({"a": True}) == r"\{\text{a}: \text{true}\}"


@pytest.mark.parametrize("spec_id, shown", [("adam-steps", r"\epsilon = 10^{-8}"),
                                            ("rmsprop-steps", r"\epsilon = 10^{-8}"),
                                            ("adagrad-steps", r"\epsilon = 10^{-10}")])
def test_statement_prints_eps_from_its_parameter(tmp_path, spec_id, shown):
    result = runner.invoke(app, ["--engine", "numpy", "generate", spec_id, "--seed", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert shown in (tmp_path / "exam.md").read_text(encoding="utf-8")


def test_readme_exit_codes_table_is_the_one_made_from_errors_py():
    from pathlib import Path

    from i2dl.errors import exit_codes_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert exit_codes_markdown() in section


def test_every_error_class_exit_code_has_a_meaning_and_every_meaning_a_class():
    from i2dl.errors import EXIT_CODES, error_classes

    codes = {cls.exit_code for cls in error_classes()}
    assert codes <= set(EXIT_CODES), codes - set(EXIT_CODES)
    assert set(EXIT_CODES) - codes == {0}  # 0 is success, no error class


def test_help_lists_every_exit_code_with_its_meaning():
    from i2dl.errors import EXIT_CODES

    out = " ".join(runner.invoke(app, ["--help"]).output.split())
    for code, (short, _) in EXIT_CODES.items():
        assert f"{code} {short}" in out, (code, short)


# ---------------------------------------------------------------------------- script-friendly conventions


def test_shell_completion_completes_commands_and_options():
    res = runner.invoke(app, [], prog_name="i2dl",
                        env={"_I2DL_COMPLETE": "complete_bash", "COMP_WORDS": "i2dl gr", "COMP_CWORD": "1"})
    assert res.exit_code == 0 and res.output.split() == ["grade"]
    res = runner.invoke(app, [], prog_name="i2dl",
                        env={"_I2DL_COMPLETE": "complete_bash", "COMP_WORDS": "i2dl grade --id", "COMP_CWORD": "2"})
    assert res.output.split() == ["--id-case", "--id-column"]
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


def test_narrow_terminal_wraps_tables_and_help_instead_of_cutting_them():
    from i2dl.generate import list_specs

    res = runner.invoke(app, ["list"], env={"COLUMNS": "70"})
    assert res.exit_code == 0
    assert "…" not in res.output and max(len(line) for line in res.output.splitlines()) <= 70
    titles: list[str] = []
    for line in res.output.splitlines():
        cells = line.split("│")
        if len(cells) != 8:
            continue
        if cells[4].strip():  # the parts column never wraps: a new row starts
            titles.append("")
        titles[-1] += cells[3].strip() + " "
    flat = ["".join(t.split()) for t in titles]
    assert flat == ["".join(r["title"].split()) for r in list_specs()]  # every title whole, if wrapped
    helptext = runner.invoke(app, ["--help"], env={"COLUMNS": "70"}).output
    commands = helptext.split("Commands:", 1)[1]
    assert "..." not in commands and "or the pinnable names of one spec" in " ".join(commands.split())


def _json_of(args: list[str], code: int = 0):
    res = runner.invoke(app, ["--engine", "numpy", *args])
    assert res.exit_code == code, res.output
    return json.loads(res.stdout)


def test_json_of_generate_names_every_file_it_wrote(tmp_path):
    data = _json_of(["generate", "conv-layer-arithmetic", "--seed", "3", "--out", str(tmp_path / "e"), "--json"])
    assert data["exam_id"] == public_exam_id("conv-layer-arithmetic", 3) and data["seed"] == 3
    assert set(data["files"]) == {"sheet", "key", "answers", "responses", "figures", "sheet_pdf", "key_pdf", "data"}
    assert all((tmp_path / "e" / p.split("/")[-1]).exists() for p in data["files"].values())
    assert (tmp_path / "e" / "figures" / "1-layers.svg").is_file()
    assert data["problems"][0]["spec"] == "conv-layer-arithmetic"


def test_json_of_validate_reports_each_file_and_the_error_count(tmp_path):
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "problems" / "specs" / "conv-layer-arithmetic.yaml"
    data = _json_of(["validate", str(spec), "--samples", "3", "--json"])
    assert data["errors"] == 0 and data["exit_code"] == 0
    assert [f["kind"] for f in data["files"]] == ["spec"] and data["files"][0]["ok"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: x\n", encoding="utf-8")
    data = _json_of(["validate", str(bad), "--samples", "0", "--json"], code=4)
    assert data["errors"] >= 1 and data["exit_code"] == 4 and data["files"][0]["ok"] is False


def test_json_of_list_solve_and_explain_parse_and_agree(tmp_path):
    specs = _json_of(["list", "--json"])
    from i2dl.spec.load import Library

    assert len(specs) == len(Library().ids()) and {"id", "topic", "parts", "points", "params"} <= set(specs[0])
    solved = _json_of(["solve", "conv-layer-arithmetic", "--seed", "3", "--json"])
    _json_of(["generate", "conv-layer-arithmetic", "--seed", "3", "--out", str(tmp_path / "e"), "--json"])
    explained = _json_of(["explain", "1.1", "--exam", str(tmp_path / "e"), "--json"])
    assert explained["number"] == "1.1" and explained["spec"] == "conv-layer-arithmetic"
    key = json.loads((tmp_path / "e" / "exam.json").read_text(encoding="utf-8"))
    assert explained["problem"] == 1 and explained["points"] == key["problems"][0]["parts"][0]["points"]
    spec = _json_of(["explain", "conv-layer-arithmetic", "--seed", "3", "--json"])
    assert spec["params"] == solved["params"]
    first = solved["parts"][0]["blanks"][0]
    blank = spec["parts"][0]["blanks"][0]
    assert blank["name"] == first["name"] and blank["expected"] == first["value"]


def test_json_mode_prints_an_error_as_json_with_its_exit_code(tmp_path):
    data = _json_of(["explain", "1.1", "--exam", str(tmp_path / "nothing"), "--json"], code=3)
    assert data["error"]["type"] == "NotFoundError" and data["error"]["exit_code"] == 3
    assert "no exam" in data["error"]["message"]
    data = _json_of(["solve", "no-such-spec", "--json"], code=3)
    assert data["error"]["exit_code"] == 3 and "conv1d-backprop" in data["error"]["fix"]


def test_entry_point_sets_the_collector_threshold_before_the_cli_runs(monkeypatch):
    import gc
    from pathlib import Path

    import tomllib

    import i2dl.__main__ as entry
    import i2dl.cli

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["i2dl"] == "i2dl.__main__:main"
    seen = []
    monkeypatch.setattr(i2dl.cli, "main", lambda: seen.append(gc.get_threshold()[0]))
    before = gc.get_threshold()
    try:
        entry.main()
    finally:
        gc.set_threshold(*before)
    assert seen == [entry.GC_THRESHOLD]
