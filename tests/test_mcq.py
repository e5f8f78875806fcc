"""The multiple-choice bank: every question well-formed, computed options from named mistakes,
seeded shuffles with no position pattern, and drawing by topic without repeats."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from i2dl.errors import SpecError
from i2dl.mcq import LETTERS, OPTION_GAP, Bank, make_variant

BANK = Bank()
QIDS = sorted(BANK.questions)
TOPICS_REQUIRED = {
    "regression", "activations", "loss-functions", "backpropagation", "initialization", "optimization",
    "regularization", "batch-normalization", "convolution-layers", "cnn-architectures", "autoencoders", "gans",
}


def test_bank_has_at_least_80_questions_across_the_course_topics():
    assert len(QIDS) >= 80
    assert TOPICS_REQUIRED <= set(BANK.topics())


def test_bank_has_parameterized_questions_and_extreme_keys():
    param = [q for q in BANK.questions.values() if q.parameterized]
    assert len(param) >= 15
    static = [q.question for q in BANK.questions.values() if not q.parameterized]
    assert sum(1 for q in static if not any(o.correct is True for o in q.options)) >= 5
    assert sum(1 for q in static if all(o.correct is True for o in q.options)) >= 5


@pytest.mark.parametrize("qid", QIDS)
def test_question_variants_are_consistent_for_several_seeds(qid, np_engine):
    bq = BANK.get(qid)
    for seed in range(8 if bq.parameterized else 2):
        v = make_variant(bq, seed, np_engine)
        assert 3 <= len(v.options) <= 5
        assert len(set(v.options)) == len(v.options), "options must be distinct"
        assert all(r.strip() for r in v.reasons), "every option needs a reason"
        assert all("{{" not in t for t in v.options + v.reasons + [v.stem]), "unrendered template"
        assert v.correct <= set(LETTERS[: len(v.options)])
        # The key agrees with the per-option truth the bank states.
        for i, source in enumerate(v.order):
            original = bq.question.options[source]
            if isinstance(original.correct, bool):
                assert (LETTERS[i] in v.correct) == original.correct
            if original.mistake:
                assert LETTERS[i] not in v.correct, "a named mistake is never a correct option"


def test_variants_are_deterministic_per_seed(np_engine):
    for qid in QIDS[:30]:
        a = make_variant(BANK.get(qid), 5, np_engine)
        b = make_variant(BANK.get(qid), 5, np_engine)
        assert (a.options, a.correct, a.reasons) == (b.options, b.correct, b.reasons)


def test_shuffles_spread_correct_options_over_positions(np_engine):
    positions: Counter[int] = Counter()
    per_question = Counter()
    for qid in QIDS:
        for seed in range(10):
            v = make_variant(BANK.get(qid), seed, np_engine)
            for letter in v.correct:
                positions[LETTERS.index(letter)] += 1
            per_question[len(v.correct)] += 1
    first_four = [positions[i] for i in range(4)]
    assert min(first_four) > 0.6 * max(first_four), f"correct options cluster: {first_four}"
    assert per_question[0] > 0, "some variants must have no correct option"
    assert len(per_question) >= 4, f"the number of correct options should vary: {per_question}"


def test_same_question_different_seeds_moves_the_correct_option(np_engine):
    bq = next(q for q in BANK.questions.values()
              if not q.parameterized and sum(o.correct is True for o in q.question.options) == 2)
    keys = {frozenset(make_variant(bq, s, np_engine).correct) for s in range(12)}
    assert len(keys) > 1


def test_computed_distractors_never_equal_the_right_value(np_engine):
    for bq in (q for q in BANK.questions.values() if q.parameterized):
        for seed in range(30):
            v = make_variant(bq, seed, np_engine)
            assert len(set(v.options)) == len(v.options)
            assert all(m is None or isinstance(m, str) for m in v.mistakes)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def test_computed_options_are_separable_by_a_student_working_to_three_decimals(np_engine):
    for bq in (q for q in BANK.questions.values() if q.parameterized):
        for seed in range(40):
            v = make_variant(bq, seed, np_engine)
            nums = [x for x in map(_number, v.options) if x is not None and not x.is_integer()]
            gaps = [abs(a - b) for i, a in enumerate(nums) for b in nums[i + 1:]]
            assert all(g >= OPTION_GAP for g in gaps), f"{bq.qid} seed {seed}: options {v.options}"


def test_weight_decay_step_options_differ_by_more_than_three_decimals_can_blur(np_engine):
    """The case that prompted the rule: lambda = 0.01 made the decay term 0.0005 for lr 0.1, w 0.5."""
    bq = BANK.get("mcq.regularization.weight-decay-step")
    seen = set()
    for seed in range(200):
        v = make_variant(bq, seed, np_engine)
        seen.add((v.params["lam"], v.params["lr"], v.params["w"]))
        values = sorted(float(o) for o in v.options)
        assert min(b - a for a, b in zip(values, values[1:], strict=False)) >= OPTION_GAP
    assert (0.01, 0.1, 0.5) not in seen
    assert len(seen) >= 20


def test_draw_by_topic_never_repeats_and_fails_clearly_when_short():
    rng = np.random.default_rng(0)
    picks = BANK.draw(rng, 3, topic="optimization")
    assert len({p.qid for p in picks}) == 3 and all(p.topic == "optimization" for p in picks)
    more = BANK.draw(rng, 2, topic="optimization", exclude={p.qid for p in picks})
    assert not {p.qid for p in more} & {p.qid for p in picks}
    with pytest.raises(SpecError, match="only"):
        BANK.draw(rng, 500, topic="optimization")


def test_default_exam_multiple_choice_block_comes_from_the_bank():
    from i2dl.exam import build_exam

    exam = build_exam("default", 3, engine_name="numpy")
    mcq = [p for p in exam.problems if p.kind == "mcq"]
    assert mcq and len(mcq[0].parts) >= 5
    ids = [part.id for part in mcq[0].parts]
    assert len(set(ids)) == len(ids) and all(i in BANK.questions for i in ids)
