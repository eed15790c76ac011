"""The typed result of an analysis and its stable JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .heuristics import Contribution

SCHEMA_VERSION = 2
"""2: ``Segment.layer_scores``; the CLAP layer; CLAP checkpoint and library versions."""


@dataclass(frozen=True)
class LayerResult:
    """One detection layer that ran: its score, features and rule contributions."""

    name: str
    score: float
    features: dict[str, float]
    base: float
    contributions: tuple[Contribution, ...]
    clip_adjustment: float = 0.0


@dataclass(frozen=True)
class SkippedLayer:
    """A layer that did not run, why, and what the user can do about it."""

    name: str
    reason: str
    how_to_enable: str


@dataclass(frozen=True)
class Segment:
    """One fixed window of the track, scored on its own.

    ``score`` is the deciding layer's; ``layer_scores`` holds every layer's score for
    this segment (the CLAP layer scores the 10 s CLAP window that overlaps the segment
    most, and that window's embedding statistics are merged into ``features``).
    """

    index: int
    start: float
    end: float
    score: float
    features: dict[str, float]
    layer_scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectionReport:
    """Everything one analysis found, in a form that serialises to stable JSON."""

    source_name: str
    sha256: str
    duration: float
    sample_rate: int
    format: str
    score: float
    verdict: str
    is_ai: bool
    decided_by: str
    layers: dict[str, LayerResult]
    skipped: tuple[SkippedLayer, ...]
    segments: tuple[Segment, ...]
    segment_seconds: float
    warnings: tuple[str, ...]
    thresholds: dict
    timings: dict[str, float]
    versions: dict[str, str]
    schema_version: int = field(default=SCHEMA_VERSION)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """Stable JSON: sorted keys, so equal reports give equal text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "DetectionReport":
        """Rebuild a report from :meth:`to_dict` output (schema 1 reports too)."""
        data = dict(data)
        data["layers"] = {
            name: LayerResult(
                **{**layer, "contributions": tuple(Contribution(**c) for c in layer["contributions"])}
            )
            for name, layer in data["layers"].items()
        }
        data["skipped"] = tuple(SkippedLayer(**s) for s in data["skipped"])
        data["segments"] = tuple(Segment(**s) for s in data["segments"])
        data["warnings"] = tuple(data["warnings"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "DetectionReport":
        return cls.from_dict(json.loads(text))
