"""Practice: the Session state machine (fed typed lines, plain-data replies), the history, the weighting
of weak topics, and `i2dl practice` through a pseudo-terminal."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from i2dl import kinds
from i2dl.errors import NotFoundError
from i2dl.practice import (
    History,
    Item,
    PartRecord,
    Practice,
    Session,
    catalogue,
    data_dir,
    draw,
    make_exam,
    resolve,
    topic_weights,
)

SPEC = "linear-regression-step"
SEED = 5
ROOT = Path(__file__).resolve().parent.parent
CLOCK = lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # noqa: E731


def _session(history: History | None = None) -> Session:
    """The first problem of `i2dl practice SPEC --seed SEED` (the CLI draws the same one)."""
    return Practice(SPEC, SEED, history=history, clock=CLOCK).next_session()


def _blank(session: Session, name: str):
    return next(b for part in session.problem.parts for b in part.blanks if b.name == name)


def _text(session: Session, name: str, value=None) -> str:
    """A value written as a student types it (the key's own when `value` is None)."""
    b = _blank(session, name)
    return kinds.get(b.kind).format(b.expected if value is None else value)


def _sum_not_mean(session: Session) -> str:
    """The loss with the sum in place of the mean: the spec's named mistake 'sum-not-mean'."""
    p = session.problem
    return kinds.get("number").format(float(np.sum((p.values["yhat"] - p.values["t"]) ** 2)))


def _own_gradient(session: Session) -> np.ndarray:
    """A wrong dL/dw (the key plus one in each entry) to carry forward into the update."""
    return np.asarray(_blank(session, "dLdw").expected, dtype=float) + 1.0


def _own_update(session: Session) -> str:
    p = session.problem
    return _text(session, "w_new", np.asarray(p.values["w"]) - float(p.values["lr"]) * _own_gradient(session))


# ---------------------------------------------------------------------------- the session


def test_session_right_answer_is_said_right_and_finishes_the_part(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    s = _session(history)
    q = s.question()
    assert (q.part, q.blank, q.first_of_part, q.retry) == ("1.1", "yhat", True, False)
    reply = s.handle(_text(s, "yhat"))
    assert reply.kind == "verdict" and reply.verdict.outcome == "right" and reply.expected == _text(s, "yhat")
    assert [(r.part, r.outcome, r.right, r.score, r.tries) for r in reply.finished] == [("1.1", "right", True, 1.0, 1)]
    assert s.question().part == "1.2"
    assert history.tallies() == {"backpropagation": (1, 1)}


def test_session_wrong_answer_names_the_mistake_and_offers_a_retry():
    s = _session()
    s.handle(_text(s, "yhat"))
    reply = s.handle(_sum_not_mean(s))
    v = reply.verdict
    assert (v.outcome, v.mistake, v.retry, v.expected) == ("wrong", "sum-not-mean", True, "")
    assert v.feedback and not reply.finished  # the key is not given away while a retry is open
    assert s.question().retry and s.question().blank == "L"
    again = s.handle(_text(s, "L"))
    assert again.verdict.outcome == "right"
    rec = again.finished[0]
    # The first try decides: the part counts as wrong, in two tries, scored 0 at the first.
    assert (rec.part, rec.outcome, rec.right, rec.tries, rec.score) == ("1.2", "wrong", False, 2, 0.0)
    assert [(a["try"], a["outcome"], a["mistake"]) for a in rec.answers] == [(1, "wrong", "sum-not-mean"),
                                                                            (2, "right", None)]


def test_session_invalid_answer_is_asked_again_and_never_counted_wrong():
    s = _session()
    reply = s.handle("[1, 2")
    v = reply.verdict
    assert (v.outcome, v.again, v.retry) == ("invalid", True, False)
    assert v.feedback.startswith("could not read this answer")  # the grader's own reason
    assert s.question().blank == "yhat" and not s.question().retry
    rec = s.handle(_text(s, "yhat")).finished[0]
    assert (rec.outcome, rec.right, rec.tries) == ("right", True, 1)


def test_session_empty_line_asks_again_and_enter_after_a_wrong_answer_goes_on():
    s = _session()
    assert s.handle("").verdict.outcome == "empty" and s.question().blank == "yhat"
    s.handle("[0, 0, 0]" if _text(s, "yhat") != "[0, 0, 0]" else "[1, 1, 1]")
    reply = s.handle("")
    assert reply.kind == "skip" and reply.expected == _text(s, "yhat")
    assert reply.finished[0].outcome == "wrong" and s.question().blank == "L"


def test_session_follow_through_credits_the_update_from_the_students_own_gradient():
    s = _session()
    s.handle(_text(s, "yhat"))
    s.handle(_text(s, "L"))
    wrong = s.handle(_text(s, "dLdw", _own_gradient(s))).verdict
    assert wrong.outcome == "wrong" and wrong.retry
    s.handle("skip")
    part3 = s.handle(_text(s, "dLdb")).finished[0]
    assert (part3.part, part3.outcome, part3.score) == ("1.3", "partial", 1.0)  # one of its two points
    s.handle(_own_update(s))
    reply = s.handle(_text(s, "b_new"))
    rec = reply.finished[0]
    w_try = rec.answers[0]
    assert (w_try["blank"], w_try["outcome"]) == ("w_new", "follow-through")
    assert (rec.part, rec.outcome, rec.right) == ("1.4", "follow-through", True)
    assert s.done and s.score() == (4.0, 5.0)


def test_session_follow_through_verdict_says_where_the_own_value_came_from():
    s = _session()
    for name in ("yhat", "L"):
        s.handle(_text(s, name))
    s.handle(_text(s, "dLdw", _own_gradient(s)))
    s.handle("skip")
    s.handle(_text(s, "dLdb"))
    v = s.handle(_own_update(s)).verdict
    assert (v.outcome, v.status, v.credit) == ("follow-through", "follow-through", 1.0)
    assert "1.3" in v.feedback and v.expected == _text(s, "w_new")


def test_session_steps_carry_the_students_values_and_are_recorded():
    s = _session()
    s.handle(_text(s, "yhat"))
    s.handle(_sum_not_mean(s))
    reply = s.handle("?")
    assert reply.kind == "steps" and reply.steps["number"] == "1.2"
    blank = reply.steps["blanks"][0]
    assert blank["student"]["read"] == _sum_not_mean(s) and blank["student"]["status"] == "wrong"
    assert blank["steps"][-1]["value"] == pytest.approx(_blank(s, "L").expected)
    rec = s.handle("skip").finished[0]
    assert rec.steps and not rec.right


def test_session_steps_before_the_first_answer_make_a_right_answer_not_count_right():
    s = _session()
    s.handle("steps")
    rec = s.handle(_text(s, "yhat")).finished[0]
    assert (rec.outcome, rec.right, rec.steps) == ("right", False, True)


def test_session_quit_mid_part_records_the_blanks_answered(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    s = _session(history)
    for name in ("yhat", "L"):
        s.handle(_text(s, name))
    s.handle(_text(s, "dLdw"))
    reply = s.handle("quit")
    assert reply.kind == "quit"
    assert [(r.part, r.outcome, r.score, [a["blank"] for a in r.answers]) for r in reply.finished] == [
        ("1.3", "right", 1.0, ["dLdw"])]
    assert history.tallies() == {"backpropagation": (3, 3)}


def test_session_practises_a_bank_question_and_names_the_mistake_of_a_wrong_option():
    items = [i for i in catalogue() if i.kind == "mcq"]
    for item in items:
        exam = make_exam(item, 3)
        part = exam.problems[0].parts[0]
        named = [o for o in part.options if not o.correct and o.mistake]
        if named:
            break
    else:
        pytest.fail("no bank question has a computed wrong option")
    s = Session(exam, item, clock=CLOCK)
    assert [letter for letter, _ in s.question().options] == [o.letter for o in part.options]
    v = s.handle(named[0].letter).verdict
    assert (v.outcome, v.mistake, v.retry) == ("wrong", named[0].mistake, True)
    right = "".join(o.letter for o in part.options if o.correct) or "none"
    reply = s.handle(right)
    assert reply.verdict.outcome == "right" and reply.finished[0].topic == item.topic


# ---------------------------------------------------------------------------- drawing and the history


def test_resolve_takes_a_spec_a_question_a_topic_or_mcq():
    items = catalogue()
    assert [i.id for i in resolve(SPEC, items)] == [SPEC]
    assert {i.kind for i in resolve(None, items)} == {"spec"}
    assert {i.kind for i in resolve("mcq", items)} == {"mcq"}
    topic = resolve("optimization", items)
    assert topic and {i.topic for i in topic} == {"optimization"}
    qid = next(i.id for i in items if i.kind == "mcq")
    assert [i.id for i in resolve(qid, items)] == [qid]
    with pytest.raises(NotFoundError) as err:
        resolve("linear-regresion-step", items)
    assert SPEC in err.value.fix


def test_topic_weights_are_the_error_rate_with_a_uniform_prior():
    w = topic_weights(["strong", "weak", "new"], {"strong": (10, 9), "weak": (10, 1)})
    assert w == {"new": 0.5, "strong": pytest.approx(2 / 12), "weak": pytest.approx(10 / 12)}


def test_draw_is_deterministic_given_the_history_and_favours_weak_topics():
    pool = [Item("spec", f"{t}-{k}", t, "") for t in ("strong", "weak") for k in range(2)]
    tallies = {"strong": (10, 9), "weak": (10, 1)}
    picks = [draw(pool, tallies, np.random.default_rng(s)).id for s in range(400)]
    assert picks == [draw(pool, tallies, np.random.default_rng(s)).id for s in range(400)]
    weak = sum(p.startswith("weak") for p in picks)
    # Expected share 10/12 (weak) against 2/12: 333 of 400; a wide band, the draw itself is fixed.
    assert 300 < weak < 370
    even = [draw(pool, {}, np.random.default_rng(s)).id for s in range(400)]
    assert 160 < sum(p.startswith("weak") for p in even) < 240


def test_practice_draws_towards_the_topic_the_history_says_is_weak(tmp_path):
    from i2dl.spec.load import Library

    library = Library()
    history = History(tmp_path / "h.sqlite3")
    spec_topics = sorted({i.topic for i in catalogue(library, questions=False)})
    for k in range(10):  # ten wrong parts in optimization, ten right in every other topic
        for topic in spec_topics:
            wrong = topic == "optimization"
            history.record(PartRecord(topic, "x", "spec", k, "1.1", 1.0, 0.0 if wrong else 1.0,
                                      "wrong" if wrong else "right", not wrong, 1, False, "2026-12-01T12:00:00+00:00"))
    run = Practice(None, 7, history=history, library=library)
    topics = [run.next_item()[0].topic for _ in range(200)]
    again = Practice(None, 7, history=history, library=library)
    assert topics == [again.next_item()[0].topic for _ in range(200)]
    # Weights 11/12 for optimization and 1/12 for each other topic: expected share 11 / (11 + topics - 1).
    share = 11 / (11 + len(spec_topics) - 1)
    # the weak topic is drawn far more often than an even draw would (1 / topics), whatever the topics
    assert share > 3 / len(spec_topics) and abs(topics.count("optimization") / 200 - share) < 0.1


def test_history_topic_stats_count_first_tries_and_keep_the_last_time(tmp_path):
    history = History(tmp_path / "sub" / "h.sqlite3")
    for at, outcome, right, score in [("2026-11-30T10:00:00+00:00", "right", True, 1.0),
                                      ("2026-12-01T09:00:00+00:00", "wrong", False, 0.0),
                                      ("2026-12-01T08:00:00+00:00", "skipped", False, 0.0)]:
        history.record(PartRecord("cnn", "conv2d-by-hand", "spec", 1, "1.1", 2.0, score, outcome, right, 1, False, at))
    (row,) = history.topic_stats()
    assert row == {"topic": "cnn", "attempts": 3, "right": 1, "share_right": pytest.approx(1 / 3),
                   "score_share": pytest.approx(1 / 6), "skipped": 1, "last": "2026-12-01T09:00:00+00:00"}


def test_data_dir_prefers_i2dl_data_dir_then_xdg_then_home():
    assert data_dir({"I2DL_DATA_DIR": "/a", "XDG_DATA_HOME": "/b"}) == Path("/a")
    assert data_dir({"XDG_DATA_HOME": "/b"}) == Path("/b/i2dl")
    assert data_dir({}) == Path.home() / ".local" / "share" / "i2dl"


def test_practice_stats_command_shows_progress_per_topic(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from i2dl.cli import app

    monkeypatch.setenv("I2DL_DATA_DIR", str(tmp_path))
    history = History()
    history.record(PartRecord("losses", "softmax-cross-entropy", "spec", 1, "1.1", 1.0, 1.0, "right", True, 1, False,
                              "2026-12-01T09:30:00+00:00"))
    history.record(PartRecord("losses", "softmax-cross-entropy", "spec", 1, "1.2", 1.0, 0.0, "wrong", False, 2, True,
                              "2026-12-01T09:31:00+00:00"))
    history.close()
    res = CliRunner().invoke(app, ["practice", "--stats"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if "losses" in line)
    assert [c.strip() for c in row.strip("│ ").split("│")] == ["losses", "2", "1", "50%", "50%", "0",
                                                              "2026-12-01 09:31 UTC"]


def test_practice_stats_json_gives_the_rows_and_an_unwritable_data_dir_is_an_output_error(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from i2dl.cli import app

    monkeypatch.setenv("I2DL_DATA_DIR", str(tmp_path))
    history = History()
    history.record(PartRecord("cnn", "conv2d-by-hand", "spec", 1, "1.1", 2.0, 2.0, "right", True, 1, False,
                              "2026-12-01T09:30:00+00:00"))
    history.close()
    res = CliRunner().invoke(app, ["practice", "--stats", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["topics"] == [{"topic": "cnn", "attempts": 1, "right": 1, "share_right": 1.0, "score_share": 1.0,
                               "skipped": 0, "last": "2026-12-01T09:30:00+00:00"}]
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("I2DL_DATA_DIR", str(tmp_path / "file"))
    res = CliRunner().invoke(app, ["practice", "--stats"])
    assert res.exit_code == 11 and "I2DL_DATA_DIR" in res.output


# ---------------------------------------------------------------------------- through a pseudo-terminal


def _spawn(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {"I2DL_DATA_DIR": str(tmp_path), "NO_COLOR": "1", "TERM": "dumb", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "COLUMNS": "200"}
    exe = Path(sys.executable).parent / "i2dl"
    if not exe.exists():
        exe = ROOT / ".venv" / "bin" / "i2dl"
    return pexpect.spawn(str(exe), ["practice", SPEC, "--seed", str(SEED)], env=env, encoding="utf-8",
                         timeout=60, dimensions=(50, 200))


def _rows(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        return db.execute("SELECT part, outcome, right, tries, steps, score, topic, item, seed FROM parts "
                          "ORDER BY id").fetchall()


def test_practice_cli_session_in_a_pty_right_wrong_invalid_follow_through_steps_then_eof(tmp_path):
    s = _session()  # the same instance the command draws: every answer below is derived from it
    child = _spawn(tmp_path)
    child.expect_exact("predictions> ")
    child.sendline("[1, 2")
    child.expect_exact("invalid (not counted)")
    child.expect_exact("predictions> ")
    child.sendline(_text(s, "yhat"))
    child.expect_exact("right: ")
    child.expect_exact("loss L> ")
    child.sendline(_sum_not_mean(s))
    child.expect_exact("wrong (you gave")
    child.expect_exact("mistake: sum-not-mean")
    child.expect_exact("loss L (again)> ")
    child.sendline("?")
    child.expect_exact(f"your answer: {_sum_not_mean(s)}")
    child.expect_exact("loss L (again)> ")
    child.sendline("skip")
    child.expect_exact(f"the answer: {_text(s, 'L')}")
    child.expect_exact("dL/dw> ")
    child.sendline(_text(s, "dLdw", _own_gradient(s)))
    child.expect_exact("dL/dw (again)> ")
    child.sendline("")
    child.expect_exact("dL/db> ")
    child.sendline(_text(s, "dLdb"))
    child.expect_exact("updated w> ")
    child.sendline(_own_update(s))
    child.expect_exact("right for your own earlier value")
    child.expect_exact("updated b> ")
    child.sendline(_text(s, "b_new"))
    child.expect_exact("problem done")
    child.expect_exact("Another problem?")
    child.sendeof()
    child.expect_exact("Goodbye: 4 parts practised")
    child.expect(pytest.importorskip("pexpect").EOF)
    child.close()
    assert child.exitstatus == 0
    assert _rows(tmp_path) == [
        ("1.1", "right", 1, 1, 0, 1.0, "backpropagation", SPEC, s.seed),
        ("1.2", "wrong", 0, 1, 1, 0.0, "backpropagation", SPEC, s.seed),
        ("1.3", "partial", 0, 1, 0, 1.0, "backpropagation", SPEC, s.seed),
        ("1.4", "follow-through", 1, 1, 0, 1.0, "backpropagation", SPEC, s.seed),
    ]
    with sqlite3.connect(tmp_path / "history.sqlite3") as db:
        answers = db.execute("SELECT blank, outcome, mistake FROM answers ORDER BY rowid").fetchall()
    assert answers == [("yhat", "right", None), ("L", "wrong", "sum-not-mean"), ("dLdw", "wrong", None),
                       ("dLdb", "right", None), ("w_new", "follow-through", None), ("b_new", "right", None)]


def test_practice_cli_quit_ends_with_goodbye_and_exit_0(tmp_path):
    s = _session()
    child = _spawn(tmp_path)
    child.expect_exact("predictions> ")
    child.sendline(_text(s, "yhat"))
    child.expect_exact("loss L> ")
    child.sendline("quit")
    child.expect_exact("Goodbye: 1 part practised")
    child.expect(pytest.importorskip("pexpect").EOF)
    child.close()
    assert child.exitstatus == 0
    assert [r[:3] for r in _rows(tmp_path)] == [("1.1", "right", 1)]


def test_practice_cli_ctrl_c_ends_cleanly_and_keeps_the_history(tmp_path):
    s = _session()
    child = _spawn(tmp_path)
    child.expect_exact("predictions> ")
    child.sendline(_text(s, "yhat"))
    child.expect_exact("right: ")
    child.expect_exact("loss L> ")
    child.sendintr()
    child.expect_exact("Goodbye: 1 part practised")
    child.expect(pytest.importorskip("pexpect").EOF)
    child.close()
    assert child.exitstatus == 0 and child.signalstatus is None
    assert [r[:3] for r in _rows(tmp_path)] == [("1.1", "right", 1)]


def test_practice_session_never_imports_torch():
    import subprocess

    code = ("import sys\n"
            "from i2dl.practice import Practice\n"
            "s = Practice('linear-regression-step', 5).next_session()\n"
            "s.handle('[0, 0, 0]'); s.handle('?'); s.handle('skip')\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
