"""Labelled training data: a folder of ``human/`` and ``ai/`` music, or a CSV manifest.

Two layouts are accepted:

* a **folder** with the subfolders ``human/`` and ``ai/`` (nested folders inside them
  are fine); every file with an audio extension (``.wav .flac .ogg .opus .mp3``) is
  one example of its subfolder's class;
* a **CSV manifest** with the header ``path,label``, one track per row; paths are
  relative to the manifest's folder (absolute paths work too) and labels are
  ``human`` or ``ai``.

Problems with single files or rows never stop a run: they are collected as
:class:`SkippedFile` entries and summarised at the end (:func:`skipped_summary`).
Problems with the dataset as a whole (no such path, missing subfolders, a bad
header, too few files per class) raise :class:`DatasetError` with a message for
the person running it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..audio.formats import AUDIO_EXTENSIONS, is_audio_file
from ..errors import DetectorError
from ..metrics import class_counts
from ..types import LABELS

MIN_PER_CLASS = 2
DEFAULT_FOLDS = 5  # stratified cross-validation folds
DEFAULT_TEST_SIZE = 0.2  # fraction held out for the held-out evaluation


class DatasetError(DetectorError, ValueError):
    """The dataset as a whole cannot be used. ``str(err)`` is written for the user."""


@dataclass(frozen=True)
class LabelledFile:
    """One audio file and its class (``"human"`` or ``"ai"``)."""

    path: Path
    label: str

    @property
    def target(self) -> int:
        """0 for human, 1 for AI."""
        return LABELS.index(self.label)


@dataclass(frozen=True)
class SkippedFile:
    """A file or manifest row that was left out, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Dataset:
    """The usable files of a dataset and what was skipped while listing it."""

    source: Path
    files: tuple[LabelledFile, ...]
    skipped: tuple[SkippedFile, ...]

    def counts(self) -> dict[str, int]:
        """Files per class, ``{"human": n, "ai": m}``."""
        return class_counts(f.label for f in self.files)


def check_class_counts(counts: dict[str, int], minimum: int = MIN_PER_CLASS, what: str = "usable") -> None:
    """Raise :class:`DatasetError` unless every class has ``minimum`` files."""
    short = [f"{label} has {counts.get(label, 0)}" for label in LABELS if counts.get(label, 0) < minimum]
    if short:
        raise DatasetError(
            f"Training needs at least {minimum} {what} files per class (human and ai), but "
            f"{' and '.join(short)}. Add more labelled tracks."
        )


def load_dataset(path: str | Path) -> Dataset:
    """List the labelled audio files of a dataset folder or CSV manifest.

    Raises
    ------
    DatasetError
        When ``path`` does not exist, is neither a folder nor a ``.csv`` file, lacks
        the ``human/`` and ``ai/`` subfolders or a ``path,label`` header.
    """
    source = Path(path).expanduser()
    if not source.exists():
        raise DatasetError(f"No such file or folder: {source}")
    source = source.resolve()
    if source.is_dir():
        return _from_folder(source)
    if source.suffix.lower() == ".csv":
        return _from_manifest(source)
    raise DatasetError(
        f"{source} is neither a folder nor a CSV manifest. Give a folder with human/ and ai/ "
        "subfolders, or a .csv file with the columns path,label."
    )


def _not_audio_reason(path: Path) -> str:
    return f"not an audio file extension ({path.suffix or 'none'}); expected one of {', '.join(AUDIO_EXTENSIONS)}"


def _from_folder(root: Path) -> Dataset:
    missing = [label for label in LABELS if not (root / label).is_dir()]
    if missing:
        found = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise DatasetError(
            f"{root} needs the subfolders human/ and ai/; {' and '.join(m + '/' for m in missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing"
            + (f" (found: {', '.join(found)})." if found else " (it has no subfolders).")
        )
    files, skipped = [], []
    for label in LABELS:
        for p in sorted((root / label).rglob("*")):
            if not p.is_file() or p.name.startswith("."):
                continue
            if is_audio_file(p):
                files.append(LabelledFile(p, label))
            else:
                skipped.append(SkippedFile(str(p), _not_audio_reason(p)))
    return Dataset(root, tuple(files), tuple(skipped))


def _from_manifest(manifest: Path) -> Dataset:
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"Cannot read the manifest {manifest}: {exc}") from None
    if not rows or [c.strip().lower() for c in rows[0]][:2] != ["path", "label"]:
        raise DatasetError(f"The manifest {manifest} must start with the header line path,label.")
    base = manifest.parent
    files, skipped, seen = [], [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        where = f"{manifest.name} line {line}"
        if len(row) < 2:
            skipped.append(SkippedFile(where, "expected two columns, path and label"))
            continue
        raw_path, label = row[0].strip(), row[1].strip().lower()
        if label not in LABELS:
            skipped.append(SkippedFile(f"{where} ({raw_path})", f"label {row[1].strip()!r} is not human or ai"))
            continue
        p = Path(raw_path).expanduser()
        p = (p if p.is_absolute() else base / p).resolve()
        if not p.is_file():
            skipped.append(SkippedFile(f"{where} ({raw_path})", f"no such file: {p}"))
        elif not is_audio_file(p):
            skipped.append(SkippedFile(f"{where} ({raw_path})", _not_audio_reason(p)))
        elif p in seen:
            skipped.append(SkippedFile(f"{where} ({raw_path})", "listed twice; the first row counts"))
        else:
            seen.add(p)
            files.append(LabelledFile(p, label))
    return Dataset(manifest, tuple(files), tuple(skipped))


def skipped_summary(skipped: Sequence[SkippedFile]) -> str:
    """A few lines for the user: how many files were skipped, each with its reason."""
    if not skipped:
        return "No files were skipped."
    lines = [f"{len(skipped)} file(s) skipped:"]
    lines += [f"  {s.path}: {s.reason}" for s in skipped]
    return "\n".join(lines)


__all__ = [
    "AUDIO_EXTENSIONS", "DEFAULT_FOLDS", "DEFAULT_TEST_SIZE", "LABELS", "MIN_PER_CLASS", "Dataset", "DatasetError",
    "LabelledFile", "SkippedFile",
    "check_class_counts", "class_counts", "load_dataset", "skipped_summary",
]
