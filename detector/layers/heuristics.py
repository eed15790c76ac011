"""Tunable heuristic scoring that explains itself.

A score starts at ``base`` (0.5). Each rule looks at one feature and, by the band the
value falls in, adds a step towards "AI" or subtracts one towards "human". The sum is
clipped to ``[floor, ceiling]``. Every step taken is returned as a
:class:`Contribution`, so the base, the contributions and the clipping add up to the
score exactly.

The defaults are the original detector's values. Profiles are plain JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Literal, Mapping, get_args

from ..errors import DetectorError
from ..features.spectral import SUMMARY_NAMES
from ..types import Contribution, LayerResult

Direction = Literal["below", "above"]
Call = Literal["ai", "human", "inconclusive"]
"""The three-way verdict: the deciding score above, below, or inside the inconclusive band."""
CALLS: tuple[str, ...] = get_args(Call)
VERDICTS = {"ai": "Likely AI-generated", "human": "Likely human-made", "inconclusive": "Inconclusive"}
"""Each call in words, as the gauge, the CLI, the JSON report and the history show it."""


class ProfileError(DetectorError, ValueError):
    """A threshold profile is malformed. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class Rule:
    """Bands on one feature.

    ``ai_when`` says on which side of the thresholds the value looks machine-made.
    For ``"above"``: value > ``ai_threshold`` adds ``ai_step``; otherwise value >
    ``mild_threshold`` (if set) adds ``mild_step``; otherwise value <
    ``human_threshold`` subtracts ``human_step``. ``"below"`` mirrors this.
    """

    ai_when: Direction
    ai_threshold: float
    ai_step: float
    human_threshold: float
    human_step: float
    mild_threshold: float | None = None
    mild_step: float = 0.0

    def band(self, value: float) -> tuple[str, float, float | None]:
        """Return ``(band, delta, threshold crossed)`` for ``value``."""
        beyond = (lambda v, t: v > t) if self.ai_when == "above" else (lambda v, t: v < t)
        if beyond(value, self.ai_threshold):
            return "strong AI", self.ai_step, self.ai_threshold
        if self.mild_threshold is not None and beyond(value, self.mild_threshold):
            return "mild AI", self.mild_step, self.mild_threshold
        if beyond(self.human_threshold, value):
            return "human", -self.human_step, self.human_threshold
        return "neutral", 0.0, None

    def bands(self) -> list[tuple[float, float, str]]:
        """The rule's bands as ``(low, high, band)`` intervals from -inf to +inf, low to high."""
        edges = [self.human_threshold, *([self.mild_threshold] if self.mild_threshold is not None else []),
                 self.ai_threshold]
        names = ["human", "neutral", *(["mild AI"] if self.mild_threshold is not None else []), "strong AI"]
        if self.ai_when == "below":
            edges.reverse()
            names.reverse()
        bounds = [-math.inf, *edges, math.inf]
        return [(lo, hi, band) for lo, hi, band in zip(bounds, bounds[1:], names) if lo < hi]

    def validate(self, name: str) -> None:
        numbers = {k: v for k, v in asdict(self).items() if k != "ai_when" and v is not None}
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ProfileError(f"{name}.{key} must be a finite number, not {value!r}.")
        if self.ai_when not in ("above", "below"):
            raise ProfileError(f'{name}.ai_when must be "above" or "below", not {self.ai_when!r}.')
        for key in ("ai_step", "human_step", "mild_step"):
            if numbers[key] < 0:
                raise ProfileError(f"{name}.{key} must not be negative ({numbers[key]}).")
        # Order the thresholds from the human side to the AI side.
        chain = [("human_threshold", self.human_threshold)]
        if self.mild_threshold is not None:
            chain.append(("mild_threshold", self.mild_threshold))
        chain.append(("ai_threshold", self.ai_threshold))
        if self.ai_when == "below":
            chain.reverse()
        for (lo_key, lo), (hi_key, hi) in zip(chain, chain[1:]):
            if lo > hi:
                raise ProfileError(f"{name}: {lo_key} ({lo}) must not be above {hi_key} ({hi}).")


SPECTRAL_RULES = SUMMARY_NAMES
EMBEDDING_RULES = ("kurtosis", "sparsity", "entropy", "std")
ARTIFACT_RULES = ("comb_evidence", "comb_consistency")
RULES = {"spectral": SPECTRAL_RULES, "clap": EMBEDDING_RULES, "artifacts": ARTIFACT_RULES}
"""The rules of each layer, by layer name."""
ALL_RULES = SPECTRAL_RULES + EMBEDDING_RULES + ARTIFACT_RULES
ADDED_KEYS = ARTIFACT_RULES + ("inconclusive", "stability_width")
"""Every key added after profiles were first saved (a profile without one gets its default)."""
GLOBALS = ("base", "decision", "inconclusive", "floor", "ceiling", "stability_width")
"""The profile's numbers that are not a rule's."""
THRESHOLD_FIELDS = ("ai_threshold", "mild_threshold", "human_threshold")
STEP_FIELDS = ("ai_step", "mild_step", "human_step")


@dataclass(frozen=True)
class Thresholds:
    """Every number of the heuristic. Defaults are the original detector's."""

    base: float = 0.5
    floor: float = 0.1
    ceiling: float = 0.95
    decision: float = 0.5
    # The width of the inconclusive band centred on the decision line: a deciding score within
    # decision +/- inconclusive / 2 says "Inconclusive" rather than pretend to a side. 0 restores the
    # original two-way verdict.
    inconclusive: float = 0.1
    # The widest spread of the deciding score under harmless changes (re-encoding, pitch, trimming...) that a
    # stability check still calls "stable" (detector.analysis.stability); any change of the call is "fragile".
    # Twice the band: one rule of the artifact layer changing band moves its score by 0.15 to 0.35.
    stability_width: float = 0.2
    # spectral layer
    mfcc_variance: Rule = field(default_factory=lambda: Rule("below", 50.0, 0.08, 200.0, 0.06))
    mfcc_kurtosis: Rule = field(default_factory=lambda: Rule("above", 2.0, 0.07, 0.5, 0.05))
    contrast_std: Rule = field(default_factory=lambda: Rule("below", 5.0, 0.06, 12.0, 0.05))
    flatness_mean: Rule = field(default_factory=lambda: Rule("below", 0.05, 0.05, 0.2, 0.04))
    # CLAP embedding layer
    kurtosis: Rule = field(default_factory=lambda: Rule("above", 3.0, 0.10, 0.5, 0.08, 1.5, 0.05))
    sparsity: Rule = field(default_factory=lambda: Rule("above", 0.15, 0.08, 0.03, 0.06, 0.08, 0.03))
    entropy: Rule = field(default_factory=lambda: Rule("below", 0.75, 0.10, 0.92, 0.07, 0.85, 0.04))
    std: Rule = field(default_factory=lambda: Rule("below", 0.15, 0.06, 0.35, 0.05))
    # artifact layer (decoder fingerprint). comb_evidence is -log10 of the comb's false-alarm bound:
    # 3 means a human track shows a comb this regular less than once in 1,000 tracks.
    comb_evidence: Rule = field(default_factory=lambda: Rule("above", 3.0, 0.30, 1.0, 0.25))
    # the share of segments that carry the comb: a decoder's lines stay put, a note's partials move on.
    comb_consistency: Rule = field(default_factory=lambda: Rule("above", 0.6, 0.0, 0.3, 0.35))

    def rule(self, feature: str) -> Rule:
        return getattr(self, feature)

    @property
    def band(self) -> tuple[float, float]:
        """The inconclusive band ``(low, high)`` around the decision line."""
        half = self.inconclusive / 2
        return self.decision - half, self.decision + half

    def call(self, score: float) -> Call:
        """The three-way verdict for a deciding ``score``.

        ``"ai"`` above the band, ``"human"`` below it, ``"inconclusive"`` inside it (its
        edges included). With a band of width 0 this is the original rule: AI above the
        decision line, human at or below it.
        """
        low, high = self.band
        if score > high:
            return "ai"
        if score < low or (self.inconclusive == 0 and score <= self.decision):
            return "human"
        return "inconclusive"

    def validate(self) -> "Thresholds":
        for key in GLOBALS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ProfileError(f"{key} must be a finite number, not {value!r}.")
            if not 0.0 <= value <= 1.0:
                raise ProfileError(f"{key} must lie between 0 and 1 ({value}).")
        if not self.floor < self.ceiling:
            raise ProfileError(f"floor ({self.floor}) must be below ceiling ({self.ceiling}).")
        if self.inconclusive >= 1:
            raise ProfileError(f"inconclusive (the band's width, {self.inconclusive}) must be below 1.")
        for name in ALL_RULES:
            self.rule(name).validate(name)
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> "Thresholds":
        """Build and validate thresholds from a profile mapping.

        Every key must be present (a profile is complete, so a typo never silently
        falls back to a default), and no unknown key is accepted.
        """
        if not isinstance(data, Mapping):
            raise ProfileError("A threshold profile must be a JSON object.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"Unknown key(s) in profile: {', '.join(unknown)}.")
        missing = sorted(known - set(data) - set(ADDED_KEYS))
        if missing:
            raise ProfileError(f"Missing key(s) in profile: {', '.join(missing)}.")
        values = {}
        rule_keys = {f.name for f in fields(Rule)}
        for name in known & set(data):
            raw = data[name]
            if name in ALL_RULES:
                if not isinstance(raw, Mapping):
                    raise ProfileError(f"{name} must be an object of thresholds and steps.")
                bad = sorted(set(raw) - rule_keys)
                if bad:
                    raise ProfileError(f"Unknown key(s) in {name}: {', '.join(bad)}.")
                need = sorted(rule_keys - {"mild_threshold", "mild_step"} - set(raw))
                if need:
                    raise ProfileError(f"Missing key(s) in {name}: {', '.join(need)}.")
                values[name] = Rule(**raw)
            else:
                values[name] = raw
        return cls(**values).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Thresholds":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"The profile is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Thresholds":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"Cannot read the profile {path}: {exc}") from None
        return cls.from_json(text)

    def with_rule(self, feature: str, **changes) -> "Thresholds":
        """A copy with some numbers of one rule changed (for sliders)."""
        return replace(self, **{feature: replace(self.rule(feature), **changes)})


@dataclass(frozen=True)
class HeuristicScore:
    """A clipped score and the contributions that add up to it.

    ``base + sum(c.delta) + clip_adjustment == score``.
    """

    score: float
    base: float
    contributions: tuple[Contribution, ...]
    clip_adjustment: float


def score_features(
    features: Mapping[str, float], rules: tuple[str, ...], thresholds: Thresholds, layer: str
) -> HeuristicScore:
    """Score ``features`` with the named ``rules`` of ``thresholds``."""
    contributions = []
    for name in rules:
        value = float(features[name])
        band, delta, crossed = thresholds.rule(name).band(value)
        contributions.append(Contribution(layer, name, value, band, float(delta), crossed))
    raw = thresholds.base + sum(c.delta for c in contributions)
    score = min(max(raw, thresholds.floor), thresholds.ceiling)
    return HeuristicScore(score, thresholds.base, tuple(contributions), score - raw)


def layer_result(name: str, features: Mapping[str, float], thresholds: Thresholds) -> LayerResult:
    """The layer ``name`` (``"spectral"``, ``"clap"`` or ``"artifacts"``) scored on ``features``."""
    s = score_features(features, RULES[name], thresholds, name)
    return LayerResult(name, s.score, dict(features), s.base, s.contributions, s.clip_adjustment)


__all__ = [
    "ADDED_KEYS", "ALL_RULES", "CALLS", "VERDICTS", "Call", "ARTIFACT_RULES", "EMBEDDING_RULES", "GLOBALS", "RULES", "SPECTRAL_RULES", "STEP_FIELDS", "THRESHOLD_FIELDS", "HeuristicScore",
    "ProfileError", "Rule", "Thresholds", "layer_result", "score_features",
]
