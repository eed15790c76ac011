"""The bottom floor: result types and the progress protocol that every stage shares.

Nothing here imports anything else from the detector, so every module may import it.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Protocol

LABELS = ("human", "ai")
"""Class names in class order: 0 is human, 1 is AI, so a model's P(class 1) is P(AI)."""


class Progress(Protocol):
    """A progress callback: ``progress(fraction, message)``.

    ``fraction`` runs from 0 to 1 (the share of the work done); ``message`` says, for a
    person, what is happening now, counters included ("3/10: song.mp3"). Every long
    operation of the detector (decoding, embedding, training, batches, downloads) takes
    one as its ``progress`` argument; the dashboard draws it as a bar, the CLI prints it.
    """

    def __call__(self, fraction: float, message: str) -> object: ...


def no_progress(fraction: float, message: str) -> None:
    """The :class:`Progress` that reports nowhere."""


def progress_span(progress: Progress | None, start: float, stop: float) -> Progress:
    """A :class:`Progress` for a sub-task that fills ``[start, stop]`` of ``progress``'s bar."""
    if progress is None:
        return no_progress
    return lambda fraction, message: progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)


@dataclass(frozen=True)
class Contribution:
    """One rule's vote: the feature, its value, the band it fell in and the delta."""

    layer: str
    feature: str
    value: float
    band: str
    delta: float
    threshold: float | None


@dataclass(frozen=True)
class LayerResult:
    """One detection layer that ran: its score, features and rule contributions.

    ``drivers`` are, for a trained layer (the classifier), the features that mattered
    most to the model at training time, as ``(feature, importance)`` pairs, largest
    first: the permutation importance recorded in its model card (how much accuracy
    dropped when that feature was shuffled). They describe the model, not this track;
    the track's own values of those features are in ``features``. Empty for rule
    layers and for models whose card records no importance.
    """

    name: str
    score: float
    features: dict[str, float]
    base: float
    contributions: tuple[Contribution, ...]
    clip_adjustment: float = 0.0
    drivers: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ArtifactFinding:
    """What the artifact layer found: the comb, in numbers and words, and the fakeprint to draw.

    ``chart_hz`` / ``chart_db`` are the whole-track residual above the floor (dB),
    max-pooled to a few thousand points so narrow peaks survive; ``positions_hz`` and
    ``hits`` are the comb's expected positions and which carry a peak.
    """

    summary: str
    found: bool
    harmonic: bool
    spacing_hz: float
    offset_hz: float
    positions_hz: tuple[float, ...]
    hits: tuple[bool, ...]
    prominence_db: float
    false_alarm: float
    consistency: float
    segment_hits: tuple[float | None, ...]
    band_hz: tuple[float, float]
    peaks: int
    sample_rate: int
    n_fft: int
    chart_hz: tuple[float, ...] = ()
    chart_db: tuple[float, ...] = ()
    description: str = ""
    """The comb in words (``summary`` without its verdict), so a finding can be restated under
    other thresholds; empty in reports older than schema 4."""

    @property
    def headline(self) -> str:
        """How ``summary`` begins: "Decoder fingerprint found" or "No decoder fingerprint found"."""
        return "Decoder fingerprint found" if self.found else "No decoder fingerprint found"

    @property
    def detail(self) -> str:
        """``summary`` after its headline."""
        return self.summary.removeprefix(self.headline).lstrip(": ")

    @property
    def label(self) -> str:
        """A short cell for tables: ``"fingerprint every 750 Hz"`` or ``"no fingerprint"``."""
        return f"fingerprint every {self.spacing_hz:.0f} Hz" if self.found else "no fingerprint"


@dataclass(frozen=True)
class SkippedLayer:
    """A layer that did not run, why, and what the user can do about it."""

    name: str
    reason: str
    how_to_enable: str


def deep_nbytes(obj: Any) -> int:
    """About how many bytes ``obj`` holds: its arrays' buffers (``nbytes``) plus every other object's
    ``sys.getsizeof``, following dataclass fields, lists, tuples, sets and dicts, each object counted once.

    What a cache counts against its byte budget (:class:`detector.lru.LruCache`).
    """
    seen: set[int] = set()
    stack, total = [obj], 0
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if hasattr(item, "__array_interface__"):
            total += int(item.nbytes) + sys.getsizeof(item, 0) * (item.base is not None)
            continue
        total += sys.getsizeof(item, 0)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return total


__all__ = ["LABELS", "ArtifactFinding", "Contribution", "LayerResult", "Progress", "SkippedLayer", "deep_nbytes", "no_progress", "progress_span"]
