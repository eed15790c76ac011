"""Statistics of embedding vectors, and the CLAP embeddings of one track.

Defined values for degenerate input (never NaN): an all-zero embedding has sparsity
1.0, entropy 0.0, kurtosis 0.0 and skew 0.0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClapFeatures:
    """The CLAP embeddings of one track and their statistics.

    Filled in by :meth:`detector.layers.clap.ClapEncoder.features`. ``windows`` holds one
    L2-normalised 512-dim embedding per 10 s window and ``aggregate`` their
    re-normalised mean. ``stats`` are the embedding statistics of the aggregate;
    ``window_stats`` those of each window. ``checkpoint`` is the checkpoint's file name.
    ``precision`` is the precision of the encoder's linear layers (``"fp32"``, ``"int8"``
    or ``"bf16"``; see :mod:`detector.layers.clap.precision`).
    """

    checkpoint: str
    checkpoint_sha256: str
    architecture: str
    aggregate: np.ndarray
    windows: np.ndarray
    window_bounds: tuple[tuple[float, float], ...]
    stats: dict[str, float]
    window_stats: tuple[dict[str, float], ...]
    precision: str = "fp32"


def embedding_stats(vector: np.ndarray) -> dict[str, float]:
    """Statistics of one embedding vector, as the original detector defines them.

    kurtosis, skew
        scipy's Fisher kurtosis and skewness of the entries.
    sparsity
        Fraction of entries with ``|x|`` below 1 % of ``max |x|``.
    entropy
        Shannon entropy in bits of ``|x| / sum |x|``, divided by ``log2(len(x))``.
    std, l2_norm
        Standard deviation and Euclidean norm of the entries.
    """
    import scipy.stats  # here, not at import: the dashboard's first page has no use for it (most of a second)

    x = np.asarray(vector, dtype=np.float64).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError("An embedding needs at least two finite values.")
    a = np.abs(x)
    total = a.sum()
    if total == 0.0:
        return {"kurtosis": 0.0, "skew": 0.0, "sparsity": 1.0, "entropy": 0.0, "std": 0.0, "l2_norm": 0.0}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kurt = scipy.stats.kurtosis(x)
        skew = scipy.stats.skew(x)
    return {
        "kurtosis": float(np.nan_to_num(kurt)),
        "skew": float(np.nan_to_num(skew)),
        "sparsity": float(np.mean(a < 0.01 * a.max())),
        "entropy": float(scipy.stats.entropy(a / total, base=2) / np.log2(x.size)),
        "std": float(np.std(x)),
        "l2_norm": float(np.linalg.norm(x)),
    }


__all__ = ["ClapFeatures", "embedding_stats"]
