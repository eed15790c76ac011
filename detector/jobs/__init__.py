"""Many tracks at once: :func:`analyze_batch` (in process, reusing the history)."""

from .batch import BatchResult, analyze_batch

__all__ = ["BatchResult", "analyze_batch"]
