"""Labelled tracks to a classifier: datasets, cached vectors, training, evaluation.

This sits above :mod:`detector.analysis` (it extracts features of every labelled file)
and writes the models that :mod:`detector.layers.classifier` loads.
"""

from .dataset import (
    DEFAULT_FOLDS, DEFAULT_TEST_SIZE, Dataset, DatasetError, LabelledFile, SkippedFile, check_class_counts,
    load_dataset, skipped_summary,
)
from .evaluation import EvaluationResult, evaluate
from .fitting import SAVING_SHARE, TrainingResult, save_model, train, train_dataset
from .importance import measure_importance, permutation_importance
from .vectors import VectorCache, VectorSet, cache_key, extract_vectors

__all__ = [
    "DEFAULT_FOLDS", "DEFAULT_TEST_SIZE", "SAVING_SHARE", "Dataset", "DatasetError", "EvaluationResult", "LabelledFile",
    "SkippedFile", "TrainingResult", "VectorCache", "VectorSet", "cache_key", "check_class_counts", "evaluate", "extract_vectors",
    "load_dataset", "measure_importance", "permutation_importance", "save_model", "skipped_summary", "train",
    "train_dataset",
]
