"""Reopening stored analyses (as made, or rescored), the history CSV with every feature, and the history CLI."""

import csv
import dataclasses
import io
import re

import pytest
from conftest import encode, noise, tone

from detector import Thresholds, analyze, extract, score
from detector.analysis import analysis_profile, rescore
from detector.cli import main
from detector.features.overview import Overview
from detector.history import CSV_COLUMNS, HistoryStore, export_csv, made_with, profile_title, rescored
from detector.jobs import analyze_batch
from detector.layers.heuristics import ProfileError
from detector.report import ReportError

STRICT = Thresholds(decision=0.2, inconclusive=0.0)


@pytest.fixture(scope="module")
def audio():
    return encode(tone(seconds=4.0) + noise(seconds=4.0, amp=0.05))


@pytest.fixture(scope="module")
def report(audio):
    return analyze(audio, STRICT, name="t.wav")


def test_made_with_reads_the_reports_own_thresholds(report):
    assert made_with(report) == STRICT
    old = {k: v for k, v in STRICT.to_dict().items() if k not in ("inconclusive", "comb_evidence")}
    assert made_with(dataclasses.replace(report, thresholds=old)) == dataclasses.replace(
        STRICT, inconclusive=Thresholds().inconclusive)  # a key added since takes its default
    with pytest.raises(ProfileError, match="Unknown key"):
        made_with(dataclasses.replace(report, thresholds={**STRICT.to_dict(), "nonsense": 1}))


def test_rescored_keeps_the_original_and_says_what_changed(report):
    change = rescored(report, Thresholds())
    assert change.before is report and change.after == rescore(report, Thresholds())
    assert change.score_change == pytest.approx(change.after.score - report.score)
    assert report.call == "ai" and change.after.call == "human" and change.call_changed
    assert change.after.thresholds == Thresholds().to_dict()
    lost = dataclasses.replace(report, layers={"spectral": dataclasses.replace(report.layers["spectral"], features={})})
    with pytest.raises(ReportError, match="lacks the feature 'mfcc_variance'"):
        rescored(lost, Thresholds())


def test_profile_titles(tmp_path, report):
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.put(report, "3d2b" + "0" * 12)
    assert profile_title(store.rows()[0]) == "unnamed (3d2b…)"
    store.name_profile("3d2b" + "0" * 12, "strict", STRICT.to_dict())
    assert profile_title(store.rows()[0]) == "strict"


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_export_has_every_feature_label_profile_and_call(tmp_path, report):
    store = HistoryStore(tmp_path / "h.sqlite3")
    first = store.put(report, analysis_profile(STRICT), "=strict")
    second = store.put(dataclasses.replace(report, sha256="f" * 64, source_name="@other.wav"), "p" * 16)
    store.set_label(report.sha256, "ai", report.source_name)
    rows = store.rows()
    header, *lines = export_csv(rows, store.layer_features(r.id for r in rows)).splitlines()
    columns = header.split(",")
    assert columns[:9] == ["id", "analysed_utc", "source_name", "sha256", "score", "call", "verdict", "label",
                           "profile_name"]
    assert {f"spectral.{f}" for f in report.layers["spectral"].features} | {"spectral.score", "artifacts.score"} \
        <= set(columns)
    assert columns.index("spectral.score") < columns.index("spectral.mfcc_variance") < columns.index("artifacts.score")
    table = {int(r["id"]): r for r in _csv("\n".join([header, *lines]))}
    one, two = table[first], table[second]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", one["analysed_utc"])  # UTC, no microseconds
    assert one["label"] == "ai" and one["call"] == "ai" and one["profile_name"] == "'=strict"  # formula guard
    assert two["label"] == "" and two["profile_name"] == "" and two["source_name"] == "'@other.wav"
    assert float(one["spectral.mfcc_variance"]) == pytest.approx(report.layers["spectral"].features["mfcc_variance"])
    assert float(one["artifacts.score"]) == pytest.approx(report.layers["artifacts"].score)
    assert export_csv([]) == ",".join(CSV_COLUMNS) + "\n"  # no rows, no layer columns


def test_cli_history_shows_call_and_profile_and_exports_features(tmp_path, capsys, report):
    db = tmp_path / "h.sqlite3"
    store = HistoryStore(db)
    store.put(report, analysis_profile(STRICT), "strict")
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\bai\b.*Likely AI-generated.*strict.*t\.wav", out)
    assert main(["history", "--db", str(db), "--csv"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert rows[0]["profile_name"] == "strict" and "spectral.mfcc_variance" in rows[0]


def test_batch_keeps_an_overview_of_each_new_analysis(tmp_path, audio):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.wav").write_bytes(audio)
    store = HistoryStore(tmp_path / "h.sqlite3")
    result = analyze_batch([tmp_path / "in"], store=store)
    sha = result.reports[0].sha256
    kept = Overview.from_bytes(store.overview(sha))
    assert kept.n_frames == Overview.from_frames(extract(audio, name="a.wav").frames).n_frames
    fresh = score(extract(audio, name="a.wav"))  # the batch scores as analyze() does
    assert result.reports[0] == dataclasses.replace(fresh, timings=result.reports[0].timings)
