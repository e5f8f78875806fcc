"""Item statistics: a hand-computed cohort, numpy on a graded 500-student cohort, the report, the CLI."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2dl.cli import app
from i2dl.course import DEFAULT_GRADES, grade_boundaries, load_course
from i2dl.errors import SpecError
from i2dl.stats import (
    Cohort,
    Item,
    cohort_stats,
    cronbach_alpha,
    read_results,
    upper_lower_groups,
)
from i2dl.stats_report import report_html, scatter_svg
from tests.cohort import EXAMPLE_SVG, graded_cohort

ROOT = Path(__file__).resolve().parent.parent
ABC = [("A", 80.0), ("B", 50.0), ("F", 0.0)]


def _cohort(rows: list[list[float]], points: list[float], **kw) -> Cohort:
    items = [Item(f"{j + 1}.1", j + 1, p, "spec", f"item{j + 1}", blanks=[{"name": "x", "kind": "number"}])
             for j, p in enumerate(points)]
    n = len(rows)
    return Cohort("hand", sum(points), items, [f"s{i}" for i in range(1, n + 1)], [sum(r) for r in rows], rows,
                  kw.get("statuses", [{} for _ in rows]), kw.get("choices", [{} for _ in rows]),
                  kw.get("mistakes", [{} for _ in rows]))


# Six students, four items (max 1, 1, 1, 2); totals 5, 4, 3, 2, 1, 0.
HAND = [[1, 1, 1, 2],
        [1, 1, 0, 2],
        [1, 0, 1, 1],
        [0, 1, 0, 1],
        [1, 0, 0, 0],
        [0, 0, 0, 0]]


def _hand() -> Cohort:
    cohort = _cohort(HAND, [1, 1, 1, 2],
                     # item 3: s5 left it blank, s6 wrote something unreadable
                     statuses=[{"3.1": {"x": s}} for s in ("correct", "wrong", "correct", "wrong", "missing",
                                                          "invalid")],
                     # item 2 is a multiple-choice question, key A: its score is 1 exactly for A
                     choices=[{"2.1": {"choice": c}} for c in ("A", "A", "B", "A", "B")] + [{}],
                     mistakes=[{}, {}, {}, {"4.1": {"x": ["bias-forgotten"]}}, {"4.1": {"x": ["bias-forgotten"]}},
                               {"4.1": {"x": ["sign-flipped"]}}])
    cohort.items[1] = Item("2.1", 2, 1, "mcq", "mcq.q", blanks=[{"name": "choice", "kind": "choice"}],
                           options=[{"letter": "A", "correct": True, "mistake": None},
                                    {"letter": "B", "correct": False, "mistake": "off-by-one"},
                                    {"letter": "C", "correct": False, "mistake": None}])
    return cohort


def test_stats_hand_cohort_difficulty_sd_and_alpha():
    s = cohort_stats(_hand(), ABC)
    by = {p["number"]: p for p in s["parts"]}
    # Difficulty p = mean / max: 4/6, 3/6, 2/6 and (2+2+1+1)/6 / 2 = 0.5.
    assert [by[n]["difficulty"] for n in ("1.1", "2.1", "3.1", "4.1")] == [0.6667, 0.5, 0.3333, 0.5]
    # Population sd of a 0/1 item is sqrt(p(1-p)): sqrt(2/9) = 0.4714; item 4: mean 1, sd sqrt(4/6) = 0.8165.
    assert by["1.1"]["sd"] == 0.4714 and by["2.1"]["sd"] == 0.5 and by["4.1"]["sd"] == 0.8165
    # Totals 5..0: mean 2.5, variance 17.5/6 = 35/12; item variances 2/9 + 1/4 + 2/9 + 2/3 = 49/36;
    # alpha = 4/3 * (1 - (49/36) / (35/12)) = 4/3 * (1 - 7/15) = 32/45 = 0.7111.
    assert s["mean"] == 2.5 and s["sd"] == round((35 / 12) ** 0.5, 4)
    assert s["alpha"] == 0.7111


def test_stats_hand_cohort_discrimination_both_ways():
    s = cohort_stats(_hand(), ABC)
    by = {p["number"]: p for p in s["parts"]}
    # Groups: round(0.27 * 6) = 2 students each: upper s1, s2 (totals 5, 4), lower s5, s6 (1, 0).
    assert s["groups"]["size"] == 2 and s["groups"]["upper_from"] == 4 and s["groups"]["lower_to"] == 1
    # D = (upper mean - lower mean) / max: item 1 (1 - 0.5)/1, item 2 (1 - 0)/1, item 3 (0.5 - 0)/1, item 4 (2 - 0)/2.
    assert [by[n]["discrimination"] for n in ("1.1", "2.1", "3.1", "4.1")] == [0.5, 1.0, 0.5, 1.0]
    # Item 1 against the rest (totals minus item: 4, 3, 2, 2, 0, 0): sxy = 5/3, sxx = 4/3, syy = 77/6,
    # r = (5/3) / sqrt(4/3 * 77/6) = 0.4029.
    assert by["1.1"]["item_total_r"] == 0.4029


def test_stats_hand_cohort_options_shares_mistakes_histogram_grades():
    s = cohort_stats(_hand(), ABC)
    by = {p["number"]: p for p in s["parts"]}
    opts = by["2.1"]["options"]["choice"]
    assert [(o["letter"], o["all"], o["upper"], o["lower"]) for o in opts["options"]] == [
        ("A", 3, 2, 0), ("B", 2, 0, 1), ("C", 0, 0, 0)]
    assert opts["no_answer"] == 1 and opts["none"] == 0
    assert "distractor C chosen by nobody" in by["2.1"]["flags"]
    assert by["3.1"]["invalid"] == round(1 / 6, 4) and by["3.1"]["blank"] == round(1 / 6, 4)
    assert by["4.1"]["mistakes"] == [{"name": "bias-forgotten", "count": 2, "share": 0.3333},
                                     {"name": "sign-flipped", "count": 1, "share": 0.1667}]
    # Percentages 100, 80, 60, 40, 20, 0: one in each even band, 100 in the last.
    assert [b["count"] for b in s["histogram"]] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 1]
    assert [(g["grade"], g["count"]) for g in s["grades"]] == [("A", 2), ("B", 1), ("F", 3)]


def test_stats_flags_negative_discrimination_and_extreme_difficulty():
    # Item 1: only the weakest students get it; item 2 everyone; item 3 nobody.
    rows = [[0, 1, 0, 2], [0, 1, 0, 2], [0, 1, 0, 1], [1, 1, 0, 1], [1, 1, 0, 0]]
    s = cohort_stats(_cohort(rows, [1, 1, 1, 2]), ABC)
    flags = {p["number"]: p["flags"] for p in s["parts"]}
    assert flags["1.1"] == ["negative discrimination"]
    assert flags["2.1"] == ["over 90% correct"]  # r is undefined for an item nobody misses
    assert flags["3.1"] == ["under 10% correct"]
    assert {"item": "1.1", "flag": "negative discrimination"} in s["flags"]


def test_stats_groups_and_alpha_edge_cases():
    assert upper_lower_groups([3.0]) == ([], [])
    assert upper_lower_groups([1.0, 1.0, 1.0, 1.0]) == ([3], [0])  # ties broken by position
    assert cronbach_alpha([[1, 0, 1]]) is None  # one item: no alpha
    assert cronbach_alpha([[1, 1], [1, 1]]) is None  # totals that do not vary


# ---------------------------------------------------------------------------- grade boundaries


def _course(tmp_path: Path, grades: str) -> Path:
    (tmp_path / "i2dl.toml").write_text(f'title = "DL"\n{grades}', encoding="utf-8")
    return tmp_path


def test_course_grades_table_sets_the_boundaries(tmp_path):
    root = _course(tmp_path, '[[grades]]\ngrade = "pass"\nmin_percent = 50\n'
                             '[[grades]]\ngrade = "fail"\nmin_percent = 0\n'
                             '[[grades]]\ngrade = "distinction"\nmin_percent = 87.5\n')
    course = load_course(root)
    assert [(g.grade, g.min_percent) for g in grade_boundaries(course)] == [
        ("distinction", 87.5), ("pass", 50), ("fail", 0)]


def test_course_without_grades_uses_the_default_scale(tmp_path):
    assert grade_boundaries(load_course(_course(tmp_path, ""))) == list(DEFAULT_GRADES)
    assert DEFAULT_GRADES[-1].min_percent == 0 and DEFAULT_GRADES[0].grade == "1.0"


@pytest.mark.parametrize("grades, says", [
    ('[[grades]]\ngrade = "A"\nmin_percent = 50\n', "lowest grade starts at 50%"),
    ('[[grades]]\ngrade = "A"\nmin_percent = 0\n[[grades]]\ngrade = "A"\nmin_percent = 50\n', "listed twice"),
    ('[[grades]]\ngrade = "A"\nmin_percent = 120\n', "min_percent"),
    ('grades = []\n', "empty"),
])
def test_course_grades_table_refuses_incomplete_boundaries(tmp_path, grades, says):
    with pytest.raises(SpecError) as err:
        load_course(_course(tmp_path, grades))
    assert says in str(err.value) and err.value.where.startswith(str(tmp_path / "i2dl.toml") + ":")
    assert "[[grades]]" in err.value.fix


# ---------------------------------------------------------------------------- a graded 500-student cohort


@pytest.fixture(scope="module")
def cohort500(tmp_path_factory) -> Path:
    return graded_cohort(tmp_path_factory.mktemp("cohort500"), 500)


def test_stats_match_numpy_on_a_graded_500_student_cohort(cohort500):
    data = json.loads((cohort500 / "summary.json").read_text(encoding="utf-8"))
    items, students = data["items"], data["students"]
    numbers = list(items)
    S = np.array([[s["parts"][n] for n in numbers] for s in students])
    T = np.array([s["total"] for s in students])
    mx = np.array([items[n]["points"] for n in numbers])
    n, k = S.shape
    s = cohort_stats(read_results(cohort500), [(g.grade, g.min_percent) for g in DEFAULT_GRADES])
    assert s["students"] == n == 500
    keep = [j for j, num in enumerate(numbers) if num not in s["pending_parts"]]
    numbers, S, mx = [numbers[j] for j in keep], S[:, keep], mx[keep]
    got = {p["number"]: p for p in s["parts"]}
    order = np.lexsort((np.arange(n), T))
    size = round(0.27 * n)
    upper, lower = order[-size:], order[:size]
    for j, num in enumerate(numbers):
        p = got[num]
        assert p["difficulty"] == pytest.approx(S[:, j].mean() / mx[j], abs=1e-4)
        assert p["sd"] == pytest.approx(S[:, j].std(), abs=1e-4)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.corrcoef(S[:, j], T - S[:, j])[0, 1]
        # a part nobody scored on yet (written answers awaiting a TA) has no correlation: None, not nan
        assert p["item_total_r"] is None if np.isnan(r) else p["item_total_r"] == pytest.approx(r, abs=1e-4)
        assert p["discrimination"] == pytest.approx((S[upper, j].mean() - S[lower, j].mean()) / mx[j], abs=1e-4)
        statuses = [st for x in students for st in x["blanks"][num].values()]
        assert p["invalid"] == pytest.approx(statuses.count("invalid") / len(statuses), abs=1e-4)
        assert p["blank"] == pytest.approx(statuses.count("missing") / len(statuses), abs=1e-4)
        named = Counter(m for x in students for m in {m for ms in x.get("mistakes", {}).get(num, {}).values()
                                                       for m in ms})
        assert [(m["name"], m["count"]) for m in p["mistakes"]] == sorted(named.items(),
                                                                          key=lambda kv: (-kv[1], kv[0]))[:3]
        if items[num]["kind"] == "mcq":
            for o in p["options"]["choice"]["options"]:
                chose = np.array([o["letter"] in (x.get("choices", {}).get(num, {}).get("choice") or "")
                                  for x in students])
                assert (o["all"], o["upper"], o["lower"]) == (chose.sum(), chose[upper].sum(), chose[lower].sum())
    alpha = k / (k - 1) * (1 - S.var(axis=0).sum() / S.sum(axis=1).var())
    assert s["alpha"] == pytest.approx(alpha, abs=1e-4) and s["alpha"] > 0.8  # latent ability: items agree
    problems = sorted({items[m]["problem"] for m in numbers})
    for p, num in zip(s["problems"], problems, strict=True):
        cols = [j for j, m in enumerate(numbers) if items[m]["problem"] == num]
        P = S[:, cols].sum(axis=1)
        assert p["difficulty"] == pytest.approx(P.mean() / mx[cols].sum(), abs=1e-4)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.corrcoef(P, T - P)[0, 1]
        assert p["item_total_r"] is None if np.isnan(r) else p["item_total_r"] == pytest.approx(r, abs=1e-4)
    pct = 100 * T / data["max_points"]
    assert [b["count"] for b in s["histogram"]] == np.histogram(pct, bins=np.linspace(0, 100, 11))[0].tolist()
    mins = np.array([g.min_percent for g in DEFAULT_GRADES])  # highest first
    grade_idx = [int(np.argmax(x >= mins - 1e-9)) for x in pct]
    assert [g["count"] for g in s["grades"]] == [grade_idx.count(i) for i in range(len(mins))]
    assert s["mean"] == pytest.approx(T.mean(), abs=1e-4) and s["sd"] == pytest.approx(T.std(), abs=1e-4)


def test_grade_records_the_letters_chosen_and_the_named_mistakes(cohort500):
    import yaml

    data = json.loads((cohort500 / "summary.json").read_text(encoding="utf-8"))
    mcq = [n for n, it in data["items"].items() if it["kind"] == "mcq"]
    subs = cohort500.parent / "submissions"
    for st in data["students"][:40]:
        answers = yaml.safe_load((subs / f"{st['student_id']}.yaml").read_text(encoding="utf-8"))["answers"]
        for n in mcq:
            written = answers.get(n)
            chosen = st.get("choices", {}).get(n, {}).get("choice")
            assert chosen == (None if written is None else "" if written == "none" else written)
            # A chosen distractor's named mistake is recorded with it.
            named = [o["mistake"] for o in data["items"][n]["options"]
                     if chosen and o["letter"] in chosen and not o["correct"] and o["mistake"]]
            assert st.get("mistakes", {}).get(n, {}).get("choice", []) == named
    counted = Counter(m for st in data["students"] for ms in st.get("mistakes", {}).get("5.2", {}).values()
                      for m in ms)
    feedback = "".join(p.read_text(encoding="utf-8") for p in (cohort500 / "feedback").glob("*.md"))
    assert counted and all(name for name in counted)
    assert feedback.count("5.2") >= len(data["students"])  # every student's feedback names the part


# ---------------------------------------------------------------------------- the report


class _Svgs(HTMLParser):
    """The raw text of each <svg> element in a page (the parser tracks where they start and end)."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.spans, self._start = text, [], None
        self._lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.feed(text)

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._lines[line - 1] + col

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self._start = self._offset()

    def handle_endtag(self, tag):
        if tag == "svg":
            end = self.text.index("</svg>", self._offset()) + len("</svg>")
            self.spans.append(self.text[self._start:end])


def test_report_is_one_page_of_well_formed_svgs_that_carry_the_numbers(cohort500):
    s = cohort_stats(read_results(cohort500), ABC)
    html = report_html(s)
    assert html == report_html(s)  # deterministic
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    svgs = [ET.fromstring(x) for x in _Svgs(html).spans]
    n_mcq = sum(1 for p in s["parts"] if p.get("options"))
    assert len(svgs) == 2 + n_mcq
    ns = "{http://www.w3.org/2000/svg}"
    hist = [int(r.get("data-count")) for r in svgs[0].iter(f"{ns}rect") if r.get("class") == "bar"]
    assert hist == [b["count"] for b in s["histogram"]]
    dots = {c.get("data-part"): (float(c.get("data-difficulty")), float(c.get("data-r")))
            for c in svgs[1].iter(f"{ns}circle")}
    for p in s["parts"]:
        if p["item_total_r"] is not None:
            assert dots[p["number"]] == pytest.approx((p["difficulty"], p["item_total_r"]), abs=1e-4)
    first = next(p for p in s["parts"] if p.get("options"))
    bars = {(r.get("data-option"), r.get("data-group")): int(r.get("data-count"))
            for r in svgs[2].iter(f"{ns}rect") if r.get("class") == "option"}
    for o in first["options"]["choice"]["options"]:
        assert (bars[(o["letter"], "all")], bars[(o["letter"], "upper")], bars[(o["letter"], "lower")]) == (
            o["all"], o["upper"], o["lower"])
    assert f"Cronbach&#x27;s alpha {s['alpha']:.2f}" in html or f"Cronbach's alpha {s['alpha']:.2f}" in html


def test_report_escapes_text_from_the_results():
    cohort = _hand()
    cohort.exam_id = "<script>alert(1)</script>"
    cohort.items[0].id = "a&b<i>"
    html = report_html(cohort_stats(cohort, [("<b>", 0.0)]))
    assert "<script>" not in html and "<i>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "a&amp;b&lt;i&gt;" in html
    for svg in _Svgs(html).spans:
        ET.fromstring(svg)


def test_docs_example_chart_is_a_committed_svg_shown_in_the_readme():
    root = ET.fromstring(EXAMPLE_SVG.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(list(root.iter("{http://www.w3.org/2000/svg}circle"))) > 10
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/stats-example.svg)" in readme
    assert scatter_svg([]).startswith("<svg")


# ---------------------------------------------------------------------------- the command


def test_cli_stats_json_schema(cohort500):
    res = CliRunner().invoke(app, ["stats", str(cohort500), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) >= {"exam_id", "students", "max_points", "mean", "sd", "alpha", "groups", "parts",
                         "problems", "flags", "histogram", "grades"}
    part_keys = {"number", "problem", "kind", "id", "points", "mean", "difficulty", "sd", "full_marks",
                 "item_total_r", "discrimination", "invalid", "blank", "mistakes", "flags"}
    for p in data["parts"]:
        assert set(p) - {"options", "topic"} == part_keys
        assert all(isinstance(p[k], (int, float)) for k in ("points", "mean", "difficulty", "sd"))
        assert all(set(m) == {"name", "count", "share"} for m in p["mistakes"])
    assert sum(g["count"] for g in data["grades"]) == data["students"] == 500
    assert all(set(f) == {"item", "flag"} for f in data["flags"])


def test_cli_stats_prints_tables_a_histogram_and_writes_the_report(cohort500, tmp_path):
    report = tmp_path / "stats.html"
    res = CliRunner().invoke(app, ["stats", str(cohort500), "--report", str(report)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Cronbach's alpha" in res.stdout and "score histogram" in res.stdout and "█" in res.stdout
    assert "5.2" in res.stdout and "grades" in res.stdout
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_stats_of_a_folder_without_results_is_not_found(tmp_path):
    res = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert res.exit_code == 3 and "summary.json" in res.output


def test_cli_stats_reads_older_results_with_the_exam(cohort500, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    data = json.loads((cohort500 / "summary.json").read_text(encoding="utf-8"))
    del data["items"]
    (old / "summary.json").write_text(json.dumps(data), encoding="utf-8")
    res = CliRunner().invoke(app, ["stats", str(old), "--json"])
    assert res.exit_code == 4 and "--exam" in res.output
    res = CliRunner().invoke(app, ["stats", str(old), "--exam", str(cohort500.parent / "exam"), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["students"] == 500


def test_cohort_stats_count_each_students_own_options_and_the_course_grades(tmp_path, monkeypatch):
    from i2dl.course import SECRET_ENV
    from i2dl.exam import load_exam
    from i2dl.export.answers import answer_text, key_answers
    from i2dl.io import dump_yaml

    monkeypatch.setenv(SECRET_ENV, "5e" * 32)  # the same variants on every run
    run = CliRunner().invoke
    root = tmp_path / "course"
    assert run(app, ["init", str(root), "--title", "DL"]).exit_code == 0
    with (root / "i2dl.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[grades]]\ngrade = "pass"\nmin_percent = 40\n[[grades]]\ngrade = "fail"\nmin_percent = 0\n')
    (root / "roster.csv").write_text("student_id,name\n" + "".join(f"c{i},C {i}\n" for i in range(6)),
                                     encoding="utf-8")
    monkeypatch.chdir(root)
    res = run(app, ["--engine", "numpy", "generate", "default", "--roster", "roster.csv", "--out", "exams/x"])
    assert res.exit_code == 0, res.output
    cohort = load_exam(root / "exams" / "x")
    subs = root / "submissions"
    subs.mkdir()
    expected: Counter[str] = Counter()  # named mistakes of the first MCQ part, each from the student's own sheet
    first = None
    for entry in cohort.roster:
        variant = cohort.variants[entry["variant"]]
        answers = key_answers(variant)
        mcq = [part for prob, part in variant.parts() if prob.kind == "mcq"]
        first = first or mcq[0].number
        part = next(p for p in mcq if p.number == first)
        wrong = next((o for o in part.options if not o.correct and o.mistake), None)
        if wrong is not None:
            answers[first] = answer_text(frozenset(wrong.letter))
            expected[wrong.mistake] += 1
        (subs / f"{entry['student_id']}.yaml").write_text(dump_yaml(
            {"exam": cohort.exam_id, "student_id": entry["student_id"], "name": "", "answers": answers}),
            encoding="utf-8")
    assert run(app, ["--engine", "numpy", "grade", "submissions", "--exam", "exams/x"]).exit_code == 0
    summary = json.loads((root / "results" / "summary.json").read_text(encoding="utf-8"))
    assert all("options" not in it for it in summary["items"].values())  # each sheet has its own
    res = run(app, ["stats", "results", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    part = next(p for p in s["parts"] if p["number"] == first)
    assert [(m["name"], m["count"]) for m in part["mistakes"]] == sorted(
        expected.items(), key=lambda kv: (-kv[1], kv[0]))[:3] and expected
    assert part["options"]["choice"]["by_letter_of_own_sheet"] is True
    assert not any(f["flag"].startswith("distractor") for f in s["flags"])
    assert [(g["grade"], g["count"]) for g in s["grades"]] == [("pass", 6), ("fail", 0)]
