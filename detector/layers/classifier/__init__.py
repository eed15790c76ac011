"""The trained classifier layer: a scikit-learn pipeline that gives P(AI), stored safely.

``pipeline``     the estimators: scaling, then a random forest and an RBF SVM voting, or a logistic regression
``model``        :class:`TrainedModel`: a loaded model that scores a track
``persistence``  skops files with a model card; only allow-listed types are loaded
``registry``     the active model and the models saved on this server
``importance``   what drove a model: the permutation importance its card keeps

Training and evaluating on labelled tracks is :mod:`detector.training`.
"""

from .importance import IMPORTANCE_TOP, FeatureImportance, Importance, feature_label
from .model import TOP_INPUTS, ModelError, TrainedModel
from .persistence import ALLOWED_TYPES, card_path, load_model, read_card, save_model
from .pipeline import DEFAULT_KIND, DEFAULT_SEED, MODEL_KINDS, ModelKind, build_pipeline, model_kind
from .registry import (
    ACTIVE_MODEL_ENV, SavedModel, activate, active_model_path, card_summary, is_active, load_active_model, models_dir,
    saved_models,
)

__all__ = [
    "ACTIVE_MODEL_ENV", "ALLOWED_TYPES", "DEFAULT_KIND", "DEFAULT_SEED", "IMPORTANCE_TOP", "MODEL_KINDS", "TOP_INPUTS",
    "FeatureImportance", "Importance", "ModelError", "ModelKind", "SavedModel", "TrainedModel", "activate",
    "active_model_path", "build_pipeline", "card_path", "card_summary", "feature_label", "is_active", "load_active_model",
    "load_model", "model_kind", "models_dir", "read_card", "save_model", "saved_models",
]
