"""Saving and loading classifiers: skops files (never pickle) with a model card beside them.

Models are stored with ``skops.io`` and loaded only if every type in the file that
skops does not trust by default is on :data:`ALLOWED_TYPES` (and on the narrower list of
the model kind its card names, :data:`KIND_TYPES`), and only if the file's SHA-256
matches its model card (``model.skops`` -> ``model.card.json``).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import warnings
import zipfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._version import __version__
from ...features.vectors import FEATURE_SET_VERSIONS, FeatureSet
from ...files import atomic_write, atomic_write_text, sha256_file
from ...types import LABELS, Progress, no_progress
from .model import ModelError, TrainedModel
from .pipeline import DEFAULT_KIND, MODEL_KINDS, ModelKind, kind_of

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline  # scikit-learn is imported where used: over a second, see docs/architecture.md

CARD_FORMAT = "detector-model-card"
CARD_VERSION = 1

#: Per model kind, the only types its file may hold beyond those skops trusts by default:
#: exactly what :func:`~detector.layers.classifier.pipeline.build_pipeline` produces once
#: fitted (measured with ``skops.io.get_untrusted_types`` at save time; tests keep these
#: lists honest). A fitted StandardScaler -> LogisticRegression holds only types skops
#: trusts already, so the logistic kind needs none.
KIND_TYPES = {
    "ensemble": ("sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch"),
    "logistic": (),
}
#: The only types any model file may hold beyond those skops trusts by default (every kind's).
ALLOWED_TYPES = tuple(dict.fromkeys(t for kind in MODEL_KINDS for t in KIND_TYPES[kind]))



def card_path(model_path: str | Path) -> Path:
    """``model.skops`` -> ``model.card.json`` beside it."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def library_versions() -> dict[str, str]:
    import sklearn

    return {"scikit-learn": sklearn.__version__, "skops": metadata.version("skops"),
            "numpy": np.__version__, "detector": __version__, "python": sys.version.split()[0]}


def _kind(pipeline: Pipeline, model_kind: str | None) -> ModelKind:
    kind = kind_of(pipeline)
    if kind is None:
        raise ValueError(f"Not a detector pipeline: its steps {tuple(getattr(pipeline, 'named_steps', ()))} "
                         f"match no model kind ({', '.join(MODEL_KINDS)}).")
    if model_kind is not None and model_kind != kind.name:
        raise ValueError(f"The pipeline is a {kind.name} model, not {model_kind}.")
    return kind


def save_model(pipeline: Pipeline, path: str | Path, feature_set: FeatureSet, *, model_kind: str | None = None,
               progress: Progress | None = None, **card_fields: Any) -> dict:
    """Write a fitted pipeline with ``skops.io.dump`` and its card beside it; return the card.

    The card's ``model_kind`` and ``model`` (the kind's description) come from the
    pipeline's steps; ``model_kind``, when given, must agree with them. ``card_fields``
    (training metadata: class counts, metrics, the dataset, the CLAP checkpoint, the
    permutation importance) go into the card as they are, after what identifies the file.

    ``progress`` follows the steps, in proportion to their measured time: importing
    skops (the first save in a process: it imports torch, 2-5 s), writing the archive
    (about 1 s for the ensemble), checking the types it stored, and writing the card;
    it reaches 1 with "Saved NAME.".

    Raises
    ------
    ValueError
        If ``pipeline`` is not one :func:`~.pipeline.build_pipeline` builds, or is not
        of ``model_kind``.
    RuntimeError
        If the installed scikit-learn stores a type outside the kind's
        :data:`KIND_TYPES` (the model could never be loaded again, so it is not written).
    """
    progress = progress or no_progress
    kind = _kind(pipeline, model_kind)
    path = Path(path).expanduser().resolve()
    progress(0.0, f"Saving the model {path.name}: loading skops (the first save imports torch, a few seconds)…")
    import skops.io as sio  # imported on use: it pulls in torch through scikit-learn's array API (~5 s)

    def dump(tmp: Path) -> None:
        progress(0.6, f"Saving the model {path.name}: writing the file…")
        sio.dump(pipeline, tmp, compression=zipfile.ZIP_DEFLATED)  # the schema is ~10 MB of JSON
        progress(0.93, f"Saving the model {path.name}: checking the types it stored…")
        unexpected = sorted(set(sio.get_untrusted_types(file=tmp)) - set(KIND_TYPES[kind.name]))
        if unexpected:
            raise RuntimeError(f"This scikit-learn stores types outside the {kind.name} model allowlist: "
                               f"{unexpected}.")

    atomic_write(path, dump)
    progress(0.98, f"Saving the model {path.name}: writing its card…")
    fs = feature_set
    card = {
        "format": CARD_FORMAT,
        "card_version": CARD_VERSION,
        "model_file": path.name,
        "model_sha256": sha256_file(path),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": kind.description,
        "model_kind": kind.name,
        "labels": list(LABELS),
        "positive_label": "ai",
        "feature_set": {"name": fs.name, "version": fs.version, "names": list(fs.names)},
        **card_fields,
        "versions": library_versions(),
    }
    atomic_write_text(card_path(path), json.dumps(card, indent=2) + "\n")
    progress(1.0, f"Saved {path.name}.")
    return card


def _refuse(path: Path, why: str) -> ModelError:
    return ModelError(f"Refusing to load the model {path}: {why}")


def read_card(model_path: str | Path) -> dict:
    """The model card beside ``model_path``; :class:`ModelError` if missing or malformed."""
    path = Path(model_path)
    cp = card_path(path)
    try:
        card = json.loads(cp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _refuse(path, f"its model card {cp.name} is missing, so the file cannot be verified.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"its model card {cp.name} cannot be read ({exc}).") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise _refuse(path, f"{cp.name} is not a detector model card.")
    return card


def load_model(path: str | Path) -> TrainedModel:
    """Load and verify a model saved by :func:`save_model`.

    Checks, in order: the file is a readable skops archive; every type in it that
    skops does not trust by default is on :data:`ALLOWED_TYPES`; its SHA-256 matches
    its card; the card's feature set and model kind are known, and the file holds no
    type outside that kind's :data:`KIND_TYPES`. Nothing is deserialised before these
    pass (and then with only the kind's types trusted). A card without ``model_kind``
    (written before there were kinds) is an ``ensemble`` model. A different
    scikit-learn version than the one that trained it gives a warning (emitted and
    kept in ``TrainedModel.warnings``).

    Raises
    ------
    ModelError
        For any file that fails a check, with the reason.
    """
    import sklearn
    import skops.io as sio  # imported on use (slow import, see save_model)
    from sklearn.pipeline import Pipeline

    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"No model file at {path}." + (" It is a folder." if path.is_dir() else ""))
    path = path.resolve()
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # any parse failure means "not a (valid) skops file"
        raise _refuse(path, f"it is not a skops model file, or it is damaged ({type(exc).__name__}: {exc}).") from None
    unexpected = sorted(set(untrusted) - set(ALLOWED_TYPES))
    if unexpected:
        raise _refuse(path, "it contains types that a detector model never holds "
                            f"({', '.join(unexpected)}); it was not saved by `python -m detector train` "
                            "or has been altered.")
    card = read_card(path)
    if card.get("model_sha256") != sha:
        raise _refuse(path, f"its SHA-256 ({sha[:12]}…) does not match its model card "
                            f"({str(card.get('model_sha256'))[:12]}…): the file changed after training.")
    fs_info = card.get("feature_set") or {}
    fs = FEATURE_SET_VERSIONS.get(fs_info.get("version"))
    if fs is None:
        raise _refuse(path, f"its feature set {fs_info.get('version')!r} is unknown to this detector "
                            f"(known: {', '.join(FEATURE_SET_VERSIONS)}).")
    if list(fs_info.get("names", [])) != list(fs.names):
        raise _refuse(path, f"its card lists different feature names than {fs.version} defines.")
    name = card.get("model_kind", DEFAULT_KIND)
    kind = MODEL_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise _refuse(path, f"its model kind {card.get('model_kind')!r} is unknown to this detector "
                            f"(known: {', '.join(MODEL_KINDS)}).")
    unexpected = sorted(set(untrusted) - set(KIND_TYPES[kind.name]))
    if unexpected:
        raise _refuse(path, f"it contains types that a {kind.name} model never holds ({', '.join(unexpected)}); "
                            "the file does not match its card.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # version warnings are reported below, from the card
            pipeline = sio.load(io.BytesIO(data), trusted=list(KIND_TYPES[kind.name]))
    except Exception as exc:
        raise _refuse(path, f"skops could not rebuild it ({type(exc).__name__}: {exc}).") from None
    if (not isinstance(pipeline, Pipeline) or tuple(pipeline.named_steps) != kind.steps
            or list(getattr(pipeline, "classes_", [])) != [0, 1]
            or getattr(pipeline, "n_features_in_", None) != fs.size):
        raise _refuse(path, "it does not hold a fitted detector pipeline of the kind its card describes.")
    notes = []
    trained_with = (card.get("versions") or {}).get("scikit-learn")
    if trained_with != sklearn.__version__:
        notes.append(f"The model {path.name} was trained with scikit-learn {trained_with}, but "
                     f"{sklearn.__version__} is installed; its predictions may differ. Retrain it to be sure.")
        warnings.warn(notes[-1], UserWarning, stacklevel=2)
    return TrainedModel(pipeline, card, path, sha, fs, tuple(notes))


__all__ = ["ALLOWED_TYPES", "CARD_FORMAT", "CARD_VERSION", "KIND_TYPES", "card_path", "library_versions", "load_model",
           "read_card", "save_model"]
