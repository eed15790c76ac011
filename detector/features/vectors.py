"""Fixed-length feature vectors for the trained classifier.

Three versioned feature sets exist:

``clap-512`` (version ``clap-512-v1``)
    The CLAP layer's aggregate embedding of the track: 512 values, the L2-normalised
    mean of the per-window embeddings. Only valid together with the checkpoint that
    produced it, so the cache key and the model card carry the checkpoint SHA-256.

``spectral`` (version ``spectral-v1``), 62 values from the track's one STFT:
    * the heuristic's four numbers: ``mfcc_variance``, ``mfcc_kurtosis``,
      ``contrast_std``, ``flatness_mean``;
    * ``mfcc_mean_00`` .. ``mfcc_mean_19`` and ``mfcc_std_00`` .. ``mfcc_std_19``: mean
      and standard deviation over time of each of the 20 MFCCs;
    * ``contrast_mean_0`` .. ``contrast_mean_6`` and ``contrast_std_0`` ..
      ``contrast_std_6``: the same for each of the 7 spectral-contrast bands (dB);
    * ``flatness_std``, ``flatness_p10``, ``flatness_p50``, ``flatness_p90``: spread and
      10th/50th/90th percentiles of the per-frame spectral flatness (its mean is
      already among the first four).

``fakeprint`` (version ``fakeprint-v1``), 1,500 values from the track's fakeprint
    (:mod:`detector.features.fakeprint`): its long-term native-rate spectrum minus a
    running-median floor, in dB, clipped to [0, 5] dB and max-pooled onto a fixed grid
    of 10 Hz cells from 1 kHz to 16 kHz. ``fakeprint_01000hz`` .. ``fakeprint_15990hz``
    name each cell by its lower edge; cells above a track's Nyquist frequency (or in a
    band with no signal) are 0. Narrow peaks a generator's upsampling decoder leaves
    show as isolated high cells. Tracks sampled at 4 kHz or less, or shorter than one
    FFT frame, have no fakeprint.

Changing what a feature set computes means a new version string, so cached vectors
and trained models of the old definition are never mixed with the new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DetectorError
from .fakeprint import VECTOR_HZ
from .spectral import SUMMARY_NAMES
from .track import TrackFeatures


class FeatureSetUnavailable(DetectorError, ValueError):
    """A track lacks the features a model needs. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class FeatureSet:
    """A named, versioned list of features."""

    name: str
    version: str
    names: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.names)


SPECTRAL = FeatureSet(
    "spectral",
    "spectral-v1",
    SUMMARY_NAMES
    + tuple(f"mfcc_mean_{i:02d}" for i in range(20))
    + tuple(f"mfcc_std_{i:02d}" for i in range(20))
    + tuple(f"contrast_mean_{i}" for i in range(7))
    + tuple(f"contrast_std_{i}" for i in range(7))
    + ("flatness_std", "flatness_p10", "flatness_p50", "flatness_p90"),
)
CLAP = FeatureSet("clap-512", "clap-512-v1", tuple(f"clap_{i:03d}" for i in range(512)))


def _fakeprint_cells() -> tuple[str, ...]:
    """One name per cell of the ``VECTOR_HZ`` grid, after the cell's lower edge in Hz."""
    lo, hi, step = VECTOR_HZ
    return tuple(f"fakeprint_{int(round(lo + i * step)):05d}hz" for i in range(int(round((hi - lo) / step))))


FAKEPRINT = FeatureSet("fakeprint", "fakeprint-v1", _fakeprint_cells())
FEATURE_SETS = {fs.name: fs for fs in (SPECTRAL, CLAP, FAKEPRINT)}
FEATURE_SET_VERSIONS = {fs.version: fs for fs in (SPECTRAL, CLAP, FAKEPRINT)}


def get_feature_set(name: str) -> FeatureSet:
    """The feature set called ``name`` (``"spectral"``, ``"clap-512"``, ``"fakeprint"``; ``"clap"`` is accepted too)."""
    name = "clap-512" if name == "clap" else name
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ValueError(f"Unknown feature set {name!r}; choose one of {', '.join(FEATURE_SETS)}.") from None


def resolve_feature_set(requested: str, clap_available: bool) -> tuple[FeatureSet, str | None]:
    """Turn ``"auto"``, ``"spectral"``, ``"clap"`` or ``"fakeprint"`` into a feature set.

    Returns the feature set and, for ``"auto"`` without CLAP, a note for the user.
    ``"auto"`` never picks the fakeprint set; it is there when asked for by name.

    Raises
    ------
    FeatureSetUnavailable
        ``"clap"`` was asked for but no CLAP encoder is available.
    """
    if requested == "auto":
        if clap_available:
            return CLAP, None
        return SPECTRAL, "CLAP is not available, so the classifier is trained on the spectral feature set."
    fs = get_feature_set(requested)
    if fs is CLAP and not clap_available:
        raise FeatureSetUnavailable(
            "The clap feature set needs the CLAP layer (a LAION-CLAP checkpoint), which is not available; "
            "use --feature-set spectral or auto."
        )
    return fs, None


def spectral_vector(track: TrackFeatures) -> np.ndarray:
    """The ``spectral-v1`` vector of one track (see the module docstring)."""
    frames = track.frames
    flat = np.asarray(frames.flatness, dtype=np.float64)
    parts = [
        np.array([track.spectral[k] for k in SUMMARY_NAMES], dtype=np.float64),
        frames.mfcc.mean(axis=1), frames.mfcc.std(axis=1),
        frames.contrast.mean(axis=1), frames.contrast.std(axis=1),
        np.array([flat.std(), *np.percentile(flat, [10, 50, 90])]),
    ]
    vec = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    assert vec.shape == (SPECTRAL.size,)
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)


def clap_vector(track: TrackFeatures) -> np.ndarray:
    """The CLAP aggregate embedding of one track.

    Raises
    ------
    FeatureSetUnavailable
        When the track has no CLAP features (the layer did not run for it).
    """
    if track.clap is None:
        why = f" ({track.clap_skipped.reason})" if getattr(track, "clap_skipped", None) else ""
        raise FeatureSetUnavailable(f"This track has no CLAP embedding{why}.")
    vec = np.asarray(track.clap.aggregate, dtype=np.float64).ravel()
    if vec.shape != (CLAP.size,):
        raise FeatureSetUnavailable(f"The CLAP embedding has {vec.size} values; the clap-512 set needs 512.")
    return vec


def fakeprint_vector(track: TrackFeatures) -> np.ndarray:
    """The ``fakeprint-v1`` vector of one track (see the module docstring).

    Raises
    ------
    FeatureSetUnavailable
        When the track has no fakeprint (sampled at 4 kHz or less, or too short).
    """
    if track.fakeprint is None:
        raise FeatureSetUnavailable(
            f"this track has no fakeprint: at {track.source_rate} Hz and {track.duration:.1f} s there is no band "
            "above 1 kHz to take it from (it needs audio sampled above 4 kHz and at least half a second long)")
    vec = np.asarray(track.fakeprint.vector(), dtype=np.float64).ravel()
    if vec.shape != (FAKEPRINT.size,):
        raise FeatureSetUnavailable(f"the fakeprint vector has {vec.size} values; fakeprint-v1 needs {FAKEPRINT.size}")
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)


def vector_for(track: TrackFeatures, feature_set: FeatureSet) -> np.ndarray:
    """The vector of ``feature_set`` for ``track``.

    Raises
    ------
    FeatureSetUnavailable
        When the track lacks the features (no CLAP embedding, no fakeprint).
    """
    if feature_set is CLAP:
        return clap_vector(track)
    if feature_set is FAKEPRINT:
        return fakeprint_vector(track)
    return spectral_vector(track)


__all__ = [
    "CLAP", "FAKEPRINT", "FEATURE_SETS", "FEATURE_SET_VERSIONS", "SPECTRAL", "FeatureSet", "FeatureSetUnavailable",
    "clap_vector", "fakeprint_vector", "get_feature_set", "resolve_feature_set", "spectral_vector", "vector_for",
]
