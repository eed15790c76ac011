"""Reports as tables: what the pages show and what the CSV downloads hold, defined once.

Every table is a :class:`pandas.DataFrame` built from reports alone, so the dashboard,
the CLI and tests share one schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .schema import DetectionReport

FEATURE_LABELS = {
    "mfcc_variance": "MFCC variance", "mfcc_kurtosis": "MFCC kurtosis", "contrast_std": "Spectral contrast std",
    "flatness_mean": "Spectral flatness", "kurtosis": "Embedding kurtosis", "sparsity": "Embedding sparsity",
    "entropy": "Embedding entropy", "std": "Embedding std",
    "comb_evidence": "Comb evidence (-log10 chance)", "comb_consistency": "Comb consistency (share of segments)",
}


def feature_label(feature: str) -> str:
    """A feature's name for people ("MFCC variance" for ``mfcc_variance``)."""
    return FEATURE_LABELS.get(feature, feature.replace("_", " "))


def contributions_table(report: DetectionReport) -> pd.DataFrame:
    """One row per heuristic rule that voted: layer, feature, value, band, threshold crossed, step."""
    return pd.DataFrame([{"layer": c.layer, "feature": feature_label(c.feature), "value": c.value, "band": c.band,
                          "threshold crossed": c.threshold, "step": c.delta}
                         for layer in report.layers.values() for c in layer.contributions],
                        columns=["layer", "feature", "value", "band", "threshold crossed", "step"])


def segments_table(report: DetectionReport) -> pd.DataFrame:
    """One row per segment: index, start and end (s), score, each layer's score, then the features.

    This is the schema of the dashboard's "segments (CSV)" download.
    """
    return pd.DataFrame([{"index": s.index, "start_s": s.start, "end_s": s.end, "score": s.score,
                          **{f"{k}_score": v for k, v in s.layer_scores.items()}, **s.features}
                         for s in report.segments])


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


__all__ = ["FEATURE_LABELS", "compare_table", "contributions_table", "feature_label", "feature_table", "segments_table"]
