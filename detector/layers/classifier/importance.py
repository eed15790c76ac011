"""What drove a trained classifier: the permutation importance kept in its model card.

Training (:mod:`detector.training.importance`) measures, for the model's inputs, how
much accuracy drops when one input's values are shuffled across tracks the model was
not trained on, and stores the largest drops in the card's ``importance`` entry:

.. code-block:: json

    {"method": "permutation", "source": "held-out", "scoring": "accuracy",
     "n_samples": 40, "n_repeats": 10, "seed": 0, "inputs": 512, "measured": 64,
     "screened_by": "the random forest's impurity importance",
     "top": [{"feature": "clap_017", "name": "embedding dim 17", "mean": 0.12, "std": 0.03}, ...]}

``source`` is ``"held-out"`` (the held-out split, scored by the model trained on the
rest) or ``"out-of-fold"`` (each cross-validation fold, scored by the model trained on
the other folds: used when there is no held-out split). ``feature`` is the name in the
feature set; ``name`` is for a person (spectral names as they are, ``"embedding dim
17"`` for CLAP, ``"fakeprint 5.23 kHz"`` for a fakeprint cell). ``top`` holds at most
:data:`IMPORTANCE_TOP` inputs whose mean drop is positive, largest first. Cards written
before importance was recorded have no entry; :meth:`Importance.from_card` then gives None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...features.vectors import CLAP, FAKEPRINT, FeatureSet

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

IMPORTANCE_TOP = 10
"""Inputs kept in the card: the largest mean drops, positive ones only."""

_CELL = re.compile(r"^fakeprint_(\d+)hz$")
_DIM = re.compile(r"^clap_(\d+)$")


def feature_label(feature_set: FeatureSet, feature: str) -> str:
    """A person's name for one input of ``feature_set``.

    Spectral names stay as they are (``"mfcc_mean_03"``); a CLAP dimension is
    ``"embedding dim 17"``; a fakeprint cell is named by its lower edge,
    ``"fakeprint 5.23 kHz"`` (cells are 10 Hz wide).
    """
    if feature_set is CLAP and (m := _DIM.match(feature)):
        return f"embedding dim {int(m.group(1))}"
    if feature_set is FAKEPRINT and (m := _CELL.match(feature)):
        return f"fakeprint {int(m.group(1)) / 1000:.2f} kHz"
    return feature


def input_ranking(pipeline: Pipeline) -> np.ndarray:
    """The model's inputs, most relied on first, by the fitted model's own measure.

    For a logistic regression, the weights by magnitude (its inputs are standardised,
    so they compare); for the ensemble, the random forest's impurity importances.
    Cheap, but blind to the SVM half of the ensemble and measured on training data;
    :mod:`detector.training.importance` uses it only to choose which inputs to measure
    when there are too many to measure all.
    """
    final = pipeline.steps[-1][1]
    if hasattr(final, "coef_"):
        scores = np.abs(np.asarray(final.coef_, dtype=np.float64)).ravel()
    else:
        scores = np.asarray(final.named_estimators_["rf"].feature_importances_, dtype=np.float64)
    return np.argsort(-scores, kind="stable")


@dataclass(frozen=True)
class FeatureImportance:
    """One input's permutation importance.

    Attributes
    ----------
    feature : str
        Its name in the feature set (``"clap_017"``).
    name : str
        Its name for a person (``"embedding dim 17"``).
    mean, std : float
        Mean and standard deviation of the accuracy drop (0-1) over the shuffles.
    """

    feature: str
    name: str
    mean: float
    std: float


@dataclass(frozen=True)
class Importance:
    """The permutation importance of a model, as its card keeps it (see the module docstring)."""

    source: str
    n_samples: int
    n_repeats: int
    inputs: int
    measured: int
    top: tuple[FeatureImportance, ...]
    screened_by: str | None = None
    scoring: str = "accuracy"
    seed: int = 0
    method: str = "permutation"

    @property
    def drivers(self) -> tuple[tuple[str, float], ...]:
        """``(name, mean drop)`` of :attr:`top`, largest first, as :class:`~detector.types.LayerResult` carries them."""
        return tuple((f.name, f.mean) for f in self.top)

    def describe(self) -> str:
        """Where and how it was measured, for a person.

        "permutation importance on 20 held-out tracks, scored by the model trained on the rest,
        10 shuffles per input", plus which inputs when not all were measured.
        """
        where = (f"{self.n_samples} held-out tracks, scored by the model trained on the rest"
                 if self.source == "held-out" else
                 f"out-of-fold predictions for {self.n_samples} tracks (each fold scored by the model trained on "
                 "the other folds; there was no held-out split)")
        text = f"permutation importance on {where}, {self.n_repeats} shuffles per input"
        if self.measured < self.inputs:
            text += (f"; {self.measured} of the {self.inputs} inputs measured, chosen by {self.screened_by}"
                     if self.screened_by else f"; {self.measured} of the {self.inputs} inputs measured")
        return text

    def to_dict(self) -> dict:
        """The card's ``importance`` entry (JSON-ready)."""
        data = asdict(self)
        data["top"] = [asdict(f) for f in self.top]
        return data

    @classmethod
    def from_card(cls, card: Mapping | None) -> "Importance | None":
        """The ``importance`` entry of a model card, or None when absent or malformed.

        The card is display data beside a verified model file, so a damaged entry
        costs only the explanation, never the model.
        """
        data = (card or {}).get("importance") if isinstance(card, Mapping) else None
        if not isinstance(data, Mapping):
            return None
        try:
            top = tuple(FeatureImportance(str(f["feature"]), str(f["name"]), float(f["mean"]), float(f["std"]))
                        for f in data.get("top", ()))
            result = cls(str(data["source"]), int(data["n_samples"]), int(data["n_repeats"]), int(data["inputs"]),
                         int(data["measured"]), top, data.get("screened_by"), str(data.get("scoring", "accuracy")),
                         int(data.get("seed", 0)), str(data.get("method", "permutation")))
        except (KeyError, TypeError, ValueError):
            return None
        if not all(math.isfinite(f.mean) and math.isfinite(f.std) for f in top):
            return None
        return result


__all__ = ["IMPORTANCE_TOP", "FeatureImportance", "Importance", "feature_label", "input_ranking"]
