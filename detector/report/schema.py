"""The typed result of an analysis and its stable JSON form, read back tolerantly."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from ..errors import DetectorError
from ..types import ArtifactFinding, Contribution, LayerResult, SkippedLayer
from .stability import Stability, stability_from_dict

SCHEMA_VERSION = 5
"""2: ``Segment.layer_scores``; the CLAP layer; CLAP checkpoint and library versions.
3: the artifact layer and its finding (``artifacts``).
4: the three-way ``call`` (``"ai"``, ``"human"``, ``"inconclusive"``) and the profile's inconclusive band;
the finding's ``description``. Older reports read back with the two-way call they made.
5: ``stability`` (how the verdict holds up under perturbations; None where no check ran) and the profile's
``stability_width``. Older reports read back without one."""


class ReportError(DetectorError, ValueError):
    """Stored report data cannot form a :class:`DetectionReport`. ``str(err)`` is written for the user."""


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
    artifacts: ArtifactFinding | None = None
    call: str = ""
    """``"ai"``, ``"human"`` or ``"inconclusive"``; ``is_ai`` is ``call == "ai"``."""
    stability: Stability | None = None
    """How the verdict held up under perturbations (:mod:`detector.analysis.stability`), when checked."""
    schema_version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        if not self.call:  # a report made before the three-way verdict
            object.__setattr__(self, "call", "ai" if self.is_ai else "human")

    @property
    def score_name(self) -> str:
        """What the score is: ``"P(AI)"`` where a trained classifier decides (a calibrated
        probability), else ``"score"`` (the rules' points, not a probability)."""
        return "P(AI)" if self.decided_by == "classifier" else "score"

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """Stable JSON: sorted keys, so equal reports give equal text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping) -> "DetectionReport":
        """Rebuild a report from :meth:`to_dict` output, tolerating other schema versions.

        Keys this version does not know are dropped and fields it added since take
        their defaults; only data missing something essential cannot be loaded.

        Raises
        ------
        ReportError
            If the data cannot form a complete report.
        """
        try:
            return cls(**{
                **_known(cls, data),
                "layers": {
                    name: LayerResult(**{
                        **_known(LayerResult, layer),
                        "contributions": tuple(Contribution(**_known(Contribution, c))
                                               for c in layer.get("contributions", ())),
                        "drivers": tuple((str(f), float(v)) for f, v in layer.get("drivers") or ()),
                    })
                    for name, layer in data.get("layers", {}).items()
                },
                "skipped": tuple(SkippedLayer(**_known(SkippedLayer, s)) for s in data.get("skipped", ())),
                "segments": tuple(Segment(**_known(Segment, s)) for s in data.get("segments", ())),
                "warnings": tuple(data.get("warnings", ())),
                "artifacts": _finding(data.get("artifacts")),
                "stability": stability_from_dict(data.get("stability")),
            })
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            version = data.get("schema_version", "?") if isinstance(data, Mapping) else "?"
            raise ReportError(
                f"This stored report (report schema v{version}) cannot be read by this version of the detector "
                f"({type(exc).__name__}: {exc}). Analyse the track again to replace it."
            ) from None

    @classmethod
    def from_json(cls, text: str) -> "DetectionReport":
        return cls.from_dict(json.loads(text))


def _finding(data: Mapping | None) -> ArtifactFinding | None:
    if data is None:
        return None
    return ArtifactFinding(**{k: tuple(v) if isinstance(v, list) else v for k, v in _known(ArtifactFinding, data).items()})


def _known(cls: type, data: Mapping) -> dict:
    """The items of ``data`` that are fields of the dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


__all__ = ["SCHEMA_VERSION", "DetectionReport", "ReportError", "Segment"]
