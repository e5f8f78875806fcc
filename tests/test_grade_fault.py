"""Fault test: SIGKILL a real `i2dl grade` at random points (grading and writing, with and without an
earlier results folder); the results folder is always one complete, self-consistent set, old or new.

The kill points come from a seeded RNG (FAULT_SEED, or $I2DL_FAULT_SEED), so a failing schedule replays; timing on a
loaded machine still moves them a little, which is why every outcome is checked, not a chosen one.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from i2dl.exam import build_exam
from i2dl.export import write_exam
from i2dl.export.answers import key_answers
from i2dl.io import dump_yaml
from i2dl.render import fmt_number

FAULT_SEED = int(os.environ.get("I2DL_FAULT_SEED", "19"))  # another seed explores other kill points
FILES = int(os.environ.get("I2DL_FAULT_FILES", "300"))  # the 2,000: I2DL_FAULT_FILES=2000
FIRST = "s0000.md"  # the first feedback file named: grading is over
KILLS_PER_PHASE = 3


def _submissions(folder: Path, exam, ids: range, slip_rate: float, rng: random.Random) -> None:
    """Key answers, some parts with a wrong number, one file per id."""
    key = key_answers(exam)
    folder.mkdir()
    for i in ids:
        answers = copy.deepcopy(key)
        for value in answers.values():
            if isinstance(value, dict) and rng.random() < slip_rate:
                for k, v in value.items():
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        value[k] = v + 1
        doc = {"exam": exam.exam_id, "student_id": f"s{i:04d}", "name": f"Student {i}", "answers": answers}
        (folder / f"s{i:04d}.yaml").write_text(dump_yaml(doc), encoding="utf-8")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault")
    exam = build_exam("default", 1, engine_name="numpy")
    write_exam(exam, root / "exam")
    rng = random.Random(FAULT_SEED)
    # The earlier batch has students the new one lacks (their feedback must not survive a swap).
    _submissions(root / "old-subs", exam, range(FILES // 2, FILES // 2 + FILES), 0.05, rng)
    _submissions(root / "new-subs", exam, range(FILES), 0.15, rng)
    _run(root, "new-subs", root / "new")
    _run(root, "old-subs", root / "old")
    # When writing starts and when the run ends, watched from outside as the kills will be.
    t0 = time.perf_counter()
    proc = subprocess.Popen(_command(root, "new-subs", root / "calibrate"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    grading_end = None
    while proc.poll() is None:
        if grading_end is None and _writing_started(root / "calibrate", proc.pid, FIRST):
            grading_end = time.perf_counter() - t0
        time.sleep(0.0005)
    total = time.perf_counter() - t0
    grading_end = grading_end or total
    return SimpleNamespace(root=root, new=assert_complete_set(root / "new"), old=assert_complete_set(root / "old"),
                           grading=grading_end, writing=max(total - grading_end, 0.01))


def _command(root: Path, subs: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "i2dl", "--engine", "numpy", "grade", str(root / subs), "--exam",
            str(root / "exam"), "--out", str(out)]


def _run(root: Path, subs: str, out: Path) -> None:
    proc = subprocess.run(_command(root, subs, out), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr


def _writing_started(out: Path, pid: int, first: str) -> bool:
    """True once the run (pid) names its first feedback file: grading is over, results are being written."""
    for name in os.listdir(out.parent):
        if re.fullmatch(rf"\.{re.escape(out.name)}\.i2dl-{pid}-[0-9a-f]{{8}}\.tmp", name):
            return (out.parent / name / "feedback" / first).exists()
    return False


def assert_complete_set(out: Path) -> dict[str, str]:
    """Check `out` is one whole result set: manifest, checksums, and totals agreeing everywhere."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files == set(manifest["files"]) | {"manifest.json"}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    rows = list(csv.reader(io.StringIO((out / "scores.csv").read_text(encoding="utf-8"))))[2:]
    totals = {s["student_id"]: fmt_number(s["total"], 3) for s in summary["students"]}
    assert {r[0]: r[-3] for r in rows} == totals
    assert manifest["graded"] == summary["graded"] == len(rows) == len(list((out / "feedback").iterdir()))
    for path in (out / "feedback").iterdir():
        lines = path.read_text(encoding="utf-8").splitlines()
        sid = lines[0].removeprefix("# Feedback: ").split(" (")[0]
        assert f"· {totals[sid]} / " in lines[2], (path.name, lines[2])
    return manifest["files"]


@pytest.mark.parametrize("earlier", [False, True], ids=["no-earlier-results", "earlier-results"])
def test_fault_sigkill_leaves_the_old_or_the_new_complete_result_set(setup, tmp_path, earlier):
    root, new, old = setup.root, setup.new, setup.old
    parent = tmp_path / "results-parent"
    parent.mkdir()
    out = parent / "out"
    rng = random.Random(FAULT_SEED + earlier)
    outcomes = []
    for phase in ["grading"] * KILLS_PER_PHASE + ["writing"] * KILLS_PER_PHASE:
        if out.exists():
            shutil.rmtree(out)
        if earlier:
            shutil.copytree(root / "old", out)
        delay = rng.uniform(0.05, setup.grading) if phase == "grading" else rng.uniform(0.0, setup.writing)
        proc = subprocess.Popen(_command(root, "new-subs", out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        start = time.perf_counter()
        if phase == "writing":
            while proc.poll() is None and not _writing_started(out, proc.pid, FIRST):
                if time.perf_counter() - start > 120:
                    break
                time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        state = "absent" if not out.exists() else ("new" if assert_complete_set(out) == new else "old")
        if state == "old":
            assert earlier and assert_complete_set(out) == old
        if state == "absent":
            assert not earlier, f"the earlier results vanished (kill in {phase} after {delay:.3f} s)"
        outcomes.append((phase, round(delay, 3), state))
    print(f"calibration: grading {setup.grading:.2f} s, writing {setup.writing:.3f} s; kills: {outcomes}")

    # A complete run after all the kills cleans every leftover and writes the new set.
    _run(root, "new-subs", out)
    assert assert_complete_set(out) == new
    assert sorted(os.listdir(parent)) == ["out"], outcomes
