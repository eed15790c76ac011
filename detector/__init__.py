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

The names below load their module on first use (``lazy_loader``, as librosa and
scikit-image do): ``import detector.serving`` does not import the analysis, and the
dashboard's first page stays light.
"""

import lazy_loader as _lazy

from ._version import __version__

__getattr__, __dir__, _names = _lazy.attach(__name__, submod_attrs={
    "analysis": ["analyze", "extract", "score"],
    "audio": ["Audio", "AudioError", "decode"],
    "errors": ["DetectorError"],
    "layers.heuristics": ["ProfileError", "Thresholds"],
    "report": ["DetectionReport"],
})
__all__ = sorted([*_names, "__version__"])
