"""JAA-Net's per-AU F1 / accuracy against hand-computed values, 9s dropped, zero division, failures."""
import math

import numpy as np
import pytest

from lac_gan.data import metrics
from lac_gan.data.au_table import NUM_AUS


def test_binary_scores_by_hand():
    # TP: frames 0 and 4, FP: frame 2, FN: frame 1, TN: frame 3.
    score = metrics.binary_scores(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 1, 0, 1]))
    assert score.f1 == pytest.approx(100 * 4 / 6)
    assert score.accuracy == pytest.approx(60.0)
    assert (score.frames, score.true_positives, score.false_positives, score.false_negatives,
            score.positives) == (5, 2, 1, 1, 3)


def test_zero_division_is_zero_f1_like_jaanet():
    # No positive label, no positive prediction: F1 0 (scikit-learn's default), accuracy 100.
    score = metrics.binary_scores(np.zeros(4), np.zeros(4))
    assert (score.f1, score.accuracy) == (0.0, 100.0)
    # Positives but none predicted: F1 0 as well.
    assert metrics.binary_scores(np.array([1, 0]), np.array([0, 0])).f1 == 0.0


def test_au_scores_drop_nines_failures_and_uncovered_aus():
    labels = np.zeros((6, NUM_AUS), dtype=int)
    occurrence = np.zeros((6, NUM_AUS))
    labels[:, 0] = [1, 1, 0, 0, 9, 1]
    occurrence[:, 0] = [0.9, 0.2, 0.7, 0.0, 1.0, 1.0]  # probabilities: threshold 0.5
    labels[:, 1] = 9  # never coded: undefined, left out of the average
    failed = np.array([False, False, False, False, False, True])  # frame 5 is not scored
    labels[5, 0], occurrence[5, 0] = 1, np.nan
    occurrence[:, 2] = 1.0  # AU4 predicted present everywhere, labelled absent everywhere
    covered = np.ones(NUM_AUS, dtype=bool)
    covered[-1] = False  # AU24, as for OpenFace
    occurrence[:, -1] = np.nan

    scores = metrics.au_scores(labels, occurrence, failed, covered)

    # AU1 keeps frames 0-3: TP 1, FN 1, FP 1, TN 1 -> F1 2/4, accuracy 2/4.
    assert scores[0].frames == 4
    assert scores[0].f1 == pytest.approx(50.0) and scores[0].accuracy == pytest.approx(50.0)
    assert scores[1].frames == 0 and math.isnan(scores[1].f1) and math.isnan(scores[1].accuracy)
    assert scores[2].f1 == 0.0 and scores[2].accuracy == 0.0
    assert scores[3].f1 == 0.0 and scores[3].accuracy == 100.0  # zero division
    assert scores[-1] is None
    assert metrics.scores_by_name(scores)["AU2"]["f1"] is None
    assert metrics.scores_by_name(scores)["AU24"] is None


def test_au_scores_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\[N, 12\]"):
        metrics.au_scores(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(2, bool), np.ones(NUM_AUS, bool))


def test_average_row_uses_the_aus_scored_in_both_sets():
    from lac_gan.evaluation.report import table1_rows
    real = [metrics.AUScore(60.0, 80.0, 10, 3, 1, 1, 4)] * NUM_AUS
    synthetic = list(real)
    real[-1] = synthetic[-1] = None  # not covered
    synthetic[0] = metrics.AUScore(float("nan"), float("nan"), 0, 0, 0, 0, 0)  # no frame scored
    synthetic[1] = metrics.AUScore(40.0, 70.0, 10, 2, 1, 2, 4)
    rows = table1_rows(real, synthetic)
    assert rows[0]["Real F1"] == 60.0 and rows[0]["Synthesis F1"] is None and rows[0]["Gaps F1"] is None
    assert rows[1]["Gaps F1"] == pytest.approx(20.0) and rows[1]["Gaps Acc"] == pytest.approx(10.0)
    average = rows[-1]
    assert average["AU"] == "Avg" and average["Real F1"] == pytest.approx(60.0)
    assert average["Synthesis F1"] == pytest.approx((40.0 + 9 * 60.0) / 10)  # AU2..AU23, not AU1, AU24
    assert average["Gaps F1"] == pytest.approx(2.0)


def test_constant_answers_give_the_best_constant_f1_and_accuracy():
    labels = np.zeros((5, NUM_AUS), dtype=int)
    labels[:, 0] = [1, 1, 1, 0, 9]  # p = 3/4: all-present F1 2p / (1 + p) = 6/7, majority "present"
    labels[:, 1] = [1, 0, 0, 0, 0]  # p = 1/5: majority "absent", accuracy 4/5
    labels[:, 2] = 9  # never coded: undefined
    scores = metrics.constant_answer_scores(labels)
    always, majority = scores["always_present"], scores["majority"]
    assert always[0].f1 == pytest.approx(100 * 6 / 7) and always[0].frames == 4
    assert majority[0].accuracy == pytest.approx(75.0) and majority[0].f1 == pytest.approx(100 * 6 / 7)
    assert always[1].f1 == pytest.approx(100 * 2 / 6) and always[1].accuracy == pytest.approx(20.0)
    assert majority[1].accuracy == pytest.approx(80.0) and majority[1].f1 == 0.0
    assert math.isnan(always[2].f1) and math.isnan(majority[2].accuracy)
    assert majority[3].accuracy == 100.0  # never present: "absent" is always right
