"""A scan's OUT directory: a Parquet dataset written part by part, read back as one table.

Rows are written as the scan goes, a few at a time, each part atomically (a temporary
file renamed into place), so a killed driver or worker loses no finished part and a
reader never sees half a file. A lock file keeps two scans from writing to one OUT at
once. Reading tolerates parts of older runs with other columns (they are unified) and
names any part it cannot read instead of failing.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import DetectorError
from ...files import atomic_write

PART_GLOB = "part-*.parquet"
ROWS_PER_PART = 10_000
"""Parts of one run are merged into files of at most this many rows when it ends (:meth:`ScanOutput.compact`)."""
LOCK_NAME = ".scan.lock"
REPORT_COLUMN = "report_json"


class OutputError(DetectorError, OSError):
    """The OUT directory cannot be used. ``str(err)`` is written for the user."""


@dataclass
class ScanTable:
    """What an OUT directory holds: every row (a pandas DataFrame), and the parts that could not be read."""

    rows: Any  # pandas.DataFrame: pandas is imported only when a scan is read
    parts: int
    unreadable: list[str] = field(default_factory=list)


def read_scan(out: str | os.PathLike, *, latest: bool = True, reports: bool = True) -> ScanTable:
    """Every row of the scan in ``out``.

    Parameters
    ----------
    latest : bool
        Keep only the newest row of each ``(path, sha256, profile)``: a file retried after a
        failure, or scanned again, appears once.
    reports : bool
        Include ``report_json`` (about 20 KB per row on disk, 60 KB in memory); without it a
        table of many thousand rows stays small (:func:`read_report` fetches one).

    Raises
    ------
    OutputError
        When ``out`` is not a directory.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(out).expanduser()
    if not root.is_dir():
        raise OutputError(f"{root} is not a scan's output folder (it does not exist or is not a folder).")
    tables, unreadable = [], []
    parts = sorted(root.glob(PART_GLOB))
    for part in parts:
        try:
            names = None if reports else [n for n in pq.read_schema(part).names if n != REPORT_COLUMN]
            tables.append(pq.read_table(part, columns=names))
        except (OSError, pa.ArrowException) as exc:
            unreadable.append(f"{part.name}: {exc}")
    if tables:
        rows = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    else:
        from .rows import ROW_COLUMNS

        rows = pd.DataFrame(columns=list(ROW_COLUMNS))
    if latest and len(rows):
        rows = (rows.sort_values("analysed_utc", kind="stable")
                .drop_duplicates(subset=["path", "sha256", "profile"], keep="last")
                .reset_index(drop=True))
    return ScanTable(rows, len(parts) - len(unreadable), unreadable)


def read_report(out: str | os.PathLike, path: str, sha256: str, profile: str) -> str | None:
    """The stored report (JSON) of one row, read from the parts without loading the others' reports."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found = None
    for part in sorted(Path(out).expanduser().glob(PART_GLOB)):
        try:
            table = pq.read_table(part, columns=["path", "sha256", "profile", "analysed_utc", REPORT_COLUMN])
        except (OSError, KeyError, pa.ArrowException):  # an unreadable part: read_scan names it
            continue
        mask = pc.and_(pc.and_(pc.equal(table["path"], path), pc.equal(table["sha256"], sha256)),
                       pc.equal(table["profile"], profile))
        for row in table.filter(mask).to_pylist():
            if found is None or row["analysed_utc"] >= found["analysed_utc"]:
                found = row
    return None if found is None else found[REPORT_COLUMN]


class ScanOutput:
    """The writer's side of an OUT directory, held for one scan (``with ScanOutput(out) as output:``).

    Raises
    ------
    OutputError
        When ``out`` cannot be created or written, or another scan is writing to it.
    """

    def __init__(self, out: str | os.PathLike) -> None:
        self.root = Path(out).expanduser()
        self.run = uuid.uuid4().hex[:8]
        self._written = 0
        self._lock_fh = None

    def __enter__(self) -> "ScanOutput":
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / LOCK_NAME, "a+")
        except OSError as exc:
            raise OutputError(f"Cannot write the scan's output to {self.root}: {exc.strerror or exc}.") from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise OutputError(f"Another scan is writing to {self.root}. Wait for it to finish, or choose another "
                              "output folder.") from None
        self._lock_fh = fh
        for stale in self.root.glob(".tmp-*"):  # left by a killed writer; never a finished part
            stale.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def done(self, profile: str, *, stability: bool = False) -> tuple[frozenset[str], list[str]]:
        """The SHA-256 of every file already analysed (or failed on its bytes) under ``profile``, and the
        parts that could not be read (their files are analysed again). With ``stability``, an analysis
        without a stability check is not done."""
        table = read_scan(self.root, latest=False, reports=False)
        rows = table.rows
        if not len(rows):
            return frozenset(), table.unreadable
        finished = (rows["status"] == "failed") | ((rows["status"] == "ok") & (rows["stability"].notna()
                                                                              if stability else True))
        mine = rows[(rows["profile"] == profile) & finished & rows["sha256"].notna()]
        return frozenset(mine["sha256"].astype(str)), table.unreadable

    def write(self, rows: Iterable[Mapping[str, Any]]) -> Path | None:
        """Write ``rows`` as one new part, atomically. Returns its path (None for no rows)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(rows)
        if not rows:
            return None
        names = list(dict.fromkeys(key for row in rows for key in row))  # from_pylist reads the first row's keys only
        table = pa.Table.from_pylist([{name: row.get(name) for name in names} for row in rows])
        self._written += 1
        path = self.root / f"part-{self.run}-{self._written:05d}.parquet"
        try:
            return atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
        except OSError as exc:
            raise OutputError(f"Cannot write the scan's results to {self.root}: {exc.strerror or exc}.") from None

    def compact(self) -> None:
        """Merge this run's parts into files of up to :data:`ROWS_PER_PART` rows.

        Each merged file is written before the small ones are removed, so a crash in between
        leaves rows twice, never none (:func:`read_scan` keeps one of each).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        small = sorted(self.root.glob(f"part-{self.run}-?????.parquet"))
        if len(small) < 2:
            return
        table = pa.concat_tables([pq.read_table(p) for p in small], promote_options="permissive")
        for n, start in enumerate(range(0, table.num_rows, ROWS_PER_PART), start=1):
            chunk = table.slice(start, ROWS_PER_PART)
            atomic_write(self.root / f"part-{self.run}-m{n:04d}.parquet",
                         lambda tmp, chunk=chunk: pq.write_table(chunk, tmp, compression="zstd"))
        for p in small:
            p.unlink(missing_ok=True)


__all__ = ["LOCK_NAME", "OutputError", "PART_GLOB", "REPORT_COLUMN", "ScanOutput", "ScanTable", "read_report", "read_scan"]
