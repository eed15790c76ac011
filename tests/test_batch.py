import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import encode, noise, tone

from detector.cli import main
from detector.audio import iter_audio_files
from detector.jobs import analyze_batch
from detector.layers.heuristics import Thresholds
from detector.analysis import profile_id
from detector.history import HistoryStore, StoreError

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / ".hidden").mkdir()
    (d / "a.wav").write_bytes(encode(tone(440.0, 3.0) + noise(3.0, amp=0.05, seed=1)))
    (d / "sub" / "B.FLAC").write_bytes(encode(tone(330.0, 3.0) + noise(3.0, amp=0.05, seed=2), fmt="FLAC"))
    (d / "sub" / "deeper" / "c.ogg").write_bytes(
        encode(tone(550.0, 3.0) + noise(3.0, amp=0.05, seed=3), fmt="OGG", subtype="VORBIS"))
    (d / "sub" / "broken.mp3").write_text("not audio at all" * 20)
    (d / "notes.txt").write_text("not audio")
    (d / ".hidden" / "x.wav").write_bytes(b"ignored")
    (d / "._a.wav").write_bytes(b"macOS resource fork")
    return d


def run_cli(capsys, *args):
    """Run the CLI in this process (a subprocess would cost seconds of imports)."""
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_iter_audio_files_recursive_sorted_deduplicated(folder, tmp_path):
    found = iter_audio_files([folder / "sub", folder, folder / "a.wav", folder / "sub" / ".." / "a.wav"])
    rel = [str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p) for p in found]
    assert rel == ["a.wav", "sub/B.FLAC", "sub/broken.mp3", "sub/deeper/c.ogg"]
    missing = tmp_path / "missing.wav"
    given = [missing, folder / "notes.txt"]  # named files are kept, so analysing them says what is wrong
    assert iter_audio_files(given) == sorted(given, key=str)
    assert iter_audio_files([]) == []


def test_batch_stores_then_reuses_everything(folder, tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    calls = []
    first = analyze_batch([folder], store=store, progress=lambda *a: calls.append(a))
    per_file = [c for c in calls if c[1].count(":") == 1]  # the call as each file starts; others come from inside it
    assert per_file == [(0.0, "1/4: analysing a.wav"), (0.25, "2/4: analysing B.FLAC"),
                        (0.5, "3/4: analysing broken.mp3"), (0.75, "4/4: analysing c.ogg"), (1.0, "Done: 4 files")]
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)  # the bar only moves forward
    assert (0.0, "1/4: analysing a.wav: Decoding") in calls  # and it moves within a file
    assert [r.source_name for r in first.reports] == ["a.wav", "B.FLAC", "c.ogg"]
    assert first.reused == 0 and first.analysed == 3 and first.total == 4
    assert [(p.name, m[:36]) for p, m in first.failures] == [("broken.mp3", "This is not a readable audio file. I")]
    assert store.count() == 3

    second = analyze_batch([folder], store=store)
    assert second.reused == 3 and second.analysed == 0
    assert second.reports == first.reports
    assert len(second.failures) == 1

    tuned = analyze_batch([folder / "a.wav"], store=store, thresholds=Thresholds(base=0.6))
    assert tuned.reused == 0 and store.count() == 4  # other settings, other profile


def test_reused_report_carries_the_current_file_name(folder, tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    analyze_batch([folder / "a.wav"], store=store)
    copy = tmp_path / "renamed.wav"
    copy.write_bytes((folder / "a.wav").read_bytes())
    again = analyze_batch([copy], store=store, profile=profile_id(Thresholds()))
    assert again.reused == 1 and again.reports[0].source_name == "renamed.wav"


def test_batch_without_store_and_with_missing_files(folder, tmp_path):
    result = analyze_batch([folder / "a.wav", tmp_path / "gone.wav"], segment_seconds=1.5)
    assert result.reused == 0 and len(result.reports) == 1
    assert result.reports[0].segment_seconds == 1.5
    assert result.failures == [(tmp_path / "gone.wav", f"File not found: {tmp_path / 'gone.wav'}")]


def test_unidentifiable_model_component_is_refused(folder):
    with pytest.raises(ValueError, match="Cannot tell which clap component"):
        analyze_batch([folder / "a.wav"], clap=object())


def test_cli_batch_and_history(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(tmp_path / "data"))
    db = str(tmp_path / "cli.sqlite3")
    code, out, err = run_cli(capsys, "batch", str(folder), "--db", db)
    assert code == 1
    assert "broken.mp3: This is not a readable audio file" in err
    assert "a.wav: " in out and "c.ogg: " in out
    assert "4 file(s): 3 analysed, 0 reused from the history, 1 failed." in out

    code, out, err = run_cli(capsys, "batch", str(folder / "a.wav"), str(folder / "sub" / "B.FLAC"), "--db", db,
                             "--json")
    assert code == 0, err
    assert [r["source_name"] for r in json.loads(out)] == ["a.wav", "B.FLAC"]

    code, out, err = run_cli(capsys, "history", "--db", db, "--limit", "2")
    assert code == 0, err
    assert "2 of 3 stored analyses" in out and "Likely" in out
    code, out, err = run_cli(capsys, "history", "--db", db, "--csv", "--search", "c.ogg")
    assert code == 0 and out.startswith("id,analysed_utc,") and len(out.splitlines()) == 2

    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(capsys, "batch", str(empty), "--db", db)
    assert code == 2 and "no audio files" in err
    profile = tmp_path / "bad.json"
    profile.write_text('{"base": 0.5}')
    code, out, err = run_cli(capsys, "batch", str(folder), "--db", db, "--thresholds", str(profile))
    assert code == 2 and "bad threshold profile: Missing key(s)" in err
    not_db = tmp_path / "not.db"
    not_db.write_text("hello" * 1000)
    code, out, err = run_cli(capsys, "history", "--db", str(not_db))
    assert code == 2 and "is not a readable SQLite database" in err
    assert not (tmp_path / "data" / "history.sqlite3").exists()  # --db was honoured


N_CRASH = 12


@pytest.mark.slow
def test_killed_batch_leaves_a_sound_history_and_a_rerun_finishes_it(tmp_path):
    d = tmp_path / "tracks"
    d.mkdir()
    sr, seconds = 22050, 30.0
    hiss = noise(seconds, sr, 0.05)
    for i in range(N_CRASH):  # ~0.1-0.3 s of analysis each, so the batch is mid-way when killed
        (d / f"t{i:02d}.wav").write_bytes(encode(tone(200.0 + 50 * i, seconds, sr) + hiss, sr))
    db = tmp_path / "crash.sqlite3"
    env = dict(os.environ, DETECTOR_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "detector", "batch", str(d), "--db", str(db)],
                            cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    committed, deadline = 0, time.monotonic() + 60
    try:
        while committed < 2:
            assert proc.poll() is None, f"the batch ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the batch committed nothing for 60 s"
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    committed = conn.execute("SELECT COUNT(*) FROM analyses").fetchone()[0]
            except sqlite3.Error:  # not created yet
                pass
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = HistoryStore(db)
    rows = store.rows()
    assert 2 <= len(rows) < N_CRASH
    for row in rows:
        report = store.get_by_id(row.id)
        assert report.sha256 == row.sha256 and report.source_name == row.source_name
        assert report.layers["spectral"].contributions and len(report.segments) == 3

    rerun = analyze_batch([d], store=store)
    assert rerun.failures == []
    assert rerun.reused == len(rows) and rerun.analysed == N_CRASH - len(rows)
    assert store.count() == N_CRASH and store.integrity_check() == "ok"


def test_store_errors_propagate_from_batch(folder, tmp_path):
    db = tmp_path / "h.sqlite3"
    store = HistoryStore(db)
    db.write_bytes(b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    with pytest.raises(StoreError):
        analyze_batch([folder / "a.wav"], store=store)


def test_in_memory_uploads_are_analysed_and_reused(tmp_path):
    from detector.jobs import analyze_batch
    from detector.history import HistoryStore

    store = HistoryStore(tmp_path / "h.sqlite3")
    uploads = [("a.wav", encode(tone(330.0, 3.0))), ("b.wav", encode(noise(3.0))), ("bad.mp3", b"nope" * 50)]
    first = analyze_batch(uploads, store=store)
    assert (first.analysed, first.reused) == (2, 0)
    assert first.failures[0][0] == "bad.mp3" and "not a readable audio file" in first.failures[0][1]
    again = analyze_batch(uploads[:2], store=store)
    assert (again.analysed, again.reused) == (0, 2)
    assert [r.to_json() for r in again.reports] == [r.to_json() for r in first.reports]


def test_batch_progress_names_the_file_in_progress_and_moves_within_it(tmp_path):
    for name in ("first.wav", "second.wav"):  # 8 s at 44.1 kHz: 6 blocks of decoding each
        (tmp_path / name).write_bytes(encode(tone(440.0, 8.0) + noise(8.0, amp=0.05)))
    calls = []
    analyze_batch([tmp_path], progress=lambda *a: calls.append(a))
    assert calls[0] == (0.0, "1/2: analysing first.wav") and calls[-1] == (1.0, "Done: 2 files")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    for index, name in enumerate(("first.wav", "second.wav")):
        label = f"{index + 1}/2: analysing {name}"
        within = [f for f, m in calls if m.startswith(label)]
        assert all(index / 2 <= f <= (index + 1) / 2 for f in within)  # each file fills its half of the bar
        decoding = [f for f, m in calls if m == f"{label}: Decoding"]
        assert len(set(decoding)) >= 5  # the bar moves while the file decodes, block by block
    second_starts = calls.index((0.5, "2/2: analysing second.wav"))
    assert all("first.wav" in m for _, m in calls[1:second_starts])  # the label names the file being worked on
