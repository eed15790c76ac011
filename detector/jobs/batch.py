"""Analyse many files at once, reusing and filling the analysis history.

Each file is hashed first (no decoding); if the history already holds an analysis of
those bytes with the same profile it is reused, otherwise the file is analysed and
the report is committed on its own right away, so an interrupted batch keeps every
analysis it finished and a rerun only does the rest.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ..analysis import Classifier, analysis_profile, check_stability, extract, score, with_stability
from ..audio import DEFAULT_MAX_DURATION, AudioError, iter_audio_files, sha256_of
from ..audio.perturb import STANDARD, Perturbation, set_name
from ..features.overview import Overview
from ..features.track import DEFAULT_SEGMENT_SECONDS
from ..history import HistoryStore
from ..layers.clap import ClapEncoder
from ..layers.heuristics import Thresholds
from ..report import DetectionReport
from ..types import Progress, no_progress, progress_span


@dataclass
class BatchResult:
    """What a batch did.

    Attributes
    ----------
    reports : list of DetectionReport
        One per file that could be analysed (or was found in the history), in order.
    failures : list of (Path or str, str)
        Each file (its path, or an upload's name) that could not be analysed and why, in words for the user.
    reused : int
        How many of ``reports`` came from the history instead of a new analysis.
    """

    reports: list[DetectionReport] = field(default_factory=list)
    failures: list[tuple[Path | str, str]] = field(default_factory=list)
    reused: int = 0

    @property
    def analysed(self) -> int:
        """How many files were newly analysed."""
        return len(self.reports) - self.reused

    @property
    def total(self) -> int:
        """How many files the batch covered."""
        return len(self.reports) + len(self.failures)


def _items(sources: Iterable[str | os.PathLike | tuple[str, bytes]]) -> list[tuple[str, Path | bytes, Path | str]]:
    """``(name, source, label for failures)`` for every file under the paths, then every in-memory upload."""
    sources = list(sources)
    uploads = [s for s in sources if isinstance(s, tuple)]
    files = iter_audio_files(s for s in sources if not isinstance(s, tuple))
    return [(p.name, p, p) for p in files] + [(name, data, name) for name, data in uploads]


def analyze_batch(
    paths: Iterable[str | os.PathLike | tuple[str, bytes]],
    *,
    store: HistoryStore | None = None,
    thresholds: Thresholds | None = None,
    profile: str | None = None,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    clap: ClapEncoder | None = None,
    model: Classifier | None = None,
    progress: Progress | None = None,
    user: str | None = None,
    stability: bool | Sequence[Perturbation] = False,
) -> BatchResult:
    """Analyse every audio file under ``paths`` (see :func:`~detector.audio.iter_audio_files`).

    Parameters
    ----------
    paths
        Files and folders, and in-memory uploads as ``(name, bytes)`` pairs.
    store : HistoryStore, optional
        Where to look for earlier analyses and keep new ones. Without it every file
        is analysed and nothing is kept.
    thresholds : Thresholds, optional
        Default: the original detector's.
    profile : str, optional
        The history key of these settings. Default:
        :func:`~detector.analysis.analysis_profile` of the thresholds, ``clap``,
        ``model`` and ``segment_seconds``.
    segment_seconds, max_duration, clap, model
        As for :func:`detector.analysis.analyze`.
    progress : Progress, optional
        Told which file is in progress and how far it got: ``"2/5: analysing song.mp3"`` as it
        starts, ``"2/5: analysing song.mp3: Decoding"`` and the other stages of
        :func:`~detector.analysis.extract` within it (the bar moves through the file's share
        of the batch), and ``"Done: 5 files"`` at the end.
    user : str, optional
        Who runs the batch, recorded with each new analysis in the history (see
        :meth:`~detector.history.HistoryStore.put`).
    stability : bool or sequence of Perturbation
        Also check each verdict's stability (:func:`~detector.analysis.check_stability`; ``True``:
        the standard perturbations) and keep it in the report and the history. A stored
        analysis without that check gets it, and is stored again.

    Returns
    -------
    BatchResult
        A reused report carries the current file name; everything else is as stored.

    Raises
    ------
    ProfileError
        If ``thresholds`` are invalid (before any file is touched).
    StoreError
        If the history cannot be read or written.
    """
    thresholds = (thresholds or Thresholds()).validate()
    wanted = tuple(STANDARD if stability is True else stability or ())
    if profile is None:
        profile = analysis_profile(thresholds, clap=clap, model=model, segment_seconds=segment_seconds)
    items = _items(paths)
    result = BatchResult()
    step = progress or no_progress
    total = len(items)
    for done, (name, source, where) in enumerate(items, start=1):
        label = f"{done}/{total}: analysing {name}"
        step((done - 1) / total, label)
        within = progress_span(step, (done - 1) / total, done / total)
        try:
            stored = store.get(sha256_of(source), profile) if store is not None else None
            if stored is not None:
                if stored.source_name != name:
                    stored = dataclasses.replace(stored, source_name=name)
                if wanted and (stored.stability is None or stored.stability.perturbation_set != set_name(wanted)):
                    stored = _checked(stored, source, wanted, thresholds, clap, model, segment_seconds, max_duration,
                                      lambda fraction, stage: within(fraction, f"{label}: stability {stage}"))
                    if store is not None:
                        store.put(stored, profile, user=user)
                result.reports.append(stored)
                result.reused += 1
            else:
                split = 0.3 if wanted else 1.0  # of the file's share of the bar: the analysis, then the stability check
                track = extract(source, name=name, segment_seconds=segment_seconds, max_duration=max_duration, clap=clap,
                                progress=lambda fraction, stage: within(fraction * split, f"{label}: {stage}"))
                report = score(track, thresholds, model)
                if wanted:
                    report = _checked(report, source, wanted, thresholds, clap, model, segment_seconds, max_duration,
                                      lambda fraction, stage: within(split + (1 - split) * fraction,
                                                                     f"{label}: stability {stage}"))
                if store is not None:
                    store.put(report, profile, user=user)
                    # the waveform and spectrogram, small, so the history redraws the analysis as the Analyse page did
                    store.put_overview(report.sha256, Overview.from_frames(track.frames).to_bytes())
                result.reports.append(report)
        except AudioError as exc:
            result.failures.append((where, str(exc)))
    step(1.0, f"Done: {total} file{'s' if total != 1 else ''}")
    return result


def _checked(report: DetectionReport, source: Path | bytes, perturbations: tuple[Perturbation, ...],
             thresholds: Thresholds, clap: ClapEncoder | None, model: Classifier | None, segment_seconds: float,
             max_duration: float, progress: Progress) -> DetectionReport:
    """``report`` with its stability checked on ``source``."""
    return with_stability(report, check_stability(
        source, report, thresholds=thresholds, perturbations=perturbations, clap=clap, model=model,
        segment_seconds=segment_seconds, max_duration=max_duration, progress=progress))


__all__ = ["BatchResult", "analyze_batch"]
