"""The grader's memo (one problem's results reused for the same raw answers, a blank's reading reused,
follow-through's recomputed values reused): the results are those of a fresh grader, whatever came before."""

from __future__ import annotations

import json

import pytest

from i2dl.exam import load_exam
from i2dl.export.answers import key_answers
from i2dl.grade import score
from i2dl.grade.batch import _json_indented
from i2dl.grade.manual import MARKED, PENDING, Mark
from i2dl.grade.score import Grader, Submission, _frozen
from tests.test_grade_responses import follow_through_answers, invalid_answers, wrong_answers


@pytest.fixture(scope="module")
def exam(default_exam_dir):
    return load_exam(default_exam_dir)


def _sub(exam, sid: str, answers: dict) -> Submission:
    return Submission(f"{sid}.yaml", sid, f"Student {sid}", exam.exam_id, answers)


def _view(result) -> list:
    """Everything a result says, as plain data (what the feedback file and the scores are made from)."""
    return [(p.number, p.score, p.feedback, [(b.name, b.status, b.credit, b.read, b.feedback, b.alternative)
                                             for b in p.blanks]) for p in result.parts] + [result.total, result.notes]


def test_grade_memo_gives_every_submission_the_results_of_a_fresh_grader(exam):
    cycle = [key_answers(exam), wrong_answers(exam), follow_through_answers(exam), invalid_answers(exam), {}]
    shared = Grader(exam, "numpy")
    for round_ in range(2):  # the second round is graded from the memo
        for i, answers in enumerate(cycle):
            sub = _sub(exam, f"s{round_}{i}", answers)
            assert _view(shared.grade(sub)) == _view(Grader(exam, "numpy").grade(sub))
    assert shared._memo  # the memo was used, not bypassed


def test_grade_part_memo_gives_mixed_submissions_the_results_of_a_fresh_grader(exam):
    # Each part's answer drawn from another answer set: problems rarely repeat, parts often do, and a
    # part shared from the memo must still feed the follow-through of the parts after it.
    import random

    sources = [key_answers(exam), wrong_answers(exam), follow_through_answers(exam), invalid_answers(exam)]
    rng = random.Random(7)
    shared = Grader(exam, "numpy")
    numbers = [part.number for _, part in exam.parts()]
    for i in range(10):
        answers = {}
        for n in numbers:
            got = rng.choice(sources).get(n)
            if got is not None:
                answers[n] = got
        sub = _sub(exam, f"m{i}", answers)
        assert _view(shared.grade(sub)) == _view(Grader(exam, "numpy").grade(sub))
    assert shared._part_memo  # parts were shared, not all graded afresh
    follow = shared.grade(_sub(exam, "f", sources[2]))
    assert any(b.status == score.FOLLOW for p in follow.parts for b in p.blanks)
    # a result that hangs on other parts' answers is never shared
    assert not any(b.status == score.FOLLOW for result, _, _ in shared._part_memo.values() for b in result.blanks)


def test_grade_memo_keeps_a_follow_through_apart_from_the_key(exam):
    grader = Grader(exam, "numpy")
    key = grader.grade(_sub(exam, "a", key_answers(exam)))
    follow = grader.grade(_sub(exam, "b", follow_through_answers(exam)))
    again = grader.grade(_sub(exam, "c", key_answers(exam)))
    assert again.total == key.total == exam.points - key.pending_points  # all but the text answers a TA marks
    assert follow.total < key.total
    assert any(b.status == score.FOLLOW for p in follow.parts for b in p.blanks)


def test_grade_memo_stays_within_its_size(exam, monkeypatch):
    monkeypatch.setattr(score, "MEMO_SIZE", 3)
    grader = Grader(exam, "numpy")
    for i in range(4):
        grader.grade(_sub(exam, f"s{i}", wrong_answers(exam) if i % 2 else invalid_answers(exam)))
    assert len(grader._memo) == 3


def test_grade_memo_key_tells_answer_types_apart():
    assert len({_frozen(v) for v in (1, 1.0, "1", True, None, "None")}) == 6
    assert _frozen(-0.0) != _frozen(0.0)
    assert _frozen([1.0, 2.0]) != _frozen(["1.0", "2.0"]) != _frozen((1.0, 2.0))
    assert _frozen({"a": 1, "b": 2}) != _frozen({"b": 2, "a": 1})  # the order shows in feedback on unknown blanks
    assert _frozen([[1.0], [2.0]]) == _frozen([[1.0], [2.0]])


def test_grade_memo_keys_a_marked_text_answer_by_student(exam):
    prob, part, blank = next((prob, part, b) for prob, part in exam.parts() for b in part.blanks if b.kind == "text")
    text = "the gradient is zero for negative inputs"
    answers = {part.number: {blank.name: text}}
    marks = {("m1", part.number, blank.name): Mark(tuple(t.id for t in blank.checklist[:1]), "", text)}
    grader = Grader(exam, "numpy", marks=marks)
    first = grader.grade(_sub(exam, "m1", answers))
    second = grader.grade(_sub(exam, "m2", answers))
    status = {r.student_id: next(b.status for p in r.parts if p.number == part.number for b in p.blanks)
              for r in (first, second)}
    assert status == {"m1": MARKED, "m2": PENDING}


@pytest.mark.parametrize("value", [
    {"student_id": "s\u00e9\u4e2d\"\\\n", "total": 12.5, "percent": 13.02, "parts": {"1.1": 0.0, "1.2": -0.0},
     "blanks": {"1.1": {"x": "correct"}}, "notes": [], "pending_parts": ["2.1"], "mistakes": {"3": {"w": ["flip"]}}},
    {"nan": float("nan"), "inf": [float("inf"), -float("inf")], "none": None, "flags": [True, False], "n": 3,
     "empty": {}, "list": [], "nested": [[[]], {"a": {}}], "big": 1e300, "tiny": 5e-324},
    [], {}, "text", 1.5,
])
def test_summary_student_encoder_writes_the_bytes_of_json_dumps_indent_1(value):
    assert _json_indented(value, "\n  ") == json.dumps(value, indent=1, default=str).replace("\n", "\n  ")


def test_grade_batch_collections_freeze_survivors_and_leave_the_collector_as_found():
    import gc

    from i2dl.grade.batch import _fewer_collections

    callbacks, frozen = list(gc.callbacks), gc.get_freeze_count()
    with _fewer_collections():
        assert gc.get_freeze_count() >= frozen
        kept = [[i] for i in range(1000)]  # survivors of the next full collection
        gc.collect()
        assert gc.get_freeze_count() >= frozen + len(kept)  # frozen: later full collections skip them
    assert gc.callbacks == callbacks
    assert gc.get_freeze_count() == 0


def test_student_json_of_part_pieces_is_the_text_of_json_dumps(exam):
    # the entry is assembled from per-part pieces (kept per part and status codes) around a marker
    from i2dl.grade.batch import (
        _blank_names,
        _student_data,
        part_numbers,
        student_json,
        student_row,
    )

    grader = Grader(exam, "numpy")
    cycle = [key_answers(exam), wrong_answers(exam), follow_through_answers(exam), invalid_answers(exam), {}]
    for i, answers in enumerate(cycle * 2):
        row = student_row(grader.grade(_sub(exam, f"j\u00e9{i}\"", answers)), exam)
        whole = json.dumps(_student_data(row, part_numbers(exam), _blank_names(exam)), indent=1)
        assert student_json(row, exam) == whole.replace("\n", "\n  ")
