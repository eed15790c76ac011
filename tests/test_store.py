import dataclasses
import hashlib
import json
import sqlite3
import threading

import pytest
from conftest import encode, noise, tone

from detector.layers.heuristics import Thresholds
from detector.report import SCHEMA_VERSION as REPORT_SCHEMA
from detector.analysis import analyze
from detector.analysis import profile_id
from detector.history import (
    export_csv,
    SCHEMA_VERSION, HistoryRow, HistoryStore, NotAHistoryDatabaseError, ReportUnreadableError,
    RowNotFoundError, SchemaTooNewError, StoreError,
)

P = "p" * 16


@pytest.fixture(scope="module")
def report():
    return analyze(encode(tone(seconds=3.0) + noise(seconds=3.0, amp=0.05)), name="base.wav")


def sha(i):
    return hashlib.sha256(str(i).encode()).hexdigest()


def make(report, i, score=0.5, name=None):
    is_ai = score > 0.5
    return dataclasses.replace(
        report, sha256=sha(i), source_name=name or f"track{i}.wav", score=score, is_ai=is_ai,
        call="ai" if is_ai else "human", verdict="Likely AI-generated" if is_ai else "Likely human-made",
    )


@pytest.fixture
def store(tmp_path):
    return HistoryStore(tmp_path / "h.sqlite3")


def raw(path):
    return sqlite3.connect(path, isolation_level=None)


def test_profile_id_is_short_stable_and_sensitive():
    t = Thresholds()
    pid = profile_id(t.to_dict())
    assert len(pid) == 16 and int(pid, 16) >= 0
    assert profile_id(t) == pid == profile_id(dict(reversed(list(t.to_dict().items()))))
    assert profile_id({**t.to_dict(), "base": 1}) == profile_id({**t.to_dict(), "base": 1.0})
    assert profile_id(Thresholds(base=0.6)) != pid
    assert profile_id(t, {"clap": "abc"}) != pid != profile_id(t, {"clap": "abd"})
    assert profile_id(t, {"clap": "a", "classifier": "b"}) == profile_id(t, {"classifier": "b", "clap": "a"})


def test_put_get_round_trip_and_wal(store, report):
    row_id = store.put(report, P)
    assert store.get(report.sha256, P) == report
    assert store.get_by_id(row_id) == report
    assert store.get(report.sha256, "other") is None and store.get("0" * 64, P) is None
    with raw(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_upsert_keeps_one_row_per_sha_and_profile(store, report):
    first = store.put(make(report, 1, 0.4), P)
    second = store.put(make(report, 1, 0.7), P)
    other = store.put(make(report, 1, 0.4), "q" * 16)
    assert first == second != other
    assert store.count() == 2
    assert store.get(sha(1), P).score == 0.7


def test_rows_filters_and_order(store, report):
    for i, score in enumerate([0.2, 0.45, 0.55, 0.9]):
        store.put(make(report, i, score), P)
    store.put(make(report, 9, 0.3, name="100%_Real.WAV"), P)
    rows = store.rows()
    assert [r.source_name for r in rows][:2] == ["100%_Real.WAV", "track3.wav"]  # newest first
    assert isinstance(rows[0], HistoryRow) and rows[0].created_at.endswith("+00:00")
    assert rows[1].is_ai is True and rows[1].profile == P and rows[1].format == "WAV"
    assert [r.source_name for r in store.rows(search="100%_r")] == ["100%_Real.WAV"]
    assert store.rows(search="0%x") == []  # % and _ match literally
    assert [r.sha256 for r in store.rows(search=sha(3)[:10].upper())] == [sha(3)]
    assert {r.score for r in store.rows(verdict="ai")} == {0.55, 0.9}
    assert {r.score for r in store.rows(verdict="Likely human-made")} == {0.2, 0.45, 0.3}
    assert {r.score for r in store.rows(min_score=0.3, max_score=0.55)} == {0.3, 0.45, 0.55}
    assert len(store.rows(limit=2)) == 2


def test_delete_and_missing_ids(store, report):
    row_id = store.put(report, P)
    assert store.delete(row_id) is True and store.delete(row_id) is False
    assert store.count() == 0
    with pytest.raises(KeyError) as err:
        store.get_by_id(row_id)
    assert isinstance(err.value, RowNotFoundError)
    assert str(err.value) == f"There is no analysis with id {row_id} in the history (it may have been deleted)."


def test_history_survives_reopening(tmp_path, report, monkeypatch):
    monkeypatch.setenv("DETECTOR_DB", str(tmp_path / "env" / "history.db"))
    first = HistoryStore()
    assert first.path == tmp_path / "env" / "history.db"
    row_id = first.put(report, P)
    del first
    again = HistoryStore(tmp_path / "env" / "history.db")
    assert again.count() == 1 and again.get_by_id(row_id) == report


def test_eight_threads_write_and_read_concurrently(store, report):
    errors = []

    def work(t):
        try:
            for j in range(25):
                i = t * 100 + j
                row_id = store.put(make(report, i, 0.1 + j / 50), P)
                assert store.get(sha(i), P).source_name == f"track{i}.wav"
                assert store.get_by_id(row_id).sha256 == sha(i)
                store.rows(limit=5)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert store.count() == 200 and store.integrity_check() == "ok"


V1_SCHEMA = """
CREATE TABLE analyses (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL, profile TEXT NOT NULL,
    created_at TEXT NOT NULL, source_name TEXT NOT NULL, score REAL NOT NULL, verdict TEXT NOT NULL,
    is_ai INTEGER NOT NULL, decided_by TEXT NOT NULL, duration REAL NOT NULL, format TEXT NOT NULL,
    report_json TEXT NOT NULL, UNIQUE (sha256, profile));
PRAGMA user_version = 1;
"""


def test_migrates_a_v1_database_keeping_its_rows(tmp_path, report):
    path = tmp_path / "v1.sqlite3"
    with raw(path) as conn:
        conn.executescript(V1_SCHEMA)
        for i, when in ((1, "2025-01-01T00:00:00+00:00"), (2, "2025-02-01T00:00:00+00:00")):
            r = make(report, i, 0.6)
            conn.execute(
                "INSERT INTO analyses (sha256, profile, created_at, source_name, score, verdict, is_ai, "
                "decided_by, duration, format, report_json) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (r.sha256, P, when, r.source_name, r.score, r.verdict, 1, r.decided_by, r.duration, r.format,
                 r.to_json()),
            )
    store = HistoryStore(path)
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"analyses_created_at", "analyses_source_name"} <= indexes
    rows = store.rows()
    assert [r.source_name for r in rows] == ["track2.wav", "track1.wav"]
    assert all(r.report_schema == REPORT_SCHEMA for r in rows)  # filled in from each stored JSON
    # the artifact column is backfilled from the stored reports, in the words put() writes
    assert [r.artifacts for r in rows] == [report.artifacts.label if report.artifacts else None] * 2
    assert store.get_by_id(rows[0].id) == make(report, 2, 0.6)
    assert store.put(make(report, 3), P) > rows[0].id  # and it is writable afterwards


def test_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "future.sqlite3"
    with raw(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNewError, match=r"schema v99, written by a newer version of the detector"):
        HistoryStore(path)


def test_files_that_are_not_a_history_are_refused_clearly(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(NotAHistoryDatabaseError, match="is not a readable SQLite database"):
        HistoryStore(text)
    foreign = tmp_path / "other.sqlite3"
    with raw(foreign) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
    with pytest.raises(NotAHistoryDatabaseError, match=r"something else \(tables: customers\)"):
        HistoryStore(foreign)
    with pytest.raises(StoreError, match="is a folder"):
        HistoryStore(tmp_path)
    assert text.read_text().startswith("these are my notes")  # untouched


def test_reports_of_other_schema_versions(store, report):
    newer = store.put(make(report, 1), P)
    broken = store.put(make(report, 2), P)
    data = json.loads(make(report, 1).to_json())
    data.update(schema_version=2, new_top_level={"x": 1})
    data["layers"]["spectral"]["new_layer_field"] = 3
    data["segments"][0]["new_segment_field"] = 4
    gone = json.loads(make(report, 2).to_json())
    gone["schema_version"] = 0
    del gone["score"]
    with raw(store.path) as conn:
        conn.execute("UPDATE analyses SET report_json=? WHERE id=?", (json.dumps(data), newer))
        conn.execute("UPDATE analyses SET report_json=? WHERE id=?", (json.dumps(gone), broken))
    loaded = store.get_by_id(newer)
    assert loaded == dataclasses.replace(make(report, 1), schema_version=2)
    assert {r.id for r in store.rows()} == {newer, broken}  # still listed
    with pytest.raises(ReportUnreadableError, match=r"report schema v0\) cannot be read"):
        store.get_by_id(broken)
    assert store.get(sha(2), P) is None  # a cache miss: analyse again and replace it
    store.put(make(report, 2), P)
    assert store.get(sha(2), P) == make(report, 2)


def test_export_csv(store, report):
    store.put(make(report, 1, 0.7, name="=cmd|calc.wav"), P)
    store.put(make(report, 2, 0.2, name="plain, with comma.wav"), P)
    lines = export_csv(store.rows()).splitlines()
    assert lines[0] == ("id,analysed_utc,source_name,sha256,score,call,verdict,label,profile_name,profile,"
                        "decided_by,is_ai,duration,format,artifacts,report_schema,user")
    assert '"plain, with comma.wav"' in lines[1] and ",0.2,human,Likely human-made,,," in lines[1]
    assert ",'=cmd|calc.wav," in lines[2]


def test_a_failed_migration_changes_nothing(tmp_path, report):
    path = tmp_path / "v1.sqlite3"
    with raw(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("CREATE INDEX analyses_source_name ON analyses (format)")  # clashes with step v2
    with pytest.raises(StoreError, match="already exists"):
        HistoryStore(path)
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        columns = {r[1] for r in conn.execute("PRAGMA table_info(analyses)")}
    assert "report_schema" not in columns  # the ALTER TABLE before the failure was rolled back too


def test_overviews_are_kept_per_audio(store, tmp_path, report):
    assert store.overview(sha(1)) is None
    store.put_overview(sha(1), b"first")
    store.put_overview(sha(1), b"second")  # replaced, not added
    store.put_overview(sha(2), bytes(range(256)))
    assert store.overview(sha(1)) == b"second" and store.overview(sha(2)) == bytes(range(256))
    with pytest.raises(StoreError, match="too large"):
        store.put_overview(sha(3), b"\0" * ((1 << 20) + 1))
    assert store.overview(sha(3)) is None
    path = tmp_path / "v1.sqlite3"  # an older database gains the table when it migrates
    with raw(path) as conn:
        conn.executescript(V1_SCHEMA)
    migrated = HistoryStore(path)
    migrated.put_overview(sha(1), b"x")
    assert migrated.overview(sha(1)) == b"x"


def test_layer_features_read_every_rows_layers_without_the_report(store, report):
    good = store.put(make(report, 1), P)
    other = store.put(make(report, 2), P)
    damaged = store.put(make(report, 3), P)
    odd = store.put(make(report, 4), P)
    with raw(store.path) as conn:
        conn.execute("UPDATE analyses SET report_json='{not json' WHERE id=?", (damaged,))
        conn.execute("UPDATE analyses SET report_json='{\"layers\": \"none\"}' WHERE id=?", (odd,))
    found = store.layer_features([good, other, damaged, odd, 999])
    assert set(found) == {good, other}
    spectral = report.layers["spectral"]
    assert found[good]["spectral"] == {"score": spectral.score, "features": spectral.features}
    assert store.layer_features([]) == {}
    assert len(store.layer_features(range(1, 2000))) == 2  # more ids than one query takes
