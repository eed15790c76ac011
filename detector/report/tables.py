"""Reports as tables: what the pages show and what the CSV downloads hold, defined once.

Every table is a :class:`pandas.DataFrame` built from reports alone, so the dashboard,
the CLI and tests share one schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..layers.heuristics import ProfileError, Thresholds
from .schema import DetectionReport
from .stability import CALL_WORDS, Stability

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported where used: over 0.3 s, which the dashboard's first page has no use for

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
    import pandas as pd

    return pd.DataFrame([{"layer": c.layer, "feature": feature_label(c.feature), "value": c.value, "band": c.band,
                          "threshold crossed": c.threshold, "step": c.delta}
                         for layer in report.layers.values() for c in layer.contributions],
                        columns=["layer", "feature", "value", "band", "threshold crossed", "step"])


def segments_table(report: DetectionReport) -> pd.DataFrame:
    """One row per segment: index, start and end (s), score, each layer's score, then the features.

    This is the schema of the dashboard's "segments (CSV)" download.
    """
    import pandas as pd

    return pd.DataFrame([{"index": s.index, "start_s": s.start, "end_s": s.end, "score": s.score,
                          **{f"{k}_score": v for k, v in s.layer_scores.items()}, **s.features}
                         for s in report.segments])


def feature_table(reports: Sequence[DetectionReport], labels: Sequence[str | None]) -> pd.DataFrame:
    """One row per track: name, label, score and every feature of every layer that ran."""
    import pandas as pd

    rows = []
    for report, label in zip(reports, labels):
        row = {"track": report.source_name, "label": label or "unlabelled", "score": report.score}
        for layer in report.layers.values():
            row.update(layer.features)
        rows.append(row)
    return pd.DataFrame(rows)


def stability_table(stability: Stability) -> pd.DataFrame:
    """One row per perturbation, the original first: what was changed, the deciding score and call, whether
    the call changed, each layer's score, and why a perturbation did not run."""
    import pandas as pd

    layers = list(stability.layers)
    rows = [{"perturbation": "as analysed", "score": stability.score, "call": CALL_WORDS.get(stability.call),
             "call changed": False, **{f"{n} layer": stability.layers[n] for n in layers}, "note": ""}]
    for p in stability.perturbations:
        rows.append({"perturbation": p.description, "score": p.score,
                     "call": CALL_WORDS.get(p.call, "") if p.ran else "",
                     "call changed": p.ran and p.call != stability.call,
                     **{f"{n} layer": p.layers.get(n) for n in layers},
                     "note": f"did not run: {p.skipped}" if not p.ran else ""})
    return pd.DataFrame(rows, columns=["perturbation", "score", "call", "call changed", *(f"{n} layer" for n in layers),
                                       "note"])


DIFFERENCE = "difference (2 − 1)"
"""The column :func:`compare_table` adds for two reports."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> str:
    return f"{value + 0.0:.4g}" if isinstance(value, float) else str(value)  # + 0.0: no "-0"


def _difference(first, second) -> str:
    if not (_number(first) and _number(second)):
        return ""
    return "0" if second == first else f"{second - first:+.4g}"


def _settings(report: DetectionReport) -> dict[str, object]:
    """The decision line and inconclusive band ``report`` was scored with (defaults where it predates one)."""
    try:
        used = Thresholds.from_dict(report.thresholds)
    except ProfileError:
        decision = report.thresholds.get("decision") if isinstance(report.thresholds, dict) else None
        return {"decision line": decision if _number(decision) else "—", "inconclusive band": "—"}
    low, high = used.band
    return {"decision line": used.decision,
            "inconclusive band": f"{low:.2f} – {high:.2f}" if high > low else "none (two-way)"}


def compare_table(reports: Sequence[DetectionReport], profiles: Sequence[str] | None = None) -> pd.DataFrame:
    """Reports side by side: one column per report, one row per result, setting, layer score and feature.

    Parameters
    ----------
    reports : sequence of DetectionReport
        Column ``"<i>. <source name>"`` each, numbered from 1.
    profiles : sequence of str, optional
        The name of the profile each report was made with (a ``profile`` row).

    Returns
    -------
    pandas.DataFrame
        Rows: score, call, verdict, profile, decision line, inconclusive band, decided by,
        duration and format, then each layer's score and its features by their
        :func:`feature_label` (``"Spectral contrast std (spectral layer)"``). Values are
        text (numbers to 4 significant digits) so each column has one type; ``"—"`` where a
        report lacks the row. With two reports, a :data:`DIFFERENCE` column holds second
        minus first for numeric rows (empty for text rows).
    """
    import pandas as pd

    columns, raw = {}, []
    for i, report in enumerate(reports, start=1):
        values = {"score": report.score, "call": report.call, "verdict": report.verdict}
        if profiles is not None:
            values["profile"] = profiles[i - 1]
        values.update(_settings(report))
        values.update({"decided by": report.decided_by, "duration (s)": round(report.duration, 2),
                       "format": report.format})
        for name, layer in report.layers.items():
            values[f"{name} layer score"] = layer.score
            values.update({f"{feature_label(k)} ({name} layer)": v for k, v in layer.features.items()})
        raw.append(values)
        columns[f"{i}. {report.source_name}"] = {k: _text(v) for k, v in values.items()}
    table = pd.DataFrame(columns).fillna("—")
    if len(raw) == 2:
        first, second = raw
        table[DIFFERENCE] = [_difference(first.get(k), second.get(k)) for k in table.index]
    return table


__all__ = ["DIFFERENCE", "FEATURE_LABELS", "compare_table", "contributions_table", "feature_label", "feature_table",
           "segments_table", "stability_table"]
