"""Course folders: init, i2dl.toml, the course-first library, secret per-student variants, cohort grading."""

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.course import SECRET_ENV, SECRET_FILE, load_course, read_roster, use_course, variant_seed
from i2dl.errors import SpecError, UsageError
from i2dl.exam import build_exam, load_exam, problem_seed
from i2dl.exam.build import public_exam_id
from i2dl.export.answers import response_columns
from i2dl.generate import RESEEDS
from i2dl.spec.load import Library, builtin_dir
from tests.samples import counting_spec

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "course"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["--engine", "numpy", *args])


@pytest.fixture(autouse=True)
def _no_secret_in_env(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """A course made by `i2dl init`, with its own spec, question bank and blueprint; the working folder."""
    root = tmp_path / "dl-course"
    res = run("init", str(root), "--title", "Deep Learning", "--term", "WS 2026")
    assert res.exit_code == 0, res.output
    shutil.copy(FIXTURES / "relu-neuron-sgd.yaml", root / "problems" / "specs")
    shutil.copy(FIXTURES / "course-basics.yaml", root / "problems" / "mcq")
    shutil.copy(FIXTURES / "midterm.yaml", root / "problems" / "blueprints")
    monkeypatch.chdir(root)
    return root


def write_roster(path: Path, n: int) -> list[str]:
    ids = [f"s{i:03d}" for i in range(n)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["student_id", "name"])
        w.writerows([sid, f"Student {i}"] for i, sid in enumerate(ids))
    return ids


# ---------------------------------------------------------------------------- init and i2dl.toml


def test_init_writes_config_folders_roster_gitignore_and_a_private_secret(course):
    config = load_course(course).config
    assert (config.title, config.term, config.blueprint) == ("Deep Learning", "WS 2026", "default")
    assert config.defaults == {}  # the place for course-wide exam defaults
    for rel in ("problems/specs", "problems/mcq", "problems/blueprints", "rubrics"):
        assert (course / rel).is_dir()
    secret = (course / SECRET_FILE).read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert stat.S_IMODE((course / SECRET_FILE).stat().st_mode) == 0o600
    ignored = (course / ".gitignore").read_text().splitlines()
    assert SECRET_FILE in ignored and "exams/" in ignored and "results/" in ignored
    assert [s.student_id for s in read_roster(course / "roster.csv")] == ["ge00aaa", "ge00bbb", "ge00ccc"]


def test_init_refuses_an_existing_course(course):
    res = run("init", str(course))
    assert res.exit_code == 2
    assert "already a course" in res.output


def test_course_toml_unknown_key_is_an_error_naming_key_and_line(course):
    (course / "i2dl.toml").write_text('title = "x"\nterm = "t"\nblueprnt = "midterm"\n')
    with pytest.raises(SpecError) as exc:
        load_course(course)
    assert exc.value.where.endswith("i2dl.toml:3 blueprnt")
    assert "unknown key 'blueprnt'" in exc.value.message
    res = run("list")  # every command inside the course stops at the broken file
    assert res.exit_code == 4 and "blueprnt" in res.output


def test_course_toml_wrong_type_and_bad_engine_are_located(course):
    (course / "i2dl.toml").write_text('title = "x"\nterm = 2026\n')
    with pytest.raises(SpecError) as exc:
        load_course(course)
    assert exc.value.where.endswith("i2dl.toml:2 term")
    (course / "i2dl.toml").write_text('title = "x"\nengine = "tensorflow"\n')
    with pytest.raises(SpecError) as exc:
        load_course(course)
    assert exc.value.where.endswith("i2dl.toml:2 engine")


# ---------------------------------------------------------------------------- the course-first library


def test_library_inside_a_course_has_its_own_spec_first_and_the_shipped_ones_after(course):
    with use_course(course):
        lib = Library()
        assert lib.paths["relu-neuron-sgd"] == course / "problems" / "specs" / "relu-neuron-sgd.yaml"
        assert lib.paths["stacked-linear"] == builtin_dir("specs") / "stacked-linear.yaml"
    with use_course(None):
        assert "relu-neuron-sgd" not in Library().paths


def test_list_inside_a_course_shows_its_own_spec_and_question(course):
    specs = json.loads(run("list", "--json").output)
    assert {"relu-neuron-sgd", "stacked-linear"} <= {r["id"] for r in specs}
    bank = json.loads(run("list", "--mcq", "--json").output)
    assert "mcq.course-basics.relu-facts" in {r["id"] for r in bank}


def test_course_option_finds_the_course_from_elsewhere_and_outside_only_the_shipped_library(course, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("solve", "relu-neuron-sgd").exit_code == 3  # outside the course: no such spec
    res = run("--course", str(course), "solve", "relu-neuron-sgd", "--param", "w=[1,2]", "--param", "x=[1,1]",
              "--param", "b=0", "--param", "y=1", "--param", "lr=0.5", "--json")
    assert res.exit_code == 0, res.output
    values = json.loads(res.output)["values"]
    assert values["z"] == 3 and values["g"] == 2 and values["w_new"] == [0.0, 1.0]


@pytest.mark.parametrize("kind, folder, shipped", [
    ("spec", "problems/specs", "stacked-linear.yaml"),
    ("blueprint", "problems/blueprints", "default.yaml"),
    ("question bank", "problems/mcq", "data.yaml"),
    ("rubric", "rubrics", "per-blank.yaml"),
])
def test_an_id_in_the_course_and_the_shipped_library_is_an_error_naming_both_files(course, kind, folder, shipped):
    ship_dir = builtin_dir({"problems/specs": "specs", "problems/blueprints": "blueprints",
                            "problems/mcq": "mcq", "rubrics": "rubrics"}[folder])
    shutil.copy(ship_dir / shipped, course / folder / shipped)
    res = run("generate", "midterm", "--roster", "roster.csv", "--out", "exams/mid")
    assert res.exit_code == 4, res.output
    text = " ".join(res.output.split())
    assert f"{kind} id '{Path(shipped).stem}' is defined twice" in text
    assert str(course / folder / shipped) in text.replace("\n", "")
    assert str(ship_dir / shipped) in text.replace("\n", "")
    report = run("validate", "--samples", "0")
    assert report.exit_code == 4
    assert "defined twice" in report.output


def test_validate_inside_a_course_checks_the_course_files_and_the_course_itself(course):
    from i2dl.validate import validate_paths

    res = run("validate", "--samples", "5")
    assert res.exit_code == 0, res.output
    assert "4 files, 0 errors, 0 warnings" in res.output
    with use_course(course):
        report = validate_paths([], samples=5, engine_name="numpy")
    assert [(Path(r["path"]).name, r["kind"], r["ok"]) for r in report["files"]] == [
        ("i2dl.toml", "course", True), ("relu-neuron-sgd.yaml", "spec", True),
        ("course-basics.yaml", "mcq", True), ("midterm.yaml", "blueprint", True)]
    # the shipped library is not stress-tested each time, only checked for clashing ids
    assert "1 own specs, 1 own mcq, 0 own short, 1 own blueprints, 0 own rubrics" in report["files"][0]["notes"]
    assert "3 students in roster.csv" in report["files"][0]["notes"]


def test_course_rubric_and_blueprint_default_are_used(course):
    (course / "rubrics" / "half-or-all.yaml").write_text(
        "name: half-or-all\nscheme: threshold\nthresholds: [{correct: all, credit: 1}, {correct: 1, credit: 0.5}]\n")
    (course / "i2dl.toml").write_text('title = "Deep Learning"\nblueprint = "midterm"\n')
    spec = (course / "problems" / "specs" / "relu-neuron-sgd.yaml")
    spec.write_text(spec.read_text().replace("    points: 1\n    answers:\n      - {name: z,",
                                             "    points: 1\n    rubric: half-or-all\n    answers:\n      - {name: z,"))
    res = run("generate", "--seed", "3", "--out", "exams/one")
    assert res.exit_code == 0, res.output
    exam = load_exam(course / "exams" / "one")
    assert exam.source == "midterm" and exam.problems[0].parts[0].rubric == "half-or-all"


# ---------------------------------------------------------------------------- exam ids, overwrite


def test_exam_id_of_a_single_exam_does_not_contain_its_seed(tmp_path):
    exam = build_exam("stacked-linear", 933918333, engine_name="numpy")
    assert exam.exam_id == public_exam_id("stacked-linear", 933918333)
    assert "933918333" not in exam.exam_id and re.fullmatch(r"stacked-linear-[0-9a-f]{8}", exam.exam_id)
    res = run("generate", "stacked-linear", "--seed", "933918333", "--out", str(tmp_path / "e"))
    assert res.exit_code == 0
    assert "933918333" not in (tmp_path / "e" / "exam.md").read_text()
    assert "933918333" not in (tmp_path / "e" / "answers.yaml").read_text()


def test_generate_refuses_to_replace_an_exam_without_force(tmp_path):
    out = tmp_path / "exam"
    assert run("generate", "stacked-linear", "--seed", "1", "--out", str(out)).exit_code == 0
    before = (out / "exam.json").read_bytes()
    res = run("generate", "stacked-linear", "--seed", "2", "--out", str(out))
    assert res.exit_code == 2
    assert "already holds an exam" in res.output and "--force" in res.output
    assert (out / "exam.json").read_bytes() == before
    assert run("generate", "stacked-linear", "--seed", "2", "--out", str(out), "--force").exit_code == 0
    assert load_exam(out).seed == 2


def test_roster_without_a_secret_is_refused_outside_a_course(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_roster(tmp_path / "r.csv", 2)
    res = run("generate", "stacked-linear", "--roster", "r.csv", "--out", "e")
    assert res.exit_code == 2 and "course secret" in res.output
    monkeypatch.setenv(SECRET_ENV, "ab" * 32)  # the environment variable stands in for a course
    res = run("generate", "stacked-linear", "--roster", "r.csv", "--out", "e", "--exam-id", "quiz-1")
    assert res.exit_code == 0, res.output
    seeds = {v.variant: v.seed for v in load_exam(tmp_path / "e").variants.values()}
    assert seeds == {s: variant_seed(b"ab" * 32, "quiz-1", s) for s in ("s000", "s001")}


def test_roster_with_a_seed_is_refused(course):
    res = run("generate", "midterm", "--roster", "roster.csv", "--seed", "4", "--out", "exams/x")
    assert res.exit_code == 2 and "--seed" in res.output


def test_roster_with_a_duplicate_id_names_both_lines(tmp_path):
    (tmp_path / "r.csv").write_text("student_id,name\nab1,A\nAB1,B\n")
    with pytest.raises(UsageError) as exc:
        read_roster(tmp_path / "r.csv")
    assert exc.value.where.endswith("r.csv:3") and "line 2" in exc.value.message


# ---------------------------------------------------------------------------- the cohort end to end


def _blanks(problem: dict) -> list[tuple[str, dict]]:
    return [(part["number"], b | {"part_points": part["points"], "nblanks": len(part["blanks"])})
            for part in problem["parts"] for b in part["blanks"]]


def _value(encoded):
    return np.asarray(encoded["array"], float) if isinstance(encoded, dict) and "array" in encoded else encoded


def _text(v) -> str:
    return "[" + ", ".join(repr(float(x)) for x in v) + "]" if isinstance(v, np.ndarray) else repr(float(v))


def student_answers(kind: int, variant: dict) -> tuple[dict, float]:
    """An answer file's answers for one of four kinds of student, and the total they should get.

    The expectation is worked out from the variant's data (its keys, points and parameters) with numpy,
    independently of the grader: 0 right, 1 wrong, 2 a slip in `a` carried forward, 3 invalid and missing.
    """
    spec, mcq = variant["problems"]
    keys = {b["name"]: _value(b["expected"]) for _, b in _blanks(spec)}
    pts = {b["name"]: b["part_points"] for _, b in _blanks(spec)}
    p = {k: _value(v) for k, v in spec["params"].items()}
    letters = "".join(sorted(mcq["parts"][0]["blanks"][0]["expected"]["set"]))
    numbers = {b["name"]: n for n, b in _blanks(spec)}
    if kind == 0:
        vals, total, choice = dict(keys), sum(pts.values()) + 2, letters
    elif kind == 1:  # nonsense that matches no key and no value carried forward from the other nonsense
        vals = {"z": 1111.5, "a": 2222.5, "g": 3333.5, "gw": np.array([4444.5, 4444.5]),
                "w_new": np.array([5555.5, 5555.5])}
        total, choice = 0.0, "C" if letters != "C" else "A"
    elif kind == 2:  # a slip in a; every later value computed correctly from it
        a = keys["a"] + 0.25
        g = a - p["y"]
        gw = g * (keys["z"] > 0) * p["x"]
        vals = {"z": keys["z"], "a": a, "g": g, "gw": gw, "w_new": p["w"] - p["lr"] * gw}
        total, choice = sum(pts.values()) - pts["a"] + 2, letters
    else:  # z unreadable, a left out, the rest right
        vals = {"z": "3 +* 4", "a": "", "g": keys["g"], "gw": keys["gw"], "w_new": keys["w_new"]}
        total, choice = pts["g"] + pts["gw"] + pts["w_new"], "Q"
    answers = {numbers[n]: {n: v if isinstance(v, str) else _text(v)} for n, v in vals.items()}
    answers[mcq["parts"][0]["number"]] = choice
    return answers, total


def test_cohort_of_30_generated_and_graded_gives_each_student_the_total_of_their_own_variant(course):
    ids = write_roster(course / "roster30.csv", 30)
    res = run("generate", "midterm", "--roster", "roster30.csv", "--out", "exams/mid")
    assert res.exit_code == 0, res.output
    exam_dir = course / "exams" / "mid"
    data = json.loads((exam_dir / "exam.json").read_text())
    assert data["format"] == 7 and data["exam_id"] == "midterm-ws-2026"
    assert sorted(p.name for p in (exam_dir / "sheets").iterdir()) == sorted(f"{i}.{x}" for i in ids for x in ("md", "pdf"))
    assert len(list((exam_dir / "keys").iterdir())) == 60  # a Markdown and a PDF key per variant
    variants = {v["id"]: v for v in data["variants"]}
    assert len({json.dumps(v["problems"][0]["params"]) for v in variants.values()}) > 20  # numbers differ
    subs = course / "submissions"
    subs.mkdir()
    expected = {}
    for i, r in enumerate(data["roster"]):
        form = yaml.safe_load((exam_dir / "answers" / f"{r['student_id']}.yaml").read_text())
        assert form["student_id"] == r["student_id"] and form["exam"] == data["exam_id"]
        answers, expected[r["student_id"]] = student_answers(i % 4, variants[r["variant"]])
        (subs / f"{r['student_id']}.yaml").write_text(yaml.safe_dump({**form, "answers": answers}))
    res = run("grade", "submissions", "--exam", "exams/mid", "--out", "results")
    assert res.exit_code == 0, res.output
    summary = json.loads((course / "results" / "summary.json").read_text())
    got = {s["student_id"]: s["total"] for s in summary["students"]}
    assert got == pytest.approx(expected)
    assert summary["roster"] == 30 and summary["missing"] == []
    statuses = {s["student_id"]: s["blanks"] for s in summary["students"]}
    assert statuses["s002"]["1.3"]["g"] == "follow-through"
    assert statuses["s003"]["1.1"]["z"] == "invalid" and statuses["s003"]["1.2"]["a"] == "missing"
    # The same answers as one responses CSV (an online form's export): the same totals, each student
    # graded against their own variant.
    columns = response_columns(load_exam(exam_dir))
    rows = [["student_id", "name", "exam"] + [h for h, _, _ in columns]]
    for i, r in enumerate(data["roster"]):
        answers, _ = student_answers(i % 4, variants[r["variant"]])
        rows.append([r["student_id"], r["name"], data["exam_id"]]
                    + [answers.get(n, "") if b is None else answers.get(n, {}).get(b, "") for _, n, b in columns])
    with (course / "responses.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    res = run("grade", "responses.csv", "--exam", "exams/mid", "--out", "results-csv")
    assert res.exit_code == 0, res.output
    summary = json.loads((course / "results-csv" / "summary.json").read_text())
    assert {s["student_id"]: s["total"] for s in summary["students"]} == pytest.approx(expected)


def test_cohort_grading_reports_unknown_and_missing_students_and_counts_them(course):
    write_roster(course / "r.csv", 4)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    subs = course / "subs"
    subs.mkdir()
    shutil.copy(course / "exams" / "q" / "answers" / "s000.yaml", subs / "s000.yaml")
    stranger = yaml.safe_load((course / "exams" / "q" / "answers" / "s001.yaml").read_text())
    (subs / "x.yaml").write_text(yaml.safe_dump({**stranger, "student_id": "zz999"}))
    res = run("grade", "subs", "--exam", "exams/q")
    assert res.exit_code == 10
    out = " ".join(res.output.split())
    assert "student id 'zz999' is not on the roster of exam midterm-ws-2026" in out
    for sid in ("s001", "s002", "s003"):
        assert f"no submission: {sid} (Student {sid[-1]}) is on the roster but handed nothing in" in out
    assert "1 of 4 roster students graded, 3 without a submission, 1 submissions not graded" in out
    summary = json.loads((course / "results" / "summary.json").read_text())
    assert [m["student_id"] for m in summary["missing"]] == ["s001", "s002", "s003"]
    assert summary["failed"] == 1 and summary["graded"] == 1


def test_cohort_grading_with_only_missing_students_exits_incomplete(course):
    write_roster(course / "r.csv", 2)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    (course / "subs").mkdir()
    shutil.copy(course / "exams" / "q" / "answers" / "s001.yaml", course / "subs" / "a.yaml")
    res = run("grade", "subs", "--exam", "exams/q")
    assert res.exit_code == 10 and "1 of 2 roster students have no submission" in " ".join(res.output.split())


def test_cohort_explain_works_a_students_own_numbers(course):
    write_roster(course / "r.csv", 3)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    exam = load_exam(course / "exams" / "q")
    z = {label: v.problems[0].values["z"] for label, v in exam.variants.items()}
    res = run("explain", "1.1", "--exam", "exams/q", "--student", "exams/q/answers/s002.yaml")
    assert res.exit_code == 0, res.output
    assert re.search(rf"⇒ z\s+= {z['s002']:g}\n", res.output)
    others = {z[k] for k in ("s000", "s001")} - {z["s002"]}
    assert not any(re.search(rf"⇒ z\s+= {v:g}\n", res.output) for v in others)
    assert run("explain", "1.1", "--exam", "exams/q").exit_code == 2  # whose numbers? it says to pass --student


def test_cohort_roster_edit_is_a_key_change_refused_by_grade(course):
    write_roster(course / "r.csv", 2)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    path = course / "exams" / "q" / "exam.json"
    data = json.loads(path.read_text())
    data["roster"][0]["variant"], data["roster"][1]["variant"] = data["roster"][1]["variant"], data["roster"][0]["variant"]
    path.write_text(json.dumps(data))
    (course / "subs").mkdir()
    shutil.copy(course / "exams" / "q" / "answers" / "s001.yaml", course / "subs" / "a.yaml")
    res = run("grade", "subs", "--exam", "exams/q")
    assert res.exit_code == 4 and "its key, points or tolerances changed" in " ".join(res.output.split())


def test_cohort_force_regenerates_the_same_variants_and_drops_students_no_longer_listed(course):
    write_roster(course / "r.csv", 3)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    first = (course / "exams" / "q" / "exam.json").read_bytes()
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 2
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q", "--force").exit_code == 0
    assert (course / "exams" / "q" / "exam.json").read_bytes() == first  # the secret makes it deterministic
    write_roster(course / "r.csv", 2)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q", "--force").exit_code == 0
    assert sorted(p.name for p in (course / "exams" / "q" / "sheets").iterdir()) == ["s000.md", "s000.pdf", "s001.md",
                                                                                "s001.pdf"]


# ---------------------------------------------------------------------------- the secret


def test_without_the_secret_no_sheet_or_answer_file_rebuilds_any_students_key(course):
    """Everything a student is handed (sheets, answer files) and the course's public files give no seed.

    Every integer printed on the sheets and answer forms, and the exam id, is tried as a seed the way
    i2dl derives problems from seeds: none gives any variant's problem seeds, so no key follows.
    The secret itself is nowhere in the exam folder.
    """
    ids = write_roster(course / "r.csv", 30)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/mid").exit_code == 0
    exam_dir = course / "exams" / "mid"
    secret = (course / SECRET_FILE).read_text().strip()
    for path in exam_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()  # the PDFs too
    exam = load_exam(exam_dir)
    seeds = {v.seed for v in exam.variants.values()}
    problem_seeds = {(p.number, p.seed) for v in exam.variants.values() for p in v.problems}
    handed_out = [p.read_text() for sub in ("sheets", "answers") for p in sorted((exam_dir / sub).iterdir())
                  if p.suffix != ".pdf"]  # the PDF sheet prints the text of the Markdown one
    assert len(handed_out) == 60
    candidates = {int(n) for text in handed_out for n in re.findall(r"\d+", text)}
    candidates |= {int(n) for n in re.findall(r"\d+", exam.exam_id)}
    for text in handed_out:
        assert not any(str(s) in text for s in seeds)  # no variant seed is printed
    for c in candidates:
        assert c not in seeds
        assert not {(n, problem_seed(c, n)) for n in (1, 2)} & problem_seeds
    # With the secret, the same derivation gives exactly the variants (a student reseeded to avoid an
    # earlier student's instance takes the seed of "id#k").
    by_student = {r["student_id"]: exam.variants[r["variant"]].seed for r in exam.roster}
    for sid in ids:
        tries = [variant_seed(secret.encode(), exam.exam_id, sid if k == 0 else f"{sid}#{k}")
                 for k in range(RESEEDS + 1)]
        assert by_student[sid] in tries


def test_a_short_secret_is_refused(course, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "hunter2")
    res = run("generate", "midterm", "--roster", "roster.csv", "--out", "exams/q")
    assert res.exit_code == 2 and "shorter than 32 characters" in res.output


def test_variant_seed_depends_on_secret_exam_and_student():
    s = b"0" * 64
    base = variant_seed(s, "midterm", "ab1")
    assert 0 <= base < 2**63
    assert len({base, variant_seed(b"1" * 64, "midterm", "ab1"), variant_seed(s, "endterm", "ab1"),
                variant_seed(s, "midterm", "ab2"), variant_seed(s, "midter", "mab1")}) == 5


# ---------------------------------------------------------------------------- the README section


def readme_course_commands() -> list[str]:
    """The lines of the code block in README's "Running a course" section, comments dropped."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("## Running a course", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_running_a_course_commands_all_run_as_written(tmp_path, monkeypatch):
    import shlex

    monkeypatch.chdir(tmp_path)
    commands = readme_course_commands()
    assert [c.split()[1] for c in commands if c.startswith("i2dl ")] == [
        "init", "validate", "solve", "generate", "grade", "explain"]
    for command in commands:
        words = shlex.split(command)
        if words[0] == "cd":
            monkeypatch.chdir(words[1])
            # what the README's comment asks for: the course's own spec and blueprint
            shutil.copy(FIXTURES / "relu-neuron-sgd.yaml", Path("problems/specs"))
            shutil.copy(FIXTURES / "course-basics.yaml", Path("problems/mcq"))
            shutil.copy(FIXTURES / "midterm.yaml", Path("problems/blueprints"))
            continue
        assert words[0] == "i2dl", command
        if words[1] == "grade":  # the students hand in their answer files (one with the key's numbers)
            Path("submissions").mkdir()
            for form in sorted(Path("exams/midterm/answers").iterdir()):
                shutil.copy(form, Path("submissions") / form.name)
        if words[1] == "validate":
            words += ["--samples", "5"]  # the README runs the full stress test; a few seeds show it runs
        res = runner.invoke(app, ["--engine", "numpy", *words[1:]])
        assert res.exit_code == 0, f"{command}\n{res.output}"
    summary = json.loads(Path("results/midterm/summary.json").read_text())
    assert summary["graded"] == 3 and summary["missing"] == []


def test_cohort_built_in_worker_processes_is_byte_identical_to_one_built_in_one(course, monkeypatch):
    import os

    write_roster(course / "r.csv", 17)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/parallel").exit_code == 0
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/serial").exit_code == 0
    for path in sorted((course / "exams" / "serial").rglob("*")):
        if path.is_file():
            twin = course / "exams" / "parallel" / path.relative_to(course / "exams" / "serial")
            assert twin.read_bytes() == path.read_bytes(), path.name


def test_generate_refuses_to_write_an_exam_beside_the_course_secret(course):
    res = run("generate", "midterm", "--roster", "roster.csv", "--out", ".")
    assert res.exit_code == 2 and "holds the course secret" in res.output
    assert not (course / "exam.json").exists()


def test_course_engine_setting_is_used_unless_the_command_line_names_one(course, monkeypatch):
    monkeypatch.delenv("I2DL_ENGINE", raising=False)
    (course / "i2dl.toml").write_text('title = "x"\nengine = "numpy"\n')
    res = runner.invoke(app, ["generate", "stacked-linear", "--seed", "1", "--out", "exams/e"])
    assert res.exit_code == 0, res.output
    assert load_exam(course / "exams" / "e").engine == "numpy"


def test_cohort_exam_json_checks_name_the_roster_or_variant_at_fault(course):
    from i2dl.errors import ExamError
    from i2dl.exam.data import exam_json_text

    write_roster(course / "r.csv", 2)
    assert run("generate", "midterm", "--roster", "r.csv", "--out", "exams/q").exit_code == 0
    path = course / "exams" / "q" / "exam.json"
    good = json.loads(path.read_text())

    def refused(data: dict) -> str:
        path.write_text(exam_json_text(data))  # re-digested: only the cohort's own checks can object
        with pytest.raises(ExamError) as exc:
            load_exam(path.parent)
        return exc.value.message

    dup = json.loads(json.dumps(good))
    dup["roster"][1]["student_id"] = "S000"
    assert refused(dup).startswith("roster[1].student_id: student 'S000' is on the roster twice")
    lost = json.loads(json.dumps(good))
    lost["roster"][0]["variant"] = "nobody"
    assert refused(lost).startswith("roster[0].variant: no variant 'nobody'")
    uneven = json.loads(json.dumps(good))
    uneven["variants"][1]["problems"][1]["parts"][0]["points"] = 3
    uneven["variants"][1]["problems"][1]["points"] = 3
    assert refused(uneven).startswith("variants[1].problems: variant 's001' does not have the problems")


def test_course_rounding_rule_is_the_exam_wide_rule_of_its_exams(course):
    toml = course / "i2dl.toml"
    text = toml.read_text().replace("decimals = 3", "decimals = 2")
    assert text != toml.read_text()
    toml.write_text(text)
    res = run("generate", "--seed", "3", "--out", "exams/r2")
    assert res.exit_code == 0, res.output
    data = json.loads((course / "exams" / "r2" / "exam.json").read_text())
    assert data["rounding"]["decimals"] == 2
    assert "2 decimal" in (course / "exams" / "r2" / "exam.md").read_text()


NARROW = counting_spec("narrow-choice", 80)


def test_cohort_never_gives_two_students_the_same_instance_while_the_spec_has_room(course, monkeypatch):
    """30 students and 80 instances: drawn freely, some pair shares with probability 1 - 0.0019; with
    reseeding none does (a fixed secret makes the draw, and so the test, the same every run)."""
    monkeypatch.setenv(SECRET_ENV, "c" * 64)
    (course / "problems" / "specs" / "narrow-choice.yaml").write_text(NARROW)
    (course / "problems" / "blueprints" / "narrow.yaml").write_text(
        "id: narrow\ntitle: Narrow\nproblems:\n  - {spec: narrow-choice, points: 1}\n")
    write_roster(course / "r30.csv", 30)
    res = run("generate", "narrow", "--roster", "r30.csv", "--out", "exams/n")
    assert res.exit_code == 0, res.output
    exam = load_exam(course / "exams" / "n")
    ns = [v.problems[0].params["n"] for v in exam.variants.values()]
    assert len(set(ns)) == 30
    again = run("generate", "narrow", "--roster", "r30.csv", "--out", "exams/n2")
    assert again.exit_code == 0
    assert (course / "exams" / "n" / "exam.json").read_bytes() == (course / "exams" / "n2" / "exam.json").read_bytes()


def test_cohort_whose_exam_json_cannot_be_written_leaves_no_sheet_key_or_temp_file(course, monkeypatch):
    import i2dl.export as export
    from i2dl.errors import OutputError

    def refused(*_args, **_kwargs):
        raise OutputError("no space left on the device")

    write_roster(course / "r.csv", 5)
    monkeypatch.setattr(export, "write_exam_data", refused)  # written in a thread beside the other files
    res = run("generate", "midterm", "--roster", "r.csv", "--out", "exams/full")
    assert res.exit_code == OutputError.exit_code and "no space left" in res.output
    left = [p for p in (course / "exams").rglob("*") if p.is_file()] if (course / "exams").exists() else []
    assert not [p for p in left if p.suffix in (".md", ".yaml", ".tmp", ".json")], left
