"""The cheap half of an analysis: score extracted features with a profile, into a report.

Which layer decides the verdict (every layer that ran stays in the report):

1. **A decoder fingerprint** (the artifact layer fires: its score is above the
   decision line). It is physical evidence with a stated false-alarm bound, so it
   outranks everything else, a trained classifier included.
2. **A trained classifier**, when one is given, decides with its P(AI) otherwise.
3. **The artifact layer without a fingerprint** ("no decoder fingerprint found",
   human-leaning, not proof) decides when there is no classifier. The original
   detector's spectral and CLAP rules are uncalibrated (on real human recordings
   they score 0.39-0.51), so they are shown as evidence but do not decide while the
   artifact layer ran.
4. Only when the artifact layer could not run (a very low sample rate) do the
   heuristic rules decide: CLAP's when that layer ran, else the spectral ones.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import Protocol

import soundfile as sf

from .._version import __version__
from ..features.embedding import ClapFeatures
from ..features.track import TrackFeatures
from ..features.vectors import FeatureSetUnavailable
from ..layers import artifacts as artifacts_layer
from ..layers import clap as clap_layer
from ..layers.heuristics import EMBEDDING_RULES, SPECTRAL_RULES, Thresholds, layer_result, score_features
from ..report import DetectionReport, Segment
from ..types import LayerResult, SkippedLayer

NO_CLASSIFIER = SkippedLayer(
    "classifier",
    "No trained classifier was given, so the verdict rests on the artifact layer (or, where it cannot run, the "
    "heuristic rules).",
    "Train one on labelled tracks with `python -m detector train DATA --out model.skops` (DATA: a folder "
    "with human/ and ai/ subfolders, or a path,label CSV), then use it with `analyze --model model.skops` "
    "or train and activate one on the dashboard's Models page.",
)


class Classifier(Protocol):
    """What scoring needs of a trained model (:class:`detector.layers.classifier.TrainedModel`)."""

    sha256: str

    def layer(self, track: TrackFeatures) -> LayerResult: ...

    def identity(self) -> dict[str, str]: ...


def versions(clap: ClapFeatures | None = None) -> dict[str, str]:
    """Versions of the detector and of every library that shapes its numbers.

    When the CLAP layer ran, also torch, laion-clap and the checkpoint (name and SHA-256).
    """
    out = {"detector": __version__, "libsndfile": sf.__libsndfile_version__}
    for pkg in ("numpy", "scipy", "librosa", "soundfile", "soxr"):
        out[pkg] = metadata.version(pkg)
    if clap is not None:
        out.update(clap_layer.library_versions())
        out["clap_checkpoint"] = clap.checkpoint
        out["clap_checkpoint_sha256"] = clap.checkpoint_sha256
        out["clap_architecture"] = clap.architecture
    return out


def verdict(score: float, thresholds: Thresholds) -> tuple[str, bool]:
    """The verdict's words and whether it says AI: AI above ``thresholds.decision``."""
    is_ai = score > thresholds.decision
    return ("Likely AI-generated" if is_ai else "Likely human-made"), is_ai


def _classifier_layer(track: TrackFeatures, model: Classifier | None) -> LayerResult | SkippedLayer:
    """The classifier's layer for ``track``, or why it did not run."""
    if model is None:
        return NO_CLASSIFIER
    try:
        return model.layer(track)
    except FeatureSetUnavailable as exc:
        return SkippedLayer("classifier", f"The classifier did not run: {exc}.",
                            "Use a model trained on features this track has (for example the spectral "
                            "feature set: `python -m detector train DATA --feature-set spectral`).")


def best_window(start: float, end: float, bounds: tuple[tuple[float, float], ...]) -> int:
    """Index of the window in ``bounds`` that overlaps ``[start, end]`` most (first on ties)."""
    overlaps = [min(end, b) - max(start, a) for a, b in bounds]
    return max(range(len(bounds)), key=lambda i: (overlaps[i], -i))


def decider(layers: dict[str, LayerResult], thresholds: Thresholds, heuristic: str) -> str:
    """The name of the layer that decides the verdict (see the module's docstring)."""
    artifacts = layers.get("artifacts")
    if artifacts is not None and artifacts_layer.fires(artifacts, thresholds):
        return "artifacts"
    if "classifier" in layers:
        return "classifier"
    return "artifacts" if artifacts is not None else heuristic


def score(
    track: TrackFeatures, thresholds: Thresholds | None = None, model: Classifier | None = None
) -> DetectionReport:
    """Score extracted features with ``thresholds`` (defaults: the original detector's).

    The deciding layer follows the module's order of precedence (:func:`decider`); a
    trained ``model`` (:func:`detector.layers.classifier.load_model`) adds its P(AI).
    Every layer that ran stays in ``layers``; each segment's ``layer_scores`` holds the
    per-segment scores of the spectral, CLAP and artifact layers.
    """
    thresholds = (thresholds or Thresholds()).validate()
    t0 = time.perf_counter()
    layers = {"spectral": layer_result("spectral", track.spectral, thresholds)}
    heuristic = "spectral"
    clap = track.clap
    window_scores: list[float] = []
    if clap is not None:
        layers["clap"] = layer_result("clap", clap.stats, thresholds)
        heuristic = "clap"
        window_scores = [score_features(ws, EMBEDDING_RULES, thresholds, "clap").score for ws in clap.window_stats]
    finding = None
    if track.comb is not None and track.fakeprint is not None:
        layers["artifacts"] = artifacts_layer.layer(track.comb, thresholds)
        finding = artifacts_layer.finding(track.fakeprint, track.comb, layers["artifacts"], thresholds)
    classifier = _classifier_layer(track, model)
    if isinstance(classifier, LayerResult):
        layers["classifier"] = classifier
    decided_by = decider(layers, thresholds, heuristic)
    segments = []
    for i, (start, end, feats) in enumerate(track.segments):
        features = dict(feats)
        layer_scores = {"spectral": score_features(feats, SPECTRAL_RULES, thresholds, "spectral").score}
        if clap is not None:
            w = best_window(start, end, clap.window_bounds)
            layer_scores["clap"] = window_scores[w]
            features.update({k: clap.window_stats[w][k] for k in EMBEDDING_RULES})
        if track.comb is not None:
            seg = artifacts_layer.segment_score(track.comb, i, thresholds)
            if seg is not None:
                layer_scores["artifacts"] = seg
                features["comb_hits_share"] = float(track.comb.segment_hits[i])
        segments.append(Segment(i, start, end, layer_scores.get(decided_by, layer_scores[heuristic]), features,
                                layer_scores))
    final = layers[decided_by]
    label, is_ai = verdict(final.score, thresholds)
    timings = dict(track.timings, scoring_s=time.perf_counter() - t0)
    skipped = () if clap is not None else (track.clap_skipped or clap_layer.skipped_layer(),)
    if track.artifacts_skipped is not None:
        skipped += (track.artifacts_skipped,)
    return DetectionReport(
        source_name=track.source_name,
        sha256=track.sha256,
        duration=track.duration,
        sample_rate=track.frames.sample_rate,
        format=track.format,
        score=final.score,
        verdict=label,
        is_ai=is_ai,
        decided_by=decided_by,
        layers=layers,
        skipped=skipped + ((classifier,) if isinstance(classifier, SkippedLayer) else ()),
        segments=tuple(segments),
        segment_seconds=track.segment_seconds,
        artifacts=finding,
        warnings=track.warnings,
        thresholds=thresholds.to_dict(),
        timings=timings,
        versions={**versions(clap), **(model.identity() if model is not None else {})},
    )


__all__ = ["NO_CLASSIFIER", "Classifier", "best_window", "decider", "score", "verdict", "versions"]
