"""Features to a report: :func:`extract` (decode once, features, embeddings), then :func:`score`.

Analysis is split in two so that the dashboard can rescore without re-decoding:
:func:`extract` does the expensive part once per track and returns
:class:`~detector.features.TrackFeatures`; :func:`score` turns those and a set of
thresholds into a :class:`~detector.report.DetectionReport` in about a millisecond.
:func:`analyze` does both.
"""

from __future__ import annotations

from ..audio import DEFAULT_MAX_DURATION, AudioSource
from ..features.track import DEFAULT_SEGMENT_SECONDS
from ..layers.clap import ClapEncoder
from ..layers.heuristics import Thresholds
from ..report import DetectionReport
from ..types import Progress
from .extraction import extract
from .profile import analysis_profile, profile_id
from .scoring import NO_CLASSIFIER, Classifier, rescore, score, verdict
from .stability import check_stability, with_stability


def analyze(
    source: AudioSource,
    thresholds: Thresholds | None = None,
    *,
    name: str = "",
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
    max_duration: float = DEFAULT_MAX_DURATION,
    clap: ClapEncoder | None = None,
    model: Classifier | None = None,
    progress: Progress | None = None,
) -> DetectionReport:
    """Decode, extract and score one track: the whole pipeline in one call."""
    track = extract(source, name=name, segment_seconds=segment_seconds, max_duration=max_duration,
                    clap=clap, progress=progress)
    return score(track, thresholds, model)


__all__ = ["NO_CLASSIFIER", "Classifier", "analysis_profile", "analyze", "check_stability", "extract", "profile_id",
           "rescore", "score", "verdict", "with_stability"]
