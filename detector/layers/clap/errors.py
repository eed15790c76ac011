"""Why the CLAP layer cannot run: exceptions whose ``reason`` and ``how_to_enable`` are for the user."""

from __future__ import annotations

from ...errors import DetectorError


class ClapUnavailable(DetectorError, RuntimeError):
    """The CLAP layer cannot run. ``reason`` and ``how_to_enable`` are written for the user."""

    def __init__(self, reason: str, how_to_enable: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.how_to_enable = how_to_enable


class CheckpointNotFound(ClapUnavailable):
    """No checkpoint in any of the places searched (nothing explicit was asked for)."""


class CheckpointError(ClapUnavailable):
    """A checkpoint file exists but is not a usable LAION-CLAP checkpoint."""


class DownloadError(ClapUnavailable):
    """The checkpoint could not be downloaded (offline, interrupted, wrong size)."""


__all__ = ["CheckpointError", "CheckpointNotFound", "ClapUnavailable", "DownloadError"]
