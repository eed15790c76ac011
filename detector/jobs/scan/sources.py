"""What a scan reads: the files under a folder, or the rows of a CSV or Parquet manifest.

A manifest is a table with a ``path`` column and, optionally, a ``label`` column
(``human`` / ``ai`` or empty). Relative paths are relative to the manifest's folder.
A path that does not exist is kept: the scan records it as a failed row
("missing"), so every line of the manifest is accounted for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...audio import AUDIO_EXTENSIONS, iter_audio_files
from ...errors import DetectorError

MANIFEST_SUFFIXES = (".csv", ".parquet")


class SourceError(DetectorError, ValueError):
    """The scan's SOURCE cannot be listed. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class ScanItem:
    """One file to scan: its path (as the workers will open it) and its label, if the manifest gave one."""

    path: str
    label: str = ""


def scan_items(source: str | os.PathLike, *, limit: int | None = None) -> list[ScanItem]:
    """The files a scan of ``source`` covers, in a stable order.

    Parameters
    ----------
    source : path
        A folder (searched recursively for :data:`~detector.audio.AUDIO_EXTENSIONS`, hidden
        files and folders skipped), or a ``.csv`` / ``.parquet`` manifest with a ``path`` column
        and an optional ``label`` column.
    limit : int, optional
        At most this many items (the first ones).

    Raises
    ------
    SourceError
        When ``source`` does not exist, is neither a folder nor a manifest, or the
        manifest cannot be read or has no ``path`` column.
    """
    if limit is not None and limit < 1:
        raise SourceError(f"The limit must be at least 1, not {limit}.")
    root = Path(source).expanduser()
    if root.is_dir():
        items = [ScanItem(os.path.abspath(p)) for p in iter_audio_files([root])]  # as found: links not followed
    elif root.is_file() and root.suffix.lower() in MANIFEST_SUFFIXES:
        items = _manifest(root)
    elif root.exists():
        raise SourceError(f"{root} is neither a folder nor a manifest ({' or '.join(MANIFEST_SUFFIXES)} with a "
                          "path column).")
    else:
        raise SourceError(f"{root} does not exist.")
    return items[:limit] if limit is not None else items


def _manifest(manifest: Path) -> list[ScanItem]:
    import pandas as pd  # the CLI's other commands do not need pandas at start-up

    try:
        if manifest.suffix.lower() == ".csv":
            table = pd.read_csv(manifest, dtype=str, keep_default_na=False, skipinitialspace=True)
        else:
            table = pd.read_parquet(manifest)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"The manifest {manifest} cannot be read: {exc}") from None
    columns = {str(c).strip().lower(): c for c in table.columns}
    if "path" not in columns:
        found = ", ".join(map(str, table.columns)) or "none"
        raise SourceError(f"The manifest {manifest} needs a 'path' column (its columns: {found}).")
    paths = table[columns["path"]].astype(str).str.strip()
    labels = (table[columns["label"]].fillna("").astype(str).str.strip().str.lower()
              if "label" in columns else [""] * len(table))
    base = manifest.resolve().parent
    return [ScanItem(str((base / Path(p).expanduser()) if not os.path.isabs(os.path.expanduser(p))
                         else Path(p).expanduser()), label)
            for p, label in zip(paths, labels) if p]


def describe_empty(source: str | os.PathLike) -> str:
    """Why a scan of ``source`` found nothing, for the user."""
    if Path(source).is_dir():
        return f"No audio files ({' '.join(AUDIO_EXTENSIONS)}) found under {source}."
    return f"The manifest {source} lists no files."


__all__ = ["MANIFEST_SUFFIXES", "ScanItem", "SourceError", "describe_empty", "scan_items"]
