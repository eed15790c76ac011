"""One SQLite file, safe across threads, processes and crashes: connections, WAL, migrations, errors.

Durability
----------
The file uses write-ahead logging (``journal_mode=WAL``) with
``synchronous=NORMAL``. In WAL mode that combination never corrupts the database:
a killed process loses nothing it committed (the log is already in the operating
system's cache) and a power cut can at worst roll back the last few commits, which
here are analyses that a rerun recomputes. ``FULL`` would add an fsync to every
single-report commit of a batch for no gain in consistency.

Concurrency
-----------
Each operation opens its own short-lived connection, so one :class:`Database`
can be shared by any number of threads (Streamlit sessions) and processes. Writes
take the write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout``
seconds for another writer instead of failing; readers never block writers.

Schema
------
``PRAGMA user_version`` holds the schema version. :data:`~detector.history.migrations.MIGRATIONS`
is the ordered list of steps; those a database lacks are applied in one transaction when
it is opened. A database from a newer version of the detector is refused with
:class:`SchemaTooNewError` rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..config import data_dir
from ..errors import DetectorError
from .migrations import MIGRATIONS, SCHEMA_VERSION

DB_ENV = "DETECTOR_DB"
DB_FILENAME = "history.sqlite3"
DEFAULT_TIMEOUT = 30.0


class StoreError(DetectorError, RuntimeError):
    """The history database cannot be used. ``str(err)`` is written for the user."""


class NotAHistoryDatabaseError(StoreError):
    """The file exists but is not a SQLite database, or not this detector's."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of the detector."""


def default_path() -> Path:
    """``$DETECTOR_DB`` if set, else ``data_dir()/history.sqlite3``."""
    env = os.environ.get(DB_ENV)
    return Path(env).expanduser() if env else data_dir() / DB_FILENAME


def now() -> str:
    """The time now, UTC, ISO 8601 to the microsecond (how the database keeps times)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class Database:
    """The history's SQLite file: opened (created, switched to WAL, migrated) once, then one
    short connection per operation.

    Parameters
    ----------
    path : str or Path, optional
        The database file; default :func:`default_path`. Created (with its folder)
        if missing.
    timeout : float
        Seconds a write waits for another writer before giving up.

    Raises
    ------
    NotAHistoryDatabaseError
        If the file is not a SQLite database or belongs to something else.
    SchemaTooNewError
        If a newer version of the detector wrote it.
    StoreError
        If the file cannot be opened or created at all.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.timeout = float(timeout)
        if self.path.is_dir():
            raise StoreError(f"The history database path {self.path} is a folder; give a file name.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the folder for the history database {self.path}: {exc.strerror}.") from None
        with self._connect() as conn:
            self._set_wal(conn)
            self._migrate(conn)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection for one operation, closed afterwards; SQLite errors explained."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the history database {self.path}: {exc}.") from None
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from exc
        finally:
            conn.close()

    def _explain(self, exc: sqlite3.DatabaseError) -> StoreError:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return NotAHistoryDatabaseError(
                f"{self.path} is not a readable SQLite database ({text}). "
                "Point --db / DETECTOR_DB at another file, or move this one away to start a new history."
            )
        if "locked" in text or "busy" in text:
            return StoreError(
                f"The history database {self.path} stayed locked by another process for over "
                f"{self.timeout:g} s; try again when it has finished."
            )
        if "readonly" in text or "unable to open" in text:
            return StoreError(f"Cannot write the history database {self.path} ({text}); check its permissions.")
        return StoreError(f"The history database {self.path} failed: {text}.")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the write lock is taken up front, committed or rolled back."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _set_wal(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            raise StoreError(f"Cannot switch the history database {self.path} to WAL mode (got {mode!r}).")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"The history database {self.path} has schema v{version}, written by a newer version of the "
                f"detector; this version knows up to v{SCHEMA_VERSION}. Upgrade the detector, or use another "
                "--db / DETECTOR_DB file."
            )
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                tables = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
                if tables:
                    raise NotAHistoryDatabaseError(
                        f"{self.path} is a SQLite database of something else (tables: {', '.join(sorted(tables))}), "
                        "not a detector history. Use another --db / DETECTOR_DB file."
                    )
            for step in MIGRATIONS[version:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


__all__ = ["DB_ENV", "DEFAULT_TIMEOUT", "Database", "NotAHistoryDatabaseError", "SchemaTooNewError", "StoreError",
           "default_path", "now"]
