"""SQLite history of analyses: one embedded file, safe across threads and crashes.

Every analysis is stored once per ``(sha256 of the audio, profile)``, where the
profile (:func:`detector.analysis.analysis_profile`) identifies the threshold
settings and the model components that produced it, so a re-upload with the same
settings is a lookup, not a new analysis.

The database lives at ``$DETECTOR_DB``, else ``data_dir()/history.sqlite3``; a path
given to :class:`HistoryStore` wins over both.

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
Each operation opens its own short-lived connection, so one :class:`HistoryStore`
can be shared by any number of threads (Streamlit sessions) and processes. Writes
take the write lock up front (``BEGIN IMMEDIATE``) and wait up to ``timeout``
seconds for another writer instead of failing; readers never block writers.

Schema
------
``PRAGMA user_version`` holds the schema version. :data:`MIGRATIONS` is the ordered
list of steps; those a database lacks are applied in one transaction when it is
opened. A database from a newer version of the detector is refused with
:class:`SchemaTooNewError` rather than guessed at.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..config import data_dir
from ..errors import DetectorError
from ..report import DetectionReport, ReportError

DB_ENV = "DETECTOR_DB"
DB_FILENAME = "history.sqlite3"
DEFAULT_TIMEOUT = 30.0

_TABLE = "analyses"

# Ordered schema steps: MIGRATIONS[i] brings a database from version i to i + 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v0 -> v1: the analyses table, keyed by (sha256, profile).
    (
        """CREATE TABLE analyses (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            sha256      TEXT    NOT NULL,
            profile     TEXT    NOT NULL,
            created_at  TEXT    NOT NULL,
            source_name TEXT    NOT NULL,
            score       REAL    NOT NULL,
            verdict     TEXT    NOT NULL,
            is_ai       INTEGER NOT NULL,
            decided_by  TEXT    NOT NULL,
            duration    REAL    NOT NULL,
            format      TEXT    NOT NULL,
            report_json TEXT    NOT NULL,
            UNIQUE (sha256, profile)
        )""",
    ),
    # v1 -> v2: remember each report's own schema version (backfilled from its JSON)
    # and index the columns the history page sorts and searches on.
    (
        "ALTER TABLE analyses ADD COLUMN report_schema INTEGER NOT NULL DEFAULT 1",
        """UPDATE analyses SET report_schema = COALESCE(
               CASE WHEN json_valid(report_json) THEN json_extract(report_json, '$.schema_version') END, 1)""",
        "CREATE INDEX analyses_created_at ON analyses (created_at)",
        "CREATE INDEX analyses_source_name ON analyses (source_name)",
    ),
    # v2 -> v3: the artifact layer's finding as a short label (NULL where the layer did not run),
    # backfilled from reports that carry one; the same words as ArtifactFinding.label.
    (
        "ALTER TABLE analyses ADD COLUMN artifacts TEXT",
        """UPDATE analyses SET artifacts = CASE
               WHEN json_valid(report_json) AND json_type(report_json, '$.artifacts') = 'object' THEN
                   CASE WHEN json_extract(report_json, '$.artifacts.found')
                        THEN 'fingerprint every ' || printf('%.0f', json_extract(report_json, '$.artifacts.spacing_hz'))
                             || ' Hz'
                        ELSE 'no fingerprint' END
               END""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(DetectorError, RuntimeError):
    """The history database cannot be used. ``str(err)`` is written for the user."""


class NotAHistoryDatabaseError(StoreError):
    """The file exists but is not a SQLite database, or not this detector's."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer version of the detector."""


class ReportUnreadableError(StoreError):
    """A stored report cannot be turned back into a :class:`DetectionReport`."""


class RowNotFoundError(StoreError, KeyError):
    """No history row has the requested id (also a :class:`KeyError`)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "No such history row."


@dataclass(frozen=True)
class HistoryRow:
    """One stored analysis as listed in the history (without the full report)."""

    id: int
    created_at: str
    source_name: str
    sha256: str
    profile: str
    score: float
    verdict: str
    is_ai: bool
    decided_by: str
    duration: float
    format: str
    report_schema: int = 1
    artifacts: str | None = None


ROW_COLUMNS = tuple(f.name for f in dataclasses.fields(HistoryRow))


def default_path() -> Path:
    """``$DETECTOR_DB`` if set, else ``data_dir()/history.sqlite3``."""
    env = os.environ.get(DB_ENV)
    return Path(env).expanduser() if env else data_dir() / DB_FILENAME


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class HistoryStore:
    """The analysis history: one SQLite file, shareable across threads.

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
        return f"HistoryStore({str(self.path)!r})"

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

    # -- operations --------------------------------------------------------------------

    def put(self, report: DetectionReport, profile: str) -> int:
        """Store ``report`` under ``(report.sha256, profile)``, replacing any earlier one.

        The row keeps its id; its ``created_at`` becomes now. Returns the row id.
        """
        values = {
            "sha256": report.sha256,
            "profile": profile,
            "created_at": _now(),
            "source_name": report.source_name,
            "score": float(report.score),
            "verdict": report.verdict,
            "is_ai": int(bool(report.is_ai)),
            "decided_by": report.decided_by,
            "duration": float(report.duration),
            "format": report.format,
            "report_json": report.to_json(indent=None),
            "report_schema": int(report.schema_version),
            "artifacts": report.artifacts.label if report.artifacts is not None else None,
        }
        columns = ", ".join(values)
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c not in ("sha256", "profile"))
        sql = (f"INSERT INTO {_TABLE} ({columns}) VALUES ({', '.join(':' + c for c in values)}) "
               f"ON CONFLICT (sha256, profile) DO UPDATE SET {updates} RETURNING id")
        with self._write() as conn:
            return int(conn.execute(sql, values).fetchone()[0])

    def get(self, sha256: str, profile: str) -> DetectionReport | None:
        """The stored report for this audio and profile, or ``None``.

        A stored report this version cannot read counts as missing (``None``), so the
        caller analyses again and :meth:`put` replaces it.
        """
        with self._connect() as conn:
            row = conn.execute(f"SELECT report_json FROM {_TABLE} WHERE sha256=? AND profile=?",
                               (sha256, profile)).fetchone()
        if row is None:
            return None
        try:
            return DetectionReport.from_dict(json.loads(row[0]))
        except (ReportError, json.JSONDecodeError):
            return None

    def get_by_id(self, row_id: int) -> DetectionReport:
        """The full report of history row ``row_id``.

        Raises
        ------
        RowNotFoundError
            (a ``KeyError``) if there is no such row.
        ReportUnreadableError
            If the stored report cannot be read by this version.
        """
        with self._connect() as conn:
            row = conn.execute(f"SELECT report_json FROM {_TABLE} WHERE id=?", (int(row_id),)).fetchone()
        if row is None:
            raise RowNotFoundError(f"There is no analysis with id {row_id} in the history (it may have been deleted).")
        try:
            data = json.loads(row[0])
        except json.JSONDecodeError as exc:
            raise ReportUnreadableError(f"The stored report {row_id} is damaged ({exc.msg}).") from None
        try:
            return DetectionReport.from_dict(data)
        except ReportError as exc:
            raise ReportUnreadableError(str(exc)) from None

    def rows(
        self,
        *,
        search: str | None = None,
        verdict: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        limit: int = 1000,
    ) -> list[HistoryRow]:
        """List stored analyses, newest first.

        Parameters
        ----------
        search : str, optional
            Case-insensitive substring of the file name, or a prefix of the SHA-256.
        verdict : str, optional
            ``"ai"`` or ``"human"`` (by the decision), or an exact verdict text such as
            ``"Likely AI-generated"``.
        min_score, max_score : float, optional
            Inclusive score bounds.
        limit : int
            At most this many rows.
        """
        where, params = [], []
        if search:
            where.append("(source_name LIKE ? ESCAPE '\\' OR sha256 LIKE ? ESCAPE '\\')")
            params += [f"%{_like_escape(search)}%", f"{_like_escape(search.lower())}%"]
        if verdict:
            key = verdict.strip().lower()
            if key in ("ai", "human"):
                where.append("is_ai = ?")
                params.append(int(key == "ai"))
            else:
                where.append("verdict = ?")
                params.append(verdict)
        if min_score is not None:
            where.append("score >= ?")
            params.append(float(min_score))
        if max_score is not None:
            where.append("score <= ?")
            params.append(float(max_score))
        sql = f"SELECT {', '.join(ROW_COLUMNS)} FROM {_TABLE}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(max(int(limit), 0))
        with self._connect() as conn:
            found = conn.execute(sql, params).fetchall()
        return [HistoryRow(**{**dict(zip(ROW_COLUMNS, r)), "is_ai": bool(r[ROW_COLUMNS.index("is_ai")])})
                for r in found]

    def delete(self, row_id: int) -> bool:
        """Delete history row ``row_id``; ``True`` if it existed."""
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {_TABLE} WHERE id=?", (int(row_id),)).rowcount > 0

    def count(self) -> int:
        """How many analyses are stored."""
        with self._connect() as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0])

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        with self._connect() as conn:
            return "\n".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))


__all__ = [
    "DB_ENV", "MIGRATIONS", "ROW_COLUMNS", "SCHEMA_VERSION", "HistoryRow", "HistoryStore", "NotAHistoryDatabaseError",
    "ReportUnreadableError", "RowNotFoundError", "SchemaTooNewError", "StoreError", "default_path",
]
