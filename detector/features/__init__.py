"""Audio to features: spectral frames from one STFT, embedding statistics, classifier vectors.

:class:`TrackFeatures` is the stage's output for one track: everything the layers
score, so that moving a threshold rescores without decoding again.
"""

from .embedding import ClapFeatures, embedding_stats
from .spectral import SAMPLE_RATE, SUMMARY_NAMES, SpectralFrames, reference_spectral_summary, spectral_frames
from .overview import Overview, OverviewError
from .track import DEFAULT_SEGMENT_SECONDS, MIN_SEGMENT_SECONDS, TrackFeatures, segment_bounds
from .vectors import CLAP, SPECTRAL, FeatureSet, FeatureSetUnavailable, get_feature_set, resolve_feature_set, vector_for

__all__ = [
    "CLAP", "DEFAULT_SEGMENT_SECONDS", "MIN_SEGMENT_SECONDS", "SAMPLE_RATE", "SPECTRAL", "SUMMARY_NAMES", "ClapFeatures",
    "FeatureSet", "FeatureSetUnavailable", "Overview", "OverviewError", "SpectralFrames", "TrackFeatures", "embedding_stats", "get_feature_set",
    "reference_spectral_summary", "resolve_feature_set", "segment_bounds", "spectral_frames", "vector_for",
]
