"""Where the workbench keeps its files, overridable by environment variables.

``DETECTOR_DATA_DIR`` (default: ``data/`` in the project folder) holds the history
database, trained models, the feature cache and downloaded CLAP checkpoints.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The data directory (``$DETECTOR_DATA_DIR`` or ``<project>/data``), created on first use."""
    path = Path(os.environ.get("DETECTOR_DATA_DIR") or PROJECT_ROOT / "data").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


__all__ = ["PROJECT_ROOT", "data_dir"]
