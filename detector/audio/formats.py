"""Which audio files the detector reads, and how to find them under folders."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3")
"""File name extensions of the formats :func:`detector.audio.decode` accepts (any case)."""

UPLOAD_TYPES = tuple(ext.lstrip(".") for ext in AUDIO_EXTENSIONS)
"""The same, as a file uploader's ``type`` list."""

SUPPORTED_FORMATS = "WAV, FLAC, OGG/Vorbis, Opus or MP3"
"""The formats, as a person would name them."""


def is_audio_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has an audio extension (the file is not opened)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def iter_audio_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The audio files named by ``paths``: sorted, without duplicates.

    A folder contributes every file below it (recursively) with an audio extension
    (:data:`AUDIO_EXTENSIONS`, any case), skipping hidden files and folders. A path that
    is not a folder is kept as given, whatever its extension or whether it exists, so
    that analysing it reports the problem to the user.
    """
    found: dict[Path, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = (p for p in path.rglob("*")
                          if is_audio_file(p) and p.is_file() and not _is_hidden(p, path))
        else:
            candidates = iter((path,))
        for candidate in candidates:
            found.setdefault(candidate.resolve(), candidate)
    return sorted(found.values(), key=lambda p: str(p))


__all__ = ["AUDIO_EXTENSIONS", "SUPPORTED_FORMATS", "UPLOAD_TYPES", "is_audio_file", "iter_audio_files"]
