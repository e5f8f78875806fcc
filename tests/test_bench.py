"""The benchmark's quick mode (BENCH_QUICK=1) runs every figure at tiny sizes and writes results.json with
each figure's value, floor, ratio and goal (its timings are not looked at: they mean nothing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"
FIGURES = {"grade", "grade-mostly-wrong", "grade-jobs-2", "cold-help", "cold-solve", "cohort", "count", "grade-csv",
           "rss-grade", "rss-cohort"}


def test_bench_quick_mode_writes_every_figure_with_its_floor_and_goal(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--results", str(out)], capture_output=True, text=True,
                          env={**os.environ, "BENCH_QUICK": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text(encoding="utf-8"))
    assert record["quick"] is True and record["issue"] == 20
    figures = {f["name"]: f for f in record["figures"]}
    assert set(figures) >= FIGURES
    for f in figures.values():
        assert set(f) >= {"name", "what", "value", "unit", "floor", "floor_name", "ratio", "goal", "met"}
    assert all(figures[n]["floor"] is not None and figures[n]["ratio"] is not None
               for n in FIGURES if not n.startswith("rss-"))
    assert figures["grade-jobs-2"]["notes"]["identical_to_jobs_1"] is True
    for name in FIGURES:
        assert name in proc.stdout  # the printed table has a row per figure
    assert figures["rss-cohort"]["goal"] and figures["rss-cohort"]["unit"] == "MB"  # memory is set against a goal


def test_bench_only_measures_the_named_figures_and_refuses_an_unknown_one(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--only", "count,cold-solve", "--results", str(out)],
                          capture_output=True, text=True, env={**os.environ, "BENCH_QUICK": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [f["name"] for f in json.loads(out.read_text(encoding="utf-8"))["figures"]] == ["cold-solve", "count"]
    bad = subprocess.run([sys.executable, str(BENCH), "--only", "cohrot"], capture_output=True, text=True,
                         env={**os.environ, "BENCH_QUICK": "1"}, timeout=600)
    assert bad.returncode == 2 and "cohrot" in bad.stderr
