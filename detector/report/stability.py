"""How a verdict holds up under changes that keep the music the same: the typed result and its words.

:func:`summarise` turns the original analysis and the scores of its perturbed copies
(:func:`detector.analysis.stability.check_stability` makes them) into a :class:`Stability`:
the spread of the deciding score, which perturbations changed the call, and one of three
summaries. "stable": no call changed and the spread is within the profile's
``stability_width``; "fragile": at least one call changed; "inconclusive": neither (the
spread is wider than allowed without a change of call, or too few perturbations ran).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..layers.heuristics import Thresholds
from ..types import deep_nbytes

Summary = Literal["stable", "fragile", "inconclusive"]
SUMMARY_WORDS = {"stable": "Stable", "fragile": "Fragile", "inconclusive": "Inconclusive"}
"""Each summary as the panel, the CLI and the history show it."""
CALL_WORDS = {"ai": "AI", "human": "human", "inconclusive": "inconclusive"}
MIN_SHARE_RUN = 0.5
"""A verdict is called stable only when at least this share of the perturbations ran."""


@dataclass(frozen=True)
class PerturbedResult:
    """The analysis of one perturbed copy, or why there is none.

    ``layers`` holds every layer's score; ``features`` the rule layers' features, so the
    result can be rescored under other thresholds without the audio; ``skipped`` says why
    the perturbation did not run ("" when it did).
    """

    name: str
    description: str
    score: float | None = None
    call: str = ""
    decided_by: str = ""
    layers: dict[str, float] = field(default_factory=dict)
    features: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: str = ""
    seconds: float = field(default=0.0, compare=False)
    """Wall time of this perturbation and its analysis (not part of equality: it varies run to run)."""

    @property
    def ran(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class Stability:
    """How the verdict of one analysis held up under a set of perturbations.

    Attributes
    ----------
    summary : {"stable", "fragile", "inconclusive"}
        See the module's docstring; ``words`` says it with the numbers.
    score, call, decided_by, layers
        The original analysis: its deciding score and call, the deciding layer, every layer's score.
    perturbations
        One result per perturbation, in the set's order, those that could not run included.
    spread
        Highest minus lowest deciding score over the original and every perturbation that ran.
    flips
        The names of the perturbations whose call differs from the original's.
    layer_spread, layer_flips
        Per layer: the spread of its score, and under how many perturbations its own call
        (its score against the decision line and band) changed.
    width, decision, band
        The profile's ``stability_width``, decision line and inconclusive band this was judged with.
    perturbation_set
        The set's name (``"standard"``, or the names it holds).
    """

    summary: Summary
    words: str
    score: float
    call: str
    decided_by: str
    layers: dict[str, float]
    perturbations: tuple[PerturbedResult, ...]
    spread: float
    flips: tuple[str, ...]
    layer_spread: dict[str, float]
    layer_flips: dict[str, int]
    width: float
    decision: float
    band: tuple[float, float]
    perturbation_set: str = "standard"
    seconds: float = field(default=0.0, compare=False)

    @property
    def nbytes(self) -> int:
        """About how many bytes this result holds in memory: a cache's measure."""
        return deep_nbytes(self)

    @property
    def title(self) -> str:
        """``"Stable"``, ``"Fragile"`` or ``"Inconclusive"``."""
        return SUMMARY_WORDS[self.summary]

    @property
    def ran(self) -> tuple[PerturbedResult, ...]:
        """The perturbations that ran."""
        return tuple(p for p in self.perturbations if p.ran)


def _range(values: Sequence[float]) -> tuple[float, float, float]:
    lo, hi = min(values), max(values)
    return lo, hi, hi - lo


def summarise(score: float, call: str, decided_by: str, layers: Mapping[str, float],
              results: Sequence[PerturbedResult], thresholds: Thresholds, *, perturbation_set: str = "standard",
              seconds: float = 0.0) -> Stability:
    """The :class:`Stability` of an analysis (its deciding ``score``, ``call``, ``decided_by`` and layer
    scores) whose perturbed copies scored ``results``, judged with ``thresholds``."""
    ran = [r for r in results if r.ran]
    lo, hi, spread = _range([score, *(r.score for r in ran)])
    flips = tuple(r.name for r in ran if r.call != call)
    layer_spread, layer_flips = {}, {}
    for name, base in layers.items():
        values = [r.layers[name] for r in ran if name in r.layers]
        layer_spread[name] = _range([base, *values])[2]
        layer_flips[name] = sum(thresholds.call(v) != thresholds.call(base) for v in values)
    width = float(thresholds.stability_width)
    verdict = f"the call ({CALL_WORDS.get(call, call)}, {score:.2f})"
    scores = f"the score ranged from {lo:.2f} to {hi:.2f}, a spread of {spread:.2f}"
    if not ran:
        summary: Summary = "inconclusive"
        words = "Inconclusive: none of the perturbations could run, so nothing is known about how the verdict holds up."
    elif flips:
        summary = "fragile"
        changed = [r for r in ran if r.call != call]
        shown = "; ".join(f"{r.description} → {CALL_WORDS.get(r.call, r.call)} ({r.score:.2f})" for r in changed[:4])
        more = f"; and {len(changed) - 4} more" if len(changed) > 4 else ""
        words = (f"Fragile: {verdict} changed under {len(changed)} of {len(ran)} perturbations: {shown}{more}. "
                 f"{scores[:1].upper()}{scores[1:]}.")
    elif len(ran) < MIN_SHARE_RUN * len(results):
        summary = "inconclusive"
        words = (f"Inconclusive: {verdict} held under the {len(ran)} perturbations that ran, but only {len(ran)} of "
                 f"{len(results)} could run; {scores}.")
    elif spread > width:
        summary = "inconclusive"
        words = (f"Inconclusive: no perturbation changed {verdict}, but {scores}, more than the {width:.2f} a stable "
                 "verdict allows.")
    else:
        summary = "stable"
        words = (f"Stable: {verdict} held under all {len(ran)} perturbations that ran; {scores}, within the "
                 f"{width:.2f} a stable verdict allows.")
    skipped = [r for r in results if not r.ran]
    if skipped:
        words += (f" {len(skipped)} did not run: "
                  + "; ".join(f"{r.description} ({r.skipped})" for r in skipped) + ".")
    return Stability(summary, words, float(score), call, decided_by, dict(layers), tuple(results), float(spread),
                     flips, layer_spread, layer_flips, width, float(thresholds.decision),
                     tuple(float(b) for b in thresholds.band), perturbation_set, float(seconds))


def stability_from_dict(data: Mapping | None) -> Stability | None:
    """A :class:`Stability` from its ``asdict`` form (a report's JSON), or None without one.

    Keys this version does not know are dropped. Raises ``TypeError``/``KeyError``/``ValueError``
    on data that cannot form one (the report reader turns those into a readable error).
    """
    if data is None:
        return None
    known = {k: v for k, v in data.items() if k in Stability.__dataclass_fields__}
    results = tuple(PerturbedResult(**{k: v for k, v in r.items() if k in PerturbedResult.__dataclass_fields__})
                    for r in data.get("perturbations", ()))
    return Stability(**{**known, "perturbations": results, "flips": tuple(data.get("flips", ())),
                        "band": tuple(data["band"])})


__all__ = ["CALL_WORDS", "MIN_SHARE_RUN", "SUMMARY_WORDS", "PerturbedResult", "Stability", "Summary",
           "stability_from_dict", "summarise"]
