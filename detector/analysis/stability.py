"""Does the verdict survive a harmless change? Re-analyse perturbed copies of a track and compare.

:func:`check_stability` takes a track and its report, decodes the track once at its own
rate, and for each :class:`~detector.audio.perturb.Perturbation` (MP3, Vorbis, 32 kHz and
back, pitch, time stretch, noise, loudness, excerpts) changes the samples in memory,
derives the 22.05 kHz (and, with CLAP, 48 kHz) audio from them as decoding does, and gives
the copy every layer the original had (:func:`~detector.analysis.extraction.track_features`,
then :func:`~detector.analysis.scoring.score` with the same thresholds and model). The
original's own scores come from its report, not from a new analysis.

Two perturbations run at a time on worker threads (pedalboard, soxr and numpy's FFTs
release the GIL), and each worker holds one perturbed copy, so at most two copies exist
at once; a track longer than :data:`LONG_TRACK_SECONDS` is checked one copy at a time.
Progress is reported from the calling thread only (Streamlit draws only from there): the
workers queue their stages and the caller passes them on.
A perturbation that does not apply (an excerpt longer than the track) or fails is
recorded with its reason; the others still run.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace

from ..audio import DEFAULT_MAX_DURATION, Audio, AudioSource, decode
from ..audio.perturb import STANDARD, Perturbation, PerturbationSkipped, set_name
from ..features.spectral import SAMPLE_RATE
from ..features.track import DEFAULT_SEGMENT_SECONDS
from ..layers import clap as clap_layer
from ..layers.clap import ClapEncoder
from ..layers.heuristics import Thresholds
from ..report import DetectionReport
from ..report.stability import PerturbedResult, Stability, summarise
from ..types import Progress, no_progress
from .extraction import track_features
from .scoring import Classifier, perturbed_result, rescore, score

DEFAULT_WORKERS = 2
"""Perturbations analysed at once (the machine this was measured on has two cores)."""
LONG_TRACK_SECONDS = 600.0
"""Longer tracks are checked one perturbation at a time: the analysis of a copy peaks at about 50 MiB per
minute of audio (its STFTs; 1.1 GiB for 20 minutes), so two at once would need well over 2 GiB."""
_DECODE_SHARE = 0.05  # of the progress bar, for decoding the track at its own rate


def _analyse_one(p: Perturbation, native: Audio, report: DetectionReport, thresholds: Thresholds, *,
                 clap: ClapEncoder | None, model: Classifier | None, segment_seconds: float,
                 tell: Progress) -> PerturbedResult:
    """Perturb ``native``, analyse the copy with every layer the original had, keep its scores."""
    t0 = time.perf_counter()
    description = p.describe(native.duration)
    try:
        tell(0.0, "perturbing")
        changed = Audio(p.apply(native.samples, native.sample_rate), native.sample_rate, native.sha256,
                        native.format, native.source_rate, native.channels)
        if changed.samples.size == 0:
            raise PerturbationSkipped("it left no audio")
        clap_audio = changed.at_rate(clap_layer.SAMPLE_RATE) if clap is not None else None
        track = track_features(changed.at_rate(SAMPLE_RATE), changed, clap_audio, name=report.source_name,
                               segment_seconds=segment_seconds, clap=clap, progress=tell)
        del changed, clap_audio
        result = score(track, thresholds, model)
    except PerturbationSkipped as exc:
        return PerturbedResult(p.name, description, skipped=str(exc), seconds=time.perf_counter() - t0)
    except MemoryError:
        return PerturbedResult(p.name, description, skipped="it ran out of memory",
                               seconds=time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001  a codec or Rubber Band error must not stop the other perturbations
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return PerturbedResult(p.name, description, skipped=f"it failed: {reason}",
                               seconds=time.perf_counter() - t0)
    return perturbed_result(p.name, description, result, time.perf_counter() - t0)


def check_stability(
    source: AudioSource | Audio,
    report: DetectionReport,
    *,
    thresholds: Thresholds | None = None,
    perturbations: Sequence[Perturbation] = STANDARD,
    clap: ClapEncoder | None = None,
    model: Classifier | None = None,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> Stability:
    """How ``report``'s verdict holds up when ``source`` is re-encoded, resampled, pitch-shifted or trimmed.

    Parameters
    ----------
    source
        The analysed track (path, bytes or file object), or its :class:`~detector.audio.Audio`
        already decoded at its own rate (``decode(source, None)``).
    report
        The track's analysis; its scores are the baseline and its ``thresholds`` the default.
    thresholds
        Judge with these instead of the report's own (the report is rescored with them first, from its
        features; they score the copies too).
    perturbations
        Default: :data:`~detector.audio.perturb.STANDARD`, all the issue's perturbations.
    clap, model
        The CLAP encoder and trained classifier the original analysis used: give the same ones,
        so that every copy gets the layers the original got.
    workers
        Perturbations analysed at once; each holds one perturbed copy of the track. One for a track
        longer than :data:`LONG_TRACK_SECONDS`.
    progress
        Told, from the calling thread, each perturbation's stage and how many are done.

    Returns
    -------
    Stability
        Also kept in a report with ``dataclasses.replace(report, stability=...)``; see
        :func:`with_stability`.

    Raises
    ------
    AudioError
        When ``source`` cannot be decoded.
    """
    t0 = time.perf_counter()
    thresholds = (thresholds or Thresholds.from_dict(report.thresholds)).validate()
    if thresholds.to_dict() != report.thresholds:
        report = rescore(report, thresholds)
    perturbations = tuple(perturbations)
    step = progress or no_progress
    step(0.0, "Decoding the track at its own rate")
    native = source if isinstance(source, Audio) else decode(source, None, max_duration=max_duration)
    n = max(len(perturbations), 1)
    messages: queue.SimpleQueue = queue.SimpleQueue()
    fractions = [0.0] * len(perturbations)

    def teller(i: int) -> Progress:
        return lambda fraction, message: messages.put((i, fraction, message))

    results: list[PerturbedResult | None] = [None] * len(perturbations)
    workers = 1 if native.duration > LONG_TRACK_SECONDS else max(1, int(workers))
    with ThreadPoolExecutor(workers, thread_name_prefix="stability") as pool:
        futures: dict[Future, int] = {
            pool.submit(_analyse_one, p, native, report, thresholds, clap=clap, model=model,
                        segment_seconds=segment_seconds, tell=teller(i)): i
            for i, p in enumerate(perturbations)}
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    results[futures[future]] = future.result()
                    fractions[futures[future]] = 1.0
                latest = None
                while not messages.empty():
                    i, fraction, message = messages.get()
                    fractions[i] = max(fractions[i], min(fraction, 0.99))
                    latest = (i, message)
                if latest is not None or done:
                    i, message = latest or (futures[next(iter(done))], "done")
                    step(_DECODE_SHARE + (1 - _DECODE_SHARE) * sum(fractions) / n,
                         f"{sum(r is not None for r in results)}/{len(perturbations)} done · "
                         f"{perturbations[i].describe(native.duration)}: {message}")
        except BaseException:  # a stopped page (Streamlit raises in ``step``): only the running copies finish
            for future in pending:
                future.cancel()
            raise
    stability = summarise(report.score, report.call, report.decided_by,
                          {name: layer.score for name, layer in report.layers.items()},
                          [r for r in results if r is not None], thresholds,
                          perturbation_set=set_name(perturbations), seconds=time.perf_counter() - t0)
    step(1.0, f"Done: {stability.title.lower()}")
    return stability


def with_stability(report: DetectionReport, stability: Stability | None) -> DetectionReport:
    """``report`` keeping ``stability`` (what the JSON report and the history store)."""
    return replace(report, stability=stability)


__all__ = ["DEFAULT_WORKERS", "LONG_TRACK_SECONDS", "check_stability", "with_stability"]
