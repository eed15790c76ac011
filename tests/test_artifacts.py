"""The artifact layer on material with known answers: decoders must fire, music must not."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detector import analyze, score
from detector.analysis import extract
from detector.features.comb import find_comb
from detector.features.fakeprint import VECTOR_HZ, fakeprint, fft_size
from detector.features.track import segment_bounds
from detector.layers import artifacts as artifacts_layer
from detector.layers.heuristics import Thresholds
from detector.report import DetectionReport
from detector.synthetic import DecoderSpec, drone, encode, harmonic_tone, material, through_decoder

SECONDS = 20.0


def fired(report: DetectionReport) -> bool:
    """Whether the artifact layer fired (a layer that could not run, e.g. on a noiseless tone, did not)."""
    layer = report.layers.get("artifacts")
    return layer is not None and artifacts_layer.fires(layer, Thresholds.from_dict(report.thresholds))


def comb_of(samples: np.ndarray, sr: int):
    return find_comb(fakeprint(samples, sr, segment_bounds(samples.size / sr, 10.0)))


# -- must fire ------------------------------------------------------------------------------------------------

DECODERS = [
    DecoderSpec((4, 4, 2), 24000),                 # random weights, resampled 24 kHz -> file rate
    DecoderSpec((8, 4), 32000, steps=30, seed=1),  # briefly trained
    DecoderSpec((5, 4), 16000, seed=2),
]


@pytest.mark.parametrize("sr", [22050, 32000, 44100, 48000])
@pytest.mark.parametrize("kind", ["harmonic", "chords", "drums", "noise", "speech", "song"])
def test_random_decoder_fires_on_every_material_and_rate(kind, sr):
    fake = through_decoder(material(kind, SECONDS, sr, seed=3), sr, DECODERS[0])
    report = analyze(encode(fake, sr, "WAV"))
    assert fired(report), report.artifacts.summary
    assert report.decided_by == "artifacts" and report.is_ai
    assert report.artifacts.found and "Decoder fingerprint found" in report.artifacts.summary


@pytest.mark.slow
@pytest.mark.parametrize("spec", DECODERS[1:], ids=lambda s: s.name)
@pytest.mark.parametrize("sr", [32000, 44100, 48000])
@pytest.mark.parametrize("kind", ["chords", "song", "speech"])
def test_trained_decoders_fire_and_survive_mp3(kind, sr, spec):
    fake = through_decoder(material(kind, SECONDS, sr, seed=4), sr, spec)
    assert fired(analyze(encode(fake, sr, "WAV"))), spec.name
    assert fired(analyze(encode(fake, sr, "MP3", 128))), f"{spec.name} after MP3 128k"


def test_comb_spacing_is_the_decoders_layer_rate_over_its_stride():
    """Strides 4x4x2 at 24 kHz: the middle layer runs at 1.5 kHz (24 kHz / 4 / 2) and upsamples by 4, so it
    images every 750 Hz. (The offset depends on the music: a tone at f images to j * 750 Hz +- f.)"""
    sr = 44100
    comb = comb_of(through_decoder(material("song", SECONDS, sr, seed=5), sr, DECODERS[0]), sr)
    assert comb.spacing_hz == pytest.approx(750.0, rel=0.003)
    assert comb.hit_count >= 0.9 * len(comb.hits) and comb.consistency == 1.0
    assert comb.false_alarm < 1e-6 and not comb.harmonic


# -- must not fire --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sr", [22050, 32000, 44100, 48000])
@pytest.mark.parametrize("kind", ["harmonic", "chords", "drums", "noise", "speech", "song"])
def test_originals_do_not_fire(kind, sr):
    report = analyze(encode(material(kind, SECONDS, sr, seed=6), sr, "WAV"))
    assert not fired(report), report.artifacts.summary
    assert not report.is_ai


@pytest.mark.parametrize("codec,kbps,sr", [("MP3", 128, 44100), ("MP3", 64, 44100), ("VORBIS", 96, 44100),
                                           ("OPUS", 64, 48000), ("MP3", 128, 32000)])
@pytest.mark.parametrize("kind", ["chords", "drums", "song", "speech"])
def test_codec_encodes_of_originals_do_not_fire(kind, codec, kbps, sr):
    report = analyze(encode(material(kind, SECONDS, sr, seed=7), sr, codec, kbps))
    assert not fired(report), f"{codec} {kbps}k: {report.artifacts.summary}"


@pytest.mark.parametrize("f0", [55.0, 110.0, 220.0, 261.6, 440.0, 1000.0])
def test_drones_and_sustained_notes_do_not_fire(f0):
    """Evenly spaced harmonics up to Nyquist are a comb, but a note's, not a decoder's."""
    sr = 44100
    for samples in (drone(f0, SECONDS, sr), harmonic_tone(f0, SECONDS, sr, partials=60, vibrato=0.0)):
        report = analyze(encode(samples, sr, "WAV"))
        assert not fired(report), f"{f0} Hz: {report.artifacts.summary}"
        assert report.decided_by != "artifacts" or not report.is_ai


def test_band_limited_material_with_a_codec_lowpass_does_not_fire():
    sr = 44100
    lowpassed = encode(material("song", SECONDS, sr, seed=8), sr, "MP3", 48)  # a low-pass well below 16 kHz
    report = analyze(lowpassed)
    assert not fired(report) and report.artifacts.band_hz[1] < 16000, report.artifacts.summary


def test_false_alarm_bound_holds_on_noise():
    """The bound is conservative: on 40 noise tracks no comb reaches 1e-2, let alone the 1e-3 that fires."""
    sr = 22050
    alarms = [comb_of(material("noise", 8.0, sr, seed=s), sr).false_alarm for s in range(40)]
    assert min(alarms) > 1e-2


# -- the fakeprint itself ---------------------------------------------------------------------------------------

def test_fakeprint_is_taken_at_the_native_rate_and_keeps_the_top_octave():
    sr = 48000
    t = np.arange(int(5 * sr)) / sr
    samples = (0.01 * np.random.default_rng(0).standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 18000 * t))
    fp = fakeprint(samples.astype(np.float32), sr, segment_bounds(5.0, 10.0))
    assert fp.sample_rate == sr and fp.n_fft == fft_size(sr) == 16384
    peak = fp.freqs[np.argmax(fp.whole.residual_db)]
    assert abs(peak - 18000) < 2 * fp.bin_hz  # above 11 kHz, where 22.05 kHz audio has nothing
    vec = fp.vector()
    assert vec.shape == (int((VECTOR_HZ[1] - VECTOR_HZ[0]) / VECTOR_HZ[2]),) and vec.max() <= 5.0


def test_fakeprint_has_one_residual_per_segment():
    sr = 44100
    track = extract(encode(material("song", 25.0, sr), sr, "WAV"), segment_seconds=10.0)
    assert len(track.fakeprint.segments) == len(track.segments) == 3
    assert track.timings["artifacts_s"] >= 0


# -- its place in the report and the decision ---------------------------------------------------------------------

def test_report_carries_the_finding_and_round_trips():
    sr = 44100
    fake = through_decoder(material("song", SECONDS, sr), sr, DECODERS[0])
    report = analyze(encode(fake, sr, "WAV"))
    data = json.loads(report.to_json())
    assert data["artifacts"]["found"] and data["artifacts"]["spacing_hz"] > 0
    assert len(data["artifacts"]["chart_hz"]) == len(data["artifacts"]["chart_db"]) > 100
    assert DetectionReport.from_json(report.to_json()) == report
    assert all("artifacts" in s.layer_scores for s in report.segments)


def test_a_report_without_the_layer_still_loads():
    sr = 44100
    report = analyze(encode(material("song", 5.0, sr), sr, "WAV"))
    data = json.loads(report.to_json())
    del data["artifacts"]
    data["schema_version"] = 2
    assert DetectionReport.from_dict(data).artifacts is None


def test_a_profile_saved_before_the_layer_loads_with_its_defaults():
    data = Thresholds().to_dict()
    del data["comb_evidence"], data["comb_consistency"]
    assert Thresholds.from_dict(data) == Thresholds()


def test_the_layer_is_tunable():
    sr = 44100
    track = extract(encode(through_decoder(material("song", SECONDS, sr), sr, DECODERS[0]), sr, "WAV"))
    assert score(track).decided_by == "artifacts"
    strict = Thresholds().with_rule("comb_evidence", ai_threshold=29.9, mild_threshold=None)
    assert score(track, strict).layers["artifacts"].score <= 0.5


class _Model:
    """A stand-in for a trained classifier with a fixed P(AI), so precedence can be tested on its own."""

    sha256 = "0" * 64

    def __init__(self, p: float):
        self.p = p

    def layer(self, track):
        from detector.types import LayerResult
        return LayerResult("classifier", self.p, {}, 0.0, ())

    def identity(self):
        return {"classifier_sha256": self.sha256}


def test_precedence_fingerprint_over_classifier_over_no_fingerprint_over_rules():
    sr = 44100
    human = extract(encode(material("song", SECONDS, sr), sr, "WAV"))
    fake = extract(encode(through_decoder(material("song", SECONDS, sr), sr, DECODERS[0]), sr, "WAV"))
    assert score(fake, model=_Model(0.1)).decided_by == "artifacts"  # a fingerprint outranks the classifier
    assert score(human, model=_Model(0.9)).decided_by == "classifier"  # no fingerprint: the classifier decides
    plain = score(human)
    assert plain.decided_by == "artifacts" and not plain.is_ai  # no classifier: no fingerprint decides, not the rules
    assert "not proof" in plain.artifacts.summary


def test_rules_decide_only_when_the_artifact_layer_cannot_run():
    sr = 1800  # Nyquist below 2 kHz: nothing above the fakeprint's 1 kHz floor worth searching
    t = np.arange(int(3 * sr)) / sr
    report = analyze(encode((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr, "WAV"))
    assert "artifacts" not in report.layers and report.decided_by == "spectral"
    assert any(s.name == "artifacts" for s in report.skipped)
