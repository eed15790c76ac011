"""Training a classifier: cross-validation, a held-out split, the final fit, and saving it with its card.

The model is one of :data:`~detector.layers.classifier.pipeline.MODEL_KINDS` (the RF/SVM
``ensemble`` by default, or a ``logistic`` regression). Metrics come from stratified
k-fold cross-validation (out-of-fold probabilities by
:func:`~sklearn.model_selection.cross_val_predict`) and from a stratified held-out
split scored by a model trained on the rest; the saved model is then fitted on all
the data. Last, the permutation importance of the inputs is measured on the held-out
split (or, without one, on each fold's out-of-fold tracks; :mod:`.importance`) and kept
in the model card.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..features.vectors import FeatureSet
from ..layers.clap import ClapEncoder
from ..layers.classifier import Importance
from ..layers.classifier import save_model as write_model
from ..layers.classifier.pipeline import DEFAULT_KIND, DEFAULT_SEED, SVC_DEPRECATION, build_pipeline, fit, model_kind
from ..metrics import Metrics, class_counts, compute_metrics
from ..types import LABELS, Progress, no_progress, progress_span
from .dataset import (
    DEFAULT_FOLDS, DEFAULT_TEST_SIZE, Dataset, DatasetError, SkippedFile, check_class_counts, skipped_summary,
)
from .importance import measure_importance
from .vectors import VectorCache, extract_vectors

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

EXTRACTION_SHARE = 0.8
"""The share of :func:`train_dataset`'s progress bar that feature extraction fills."""
SAVING_SHARE = 0.25
"""The share of a train-then-save progress bar that :func:`save_model` fills: the first save in a
process imports skops (and with it torch), 2-5 s, then writes the archive (about 1 s). Measured
on the Models page, 20 new 3 s tracks: 4.7 s features, 2.6 s training, 4.4 s saving."""
_STAGES = (0.0, 0.6, 0.72, 0.85)
"""Where :func:`train`'s stages start on its progress bar: cross-validation, the held-out
model, the final fit, permutation importance (to the end). Cross-validation fits one model
per fold, the other two one each; the importance takes 0.05 s (20 spectral vectors) to a few
seconds (hundreds of CLAP vectors)."""


@dataclass(frozen=True)
class TrainingResult:
    """A model fitted on all usable data, with its cross-validated and held-out metrics."""

    model: Pipeline
    feature_set: FeatureSet
    folds: int
    cv: Metrics
    holdout: Metrics | None
    class_counts: dict[str, int]
    skipped: tuple[SkippedFile, ...] = ()
    notes: tuple[str, ...] = ()
    clap_checkpoint: dict[str, str] | None = None
    seed: int = DEFAULT_SEED
    test_size: float = DEFAULT_TEST_SIZE
    model_kind: str = DEFAULT_KIND
    importance: Importance | None = None

    def metrics_dict(self) -> dict:
        """Everything but the model, as JSON-ready data."""
        return {
            "feature_set": self.feature_set.version,
            "model_kind": self.model_kind,
            "folds": self.folds,
            "test_size": self.test_size,
            "seed": self.seed,
            "class_counts": dict(self.class_counts),
            "cv": self.cv.to_dict(),
            "holdout": self.holdout.to_dict() if self.holdout else None,
            "skipped": [asdict(s) for s in self.skipped],
            "notes": list(self.notes),
            "clap_checkpoint": self.clap_checkpoint,
        }


def train(
    X: np.ndarray,
    y: np.ndarray,
    feature_set: FeatureSet,
    *,
    folds: int = DEFAULT_FOLDS,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SEED,
    kind: str = DEFAULT_KIND,
    progress: Progress | None = None,
) -> TrainingResult:
    """Cross-validate, evaluate on a held-out split, fit on everything, measure what drove it.

    The permutation importance (``importance`` of the result) is measured on the
    held-out split with the model trained on the rest, or, with no held-out split, on
    every fold's tracks with the model trained on the other folds.

    Parameters
    ----------
    X, y
        Feature vectors and labels (0 human, 1 AI).
    folds
        Stratified folds; fewer when the smaller class has fewer files (with a note).
    test_size
        Fraction held out for the held-out evaluation (0 skips it).
    kind
        The model kind (``"ensemble"`` or ``"logistic"``; see
        :func:`~detector.layers.classifier.pipeline.build_pipeline`).

    Raises
    ------
    DatasetError
        Fewer than two files in a class.
    ValueError
        Bad ``folds``, ``test_size`` or ``kind``.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split

    progress = progress or no_progress
    kind = model_kind(kind).name
    if folds < 2:
        raise ValueError(f"Cross-validation needs at least 2 folds, not {folds}.")
    if not 0 <= test_size < 1:
        raise ValueError(f"The held-out fraction must lie in [0, 1), not {test_size}.")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    counts = class_counts(LABELS[t] for t in y)
    check_class_counts(counts)
    notes = []
    smallest = min(counts.values())
    used = min(folds, smallest)
    if used < folds:
        notes.append(f"Only {smallest} files in the smaller class, so {used}-fold cross-validation "
                     f"instead of {folds}-fold.")
    progress(_STAGES[0], f"cross-validating ({used} folds)")
    splitter = StratifiedKFold(n_splits=used, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=SVC_DEPRECATION, category=FutureWarning)
        # cross_val_predict's out-of-fold probabilities, keeping each fold's model for the importance
        folds_out = cross_validate(build_pipeline(seed, kind), X, y, cv=splitter, return_estimator=True,
                                   return_indices=True)
    fold_models, fold_tests = folds_out["estimator"], folds_out["indices"]["test"]
    oof = np.empty(y.size)
    for fold_model, test in zip(fold_models, fold_tests):
        oof[test] = fold_model.predict_proba(X[test])[:, 1]
    fold_auc = [float(roc_auc_score(y[test], oof[test])) for test in fold_tests]
    cv = replace(compute_metrics(y, oof), fold_roc_auc=fold_auc)

    progress(_STAGES[1], "held-out evaluation")
    holdout = held = None
    if test_size > 0:
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
            check_class_counts(class_counts(LABELS[t] for t in y_tr))
        except (ValueError, DatasetError):
            notes.append(f"Too few files to hold out {test_size:.0%} and still train on at least 2 per class; "
                         "no held-out evaluation.")
        else:
            held = fit(build_pipeline(seed, kind), X_tr, y_tr)
            holdout = compute_metrics(y_te, held.predict_proba(X_te)[:, 1])

    progress(_STAGES[2], f"fitting the final model on all {y.size} tracks")
    model = fit(build_pipeline(seed, kind), X, y)

    progress(_STAGES[3], "permutation importance")
    if held is not None:
        parts, source, ranked_by = [(held, X_te, y_te)], "held-out", held
    else:
        parts, source, ranked_by = [(m, X[t], y[t]) for m, t in zip(fold_models, fold_tests)], "out-of-fold", model
    importance = measure_importance(parts, feature_set, source=source, ranked_by=ranked_by, seed=seed,
                                    progress=progress_span(progress, _STAGES[3], 1.0))
    progress(1.0, "model trained")
    return TrainingResult(model, feature_set, used, cv, holdout, counts, (), tuple(notes), None, seed, test_size,
                          kind, importance)


def train_dataset(
    dataset: Dataset,
    feature_set: FeatureSet,
    *,
    clap: ClapEncoder | None = None,
    folds: int = DEFAULT_FOLDS,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SEED,
    kind: str = DEFAULT_KIND,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> TrainingResult:
    """Extract (or read cached) vectors for ``dataset`` and :func:`train` a ``kind`` model on them.

    Raises
    ------
    DatasetError
        When fewer than two usable files per class remain after skipping bad ones.
    ValueError
        An unknown ``kind``.
    """
    model_kind(kind)  # an unknown kind fails before decoding anything
    check_class_counts(dataset.counts(), what="audio")  # fail before decoding anything
    vectors = extract_vectors(dataset, feature_set, clap=clap, cache=cache, use_cache=use_cache,
                              progress=progress_span(progress, 0.0, EXTRACTION_SHARE))
    try:
        check_class_counts(vectors.counts())
    except DatasetError as exc:
        skipped = f"\n{skipped_summary(vectors.skipped)}" if vectors.skipped else ""
        raise DatasetError(f"{exc}{skipped}") from None
    result = train(vectors.X, vectors.y, feature_set, folds=folds, test_size=test_size, seed=seed, kind=kind,
                   progress=progress_span(progress, EXTRACTION_SHARE, 1.0))
    return replace(result, skipped=vectors.skipped, clap_checkpoint=vectors.clap_checkpoint)


def save_model(result: TrainingResult, path: str | Path, *, dataset: str = "", trained_by: str | None = None,
               progress: Progress | None = None) -> dict:
    """Write ``result``'s model and its card; return the card.

    The card holds the model kind, metrics, class counts, dataset, CLAP checkpoint,
    ``importance`` (:class:`~detector.layers.classifier.Importance`, None if not
    measured) and ``trained_by`` (who trained it: the signed-in user on a shared server,
    ``"local"`` on one's own machine; None when not recorded). ``progress`` follows the saving, which takes seconds the first time
    (see :func:`detector.layers.classifier.save_model`).
    """
    return write_model(result.model, path, result.feature_set, model_kind=result.model_kind, progress=progress,
                       clap=result.clap_checkpoint, dataset=dataset, class_counts=dict(result.class_counts),
                       metrics=result.metrics_dict(),
                       importance=result.importance.to_dict() if result.importance else None,
                       trained_by=trained_by)


__all__ = ["EXTRACTION_SHARE", "SAVING_SHARE", "TrainingResult", "save_model", "train", "train_dataset"]
