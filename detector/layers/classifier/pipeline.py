"""The classifier itself, in one of two kinds, all with fixed seeds.

``ensemble`` (the default)
    Standard scaling, then soft voting of a random forest and an RBF SVM.
``logistic``
    Standard scaling, then a class-balanced logistic regression: the linear model
    Afchar et al. (ISMIR 2025) put on fakeprints, where each input is one narrow
    frequency cell and a weight per cell is all the model needs.

Class 0 is human, class 1 is AI, so the model's probability of class 1 is P(AI).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

DEFAULT_SEED = 0
LOGISTIC_MAX_ITER = 5000
"""Enough lbfgs iterations for 1,500 scaled fakeprint inputs (a few dozen usually suffice)."""


@dataclass(frozen=True)
class ModelKind:
    """One kind of model :func:`build_pipeline` can build.

    Attributes
    ----------
    name : str
        What the CLI, the card's ``model_kind`` and :func:`build_pipeline` call it.
    label : str
        The name a person reads ("logistic regression").
    description : str
        The estimator, as the model card's ``model`` field names it.
    steps : tuple of str
        The pipeline's step names, which :func:`kind_of` and the loader check.
    """

    name: str
    label: str
    description: str
    steps: tuple[str, ...]


ENSEMBLE = ModelKind(
    "ensemble", "random forest + SVM ensemble",
    "StandardScaler -> soft VotingClassifier(RandomForestClassifier(200 trees), SVC(rbf, Platt))",
    ("scale", "vote"),
)
LOGISTIC = ModelKind(
    "logistic", "logistic regression",
    f"StandardScaler -> LogisticRegression(L2, C=1, class_weight=balanced, lbfgs, max_iter={LOGISTIC_MAX_ITER})",
    ("scale", "logistic"),
)
MODEL_KINDS = {k.name: k for k in (ENSEMBLE, LOGISTIC)}
DEFAULT_KIND = ENSEMBLE.name

DESCRIPTION = ENSEMBLE.description
"""The default kind's description (kept for callers that predate :data:`MODEL_KINDS`)."""
STEPS = ENSEMBLE.steps

# scikit-learn 1.9 deprecates SVC(probability=True) (removal planned for 1.11) in favour of
# CalibratedClassifierCV(SVC(), ensemble=False). The pinned 1.9.1 still supports it; silence
# only that one message, only while fitting.
SVC_DEPRECATION = "The `probability` parameter was deprecated"


def model_kind(name: str) -> ModelKind:
    """The :class:`ModelKind` called ``name``; :class:`ValueError` naming the choices otherwise."""
    try:
        return MODEL_KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown model kind {name!r}; choose one of {', '.join(MODEL_KINDS)}.") from None


def kind_of(pipeline: Pipeline) -> ModelKind | None:
    """The kind whose step names ``pipeline`` has, or None for a pipeline this module did not build."""
    steps = tuple(getattr(pipeline, "named_steps", {}) or ())
    return next((k for k in MODEL_KINDS.values() if k.steps == steps), None)


def build_pipeline(seed: int = DEFAULT_SEED, kind: str = DEFAULT_KIND) -> Pipeline:
    """The unfitted model of ``kind`` (see :data:`MODEL_KINDS`).

    Every estimator weights the classes inversely to their frequency, so an unbalanced
    dataset does not simply teach the majority class.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    from sklearn.ensemble import RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    chosen = model_kind(kind)
    if chosen is LOGISTIC:
        logistic = LogisticRegression(C=1.0, class_weight="balanced", max_iter=LOGISTIC_MAX_ITER, random_state=seed)
        return Pipeline([("scale", StandardScaler()), ("logistic", logistic)])
    forest = RandomForestClassifier(n_estimators=200, class_weight="balanced", random_state=seed, n_jobs=1)
    svm = SVC(kernel="rbf", C=1.0, gamma="scale", probability=True, class_weight="balanced", random_state=seed)
    vote = VotingClassifier([("rf", forest), ("svm", svm)], voting="soft")
    return Pipeline([("scale", StandardScaler()), ("vote", vote)])


def fit(model: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SVC_DEPRECATION, category=FutureWarning)
        return model.fit(X, y)


__all__ = [
    "DEFAULT_KIND", "DEFAULT_SEED", "DESCRIPTION", "ENSEMBLE", "LOGISTIC", "LOGISTIC_MAX_ITER", "MODEL_KINDS", "STEPS",
    "SVC_DEPRECATION", "ModelKind", "build_pipeline", "fit", "kind_of", "model_kind",
]
