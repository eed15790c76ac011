"""What the Tune page computes: rescored tracks, slider scales, rule checks in words, and how
well a profile separates labelled tracks.

The Tune page works on the history: the newest stored report of each audio is rescored
from its stored features with :func:`detector.analysis.rescore` (no decoding), once with
the baseline profile and once with the active one (:func:`compare_profiles`). Tracks the
analyst labelled ``human`` or ``ai`` give accuracy over the decided tracks (the verdict
is three-way, so inconclusive ones are counted apart), a Wilson interval for it, and a
ROC AUC with a bootstrap interval (:func:`evaluate`).

Nothing here imports Streamlit: every function is pure and tested on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..features.track import TrackFeatures
from ..layers.heuristics import ALL_RULES, GLOBALS, RULES, ProfileError, Rule, Thresholds
from ..metrics import (BOOTSTRAP_RESAMPLES, MIN_PER_CLASS, as_targets, class_counts, compute_metrics,
                       roc_auc_interval, wilson_interval)
from ..report import DetectionReport
from ..report.tables import feature_label
from .scoring import rescore, score

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd  # imported where used: over 0.3 s, which the dashboard's first page has no use for

FIELD_LABELS = {"ai_threshold": "strong AI beyond", "mild_threshold": "mild AI beyond",
                "human_threshold": "human beyond", "ai_step": "+AI", "mild_step": "+mild", "human_step": "−human"}
"""Each rule number as the Tune page names it."""
GLOBAL_LABELS = {"base": "Starting score", "decision": "Decision line (AI above)",
                 "inconclusive": "Inconclusive band width", "floor": "Lowest score", "ceiling": "Highest score",
                 "stability_width": "Widest stable spread (stability check)"}
"""Each of the profile's global numbers (:data:`~detector.layers.heuristics.GLOBALS`) as the Tune page names it."""


# -- the tracks: before and after --------------------------------------------------------------------------------


def _rescored(item: DetectionReport | TrackFeatures, thresholds: Thresholds) -> DetectionReport:
    """A stored report rescored by the rules alone, or extracted features scored.

    A report's segments and stability check are left out before rescoring: they do not
    move the track's score, and skipping the segments halves the time a slider move takes
    on hundreds of tracks (a stability check's 16 copies would add more).
    """
    if isinstance(item, TrackFeatures):
        return score(item, thresholds)
    return rescore(replace(item, segments=(), stability=None), thresholds, classifier=False)


def compare_profiles(items: Sequence[DetectionReport | TrackFeatures], labels: Sequence[str | None],
                     before: Thresholds, after: Thresholds) -> tuple[pd.DataFrame, list[DetectionReport]]:
    """Every track scored with ``before`` and ``after``: the Tune page's table, and the ``after`` reports.

    Parameters
    ----------
    items : stored reports (rescored with :func:`detector.analysis.rescore`, without the
        classifier: Tune tunes the rules) or extracted features (scored).
    labels : one per item, ``"human"``, ``"ai"`` or None.

    Returns
    -------
    table : one row per track: ``track``, ``label`` ("unlabelled" when None), ``before``,
        ``after``, ``verdict`` (with ``after``) and ``change`` (after - before).
    reports : the ``after`` reports, in the table's order (a stored report's without its
        segments: the Tune page scores tracks).
    """
    import pandas as pd

    old = [_rescored(item, before) for item in items]
    new = [_rescored(item, after) for item in items]
    table = pd.DataFrame({"track": [r.source_name for r in new], "label": [label or "unlabelled" for label in labels],
                          "before": [r.score for r in old], "after": [r.score for r in new],
                          "verdict": [r.verdict for r in new]})
    table["change"] = table["after"] - table["before"]
    return table, new


def feature_values(reports: Iterable[DetectionReport]) -> dict[str, list[float]]:
    """Every finite value of each rule's feature in ``reports``: track-level and per segment."""
    out: dict[str, list[float]] = {name: [] for name in ALL_RULES}
    for report in reports:
        sources = [layer.features for name, layer in report.layers.items() if name in RULES]
        sources += [s.features for s in report.segments]
        for features in sources:
            for name, value in features.items():
                if name in out and isinstance(value, (int, float)) and math.isfinite(value):
                    out[name].append(float(value))
    return out


# -- slider scales -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Domain:
    low: float | None  # the feature's natural bounds (None: unbounded)
    high: float | None
    typical: tuple[float, float]  # always on the slider, whatever the data
    log: bool  # spans decades: a logarithmic slider


DOMAINS = {
    "mfcc_variance": _Domain(0.0, None, (10.0, 10_000.0), True),
    "mfcc_kurtosis": _Domain(None, None, (-2.0, 10.0), False),
    "contrast_std": _Domain(0.0, None, (0.0, 20.0), False),
    "flatness_mean": _Domain(0.0, 1.0, (1e-4, 1.0), True),
    "kurtosis": _Domain(None, None, (-2.0, 10.0), False),
    "sparsity": _Domain(0.0, 1.0, (0.0, 0.5), False),
    "entropy": _Domain(0.0, 1.0, (0.5, 1.0), False),
    "std": _Domain(0.0, None, (0.0, 0.5), False),
    "comb_evidence": _Domain(0.0, None, (0.0, 10.0), False),
    "comb_consistency": _Domain(0.0, 1.0, (0.0, 1.0), False),
}
"""Each rule's feature: natural bounds, a typical range, and whether it spans decades (MFCC
variance runs from tens to tens of thousands, spectral flatness from 0.0001 to 0.5)."""

# Two significant digits in every decade, about 5-10 % apart: round numbers (0.0003, 50, 17,000) are stops.
_MANTISSAS = tuple(np.round(np.concatenate([np.arange(1.0, 2.0, 0.1), np.arange(2.0, 5.0, 0.2),
                                            np.arange(5.0, 10.0, 0.5)]), 1))
_LINEAR_STOPS = 200


@dataclass(frozen=True)
class Scale:
    """A threshold slider: its stops run from ``low`` to ``high``.

    ``log=False``: evenly ``step`` apart. ``log=True``: every decade holds the same stops
    (1, 1.1 … 1.9, 2, 2.2 … 4.8, 5, 5.5 … 9.5 times its power of ten), so a feature that
    spans decades gets the same room in each, and ``step`` is the smallest gap (the exact
    input's +/- step).
    """

    low: float
    high: float
    step: float
    log: bool = False

    def stops(self) -> tuple[float, ...]:
        """The slider's values, low to high, rounded so that each prints as a short number."""
        if self.log:
            decades = range(math.floor(math.log10(self.low)), math.ceil(math.log10(self.high)) + 1)
            values = [float(f"{m * 10.0 ** d:.2g}") for d in decades for m in _MANTISSAS]
            return tuple(v for v in values if self.low * (1 - 1e-9) <= v <= self.high * (1 + 1e-9))
        n = round((self.high - self.low) / self.step)
        digits = max(0, 2 - math.floor(math.log10(self.step)))
        return tuple(dict.fromkeys(round(self.low + i * self.step, digits) for i in range(n + 1)))

    def snap(self, value: float) -> float:
        """The stop nearest ``value`` (by ratio on a log scale); an end stop outside the range."""
        stops = np.asarray(self.stops())
        if self.log:
            distance = np.abs(np.log(stops) - math.log(value)) if value > 0 else stops
        else:
            distance = np.abs(stops - value)
        return float(stops[int(np.argmin(distance))])


def _nice(x: float) -> float:
    """The 1, 2, 2.5 or 5 times a power of ten nearest above ``x``."""
    power = 10.0 ** math.floor(math.log10(x))
    return next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= x * (1 - 1e-9))


def slider_scale(feature: str, thresholds: Thresholds, values: Iterable[float] = ()) -> Scale:
    """The slider for ``feature``'s thresholds: it holds the profile's thresholds, every value in
    ``values`` (the loaded tracks' and segments' features) and the feature's typical range.

    A feature that spans decades (MFCC variance, spectral flatness) gets a logarithmic
    scale from the decade below its smallest point to the decade above its largest,
    unless a threshold is zero or negative; the others get about 200 even steps of a
    round size. Values outside the feature's natural bounds are left out.
    """
    domain = DOMAINS[feature]
    rule = thresholds.rule(feature)
    marks = [v for v in (rule.ai_threshold, rule.mild_threshold, rule.human_threshold) if v is not None]
    data = [v for v in values if math.isfinite(v) and (domain.low is None or v >= domain.low)
            and (domain.high is None or v <= domain.high)]
    if domain.log and min(marks) > 0:
        points = [*marks, *domain.typical, *(v for v in data if v > 0)]
        low = 10.0 ** math.floor(math.log10(min(points)) + 1e-9)
        high = 10.0 ** math.ceil(math.log10(max(points)) - 1e-9)
        if domain.high is not None:
            high = min(high, domain.high)
        return Scale(low, high, low * 0.1, True)
    points = [*marks, *domain.typical, *data]
    lo, hi = min(points), max(points)
    pad = (hi - lo) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    if domain.low is not None and min(marks) >= domain.low:
        lo = max(lo, domain.low)
    if domain.high is not None and max(marks) <= domain.high:
        hi = min(hi, domain.high)
    step = _nice((hi - lo) / _LINEAR_STOPS)
    digits = max(0, 2 - math.floor(math.log10(step)))
    return Scale(round(math.floor(lo / step) * step, digits), round(math.ceil(hi / step) * step, digits), step, False)


GLOBAL_SCALE = Scale(0.0, 1.0, 0.01)
"""The global numbers' slider: scores run from 0 to 1."""


def format_number(value: float) -> str:
    """``value`` for people: up to six significant digits, no float noise (0.0003, 17,000, 0.05)."""
    return f"{value:,.6g}"


# -- rules and globals checked in words ------------------------------------------------------------------------


def rule_problem(feature: str, rule: Rule) -> str | None:
    """Why ``rule`` is not valid for ``feature``, in the Tune page's words, or None when it is.

    The thresholds must run from the human side to the AI side: for a feature where AI
    lies *below*, strong AI beyond <= mild AI beyond <= human beyond.
    """
    name = feature_label(feature)
    side = "higher" if rule.ai_when == "above" else "lower"
    chain = [f for f in ("human_threshold", "mild_threshold", "ai_threshold") if getattr(rule, f) is not None]
    if rule.ai_when == "below":
        chain.reverse()
    finite = all(isinstance(getattr(rule, f), (int, float)) and math.isfinite(getattr(rule, f)) for f in chain)
    if finite:
        for lo, hi in zip(chain, chain[1:]):
            a, b = getattr(rule, lo), getattr(rule, hi)
            if a > b:
                order = " ≤ ".join(f"'{FIELD_LABELS[f]}'" for f in chain)
                return (f"'{FIELD_LABELS[lo]}' ({format_number(a)}) must not be above '{FIELD_LABELS[hi]}' "
                        f"({format_number(b)}) for {name}: AI is *{rule.ai_when}* these lines ({side} values look "
                        f"machine-made), so they must keep the order {order}.")
    try:
        rule.validate(feature)
    except ProfileError as exc:
        text = str(exc)
        for field, words in FIELD_LABELS.items():
            text = text.replace(f"{feature}.{field}", f"'{words}'").replace(field, f"'{words}'")
        return f"{name}: {text.removeprefix(f'{feature}: ')}"
    return None


def globals_problem(values: Mapping[str, float]) -> str | None:
    """Why the global numbers (``{"base": …, "floor": …}``, every key of ``GLOBALS``) are not valid,
    in the Tune page's words, or None when they are."""
    floor, ceiling = values["floor"], values["ceiling"]
    if not floor < ceiling:
        return (f"'{GLOBAL_LABELS['floor']}' ({format_number(floor)}) must be below "
                f"'{GLOBAL_LABELS['ceiling']}' ({format_number(ceiling)}): a score is clipped between the two.")
    for key in GLOBALS:
        value = values[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
            return f"'{GLOBAL_LABELS[key]}' ({value}) must lie between 0 and 1."
    if values["inconclusive"] >= 1:
        return (f"'{GLOBAL_LABELS['inconclusive']}' ({format_number(values['inconclusive'])}) must be below 1, "
                "or no score could be called.")
    return None


def settle(pending: Thresholds | Mapping, last_valid: Thresholds) -> tuple[Thresholds, dict[str, str]]:
    """The profile to score with, and what is wrong with the rest.

    ``pending`` holds the controls' numbers (a :class:`Thresholds`, not validated, or
    its ``to_dict()``). Each invalid rule, and the globals when invalid, keep their
    ``last_valid`` settings; the problems come back in words by rule name (``"globals"``
    for the global numbers).
    """
    data = pending.to_dict() if isinstance(pending, Thresholds) else dict(pending)
    problems: dict[str, str] = {}
    changes: dict[str, object] = {}
    if (problem := globals_problem(data)) is None:
        changes.update({key: float(data[key]) for key in GLOBALS})
    else:
        problems["globals"] = problem
    for name in ALL_RULES:
        rule = data[name] if isinstance(data[name], Rule) else Rule(**data[name])
        if (problem := rule_problem(name, rule)) is None:
            changes[name] = rule
        else:
            problems[name] = problem
    return replace(last_valid, **changes).validate(), problems


# -- how well the profile separates labelled tracks ------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """How the three-way calls of a profile match the analyst's labels.

    ``accuracy`` counts only the decided tracks (called "ai" or "human"); the
    inconclusive ones are in ``inconclusive`` by true class. ``confusion_matrix[i][j]``
    counts decided tracks of true class ``LABELS[i]`` called ``LABELS[j]``. The ROC
    curve and its AUC use every labelled score (they do not depend on the band);
    they are None with one class only. Intervals are at ``confidence``: Wilson for the
    accuracy, a stratified bootstrap for the AUC.
    """

    class_counts: dict[str, int]
    inconclusive: dict[str, int]
    decided: int
    correct: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    confusion_matrix: list[list[int]]
    roc_auc: float | None
    roc_auc_ci: tuple[float, float] | None
    roc_fpr: list[float] | None
    roc_tpr: list[float] | None
    confidence: float = 0.95
    min_per_class: int = MIN_PER_CLASS

    @property
    def small_sample(self) -> bool:
        """Fewer than ``min_per_class`` labelled tracks in a class: read the intervals, not the numbers."""
        return min(self.class_counts.values()) < self.min_per_class


def evaluate(scores: Sequence[float], labels: Sequence[str], thresholds: Thresholds, *, confidence: float = 0.95,
             n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Evaluation:
    """Score the three-way calls ``thresholds`` makes of ``scores`` against ``labels`` (``"human"``/``"ai"``).

    Raises
    ------
    ValueError
        When there are no labelled scores, or a label is neither ``"human"`` nor ``"ai"``.
    """
    y = as_targets(labels)
    scores = np.asarray(list(scores), dtype=float)
    if y.size == 0:
        raise ValueError("No labelled tracks to evaluate.")
    if scores.shape != y.shape:
        raise ValueError(f"{scores.size} scores for {y.size} labels.")
    calls = [thresholds.call(float(s)) for s in scores]
    decided = np.array([c != "inconclusive" for c in calls])
    predicted = np.array([c == "ai" for c in calls], dtype=int)
    matrix = [[int(np.sum(decided & (y == t) & (predicted == p))) for p in (0, 1)] for t in (0, 1)]
    correct = matrix[0][0] + matrix[1][1]
    n_decided = int(decided.sum())
    curve = compute_metrics(y, scores, threshold=thresholds.decision)
    return Evaluation(
        class_counts=class_counts("human" if t == 0 else "ai" for t in y),
        inconclusive=class_counts("human" if t == 0 else "ai" for t in y[~decided]),
        decided=n_decided,
        correct=correct,
        accuracy=correct / n_decided if n_decided else None,
        accuracy_ci=wilson_interval(correct, n_decided, confidence=confidence) if n_decided else None,
        confusion_matrix=matrix,
        roc_auc=curve.roc_auc,
        roc_auc_ci=roc_auc_interval(y, scores, confidence=confidence, n_resamples=n_resamples, seed=seed),
        roc_fpr=curve.roc_fpr,
        roc_tpr=curve.roc_tpr,
        confidence=confidence,
    )


__all__ = ["DOMAINS", "FIELD_LABELS", "GLOBAL_LABELS", "GLOBAL_SCALE", "Evaluation", "Scale", "compare_profiles",
           "evaluate", "feature_values", "format_number", "globals_problem", "rule_problem", "settle", "slider_scale"]
