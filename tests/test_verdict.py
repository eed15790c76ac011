"""The three-way verdict: the inconclusive band, rescoring from stored features, the plain-language summary,
and the same call in the report, the JSON, the history and the CLI."""

import dataclasses
import json

import pytest
from conftest import encode, noise, tone

from detector import Thresholds, extract, score
from detector.analysis import rescore
from detector.cli import main
from detector.history import HistoryStore, StoreError
from detector.layers.heuristics import CALLS, VERDICTS, ProfileError
from detector.report import DetectionReport
from detector.report.summary import GLOSSARY, explain
from detector.types import LayerResult


@pytest.fixture(scope="module")
def track():
    return extract(encode(tone(seconds=25.0) + noise(seconds=25.0, amp=0.02)), name="tone.wav")


FIRES = (Thresholds().with_rule("comb_evidence", ai_threshold=-1.0, human_threshold=-1.0)
         .with_rule("comb_consistency", human_threshold=0.0))
"""A profile under which any comb at all is a fingerprint."""


def without_timings(report):
    return dataclasses.replace(report, timings={})


@pytest.mark.parametrize("score_, call", [(0.10, "human"), (0.4499, "human"), (0.45, "inconclusive"),
                                          (0.50, "inconclusive"), (0.55, "inconclusive"), (0.5501, "ai"),
                                          (0.95, "ai")])
def test_the_band_is_centred_on_the_decision_line_edges_included(score_, call):
    assert Thresholds().band == pytest.approx((0.45, 0.55))
    assert Thresholds().call(score_) == call


def test_a_band_of_width_zero_is_the_original_two_way_rule():
    t = Thresholds(inconclusive=0.0)
    assert [t.call(s) for s in (0.49, 0.5, 0.5001)] == ["human", "human", "ai"]
    assert set(CALLS) == set(VERDICTS) == {"ai", "human", "inconclusive"}


@pytest.mark.parametrize("width", [-0.1, 1.0, float("nan")])
def test_a_band_width_outside_0_to_1_is_refused(width):
    with pytest.raises(ProfileError, match="inconclusive"):
        Thresholds(inconclusive=width).validate()


def test_a_profile_saved_before_the_band_loads_with_the_default_width():
    data = Thresholds().to_dict()
    del data["inconclusive"]
    assert Thresholds.from_dict(data).inconclusive == Thresholds().inconclusive


def test_the_report_json_and_verdict_words_carry_the_call(track):
    for thresholds, call in ((Thresholds(), "human"), (Thresholds(inconclusive=0.9), "inconclusive"),
                             (Thresholds(decision=0.05, inconclusive=0.0), "ai")):
        report = score(track, thresholds)
        assert report.call == call and report.verdict == VERDICTS[call] and report.is_ai == (call == "ai")
        data = json.loads(report.to_json())
        assert data["call"] == call and data["thresholds"]["inconclusive"] == thresholds.inconclusive
        assert DetectionReport.from_json(report.to_json()) == report


def test_a_report_from_before_the_band_reads_back_with_its_two_way_call(track):
    data = json.loads(score(track, Thresholds(decision=0.05, inconclusive=0.0)).to_json())
    del data["call"]
    data["schema_version"] = 3
    old = DetectionReport.from_dict(data)
    assert old.call == "ai" and old.is_ai and old.schema_version == 3


@pytest.mark.parametrize("other", [
    Thresholds(decision=0.3, inconclusive=0.2),
    Thresholds(inconclusive=0.0).with_rule("mfcc_variance", ai_threshold=5000.0, human_threshold=9000.0),
    FIRES,
])
def test_rescoring_a_stored_report_equals_scoring_its_features(track, other):
    stored = DetectionReport.from_json(score(track).to_json())  # what the history gives back
    assert without_timings(rescore(stored, other)) == without_timings(score(track, other))


def test_rescoring_restates_the_fingerprint_finding(track):
    before = score(track)
    after = rescore(before, FIRES)
    assert not before.artifacts.found and before.artifacts.summary.startswith("No decoder fingerprint found")
    assert after.artifacts.found and after.artifacts.summary.startswith("Decoder fingerprint found")
    assert after.artifacts.description == before.artifacts.description


def _with_classifier(report, p_ai):
    layers = {**report.layers, "classifier": LayerResult("classifier", p_ai, {}, 0.0, ())}
    return dataclasses.replace(report, layers=layers, decided_by="classifier", score=p_ai,
                               versions={**report.versions, "classifier_model": "m"})


def test_rescoring_without_the_classifier_drops_it_and_says_so(track):
    report = _with_classifier(score(track), 0.9)
    kept, dropped = rescore(report, Thresholds()), rescore(report, Thresholds(), classifier=False)
    assert kept.decided_by == "classifier" and kept.call == "ai" and kept.score == 0.9
    assert "classifier" not in dropped.layers and dropped.decided_by == "artifacts"
    assert any(s.name == "classifier" for s in dropped.skipped) and "classifier_model" not in dropped.versions


def test_the_summary_claims_a_probability_only_for_a_classifier(track):
    rules = explain(score(track), Thresholds())
    assert "not a probability" in rules.headline and "P(AI)" not in rules.headline
    assert rules.headline.startswith("Score 0.") and "below the inconclusive band (0.45-0.55)" in rules.headline
    assert "no decoder fingerprint was found" in rules.evidence.lower() and "spectral rules score" in rules.evidence
    model = explain(rescore(_with_classifier(score(track), 0.83), Thresholds()), Thresholds())
    assert "P(AI) = 0.83" in model.headline and "calibrated" in model.headline
    assert "scores whole tracks only" in model.segments  # segments are the rule layers', said so


def test_a_verdict_its_segments_contradict_is_explained(track):
    strict = Thresholds(decision=0.05, inconclusive=0.0)
    report = score(track, strict)  # every layer "AI"
    assert report.call == "ai"
    flipped = dataclasses.replace(report, segments=tuple(dataclasses.replace(s, score=0.01) for s in report.segments))
    note = explain(flipped, strict)
    assert note.segments_disagree
    assert f"{len(report.segments)} of {len(report.segments)} segments score on the human side" in note.segments
    assert "not the average of its segments' statistics" in note.segments
    assert not explain(report, strict).segments_disagree


def test_the_glossary_explains_the_terms_the_page_shows():
    assert {"MFCC variance", "Kurtosis", "Spectral contrast", "Flatness", "Sparsity", "Entropy"} <= set(GLOSSARY)
    assert all(len(text) > 40 for text in GLOSSARY.values())


def test_the_history_keeps_the_call_labels_and_profile_names(tmp_path, track):
    store = HistoryStore(tmp_path / "h.sqlite3")
    wide = Thresholds(inconclusive=0.9)
    a = store.put(score(track, wide), "p-wide", "wide band")
    b = store.put(score(track), "p-default")
    assert [r.call for r in store.rows(verdict="inconclusive")] == ["inconclusive"]
    assert {r.id: r.profile_name for r in store.rows()} == {a: "wide band", b: None}
    store.name_profile("p-default", "defaults", Thresholds().to_dict())
    assert store.row(b).profile_name == "defaults" and store.profile_names()["p-wide"] == "wide band"
    store.set_label(track.sha256, "ai", "tone.wav")
    assert {r.label for r in store.rows()} == {"ai"}  # a label belongs to the audio, under every profile
    assert store.labels() == {track.sha256: "ai"}
    latest = store.latest(labelled=True)
    assert len(latest) == 1 and latest[0][0].id == b and latest[0][1].sha256 == track.sha256
    store.set_label(track.sha256, None)
    assert store.labels() == {} and store.latest(labelled=True) == []
    with pytest.raises(StoreError, match='"human" or "ai"'):
        store.set_label(track.sha256, "robot")


def test_the_cli_prints_the_three_way_verdict_and_why(tmp_path, capsys):
    path = tmp_path / "tone.wav"
    path.write_bytes(encode(tone(seconds=8.0) + noise(seconds=8.0, amp=0.02)))
    profile = tmp_path / "wide.json"
    Thresholds(inconclusive=0.9).save(profile)
    assert main(["analyze", str(path), "--thresholds", str(profile)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tone.wav: Inconclusive  score 0.")
    words = " ".join(out.split())
    assert "neither side is claimed" in words and "not a probability" in words
