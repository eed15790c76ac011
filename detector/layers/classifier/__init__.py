"""The trained classifier layer: a scikit-learn pipeline that gives P(AI), stored safely.

``pipeline``     the estimator (scaling, then a random forest and an RBF SVM voting)
``model``        :class:`TrainedModel`: a loaded model that scores a track
``persistence``  skops files with a model card; only allow-listed types are loaded
``registry``     the active model and the models saved on this server

Training and evaluating on labelled tracks is :mod:`detector.training`.
"""

from .model import TOP_INPUTS, ModelError, TrainedModel
from .persistence import ALLOWED_TYPES, card_path, load_model, read_card, save_model
from .pipeline import DEFAULT_SEED, build_pipeline
from .registry import (
    ACTIVE_MODEL_ENV, SavedModel, activate, active_model_path, card_summary, load_active_model, models_dir, saved_models,
)

__all__ = [
    "ACTIVE_MODEL_ENV", "ALLOWED_TYPES", "DEFAULT_SEED", "TOP_INPUTS", "ModelError", "SavedModel", "TrainedModel",
    "activate", "active_model_path", "build_pipeline", "card_path", "card_summary", "load_active_model", "load_model",
    "models_dir", "read_card", "save_model", "saved_models",
]
