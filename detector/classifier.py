"""The trained classifier: extract vectors, train and evaluate, save and load safely.

The model is a scikit-learn :class:`~sklearn.pipeline.Pipeline`: a
:class:`~sklearn.preprocessing.StandardScaler`, then a soft-voting
:class:`~sklearn.ensemble.VotingClassifier` of a random forest and an RBF
:class:`~sklearn.svm.SVC` with Platt probabilities, all with fixed seeds. Class 0 is
human, class 1 is AI, so the model's probability of class 1 is P(AI).

Metrics come from stratified k-fold cross-validation (out-of-fold probabilities by
:func:`~sklearn.model_selection.cross_val_predict`) and from a stratified held-out
split scored by a model trained on the rest; the saved model is then fitted on all
the data.

Models are stored with ``skops.io`` (never pickle) and loaded only if every type in
the file that skops does not trust by default is on :data:`ALLOWED_TYPES`, and only
if the file's SHA-256 matches its model card (``model.skops`` -> ``model.card.json``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from . import __version__
from .audio import AudioError, sha256_of
from .config import data_dir
from .dataset import (
    DEFAULT_FOLDS, DEFAULT_TEST_SIZE, LABELS, Dataset, DatasetError, LabelledFile, SkippedFile, check_class_counts,
    class_counts, skipped_summary,
)
from .report import LayerResult
from .service import TrackFeatures, extract
from .vectors import (
    CLAP, FEATURE_SET_VERSIONS, FeatureSet, FeatureSetUnavailable, VectorCache, cache_key, vector_for,
)

Progress = Callable[[int, int, str], None]

DEFAULT_SEED = 0
CALIBRATION_BINS = 10
TOP_INPUTS = 5
CARD_FORMAT = "detector-model-card"
CARD_VERSION = 1
ACTIVE_MODEL_ENV = "DETECTOR_MODEL"
ACTIVE_MODEL_FILE = "active_model.json"

#: The only types a model file may hold beyond those skops trusts by default.
#: These are exactly what :func:`build_pipeline` produces once fitted (measured with
#: ``skops.io.get_untrusted_types`` at save time; a test keeps this list honest).
ALLOWED_TYPES = ("sklearn.tree._tree.Tree", "sklearn.utils._bunch.Bunch")

# scikit-learn 1.9 deprecates SVC(probability=True) (removal planned for 1.11) in favour of
# CalibratedClassifierCV(SVC(), ensemble=False). The pinned 1.9.1 still supports it; silence
# only that one message, only while fitting.
_SVC_DEPRECATION = "The `probability` parameter was deprecated"


class ModelError(ValueError):
    """A model file cannot be used. ``str(err)`` is written for the user."""


def _noop(done: int, total: int, message: str) -> None:
    pass


# --------------------------------------------------------------------------- vectors


@dataclass(frozen=True)
class VectorSet:
    """Feature vectors of a dataset's usable files.

    Attributes
    ----------
    X : (n, d) float64 array
    y : (n,) int array, 0 human / 1 AI
    files : the files behind the rows of ``X``
    skipped : files left out while listing the dataset or extracting, with reasons
    clap_checkpoint : ``{"checkpoint": ..., "checkpoint_sha256": ...}`` for ``clap-512``
    cache_hits : rows read from the cache instead of decoded
    """

    feature_set: FeatureSet
    X: np.ndarray
    y: np.ndarray
    files: tuple[LabelledFile, ...]
    skipped: tuple[SkippedFile, ...]
    clap_checkpoint: dict[str, str] | None = None
    cache_hits: int = 0

    def counts(self) -> dict[str, int]:
        return class_counts(f.label for f in self.files)


def extract_vectors(
    dataset: Dataset,
    feature_set: FeatureSet,
    *,
    clap: Any = None,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> VectorSet:
    """Compute (or read from the cache) one vector per file of ``dataset``.

    Parameters
    ----------
    clap
        A CLAP encoder, passed on as ``extract(..., clap=clap)`` when ``feature_set`` is
        ``clap-512`` (and only when not None).
        For ``clap-512`` its ``checkpoint_sha256`` attribute, if it has one, lets cached
        embeddings be used without decoding.
    cache
        Where vectors are cached (default: ``data_dir()/features``).
    progress
        Called as ``progress(done, total, message)`` after each file.

    Files that cannot be hashed, decoded or lack the features are skipped with a reason.
    """
    progress = progress or _noop
    cache = cache if cache is not None else (VectorCache() if use_cache else None)
    ckpt_sha = getattr(clap, "checkpoint_sha256", None) if feature_set is CLAP else None
    ckpt_name = getattr(clap, "checkpoint", None) if feature_set is CLAP else None
    rows, files, skipped, seen = [], [], list(dataset.skipped), {}
    hits = 0
    total = len(dataset.files)
    for i, item in enumerate(dataset.files):
        try:
            sha = sha256_of(item.path)
            if sha in seen:
                skipped.append(SkippedFile(str(item.path), f"the same audio as {seen[sha]} (a duplicate would "
                                                           "leak between training and test folds)"))
                progress(i + 1, total, f"skipped {item.path.name}")
                continue
            vec = None
            if cache is not None and (feature_set is not CLAP or ckpt_sha):
                vec = cache.get(cache_key(feature_set, ckpt_sha), sha, feature_set.size)
            if vec is not None:
                hits += 1
            else:
                # only a clap-512 vector needs the (slow) CLAP encoder
                track = extract(item.path, **({"clap": clap} if clap is not None and feature_set is CLAP else {}))
                vec = vector_for(track, feature_set)
                if feature_set is CLAP:
                    if ckpt_sha and track.clap.checkpoint_sha256 != ckpt_sha:
                        raise FeatureSetUnavailable("its CLAP embedding comes from a different checkpoint")
                    ckpt_sha, ckpt_name = track.clap.checkpoint_sha256, track.clap.checkpoint
                if cache is not None:
                    try:
                        cache.put(cache_key(feature_set, ckpt_sha), sha, vec)
                    except OSError:
                        pass  # the cache only saves time; an unwritable cache must not cost the file
        except (AudioError, FeatureSetUnavailable, OSError, ValueError) as exc:
            skipped.append(SkippedFile(str(item.path), str(exc)))
            progress(i + 1, total, f"skipped {item.path.name}")
            continue
        seen[sha] = item.path.name
        rows.append(vec)
        files.append(item)
        progress(i + 1, total, f"features of {item.path.name}")
    X = np.vstack(rows) if rows else np.empty((0, feature_set.size))
    y = np.array([f.target for f in files], dtype=int)
    checkpoint = {"checkpoint": ckpt_name or "", "checkpoint_sha256": ckpt_sha} if ckpt_sha else None
    return VectorSet(feature_set, X, y, tuple(files), tuple(skipped), checkpoint, hits)


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class CalibrationCurve:
    """Reliability diagram points: mean predicted P(AI) and observed AI fraction per bin.

    Only non-empty bins appear (``sklearn.calibration.calibration_curve``, uniform bins).
    """

    prob_pred: list[float]
    prob_true: list[float]
    n_bins: int


@dataclass(frozen=True)
class Metrics:
    """Classification metrics of P(AI) against the true labels, at threshold 0.5.

    ``confusion_matrix[i][j]`` counts true class ``LABELS[i]`` predicted as ``LABELS[j]``.
    ``roc_auc`` and ``calibration`` are None when only one class is present.
    ``fold_roc_auc`` holds the ROC AUC of each cross-validation fold (CV metrics only).
    ``roc_fpr``/``roc_tpr`` are the ROC curve's points (None with one class).
    """

    n_samples: int
    class_counts: dict[str, int]
    roc_auc: float | None
    accuracy: float
    f1: float
    confusion_matrix: list[list[int]]
    calibration: CalibrationCurve | None
    fold_roc_auc: list[float] | None = None
    roc_fpr: list[float] | None = None
    roc_tpr: list[float] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def compute_metrics(y: np.ndarray, p_ai: np.ndarray, *, n_bins: int = CALIBRATION_BINS) -> Metrics:
    """Metrics of the probabilities ``p_ai`` for the labels ``y`` (0 human, 1 AI)."""
    y = np.asarray(y, dtype=int)
    p_ai = np.asarray(p_ai, dtype=float)
    pred = (p_ai > 0.5).astype(int)
    both = len(np.unique(y)) == 2
    calibration = fpr = tpr = None
    if both:
        prob_true, prob_pred = calibration_curve(y, p_ai, n_bins=n_bins, strategy="uniform")
        calibration = CalibrationCurve([float(v) for v in prob_pred], [float(v) for v in prob_true], n_bins)
        fpr, tpr, _ = roc_curve(y, p_ai)
        fpr, tpr = [float(v) for v in fpr], [float(v) for v in tpr]
    return Metrics(
        n_samples=int(y.size),
        class_counts=class_counts(LABELS[t] for t in y),
        roc_auc=float(roc_auc_score(y, p_ai)) if both else None,
        accuracy=float(accuracy_score(y, pred)),
        f1=float(f1_score(y, pred, pos_label=1, zero_division=0)),
        confusion_matrix=confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        calibration=calibration,
        roc_fpr=fpr,
        roc_tpr=tpr,
    )


def format_metrics(metrics: Metrics, title: str) -> str:
    """A few readable lines for the CLI."""
    auc = "n/a (one class only)" if metrics.roc_auc is None else f"{metrics.roc_auc:.3f}"
    lines = [f"{title} ({metrics.n_samples} tracks: {metrics.class_counts['human']} human, "
             f"{metrics.class_counts['ai']} ai)",
             f"  ROC AUC   {auc}"]
    if metrics.fold_roc_auc:
        lines[-1] += "   per fold: " + ", ".join(f"{v:.3f}" for v in metrics.fold_roc_auc)
    (hh, ha), (ah, aa) = metrics.confusion_matrix
    lines += [f"  accuracy  {metrics.accuracy:.3f}", f"  F1 (ai)   {metrics.f1:.3f}",
              "  confusion matrix (rows: true, columns: predicted)",
              "              human     ai", f"    human  {hh:>7} {ha:>6}", f"    ai     {ah:>7} {aa:>6}"]
    if metrics.calibration:
        pts = ", ".join(f"{p:.2f}->{t:.2f}" for p, t in zip(metrics.calibration.prob_pred,
                                                            metrics.calibration.prob_true))
        lines.append(f"  calibration (mean P(AI) -> AI fraction per bin): {pts}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- training


def build_pipeline(seed: int = DEFAULT_SEED) -> Pipeline:
    """The unfitted model: standard scaling, then soft voting of a random forest and an RBF SVM.

    Both voters weight the classes inversely to their frequency, so an unbalanced
    dataset does not simply teach the majority class.
    """
    forest = RandomForestClassifier(n_estimators=200, class_weight="balanced", random_state=seed, n_jobs=1)
    svm = SVC(kernel="rbf", C=1.0, gamma="scale", probability=True, class_weight="balanced", random_state=seed)
    vote = VotingClassifier([("rf", forest), ("svm", svm)], voting="soft")
    return Pipeline([("scale", StandardScaler()), ("vote", vote)])


def _fit(model: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SVC_DEPRECATION, category=FutureWarning)
        return model.fit(X, y)


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

    def metrics_dict(self) -> dict:
        """Everything but the model, as JSON-ready data."""
        return {
            "feature_set": self.feature_set.version,
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
    progress: Progress | None = None,
) -> TrainingResult:
    """Cross-validate, evaluate on a held-out split, then fit on everything.

    Parameters
    ----------
    X, y
        Feature vectors and labels (0 human, 1 AI).
    folds
        Stratified folds; fewer when the smaller class has fewer files (with a note).
    test_size
        Fraction held out for the held-out evaluation (0 skips it).

    Raises
    ------
    DatasetError
        Fewer than two files in a class.
    """
    progress = progress or _noop
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
    steps = 3
    progress(0, steps, f"cross-validating ({used} folds)")
    splitter = StratifiedKFold(n_splits=used, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_SVC_DEPRECATION, category=FutureWarning)
        oof = cross_val_predict(build_pipeline(seed), X, y, cv=splitter, method="predict_proba")[:, 1]
    fold_auc = [float(roc_auc_score(y[test], oof[test])) for _, test in splitter.split(X, y)]
    cv = replace(compute_metrics(y, oof), fold_roc_auc=fold_auc)

    progress(1, steps, "held-out evaluation")
    holdout = None
    if test_size > 0:
        try:
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, stratify=y, random_state=seed)
            check_class_counts(class_counts(LABELS[t] for t in y_tr))
        except (ValueError, DatasetError):
            notes.append(f"Too few files to hold out {test_size:.0%} and still train on at least 2 per class; "
                         "no held-out evaluation.")
        else:
            held = _fit(build_pipeline(seed), X_tr, y_tr)
            holdout = compute_metrics(y_te, held.predict_proba(X_te)[:, 1])

    progress(2, steps, f"fitting the final model on all {y.size} tracks")
    model = _fit(build_pipeline(seed), X, y)
    progress(3, steps, "done")
    return TrainingResult(model, feature_set, used, cv, holdout, counts, (), tuple(notes), None, seed, test_size)


def train_dataset(
    dataset: Dataset,
    feature_set: FeatureSet,
    *,
    clap: Any = None,
    folds: int = DEFAULT_FOLDS,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = DEFAULT_SEED,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> TrainingResult:
    """Extract (or read cached) vectors for ``dataset`` and :func:`train` on them.

    Raises
    ------
    DatasetError
        When fewer than two usable files per class remain after skipping bad ones.
    """
    check_class_counts(dataset.counts(), what="audio")  # fail before decoding anything
    vectors = extract_vectors(dataset, feature_set, clap=clap, cache=cache, use_cache=use_cache, progress=progress)
    try:
        check_class_counts(vectors.counts())
    except DatasetError as exc:
        skipped = f"\n{skipped_summary(vectors.skipped)}" if vectors.skipped else ""
        raise DatasetError(f"{exc}{skipped}") from None
    result = train(vectors.X, vectors.y, feature_set, folds=folds, test_size=test_size, seed=seed, progress=progress)
    return replace(result, skipped=vectors.skipped, clap_checkpoint=vectors.clap_checkpoint)


# --------------------------------------------------------------------------- persistence


def card_path(model_path: str | Path) -> Path:
    """``model.skops`` -> ``model.card.json`` beside it."""
    p = Path(model_path)
    return p.with_name(p.stem + ".card.json")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would make the model unreadable to the dashboard's user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def library_versions() -> dict[str, str]:
    return {"scikit-learn": sklearn.__version__, "skops": metadata.version("skops"),
            "numpy": np.__version__, "detector": __version__, "python": sys.version.split()[0]}


def save_model(result: TrainingResult, path: str | Path, *, dataset: str = "") -> dict:
    """Write the model with ``skops.io.dump`` and its card beside it; return the card.

    Raises
    ------
    RuntimeError
        If the installed scikit-learn stores a type outside :data:`ALLOWED_TYPES`
        (the model could never be loaded again, so it is not written).
    """
    import skops.io as sio  # imported on use: it pulls in torch through scikit-learn's array API (~5 s)

    path = Path(path).expanduser().resolve()

    def dump(tmp: Path) -> None:
        sio.dump(result.model, tmp, compression=zipfile.ZIP_DEFLATED)  # the schema is ~10 MB of JSON
        unexpected = sorted(set(sio.get_untrusted_types(file=tmp)) - set(ALLOWED_TYPES))
        if unexpected:
            raise RuntimeError(f"This scikit-learn stores types outside the model allowlist: {unexpected}.")

    _atomic_write(path, dump)
    fs = result.feature_set
    card = {
        "format": CARD_FORMAT,
        "card_version": CARD_VERSION,
        "model_file": path.name,
        "model_sha256": _file_sha256(path),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": "StandardScaler -> soft VotingClassifier(RandomForestClassifier(200 trees), SVC(rbf, Platt))",
        "labels": list(LABELS),
        "positive_label": "ai",
        "feature_set": {"name": fs.name, "version": fs.version, "names": list(fs.names)},
        "clap": result.clap_checkpoint,
        "dataset": dataset,
        "class_counts": dict(result.class_counts),
        "metrics": result.metrics_dict(),
        "versions": library_versions(),
    }
    _atomic_write(card_path(path), lambda tmp: tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8"))
    return card


@dataclass(frozen=True)
class TrainedModel:
    """A loaded, verified model and its card; scores tracks as P(AI)."""

    pipeline: Pipeline
    card: dict
    path: Path
    sha256: str
    feature_set: FeatureSet
    warnings: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.path.name

    def identity(self) -> dict[str, str]:
        """What identifies this model in a report's ``versions``."""
        return {"classifier_model": self.path.name, "classifier_sha256": self.sha256,
                "classifier_feature_set": self.feature_set.version}

    def vector(self, track: TrackFeatures) -> np.ndarray:
        """The model's input vector for ``track``.

        Raises
        ------
        FeatureSetUnavailable
            The track lacks this model's features (e.g. a clap model and no CLAP layer,
            or embeddings from a different CLAP checkpoint).
        """
        if self.feature_set is CLAP:
            if track.clap is None:
                raise FeatureSetUnavailable(
                    f"the model {self.name} was trained on CLAP embeddings (clap-512), and the CLAP layer "
                    "did not run for this track")
            want = (self.card.get("clap") or {}).get("checkpoint_sha256")
            if want and track.clap.checkpoint_sha256 != want:
                raise FeatureSetUnavailable(
                    f"the model {self.name} was trained on embeddings of the CLAP checkpoint "
                    f"{self.card['clap'].get('checkpoint') or want[:12]}, but this track was embedded with "
                    f"{track.clap.checkpoint}")
        return vector_for(track, self.feature_set)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(AI) for each row of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.feature_set.size:
            raise FeatureSetUnavailable(
                f"the model {self.name} expects {self.feature_set.size} {self.feature_set.version} features, "
                f"not {X.shape[1]}")
        return self.pipeline.predict_proba(X)[:, 1]

    def probability(self, track: TrackFeatures) -> float:
        """P(AI) for one track."""
        return float(self.predict_proba(self.vector(track))[0])

    def top_inputs(self, n: int = TOP_INPUTS) -> tuple[int, ...]:
        """Indices of the ``n`` inputs the random forest relies on most."""
        importances = self.pipeline.named_steps["vote"].named_estimators_["rf"].feature_importances_
        return tuple(int(i) for i in np.argsort(importances)[::-1][:n])

    def layer(self, track: TrackFeatures) -> LayerResult:
        """The ``"classifier"`` layer for ``track``: P(AI) and its most important inputs' values."""
        vec = self.vector(track)
        p = float(self.predict_proba(vec)[0])
        features = {self.feature_set.names[i]: float(vec[i]) for i in self.top_inputs()}
        return LayerResult("classifier", p, features, p, ())


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
    its card; the card's feature set is known. Nothing is deserialised before these
    pass. A different scikit-learn version than the one that trained it gives a
    warning (emitted and kept in ``TrainedModel.warnings``).

    Raises
    ------
    ModelError
        For any file that fails a check, with the reason.
    """
    import skops.io as sio  # imported on use (slow import, see save_model)

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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # version warnings are reported below, from the card
            pipeline = sio.load(io.BytesIO(data), trusted=list(ALLOWED_TYPES))
    except Exception as exc:
        raise _refuse(path, f"skops could not rebuild it ({type(exc).__name__}: {exc}).") from None
    if (not isinstance(pipeline, Pipeline) or list(pipeline.named_steps) != ["scale", "vote"]
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


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvaluationResult:
    """A saved model's metrics on a dataset."""

    model: str
    feature_set: str
    metrics: Metrics
    skipped: tuple[SkippedFile, ...]

    def to_dict(self) -> dict:
        return {"model": self.model, "feature_set": self.feature_set, "metrics": self.metrics.to_dict(),
                "skipped": [asdict(s) for s in self.skipped]}


def evaluate(
    model: TrainedModel,
    dataset: Dataset,
    *,
    clap: Any = None,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Score every usable file of ``dataset`` with ``model`` and compare with the labels.

    Raises
    ------
    DatasetError
        When no file could be used.
    """
    if model.feature_set is CLAP and clap is None:
        raise FeatureSetUnavailable(f"the model {model.name} was trained on CLAP embeddings, and the CLAP layer "
                                    "is not available.")
    vectors = extract_vectors(dataset, model.feature_set, clap=clap, cache=cache, use_cache=use_cache,
                              progress=progress)
    want = (model.card.get("clap") or {}).get("checkpoint_sha256")
    if model.feature_set is CLAP and vectors.clap_checkpoint and want != vectors.clap_checkpoint["checkpoint_sha256"]:
        raise FeatureSetUnavailable(f"the model {model.name} was trained on a different CLAP checkpoint than "
                                    "the one available now.")
    if not vectors.files:
        raise DatasetError("No usable audio files to evaluate on.")
    return EvaluationResult(model.name, model.feature_set.version,
                            compute_metrics(vectors.y, model.predict_proba(vectors.X)), vectors.skipped)


# --------------------------------------------------------------------------- active model


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
    _atomic_write(target, lambda tmp: tmp.write_text(json.dumps({"path": str(model.path)}) + "\n", encoding="utf-8"))
    return model.path


def load_active_model() -> TrainedModel | None:
    """Load the active model, or None when none is set (:class:`ModelError` if it is unusable)."""
    path = active_model_path()
    return load_model(path) if path is not None else None


__all__ = [
    "ALLOWED_TYPES", "CalibrationCurve", "EvaluationResult", "Metrics", "ModelError", "TrainedModel",
    "TrainingResult", "VectorSet", "activate", "active_model_path", "build_pipeline", "card_path",
    "compute_metrics", "evaluate", "extract_vectors", "format_metrics", "load_active_model", "load_model",
    "read_card", "save_model", "train", "train_dataset",
]
