"""How far reduced-precision CLAP embeddings are from fp32's: cosine per window, embedding statistics.

What :mod:`detector.bench` (``--clap``) prints and ``tests/test_clap_precision.py``
holds to the tolerances below. Numpy only: the embeddings come in as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...features.embedding import embedding_stats

MIN_COSINE = 0.99
"""Every window's reduced-precision embedding must have at least this cosine to its fp32 embedding."""

STAT_TOLERANCES: dict[str, float] = {"kurtosis": 0.05, "sparsity": 0.02, "entropy": 0.002, "std": 1e-4}
"""Largest absolute change per window of each statistic the CLAP rules read (sparsity 0.02: about ten of
the 512 entries crossing the 1 %-of-max line; the rules' steps are 0.03 apart or more)."""


@dataclass(frozen=True)
class Drift:
    """Reduced-precision embeddings (n, 512) against fp32's of the same windows.

    ``cosines`` per window; ``stat_changes`` the largest absolute change over the
    windows of each statistic in :data:`STAT_TOLERANCES`.
    """

    cosines: np.ndarray
    stat_changes: dict[str, float]

    @property
    def min_cosine(self) -> float:
        return float(self.cosines.min())

    @property
    def mean_cosine(self) -> float:
        return float(self.cosines.mean())

    def problems(self) -> list[str]:
        """What is outside :data:`MIN_COSINE` or :data:`STAT_TOLERANCES` (empty: all within)."""
        out = [] if self.min_cosine >= MIN_COSINE else [f"min cosine {self.min_cosine:.5f} < {MIN_COSINE}"]
        out += [f"{k} changed by {v:.3g} > {STAT_TOLERANCES[k]:g}" for k, v in self.stat_changes.items()
                if v > STAT_TOLERANCES[k]]
        return out

    def summary(self) -> str:
        """One line: cosine min/mean and each statistic's largest change against its tolerance."""
        stats = ", ".join(f"{k} {v:.2g} (<= {STAT_TOLERANCES[k]:g})" for k, v in self.stat_changes.items())
        verdict = "within tolerances" if not self.problems() else "OUT OF TOLERANCE: " + "; ".join(self.problems())
        return (f"cosine to fp32 min {self.min_cosine:.5f}, mean {self.mean_cosine:.5f} (>= {MIN_COSINE}); "
                f"largest change per window: {stats}; {verdict}")


def drift(reference: np.ndarray, reduced: np.ndarray) -> Drift:
    """The :class:`Drift` of ``reduced`` embeddings from ``reference`` (fp32) ones, both (n, 512).

    Raises
    ------
    ValueError
        If the shapes differ or there are no windows.
    """
    a, b = np.atleast_2d(np.asarray(reference, np.float64)), np.atleast_2d(np.asarray(reduced, np.float64))
    if a.shape != b.shape or not len(a):
        raise ValueError(f"Need embeddings of the same windows, not {a.shape} and {b.shape}.")
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    changes = {k: 0.0 for k in STAT_TOLERANCES}
    for x, y in zip(a, b):
        sx, sy = embedding_stats(x), embedding_stats(y)
        for k in changes:
            changes[k] = max(changes[k], abs(sx[k] - sy[k]))
    return Drift(cosines, changes)


__all__ = ["MIN_COSINE", "STAT_TOLERANCES", "Drift", "drift"]
