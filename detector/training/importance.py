"""Permutation importance at training time: which inputs the classifier's accuracy depends on.

An input's importance is how much accuracy drops when its values are shuffled across
tracks (breaking its link to the label while keeping its distribution), averaged over
several shuffles. It is measured on tracks the model was not trained on: the held-out
split when there is one, else each cross-validation fold with the model trained on the
other folds. The result goes into the model card
(:class:`~detector.layers.classifier.Importance`) and from there into every report's
classifier layer.

:func:`permutation_importance` gives exactly the numbers of
:func:`sklearn.inspection.permutation_importance` with ``scoring="accuracy"`` (the same
shuffles, from the same seed; a test checks it), but scores every shuffled copy of a
block of inputs in one ``predict`` call instead of one call per input and shuffle. The
ensemble's ``predict`` costs ~20 ms however few rows it gets, so for the 62 spectral
inputs and 10 shuffles that is 0.1-0.3 s instead of about 12 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..features.vectors import FeatureSet
from ..layers.classifier.importance import (
    IMPORTANCE_TOP, FeatureImportance, Importance, feature_label, input_ranking,
)
from ..types import Progress, no_progress

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

N_REPEATS = 10
"""Shuffles per input, on small datasets."""
MIN_REPEATS = 3
"""Shuffles per input at least, however large the dataset."""
MAX_MEASURED = 64
"""Inputs measured at most. Feature sets with more (CLAP: 512, fakeprint: 1,500) measure the
ones the fitted model ranks highest (:func:`~detector.layers.classifier.importance.input_ranking`):
every input of a large set costs tens of seconds with the ensemble's SVM."""
MIN_MEASURED = 16
"""Inputs of a large feature set measured at least, however large the dataset."""
VALUE_BUDGET = 8_000_000
"""Values of shuffled rows scored in all (inputs x shuffles x tracks x feature-set size):
fewer shuffles, and fewer inputs of a large set, on large datasets. The ensemble's SVM
costs about 0.1 ms per 512-value row, so this keeps the importance to a few seconds
(measured: CLAP, 400 tracks, no held-out split: 24 s with 64 inputs x 10 shuffles)."""
_BLOCK_VALUES = 4_000_000
"""Values of shuffled copies scored per ``predict`` call (32 MB of float64)."""


def permutation_importance(
    estimator: Pipeline,
    X: np.ndarray,
    y: np.ndarray,
    *,
    columns: Sequence[int] | None = None,
    n_repeats: int = N_REPEATS,
    seed: int = 0,
    progress: Progress | None = None,
) -> np.ndarray:
    """Accuracy drops when each of ``columns`` is shuffled, one row per column.

    Parameters
    ----------
    estimator
        A fitted classifier (its ``predict`` is scored with accuracy).
    X : np.ndarray [shape=(n, d)]
    y : np.ndarray [shape=(n,)]
    columns
        The inputs to measure (default: all ``d``).
    n_repeats
        Shuffles per input.
    seed
        As ``random_state`` of :func:`sklearn.inspection.permutation_importance`.
    progress
        Called after each block of inputs ("permutation importance: 32/62 inputs").

    Returns
    -------
    np.ndarray [shape=(len(columns), n_repeats)]
        Baseline accuracy minus the accuracy with that input shuffled, per shuffle:
        the rows of sklearn's ``importances`` for ``columns``.
    """
    progress = progress or no_progress
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, d = X.shape
    columns = list(range(d)) if columns is None else [int(c) for c in columns]
    # sklearn draws one seed and gives every column its own RandomState(seed): column
    # j's shuffles do not depend on which other columns are measured
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    baseline = float(np.mean(estimator.predict(X) == y))
    drops = np.empty((len(columns), n_repeats))
    per_column = max(1, _BLOCK_VALUES // max(1, n * n_repeats * d))
    for start in range(0, len(columns), per_column):
        block_cols = columns[start:start + per_column]
        block = np.broadcast_to(X, (len(block_cols), n_repeats, n, d)).copy()
        for k, col in enumerate(block_cols):
            rng = np.random.RandomState(column_seed)
            order = np.arange(n)
            values = X[:, col].copy()
            for rep in range(n_repeats):  # as sklearn: each shuffle permutes the previous one
                rng.shuffle(order)
                values = values[order]
                block[k, rep, :, col] = values
        predicted = estimator.predict(block.reshape(-1, d)).reshape(len(block_cols), n_repeats, n)
        drops[start:start + len(block_cols)] = baseline - (predicted == y).mean(axis=2)
        done = start + len(block_cols)
        progress(done / len(columns), f"permutation importance: {done}/{len(columns)} inputs")
    return drops


def measure_importance(
    parts: Sequence[tuple[Pipeline, np.ndarray, np.ndarray]],
    feature_set: FeatureSet,
    *,
    source: str,
    ranked_by: Pipeline,
    n_repeats: int = N_REPEATS,
    seed: int = 0,
    max_measured: int = MAX_MEASURED,
    progress: Progress | None = None,
) -> Importance:
    """The permutation importance of a model, for its card.

    Up to :data:`N_REPEATS` shuffles of every input (of at most ``max_measured``
    inputs the model ranks highest), fewer on large datasets to keep within
    :data:`VALUE_BUDGET`; :class:`~detector.layers.classifier.Importance` records what was done.

    Parameters
    ----------
    parts
        ``(fitted model, X, y)`` scored on unseen tracks: one held-out split, or one
        entry per cross-validation fold (their drops are pooled).
    source
        ``"held-out"`` or ``"out-of-fold"``.
    ranked_by
        The fitted model whose own ranking chooses the inputs to measure when
        ``feature_set`` has more than ``max_measured``.
    """
    progress = progress or no_progress
    d = feature_set.size
    n = sum(len(y) for _, _, y in parts)
    rows = VALUE_BUDGET // d
    n_repeats = min(n_repeats, max(MIN_REPEATS, rows // (min(d, max_measured) * n)))
    if d <= max_measured:
        columns, screened_by = list(range(d)), None
    else:
        measured = min(max_measured, max(MIN_MEASURED, rows // (n_repeats * n)))
        columns = [int(i) for i in input_ranking(ranked_by)[:measured]]
        final = ranked_by.steps[-1][1]
        screened_by = ("the logistic regression's largest weights" if hasattr(final, "coef_")
                       else "the random forest's impurity importance")
    drops = []
    for i, (model, X, y) in enumerate(parts):
        drops.append(permutation_importance(
            model, X, y, columns=columns, n_repeats=n_repeats, seed=seed,
            progress=lambda f, m, i=i: progress((i + f) / len(parts), m + (f" (fold {i + 1}/{len(parts)})"
                                                                              if len(parts) > 1 else ""))))
    pooled = np.concatenate(drops, axis=1)
    mean, std = pooled.mean(axis=1).round(6), pooled.std(axis=1).round(6)  # drops of +-1/n cancel to ~1e-17, not 0
    order = np.argsort(-mean, kind="stable")
    top = tuple(
        FeatureImportance(feature_set.names[columns[i]], feature_label(feature_set, feature_set.names[columns[i]]),
                          float(mean[i]), float(std[i]))
        for i in order[:IMPORTANCE_TOP] if mean[i] > 0
    )
    return Importance(source, int(n), n_repeats, d, len(columns), top, screened_by, seed=seed)


__all__ = ["MAX_MEASURED", "MIN_MEASURED", "MIN_REPEATS", "N_REPEATS", "VALUE_BUDGET", "measure_importance",
           "permutation_importance"]
