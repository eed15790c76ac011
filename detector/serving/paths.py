"""Server folders a browser may name on a shared server: only inside the one configured data root.

A path typed or chosen in the browser is taken relative to the root. Absolute paths,
``~``, ``..`` and anything that resolves outside the root (a symbolic link out of it) are
refused with :class:`~detector.serving.errors.PathRefused`, before the server reads
anything there. Messages name the path as the user gave it, never the server's folders.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..jobs.scan.output import PART_GLOB
from ..training.dataset import Dataset, SkippedFile
from ..types import LABELS
from .errors import PathRefused

MAX_FOLDERS = 200
"""Dataset folders :func:`dataset_folders` lists at most."""
MAX_DEPTH = 4


def _root(root: Path) -> Path:
    try:
        resolved = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        resolved = None
    if resolved is None or not resolved.is_dir():
        raise PathRefused("The data root configured on this server is not a folder; ask the operator to fix "
                          "DETECTOR_DATA_ROOT.")
    return resolved


def resolve_under(root: Path, relative: str) -> Path:
    """The folder or file ``relative`` names inside ``root``, resolved; refuses anything outside.

    Parameters
    ----------
    root : Path
        The data root (the operator's ``DETECTOR_DATA_ROOT``).
    relative : str
        What the browser sent: a path relative to the root, ``/`` separated (``.``: the root).

    Raises
    ------
    PathRefused
        An empty, absolute or ``~`` path; a ``..`` part; a path that does not exist; one that
        resolves outside the root (through a symbolic link).
    """
    text = (relative or "").strip()
    if not text:
        raise PathRefused("Choose a folder inside the data root.")
    if "\0" in text:
        raise PathRefused("A path cannot contain a NUL character.")
    shown = repr(text[:200])
    if (PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor or text.startswith("~")):
        raise PathRefused(f"{shown} is an absolute path; give a folder relative to the data root.")
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if ".." in parts:
        raise PathRefused(f"{shown} goes up out of its folder (..); give a folder inside the data root.")
    base = _root(root)
    target = base.joinpath(*parts)
    try:
        resolved = target.resolve(strict=True)
    except (OSError, RuntimeError):
        raise PathRefused(f"There is no {shown} in the data root.") from None
    if not resolved.is_relative_to(base):
        raise PathRefused(f"{shown} is a link to somewhere outside the data root, so it is not read.")
    return resolved


def is_dataset_folder(folder: Path) -> bool:
    """Whether ``folder`` has the ``human/`` and ``ai/`` subfolders a training set needs."""
    return all((folder / label).is_dir() for label in LABELS)


def dataset_folder(root: Path, relative: str) -> Path:
    """The training-set folder ``relative`` inside ``root`` (:func:`resolve_under`), which must have ``human/``
    and ``ai/``. On a shared server a CSV manifest is not accepted: its rows could name any path."""
    folder = resolve_under(root, relative)
    if not folder.is_dir() or not is_dataset_folder(folder):
        raise PathRefused(f"{relative.strip()[:200]!r} in the data root is not a folder with human/ and ai/ "
                          "subfolders.")
    return folder


def dataset_folders(root: Path, *, max_depth: int = MAX_DEPTH, limit: int = MAX_FOLDERS) -> list[str]:
    """The training-set folders inside ``root`` (those with ``human/`` and ``ai/``), relative, sorted.

    Symbolic links are not followed and hidden folders are skipped, so nothing outside the
    root is listed; at most ``limit`` folders, at most ``max_depth`` levels down.
    """
    return _folders(root, lambda here, subfolders: set(LABELS) <= set(subfolders), set(LABELS), max_depth, limit)


def scan_folders(root: Path, *, max_depth: int = MAX_DEPTH, limit: int = MAX_FOLDERS) -> list[str]:
    """The catalogue scans' output folders inside ``root`` (those holding ``part-*.parquet``), as
    :func:`dataset_folders` lists training sets."""
    return _folders(root, lambda here, subfolders: any(here.glob(PART_GLOB)), set(), max_depth, limit)


def _folders(root: Path, accept, skip_inside: set[str], max_depth: int, limit: int) -> list[str]:
    base = _root(root)
    found: list[str] = []
    for current, subfolders, _ in os.walk(base, followlinks=False):
        here = Path(current)
        depth = len(here.relative_to(base).parts)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                               and not (here / d).is_symlink() and depth < max_depth)
        if accept(here, subfolders):
            found.append(here.relative_to(base).as_posix() if here != base else ".")
            subfolders[:] = [d for d in subfolders if d not in skip_inside]  # e.g. no datasets inside a class folder
            if len(found) >= limit:
                break
    return sorted(found)


def file_inside(root: Path, path: str | os.PathLike) -> Path:
    """``path`` (a file a scan row names) resolved, if it lies inside ``root``; else :class:`PathRefused`."""
    base = _root(root)
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        raise PathRefused("The file is not reachable from this server.") from None
    if not resolved.is_relative_to(base) or not resolved.is_file():
        raise PathRefused("The file lies outside the data root, so this shared server does not read it.")
    return resolved


def hide_folder(text: str, *folders: Path | None) -> str:
    """``text`` (a message) with the server ``folders`` cut out of every path in it, so it names files relative
    to them and shows nothing of the server's layout. The deepest folder is cut first."""
    forms = {form for folder in folders if folder is not None for form in (str(folder), str(Path(folder).resolve()))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form + os.sep, "").replace(form, ".")
    return text


def _relative(path: str | Path, source: Path) -> str:
    path = Path(path)
    return path.relative_to(source).as_posix() if path.is_relative_to(source) else path.name


def confine(dataset: Dataset, root: Path) -> Dataset:
    """``dataset`` without the files that resolve outside ``root`` (links out of it): those are skipped, unread.

    Skipped files are named relative to the dataset's folder, so no server folder is shown.
    """
    base = _root(root)
    kept = []
    skipped = [SkippedFile(_relative(s.path, dataset.source), s.reason) for s in dataset.skipped]
    for item in dataset.files:
        try:
            inside = item.path.resolve(strict=True).is_relative_to(base)
        except (OSError, RuntimeError):
            inside = False
        if inside:
            kept.append(item)
        else:
            skipped.append(SkippedFile(_relative(item.path, dataset.source),
                                       "a link to somewhere outside the data root (not read)"))
    return replace(dataset, files=tuple(kept), skipped=tuple(skipped))


__all__ = ["MAX_DEPTH", "MAX_FOLDERS", "confine", "dataset_folder", "dataset_folders", "file_inside", "hide_folder",
           "is_dataset_folder", "resolve_under", "scan_folders"]
