"""Who did it (history schema v5): the user of each analysis, label and named profile; who trained each model."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import encode, noise, tone

from detector.analysis import analyze
from detector.history import SCHEMA_VERSION, HistoryStore, export_csv, history_table
from detector.history.migrations import MIGRATIONS
from detector.jobs import analyze_batch
from detector.layers.classifier import card_summary

P = "p" * 16


@pytest.fixture(scope="module")
def report():
    return analyze(encode(tone(seconds=2.0) + noise(seconds=2.0, amp=0.05)), name="base.wav")


def test_a_v4_history_gains_the_user_columns_and_keeps_its_rows(tmp_path, report):
    path = tmp_path / "v4.sqlite3"
    with sqlite3.connect(path, isolation_level=None) as conn:
        for step in MIGRATIONS[:4]:
            for statement in step:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 4")
        conn.execute("INSERT INTO analyses (sha256, profile, created_at, source_name, score, verdict, is_ai, decided_by,"
                     " duration, format, report_json, call) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (report.sha256, P, "2026-01-01T00:00:00+00:00", "old.wav", report.score, report.verdict, 0,
                      report.decided_by, report.duration, report.format, report.to_json(), report.call))
        conn.execute("INSERT INTO profiles VALUES ('q', 'old profile', '{}', '2026-01-01T00:00:00+00:00')")
    conn.close()
    assert SCHEMA_VERSION == 5
    store = HistoryStore(path)
    (old,) = store.rows()
    assert old.source_name == "old.wav" and old.user is None  # not recorded before v5
    assert store.profile_users() == {"q": None}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
        for table in ("analyses", "profiles", "labels"):
            assert "user" in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    conn.close()


def test_who_ran_labelled_and_named_is_kept_and_shown(tmp_path, report):
    store = HistoryStore(tmp_path / "h.sqlite3")
    row_id = store.put(report, P, "strict", user="ana@example.org")
    assert store.row(row_id).user == "ana@example.org"
    assert store.profile_users() == {P: "ana@example.org"}
    store.put(report, P, user="bo@example.org")  # the same analysis again: who ran it last
    assert store.row(row_id).user == "bo@example.org"
    store.name_profile(P, "strict", {}, user="cy@example.org")
    assert store.profile_users() == {P: "cy@example.org"}
    store.set_label(report.sha256, "ai", "base.wav", user="dee@example.org")
    with store._connect() as conn:
        assert conn.execute("SELECT user FROM labels").fetchone()[0] == "dee@example.org"
    rows = store.rows()
    assert list(history_table(rows)["user"]) == ["bo@example.org"]
    header, line = export_csv(rows).splitlines()
    assert header.endswith(",user") and line.endswith(",bo@example.org")


def test_a_batch_records_who_ran_it(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    song = encode(tone(330.0, 2.0) + noise(2.0, amp=0.05, seed=4))
    analyze_batch([("one.wav", song)], store=store, user="ana@example.org")
    assert [r.user for r in store.rows()] == ["ana@example.org"]


def test_a_model_card_names_who_trained_it():
    card = {"model_kind": "logistic", "feature_set": {"version": "spectral-v1"}, "trained_at": "2026-11-29T14:02:00",
            "class_counts": {"human": 3, "ai": 4}}
    assert not card_summary(card).endswith("by ana@example.org")
    assert card_summary({**card, "trained_by": "ana@example.org"}).endswith("on 3 human and 4 AI tracks by ana@example.org")
