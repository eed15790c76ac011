"""How well a threshold profile separates labelled tracks.

Used by the Tune page: every loaded track is rescored from its cached features (no
decoding), and tracks the user labelled ``human`` or ``ai`` give accuracy, a
confusion matrix and a ROC curve at the current settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from ..features.track import TrackFeatures
from ..layers.heuristics import Thresholds
from ..metrics import Metrics, as_targets, compute_metrics
from ..report import DetectionReport
from .scoring import score


def rescore(tracks: Iterable[TrackFeatures], thresholds: Thresholds) -> list[DetectionReport]:
    """Score every track with ``thresholds`` from its cached features."""
    return [score(track, thresholds) for track in tracks]


def evaluate(scores: Sequence[float], labels: Sequence[str], decision: float) -> Metrics:
    """Accuracy, confusion matrix and ROC of heuristic ``scores`` against ``labels`` (``"human"``/``"ai"``).

    Raises
    ------
    ValueError
        When there are no labelled scores, or a label is neither ``"human"`` nor ``"ai"``.
    """
    return compute_metrics(as_targets(labels), scores, threshold=decision)


def compare_profiles(tracks: Sequence[TrackFeatures], labels: Sequence[str | None], before: Thresholds,
                     after: Thresholds) -> tuple[pd.DataFrame, list[DetectionReport]]:
    """Every track scored with ``before`` and ``after``: the Tune page's table, and the ``after`` reports.

    The table has one row per track: ``track``, ``label`` ("unlabelled" when None),
    ``before``, ``after``, ``verdict`` (with ``after``) and ``change`` (after - before).
    """
    old, new = rescore(tracks, before), rescore(tracks, after)
    table = pd.DataFrame({"track": [t.source_name for t in tracks], "label": [label or "unlabelled" for label in labels],
                          "before": [r.score for r in old], "after": [r.score for r in new],
                          "verdict": [r.verdict for r in new]})
    table["change"] = table["after"] - table["before"]
    return table, new


# Slider ranges (low, high, step) for each feature's thresholds; wide enough for real music
# (e.g. MFCC variance of human tracks runs from about 1,650 to 7,500).
SLIDER_RANGES = {
    "mfcc_variance": (0.0, 10000.0, 10.0), "mfcc_kurtosis": (-3.0, 30.0, 0.1), "contrast_std": (0.0, 40.0, 0.1),
    "flatness_mean": (0.0, 1.0, 0.005), "kurtosis": (-3.0, 30.0, 0.1), "sparsity": (0.0, 1.0, 0.005),
    "entropy": (0.0, 1.0, 0.005), "std": (0.0, 1.0, 0.005),
    "comb_evidence": (0.0, 30.0, 0.1), "comb_consistency": (0.0, 1.0, 0.05),
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


__all__ = ["SLIDER_RANGES", "compare_profiles", "evaluate", "rescore", "slider_range"]
