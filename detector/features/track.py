"""Everything extracted from one track: what scoring needs, without the audio."""

from __future__ import annotations

from dataclasses import dataclass

from ..types import SkippedLayer, deep_nbytes
from .comb import Comb
from .embedding import ClapFeatures
from .fakeprint import Fakeprint
from .spectral import SpectralFrames

DEFAULT_SEGMENT_SECONDS = 10.0
MIN_SEGMENT_SECONDS = 1.0


@dataclass(frozen=True)
class TrackFeatures:
    """What :func:`detector.analysis.extract` computed for one track: everything scoring needs.

    ``segments`` holds ``(start_s, end_s, spectral summary)`` per segment; ``clap`` the
    CLAP embeddings when that layer ran, else ``clap_skipped`` says why not;
    ``fakeprint`` and its ``comb`` (native rate) feed the artifact layer, else
    ``artifacts_skipped`` says why not.
    """

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
    fakeprint: Fakeprint | None = None
    comb: Comb | None = None
    artifacts_skipped: SkippedLayer | None = None

    @property
    def nbytes(self) -> int:
        """About how many bytes these features hold in memory (arrays and all): a cache's measure."""
        return deep_nbytes(self)


def segment_bounds(duration: float, seconds: float) -> list[tuple[float, float]]:
    """Consecutive windows of ``seconds``; a tail under 1 s joins the last window."""
    if not seconds > 0:
        raise ValueError(f"The segment length must be positive, not {seconds}.")
    bounds: list[tuple[float, float]] = []
    start = 0.0
    while start < duration:
        end = min(start + seconds, duration)
        if bounds and end - start < MIN_SEGMENT_SECONDS:
            bounds[-1] = (bounds[-1][0], end)
        else:
            bounds.append((start, end))
        start = end
    return bounds


__all__ = ["DEFAULT_SEGMENT_SECONDS", "MIN_SEGMENT_SECONDS", "TrackFeatures", "segment_bounds"]
