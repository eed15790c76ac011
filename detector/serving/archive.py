"""A training set uploaded as one zip of ``human/`` and ``ai/``, unpacked safely into a fresh folder.

The archive is untrusted. Only audio files under a ``human/`` or ``ai/`` folder (at the
top, or inside one top folder such as ``mytracks/human/``) are written, each as a new
regular file below a new folder of the server's choosing. Refused, with the whole archive:
absolute names, drive letters, ``..``, symbolic links, encrypted members, a name listed
twice, more members than :attr:`ZipLimits.max_members`, a member or a total beyond the
size limits, a member that claims to expand more than :attr:`ZipLimits.max_ratio` times
(a zip bomb), or not enough free disk. Sizes are counted as the bytes are written, not
taken from the archive's own header. Anything else (macOS ``__MACOSX/`` folders, hidden
files, other files) is left out and listed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..audio.formats import is_audio_file
from ..config import data_dir
from ..types import LABELS
from .errors import ArchiveError

MIB = 2**20
CHUNK = MIB
PREFIX = "upload-"
STALE_S = 24 * 3600.0
"""Unpacked uploads older than this are removed (what a crashed server left behind)."""


def uploads_dir() -> Path:
    """Where uploaded training sets are unpacked while a model trains: ``<data dir>/uploads``."""
    return data_dir() / "uploads"


@dataclass(frozen=True)
class ZipLimits:
    """What one uploaded training set may unpack to."""

    max_members: int = 10_000
    max_file_bytes: int = 512 * MIB
    max_total_bytes: int = 4096 * MIB
    max_ratio: float = 200.0
    """Largest uncompressed/compressed size of a member over :attr:`ratio_floor` bytes (audio barely compresses)."""
    ratio_floor: int = 4 * MIB
    min_free_bytes: int = 1024 * MIB
    """Disk space that must stay free after unpacking."""


@dataclass(frozen=True)
class Extracted:
    """An unpacked training set: ``folder`` holds ``human/`` and ``ai/``."""

    folder: Path
    files: int
    left_out: tuple[str, ...]
    """Archive names not unpacked (not audio, outside human/ and ai/, hidden), as listed in the archive."""


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    label: str
    parts: tuple[str, ...]


_DRIVE = re.compile(r"^[A-Za-z]:")


def _parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """The member's name as safe parts; :class:`ArchiveError` for absolute names, drives and ``..``."""
    name = info.filename
    shown = repr(name[:200])
    if "\0" in name:
        raise ArchiveError(f"The archive holds a member whose name contains a NUL character ({shown}).")
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise ArchiveError(f"The archive holds an absolute path, {shown}; it is refused as a whole. Zip the "
                           "human/ and ai/ folders themselves.")
    parts = tuple(p for p in PurePosixPath(text).parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"The archive holds {shown}, which climbs out of its folder (..); it is refused as a "
                           "whole.")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _plan(archive: zipfile.ZipFile, limits: ZipLimits) -> tuple[list[_Member], list[str]]:
    """Which members to unpack and under which class; everything wrong with the archive raises first."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise ArchiveError(f"The archive lists {len(infos):,} members; at most {limits.max_members:,} are accepted.")
    files = []
    for info in infos:
        parts = _parts(info)
        if _is_symlink(info):
            raise ArchiveError(f"The archive holds a symbolic link, {info.filename[:200]!r}; links are refused. "
                               "Zip the audio files themselves.")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{info.filename[:200]!r} in the archive is encrypted; upload an unencrypted zip.")
        if not info.is_dir() and parts:
            files.append((info, parts))
    tops = {parts[0] for _, parts in files if not _hidden(parts)}
    wrapped = len(tops) == 1 and not tops & set(LABELS)
    members, left_out, total, seen = [], [], 0, set()
    for info, parts in files:
        inner = parts[1:] if wrapped else parts
        if _hidden(parts) or len(inner) < 2 or inner[0] not in LABELS or not is_audio_file(inner[-1]):
            left_out.append(info.filename)
            continue
        key = tuple(p.lower() for p in inner)
        if key in seen:
            raise ArchiveError(f"The archive lists {info.filename[:200]!r} twice.")
        seen.add(key)
        if info.file_size > limits.max_file_bytes:
            raise ArchiveError(f"{info.filename[:200]!r} would unpack to {info.file_size / MIB:,.0f} MiB; one file "
                               f"may be at most {limits.max_file_bytes / MIB:,.0f} MiB.")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ArchiveError(f"{info.filename[:200]!r} claims to expand {ratio:,.0f} times, which audio never does; "
                               "the archive looks like a zip bomb and is refused.")
        total += info.file_size
        members.append(_Member(info, inner[0], inner[1:]))
    if total > limits.max_total_bytes:
        raise ArchiveError(f"The archive would unpack to {total / MIB:,.0f} MiB; a training set may be at most "
                           f"{limits.max_total_bytes / MIB:,.0f} MiB.")
    return members, left_out


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _write(archive: zipfile.ZipFile, member: _Member, folder: Path, budget: int, limits: ZipLimits) -> int:
    """Unpack one member as a new regular file; the bytes written (never more than ``budget``)."""
    target = folder / member.label
    for part in member.parts[:-1]:
        target = target / part
        target.mkdir(mode=0o700, exist_ok=True)
    target = target / member.parts[-1]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = 0
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "wb") as out, archive.open(member.info) as source:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > min(limits.max_file_bytes, budget):
                raise ArchiveError(f"{member.info.filename[:200]!r} unpacks to more than the archive said; the "
                                   "archive is refused.")
            out.write(chunk)
    return written


def extract_dataset(source: bytes | BinaryIO, parent: Path, *, limits: ZipLimits = ZipLimits()) -> Extracted:
    """Unpack the training set in the zip ``source`` into a new folder under ``parent``.

    Parameters
    ----------
    source : bytes or binary file
        The uploaded zip.
    parent : Path
        Where the new folder (``upload-<random>``) is made; created if missing.
    limits : ZipLimits
        Sizes and counts the archive may not pass.

    Returns
    -------
    Extracted
        The folder (with ``human/`` and ``ai/``), how many files it holds, what was left out.

    Raises
    ------
    ArchiveError
        The archive is not a zip, is unsafe, too large, or holds no audio under human/ and ai/.
        Nothing is left on disk then.
    """
    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        archive = zipfile.ZipFile(data)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArchiveError("The upload is not a readable zip archive. Zip a folder that holds human/ and ai/ "
                           "subfolders of audio files.") from None
    with archive:
        members, left_out = _plan(archive, limits)
        counts = {label: sum(m.label == label for m in members) for label in LABELS}
        if not all(counts.values()):
            raise ArchiveError(f"The archive needs audio files under both human/ and ai/ (found {counts['human']} "
                               f"under human/ and {counts['ai']} under ai/, {len(left_out)} other files).")
        parent.mkdir(parents=True, exist_ok=True)
        planned = sum(m.info.file_size for m in members)
        if shutil.disk_usage(parent).free - planned < limits.min_free_bytes:
            raise ArchiveError("There is not enough free disk space on the server to unpack this archive; try a "
                               "smaller one, or ask the operator.")
        remove_stale(parent)
        folder = parent / f"{PREFIX}{uuid.uuid4().hex}"
        folder.mkdir(mode=0o700)
        try:
            for label in LABELS:
                (folder / label).mkdir(mode=0o700)
            budget = min(limits.max_total_bytes, planned)
            for member in members:
                budget -= _write(archive, member, folder, budget, limits)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ArchiveError(f"The archive could not be unpacked ({exc}); it may be damaged.") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return Extracted(folder, len(members), tuple(left_out))


@contextmanager
def extracted_dataset(source: bytes | BinaryIO, parent: Path, *,
                      limits: ZipLimits = ZipLimits()) -> Iterator[Extracted]:
    """:func:`extract_dataset` for the ``with`` block; the folder is removed afterwards, whatever happens."""
    found = extract_dataset(source, parent, limits=limits)
    try:
        yield found
    finally:
        shutil.rmtree(found.folder, ignore_errors=True)


def remove_stale(parent: Path, *, older_than: float = STALE_S) -> int:
    """Remove unpacked uploads in ``parent`` older than ``older_than`` seconds; how many were removed."""
    removed = 0
    if not parent.is_dir():
        return 0
    for folder in parent.glob(f"{PREFIX}*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and time.time() - folder.stat().st_mtime > older_than:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


__all__ = ["Extracted", "ZipLimits", "extract_dataset", "extracted_dataset", "remove_stale", "uploads_dir"]
