"""The errors of serving the workbench to others: each message says what happened and what to do."""

from __future__ import annotations

from ..errors import DetectorError


class ServingError(DetectorError, ValueError):
    """A request the shared server refuses. ``str(err)`` is written for the person who made it."""


class LimitReached(ServingError):
    """A per-user limit (analyses at once, upload volume per hour, training jobs) is reached."""


class PathRefused(ServingError):
    """A path from the browser points outside the configured data root, or nowhere."""


class ArchiveError(ServingError):
    """An uploaded archive cannot be used as a training set (or is unsafe to unpack)."""


__all__ = ["ArchiveError", "LimitReached", "PathRefused", "ServingError"]
