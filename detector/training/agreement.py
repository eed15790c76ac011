"""Whether a classifier trained on fp32 CLAP embeddings decides the same on reduced-precision ones.

Out of fold, so that the tracks it decides on include the hard ones: in each of ``folds``
stratified folds a model is fitted on the fp32 vectors of the other folds, then decides
this fold's tracks twice, from their fp32 and from their reduced-precision vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers.classifier.pipeline import LOGISTIC, build_pipeline, fit

MIN_AGREEMENT = 0.99
"""A reduced precision must leave at least this share of a classifier's decisions unchanged."""


@dataclass(frozen=True)
class Agreement:
    """Out-of-fold decisions (P(AI) > 0.5) from fp32 and from reduced-precision vectors of the same tracks.

    ``accuracy`` is the fp32 decisions' (how hard the task was: a task every fold gets
    right by a wide margin says little); ``max_change`` the largest change of P(AI);
    ``near_boundary`` how many fp32 decisions were within ``max_change`` of 0.5.
    """

    tracks: int
    agreeing: int
    accuracy: float
    accuracy_reduced: float
    max_change: float
    near_boundary: int

    @property
    def share(self) -> float:
        return self.agreeing / self.tracks

    def summary(self) -> str:
        ok = "ok" if self.share >= MIN_AGREEMENT else f"BELOW {MIN_AGREEMENT:.0%}"
        return (f"{self.agreeing}/{self.tracks} decisions agree ({self.share:.1%}, {ok}); out-of-fold accuracy "
                f"fp32 {self.accuracy:.1%}, reduced {self.accuracy_reduced:.1%}; largest P(AI) change "
                f"{self.max_change:.3f}, {self.near_boundary} fp32 decision(s) that close to 0.5")


def decision_agreement(reference: np.ndarray, reduced: np.ndarray, y: np.ndarray, *, kind: str = LOGISTIC.name,
                       folds: int = 5, seed: int = 0) -> Agreement:
    """Out-of-fold :class:`Agreement` of a ``kind`` model trained on ``reference`` (fp32) vectors (n, d).

    Parameters
    ----------
    reference, reduced
        The same tracks' vectors, fp32 and reduced precision, shape (n, d).
    y
        Labels (0 human, 1 AI), shape (n,); each class needs at least ``folds`` tracks.
    """
    from sklearn.model_selection import StratifiedKFold

    reference, reduced = np.asarray(reference, np.float64), np.asarray(reduced, np.float64)
    y = np.asarray(y, int)
    if reference.shape != reduced.shape or len(reference) != len(y):
        raise ValueError(f"Need the same tracks' vectors and labels, not {reference.shape}, {reduced.shape}, "
                         f"{y.shape}.")
    p_ref, p_red = np.empty(len(y)), np.empty(len(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(reference, y):
        model = fit(build_pipeline(seed, kind), reference[train], y[train])
        p_ref[test] = model.predict_proba(reference[test])[:, 1]
        p_red[test] = model.predict_proba(reduced[test])[:, 1]
    change = float(np.abs(p_ref - p_red).max())
    return Agreement(len(y), int(((p_ref > 0.5) == (p_red > 0.5)).sum()), float(((p_ref > 0.5) == y).mean()),
                     float(((p_red > 0.5) == y).mean()), change, int((np.abs(p_ref - 0.5) <= change).sum()))


__all__ = ["MIN_AGREEMENT", "Agreement", "decision_agreement"]
