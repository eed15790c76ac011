"""Reopening a stored analysis: the thresholds it was made with, and the same analysis rescored with others.

A stored report keeps the profile it was scored with (``report.thresholds``), so the
history redraws it as it was made, not against whatever profile is active today;
:func:`rescored` is the separate, explicit step of scoring its stored features again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis import rescore
from ..layers.heuristics import Thresholds
from ..report import DetectionReport, ReportError


def made_with(report: DetectionReport) -> Thresholds:
    """The thresholds ``report`` was scored with.

    A report from before a threshold existed (``ADDED_KEYS``) gets that one's default.

    Raises
    ------
    ProfileError
        If the stored thresholds are not a valid profile for this version.
    """
    return Thresholds.from_dict(report.thresholds)


@dataclass(frozen=True)
class Rescored:
    """A stored analysis and the same analysis scored again with other thresholds.

    Attributes
    ----------
    before : DetectionReport
        As it was made.
    after : DetectionReport
        Its stored features scored with ``thresholds`` (a trained classifier's P(AI) is kept).
    thresholds : Thresholds
        What ``after`` was scored with.
    """

    before: DetectionReport
    after: DetectionReport
    thresholds: Thresholds

    @property
    def score_change(self) -> float:
        """``after.score - before.score``."""
        return self.after.score - self.before.score

    @property
    def call_changed(self) -> bool:
        """Whether the three-way call differs."""
        return self.after.call != self.before.call


def rescored(report: DetectionReport, thresholds: Thresholds) -> Rescored:
    """``report`` and the same analysis rescored with ``thresholds`` (:func:`detector.analysis.rescore`).

    Raises
    ------
    ProfileError
        If ``thresholds`` are invalid.
    ReportError
        If the stored report lacks a feature that a rule of ``thresholds`` needs.
    """
    try:
        after = rescore(report, thresholds)
    except KeyError as exc:
        raise ReportError(f"This stored analysis lacks the feature {exc.args[0]!r} that today's rules score, so it "
                          "cannot be rescored. Analyse the track again to rescore it.") from None
    return Rescored(report, after, thresholds)


__all__ = ["Rescored", "made_with", "rescored"]
