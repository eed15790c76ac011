"""How well scores separate labelled tracks: one definition for the classifier and the Tune page.

scikit-learn and scipy.stats are imported by the functions that use them: the dashboard's
pages import this module, and its first page has no use for them (over a second to import).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from .types import LABELS

CALIBRATION_BINS = 10
MIN_PER_CLASS = 30
"""Labelled tracks of each class below which accuracy and ROC AUC are too unsteady to trust on their own."""
BOOTSTRAP_RESAMPLES = 1000


def class_counts(labels: Iterable[str]) -> dict[str, int]:
    """``{"human": n, "ai": m}`` for an iterable of labels."""
    counts = Counter(labels)
    return {label: counts.get(label, 0) for label in LABELS}


def as_targets(labels: Iterable) -> np.ndarray:
    """Labels as class indices (0 human, 1 AI); accepts indices or the names in :data:`LABELS`.

    Raises
    ------
    ValueError
        For a label that is neither.
    """
    labels = list(labels)
    bad = sorted({repr(v) for v in labels if v not in LABELS and v not in (0, 1)})
    if bad:
        raise ValueError(f"Labels must be 'human' or 'ai', not {', '.join(bad)}.")
    return np.array([LABELS.index(v) if isinstance(v, str) else int(v) for v in labels], dtype=int)



@dataclass(frozen=True)
class CalibrationCurve:
    """Reliability diagram points: mean predicted P(AI) and observed AI fraction per bin.

    Only non-empty bins appear (``sklearn.calibration.calibration_curve``, uniform bins).
    """

    prob_pred: list[float]
    prob_true: list[float]
    n_bins: int


@dataclass(frozen=True)
class Metrics:
    """Classification metrics of P(AI) against the true labels, at threshold 0.5.

    ``confusion_matrix[i][j]`` counts true class ``LABELS[i]`` predicted as ``LABELS[j]``.
    ``threshold`` is the decision line the predictions were cut at.
    ``roc_auc`` and ``calibration`` are None when only one class is present.
    ``fold_roc_auc`` holds the ROC AUC of each cross-validation fold (CV metrics only).
    ``roc_fpr``/``roc_tpr`` are the ROC curve's points (None with one class).
    """

    n_samples: int
    class_counts: dict[str, int]
    roc_auc: float | None
    accuracy: float
    f1: float
    confusion_matrix: list[list[int]]
    calibration: CalibrationCurve | None
    fold_roc_auc: list[float] | None = None
    roc_fpr: list[float] | None = None
    roc_tpr: list[float] | None = None
    threshold: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)


def compute_metrics(y: np.ndarray, p_ai: np.ndarray, *, threshold: float = 0.5,
                    n_bins: int = CALIBRATION_BINS) -> Metrics:
    """Metrics of the scores ``p_ai`` for the labels ``y`` (0 human, 1 AI), "AI" above ``threshold``.

    Parameters
    ----------
    y : (n,) array of 0/1, or of ``"human"``/``"ai"``
    p_ai : (n,) array of scores in [0, 1]
    threshold : float
        The decision line: a score above it counts as an AI prediction.

    Raises
    ------
    ValueError
        No labels, a label that is not a class, or scores and labels of different lengths.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve

    y = as_targets(y)
    p_ai = np.asarray(p_ai, dtype=float)
    if y.size == 0:
        raise ValueError("No labelled tracks to evaluate.")
    if p_ai.shape != y.shape:
        raise ValueError(f"{p_ai.size} scores for {y.size} labels.")
    pred = (p_ai > threshold).astype(int)
    both = len(np.unique(y)) == 2
    calibration = fpr = tpr = None
    if both:
        prob_true, prob_pred = calibration_curve(y, p_ai, n_bins=n_bins, strategy="uniform")
        calibration = CalibrationCurve([float(v) for v in prob_pred], [float(v) for v in prob_true], n_bins)
        fpr, tpr, _ = roc_curve(y, p_ai)
        fpr, tpr = [float(v) for v in fpr], [float(v) for v in tpr]
    return Metrics(
        n_samples=int(y.size),
        class_counts=class_counts(LABELS[t] for t in y),
        roc_auc=float(roc_auc_score(y, p_ai)) if both else None,
        accuracy=float(accuracy_score(y, pred)),
        f1=float(f1_score(y, pred, pos_label=1, zero_division=0)),
        confusion_matrix=confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        calibration=calibration,
        roc_fpr=fpr,
        roc_tpr=tpr,
        threshold=float(threshold),
    )


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``successes / n`` (for accuracy: correct / decided).

    Unlike the normal approximation it stays inside [0, 1] and does not collapse to a
    point at 0 % or 100 %: 7 correct out of 7 gives (0.646, 1.0) at 95 %.

    Raises
    ------
    ValueError
        When ``n`` is not positive or ``successes`` is not between 0 and ``n``.
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"A proportion needs 0 <= successes <= n and n > 0, not {successes} of {n}.")
    from scipy.stats import binomtest

    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(min(ci.high, 1.0))


def weighted_roc_auc(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for labels ``y`` (0/1) under each row of integer ``weights``.

    Parameters
    ----------
    y : (n,) array of 0/1
    scores : (n,) array of float
    weights : (b, n) array of non-negative counts; each row must weigh both classes

    Returns
    -------
    (b,) array: for each row, the weighted share of (AI, human) pairs where the AI track
    scores higher, ties counting one half (the Mann-Whitney statistic, as
    ``sklearn.metrics.roc_auc_score(y, scores, sample_weight=row)`` gives).
    """
    y = np.asarray(y, dtype=int)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    values, where = np.unique(np.asarray(scores, dtype=float), return_inverse=True)
    k = values.size
    human = np.zeros((weights.shape[0], k))
    ai = np.zeros((weights.shape[0], k))
    for i in range(y.size):  # group the weights by distinct score (columns), per class
        (ai if y[i] == 1 else human)[:, where[i]] += weights[:, i]
    below = np.cumsum(human, axis=1) - human  # human weight strictly below each score
    pairs = human.sum(axis=1) * ai.sum(axis=1)
    return (ai * (below + 0.5 * human)).sum(axis=1) / pairs


def roc_auc_interval(y: Iterable, scores: Iterable[float], *, confidence: float = 0.95,
                     n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """A stratified bootstrap percentile interval for the ROC AUC of ``scores``.

    Each of ``n_resamples`` resamples draws, with replacement, as many human and as many
    AI tracks as there are (so every resample has both classes); the interval is the
    central ``confidence`` share of the resampled AUCs. Seeded: the same input gives the
    same interval. ``None`` when a class is missing.

    Parameters
    ----------
    y : (n,) labels, 0/1 or ``"human"``/``"ai"``
    scores : (n,) scores, higher meaning more AI-like
    """
    y = as_targets(y)
    scores = np.asarray(list(scores), dtype=float)
    if scores.shape != y.shape:
        raise ValueError(f"{scores.size} scores for {y.size} labels.")
    groups = [np.flatnonzero(y == c) for c in (0, 1)]
    if any(g.size == 0 for g in groups):
        return None
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, y.size))
    rows = np.arange(n_resamples)[:, None]
    for g in groups:
        np.add.at(weights, (rows, g[rng.integers(0, g.size, (n_resamples, g.size))]), 1.0)
    aucs = weighted_roc_auc(y, scores, weights)
    tail = (1 - confidence) / 2
    low, high = np.quantile(aucs, [tail, 1 - tail])
    return float(low), float(high)


__all__ = ["BOOTSTRAP_RESAMPLES", "CALIBRATION_BINS", "MIN_PER_CLASS", "CalibrationCurve", "Metrics", "as_targets",
           "class_counts", "compute_metrics", "roc_auc_interval", "weighted_roc_auc", "wilson_interval"]
