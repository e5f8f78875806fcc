"""pca-covariance: the covariance, its eigenvalues and rank against a published worked example, torch and
independent numpy maths; the named mistakes graded as such."""

from __future__ import annotations

import numpy as np
import pytest

from i2dl.engine import get_engine
from i2dl.errors import ExprError
from i2dl.exam import build_exam
from i2dl.functions import FUNCTIONS
from i2dl.grade.score import Grader, Submission
from i2dl.spec.instance import make_instance
from i2dl.spec.load import Library
from tests.samples import instances

LIBRARY = Library()
# L. I. Smith, "A tutorial on Principal Components Analysis" (University of Otago, 2002), section 3.1:
# ten two-feature samples, their covariance matrix and its eigenvalues, worked out by hand.
SMITH_X = [[2.5, 2.4], [0.5, 0.7], [2.2, 2.9], [1.9, 2.2], [3.1, 3.0],
           [2.3, 2.7], [2.0, 1.6], [1.0, 1.1], [1.5, 1.6], [1.1, 0.9]]
SMITH_PINS = {"X": SMITH_X, "n_images": 10, "n_pixels": 64}


def _values(pins: dict) -> dict:
    return make_instance(LIBRARY.get("pca-covariance"), 0, get_engine("numpy"), pins=pins).values


def test_pca_covariance_reproduces_the_smith_tutorial_worked_example():
    v = _values(SMITH_PINS)
    assert v["N"] == 10                                     # the length follows the pinned data
    assert np.allclose(v["mu"], [1.81, 1.91])
    assert np.allclose(v["C"], [[0.616555556, 0.615444444], [0.615444444, 0.716555556]])
    assert np.allclose(v["eigs"], [1.28402771, 0.0490833989])
    assert v["share"] == pytest.approx(1.28402771 / (1.28402771 + 0.0490833989))
    assert v["max_rank"] == 9


def test_pca_covariance_rank_is_capped_by_the_pixels_when_samples_outnumber_them():
    assert _values({**SMITH_PINS, "n_images": 5000, "n_pixels": 784})["max_rank"] == 784


def test_rank_counts_independent_rows_of_a_covariance_of_few_samples():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 6))
    centred = X - X.mean(axis=0)
    assert FUNCTIONS["rank"].impl(FUNCTIONS["cov"].impl(X)) == 3       # four samples span three directions
    assert FUNCTIONS["rank"].impl(centred.T @ centred) == 3
    assert FUNCTIONS["rank"].impl(np.zeros((3, 3))) == 0


def test_eigvalsh_refuses_a_matrix_that_is_not_symmetric():
    with pytest.raises(ExprError):
        FUNCTIONS["eigvalsh"].impl(np.array([[1.0, 2.0], [0.0, 1.0]]))


@pytest.mark.library
def test_pca_covariance_keys_match_independent_numpy_maths_over_many_instances():
    for inst in instances("pca-covariance")[:400]:
        v = inst.values
        X = np.asarray(v["X"], float)
        C = np.cov(X, rowvar=False)
        eigs = np.sort(np.linalg.eigvals(C).real)[::-1]
        assert np.allclose(v["C"], C) and np.allclose(v["eigs"], eigs)
        assert v["share"] == pytest.approx(eigs[0] / np.trace(C))
        assert np.linalg.matrix_rank(C) == 2


@pytest.mark.torch
def test_pca_covariance_keys_match_torch_over_random_instances():
    torch = pytest.importorskip("torch")
    for seed in range(50):
        v = make_instance(LIBRARY.get("pca-covariance"), seed, get_engine("torch")).values
        X = torch.tensor(np.asarray(v["X"], float))
        C = torch.cov(X.T)
        assert np.allclose(v["C"], C.numpy())
        assert np.allclose(v["eigs"], torch.linalg.eigvalsh(C).flip(0).numpy())


def _graded(answers_by_part: dict, pins: dict = SMITH_PINS) -> dict:
    exam = build_exam("pca-covariance", 0, pins=pins, engine_name="numpy")
    number = {p.id: p.number for p in exam.problems[0].parts}
    answers = {number[part]: blanks for part, blanks in answers_by_part.items()}
    result = Grader(exam, "numpy").grade(Submission("s.yaml", "s", "", exam.exam_id, answers))
    return {b.name: b for p in result.parts for b in p.blanks}


def test_grade_names_the_biased_covariance_and_the_forgotten_centring():
    X = np.asarray(SMITH_X)
    biased = np.cov(X, rowvar=False, ddof=0).round(4).tolist()
    uncentred = (X.T @ X / 9).round(4).tolist()
    assert _graded({"covariance": {"C": biased}})["C"].alternative == "divided-by-n"
    assert _graded({"covariance": {"C": uncentred}})["C"].alternative == "not-centred"


def test_grade_names_the_rank_without_centring_and_credits_the_key():
    got = _graded({"rank": {"max_rank": "10"}})["max_rank"]
    assert got.credit == 0 and got.alternative == "centring-forgotten"
    assert _graded({"rank": {"max_rank": "9"}})["max_rank"].credit == 1


def test_grade_follow_through_credits_the_share_from_a_student_s_own_eigenvalues():
    got = _graded({"spectrum": {"eigs": "[1.5, 0.1]", "share": str(1.5 / 1.6)}})
    assert got["eigs"].credit == 0
    assert got["share"].status == "follow-through" and got["share"].credit == 1
