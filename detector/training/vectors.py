"""Feature vectors of a labelled dataset, computed once and cached on disk by audio SHA-256."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis import extract
from ..audio import AudioError, sha256_of
from ..config import data_dir
from ..features.vectors import CLAP, FeatureSet, FeatureSetUnavailable, vector_for
from ..files import atomic_write
from ..layers.clap import ClapEncoder, check_precision
from ..metrics import class_counts
from ..types import Progress, no_progress
from .dataset import Dataset, LabelledFile, SkippedFile


def cache_key(feature_set: FeatureSet, clap_checkpoint_sha256: str | None = None, precision: str = "fp32") -> str:
    """The cache folder name: the feature-set version, plus the checkpoint (and precision) for CLAP.

    Every key starts with the version (``spectral-v1``, ``fakeprint-v1``), so vectors of
    an old definition are never read for a new one. CLAP vectors also depend on the
    checkpoint, so ``clap-512-v1@<first 16 hex digits of its SHA-256>`` keeps embeddings
    of different checkpoints apart, and on the encoder's precision: ``-int8`` or ``-bf16``
    follows for a reduced one (fp32 keeps the key it always had).
    """
    if feature_set is CLAP:
        if not clap_checkpoint_sha256:
            raise ValueError("CLAP vectors are cached per checkpoint; give its SHA-256.")
        suffix = "" if precision == "fp32" else f"-{check_precision(precision)}"
        return f"{feature_set.version}@{clap_checkpoint_sha256[:16]}{suffix}"
    return feature_set.version


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class VectorCache:
    """Feature vectors on disk: ``<root>/<cache key>/<audio sha256>.npy``.

    ``root`` defaults to ``data_dir()/features``. Files are written atomically
    (:func:`detector.files.atomic_write`) and read with
    ``allow_pickle=False``; a file of the wrong shape or with non-finite values is
    treated as absent and rewritten.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir() / "features"

    def path(self, key: str, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"Not a SHA-256 hex digest: {sha256!r}")
        return self.root / key / f"{sha256}.npy"

    def get(self, key: str, sha256: str, size: int) -> np.ndarray | None:
        """The cached vector, or None when absent or unusable."""
        path = self.path(key, sha256)
        try:
            vec = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if vec.shape != (size,) or vec.dtype != np.float64 or not np.all(np.isfinite(vec)):
            return None
        return vec

    def put(self, key: str, sha256: str, vector: np.ndarray) -> Path:
        path = self.path(key, sha256)
        return atomic_write(path, lambda tmp: np.save(tmp, np.asarray(vector, dtype=np.float64), allow_pickle=False))


@dataclass(frozen=True)
class VectorSet:
    """Feature vectors of a dataset's usable files.

    Attributes
    ----------
    X : (n, d) float64 array
    y : (n,) int array, 0 human / 1 AI
    files : the files behind the rows of ``X``
    skipped : files left out while listing the dataset or extracting, with reasons
    clap_checkpoint : ``{"checkpoint": ..., "checkpoint_sha256": ..., "precision": ...}`` for ``clap-512``
        (the model card's ``clap`` entry; ``precision`` as :attr:`ClapEncoder.precision`)
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
    clap: ClapEncoder | None = None,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> VectorSet:
    """Compute (or read from the cache) one vector per file of ``dataset``.

    Parameters
    ----------
    clap
        A CLAP encoder, passed on as ``extract(..., clap=clap)`` when ``feature_set`` is
        ``clap-512`` (and only when not None). Its ``checkpoint_sha256`` lets cached
        embeddings be used without decoding.
    cache
        Where vectors are cached (default: ``data_dir()/features``).
    progress
        Called after each file ("3/10: features of song.mp3").

    Files that cannot be hashed, decoded or lack the features are skipped with a reason.
    """
    progress = progress or no_progress
    cache = cache if cache is not None else (VectorCache() if use_cache else None)
    use_clap = clap is not None and feature_set is CLAP
    ckpt_sha = clap.checkpoint_sha256 if use_clap else None
    ckpt_name = clap.name if use_clap else None  # the file name, as ClapFeatures.checkpoint
    precision = getattr(clap, "precision", "fp32") if use_clap else "fp32"
    rows, files, skipped, seen = [], [], list(dataset.skipped), {}
    hits = 0
    total = len(dataset.files)
    for i, item in enumerate(dataset.files):
        try:
            sha = sha256_of(item.path)
            if sha in seen:
                skipped.append(SkippedFile(str(item.path), f"the same audio as {seen[sha]} (a duplicate would "
                                                           "leak between training and test folds)"))
                progress((i + 1) / total, f"{i + 1}/{total}: skipped {item.path.name}")
                continue
            vec = None
            if cache is not None and (feature_set is not CLAP or ckpt_sha):
                vec = cache.get(cache_key(feature_set, ckpt_sha, precision), sha, feature_set.size)
            if vec is not None:
                hits += 1
            else:
                # only a clap-512 vector needs the (slow) CLAP encoder
                track = extract(item.path, **({"clap": clap} if use_clap else {}))
                vec = vector_for(track, feature_set)
                if feature_set is CLAP:
                    if ckpt_sha and track.clap.checkpoint_sha256 != ckpt_sha:
                        raise FeatureSetUnavailable("its CLAP embedding comes from a different checkpoint")
                    ckpt_sha, ckpt_name = track.clap.checkpoint_sha256, track.clap.checkpoint
                    precision = track.clap.precision
                if cache is not None:
                    try:
                        cache.put(cache_key(feature_set, ckpt_sha, precision), sha, vec)
                    except OSError:
                        pass  # the cache only saves time; an unwritable cache must not cost the file
        except (AudioError, FeatureSetUnavailable, OSError, ValueError) as exc:
            skipped.append(SkippedFile(str(item.path), str(exc)))
            progress((i + 1) / total, f"{i + 1}/{total}: skipped {item.path.name}")
            continue
        seen[sha] = item.path.name
        rows.append(vec)
        files.append(item)
        progress((i + 1) / total, f"{i + 1}/{total}: features of {item.path.name}")
    X = np.vstack(rows) if rows else np.empty((0, feature_set.size))
    y = np.array([f.target for f in files], dtype=int)
    checkpoint = ({"checkpoint": ckpt_name or "", "checkpoint_sha256": ckpt_sha, "precision": precision}
                  if ckpt_sha else None)
    return VectorSet(feature_set, X, y, tuple(files), tuple(skipped), checkpoint, hits)


__all__ = ["VectorCache", "VectorSet", "cache_key", "extract_vectors"]
