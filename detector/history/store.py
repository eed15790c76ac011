"""The history of analyses: every report, the analyst's labels, the names of profiles, overviews.

Every analysis is stored once per ``(sha256 of the audio, profile)``, where the
profile (:func:`detector.analysis.analysis_profile`) identifies the threshold
settings and the model components that produced it, so a re-upload with the same
settings is a lookup, not a new analysis. Labels belong to the audio, whatever profile
analysed it.

The database lives at ``$DETECTOR_DB``, else ``data_dir()/history.sqlite3``; a path
given to :class:`HistoryStore` wins over both. How the file stays sound across threads,
processes and crashes is :mod:`detector.history.database`'s business.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from ..report import DetectionReport, ReportError
from ..types import LABELS
from .database import Database, StoreError, now

_TABLE = "analyses"


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
    call: str = "human"
    """``"ai"``, ``"human"`` or ``"inconclusive"`` (the verdict's three-way call)."""
    user: str | None = None
    """Who ran it: the signed-in user on a shared server, ``"local"`` on one's own machine, None if not recorded."""
    label: str | None = None
    """The analyst's label of this audio (``"human"``/``"ai"``), whichever profile analysed it."""
    profile_name: str | None = None
    """The name the profile was saved or used under, where it has one."""


ROW_COLUMNS = tuple(f.name for f in dataclasses.fields(HistoryRow))
_SELECT = ", ".join([*(f"a.{c}" for c in ROW_COLUMNS[:-2]), "l.label", "p.name"])
_FROM = f"{_TABLE} a LEFT JOIN labels l ON l.sha256 = a.sha256 LEFT JOIN profiles p ON p.profile = a.profile"
MAX_OVERVIEW_BYTES = 1 << 20


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class HistoryStore(Database):
    """The analysis history: one SQLite file (:class:`~detector.history.database.Database`),
    shareable across threads and processes."""

    # -- operations --------------------------------------------------------------------

    def put(self, report: DetectionReport, profile: str, profile_name: str | None = None, *,
            user: str | None = None) -> int:
        """Store ``report`` under ``(report.sha256, profile)``, replacing any earlier one.

        The row keeps its id; its ``created_at`` becomes now and its ``user`` (who ran it) ``user``.
        Returns the row id. A ``profile_name`` names the profile (:meth:`name_profile`) in the same
        transaction.
        """
        values = {
            "sha256": report.sha256,
            "profile": profile,
            "created_at": now(),
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
            "call": report.call,
            "user": user,
        }
        columns = ", ".join(values)
        updates = ", ".join(f"{c}=excluded.{c}" for c in values if c not in ("sha256", "profile"))
        sql = (f"INSERT INTO {_TABLE} ({columns}) VALUES ({', '.join(':' + c for c in values)}) "
               f"ON CONFLICT (sha256, profile) DO UPDATE SET {updates} RETURNING id")
        with self._write() as conn:
            row_id = int(conn.execute(sql, values).fetchone()[0])
            if profile_name:
                self._name(conn, profile, profile_name, report.thresholds, user)
            return row_id

    def _name(self, conn: sqlite3.Connection, profile: str, name: str, thresholds: dict, user: str | None) -> None:
        conn.execute("INSERT INTO profiles (profile, name, thresholds, saved_at, user) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (profile) DO UPDATE SET name=excluded.name, thresholds=excluded.thresholds, "
                     "saved_at=excluded.saved_at, user=excluded.user",
                     (profile, name, json.dumps(thresholds, sort_keys=True), now(), user))

    def name_profile(self, profile: str, name: str, thresholds: dict, *, user: str | None = None) -> None:
        """Remember that profile id ``profile`` (its ``thresholds``, ``Thresholds.to_dict()``) is called ``name``,
        named by ``user``.

        The history then shows the name beside every analysis made with it, past ones included.
        """
        with self._write() as conn:
            self._name(conn, profile, name, thresholds, user)

    def profile_users(self) -> dict[str, str | None]:
        """Who last saved or named each named profile: ``{profile id: user}`` (None: not recorded)."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT profile, user FROM profiles").fetchall())

    def profile_names(self) -> dict[str, str]:
        """Every named profile: ``{profile id: name}``."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT profile, name FROM profiles").fetchall())

    def set_label(self, sha256: str, label: str | None, source_name: str = "", *, user: str | None = None) -> None:
        """Label the audio ``sha256`` as ``"human"`` or ``"ai"``, or remove its label (``None``); ``user`` set it.

        Labels belong to the audio, not to an analysis: every analysis of it, under any
        profile, shows the label, and the Tune page scores against it.
        """
        if label is not None and label not in LABELS:
            raise StoreError(f'A label is "human" or "ai", not {label!r}.')
        with self._write() as conn:
            if label is None:
                conn.execute("DELETE FROM labels WHERE sha256=?", (sha256,))
            else:
                conn.execute("INSERT INTO labels (sha256, label, source_name, updated_at, user) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (sha256) DO UPDATE SET label=excluded.label, updated_at=excluded.updated_at, "
                             "user=excluded.user", (sha256, label, source_name, now(), user))

    def labels(self) -> dict[str, str]:
        """Every label: ``{audio SHA-256: "human" or "ai"}``."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT sha256, label FROM labels").fetchall())

    def put_overview(self, sha256: str, data: bytes) -> None:
        """Keep the audio's overview (``Overview.to_bytes()``, at most 1 MiB), replacing an earlier one."""
        if len(data) > MAX_OVERVIEW_BYTES:
            raise StoreError(f"An overview of {len(data):,} bytes is too large to keep "
                             f"(at most {MAX_OVERVIEW_BYTES:,}).")
        with self._write() as conn:
            conn.execute("INSERT INTO overviews (sha256, data) VALUES (?, ?) "
                         "ON CONFLICT (sha256) DO UPDATE SET data=excluded.data", (sha256, bytes(data)))

    def overview(self, sha256: str) -> bytes | None:
        """The audio's stored overview bytes, or ``None`` (an analysis made before overviews were kept)."""
        with self._connect() as conn:
            row = conn.execute("SELECT data FROM overviews WHERE sha256=?", (sha256,)).fetchone()
        return None if row is None else bytes(row[0])

    def layer_features(self, ids: Iterable[int]) -> dict[int, dict[str, dict]]:
        """Each row's layer scores and features, read from its stored report without rebuilding it.

        Returns ``{row id: {layer name: {"score": float, "features": {name: value}}}}``; rows
        that don't exist or whose report is unreadable are left out. What the CSV export adds.
        """
        ids = sorted({int(i) for i in ids})
        out: dict[int, dict[str, dict]] = {}
        with self._connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                # CASE, not AND: SQLite may evaluate json_extract first, and it raises on malformed JSON
                sql = (f"SELECT id, CASE WHEN json_valid(report_json) THEN json_extract(report_json, '$.layers') END "
                       f"FROM {_TABLE} WHERE id IN ({', '.join('?' * len(chunk))})")
                for row_id, text in conn.execute(sql, chunk):
                    try:
                        layers = json.loads(text) if isinstance(text, str) else None
                    except json.JSONDecodeError:  # "$.layers" was a JSON string, which json_extract unquotes
                        layers = None
                    if isinstance(layers, dict):
                        out[int(row_id)] = {name: {"score": layer.get("score"), "features": layer.get("features") or {}}
                                            for name, layer in layers.items() if isinstance(layer, dict)}
        return out

    def stability_summaries(self, ids: Iterable[int]) -> dict[int, str]:
        """Each row's stored stability summary (``"stable"``, ``"fragile"`` or ``"inconclusive"``), read from its
        report without rebuilding it; rows without a stability check (or a readable report) are left out."""
        ids = sorted({int(i) for i in ids})
        out: dict[int, str] = {}
        with self._connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                sql = (f"SELECT id, CASE WHEN json_valid(report_json) THEN json_extract(report_json, "
                       f"'$.stability.summary') END FROM {_TABLE} WHERE id IN ({', '.join('?' * len(chunk))})")
                out.update({int(i): s for i, s in conn.execute(sql, chunk) if isinstance(s, str)})
        return out

    def latest(self, *, limit: int = 1000, labelled: bool = False) -> list[tuple[HistoryRow, DetectionReport]]:
        """The newest analysis of each audio (any profile), newest first, with its report.

        What the Tune page rescores: every track ever analysed, without decoding it again.
        Reports this version cannot read are left out. ``labelled`` keeps labelled audio only.
        """
        sql = (f"SELECT {_SELECT}, a.report_json FROM {_FROM} WHERE a.id IN "
               f"(SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY sha256 ORDER BY created_at DESC, id DESC)"
               f" AS n FROM {_TABLE}) WHERE n = 1)")
        if labelled:
            sql += " AND l.label IS NOT NULL"
        sql += " ORDER BY a.created_at DESC, a.id DESC LIMIT ?"
        with self._connect() as conn:
            found = conn.execute(sql, (max(int(limit), 0),)).fetchall()
        out = []
        for r in found:
            try:
                out.append((_row(r[:-1]), DetectionReport.from_dict(json.loads(r[-1]))))
            except (ReportError, json.JSONDecodeError):
                continue
        return out

    def row(self, row_id: int) -> HistoryRow:
        """History row ``row_id`` without its report. Raises :class:`RowNotFoundError`."""
        with self._connect() as conn:
            r = conn.execute(f"SELECT {_SELECT} FROM {_FROM} WHERE a.id=?", (int(row_id),)).fetchone()
        if r is None:
            raise RowNotFoundError(f"There is no analysis with id {row_id} in the history (it may have been deleted).")
        return _row(r)

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
            ``"ai"``, ``"human"`` or ``"inconclusive"`` (the three-way call), or an exact
            verdict text such as ``"Likely AI-generated"``.
        min_score, max_score : float, optional
            Inclusive score bounds.
        limit : int
            At most this many rows.
        """
        where, params = [], []
        if search:
            where.append("(a.source_name LIKE ? ESCAPE '\\' OR a.sha256 LIKE ? ESCAPE '\\')")
            params += [f"%{_like_escape(search)}%", f"{_like_escape(search.lower())}%"]
        if verdict:
            key = verdict.strip().lower()
            if key in ("ai", "human", "inconclusive"):
                where.append("a.call = ?")
                params.append(key)
            else:
                where.append("a.verdict = ?")
                params.append(verdict)
        if min_score is not None:
            where.append("a.score >= ?")
            params.append(float(min_score))
        if max_score is not None:
            where.append("a.score <= ?")
            params.append(float(max_score))
        sql = f"SELECT {_SELECT} FROM {_FROM}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY a.created_at DESC, a.id DESC LIMIT ?"
        params.append(max(int(limit), 0))
        with self._connect() as conn:
            found = conn.execute(sql, params).fetchall()
        return [_row(r) for r in found]

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


def _row(values: tuple) -> HistoryRow:
    row = dict(zip(ROW_COLUMNS, values))
    return HistoryRow(**{**row, "is_ai": bool(row["is_ai"])})


__all__ = ["LABELS", "MAX_OVERVIEW_BYTES", "ROW_COLUMNS", "HistoryRow", "HistoryStore", "ReportUnreadableError",
           "RowNotFoundError"]
