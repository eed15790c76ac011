"""The tables the pages and downloads show, built once in detector/ from reports."""

import pytest
from conftest import encode, noise, tone

from detector import Thresholds, analyze, extract
from detector.analysis import analysis_profile, profile_id
from detector.analysis.tuning import compare_profiles
from detector.history import HistoryStore, rows_table
from detector.report.tables import compare_table, contributions_table, feature_label, segments_table


@pytest.fixture(scope="module")
def report():
    return analyze(encode(tone(seconds=12.0) + noise(seconds=12.0, amp=0.05)), name="t.wav", segment_seconds=5.0)


def test_contributions_table_has_one_row_per_rule(report):
    table = contributions_table(report)
    assert list(table.columns) == ["layer", "feature", "value", "band", "threshold crossed", "step"]
    assert list(table["feature"]) == [feature_label(f) for f in ("mfcc_variance", "mfcc_kurtosis", "contrast_std",
                                                                 "flatness_mean", "comb_evidence", "comb_consistency")]
    for name, layer in report.layers.items():
        steps = table.loc[table["layer"] == name, "step"].sum()
        assert steps + layer.base + layer.clip_adjustment == pytest.approx(layer.score)


def test_segments_table_is_the_segment_csv_schema(report):
    table = segments_table(report)
    assert list(table.columns[:5]) == ["index", "start_s", "end_s", "score", "spectral_score"]
    assert list(table["start_s"]) == [0.0, 5.0, 10.0] and table["end_s"].iloc[-1] == pytest.approx(12.0)
    assert list(table["mfcc_variance"]) == [s.features["mfcc_variance"] for s in report.segments]


def test_compare_table_puts_reports_side_by_side(report):
    table = compare_table([report, report])
    assert list(table.columns) == ["1. t.wav", "2. t.wav", "difference (2 − 1)"]
    assert table.loc["score"].tolist() == [f"{report.score:.4g}"] * 2 + ["0"]


def test_compare_profiles_is_the_tune_pages_before_and_after():
    track = extract(encode(tone(seconds=3.0)), name="x.wav")
    stricter = Thresholds().with_rule("flatness_mean", ai_threshold=0.0, human_threshold=0.0)
    table, after = compare_profiles([track, track], ["ai", None], Thresholds(), stricter)
    assert list(table.columns) == ["track", "label", "before", "after", "verdict", "change"]
    assert list(table["label"]) == ["ai", "unlabelled"]
    assert table["change"].tolist() == pytest.approx((table["after"] - table["before"]).tolist())
    assert [r.score for r in after] == table["after"].tolist()


def test_history_rows_table(tmp_path, report):
    store = HistoryStore(tmp_path / "h.sqlite3")
    assert rows_table([]).empty and "score" in rows_table([]).columns
    store.put(report, "p")
    table = rows_table(store.rows())
    assert table.loc[0, "source_name"] == "t.wav" and table.loc[0, "score"] == report.score


def test_one_analysis_profile_for_pages_batches_and_the_cli():
    class Model:
        sha256 = "m" * 64

    class Encoder:
        checkpoint_sha256 = "c" * 64

    t = Thresholds()
    assert analysis_profile(t) == profile_id(t)  # defaults add nothing
    assert analysis_profile(t, clap=Encoder(), model=Model()) == profile_id(t, {"clap": "c" * 64,
                                                                              "classifier": "m" * 64})
    assert analysis_profile(t, segment_seconds=5.0) != analysis_profile(t)


def test_compare_table_names_features_and_subtracts(report):
    from detector.analysis import rescore

    strict = rescore(report, Thresholds(decision=0.2, inconclusive=0.0))
    table = compare_table([report, strict], ["defaults", "strict"])
    assert list(table.columns) == ["1. t.wav", "2. t.wav", "difference (2 − 1)"]
    assert list(table.index[:9]) == ["score", "call", "verdict", "profile", "decision line", "inconclusive band",
                                     "decided by", "duration (s)", "format"]
    assert "Spectral contrast std (spectral layer)" in table.index and "spectral: contrast_std" not in table.index
    assert table.loc["profile"].tolist() == ["defaults", "strict", ""]  # text rows keep their words
    assert table.loc["verdict", "difference (2 − 1)"] == "" and table.loc["call", "2. t.wav"] == strict.call
    assert table.loc["decision line"].tolist() == ["0.5", "0.2", "-0.3"]
    assert table.loc["inconclusive band"].tolist() == ["0.45 – 0.55", "none (two-way)", ""]
    assert table.loc["MFCC variance (spectral layer)", "difference (2 − 1)"] == "0"
    three = compare_table([report, strict, report])
    assert "difference (2 − 1)" not in three.columns and "profile" not in three.index
