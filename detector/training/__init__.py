"""Labelled tracks to a classifier: datasets, cached vectors, training, evaluation.

This sits above :mod:`detector.analysis` (it extracts features of every labelled file)
and writes the models that :mod:`detector.layers.classifier` loads.

The names load their module on first use (``lazy_loader``, see :mod:`detector`).
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(__name__, submod_attrs={
    "dataset": ["DEFAULT_FOLDS", "DEFAULT_TEST_SIZE", "Dataset", "DatasetError", "LabelledFile", "SkippedFile",
                "check_class_counts", "load_dataset", "skipped_summary"],
    "evaluation": ["EvaluationResult", "evaluate"],
    "fitting": ["SAVING_SHARE", "TrainingResult", "save_model", "train", "train_dataset"],
    "importance": ["measure_importance", "permutation_importance"],
    "vectors": ["VectorCache", "VectorSet", "cache_key", "extract_vectors"],
})
