"""The expensive half of an analysis: decode once, compute features and embeddings.

:func:`extract` returns :class:`~detector.features.TrackFeatures`, everything scoring
needs, so that the dashboard rescores a track in about a millisecond when a threshold
moves (:func:`detector.analysis.score`).
"""

from __future__ import annotations

import os
import time

from ..audio import DEFAULT_MAX_DURATION, Audio, AudioSource, decode_rates
from ..features.comb import find_comb
from ..features.fakeprint import fakeprint
from ..features.spectral import SAMPLE_RATE, spectral_frames
from ..features.track import DEFAULT_SEGMENT_SECONDS, TrackFeatures, segment_bounds
from ..layers import artifacts as artifacts_layer
from ..layers import clap as clap_layer
from ..layers.clap import ClapEncoder
from ..types import Progress, no_progress, progress_span


def extract(
    source: AudioSource,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    clap: ClapEncoder | None = None,
    progress: Progress | None = None,
    sha256: str | None = None,
) -> TrackFeatures:
    """Decode ``source`` once and compute every layer's features, whole and per segment.

    One pass of the decoder yields 22.05 kHz for the spectral features, the native rate
    for the fakeprint and its comb (the artifact layer), and, with a CLAP encoder
    (:func:`detector.layers.clap.get_encoder`), 48 kHz for the embeddings; without one,
    ``clap_skipped`` says why the layer did not run.

    Parameters
    ----------
    progress
        Told about decoding (block by block), the spectral features and each batch of CLAP windows.
    sha256
        The SHA-256 of ``source``'s bytes, when the caller already computed it.

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
    step = progress or no_progress
    share = 0.3 if clap is not None else 1.0  # of the progress bar for the spectral part
    step(0.0, "Decoding")
    t0 = time.perf_counter()
    rates = (SAMPLE_RATE, None) + ((clap_layer.SAMPLE_RATE,) if clap is not None else ())
    audio, native, *rest = decode_rates(source, rates, max_duration=max_duration, sha256=sha256,
                                        progress=progress_span(step, 0.0, 0.4 * share))
    return track_features(audio, native, rest[0] if rest else None, name=name, segment_seconds=segment_seconds,
                          clap=clap, progress=step, timings={"decode_s": time.perf_counter() - t0})


def track_features(
    audio: Audio,
    native: Audio,
    clap_audio: Audio | None = None,
    *,
    name: str,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    clap: ClapEncoder | None = None,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> TrackFeatures:
    """Every layer's features of decoded audio: what :func:`extract` does after decoding.

    ``audio`` is at 22.05 kHz (the spectral features), ``native`` at the file's own rate
    (the fakeprint and its comb), ``clap_audio`` at 48 kHz when ``clap`` is given. The
    stability check (:mod:`detector.analysis.stability`) gives a perturbed track the same
    layers through here. ``progress`` is told the stages from 40 % of the spectral share
    of the bar on (the first 40 % is :func:`extract`'s decoding); ``timings`` are kept
    with the stages' own.
    """
    step = progress or no_progress
    share = 0.3 if clap is not None else 1.0
    t1 = time.perf_counter()
    step(0.4 * share, "Spectral features")
    frames = spectral_frames(audio.samples, SAMPLE_RATE)
    bounds = segment_bounds(audio.duration, segment_seconds)
    segments = tuple((start, end, frames.summary(start, end)) for start, end in bounds)
    t2 = time.perf_counter()
    step(0.7 * share, "Decoder fingerprint")
    fp = fakeprint(native.samples, native.sample_rate, bounds)
    comb = find_comb(fp) if fp is not None else None
    artifacts_skipped = None if comb is not None else artifacts_layer.unavailable(
        f"this {native.sample_rate} Hz track has no band above 1 kHz with a measurable noise floor to search "
        "(too low a sample rate, or a noiseless signal such as a DC offset or a pure synthetic tone)")
    t3 = time.perf_counter()
    timings = {**(timings or {}), "features_s": t2 - t1, "artifacts_s": t3 - t2}
    clap_result, skipped = None, None
    if clap is not None and clap_audio is not None:
        step(share + 0.05, "CLAP embeddings")
        clap_result = clap.features(clap_audio.samples, progress_span(step, share + 0.05, 1.0))
        timings["clap_s"] = time.perf_counter() - t3
    else:
        skipped = clap_layer.skipped_layer()
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
        fakeprint=fp,
        comb=comb,
        artifacts_skipped=artifacts_skipped,
    )


__all__ = ["extract", "track_features"]
