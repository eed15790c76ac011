"""How well scores separate labelled tracks: one definition for the classifier and the Tune page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve

from .types import LABELS

CALIBRATION_BINS = 10


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


__all__ = ["CALIBRATION_BINS", "CalibrationCurve", "Metrics", "as_targets", "class_counts", "compute_metrics"]
