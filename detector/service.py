"""Orchestrates decoding, features and scoring into a :class:`DetectionReport`.

Analysis is split in two so that the dashboard can rescore without re-decoding:
:func:`extract` does the expensive part once per track (decode + one STFT) and
returns :class:`TrackFeatures`; :func:`score` turns those features and a set of
thresholds into a report in about a millisecond.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from . import __version__
from . import clap as clap_layer
from .audio import DEFAULT_MAX_DURATION, AudioSource, decode
from .features import SAMPLE_RATE, SpectralFrames, embedding_stats, spectral_frames
from .heuristics import EMBEDDING_RULES, SPECTRAL_RULES, Thresholds, score_features
from .report import DetectionReport, LayerResult, Segment, SkippedLayer
from .vectors import FeatureSetUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from .clap import ClapEncoder
    from .classifier import TrainedModel

Progress = Callable[[float, str], None]

DEFAULT_SEGMENT_SECONDS = 10.0
MIN_SEGMENT_SECONDS = 1.0

NO_CLASSIFIER = SkippedLayer(
    "classifier",
    "No trained classifier was given, so the score comes from the heuristic rules.",
    "Train one on labelled tracks with `python -m detector train DATA --out model.skops` (DATA: a folder "
    "with human/ and ai/ subfolders, or a path,label CSV), then use it with `analyze --model model.skops` "
    "or train and activate one on the dashboard's Models page.",
)


@dataclass(frozen=True)
class ClapFeatures:
    """The CLAP layer's output for one track (filled in by :mod:`detector.clap`).

    ``windows`` holds one L2-normalised 512-dim embedding per 10 s window and
    ``aggregate`` their re-normalised mean. ``stats`` are the embedding statistics of
    the aggregate; ``window_stats`` those of each window.
    """

    checkpoint: str
    checkpoint_sha256: str
    architecture: str
    aggregate: np.ndarray
    windows: np.ndarray
    window_bounds: tuple[tuple[float, float], ...]
    stats: dict[str, float]
    window_stats: tuple[dict[str, float], ...]


@dataclass(frozen=True)
class TrackFeatures:
    """What :func:`extract` computed for one track: everything scoring needs."""

    source_name: str
    sha256: str
    duration: float
    format: str
    source_rate: int
    channels: int
    warnings: tuple[str, ...]
    frames: SpectralFrames
    spectral: dict[str, float]
    segments: tuple[tuple[float, float, dict[str, float]], ...]
    segment_seconds: float
    timings: dict[str, float]
    clap: ClapFeatures | None = None
    clap_skipped: SkippedLayer | None = None


def segment_bounds(duration: float, seconds: float) -> list[tuple[float, float]]:
    """Consecutive windows of ``seconds``; a tail under 1 s joins the last window."""
    if not seconds > 0:
        raise ValueError(f"The segment length must be positive, not {seconds}.")
    bounds = []
    start = 0.0
    while start < duration:
        end = min(start + seconds, duration)
        if bounds and end - start < MIN_SEGMENT_SECONDS:
            bounds[-1] = (bounds[-1][0], end)
        else:
            bounds.append((start, end))
        start = end
    return bounds


def clap_skipped(explicit: str | os.PathLike | None = None) -> SkippedLayer:
    """Why the CLAP layer did not run for an analysis given no encoder, and how to enable it.

    Asks :func:`detector.clap.availability` (cheap: imports neither torch nor laion-clap):
    no checkpoint found, torch/laion-clap missing, or the last load failure. When a
    checkpoint is ready but the caller passed no encoder, says so.
    """
    problem = clap_layer.availability(explicit)
    if problem is not None:
        return SkippedLayer("clap", problem.reason, problem.how_to_enable)
    path = clap_layer.find_checkpoint(explicit)
    return SkippedLayer(
        "clap",
        f"A LAION-CLAP checkpoint is available ({path}), but this analysis was run without the CLAP encoder.",
        "Pass clap=detector.clap.get_encoder() to extract()/analyze(); the CLI and the dashboard load it themselves.",
    )


def clap_features(encoder: "ClapEncoder", samples: np.ndarray, *,
                  progress: Callable[[int, int], None] | None = None) -> ClapFeatures:
    """Embed 48 kHz mono ``samples`` with ``encoder`` and compute the embedding statistics."""
    emb = encoder.embed(samples, progress)
    return ClapFeatures(
        checkpoint=encoder.name,
        checkpoint_sha256=encoder.sha256,
        architecture=encoder.architecture,
        aggregate=emb.aggregate,
        windows=emb.windows,
        window_bounds=emb.window_bounds,
        stats=embedding_stats(emb.aggregate),
        window_stats=tuple(embedding_stats(w) for w in emb.windows),
    )


def extract(
    source: AudioSource,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    clap: "ClapEncoder | None" = None,
    progress: Progress | None = None,
) -> TrackFeatures:
    """Decode ``source`` and compute its spectral features, whole and per segment.

    With a CLAP encoder (:func:`detector.clap.get_encoder`), the track is decoded a second
    time at 48 kHz and embedded; without one, ``clap_skipped`` says why the layer did not
    run.

    Parameters
    ----------
    progress
        Called as ``progress(fraction_done, stage)`` as the work advances.

    Raises
    ------
    AudioError
        For any unusable input, with a message for the user.
    ValueError
        For a non-positive ``segment_seconds``.
    """
    if not segment_seconds > 0:
        raise ValueError(f"The segment length must be positive, not {segment_seconds}.")
    if not name:
        is_path = isinstance(source, (str, os.PathLike))
        name = os.path.basename(os.fspath(source)) if is_path else str(getattr(source, "name", "") or "upload")
    if clap is not None and hasattr(source, "read") and not (hasattr(source, "seekable") and source.seekable()):
        source = source.read()  # decoded twice: keep the bytes of a one-shot stream
    step = progress or (lambda fraction, stage: None)
    share = 0.3 if clap is not None else 1.0  # of the progress bar for the spectral part
    step(0.0, "Decoding")
    t0 = time.perf_counter()
    audio = decode(source, SAMPLE_RATE, max_duration=max_duration)
    t1 = time.perf_counter()
    step(0.5 * share, "Spectral features")
    frames = spectral_frames(audio.samples, SAMPLE_RATE)
    segments = tuple(
        (start, end, frames.summary(start, end)) for start, end in segment_bounds(audio.duration, segment_seconds)
    )
    t2 = time.perf_counter()
    timings = {"decode_s": t1 - t0, "features_s": t2 - t1}
    clap_result, skipped = None, None
    if clap is not None:
        step(share, "Decoding at 48 kHz for CLAP")
        audio48 = decode(source, clap_layer.SAMPLE_RATE, max_duration=max_duration)
        step(share + 0.05, "CLAP embeddings")
        clap_result = clap_features(
            clap, audio48.samples,
            progress=lambda done, total: step(share + 0.05 + (0.95 - share) * done / total,
                                                f"CLAP embeddings ({done}/{total} windows)"))
        timings["clap_s"] = time.perf_counter() - t2
    else:
        skipped = clap_skipped()
    step(1.0, "Done")
    return TrackFeatures(
        source_name=name,
        sha256=audio.sha256,
        duration=audio.duration,
        format=audio.format,
        source_rate=audio.source_rate,
        channels=audio.channels,
        warnings=audio.warnings,
        frames=frames,
        spectral=frames.summary(),
        segments=segments,
        segment_seconds=float(segment_seconds),
        timings=timings,
        clap=clap_result,
        clap_skipped=skipped,
    )


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
    is_ai = score > thresholds.decision
    return ("Likely AI-generated" if is_ai else "Likely human-made"), is_ai


def _classifier_layer(track: TrackFeatures, model: "TrainedModel | None") -> LayerResult | SkippedLayer:
    """The classifier's layer for ``track``, or why it did not run."""
    if model is None:
        return NO_CLASSIFIER
    try:
        return model.layer(track)
    except FeatureSetUnavailable as exc:
        return SkippedLayer("classifier", f"The classifier did not run: {exc}.",
                            "Use a model trained on features this track has (for example the spectral "
                            "feature set: `python -m detector train DATA --feature-set spectral`).")


def _layer(name: str, features: dict[str, float], rules: tuple[str, ...], thresholds: Thresholds) -> LayerResult:
    s = score_features(features, rules, thresholds, name)
    return LayerResult(name, s.score, dict(features), s.base, s.contributions, s.clip_adjustment)


def best_window(start: float, end: float, bounds: tuple[tuple[float, float], ...]) -> int:
    """Index of the window in ``bounds`` that overlaps ``[start, end]`` most (first on ties)."""
    overlaps = [min(end, b) - max(start, a) for a, b in bounds]
    return max(range(len(bounds)), key=lambda i: (overlaps[i], -i))


def score(
    track: TrackFeatures, thresholds: Thresholds | None = None, model: "TrainedModel | None" = None
) -> DetectionReport:
    """Score extracted features with ``thresholds`` (defaults: the original detector's).

    The CLAP layer, when it ran, decides over the spectral one (as in the original
    detector, where spectral is the fallback). With a trained ``model``
    (:func:`detector.classifier.load_model`) its P(AI) is the final score
    (``decided_by="classifier"``). Every layer that ran stays in ``layers``; each
    segment's ``layer_scores`` holds the heuristic layers' scores for that window.
    """
    thresholds = (thresholds or Thresholds()).validate()
    t0 = time.perf_counter()
    layers = {"spectral": _layer("spectral", track.spectral, SPECTRAL_RULES, thresholds)}
    decided_by = "spectral"
    clap = track.clap
    window_scores: list[float] = []
    if clap is not None:
        layers["clap"] = _layer("clap", clap.stats, EMBEDDING_RULES, thresholds)
        decided_by = "clap"
        window_scores = [score_features(ws, EMBEDDING_RULES, thresholds, "clap").score for ws in clap.window_stats]
    segments = []
    for i, (start, end, feats) in enumerate(track.segments):
        features = dict(feats)
        layer_scores = {"spectral": score_features(feats, SPECTRAL_RULES, thresholds, "spectral").score}
        if clap is not None:
            w = best_window(start, end, clap.window_bounds)
            layer_scores["clap"] = window_scores[w]
            features.update({k: clap.window_stats[w][k] for k in EMBEDDING_RULES})
        segments.append(Segment(i, start, end, layer_scores[decided_by], features, layer_scores))
    classifier = _classifier_layer(track, model)
    if isinstance(classifier, LayerResult):
        layers["classifier"] = classifier
        decided_by = "classifier"
    final = layers[decided_by]
    label, is_ai = verdict(final.score, thresholds)
    timings = dict(track.timings, scoring_s=time.perf_counter() - t0)
    skipped = () if clap is not None else (track.clap_skipped or clap_skipped(),)
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
        warnings=track.warnings,
        thresholds=thresholds.to_dict(),
        timings=timings,
        versions={**versions(clap), **(model.identity() if model is not None else {})},
    )


def analyze(
    source: AudioSource,
    thresholds: Thresholds | None = None,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    clap: "ClapEncoder | None" = None,
    model: "TrainedModel | None" = None,
    progress: Progress | None = None,
) -> DetectionReport:
    """Decode, extract and score one track: the whole pipeline in one call."""
    track = extract(source, name=name, segment_seconds=segment_seconds, max_duration=max_duration,
                    clap=clap, progress=progress)
    return score(track, thresholds, model)


__all__ = [
    "ClapFeatures", "TrackFeatures", "analyze", "best_window", "clap_features", "clap_skipped", "extract",
    "score", "segment_bounds",
]
