"""Orchestrates decoding, features and scoring into a :class:`DetectionReport`.

Analysis is split in two so that the dashboard can rescore without re-decoding:
:func:`extract` does the expensive part once per track (decode + one STFT) and
returns :class:`TrackFeatures`; :func:`score` turns those features and a set of
thresholds into a report in about a millisecond.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from . import __version__
from .audio import DEFAULT_MAX_DURATION, AudioSource, decode
from .features import SAMPLE_RATE, SpectralFrames, spectral_frames
from .heuristics import SPECTRAL_RULES, Thresholds, score_features
from .report import DetectionReport, LayerResult, Segment, SkippedLayer
from .vectors import FeatureSetUnavailable

if TYPE_CHECKING:
    from .classifier import TrainedModel

DEFAULT_SEGMENT_SECONDS = 10.0
MIN_SEGMENT_SECONDS = 1.0

CLAP_NOT_BUILT = SkippedLayer(
    "clap",
    "The CLAP embedding layer is not part of this build yet, so only the spectral layer ran.",
    "It arrives with the LAION-CLAP layer: you will point CLAP_CHECKPOINT at a LAION-CLAP .pt checkpoint "
    "(e.g. music_audioset_epoch_15_esc_90.14.pt).",
)
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


def extract(
    source: AudioSource,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
) -> TrackFeatures:
    """Decode ``source`` and compute its spectral features, whole and per segment.

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
    t0 = time.perf_counter()
    audio = decode(source, SAMPLE_RATE, max_duration=max_duration)
    t1 = time.perf_counter()
    frames = spectral_frames(audio.samples, SAMPLE_RATE)
    segments = tuple(
        (start, end, frames.summary(start, end)) for start, end in segment_bounds(audio.duration, segment_seconds)
    )
    t2 = time.perf_counter()
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
        timings={"decode_s": t1 - t0, "features_s": t2 - t1},
    )


def versions() -> dict[str, str]:
    """Versions of the detector and of every library that shapes its numbers."""
    out = {"detector": __version__, "libsndfile": sf.__libsndfile_version__}
    for pkg in ("numpy", "scipy", "librosa", "soundfile", "soxr"):
        out[pkg] = metadata.version(pkg)
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


def score(
    track: TrackFeatures, thresholds: Thresholds | None = None, model: "TrainedModel | None" = None
) -> DetectionReport:
    """Score extracted features with ``thresholds`` (defaults: the original detector's).

    With a trained ``model`` (:func:`detector.classifier.load_model`) its P(AI) is the
    final score (``decided_by="classifier"``); the heuristic layers stay in ``layers``.
    """
    thresholds = (thresholds or Thresholds()).validate()
    t0 = time.perf_counter()
    whole = score_features(track.spectral, SPECTRAL_RULES, thresholds, "spectral")
    spectral = LayerResult(
        "spectral", whole.score, dict(track.spectral), whole.base, whole.contributions, whole.clip_adjustment
    )
    segments = tuple(
        Segment(i, start, end, score_features(feats, SPECTRAL_RULES, thresholds, "spectral").score, dict(feats))
        for i, (start, end, feats) in enumerate(track.segments)
    )
    layers, final, decided_by = {"spectral": spectral}, spectral, "spectral"
    classifier = _classifier_layer(track, model)
    if isinstance(classifier, LayerResult):
        layers["classifier"] = final = classifier
        decided_by = "classifier"
    label, is_ai = verdict(final.score, thresholds)
    timings = dict(track.timings, scoring_s=time.perf_counter() - t0)
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
        skipped=(CLAP_NOT_BUILT,) + ((classifier,) if isinstance(classifier, SkippedLayer) else ()),
        segments=segments,
        segment_seconds=track.segment_seconds,
        warnings=track.warnings,
        thresholds=thresholds.to_dict(),
        timings=timings,
        versions={**versions(), **(model.identity() if model is not None else {})},
    )


def analyze(
    source: AudioSource,
    thresholds: Thresholds | None = None,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    model: "TrainedModel | None" = None,
) -> DetectionReport:
    """Decode, extract and score one track: the whole pipeline in one call."""
    track = extract(source, name=name, segment_seconds=segment_seconds, max_duration=max_duration)
    return score(track, thresholds, model)


__all__ = ["ClapFeatures", "TrackFeatures", "analyze", "extract", "score", "segment_bounds"]
