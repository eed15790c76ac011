"""Writing and hashing files: atomic replacement and chunked SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None], *, mode: int = 0o644) -> Path:
    """Create or replace ``path`` all at once: ``write(tmp)`` fills a temporary file beside it.

    The temporary file lives in the same folder (so :func:`os.replace` is atomic), gets
    ``mode`` (``mkstemp``'s 0600 would hide a model or profile from the dashboard's user)
    and is removed if ``write`` fails. A reader sees the old file or the new one, never a
    partial one. Returns ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 ``text``."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (:func:`hashlib.file_digest`)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


__all__ = ["atomic_write", "atomic_write_text", "sha256_file"]
