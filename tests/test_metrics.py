"""Confidence intervals for the Tune page's accuracy and ROC AUC, against known answers."""

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from detector.metrics import MIN_PER_CLASS, roc_auc_interval, weighted_roc_auc, wilson_interval

Z95 = 1.959963984540054


def _wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's interval from its formula (Wilson 1927), to check scipy's against."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize("k, n", [(7, 7), (8, 10), (0, 5), (50, 100), (29, 30)])
def test_wilson_interval_matches_the_formula(k, n):
    assert wilson_interval(k, n) == pytest.approx(_wilson(k, n), abs=1e-9)


def test_wilson_interval_known_answers():
    low, high = wilson_interval(7, 7)  # "100 %" on 7 tracks
    assert low == pytest.approx(7 / (7 + Z95 ** 2)) and low == pytest.approx(0.6457, abs=1e-4) and high == 1.0
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    wider = wilson_interval(8, 10, confidence=0.99)
    assert wider[0] < 0.4902 and wider[1] > 0.9433
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson_interval(3, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)


def test_weighted_roc_auc_is_sklearns_with_sample_weights():
    rng = np.random.default_rng(3)
    y = np.array([0, 1] * 20)
    scores = np.round(rng.random(40), 1)  # rounded: many ties, each counting one half
    weights = rng.integers(0, 4, (6, 40))
    weights[:, :2] += 1  # both classes weigh something in every row
    expected = [roc_auc_score(y, scores, sample_weight=w) for w in weights]
    assert weighted_roc_auc(y, scores, weights) == pytest.approx(expected)


def test_roc_auc_interval_known_answers():
    separated = roc_auc_interval(["human"] * 3 + ["ai"] * 4, [0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9])
    assert separated == (1.0, 1.0)  # every resample keeps every AI track above every human one
    assert roc_auc_interval([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == (0.0, 0.0)
    assert roc_auc_interval([0, 1, 0, 1], [0.5] * 4) == (0.5, 0.5)  # all ties
    assert roc_auc_interval(["ai", "ai"], [0.2, 0.9]) is None  # one class: no AUC
    with pytest.raises(ValueError, match="3 scores for 2 labels"):
        roc_auc_interval([0, 1], [0.1, 0.2, 0.3])


def test_roc_auc_interval_is_seeded_and_holds_the_estimate():
    rng = np.random.default_rng(0)
    y = np.array([0] * 40 + [1] * 40)
    scores = rng.normal(y * 1.0, 1.0)  # d' = 1: AUC about 0.76
    auc = roc_auc_score(y, scores)
    low, high = roc_auc_interval(y, scores, seed=7)
    assert low < auc < high and 0.1 < high - low < 0.3
    assert roc_auc_interval(y, scores, seed=7) == (low, high)
    narrow = roc_auc_interval(y, scores, seed=7, confidence=0.5)
    assert low < narrow[0] < narrow[1] < high
    assert MIN_PER_CLASS == 30
