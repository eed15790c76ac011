"""A loaded, verified classifier: P(AI) for a track, as the ``classifier`` layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...errors import DetectorError
from ...features.track import TrackFeatures
from ...features.vectors import CLAP, FAKEPRINT, FeatureSet, FeatureSetUnavailable, vector_for
from ...types import LayerResult
from ..clap.precision import DEFAULT_PRECISION, recorded_precision
from .importance import Importance, input_ranking

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

TOP_INPUTS = 5


class ModelError(DetectorError, ValueError):
    """A model file cannot be used. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class TrainedModel:
    """A loaded, verified model and its card; scores tracks as P(AI)."""

    pipeline: Pipeline
    card: dict
    path: Path
    sha256: str
    feature_set: FeatureSet
    warnings: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def clap_precision(self) -> str | None:
        """The precision of the CLAP embeddings it was trained on (None: it does not take CLAP embeddings).

        Cards from before the precision was recorded were trained on fp32 embeddings.
        """
        if self.feature_set is not CLAP:
            return None
        return recorded_precision(self.card.get("clap")) or DEFAULT_PRECISION

    def identity(self) -> dict[str, str]:
        """What identifies this model in a report's ``versions``."""
        return {"classifier_model": self.path.name, "classifier_sha256": self.sha256,
                "classifier_feature_set": self.feature_set.version}

    def vector(self, track: TrackFeatures) -> np.ndarray:
        """The model's input vector for ``track``.

        Raises
        ------
        FeatureSetUnavailable
            The track lacks this model's features (e.g. a clap model and no CLAP layer,
            embeddings from a different CLAP checkpoint, or a fakeprint model and a track
            sampled too low for a fakeprint).
        """
        if self.feature_set is FAKEPRINT and track.fakeprint is None:
            raise FeatureSetUnavailable(
                f"the model {self.name} was trained on fakeprints (fakeprint-v1), and this track has none: "
                f"at {track.source_rate} Hz and {track.duration:.1f} s there is no band above 1 kHz to take it from")
        if self.feature_set is CLAP:
            if track.clap is None:
                raise FeatureSetUnavailable(
                    f"the model {self.name} was trained on CLAP embeddings (clap-512), and the CLAP layer "
                    "did not run for this track")
            want = (self.card.get("clap") or {}).get("checkpoint_sha256")
            if want and track.clap.checkpoint_sha256 != want:
                raise FeatureSetUnavailable(
                    f"the model {self.name} was trained on embeddings of the CLAP checkpoint "
                    f"{self.card['clap'].get('checkpoint') or want[:12]}, but this track was embedded with "
                    f"{track.clap.checkpoint}")
        return vector_for(track, self.feature_set)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(AI) for each row of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.feature_set.size:
            raise FeatureSetUnavailable(
                f"the model {self.name} expects {self.feature_set.size} {self.feature_set.version} features, "
                f"not {X.shape[1]}")
        return self.pipeline.predict_proba(X)[:, 1]

    def probability(self, track: TrackFeatures) -> float:
        """P(AI) for one track."""
        return float(self.predict_proba(self.vector(track))[0])

    def top_inputs(self, n: int = TOP_INPUTS) -> tuple[int, ...]:
        """Indices of the ``n`` inputs the model relies on most, by the fitted model's own measure.

        For the ensemble, the random forest's importances; for a logistic regression,
        the largest weights by magnitude (its inputs are standardised, so they compare).
        See :func:`~.importance.input_ranking`; :attr:`importance` is the measured one.
        """
        return tuple(int(i) for i in input_ranking(self.pipeline)[:n])

    @property
    def importance(self) -> Importance | None:
        """The permutation importance its card records, or None (cards from before it was kept)."""
        return Importance.from_card(self.card)

    def layer(self, track: TrackFeatures) -> LayerResult:
        """The ``"classifier"`` layer for ``track``: P(AI), what drove the model, and the track's values of it.

        ``drivers`` are the card's permutation importances (largest first) and
        ``features`` the track's values of those inputs, under the same names. A card
        without importance gives no drivers, and ``features`` holds the values of the
        :data:`TOP_INPUTS` inputs of :meth:`top_inputs`.
        """
        vec = self.vector(track)
        p = float(self.predict_proba(vec)[0])
        importance = self.importance
        index = {name: i for i, name in enumerate(self.feature_set.names)}
        drivers = tuple(f for f in importance.top if f.feature in index) if importance else ()
        if drivers:
            features = {f.name: float(vec[index[f.feature]]) for f in drivers}
        else:
            features = {self.feature_set.names[i]: float(vec[i]) for i in self.top_inputs()}
        return LayerResult("classifier", p, features, p, (), drivers=tuple((f.name, f.mean) for f in drivers))


__all__ = ["TOP_INPUTS", "ModelError", "TrainedModel"]
