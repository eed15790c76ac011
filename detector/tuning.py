"""How well a threshold profile separates labelled tracks.

Used by the Tune page: every loaded track is rescored from its cached features (no
decoding), and tracks the user labelled ``human`` or ``ai`` give accuracy, a
confusion matrix and a ROC curve at the current settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve

from .heuristics import Thresholds
from .report import DetectionReport
from .service import TrackFeatures, score

LABELS = ("human", "ai")


@dataclass(frozen=True)
class Evaluation:
    """Heuristic performance on labelled tracks at one decision threshold.

    ``confusion`` rows are the true class and columns the predicted class, both in
    :data:`LABELS` order. ``auc``/``fpr``/``tpr`` are ``None`` until both classes are present.
    """

    n_human: int
    n_ai: int
    accuracy: float
    confusion: np.ndarray
    auc: float | None
    fpr: np.ndarray | None
    tpr: np.ndarray | None


def rescore(tracks: Iterable[TrackFeatures], thresholds: Thresholds) -> list[DetectionReport]:
    """Score every track with ``thresholds`` from its cached features."""
    return [score(track, thresholds) for track in tracks]


def evaluate(scores: Sequence[float], labels: Sequence[str], decision: float) -> Evaluation:
    """Accuracy, confusion matrix and ROC of ``scores`` against ``labels`` (``"human"``/``"ai"``).

    Raises
    ------
    ValueError
        When there are no labelled scores, or a label is neither ``"human"`` nor ``"ai"``.
    """
    labels = list(labels)
    bad = sorted({label for label in labels if label not in LABELS})
    if bad:
        raise ValueError(f"Labels must be 'human' or 'ai', not {', '.join(map(repr, bad))}.")
    if not labels:
        raise ValueError("No labelled tracks to evaluate.")
    truth = np.array([label == "ai" for label in labels])
    s = np.asarray(scores, dtype=float)
    predicted = s > decision
    both = truth.any() and not truth.all()
    fpr, tpr, _ = roc_curve(truth, s) if both else (None, None, None)
    return Evaluation(
        n_human=int((~truth).sum()),
        n_ai=int(truth.sum()),
        accuracy=float(accuracy_score(truth, predicted)),
        confusion=confusion_matrix(truth, predicted, labels=[False, True]),
        auc=float(roc_auc_score(truth, s)) if both else None,
        fpr=fpr,
        tpr=tpr,
    )


def feature_table(reports: Sequence[DetectionReport], labels: Sequence[str | None]) -> pd.DataFrame:
    """One row per track: name, label, score and every feature of every layer that ran."""
    rows = []
    for report, label in zip(reports, labels):
        row = {"track": report.source_name, "label": label or "unlabelled", "score": report.score}
        for layer in report.layers.values():
            row.update(layer.features)
        rows.append(row)
    return pd.DataFrame(rows)




def compare_table(reports: Sequence[DetectionReport]) -> pd.DataFrame:
    """Reports side by side: one column per report, one row per score, layer score and feature.

    Values are formatted as text (numbers to 4 significant digits) so each column has one type.
    """
    columns = {}
    for i, report in enumerate(reports, start=1):
        values = {"score": report.score, "verdict": report.verdict, "decided by": report.decided_by,
                  "duration (s)": round(report.duration, 2), "format": report.format}
        for name, layer in report.layers.items():
            values[f"{name} layer score"] = layer.score
            values.update({f"{name}: {k}": v for k, v in layer.features.items()})
        columns[f"{i}. {report.source_name}"] = {k: f"{v:.4g}" if isinstance(v, float) else str(v)
                                                 for k, v in values.items()}
    return pd.DataFrame(columns).fillna("—")


# Slider ranges (low, high, step) for each feature's thresholds; wide enough for real music
# (e.g. MFCC variance of human tracks runs from about 1,650 to 7,500).
SLIDER_RANGES = {
    "mfcc_variance": (0.0, 10000.0, 10.0), "mfcc_kurtosis": (-3.0, 30.0, 0.1), "contrast_std": (0.0, 40.0, 0.1),
    "flatness_mean": (0.0, 1.0, 0.005), "kurtosis": (-3.0, 30.0, 0.1), "sparsity": (0.0, 1.0, 0.005),
    "entropy": (0.0, 1.0, 0.005), "std": (0.0, 1.0, 0.005),
}


def slider_range(feature: str, thresholds: Thresholds) -> tuple[float, float, float]:
    """The ``(low, high, step)`` of a threshold slider, widened to hold the profile's own values."""
    lo, hi, step = SLIDER_RANGES[feature]
    rule = thresholds.rule(feature)
    values = [v for v in (rule.ai_threshold, rule.human_threshold, rule.mild_threshold) if v is not None]
    while max(values) > hi:  # every default range has hi > 0
        hi *= 2
    while min(values) < lo:
        lo = lo * 2 if lo < 0 else -1.0
    return lo, hi, step


__all__ = ["Evaluation", "LABELS", "SLIDER_RANGES", "compare_table", "evaluate", "feature_table", "rescore", "slider_range"]
