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
from collections.abc import Mapping
from dataclasses import replace
from importlib import metadata
from typing import Protocol

import soundfile as sf

from .._version import __version__
from ..features.embedding import ClapFeatures
from ..features.track import TrackFeatures
from ..features.vectors import FeatureSetUnavailable
from ..layers import artifacts as artifacts_layer
from ..layers import clap as clap_layer
from ..layers.heuristics import (EMBEDDING_RULES, RULES, SPECTRAL_RULES, VERDICTS, Call, Thresholds, layer_result,
                                score_features)
from ..report import DetectionReport, Segment
from ..report.stability import PerturbedResult, summarise
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

    When the CLAP layer ran, also torch, laion-clap, the checkpoint (name and SHA-256) and the
    precision its linear layers ran in (``clap_precision``: fp32, int8 or bf16; reports from
    before it was recorded ran fp32, see :func:`detector.layers.clap.recorded_precision`).
    """
    out = {"detector": __version__, "libsndfile": sf.__libsndfile_version__}
    for pkg in ("numpy", "scipy", "librosa", "soundfile", "soxr"):
        out[pkg] = metadata.version(pkg)
    if clap is not None:
        out.update(clap_layer.library_versions())
        out["clap_checkpoint"] = clap.checkpoint
        out["clap_checkpoint_sha256"] = clap.checkpoint_sha256
        out["clap_architecture"] = clap.architecture
        out["clap_precision"] = clap.precision
    return out


def verdict(score: float, thresholds: Thresholds) -> tuple[str, Call]:
    """The verdict's words and its three-way call (``"ai"``, ``"human"``, ``"inconclusive"``)."""
    call = thresholds.call(score)
    return VERDICTS[call], call


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


def _segment_scores(features: Mapping[str, float], comb: Mapping[str, float] | None,
                    thresholds: Thresholds) -> dict[str, float]:
    """Every heuristic layer's score of one segment, from the segment's own features.

    A segment's features hold its spectral numbers, the statistics of the CLAP window that
    overlaps it most and the share of its frames that carry the track's comb.
    """
    scores = {"spectral": score_features(features, SPECTRAL_RULES, thresholds, "spectral").score}
    if all(k in features for k in EMBEDDING_RULES):
        scores["clap"] = score_features(features, EMBEDDING_RULES, thresholds, "clap").score
    if comb is not None and "comb_hits_share" in features:
        scores["artifacts"] = artifacts_layer.segment_score(comb, features["comb_hits_share"], thresholds)
    return scores


def _decide(layers: dict[str, LayerResult], segments: list[tuple[float, float, dict[str, float]]],
            thresholds: Thresholds) -> tuple[str, tuple[Segment, ...], float, str, Call]:
    """The deciding layer, the scored segments, and the final score, verdict and call."""
    heuristic = "clap" if "clap" in layers else "spectral"
    decided_by = decider(layers, thresholds, heuristic)
    comb = layers["artifacts"].features if "artifacts" in layers else None
    scored = []
    for i, (start, end, features) in enumerate(segments):
        layer_scores = _segment_scores(features, comb, thresholds)
        scored.append(Segment(i, start, end, layer_scores.get(decided_by, layer_scores[heuristic]), features,
                              layer_scores))
    final = layers[decided_by].score
    label, call = verdict(final, thresholds)
    return decided_by, tuple(scored), final, label, call


def score(
    track: TrackFeatures, thresholds: Thresholds | None = None, model: Classifier | None = None
) -> DetectionReport:
    """Score extracted features with ``thresholds`` (defaults: the original detector's).

    The deciding layer follows the module's order of precedence (:func:`decider`); a
    trained ``model`` (:func:`detector.layers.classifier.load_model`) adds its P(AI).
    Every layer that ran stays in ``layers``; each segment's ``layer_scores`` holds the
    per-segment scores of the spectral, CLAP and artifact layers. The verdict is
    three-way: a deciding score inside the profile's inconclusive band says so.
    """
    thresholds = (thresholds or Thresholds()).validate()
    t0 = time.perf_counter()
    layers = {"spectral": layer_result("spectral", track.spectral, thresholds)}
    clap = track.clap
    if clap is not None:
        layers["clap"] = layer_result("clap", clap.stats, thresholds)
    finding = None
    if track.comb is not None and track.fakeprint is not None:
        layers["artifacts"] = artifacts_layer.layer(track.comb, thresholds)
        finding = artifacts_layer.finding(track.fakeprint, track.comb, layers["artifacts"], thresholds)
    classifier = _classifier_layer(track, model)
    if isinstance(classifier, LayerResult):
        layers["classifier"] = classifier
    segments = []
    for i, (start, end, feats) in enumerate(track.segments):
        features = dict(feats)
        if clap is not None:
            w = best_window(start, end, clap.window_bounds)
            features.update({k: clap.window_stats[w][k] for k in EMBEDDING_RULES})
        if track.comb is not None and i < len(track.comb.segment_hits) and track.comb.segment_hits[i] is not None:
            features["comb_hits_share"] = float(track.comb.segment_hits[i])
        segments.append((start, end, features))
    decided_by, scored, final, label, call = _decide(layers, segments, thresholds)
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
        score=final,
        verdict=label,
        is_ai=call == "ai",
        call=call,
        decided_by=decided_by,
        layers=layers,
        skipped=skipped + ((classifier,) if isinstance(classifier, SkippedLayer) else ()),
        segments=scored,
        segment_seconds=track.segment_seconds,
        artifacts=finding,
        warnings=track.warnings + clap_layer.precision_warnings(clap, model),
        thresholds=thresholds.to_dict(),
        timings=timings,
        versions={**versions(clap), **(model.identity() if model is not None else {})},
    )


def rescore(report: DetectionReport, thresholds: Thresholds, *, classifier: bool = True) -> DetectionReport:
    """``report`` scored again with other ``thresholds``, from the features it keeps: nothing is decoded.

    Every heuristic layer and every segment is rescored from its stored features; a
    classifier's P(AI) does not depend on thresholds and is kept, or dropped with
    ``classifier=False`` (the Tune page tunes the rules alone). The result equals what
    :func:`score` gives on the same features with ``thresholds``, timings aside. A
    stability check kept in the report is judged again too, from each perturbed copy's
    stored rule features.
    """
    thresholds = thresholds.validate()
    layers = {name: layer_result(name, layer.features, thresholds) for name, layer in report.layers.items()
              if name in RULES}
    skipped, versions_ = report.skipped, dict(report.versions)
    if "classifier" in report.layers:
        if classifier:
            layers["classifier"] = report.layers["classifier"]
        else:
            skipped += (NO_CLASSIFIER,)
            versions_ = {k: v for k, v in versions_.items() if not k.startswith("classifier")}
    finding = report.artifacts
    if finding is not None and "artifacts" in layers:
        finding = artifacts_layer.rescored(finding, layers["artifacts"], thresholds)
    segments = [(s.start, s.end, dict(s.features)) for s in report.segments]
    decided_by, scored, final, label, call = _decide(layers, segments, thresholds)
    stability = report.stability
    if stability is not None:
        results = tuple(_rescored_result(r, thresholds, classifier) for r in stability.perturbations)
        stability = summarise(final, call, decided_by, {n: layer.score for n, layer in layers.items()}, results,
                              thresholds, perturbation_set=stability.perturbation_set, seconds=stability.seconds)
    return replace(report, score=final, verdict=label, is_ai=call == "ai", call=call, decided_by=decided_by,
                   layers=layers, skipped=skipped, segments=scored, artifacts=finding,
                   thresholds=thresholds.to_dict(), versions=versions_, stability=stability)


def perturbed_result(name: str, description: str, report: DetectionReport, seconds: float = 0.0) -> PerturbedResult:
    """What a stability check keeps of the ``report`` of one perturbed copy: scores, call, rule features."""
    return PerturbedResult(name, description, report.score, report.call, report.decided_by,
                           {n: layer.score for n, layer in report.layers.items()},
                           {n: dict(layer.features) for n, layer in report.layers.items() if n in RULES},
                           seconds=seconds)


def _rescored_result(result: PerturbedResult, thresholds: Thresholds, classifier: bool) -> PerturbedResult:
    """One perturbed copy's result under other ``thresholds``, from its rule features (a classifier's P(AI)
    does not depend on thresholds: kept, or dropped with ``classifier=False``)."""
    if not result.ran:
        return result
    layers = {name: layer_result(name, features, thresholds) for name, features in result.features.items()}
    if classifier and "classifier" in result.layers:
        layers["classifier"] = LayerResult("classifier", result.layers["classifier"], {}, 0.0, ())
    decided_by = decider(layers, thresholds, "clap" if "clap" in layers else "spectral")
    final = layers[decided_by].score
    return replace(result, score=final, call=thresholds.call(final), decided_by=decided_by,
                   layers={n: layer.score for n, layer in layers.items()})


__all__ = ["NO_CLASSIFIER", "Classifier", "best_window", "decider", "perturbed_result", "rescore", "score", "verdict",
           "versions"]
