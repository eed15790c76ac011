"""A report in plain words: what the verdict rests on, which evidence pointed which way, and a glossary.

The dashboard shows :func:`explain`'s sentences at the top of every analysis and the CLI
prints them, so a reader never has to infer the verdict from the charts. The words
claim only what each layer can claim: a trained classifier gives a calibrated P(AI);
the rule-based layers give a score made of rule steps, which is not a probability.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..layers.heuristics import Thresholds
from .schema import DetectionReport
from .tables import feature_label

GLOSSARY = {
    "MFCC variance": "How much the timbre moves: the variance of the 20 mel-frequency cepstral coefficients (MFCCs, a "
                     "compact description of the spectral envelope) over all frames. Static, uniform timbre gives "
                     "low values.",
    "Kurtosis": "How peaked or heavy-tailed a distribution is (0 for a normal distribution). For MFCCs, over time per "
                "coefficient; for the CLAP embedding, over its 512 values.",
    "Spectral contrast": "The level difference between peaks and valleys in each octave band; its spread (std) says "
                         "how much that texture varies.",
    "Flatness": "How noise-like the spectrum is: 1 for white noise, near 0 for clear tones. Real music is mostly "
                "below 0.05.",
    "Sparsity": "The share of the CLAP embedding's values that are nearly zero (below 1 % of its largest value).",
    "Entropy": "How evenly the CLAP embedding spreads its energy over its 512 values (1: perfectly even).",
    "Decoder fingerprint": "Evenly spaced narrow lines in the long-term spectrum that the upsampling layers of a "
                           "neural audio decoder leave, at positions fixed by its architecture.",
}
"""The terms an analysis shows, each explained in one or two sentences (the dashboard's tooltips)."""

SIDE = {"ai": "towards AI", "human": "towards human", "inconclusive": "inside the inconclusive band"}
LAYER_WORDS = {"artifacts": "the artifact layer (decoder fingerprint)", "classifier": "the trained classifier",
               "clap": "the CLAP embedding rules", "spectral": "the spectral rules"}


@dataclass(frozen=True)
class Explanation:
    """An analysis in plain words.

    ``headline``: the verdict and what it rests on; ``evidence``: which layer pointed
    which way; ``segments``: how the per-segment timeline relates to the track's verdict
    (None without segments), and ``segments_disagree`` when at least half the segments
    lie on the other side of the verdict, which the page must not leave unexplained.
    """

    headline: str
    evidence: str
    segments: str | None
    segments_disagree: bool = False


def _layer_sentence(report: DetectionReport, name: str, thresholds: Thresholds) -> str:
    layer = report.layers[name]
    side = SIDE[thresholds.call(layer.score)]
    if name == "artifacts" and report.artifacts is not None:
        if report.artifacts.found:
            return (f"a decoder fingerprint was found (peaks every {report.artifacts.spacing_hz:,.0f} Hz), "
                    f"which points towards AI")
        return "no decoder fingerprint was found, which points towards human origin (evidence, not proof)"
    if name == "classifier":
        return f"the trained classifier gives P(AI) = {layer.score:.2f}, {side}"
    votes = sorted((c for c in layer.contributions if c.delta), key=lambda c: -abs(c.delta))[:2]
    why = ", ".join(f"{feature_label(c.feature)}: {c.band}" for c in votes)
    return f"{LAYER_WORDS[name]} score {layer.score:.2f}, {side}" + (f" ({why})" if why else "")


def _segments_note(report: DetectionReport, thresholds: Thresholds) -> tuple[str | None, bool]:
    if not report.segments:
        return None, False
    calls = Counter(thresholds.call(s.score) for s in report.segments)
    n = len(report.segments)
    per = report.decided_by if all(report.decided_by in s.layer_scores for s in report.segments) else None
    source = (f"Each segment is scored by {LAYER_WORDS.get(per, per)}" if per else
              f"Each segment is scored by the rule layers ({LAYER_WORDS.get(report.decided_by, report.decided_by)} "
              "scores whole tracks only)")
    against = {"ai": calls["human"], "human": calls["ai"]}.get(report.call, 0)
    if report.call in ("ai", "human") and against * 2 >= n:
        other = "human" if report.call == "ai" else "AI"
        return (f"{against} of {n} segments score on the {other} side although the whole track scores "
                f"{'AI' if report.call == 'ai' else 'human'}. {source}. The track's score comes from statistics of "
                "the whole track (for example the MFCC variance over all its frames), which are not the average of "
                "its segments' statistics: a track whose parts each look uniform can vary a lot as a whole, and the "
                "reverse. Read the segments as where the evidence sits, not as votes."), True
    counts = ", ".join(f"{calls[c]} {word}" for c, word in (("ai", "AI"), ("inconclusive", "inconclusive"),
                                                           ("human", "human")) if calls[c])
    return f"{source}: {counts} of {n}.", False


def explain(report: DetectionReport, thresholds: Thresholds) -> Explanation:
    """``report``, scored with ``thresholds``, in two or three plain sentences (see :class:`Explanation`)."""
    low, high = thresholds.band
    decider = LAYER_WORDS.get(report.decided_by, report.decided_by)
    if report.score_name == "P(AI)":
        number = f"P(AI) = {report.score:.2f} from {decider}, a probability calibrated on its training data"
    else:
        number = f"Score {report.score:.2f} from {decider}: points from its rules, not a probability"
    where = {"ai": "above", "human": "below", "inconclusive": "inside"}[report.call]
    headline = f"{number}; {where} the inconclusive band ({low:.2f}-{high:.2f})"
    headline += " around the decision line, so neither side is claimed." if report.call == "inconclusive" else "."
    others = [n for n in report.layers if n != report.decided_by]
    first = _layer_sentence(report, report.decided_by, thresholds)
    evidence = first[0].upper() + first[1:] + "; it decides."
    if others:
        evidence += " Also shown: " + "; ".join(_layer_sentence(report, n, thresholds) for n in others) + "."
        if report.decided_by in ("artifacts", "classifier") and {"spectral", "clap"} & set(others):
            evidence += " The spectral and CLAP rules are uncalibrated, so they inform but do not decide."
    return Explanation(headline, evidence, *_segments_note(report, thresholds))


__all__ = ["GLOSSARY", "Explanation", "explain"]
