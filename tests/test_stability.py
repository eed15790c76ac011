"""The stability check: perturbations with known answers, the check itself, its report, CLI, batch and plot."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import SR, encode, noise, tone

from detector import Thresholds
from detector.analysis import analysis_profile, analyze, check_stability, extract, rescore, score, with_stability
from detector.audio import decode
from detector.audio.perturb import (PERTURBATIONS, STANDARD, Perturbation, PerturbationSkipped, excerpt,
                                    perturbation_set, set_name)
from detector.layers.heuristics import ProfileError
from detector.report import DetectionReport, PerturbedResult
from detector.report.stability import summarise
from detector.report.tables import stability_table

QUICK = perturbation_set(["mp3-64", "pitch+2", "noise-30db", "gain-6db", "excerpt-start"])


def _peak_hz(y: np.ndarray, sr: int = SR) -> float:
    """The strongest frequency of ``y``, to a fraction of a hertz (Hann window, 16x zero padding)."""
    n = y.size
    spectrum = np.abs(np.fft.rfft(y * np.hanning(n), 16 * n))
    return float(np.fft.rfftfreq(16 * n, 1 / sr)[np.argmax(spectrum)])


def _band_db(out: np.ndarray, ref: np.ndarray, lo: float, hi: float, lag: int = 0) -> float:
    """Power of ``out`` over ``ref`` in ``[lo, hi)`` Hz, in dB (``out`` delayed by ``lag`` samples)."""
    f = np.fft.rfftfreq(4 * SR, 1 / SR)
    band = (f >= lo) & (f < hi)
    o = np.abs(np.fft.rfft(out[SR + lag:5 * SR + lag])) ** 2
    r = np.abs(np.fft.rfft(ref[SR:5 * SR])) ** 2
    return float(10 * np.log10(o[band].sum() / r[band].sum()))


# --------------------------------------------------------------------------- each perturbation, known answers


@pytest.mark.parametrize("semitones", [1, -1, 2, -2])
def test_pitch_shift_moves_a_pure_tone_by_the_right_ratio(semitones):
    y = Perturbation("p", "pitch", semitones).apply(tone(440.0, 6.0), SR)
    assert y.size == 6 * SR  # a track no longer than 30 s is shifted whole, its length kept
    assert _peak_hz(y[SR:5 * SR]) == pytest.approx(440.0 * 2 ** (semitones / 12), rel=1e-3)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_time_stretch_changes_the_duration_and_keeps_the_pitch(factor):
    y = Perturbation("s", "stretch", factor).apply(tone(440.0, 6.0), SR)
    assert y.size / SR == pytest.approx(6.0 / factor, rel=0.01)
    assert _peak_hz(y[SR:-SR]) == pytest.approx(440.0, rel=1e-3)


def test_pitch_and_stretch_work_on_the_middle_excerpt_of_a_long_track():
    x = tone(440.0, 40.0)
    assert Perturbation("p", "pitch", 2).apply(x, SR).size == 30 * SR
    assert Perturbation("p", "pitch", 2).describe(40.0) == "pitch +2 semitones (middle 30 s)"
    assert Perturbation("p", "pitch", 2).describe(12.0) == "pitch +2 semitones"


@pytest.mark.parametrize("name, flat_to, cut_from", [("mp3-128", 15000, 17500), ("mp3-64", 10000, 12000),
                                                    ("vorbis-64", 13000, 16000)])
def test_lossy_codecs_low_pass_where_the_encoder_cuts(name, flat_to, cut_from):
    """LAME's bandwidth for a stereo file: about 17 kHz at 128 kbps and 11 kHz at 64 kbps; libvorbis at
    64 kbps near 15 kHz. White noise in, the band below stays, the band above is gone."""
    x = noise(6.0, amp=0.1)
    y = PERTURBATIONS[name].apply(x, SR)
    lag = 1105 if name.startswith("mp3") else 0  # LAME's encoder delay (576 + 529 samples), kept as a decoder would
    assert abs(_band_db(y, x, 2000, flat_to, lag)) < 1.5
    assert _band_db(y, x, cut_from, 21000, lag) < -40
    assert abs(y.size - x.size) < 0.05 * SR


def test_resampling_to_32_khz_and_back_removes_what_is_above_16_khz():
    x = tone(1000.0, 4.0) + tone(18000.0, 4.0)
    y = PERTURBATIONS["resample-32k"].apply(x, SR)
    assert y.size == x.size
    spectrum = np.abs(np.fft.rfft(y[SR:3 * SR]))
    f = np.fft.rfftfreq(2 * SR, 1 / SR)
    assert spectrum[np.argmin(abs(f - 18000))] < 1e-3 * spectrum[np.argmin(abs(f - 1000))]
    with pytest.raises(PerturbationSkipped, match="not above 32000"):
        PERTURBATIONS["resample-32k"].apply(tone(1000.0, 2.0, sr=32000), 32000)


def test_noise_meets_its_snr_and_is_seeded():
    x = tone(440.0, 5.0) + noise(5.0, amp=0.05)
    p = PERTURBATIONS["noise-30db"]
    y = p.apply(x, SR)
    snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((y - x).astype(np.float64) ** 2))
    assert snr == pytest.approx(30.0, abs=0.1)
    assert np.array_equal(y, p.apply(x, SR))  # the same noise every time
    assert not np.array_equal(y, dataclasses.replace(p, seed=1).apply(x, SR))


@pytest.mark.parametrize("name, db", [("gain+6db", 6.0), ("gain-6db", -6.0)])
def test_loudness_changes_by_six_db(name, db):
    x = tone(440.0, 2.0, amp=0.1)
    y = PERTURBATIONS[name].apply(x, SR)
    assert 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2))) \
        == pytest.approx(db, abs=1e-4)


def test_excerpts_start_at_their_offsets_and_a_short_track_has_none():
    x = np.arange(40 * 100, dtype=np.float32)  # 40 s at 100 Hz: each sample says where it came from
    assert np.array_equal(PERTURBATIONS["excerpt-start"].apply(x, 100), x[:3000])
    assert np.array_equal(PERTURBATIONS["excerpt-middle"].apply(x, 100), x[500:3500])
    assert np.array_equal(PERTURBATIONS["excerpt-end"].apply(x, 100), x[1000:])
    with pytest.raises(PerturbationSkipped, match=r"the track \(12.0 s\) is shorter than a 30 s excerpt"):
        excerpt(x[:1200], 100, 30.0, 0.5)


def test_perturbations_leave_their_input_alone_and_are_named_once():
    x = tone(440.0, 3.0)
    before = x.copy()
    for p in QUICK:
        try:
            p.apply(x, SR)
        except PerturbationSkipped:
            pass
    assert np.array_equal(x, before)
    assert len(PERTURBATIONS) == len(STANDARD) == 16
    assert set_name(STANDARD) == "standard" and set_name(QUICK) == "mp3-64,pitch+2,noise-30db,gain-6db,excerpt-start"
    with pytest.raises(ValueError, match="Unknown perturbation"):
        perturbation_set(["mp3-999"])


# --------------------------------------------------------------------------- the check


@pytest.fixture(scope="module")
def short_track():
    data = encode(tone(330.0, 12.0) + noise(12.0, amp=0.05, seed=3))
    return data, analyze(data, name="short.wav")


def test_the_check_is_deterministic_and_a_short_track_skips_its_excerpt(short_track):
    data, report = short_track
    first = check_stability(data, report, perturbations=QUICK)
    again = check_stability(decode(data, None), report, perturbations=QUICK, workers=1)  # decoded audio, 1 worker
    assert first == again
    assert [p.name for p in first.perturbations] == [p.name for p in QUICK]
    skipped = first.perturbations[-1]
    assert not skipped.ran and skipped.skipped == "the track (12.0 s) is shorter than a 30 s excerpt"
    assert all(p.ran for p in first.perturbations[:-1])
    assert "1 did not run: 30 s excerpt from the start (the track (12.0 s) is shorter" in first.words
    assert first.score == report.score and first.call == report.call and first.layers.keys() == report.layers.keys()
    for p in first.ran:  # every layer the original had, for every copy
        assert p.layers.keys() == report.layers.keys() and p.call in ("ai", "human", "inconclusive")
    assert first.spread == pytest.approx(max(p.score for p in first.ran + (report,)) -
                                         min(p.score for p in first.ran + (report,)))


def test_a_failing_perturbation_does_not_stop_the_others(short_track):
    data, report = short_track
    broken = Perturbation("vorbis-3", "vorbis", 3)  # libvorbis has no 3 kbps: pedalboard raises
    stages = []
    result = check_stability(data, report, perturbations=(broken, PERTURBATIONS["gain+6db"]),
                             progress=lambda f, m: stages.append((f, m)))
    failed, fine = result.perturbations
    assert not failed.ran and failed.skipped.startswith("it failed: ") and fine.ran
    assert stages[0][0] == 0.0 and stages[-1] == (1.0, f"Done: {result.title.lower()}")
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)


def test_the_report_keeps_the_check_through_json_and_rescoring(short_track):
    data, report = short_track
    checked = with_stability(report, check_stability(data, report, perturbations=QUICK))
    text = checked.to_json()
    assert json.loads(text)["schema_version"] == 5 and json.loads(text)["stability"]["summary"] in (
        "stable", "fragile", "inconclusive")
    again = DetectionReport.from_json(text)
    assert again == checked and again.to_json() == text
    old = json.loads(report.to_json())
    old.pop("stability")
    old["schema_version"] = 4
    assert DetectionReport.from_dict(old).stability is None  # a report from before the check
    same = rescore(checked, Thresholds())
    assert same.stability == checked.stability
    strict = rescore(checked, Thresholds(decision=0.05, inconclusive=0.0))  # everything scores above the line
    assert strict.call == "ai" and strict.stability.call == "ai"
    assert {p.call for p in strict.stability.ran} == {"ai"} and strict.stability.flips == ()
    table = stability_table(checked.stability)
    assert list(table["perturbation"])[:2] == ["as analysed", "MP3 at 64 kbps"]
    assert table["note"].iloc[-1].startswith("did not run: the track (12.0 s)")


def test_the_check_gives_a_copy_the_classifier_the_original_had(short_track, tmp_path):
    from detector.features.vectors import SPECTRAL
    from detector.layers.classifier import load_model
    from detector.training import save_model, train_dataset
    from detector.training.dataset import load_dataset

    data, _ = short_track
    folder = tmp_path / "labelled"
    for label, make in (("human", lambda i: noise(6.0, amp=0.2, seed=i)), ("ai", lambda i: tone(300.0 + 40 * i, 6.0))):
        (folder / label).mkdir(parents=True)
        for i in range(4):
            (folder / label / f"{label}-{i}.wav").write_bytes(encode(make(i)))
    save_model(train_dataset(load_dataset(folder), SPECTRAL, folds=2, test_size=0), tmp_path / "model.skops")
    model = load_model(tmp_path / "model.skops")
    report = score(extract(data), Thresholds(), model)
    result = check_stability(data, report, perturbations=perturbation_set(["gain+6db"]), model=model)
    assert report.decided_by == "classifier" and result.perturbations[0].decided_by == "classifier"
    assert "classifier" in result.perturbations[0].layers


# --------------------------------------------------------------------------- the summary in words


def _result(name, score_, call, layers=None):
    return PerturbedResult(name, name.upper(), score_, call, "spectral", layers or {"spectral": score_},
                           {"spectral": {}})


@pytest.mark.parametrize("results, summary, words", [
    ([_result("a", 0.40, "human"), _result("b", 0.38, "human")], "stable",
     "Stable: the call (human, 0.42) held under all 2 perturbations that ran; the score ranged from 0.38 to 0.42"),
    ([_result("a", 0.60, "ai"), _result("b", 0.40, "human")], "fragile",
     "Fragile: the call (human, 0.42) changed under 1 of 2 perturbations: A → AI (0.60). The score ranged from 0.40 "
     "to 0.60"),
    ([_result("a", 0.15, "human"), _result("b", 0.40, "human")], "inconclusive",
     "no perturbation changed the call (human, 0.42), but the score ranged from 0.15 to 0.42, a spread of 0.27, "
     "more than the 0.20"),
    ([PerturbedResult("a", "A", skipped="too short")], "inconclusive", "none of the perturbations could run"),
    ([_result("a", 0.41, "human"), *(PerturbedResult(n, n, skipped="no") for n in "bcd")], "inconclusive",
     "only 1 of 4 could run"),
])
def test_the_summary_says_stable_fragile_or_inconclusive_with_the_numbers(results, summary, words):
    s = summarise(0.42, "human", "spectral", {"spectral": 0.42}, results, Thresholds())
    assert s.summary == summary and words in s.words
    assert s.layer_flips["spectral"] == sum(r.ran and r.call != "human" for r in results)


def test_the_stable_width_is_part_of_the_profile():
    data = Thresholds().to_dict()
    assert data["stability_width"] == 0.2
    del data["stability_width"]  # a profile saved before the check existed
    assert Thresholds.from_dict(data).stability_width == 0.2
    for bad in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(ProfileError, match="stability_width"):
            Thresholds(stability_width=bad).validate()
    assert analysis_profile(Thresholds()) == analysis_profile(Thresholds.from_dict(data))
    assert analysis_profile(Thresholds(stability_width=0.3)) != analysis_profile(Thresholds())
    moved = [_result("a", 0.25, "human")]
    assert summarise(0.42, "human", "spectral", {}, moved, Thresholds()).summary == "stable"
    assert summarise(0.42, "human", "spectral", {}, moved, Thresholds(stability_width=0.1)).summary == "inconclusive"


# --------------------------------------------------------------------------- CLI, batch, history, plot


def test_cli_analyze_and_batch_with_stability(tmp_path, capsys):
    from detector.cli import main
    from detector.history import HistoryStore, history_table

    track = tmp_path / "song.wav"
    track.write_bytes(encode(tone(262.0, 8.0) + noise(8.0, amp=0.05, seed=5)))
    assert main(["analyze", str(track), "--stability", "--perturbations", "gain+6db,excerpt-end", "--no-clap"]) == 0
    out = capsys.readouterr().out
    assert "stability: " in out and "did not run: the track (8.0 s) is shorter than a 30 s excerpt" in out
    assert main(["analyze", str(track), "--stability", "--perturbations", "gain+6db", "--json", "--no-clap"]) == 0
    (data,) = json.loads(capsys.readouterr().out)
    assert data["stability"]["perturbation_set"] == "gain+6db"
    with pytest.raises(SystemExit):
        main(["analyze", str(track), "--stability", "--perturbations", "louder"])
    assert "unknown perturbation(s): louder" in capsys.readouterr().err

    db = tmp_path / "history.sqlite3"
    assert main(["batch", str(tmp_path), "--db", str(db), "--no-clap"]) == 0  # first without the check
    assert main(["batch", str(tmp_path), "--db", str(db), "--no-clap", "--stability", "--perturbations",
                 "gain-6db"]) == 0
    assert "under 1 changes" in capsys.readouterr().out  # the stored analysis got its check
    store = HistoryStore(db)
    (row,) = store.rows()
    summaries = store.stability_summaries([row.id])
    assert summaries[row.id] in ("stable", "fragile", "inconclusive")
    assert store.get_by_id(row.id).stability.perturbation_set == "gain-6db"
    assert history_table([row], summaries)["stability"].tolist() == [summaries[row.id]]
    capsys.readouterr()
    assert main(["history", "--db", str(db), "--csv"]) == 0
    header, line = capsys.readouterr().out.splitlines()[:2]
    assert line.split(",")[header.split(",").index("stability")] == summaries[row.id]


def test_the_dot_plot_draws_every_perturbation_the_line_and_the_band(short_track):
    from detector import plots

    data, report = short_track
    stability = check_stability(data, report, perturbations=QUICK)
    fig = plots.stability_chart(stability)
    rows = set(fig.data[0].y)
    assert "<b>as analysed</b>" in rows and "30 s excerpt from the start (did not run)" in rows and len(rows) == 6
    assert {s.type for s in fig.layout.shapes} == {"rect", "line"}
    assert fig.layout.shapes[1].x0 == stability.decision and (fig.layout.shapes[0].x0, fig.layout.shapes[0].x1) == \
        stability.band
    verdict = [t for t in fig.data if t.name and t.name.startswith("verdict: ")]
    assert sum(len(t.x) for t in verdict) == 5  # the original and the four that ran


@pytest.mark.slow
def test_the_standard_set_on_a_long_track(tmp_path):
    """Every standard perturbation on 45 s: all run (the excerpts fit), each with every layer."""
    from detector.synthetic import encode as encode_audio
    from detector.synthetic import song

    data = encode_audio(song(45.0, 44100, seed=2), 44100, "WAV")
    report = analyze(data)
    result = check_stability(data, report)
    assert len(result.ran) == 16 and result.perturbation_set == "standard"
    assert all(p.layers.keys() == report.layers.keys() for p in result.ran)
    assert {p.description for p in result.ran} >= {"MP3 at 128 kbps", "pitch -2 semitones (middle 30 s)",
                                                    "30 s excerpt from the end", "white noise at 30 dB SNR"}


@pytest.mark.slow
def test_a_twenty_minute_track_is_checked_within_its_memory_bound():
    """The longest track the analysis accepts: full-track changes, a Rubber Band one on the middle 30 s and an
    excerpt all run, and numpy's peak stays within the bound the README states (two perturbed copies at most)."""
    import tracemalloc

    seconds = 20 * 60
    data = encode(tone(220.0, seconds, amp=0.2) + noise(seconds, amp=0.02, seed=9))  # 16-bit WAV, 101 MiB
    report = analyze(data)
    tracemalloc.start()
    result = check_stability(data, report, perturbations=perturbation_set(
        ["mp3-64", "noise-30db", "gain-6db", "pitch+1", "excerpt-end"]))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    assert len(result.ran) == 5, [p.skipped for p in result.perturbations]
    assert peak < 1536, f"peak {peak:.0f} MiB"
