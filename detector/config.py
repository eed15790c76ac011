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


def cpu_threads() -> int:
    """The CPU threads one analysis may use: ``$OMP_NUM_THREADS`` when set (Ray sets it to an actor's CPUs,
    so each scan worker decodes and transforms on one thread while Ray runs one worker per core), else the
    cores this process may run on."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        wanted = 0
    return wanted if wanted >= 1 else usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


__all__ = ["PROJECT_ROOT", "cpu_threads", "data_dir", "usable_cores"]
