"""The artifact layer: a decoder's fingerprint (a comb of narrow spectral lines) as evidence.

The layer scores two numbers of the comb :func:`detector.features.comb.find_comb`
found, with the same tunable :class:`~detector.layers.heuristics.Rule` machinery as
the other layers:

- ``comb_evidence``, ``-log10`` of the comb's false-alarm bound (3: a track without a
  decoder shows a comb this regular less than once in a thousand), 0 for a note's
  harmonic series;
- ``comb_consistency``, the share of segments that carry the comb.

With the defaults a comb fires (score 0.8) at evidence >= 3 when at least 30 % of the
segments carry it; evidence below 1 scores 0.25, "no decoder fingerprint found", which
is evidence of human origin, not proof. In between the layer stays at the decision
line: a weak comb is reported but decides nothing. Where this layer sits in the
verdict is :func:`detector.analysis.score`'s business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from ..features.comb import Comb
from ..features.fakeprint import Fakeprint
from ..types import ArtifactFinding, LayerResult, SkippedLayer
from .heuristics import ARTIFACT_RULES, Thresholds, layer_result, score_features

NAME = "artifacts"

NOT_FOUND_CAVEAT = (
    "That is evidence of human origin, not proof: a generator whose decoder leaves no comb, or one whose output "
    "was heavily processed afterwards, would not show one either."
)


def unavailable(reason: str) -> SkippedLayer:
    """The artifact layer's :class:`SkippedLayer` for a track it cannot read."""
    return SkippedLayer(NAME, f"The artifact layer did not run: {reason}.",
                        "It needs at least a few seconds of audio sampled at 8 kHz or more.")


def fires(result: LayerResult, thresholds: Thresholds) -> bool:
    """Whether the artifact layer's ``result`` reports a decoder fingerprint: above the decision line."""
    return result.score > thresholds.decision


def layer(comb: Comb, thresholds: Thresholds) -> LayerResult:
    """The artifact layer's result: the comb's numbers scored by the ``comb_*`` rules."""
    return layer_result(NAME, comb.features(), thresholds)


def segment_features(track_features: Mapping[str, float], share: float) -> dict[str, float]:
    """A segment's ``comb_*`` features: the track's comb, carried by ``share`` of the segment's frames.

    A segment that does not carry the comb (``share`` < 0.5) has no comb evidence of its own.
    """
    features = dict(track_features, comb_consistency=share)
    if share < 0.5:
        features["comb_evidence"] = 0.0
    return features


def segment_score(track_features: Mapping[str, float], share: float | None, thresholds: Thresholds) -> float | None:
    """A segment's artifact score from the track's comb features and the share of the segment
    carrying the comb; ``None`` (no score) for a segment too short to hold an FFT frame."""
    if share is None:
        return None
    return score_features(segment_features(track_features, share), ARTIFACT_RULES, thresholds, NAME).score


def summary(description: str, found: bool, evidence: float, thresholds: Thresholds) -> str:
    """The finding in one paragraph, from the comb's ``description`` (:meth:`Comb.describe`)."""
    if found:
        return f"Decoder fingerprint found: {description}."
    if evidence >= thresholds.comb_evidence.human_threshold:
        return (f"No decoder fingerprint found: the most regular comb is too weak or too inconsistent to "
                f"count ({description}). {NOT_FOUND_CAVEAT}")
    return f"No decoder fingerprint found: {description}. {NOT_FOUND_CAVEAT}"


def rescored(old: ArtifactFinding, result: LayerResult, thresholds: Thresholds) -> ArtifactFinding:
    """``old`` restated for the layer's new ``result`` under other ``thresholds`` (nothing recomputed)."""
    found = fires(result, thresholds)
    description = old.description or old.detail
    return replace(old, found=found,
                   summary=summary(description, found, result.features.get("comb_evidence", 0.0), thresholds))


def finding(fp: Fakeprint, comb: Comb, result: LayerResult, thresholds: Thresholds) -> ArtifactFinding:
    """The finding in words and numbers, with the fakeprint to draw."""
    found = fires(result, thresholds)
    description = comb.describe()
    chart_hz, chart_db = fp.chart
    return ArtifactFinding(
        summary=summary(description, found, comb.features()["comb_evidence"], thresholds),
        description=description,
        found=found,
        harmonic=comb.harmonic,
        spacing_hz=comb.spacing_hz,
        offset_hz=comb.offset_hz,
        positions_hz=comb.positions_hz if comb.is_candidate else (),  # chance combs are not drawn
        hits=comb.hits if comb.is_candidate else (),
        prominence_db=comb.prominence_db,
        false_alarm=comb.false_alarm,
        consistency=comb.consistency,
        segment_hits=comb.segment_hits,
        band_hz=comb.band_hz,
        peaks=comb.peaks,
        sample_rate=fp.sample_rate,
        n_fft=fp.n_fft,
        chart_hz=chart_hz,
        chart_db=chart_db,
    )


__all__ = ["NAME", "NOT_FOUND_CAVEAT", "finding", "fires", "layer", "rescored", "segment_features", "segment_score",
           "summary", "unavailable"]
