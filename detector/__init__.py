"""AI-generated music detection: decoding, features, detection layers and reports.

The package follows the data one way, and its folders say so::

    audio/     bytes -> mono samples at any rate (validation, limits, formats)
    features/  samples -> spectral frames, embedding statistics, classifier vectors
    layers/    features -> scores: heuristics (rules), clap/ (the encoder), classifier/
    analysis/  extract (decode once, features, embeddings) and score -> report
    report/    the report's schema, its JSON form and its tables
    history/   the SQLite history and the named threshold profiles
    training/  labelled datasets, vectors, training and evaluating a classifier
    jobs/      many files at once (batch)
    cli/       ``python -m detector`` commands
    plots.py   plotly figures of results (no Streamlit)

Importable without Streamlit or torch. The usual entry point is :func:`analyze`.
"""

from ._version import __version__
from .analysis import analyze, extract, score
from .audio import Audio, AudioError, decode
from .errors import DetectorError
from .layers.heuristics import ProfileError, Thresholds
from .report import DetectionReport

__all__ = [
    "Audio", "AudioError", "DetectionReport", "DetectorError", "ProfileError", "Thresholds", "__version__", "analyze",
    "decode", "extract", "score",
]
