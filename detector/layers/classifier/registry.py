"""Which classifier is active, and the models saved on this server.

The active model is ``$DETECTOR_MODEL`` if set, else the one :func:`activate` recorded in
``<data dir>/active_model.json``. Saved models live in ``<data dir>/models/*.skops``,
each with its card beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ...config import data_dir
from ...files import atomic_write_text
from ..clap.precision import recorded_precision
from .model import ModelError, TrainedModel
from .persistence import load_model, read_card
from .pipeline import DEFAULT_KIND, MODEL_KINDS

ACTIVE_MODEL_ENV = "DETECTOR_MODEL"
ACTIVE_MODEL_FILE = "active_model.json"


def models_dir() -> Path:
    """Where trained models are saved: ``<data dir>/models`` (not created here)."""
    return data_dir() / "models"


@dataclass(frozen=True)
class SavedModel:
    """A model file on this server and the card beside it (``card`` is None when unreadable)."""

    path: Path
    card: dict | None
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    def summary(self) -> str:
        """One line for a person: feature set, when and on what it was trained."""
        return card_summary(self.card) if self.card is not None else f"cannot be used: {self.problem}"


def card_summary(card: dict) -> str:
    """"logistic regression on feature set fakeprint-v1 · trained 2026-11-29 14:02 UTC on 40 human and 38 AI tracks".

    A card without ``model_kind`` (written before there were kinds) names the ensemble; one with
    ``trained_by`` ends with "by" who trained it.
    """
    counts = card.get("class_counts") or {}
    name = card.get("model_kind", DEFAULT_KIND)
    kind = MODEL_KINDS[name].label if isinstance(name, str) and name in MODEL_KINDS else f"unknown model kind {name!r}"
    clap = card.get("clap")
    embeddings = f" ({recorded_precision(clap) or 'fp32'} embeddings)" if isinstance(clap, dict) and clap else ""
    return (f"{kind} on feature set {(card.get('feature_set') or {}).get('version', '?')}{embeddings} · trained "
            f"{str(card.get('trained_at', '?'))[:16].replace('T', ' ')} UTC on {counts.get('human', '?')} human and "
            f"{counts.get('ai', '?')} AI tracks" + (f" by {card['trained_by']}" if card.get("trained_by") else ""))


def saved_models(folder: str | os.PathLike | None = None) -> list[SavedModel]:
    """The ``*.skops`` files in ``folder`` (default :func:`models_dir`), by name, each with its card."""
    folder = Path(folder) if folder is not None else models_dir()
    found = []
    for path in sorted(folder.glob("*.skops")) if folder.is_dir() else []:
        try:
            found.append(SavedModel(path, read_card(path)))
        except ModelError as exc:
            found.append(SavedModel(path, None, str(exc)))
    return found



def _active_file() -> Path:
    return data_dir() / ACTIVE_MODEL_FILE


def active_model_path() -> Path | None:
    """The model the dashboard should use: ``$DETECTOR_MODEL``, else the one :func:`activate` chose.

    Returns None when none is set. The path is not checked here; :func:`load_model`
    explains any problem with it.
    """
    env = os.environ.get(ACTIVE_MODEL_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    try:
        stored = json.loads(_active_file().read_text(encoding="utf-8")).get("path")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(stored) if isinstance(stored, str) and stored else None


def activate(path: str | Path | None) -> Path | None:
    """Make ``path`` the active model (verified by loading it first), or clear it with None.

    Raises
    ------
    ModelError
        When the model cannot be loaded; the active model then stays as it was.
    """
    target = _active_file()
    if path is None:
        target.unlink(missing_ok=True)
        return None
    model = load_model(path)
    atomic_write_text(target, json.dumps({"path": str(model.path)}) + "\n")
    return model.path


def is_active(path: str | Path) -> bool:
    """Whether ``path`` is the active model's file (:func:`active_model_path`, both resolved)."""
    active = active_model_path()
    if active is None:
        return False
    try:
        return active.expanduser().resolve() == Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False


def load_active_model() -> TrainedModel | None:
    """Load the active model, or None when none is set (:class:`ModelError` if it is unusable)."""
    path = active_model_path()
    return load_model(path) if path is not None else None


__all__ = ["ACTIVE_MODEL_ENV", "ACTIVE_MODEL_FILE", "SavedModel", "activate", "active_model_path", "card_summary",
           "is_active", "load_active_model", "models_dir", "saved_models"]
