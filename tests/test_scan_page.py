"""The Batch & history page's catalogue-scan view, through AppTest, and the scan's view logic.

The scan output is made without Ray: :class:`ScanWorker` rows written by :class:`ScanOutput`,
as the pipeline writes them (the pipeline itself is tested on Ray in ``test_scan.py``).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf
from streamlit.testing.v1 import AppTest

from detector.jobs.scan import ScanConfig, ScanOutput, ScanWorker, read_scan
from detector.jobs.scan.view import ScanFilter, counts, export_csv, profiles, table
from detector.synthetic import signals
from detector.synthetic.decoders import DecoderSpec, through_decoder

TIMEOUT = 120


@pytest.fixture(scope="module")
def scan_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scanned")
    sf.write(folder / "song.wav", signals.song(6.0, 44100, seed=1), 44100)
    sf.write(folder / "chords.wav", signals.chords(6.0, 44100, seed=2), 44100)
    sf.write(folder / "decoded.wav", through_decoder(signals.song(12.0, 44100, seed=3), 44100,
                                                     DecoderSpec((4, 4, 2), 24000)), 44100)
    (folder / "broken.mp3").write_bytes(b"junk" * 100)
    worker = ScanWorker(ScanConfig())
    paths = [str(folder / n) for n in ("song.wav", "chords.wav", "decoded.wav", "broken.mp3", "gone.wav")]
    labels = ["human", "=1+1", "ai", "", ""]  # a manifest's label that a spreadsheet would run as a formula
    rows = [json.loads(r) for r in worker({"path": np.array(paths), "label": np.array(labels)})["row"]]
    out = folder / "out"
    with ScanOutput(out) as output:
        output.write(rows[:2])
        output.write(rows[2:])
    return out, folder


def test_view_counts_filters_and_exports(scan_out):
    out, folder = scan_out
    rows = read_scan(out, reports=False).rows
    assert "report_json" not in rows and len(rows) == 5
    total = counts(rows)
    assert (total.files, total.analysed, total.failed) == (5, 3, 2)
    assert sum(total.calls.values()) == 3 and total.reasons == {"not audio or corrupt": 1, "missing": 1}
    assert total.fingerprints == 1 and profiles(rows)[0][2] == 5
    assert list(ScanFilter(search="DECODED").apply(rows)["path"]) == [str(folder / "decoded.wav")]
    assert len(ScanFilter(statuses=("missing",)).apply(rows)) == 1
    assert len(ScanFilter(min_score=0.01).apply(rows)) == 3  # a score range hides the failures (no score)
    assert list(ScanFilter(fingerprint_only=True).apply(rows)["path"]) == [str(folder / "decoded.wav")]
    decoded = rows[rows["path"].str.endswith("decoded.wav")].iloc[0]
    disagree = ScanFilter(label="disagrees").apply(rows)
    assert (decoded["call"] == "ai") == (str(folder / "decoded.wav") not in set(disagree["path"]))
    shown = table(rows)
    assert list(shown.columns[:3]) == ["name", "call", "score"] and "chords.wav" in set(shown["name"])
    parsed = list(csv.DictReader(io.StringIO(export_csv(rows))))
    assert len(parsed) == 5 and "report_json" not in parsed[0] and "spectral.mfcc_variance" in parsed[0]
    assert "'=1+1" in {r["label"] for r in parsed}  # the formula guard of the history's CSV


def _page(**query) -> AppTest:
    at = AppTest.from_file("../dashboard.py", default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/history.py")
    return at.run()


def test_page_opens_a_scan_filters_it_and_opens_a_row(scan_out, data_dir):
    out, folder = scan_out
    at = _page(scan=str(out))
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Files"] == "5" and metrics["Could not be analysed"] == "2"
    assert int(metrics["AI"]) + int(metrics["Human"]) + int(metrics["Inconclusive"]) == 3
    assert len(at.dataframe[-1].value) == 5
    at.text_input(key="scan:search").input("decoded").run()
    assert list(at.dataframe[-1].value["name"]) == ["decoded.wav"]
    at.selectbox(key="scan:open").select_index(1).run()
    assert not at.exception and not at.error
    assert any(h.value == "decoded.wav" for h in at.subheader)
    assert any("Decoder fingerprint" == h.value for h in at.subheader)  # the stored report, drawn in full


def test_page_explains_a_folder_that_is_not_a_scan(tmp_path, data_dir):
    at = _page(scan=str(tmp_path / "nowhere"))
    assert not at.exception
    assert "not a scan's output folder" in at.error[0].value
    (tmp_path / "empty").mkdir()
    at = _page(scan=str(tmp_path / "empty"))
    assert not at.exception and "no scan rows yet" in at.info[0].value


def test_a_row_whose_file_is_gone_still_opens_from_its_stored_report(scan_out, data_dir, tmp_path):
    out, folder = scan_out
    moved = tmp_path / "moved"
    import shutil

    shutil.copytree(out, moved)
    (folder / "song.wav").rename(folder / "song-renamed.wav")
    try:
        at = _page(scan=str(moved))
        at.text_input(key="scan:search").input("song").run()
        at.selectbox(key="scan:open").select_index(1).run()
        assert not at.exception and not at.error
        assert any("not reachable" in c.value for c in at.caption)
        assert any(h.value == "song.wav" for h in at.subheader)
    finally:
        (folder / "song-renamed.wav").rename(folder / "song.wav")
