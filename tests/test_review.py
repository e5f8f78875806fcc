"""The TAs' grading queue: answer groups, the marks store, the Textual app (driven by its Pilot), export/import."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from i2dl.review.groups import group_answers, normalise, split_by_threshold, split_out
from i2dl.review.queue import Item, Question, Queue, suggested
from i2dl.review.store import SCHEMA_VERSION, MarkStore, read_marks

ROOT = Path(__file__).resolve().parent.parent

# A question of our own: four items (two credited, a deduction, a named mistake) on 2 points.
RELU = Question(
    "4.1", "why", "why", "Why do deep networks train faster with ReLU than with sigmoid units?", 2.0,
    "Its gradient is 1 for positive inputs, so it does not saturate there and gradients do not vanish.",
    (Item("grad1", 1.0, "gradient is 1 for positive inputs", ("gradient", "derivative")),
     Item("nosat", 1.0, "does not saturate, so gradients do not vanish", ("saturate", "vanish", "vanishing")),
     Item("onlysig", -0.5, "only says why sigmoid is bad"),
     Item("disc", 0.0, "names the kink at 0 as the reason", ("kink", "discontinuity"))))
ANSWERS = [  # (student, part, blank, text)
    ("s01", "4.1", "why", "It does not saturate, so gradients do not vanish."),
    ("s02", "4.1", "why", "it does not saturate so gradients do not vanish"),
    ("s03", "4.1", "why", "IT DOES NOT SATURATE, SO GRADIENTS DO NOT VANISH!"),
    ("s04", "4.1", "why", "The gradient is 1 for positive inputs."),
    ("s05", "4.1", "why", "the gradient is 1 for positive inputs"),
    ("s06", "4.1", "why", "Because of the kink at zero."),
    ("s07", "4.1", "why", "The gradient is 1 for all positive inputs."),
    ("s08", "4.1", "why", ""),  # empty: missing, not in the queue
]


def _queue(path: Path, ta: str = "anna") -> Queue:
    return Queue([RELU], ANSWERS, MarkStore(path), ta=ta)


def _run(coro) -> None:
    asyncio.run(coro)  # pytest-asyncio is not installed: each Pilot test runs its own loop


# ---------------------------------------------------------------------------- groups (pure functions)


def test_normalise_ignores_case_whitespace_and_punctuation():
    assert normalise("  It does NOT saturate,\tso   gradients don't vanish!") == \
        "it does not saturate so gradients don t vanish"


def test_group_answers_identical_after_normalisation_then_near_duplicates_largest_first():
    groups = group_answers([(s, t) for s, _, _, t in ANSWERS if t])
    assert [g.students for g in groups] == [("s01", "s02", "s03"), ("s04", "s05", "s07"), ("s06",)]
    assert groups[0].representative == "It does not saturate, so gradients do not vanish."
    # Above 100 only identical normalised texts stay together: s07 ("for all positive") leaves its group.
    strict = group_answers([(s, t) for s, _, _, t in ANSWERS if t], threshold=101)
    assert [g.students for g in strict] == [("s01", "s02", "s03"), ("s04", "s05"), ("s06",), ("s07",)]


def test_group_answers_is_deterministic_whatever_the_input_order():
    answers = [(s, t) for s, _, _, t in ANSWERS if t]
    assert group_answers(answers) == group_answers(answers)
    forward = {frozenset(g.students) for g in group_answers(answers)}
    backward = {frozenset(g.students) for g in group_answers(answers[::-1])}
    assert forward == backward


def test_split_out_and_split_by_threshold_give_the_answer_a_group_of_its_own():
    answers = [(s, t) for s, _, _, t in ANSWERS if t]
    texts = dict(answers)
    groups = group_answers(answers)
    after = split_out(groups, "s02", texts)
    assert [g.students for g in after] == [("s01", "s03"), ("s02",), ("s04", "s05", "s07"), ("s06",)]
    assert [g.students for g in split_by_threshold(groups[1], texts, 101)] == [("s04", "s05"), ("s07",)]


def test_suggested_items_come_from_whole_keywords_of_the_answer():
    assert suggested(RELU, "It does not saturate.") == {"nosat"}
    assert suggested(RELU, "the derivative is one; no vanishing gradient") == {"grad1", "nosat"}
    assert suggested(RELU, "saturated") == set()  # whole words only


# ---------------------------------------------------------------------------- the store


def test_store_schema_is_versioned_and_points_are_computed_from_items(tmp_path):
    q = _queue(tmp_path / "marks.sqlite")
    with sqlite3.connect(tmp_path / "marks.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
        assert {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")} == \
            {"marks", "item_points", "groups"}
        assert "points" not in [r[1] for r in db.execute("PRAGMA table_info(marks)")]  # never stored per answer
    assert q.points(RELU, ["grad1", "nosat"]) == 2.0
    assert q.points(RELU, ["grad1", "onlysig"]) == 0.5
    assert q.points(RELU, ["onlysig"]) == 0.0  # clamped at 0
    q.store.close()


def test_store_from_a_newer_i2dl_is_refused(tmp_path):
    from i2dl.errors import OutputError

    with sqlite3.connect(tmp_path / "marks.sqlite") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(OutputError) as exc:
        MarkStore(tmp_path / "marks.sqlite")
    assert "schema version 99" in exc.value.message and exc.value.fix == "upgrade i2dl"


def test_a_mark_of_an_answer_that_changed_is_stale(tmp_path):
    q = _queue(tmp_path / "marks.sqlite")
    q.apply(0, 2, ["disc"], "")  # s06
    q.store.close()
    changed = [(s, p, b, "Because it is cheap to compute." if s == "s06" else t) for s, p, b, t in ANSWERS]
    again = Queue([RELU], changed, MarkStore(tmp_path / "marks.sqlite"))
    assert again.mark(0, "s06") is None and again.progress(0) == (0, 7)
    again.store.close()


# ---------------------------------------------------------------------------- the app (Pilot)


def _app(queue: Queue):
    from i2dl.review.app import ReviewApp

    return ReviewApp(queue)


def test_review_app_applies_toggled_items_to_every_answer_of_the_group(tmp_path):
    queue = _queue(tmp_path / "marks.sqlite")

    async def drive():
        app = _app(queue)
        async with app.run_test() as pilot:
            title = str(app.query_one("#title").render())
            assert "marked 0/7 answers, 0/3 groups" in title
            items = str(app.query_one("#items").render())
            # The group says "does not saturate": its item is suggested, and not awarded.
            assert "nosat: does not saturate" in items and "suggested" in items and "= 0 / 2 points" in items
            await pilot.press("2", "a")  # group 1: nosat
            await pilot.press("down", "1", "a")  # group 2: grad1
            await pilot.press("down", "4", "c", *"the kink is not why", "enter", "a")  # group 3: disc + comment
            assert "marked 7/7 answers, 3/3 groups" in str(app.query_one("#title").render())

    _run(drive())
    marks = queue.store.marks()
    assert {k[0]: m.items for k, m in marks.items()} == {
        "s01": ("nosat",), "s02": ("nosat",), "s03": ("nosat",), "s04": ("grad1",), "s05": ("grad1",),
        "s07": ("grad1",), "s06": ("disc",)}
    assert marks[("s06", "4.1", "why")].comment == "the kink is not why"
    assert marks[("s02", "4.1", "why")].answer == "it does not saturate so gradients do not vanish"
    assert {m.ta for m in marks.values()} == {"anna"}
    assert {k[0]: queue.points(RELU, m.items) for k, m in marks.items()} == {
        "s01": 1.0, "s02": 1.0, "s03": 1.0, "s04": 1.0, "s05": 1.0, "s06": 0.0, "s07": 1.0}
    queue.store.close()


def test_review_app_suggestions_are_never_awarded_without_the_ta(tmp_path):
    queue = _queue(tmp_path / "marks.sqlite")

    async def drive():
        async with _app(queue).run_test() as pilot:
            await pilot.press("a")  # apply with nothing toggled: the suggested item stays out
    _run(drive())
    assert {m.items for m in queue.store.marks().values()} == {()}
    queue.store.close()


def test_review_app_splits_an_answer_out_and_by_a_stricter_threshold(tmp_path):
    queue = _queue(tmp_path / "marks.sqlite")

    async def drive():
        app = _app(queue)
        async with app.run_test() as pilot:
            await pilot.press("right_square_bracket", "x")  # second answer of group 1 (s02) out
            assert [g.students for g in queue.groups(0)][:2] == [("s01", "s03"), ("s02",)]
            await pilot.press("down", "down", "t", *"101", "enter")  # group 3 (s04 s05 s07) at 101
            assert [g.students for g in queue.groups(0)] == [
                ("s01", "s03"), ("s02",), ("s04", "s05"), ("s07",), ("s06",)]
            await pilot.press("1", "a")  # grade s04 and s05 only
            assert queue.progress(0) == (2, 7)
            assert "5 groups" in str(app.query_one("#title").render())

    _run(drive())
    queue.store.close()


def test_review_app_edited_item_points_regrade_every_answer_with_the_item(tmp_path):
    path = tmp_path / "results"
    path.mkdir()
    queue = _queue(path / "marks.sqlite")

    async def drive():
        app = _app(queue)
        async with app.run_test() as pilot:
            await pilot.press("2", "a", "down", "1", "2", "a")  # 3 answers nosat, 3 answers grad1 + nosat
            await pilot.press("e", *"2 0.75", "enter")  # nosat: 1 -> 0.75
            assert "nosat is now worth 0.75 points" in str(app.query_one("#status").render())
            assert "0.75p* nosat" in str(app.query_one("#items").render())

    _run(drive())
    marks = read_marks(path)
    points = {k[0]: queue.points(RELU, m.items) for k, m in marks.items()}
    assert points == {"s01": 0.75, "s02": 0.75, "s03": 0.75, "s04": 1.75, "s05": 1.75, "s07": 1.75}
    assert read_marks(path)[("s01", "4.1", "why")].items == ("nosat",)  # the mark itself is unchanged
    queue.store.close()


def test_review_app_quit_and_reopen_keeps_marks_groups_comments_and_points(tmp_path):
    path = tmp_path / "marks.sqlite"
    first = _queue(path)

    async def session_one():
        async with _app(first).run_test() as pilot:
            await pilot.press("right_square_bracket", "x")  # split s02 out
            await pilot.press("2", "c", *"clear", "enter", "a")
            await pilot.press("e", *"4 -0.25", "enter")
            await pilot.press("q")

    _run(session_one())
    first.store.close()
    second = _queue(path, ta="ben")

    async def session_two():
        app = _app(second)
        async with app.run_test() as pilot:
            # Reopened at the first ungraded group: s02's, split out last time.
            assert second.groups(0)[app.gi].students == ("s02",)
            assert "marked 2/7 answers, 1/4 groups" in str(app.query_one("#title").render())
            await pilot.press("up")
            items = str(app.query_one("#items").render())
            assert "[x]" in items and "comment: clear" in items and "-0.25p* disc" in items

    _run(session_two())
    assert [g.students for g in second.groups(0)][:2] == [("s01", "s03"), ("s02",)]
    assert second.mark(0, "s03").items == ("nosat",) and second.mark(0, "s03").ta == "anna"
    assert second.item_points(RELU, RELU.items[3]) == -0.25
    second.store.close()


def test_review_app_next_ungraded_jumps_over_marked_groups(tmp_path):
    queue = _queue(tmp_path / "marks.sqlite")
    queue.apply(0, 1, ["grad1"], "")

    async def drive():
        app = _app(queue)
        async with app.run_test() as pilot:
            assert app.gi == 0
            await pilot.press("n")
            assert app.gi == 2  # group 2 is marked already
            await pilot.press("1", "a", "n")
            assert app.gi == 0
    _run(drive())
    queue.store.close()


# ---------------------------------------------------------------------------- export and import


def test_export_import_merges_two_tas_and_reports_a_conflict_without_overwriting(tmp_path):
    anna, ben = _queue(tmp_path / "anna.sqlite", "anna"), _queue(tmp_path / "ben.sqlite", "ben")
    anna.apply(0, 0, ["nosat"], "")  # s01-s03
    anna.apply(0, 2, ["disc"], "kink")  # s06
    ben.apply(0, 1, ["grad1"], "")  # s04 s05 s07
    ben.apply(0, 2, ["disc", "onlysig"], "")  # s06 too, differently: a conflict
    ben.set_item_points(0, "onlysig", -1.0)
    assert ben.export_csv(tmp_path / "ben.csv") == 5
    report = anna.import_csv(tmp_path / "ben.csv")
    assert (report.added, report.updated, report.same, report.points) == (3, 0, 0, 1)
    assert [c.key for c in report.conflicts] == [("s06", "4.1", "why")]
    assert anna.mark(0, "s06").items == ("disc",) and anna.mark(0, "s06").comment == "kink"  # kept
    from i2dl.review.queue import conflict_lines

    assert conflict_lines(report) == ["4.1 why of s06: kept anna's items [disc] 'kink'; skipped ben's "
                                      "[onlysig disc]"]
    assert anna.progress(0) == (7, 7)
    # The same file again: everything is the same, the conflict is reported again, nothing is lost.
    again = anna.import_csv(tmp_path / "ben.csv")
    assert (again.added, again.same, len(again.conflicts)) == (0, 3, 1)
    # --replace takes the file's mark, on purpose.
    taken = anna.import_csv(tmp_path / "ben.csv", replace=True)
    assert taken.updated == 1 and anna.mark(0, "s06").items == ("onlysig", "disc")
    anna.store.close()
    ben.store.close()


def test_export_round_trips_formula_like_text_and_refuses_answers_it_does_not_have(tmp_path):
    rows = [("s01", "4.1", "why", "=1+1 because it does not saturate"), ("s02", "4.1", "why", "'quoted'")]
    a = Queue([RELU], rows, MarkStore(tmp_path / "a.sqlite"), ta="@anna")
    a.apply(0, 0, ["nosat"], "-0.5 for the sign")
    a.apply(0, 1, [], "")
    a.export_csv(tmp_path / "a.csv")
    text = (tmp_path / "a.csv").read_text(encoding="utf-8")
    assert "'=1+1" in text and "'-0.5 for" in text and "'@anna" in text  # no cell starts a formula
    b = Queue([RELU], rows, MarkStore(tmp_path / "b.sqlite"), ta="ben")
    assert b.import_csv(tmp_path / "a.csv").added == 2
    assert b.mark(0, "s01") == a.mark(0, "s01") and b.mark(0, "s02").answer == "'quoted'"
    c = Queue([RELU], [("s01", "4.1", "why", "something else")], MarkStore(tmp_path / "c.sqlite"))
    report = c.import_csv(tmp_path / "a.csv")
    assert report.added == 0 and len(report.unknown) == 2
    assert "student s01 has no answer like the one marked to 4.1 why here" in report.unknown[0]
    for q in (a, b, c):
        q.store.close()


# ---------------------------------------------------------------------------- killed mid-session

_WRITER = textwrap.dedent("""
    import sys
    from i2dl.review.queue import Item, Queue, Question
    from i2dl.review.store import MarkStore

    q = Question("1.1", "t", "t", "?", 2.0, "", (Item("a", 1.0, "a"), Item("b", 1.0, "b")))
    answers = [(f"s{i:05d}", "1.1", "t", f"answer number {i}") for i in range(5000)]
    queue = Queue([q], answers, MarkStore(sys.argv[1]), ta="loop", threshold=101)
    queue.groups(0)
    print("grouped", flush=True)
    for g in range(len(queue.groups(0))):
        queue.apply(0, g, ["a"] if g % 2 else ["a", "b"], f"comment {g}")
        print(g, flush=True)  # printed after the commit returned
""")


def test_store_killed_mid_session_opens_intact_with_every_committed_mark(tmp_path):
    store = tmp_path / "marks.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(store)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "cli")})
    committed = -1
    try:
        assert proc.stdout.readline().strip() == "grouped"
        for line in proc.stdout:
            committed = int(line)
            if committed >= 200:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and committed >= 200
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with MarkStore(store) as reopened:
        assert reopened.integrity() == "ok"
        marks = reopened.marks()
        groups = reopened.groups(("1.1", "t", ""))
    assert len(groups) == 5000  # the grouping was one transaction: all of it or nothing
    # Every mark reported committed is there, with its items and comment (the one being written may be too).
    by_group = {int(m.comment.split()[1]): m.items for m in marks.values()}
    assert committed + 1 <= len(by_group) <= committed + 2
    for g in range(committed + 1):
        assert by_group[g] == (("a",) if g % 2 else ("a", "b")), g


# ---------------------------------------------------------------------------- with grade: the real exam


def _write_submissions(folder: Path, exam_dir: Path, texts: dict[str, dict[str, str]]) -> None:
    import yaml

    blank = yaml.safe_load((exam_dir / "answers.yaml").read_text(encoding="utf-8"))
    folder.mkdir()
    for sid, answers in texts.items():
        data = {**blank, "student_id": sid, "answers": {**blank["answers"], **answers}}
        (folder / f"{sid}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def _gradebook(results: Path) -> dict[str, dict[str, str]]:
    import csv

    with open(results / "gradebook.csv", encoding="utf-8") as fh:
        return {r["student_id"]: r for r in csv.DictReader(fh)}


TEXTS = {  # 10.1 and 10.2 of the default exam (seed 1) are short answers
    "ge01": {"10.1": "Their gradient is zero, so the weights never get an update.", "10.2": "No idea."},
    "ge02": {"10.1": "their gradient is zero so the weights never get an update", "10.2": "No idea"},
    "ge03": {"10.1": "The learning rate was too large.", "10.2": ""},
}


def _grade(submissions: Path, exam_dir: Path, results: Path):
    from typer.testing import CliRunner

    from i2dl.cli import app

    res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(submissions), "--exam", str(exam_dir),
                                   "--out", str(results)])
    assert res.exit_code == 0, res.output
    return res


def test_review_marks_reach_the_gradebook_and_its_totals_match_the_hand_sum(default_exam_dir, tmp_path):
    from i2dl.exam import load_exam
    from i2dl.review.queue import open_queue

    exam = load_exam(default_exam_dir)
    _, part = exam.find_part("10.1")
    assert part.blanks[0].kind == "text"
    checklist = {t.id: t.points for t in part.blanks[0].checklist}
    full = [t.id for t in part.blanks[0].checklist if t.full]
    low = [t.id for t in part.blanks[0].checklist if t.points <= 0]  # deductions and named mistakes
    subs, results = tmp_path / "subs", tmp_path / "results"
    _write_submissions(subs, default_exam_dir, TEXTS)
    first = _grade(subs, default_exam_dir, results)
    assert "pending: 5 answers of 3 students" in first.output
    before = _gradebook(results)
    assert before["ge01"]["problem 10"] == "pending"
    kept = (results / "text-answers.jsonl").read_text(encoding="utf-8")
    assert "ge03" in kept and '"10.2"' not in kept.splitlines()[2]  # ge03's empty 10.2 is not kept

    queue = open_queue(results, default_exam_dir, ta="anna")
    qi = next(i for i, q in enumerate(queue.questions) if (q.part, q.blank) == ("10.1", "answer"))
    assert [g.students for g in queue.groups(qi)] == [("ge01", "ge02"), ("ge03",)]
    ids = [it.id for it in queue.questions[qi].items]

    async def drive():
        from i2dl.review.app import ReviewApp

        app = ReviewApp(queue)
        async with app.run_test() as pilot:
            assert app.qi == qi and app.gi == 0
            await pilot.press(*[str(ids.index(i) + 1) for i in full], "a")  # ge01 and ge02: every full item
            await pilot.press("down", *[str(ids.index(i) + 1) for i in low], "a")  # ge03: no credit items only
            await pilot.press("e", *f"{ids.index(full[0]) + 1} 0.25", "enter")  # retroactive: both answers
    _run(drive())
    queue.store.close()
    _grade(subs, default_exam_dir, results)
    after = _gradebook(results)
    edited = {**checklist, full[0]: 0.25}
    hand = min(sum(edited[i] for i in full), 2.0)  # 0.25 + 1
    assert hand == 1.25
    for sid, points in (("ge01", hand), ("ge02", hand), ("ge03", 0.0)):  # no credit, clamped at 0
        assert float(after[sid]["total"]) == pytest.approx(float(before[sid]["total"]) + points)
    assert after["ge01"]["problem 10"] == "pending"  # 10.2 still awaits a TA
    assert after["ge03"]["problem 10"] == "0"  # marked, and nothing else of problem 10 answered
    assert (results / "marks.sqlite").is_file()  # carried into the new results folder
    feedback = (results / "feedback" / "ge01.md").read_text(encoding="utf-8")
    assert "## 10.1: 1.25 / 2 points" in feedback and "(+0.25)" in feedback


def test_review_cli_export_and_import_merge_two_tas_and_name_the_conflict(default_exam_dir, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from i2dl.cli import app
    from i2dl.review.queue import open_queue

    subs, anna_dir = tmp_path / "subs", tmp_path / "anna"
    _write_submissions(subs, default_exam_dir, TEXTS)
    _grade(subs, default_exam_dir, anna_dir)
    ben_dir = tmp_path / "ben"
    shutil.copytree(anna_dir, ben_dir)
    anna, ben = open_queue(anna_dir, default_exam_dir, ta="anna"), open_queue(ben_dir, default_exam_dir, ta="ben")
    q1 = next(i for i, q in enumerate(anna.questions) if q.part == "10.1")
    q2 = next(i for i, q in enumerate(anna.questions) if q.part == "10.2")
    item1, item2 = anna.questions[q1].items[0].id, anna.questions[q2].items[0].id
    anna.apply(q1, 0, [item1], "")  # anna marks 10.1 ...
    ben.apply(q2, 0, [item2], "")  # ... ben marks 10.2, and ge03's 10.1 differently from anna
    anna.apply(q1, 1, [], "")
    ben.apply(q1, 1, [item1], "generous")
    anna.store.close()
    ben.store.close()
    runner = CliRunner()
    out = runner.invoke(app, ["review", str(ben_dir), "--exam", str(default_exam_dir), "--export",
                              str(tmp_path / "ben.csv")])
    assert out.exit_code == 0, out.output
    assert "3 marks and 0 edited items written" in out.output
    res = runner.invoke(app, ["review", str(anna_dir), "--exam", str(default_exam_dir), "--import",
                              str(tmp_path / "ben.csv")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "2 marks added, 0 updated, 0 already the same" in res.output
    assert f"skipped: 10.1 answer of ge03: kept anna's items []; skipped ben's [{item1}] 'generous'" in res.output
    assert "import again with --replace" in res.output
    again = runner.invoke(app, ["review", str(anna_dir), "--exam", str(default_exam_dir), "--import",
                                str(tmp_path / "ben.csv"), "--json"])
    report = json.loads(again.output)
    assert (report["added"], report["same"], report["conflicts"]) == (0, 2, 1)
    assert report["skipped"][0].startswith("10.1 answer of ge03: kept anna's items []")
    merged = open_queue(anna_dir, default_exam_dir)
    assert merged.progress(q1) == (3, 3) and merged.progress(q2) == (2, 2)
    assert merged.mark(q1, "ge03").items == ()  # anna's mark was not overwritten

    async def reopen():
        from i2dl.review.app import ReviewApp

        app = ReviewApp(merged)
        async with app.run_test() as pilot:
            assert "every answer is marked" not in str(app.query_one("#status").render())
            await pilot.press("n")  # all 5 kept answers are marked after the merge
            assert "every answer is marked" in str(app.query_one("#status").render())
            assert "all questions 5/5" in str(app.query_one("#title").render())
    _run(reopen())
    merged.store.close()


def queue_exam_variants(root: Path):
    """The parts of every variant of the course's cohort exam."""
    from i2dl.exam import load_exam

    return [[part for _, part in v.parts()] for v in load_exam(root / "exams/mid").variants.values()]


def test_review_cohort_groups_one_bank_question_across_variants_and_part_numbers(tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from i2dl.cli import app
    from i2dl.course import SECRET_ENV
    from i2dl.review.queue import open_queue

    monkeypatch.delenv(SECRET_ENV, raising=False)
    runner = CliRunner()
    root = tmp_path / "course"
    assert runner.invoke(app, ["init", str(root), "--title", "DL", "--term", "WS"]).exit_code == 0
    monkeypatch.chdir(root)
    res = runner.invoke(app, ["--engine", "numpy", "generate", "--roster", "roster.csv", "--out", "exams/mid"])
    assert res.exit_code == 0, res.output
    subs = root / "subs"
    subs.mkdir()
    ids = ["ge00aaa", "ge00bbb", "ge00ccc"]
    for sid in ids:
        data = yaml.safe_load((root / "exams/mid/answers" / f"{sid}.yaml").read_text(encoding="utf-8"))
        data["student_id"] = sid
        data["answers"]["10.1"] = "The same few words."
        (subs / f"{sid}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    _grade(subs, Path("exams/mid"), root / "results")
    queue = open_queue(root / "results", "exams/mid", ta="anna")
    asked = {}  # bank question -> the students whose 10.1 it is
    for i, q in enumerate(queue.questions):
        for g in queue.groups(i):  # a group holds answers to one bank question only, whatever the variant
            asked.setdefault(q.qid, set()).update(g.students)
            assert all(q.part_of(s) == "10.1" for s in g.students)
    variants_10_1 = {p.id for v in queue_exam_variants(root) for p in v if p.number == "10.1"}
    assert set(asked) == variants_10_1 and sorted(s for v in asked.values() for s in v) == ids
    first = next(i for i, _ in enumerate(queue.questions) if queue.groups(i))
    q = queue.questions[first]
    student = queue.groups(first)[0].students[0]
    full = [it.id for it in q.items if it.points > 0 and it.instead_of is None]
    queue.apply(first, 0, full, "")
    queue.store.close()
    _grade(subs, Path("exams/mid"), root / "results")
    book = _gradebook(root / "results")
    assert float(book[student]["total"]) == pytest.approx(q.points)  # every other answer is blank or pending
    assert all(float(book[s]["total"]) == 0 for s in ids if s not in queue.groups(first)[0].students)


def test_help_and_grade_do_not_import_textual_or_rapidfuzz():
    code = ("import sys; from i2dl.cli import main; sys.argv=['i2dl','review','--help']\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "import i2dl.review.queue, i2dl.review.store, i2dl.grade.batch\n"
            "assert not {'textual', 'rapidfuzz'} & set(sys.modules), 'imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_review_command_opens_the_app_on_a_terminal_and_quits_with_the_progress(default_exam_dir, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    subs, results = tmp_path / "subs", tmp_path / "results"
    _write_submissions(subs, default_exam_dir, TEXTS)
    _grade(subs, default_exam_dir, results)
    child = pexpect.spawn(sys.executable, ["-m", "i2dl", "review", str(results), "--exam", str(default_exam_dir),
                                           "--ta", "anna"], env={**os.environ, "TERM": "xterm-256color",
                                                                 "COLUMNS": "120", "LINES": "40"},
                          dimensions=(40, 120), timeout=60, encoding="utf-8")
    try:
        child.expect("Question 1/15")
        child.send("1")
        child.send("a")
        child.expect("marked 2 answers")
        child.send("q")
        child.expect("10.1 answer: 2/3 answers marked")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    from i2dl.review.store import read_marks

    assert {k[0] for k in read_marks(results)} == {"ge01", "ge02"}


def test_review_without_a_terminal_is_a_usage_error_pointing_to_export(default_exam_dir, tmp_path):
    from typer.testing import CliRunner

    from i2dl.cli import app

    res = CliRunner().invoke(app, ["review", str(tmp_path), "--exam", str(default_exam_dir)])
    assert res.exit_code == 2
    assert "needs a terminal" in res.output and "--export" in res.output


def test_grade_refuses_a_damaged_marks_store_and_keeps_the_earlier_results(default_exam_dir, tmp_path):
    from typer.testing import CliRunner

    from i2dl.cli import app

    subs, results = tmp_path / "subs", tmp_path / "results"
    _write_submissions(subs, default_exam_dir, TEXTS)
    _grade(subs, default_exam_dir, results)
    before = (results / "scores.csv").read_bytes()
    (results / "marks.sqlite").write_bytes(b"not a database " * 100)
    res = CliRunner().invoke(app, ["--engine", "numpy", "grade", str(subs), "--exam", str(default_exam_dir),
                                   "--out", str(results)], env={"COLUMNS": "200"})
    assert res.exit_code == 11
    assert "marks.sqlite: cannot open the marks store" in res.output and "re-import" in res.output
    assert (results / "scores.csv").read_bytes() == before
