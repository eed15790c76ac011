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


def segment_score(comb: Comb, index: int, thresholds: Thresholds) -> float | None:
    """Segment ``index``'s artifact score: the track's, where the segment carries the comb, else
    the score of no comb. ``None`` for a segment too short to hold an FFT frame."""
    share = comb.segment_hits[index] if index < len(comb.segment_hits) else None
    if share is None:
        return None
    features = dict(comb.features(), comb_consistency=share)
    if share < 0.5:
        features["comb_evidence"] = 0.0
    return score_features(features, ARTIFACT_RULES, thresholds, NAME).score


def finding(fp: Fakeprint, comb: Comb, result: LayerResult, thresholds: Thresholds) -> ArtifactFinding:
    """The finding in words and numbers, with the fakeprint to draw."""
    found = fires(result, thresholds)
    text = comb.describe()
    if found:
        summary = f"Decoder fingerprint found: {text}."
    elif comb.features()["comb_evidence"] >= thresholds.comb_evidence.human_threshold:
        summary = (f"No decoder fingerprint found: the most regular comb is too weak or too inconsistent to "
                   f"count ({text}). {NOT_FOUND_CAVEAT}")
    else:
        summary = f"No decoder fingerprint found: {text}. {NOT_FOUND_CAVEAT}"
    chart_hz, chart_db = fp.chart
    return ArtifactFinding(
        summary=summary,
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


__all__ = ["NAME", "NOT_FOUND_CAVEAT", "finding", "fires", "layer", "segment_score", "unavailable"]
