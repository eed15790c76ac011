import hashlib
import json

import numpy as np
import pytest
from conftest import encode, noise, tone

from detector import AudioError, DetectionReport, Thresholds, analyze, extract, score
from detector.report import SCHEMA_VERSION
from detector.features.track import segment_bounds


@pytest.fixture(scope="module")
def track_bytes():
    return encode(tone(330.0, 25.0) + noise(25.0, amp=0.05))


def test_report_holds_everything(track_bytes):
    report = analyze(track_bytes, name="song.wav")
    assert report.source_name == "song.wav"
    assert report.sha256 == hashlib.sha256(track_bytes).hexdigest()
    assert report.duration == pytest.approx(25.0, abs=0.01)
    assert report.sample_rate == 22050 and report.format == "WAV"
    assert report.decided_by == "artifacts" and report.score == report.layers["artifacts"].score
    assert report.verdict in ("Likely AI-generated", "Likely human-made")
    assert report.is_ai == (report.score > 0.5)
    assert {s.name for s in report.skipped} == {"clap", "classifier"}
    assert all(s.reason and s.how_to_enable for s in report.skipped)
    assert set(report.timings) == {"decode_s", "features_s", "artifacts_s", "scoring_s"}
    assert {"detector", "librosa", "numpy", "scipy", "soundfile", "soxr", "libsndfile"} <= set(report.versions)
    assert report.thresholds == Thresholds().to_dict()
    for layer in report.layers.values():
        assert layer.base + sum(c.delta for c in layer.contributions) + layer.clip_adjustment == pytest.approx(layer.score)


def test_segments_cover_the_track(track_bytes):
    report = analyze(track_bytes)
    bounds = [x for s in report.segments for x in (s.start, s.end)]
    assert bounds == pytest.approx([0, 10, 10, 20, 20, 25], abs=0.01)
    assert all(0.1 <= s.score <= 0.95 for s in report.segments)
    assert all(set(report.layers["spectral"].features) <= set(s.features) for s in report.segments)
    assert all(set(s.layer_scores) == {"spectral", "artifacts"} for s in report.segments)
    assert len(analyze(track_bytes, segment_seconds=5.0).segments) == 5


def test_segment_bounds_merge_a_short_tail():
    assert segment_bounds(20.5, 10.0) == [(0.0, 10.0), (10.0, 20.5)]
    assert segment_bounds(3.0, 10.0) == [(0.0, 3.0)]
    with pytest.raises(ValueError, match="must be positive"):
        segment_bounds(10, 0)


def test_same_input_same_report(track_bytes):
    a, b = analyze(track_bytes).to_dict(), analyze(track_bytes).to_dict()
    a.pop("timings"), b.pop("timings")
    assert a == b


def test_json_round_trip_is_stable(track_bytes):
    report = analyze(track_bytes)
    text = report.to_json()
    again = DetectionReport.from_json(text)
    assert again == report
    assert again.to_json() == text
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION == 5


def test_rescoring_needs_no_decoding(track_bytes):
    track = extract(track_bytes)
    loose = Thresholds().with_rule("mfcc_variance", ai_threshold=1e6, human_threshold=2e6)
    before, after = score(track), score(track, loose)
    assert before.sha256 == after.sha256
    assert after.layers["spectral"].contributions[0].band == "strong AI"
    spectral = before.layers["spectral"]
    assert after.layers["spectral"].score == pytest.approx(min(spectral.score + 0.08 - spectral.contributions[0].delta, 0.95))


def test_noise_votes_human_on_flatness():
    report = analyze(encode(noise(5.0)))
    flat = {c.feature: c for c in report.layers["spectral"].contributions}["flatness_mean"]
    assert flat.value > 0.2 and flat.band == "human" and flat.delta == -0.04


def test_bad_input_and_parameters(track_bytes):
    with pytest.raises(AudioError, match="empty"):
        analyze(b"")
    with pytest.raises(ValueError, match="segment length must be positive"):
        extract(track_bytes, segment_seconds=0)


def test_dc_and_clipped_signals_score_without_nan():
    dc = np.full(44100 * 3, 0.5, np.float32)
    clipped = np.clip(tone(200.0, 3.0, amp=4.0), -1, 1)
    for y in (dc, clipped):
        report = analyze(encode(y))
        assert np.isfinite(report.score)
        assert all(np.isfinite(v) for v in report.layers["spectral"].features.values())
