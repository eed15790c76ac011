"""Catalogue scans on a real embedded Ray cluster (``num_cpus=2``): rows equal ``analyze()``, resume, kills.

The catalogue is a dozen generated tracks in several formats and rates (one through a
transposed-convolution decoder), and bad files: corrupt, empty, silent, too short.
The Ray tests share one local cluster (about 10 s to start) and are marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from detector.analysis import analyze
from detector.audio import AudioError
from detector.cli import main
from detector.jobs.scan import (
    OutputError, ScanConfig, ScanItem, ScanOutput, ScanWorker, SourceError, failure_reason, read_scan, row_report, run_scan,
    scan_items,
)
from detector.jobs.scan.worker import SKIPPED
from detector.synthetic import signals
from detector.synthetic.decoders import DecoderSpec, through_decoder

PROJECT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("data_env")  # one data folder for the module: the Ray workers see the same one
BAD = {"corrupt.mp3": "not audio or corrupt", "empty.wav": "empty file", "silent.wav": "silent",
       "short.wav": "too short"}


def _write_catalogue(folder: Path, seconds: float) -> None:
    (folder / "albums" / "two").mkdir(parents=True)
    goods = [("a.wav", signals.song(seconds, 44100, seed=1), 44100, {}),
             ("b.mp3", signals.song(seconds, 44100, seed=2), 44100, {}),
             ("c.ogg", signals.chords(seconds, 44100, seed=3), 44100, {"subtype": "VORBIS"}),
             ("albums/d.flac", signals.drums(seconds, 48000, seed=4), 48000, {}),
             ("albums/e.wav", signals.speech(seconds, 32000, seed=5), 32000, {}),
             ("albums/two/f.opus", signals.song(seconds, 48000, seed=6), 48000, {"format": "OGG", "subtype": "OPUS"}),
             ("albums/two/g.wav", signals.song(seconds, 22050, seed=7), 22050, {}),
             ("decoded.wav", through_decoder(signals.song(2 * seconds, 44100, seed=8), 44100,
                                             DecoderSpec((4, 4, 2), 24000)), 44100, {})]
    for name, samples, sr, kw in goods:
        sf.write(folder / name, samples, sr, **kw)
    (folder / "corrupt.mp3").write_bytes(b"not audio at all" * 64)
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "silent.wav", np.zeros(44100 * 3, np.float32), 44100)
    sf.write(folder / "short.wav", signals.song(0.05, 44100), 44100)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("catalogue")
    _write_catalogue(folder, 6.0)
    return folder


@pytest.fixture(scope="module")
def long_catalogue(tmp_path_factory) -> Path:
    """Long enough (12 x 25 s, one worker: about 10 s) to kill something mid-scan."""
    folder = tmp_path_factory.mktemp("long")
    for i in range(12):
        sf.write(folder / f"t{i:02d}.wav", signals.song(25.0, 44100, seed=i), 44100)
    return folder


@pytest.fixture(scope="module")
def cluster(data_env):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def scanned(cluster, catalogue, tmp_path_factory):
    out = tmp_path_factory.mktemp("scan") / "out"
    summary = run_scan(scan_items(catalogue), out, ScanConfig(), workers=2)
    return out, summary


# -- without Ray ----------------------------------------------------------------------------------------------------

def test_folder_lists_audio_recursively_and_manifest_keeps_missing_files(catalogue, tmp_path):
    found = [Path(i.path).relative_to(catalogue).as_posix() for i in scan_items(catalogue)]
    assert "albums/two/f.opus" in found and "corrupt.mp3" in found and len(found) == 12
    assert [i.path for i in scan_items(catalogue, limit=3)] == [i.path for i in scan_items(catalogue)[:3]]
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"path,label\n{catalogue / 'a.wav'},human\nnowhere/x.mp3,AI\n")
    items = scan_items(manifest)
    assert items[0].path == str(catalogue / "a.wav") and items[0].label == "human"
    assert items[1].path == str(tmp_path / "nowhere" / "x.mp3") and items[1].label == "ai"  # relative to the manifest
    pd.DataFrame({"path": [str(catalogue / "b.mp3")]}).to_parquet(tmp_path / "list.parquet")
    assert [i.path for i in scan_items(tmp_path / "list.parquet")] == [str(catalogue / "b.mp3")]


@pytest.mark.parametrize("text, message", [
    ("file,label\nx.wav,ai\n", "needs a 'path' column"),
])
def test_bad_sources_are_explained(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(SourceError, match=message):
        scan_items(tmp_path / "m.csv")
    with pytest.raises(SourceError, match="does not exist"):
        scan_items(tmp_path / "nothing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="neither a folder nor a manifest"):
        scan_items(tmp_path / "notes.txt")


def test_each_bad_file_has_its_reason(catalogue):
    for name, reason in BAD.items():
        with pytest.raises(AudioError) as err:
            analyze(catalogue / name)
        assert failure_reason(str(err.value)) == reason, str(err.value)
    assert failure_reason("File not found: /x.wav") == "missing"


def test_worker_analyses_skips_done_files_and_turns_failures_into_rows(catalogue):
    worker = ScanWorker(ScanConfig())
    rows = [json.loads(r) for r in worker({"path": np.array([str(catalogue / "a.wav"), str(catalogue / "corrupt.mp3"),
                                                             str(catalogue / "gone.wav")]),
                                           "label": np.array(["human", "", ""])})["row"]]
    ok, bad, gone = rows
    assert ok["status"] == "ok" and ok["label"] == "human" and ok["worker"].endswith(f":{os.getpid()}")
    assert bad["status"] == "failed" and bad["sha256"] and bad["reason"] == "not audio or corrupt"
    assert gone["status"] == "missing" and gone["sha256"] is None and "File not found" in gone["error"]
    again = ScanWorker(ScanConfig(), done={ok["sha256"], bad["sha256"]})
    assert again.row(ScanItem(str(catalogue / "a.wav")))["status"] == SKIPPED
    assert again.row(ScanItem(str(catalogue / "gone.wav")))["status"] == "missing"  # tried again


def test_one_writer_per_output_and_unreadable_parts_are_named(tmp_path):
    with ScanOutput(tmp_path / "out") as first:
        with pytest.raises(OutputError, match="Another scan is writing"):
            ScanOutput(tmp_path / "out").__enter__()
        first.write([{"path": "x.wav", "sha256": "ab", "profile": "p", "status": "ok", "analysed_utc": "1"}])
    (tmp_path / "out" / "part-broken-00001.parquet").write_bytes(b"PAR1 truncated")
    table = read_scan(tmp_path / "out")
    assert list(table.rows["path"]) == ["x.wav"] and table.parts == 1
    assert len(table.unreadable) == 1 and "part-broken-00001.parquet" in table.unreadable[0]
    with pytest.raises(OutputError, match="not a scan's output folder"):
        read_scan(tmp_path / "nothing")


def test_a_cluster_address_that_nothing_answers_is_refused_at_once():
    from detector.jobs.scan.pipeline import ScanError, _check_reachable

    started = time.monotonic()
    with pytest.raises(ScanError, match="Nothing answers at 127.0.0.1:1 .*ray start --head"):
        _check_reachable("127.0.0.1:1")
    assert time.monotonic() - started < 10  # Ray itself retries for minutes
    _check_reachable("auto")  # left to Ray


# -- on a real local Ray cluster --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_rows_equal_analyze(scanned, catalogue):
    out, summary = scanned
    rows = read_scan(out).rows.set_index("path")
    assert len(rows) == 12 and summary.progress.analysed == 8 and summary.progress.failed == 4
    assert dict(summary.progress.reasons) == {reason: 1 for reason in BAD.values()}
    for item in scan_items(catalogue):
        row = rows.loc[item.path]
        try:
            expected = analyze(item.path)
        except AudioError as exc:
            assert row["status"] == "failed" and row["error"] == str(exc)
            assert row["reason"] == BAD[Path(item.path).name]
            continue
        got = row_report(row)
        assert {**got.to_dict(), "timings": {}} == {**expected.to_dict(), "timings": {}}, item.path
        assert (row["status"], row["score"], row["call"], row["decided_by"]) == (
            "ok", expected.score, expected.call, expected.decided_by)
        assert row["spectral.mfcc_variance"] == expected.layers["spectral"].features["mfcc_variance"]
        assert row["artifacts"] == expected.artifacts.label and list(row["warnings"]) == list(expected.warnings)
        assert row["timing.decode_s"] > 0 and json.loads(row["versions"]) == expected.versions
    assert rows.loc[str(catalogue / "decoded.wav"), "artifacts_found"]  # the decoder's comb is in its row


@pytest.mark.slow
def test_resume_skips_every_done_file(scanned, catalogue):
    out, first = scanned
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    again = run_scan(scan_items(catalogue), out, ScanConfig(), workers=2)
    assert (again.progress.analysed, again.progress.failed, again.progress.skipped) == (0, 0, 12)
    assert sorted(p.name for p in out.glob("part-*.parquet")) == parts and again.rows == 12
    assert again.profile == first.profile


@pytest.mark.slow
def test_a_new_profile_scans_again_beside_the_old_rows(cluster, catalogue, tmp_path):
    from detector.layers.heuristics import Thresholds

    out = tmp_path / "out"
    run_scan(scan_items(catalogue, limit=2), out, ScanConfig(), workers=2)
    other = run_scan(scan_items(catalogue, limit=2), out, ScanConfig(Thresholds(decision=0.6), "strict"), workers=2)
    assert other.progress.analysed + other.progress.failed == 2 and other.progress.skipped == 0
    rows = read_scan(out).rows
    assert sorted(rows["profile_name"]) == ["defaults", "defaults", "strict", "strict"]


@pytest.mark.slow
def test_manifest_reports_each_missing_file(cluster, catalogue, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"path,label\n{catalogue / 'a.wav'},human\nmissing/one.wav,ai\n/no/such/two.mp3,human\n")
    summary = run_scan(scan_items(manifest), tmp_path / "out", ScanConfig(), workers=2)
    rows = read_scan(tmp_path / "out").rows.set_index("path")
    assert summary.progress.reasons == {"missing": 2}
    for path, label in ((str(tmp_path / "missing" / "one.wav"), "ai"), ("/no/such/two.mp3", "human")):
        assert rows.loc[path, "status"] == "missing" and rows.loc[path, "label"] == label
        assert rows.loc[path, "error"] == f"File not found: {path}"
    again = run_scan(scan_items(manifest), tmp_path / "out", ScanConfig(), workers=2)
    assert (again.progress.skipped, again.progress.failed) == (1, 2)  # missing files are tried again


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _scan_workers(root: int) -> list[int]:
    """This cluster's scan actors: the processes below ``root`` named ``ray::MapWorker(MapBatches(ScanActor))``."""
    out = []
    for pid in _descendants(root):
        try:
            if b"MapBatches(ScanActor)" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            pass
    return out


def _wait_for_part(out: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not list(out.glob("part-*.parquet")):
        assert time.monotonic() < deadline, "no part was written"
        time.sleep(0.1)


def _finished(out: Path) -> dict[str, str]:
    rows = read_scan(out, latest=False).rows
    return dict(zip(rows["path"], rows["analysed_utc"]))


@pytest.mark.slow
def test_a_killed_actor_loses_no_row_and_the_rerun_completes(cluster, long_catalogue, tmp_path):
    out = tmp_path / "out"
    items = scan_items(long_catalogue)
    errors: list[BaseException] = []
    scan = threading.Thread(target=lambda: _record(errors, run_scan, items, out, ScanConfig(), workers=1))
    scan.start()
    _wait_for_part(out)
    victims = _scan_workers(os.getpid())
    assert victims and scan.is_alive(), "the scan ended before an actor could be killed"
    os.kill(victims[0], signal.SIGKILL)
    before = _finished(out)
    scan.join(timeout=300)
    assert not scan.is_alive()
    after = _finished(out)
    assert all(after.get(path) == when for path, when in before.items())  # every row written before the kill is kept
    summary = run_scan(items, out, ScanConfig(), workers=2)  # Ray retried the killed actor's file, or the rerun does
    rows = read_scan(out).rows
    assert sorted(rows["path"]) == sorted(i.path for i in items) and set(rows["status"]) == {"ok"}
    assert summary.progress.analysed + summary.progress.skipped == len(items)


def _record(errors: list, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the test looks at it
        errors.append(exc)


@pytest.mark.slow
def test_a_killed_driver_loses_no_row_and_the_rerun_completes(cluster, long_catalogue, tmp_path):
    out = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "detector", "scan", str(long_catalogue), "--out", str(out),
                               "--workers", "1"], cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait_for_part(out)
        assert driver.poll() is None, "the scan ended before its driver could be killed"
        before = _finished(out)
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and the local cluster it started
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert before and all(_finished(out).get(path) == when for path, when in before.items())
    summary = run_scan(scan_items(long_catalogue), out, ScanConfig(), workers=2)
    rows = read_scan(out).rows
    assert sorted(rows["path"]) == sorted(i.path for i in scan_items(long_catalogue))
    assert summary.progress.skipped >= len(before) and set(rows["status"]) == {"ok"}


@pytest.mark.slow
def test_cli_scans_a_folder_and_explains_bad_usage(cluster, catalogue, tmp_path, capsys):
    code = main(["scan", str(catalogue), "--out", str(tmp_path / "out"), "--limit", "3", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and summary["files"] == 3 and summary["rows"] == 3
    assert summary["analysed"] + summary["failed"] == 3 and summary["cluster"].startswith("1 node")
    assert main(["scan", str(tmp_path / "nothing"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["scan", str(catalogue), "--out", str(tmp_path / "o3"), "--model", str(tmp_path / "none.skops")]) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_stability_is_checked_and_a_scan_without_it_is_not_done_for_one_with_it(cluster, catalogue, tmp_path):
    items = [i for i in scan_items(catalogue) if i.path.endswith(("a.wav", "corrupt.mp3"))]
    run_scan(items, tmp_path / "out", ScanConfig(), workers=2)
    checked = ScanConfig(stability=True, perturbations=("mp3-128", "gain+6db"))
    summary = run_scan(items, tmp_path / "out", checked, workers=2)
    assert (summary.progress.analysed, summary.progress.skipped) == (1, 1)  # the corrupt file's failure stands
    row = read_scan(tmp_path / "out").rows.set_index("path").loc[str(catalogue / "a.wav")]
    assert row["stability"] in ("stable", "fragile", "inconclusive") and row["stability_spread"] >= 0
    assert row_report(row).stability.ran and len(row_report(row).stability.perturbations) == 2


@pytest.mark.slow
def test_clap_actors_load_the_checkpoint_once_and_rows_equal_analyze_with_clap(cluster, catalogue, tiny_ckpt, encoder,
                                                                               tmp_path):
    items = [i for i in scan_items(catalogue) if i.path.endswith(("a.wav", "b.mp3", "empty.wav"))]
    summary = run_scan(items, tmp_path / "out", ScanConfig(clap_checkpoint=str(tiny_ckpt)), workers=2)
    rows = read_scan(tmp_path / "out").rows.set_index("path")
    assert summary.progress.analysed == 2 and summary.progress.reasons == {"empty file": 1}
    for item in [i for i in items if not i.path.endswith("empty.wav")]:
        row, expected = rows.loc[item.path], analyze(item.path, clap=encoder)
        assert "clap" in expected.layers and row["clap.score"] == expected.layers["clap"].score
        assert {**row_report(row).to_dict(), "timings": {}} == {**expected.to_dict(), "timings": {}}
    assert rows["profile"].nunique() == 1 and rows["profile"].iloc[0] == summary.profile != \
        run_scan(items[:1], tmp_path / "spectral", ScanConfig(), workers=1).profile  # the checkpoint is in the profile
