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
from typing import Any, Callable, Iterable, Mapping

from .audio import AudioError, sha256_of
from .heuristics import Thresholds
from .report import DetectionReport
from .service import DEFAULT_SEGMENT_SECONDS, analyze
from .store import HistoryStore, profile_id

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".opus", ".mp3"})

Progress = Callable[[int, int, str], Any]


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


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def iter_audio_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The audio files named by ``paths``: sorted, without duplicates.

    A folder contributes every file below it (recursively) with an audio extension
    (``.wav .flac .ogg .opus .mp3``, any case), skipping hidden files and folders.
    A path that is not a folder is kept as given, whatever its extension or whether
    it exists, so that analysing it reports the problem to the user.
    """
    found: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = (p for p in path.rglob("*")
                          if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file() and not _is_hidden(p, path))
        else:
            candidates = iter((path,))
        for candidate in candidates:
            found.setdefault(candidate.resolve(), candidate)
    return sorted(found.values(), key=lambda p: str(p))


def _component_ids(analyze_kwargs: Mapping[str, Any]) -> dict[str, str]:
    """Identify the settings beyond the thresholds that shape a report.

    Raises
    ------
    ValueError
        If a model component is passed whose identity cannot be read, since reusing
        a stored analysis of a different model would be wrong.
    """
    components: dict[str, str] = {}
    segment_seconds = analyze_kwargs.get("segment_seconds", DEFAULT_SEGMENT_SECONDS)
    if float(segment_seconds) != DEFAULT_SEGMENT_SECONDS:
        components["segment_seconds"] = repr(float(segment_seconds))
    for key in ("clap", "model"):
        component = analyze_kwargs.get(key)
        if component is None:
            continue
        ident = next((getattr(component, attr) for attr in ("checkpoint_sha256", "model_sha256", "sha256")
                      if isinstance(getattr(component, attr, None), str)), None)
        if ident is None:
            raise ValueError(
                f"Cannot tell which {key} component this is (it has no sha256), so stored analyses cannot be "
                "matched to it; pass profile=profile_id(thresholds, components) explicitly."
            )
        components[key] = ident
    return components


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
    progress: Progress | None = None,
    **analyze_kwargs: Any,
) -> BatchResult:
    """Analyse every audio file under ``paths`` (see :func:`iter_audio_files`).

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
        The history key of these settings. Default: :func:`~detector.store.profile_id`
        of ``thresholds`` and of the ``clap``/``model`` components and non-default
        ``segment_seconds`` found in ``analyze_kwargs``.
    progress : callable, optional
        Called as ``progress(done, total, name)`` after each file.
    **analyze_kwargs
        Passed on to :func:`detector.service.analyze`.

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
    if profile is None:
        profile = profile_id(thresholds, _component_ids(analyze_kwargs))
    items = _items(paths)
    result = BatchResult()
    for done, (name, source, where) in enumerate(items, start=1):
        try:
            stored = store.get(sha256_of(source), profile) if store is not None else None
            if stored is not None:
                if stored.source_name != name:
                    stored = dataclasses.replace(stored, source_name=name)
                result.reports.append(stored)
                result.reused += 1
            else:
                report = analyze(source, thresholds=thresholds, name=name, **analyze_kwargs)
                if store is not None:
                    store.put(report, profile)
                result.reports.append(report)
        except AudioError as exc:
            result.failures.append((where, str(exc)))
        if progress is not None:
            progress(done, len(items), name)
    return result


__all__ = ["AUDIO_EXTENSIONS", "BatchResult", "analyze_batch", "iter_audio_files"]
