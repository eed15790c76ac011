"""AI-generated music detection: decoding, features, heuristics and reports.

Importable without Streamlit or torch. The usual entry point is :func:`analyze`.
"""

__version__ = "0.1.0"

from .audio import Audio, AudioError, decode  # noqa: E402
from .heuristics import ProfileError, Thresholds  # noqa: E402
from .report import DetectionReport  # noqa: E402
from .service import analyze, extract, score  # noqa: E402

__all__ = [
    "Audio", "AudioError", "DetectionReport", "ProfileError", "Thresholds",
    "analyze", "decode", "extract", "score", "__version__",
]
