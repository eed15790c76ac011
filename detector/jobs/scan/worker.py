"""What runs on each scan worker: the detector loaded once, then one row per file.

:class:`ScanWorker` is the callable class that Ray Data's ``map_batches`` gives each actor
(:mod:`detector.jobs.scan.pipeline`); it knows nothing of Ray and is tested on its own.
Each file is hashed first; a file whose SHA-256 is already in the output under the same
profile is skipped; any other is analysed with :func:`~detector.analysis.extract` and
:func:`~detector.analysis.score`, the very calls :func:`~detector.analysis.analyze` makes.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ...analysis import Classifier, analysis_profile, check_stability, extract, score, with_stability
from ...audio import DEFAULT_MAX_DURATION, AudioError, sha256_of
from ...audio.perturb import Perturbation, perturbation_set
from ...features.track import DEFAULT_SEGMENT_SECONDS
from ...layers.clap import ClapEncoder
from ...layers.heuristics import Thresholds
from .rows import failure_row, report_row
from .sources import ScanItem

SKIPPED = "skipped"
"""The status of a file found in the output already: counted by the driver, never written."""


@dataclass(frozen=True)
class ScanConfig:
    """Everything that shapes a scan's reports; the same on the driver and every worker (it is pickled to them).

    Attributes
    ----------
    thresholds : Thresholds
        The profile to score with.
    profile_name : str
        Its name for people ("defaults", a file's name).
    model_path : str, optional
        A trained classifier (``.skops``) to score with.
    clap_checkpoint : str, optional
        A LAION-CLAP checkpoint, already resolved to a file; None: no CLAP layer.
    clap_precision : str
        The CLAP encoder's precision (:data:`~detector.layers.clap.PRECISIONS`).
    segment_seconds, max_duration : float
        As for :func:`detector.analysis.analyze`.
    stability : bool
        Also check each verdict's stability (:func:`~detector.analysis.check_stability`).
    perturbations : tuple of str, optional
        With ``stability``: the perturbations' names (default: the standard set).
    """

    thresholds: Thresholds = field(default_factory=Thresholds)
    profile_name: str = "defaults"
    model_path: str | None = None
    clap_checkpoint: str | None = None
    clap_precision: str = "fp32"
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS
    max_duration: float = DEFAULT_MAX_DURATION
    stability: bool = False
    perturbations: tuple[str, ...] | None = None


@dataclass
class Detector:
    """A :class:`ScanConfig` with its models loaded, and the profile id its reports are stored under."""

    config: ScanConfig
    clap: ClapEncoder | None
    model: Classifier | None
    profile: str
    perturbations: tuple[Perturbation, ...]
    warnings: tuple[str, ...] = ()


def load_detector(config: ScanConfig, *, threads: int | None = None) -> Detector:
    """Load the classifier and the CLAP encoder of ``config`` once.

    Raises
    ------
    ModelError, ClapUnavailable, ProfileError
        When a model, the checkpoint or the thresholds cannot be used (``str(err)`` is for the user).
    """
    thresholds = config.thresholds.validate()
    model, warnings = None, ()
    if config.model_path:
        from ...layers.classifier import load_model  # scikit-learn and skops only when asked for

        model = load_model(config.model_path)
        warnings = tuple(model.warnings)
    clap = None
    if config.clap_checkpoint:
        from ...layers.clap import load_encoder

        clap = load_encoder(config.clap_checkpoint, threads=threads, precision=config.clap_precision)
    profile = analysis_profile(thresholds, clap=clap, model=model, segment_seconds=config.segment_seconds)
    perturbations = perturbation_set(config.perturbations) if config.stability else ()
    return Detector(config, clap, model, profile, tuple(perturbations), warnings)


def now_utc() -> str:
    """Now, in UTC, to the second (ISO 8601)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ScanWorker:
    """Analyse batches of files: ``worker({"path": [...], "label": [...]}) -> {"row": [json, ...]}``.

    Parameters
    ----------
    config : ScanConfig
    done : collection of str
        The SHA-256 of every file the output already holds under this config's profile.
    threads : int, optional
        CPU threads for CLAP inference (the worker's share of its machine).
    """

    def __init__(self, config: ScanConfig, done: Collection[str] = frozenset(), threads: int | None = None) -> None:
        self.detector = load_detector(config, threads=threads)
        self.done = frozenset(done)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        labels = batch.get("label")
        items = [ScanItem(str(path), str(labels[i]) if labels is not None else "")
                 for i, path in enumerate(batch["path"])]
        return {"row": np.array([json.dumps(self.row(item)) for item in items], dtype=object)}

    def row(self, item: ScanItem) -> dict[str, Any]:
        """The row of one file: analysed, skipped (status :data:`SKIPPED`), or a failure in words."""
        d = self.detector
        where = {"profile": d.profile, "profile_name": d.config.profile_name, "worker": self.worker}
        sha, size = None, None
        try:
            sha, size = _hash(item.path)
            if sha in self.done:
                return {"path": item.path, "status": SKIPPED, "sha256": sha}
            track = extract(item.path, name=os.path.basename(item.path), segment_seconds=d.config.segment_seconds,
                            max_duration=d.config.max_duration, clap=d.clap, sha256=sha)
            report = score(track, d.config.thresholds, d.model)
            if d.perturbations:
                report = with_stability(report, check_stability(
                    item.path, report, thresholds=d.config.thresholds, perturbations=d.perturbations, clap=d.clap,
                    model=d.model, segment_seconds=d.config.segment_seconds, max_duration=d.config.max_duration))
            return report_row(report, item, size=size, analysed_utc=now_utc(), **where)
        except AudioError as exc:
            return failure_row(item, exc, sha256=sha, size=size, analysed_utc=now_utc(), **where)
        except Exception as exc:  # noqa: BLE001 - a file that breaks a library in a way the decoder's checks
            # did not foresee is a row that names the error, never a crashed scan
            return failure_row(item, exc, sha256=sha, size=size, analysed_utc=now_utc(), **where)


def _hash(path: str) -> tuple[str, int]:
    """The SHA-256 and size of a file; the decoder's own AudioError (status "missing") when it cannot be opened."""
    digest = sha256_of(path)
    try:
        return digest, os.path.getsize(path)
    except OSError as exc:  # gone between the two
        raise AudioError(f"File not found: {path}") from exc


__all__ = ["SKIPPED", "Detector", "ScanConfig", "ScanWorker", "load_detector", "now_utc"]
