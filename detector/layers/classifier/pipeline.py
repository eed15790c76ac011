"""The classifier itself: standard scaling, then soft voting of a random forest and an RBF SVM.

All with fixed seeds. Class 0 is human, class 1 is AI, so the model's probability of
class 1 is P(AI).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

DEFAULT_SEED = 0
DESCRIPTION = "StandardScaler -> soft VotingClassifier(RandomForestClassifier(200 trees), SVC(rbf, Platt))"
"""What :func:`build_pipeline` builds, as the model card names it."""
STEPS = ("scale", "vote")

# scikit-learn 1.9 deprecates SVC(probability=True) (removal planned for 1.11) in favour of
# CalibratedClassifierCV(SVC(), ensemble=False). The pinned 1.9.1 still supports it; silence
# only that one message, only while fitting.
SVC_DEPRECATION = "The `probability` parameter was deprecated"



def build_pipeline(seed: int = DEFAULT_SEED) -> Pipeline:
    """The unfitted model: standard scaling, then soft voting of a random forest and an RBF SVM.

    Both voters weight the classes inversely to their frequency, so an unbalanced
    dataset does not simply teach the majority class.
    """
    forest = RandomForestClassifier(n_estimators=200, class_weight="balanced", random_state=seed, n_jobs=1)
    svm = SVC(kernel="rbf", C=1.0, gamma="scale", probability=True, class_weight="balanced", random_state=seed)
    vote = VotingClassifier([("rf", forest), ("svm", svm)], voting="soft")
    return Pipeline([("scale", StandardScaler()), ("vote", vote)])


def fit(model: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SVC_DEPRECATION, category=FutureWarning)
        return model.fit(X, y)


__all__ = ["DEFAULT_SEED", "DESCRIPTION", "STEPS", "SVC_DEPRECATION", "build_pipeline", "fit"]
