import librosa
import numpy as np
import pytest
import scipy.stats
from conftest import chirp, clicks, noise, tone

from detector.features.embedding import embedding_stats
from detector.features.spectral import (
    SAMPLE_RATE,
    reference_spectral_summary,
    spectral_contrast,
    spectral_frames,
    summarize_frames,
)

SIGNALS = {
    "tone": lambda s: tone(440.0, s, SAMPLE_RATE),
    "noise": lambda s: noise(s, SAMPLE_RATE),
    "chirp": lambda s: chirp(s, SAMPLE_RATE),
    "clicks": lambda s: clicks(s, SAMPLE_RATE),
    "mix": lambda s: tone(220.0, s, SAMPLE_RATE) + noise(s, SAMPLE_RATE, 0.05) + clicks(s, SAMPLE_RATE),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
@pytest.mark.parametrize("seconds", [2.0, 60.0])
def test_one_stft_equals_the_original_four_librosa_calls(name, seconds):
    y = SIGNALS[name](seconds)
    ours = spectral_frames(y).summary()
    ref = reference_spectral_summary(y)
    for key in ref:
        # abs: a train of identical clicks has a flat spectrum, so its contrast std is
        # ~4e-7 dB of pure float32 rounding, where a relative error means nothing
        assert ours[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_partial_sort_contrast_equals_librosa_element_by_element(name):
    S = np.abs(librosa.stft(SIGNALS[name](10.0)))
    ours = spectral_contrast(S, SAMPLE_RATE)
    np.testing.assert_allclose(ours, librosa.feature.spectral_contrast(S=S, sr=SAMPLE_RATE), rtol=1e-5, atol=1e-4)


def test_frame_arrays_have_matching_shapes_and_times():
    y = tone(440.0, 5.0, SAMPLE_RATE)
    frames = spectral_frames(y)
    n = 1 + y.size // 512
    assert frames.mfcc.shape == (20, n)
    assert frames.contrast.shape == (7, n)
    assert frames.flatness.shape == (n,)
    assert frames.mel_db.shape == (128, n)
    assert frames.times[1] == pytest.approx(512 / SAMPLE_RATE)


def test_segment_summary_is_the_summary_of_its_frames():
    y = SIGNALS["mix"](20.0)
    frames = spectral_frames(y)
    sl = frames.frame_slice(5.0, 10.0)
    expected = summarize_frames(frames.mfcc[:, sl], frames.contrast[:, sl], frames.flatness[sl])
    assert frames.summary(5.0, 10.0) == expected
    assert frames.times[sl][0] >= 5.0 and frames.times[sl][-1] < 10.0


def test_known_answers_tone_vs_noise():
    t, n = spectral_frames(tone(440.0, 5.0, SAMPLE_RATE)).summary(), spectral_frames(noise(5.0, SAMPLE_RATE)).summary()
    assert n["flatness_mean"] > 0.3  # white noise is flat
    assert t["flatness_mean"] < 0.01  # a pure tone is not
    assert t["contrast_std"] > n["contrast_std"]


def test_silence_and_dc_give_defined_values():
    zeros = np.zeros(SAMPLE_RATE * 3, np.float32)
    silent = spectral_frames(zeros).summary()
    # every MFCC row is constant over time: its kurtosis is defined as 0 (scipy says NaN)
    assert silent["mfcc_kurtosis"] == 0.0 and silent["contrast_std"] == 0.0
    assert silent["flatness_mean"] == pytest.approx(1.0)
    assert silent == pytest.approx(reference_spectral_summary(zeros))
    dc = spectral_frames(np.full(SAMPLE_RATE * 3, 0.5, np.float32)).summary()
    assert all(np.isfinite(v) for v in dc.values())
    assert dc["flatness_mean"] < 0.01  # all energy in the 0 Hz bin


def test_constant_rows_have_zero_kurtosis():
    mfcc = np.ones((20, 50))
    assert summarize_frames(mfcc, np.ones((7, 50)), np.ones(50))["mfcc_kurtosis"] == 0.0


def test_embedding_stats_known_answers():
    uniform = np.full(512, 0.3)
    s = embedding_stats(uniform)
    assert s["entropy"] == pytest.approx(1.0)
    assert s["sparsity"] == 0.0
    assert s["std"] == pytest.approx(0.0)
    assert s["l2_norm"] == pytest.approx(0.3 * np.sqrt(512))

    one_hot = np.zeros(512)
    one_hot[7] = -2.0
    s = embedding_stats(one_hot)
    assert s["entropy"] == pytest.approx(0.0)
    assert s["sparsity"] == pytest.approx(511 / 512)

    half = np.r_[np.ones(256), np.zeros(256)]
    assert embedding_stats(half)["entropy"] == pytest.approx(8 / 9)  # log2(256)/log2(512)


def test_embedding_stats_match_scipy_on_random_vectors():
    x = np.random.default_rng(3).standard_normal(512)
    s = embedding_stats(x)
    assert s["kurtosis"] == pytest.approx(scipy.stats.kurtosis(x))
    assert s["skew"] == pytest.approx(scipy.stats.skew(x))
    p = np.abs(x) / np.abs(x).sum()
    assert s["entropy"] == pytest.approx(-(p * np.log2(p)).sum() / 9.0)
    assert s["sparsity"] == pytest.approx(np.mean(np.abs(x) < 0.01 * np.abs(x).max()))


def test_embedding_stats_zero_vector_and_bad_input():
    assert embedding_stats(np.zeros(512)) == {
        "kurtosis": 0.0, "skew": 0.0, "sparsity": 1.0, "entropy": 0.0, "std": 0.0, "l2_norm": 0.0
    }
    with pytest.raises(ValueError, match="finite"):
        embedding_stats(np.array([1.0, np.nan]))


@pytest.mark.parametrize("n", [100, 2047, 7 * 512 * 3, 7 * 512 * 3 + 1, 22050 * 4 + 17])
def test_block_stft_equals_the_whole_track_stft(n, monkeypatch):
    """Blocks of 7 frames against the one whole-track STFT (before the blocks): the magnitudes and every
    feature made frame by frame from them are bit-identical; the mel product (and the MFCCs from it) goes
    through BLAS, whose float32 summation order depends on the matrix's width and on OpenBLAS's threads
    (the whole-track mel itself differs in the last bits between 1 and 2 threads), so those agree to rounding."""
    import detector.features.spectral as spectral

    monkeypatch.setattr(spectral, "BLOCK_FRAMES", 7)
    y = SIGNALS["mix"](n / SAMPLE_RATE)[:n]
    blocks, whole = spectral.spectral_frames(y), spectral._spectral_frames_whole(y)
    for name in ("contrast", "flatness", "envelope"):
        assert np.array_equal(getattr(blocks, name), getattr(whole, name)), name
    np.testing.assert_allclose(blocks.mel_db, whole.mel_db, rtol=0, atol=1e-4)
    np.testing.assert_allclose(blocks.mfcc, whole.mfcc, rtol=1e-6, atol=1e-3)
    for key, value in whole.summary().items():
        assert blocks.summary()[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key  # float32 sums


@pytest.mark.slow
def test_the_features_do_not_depend_on_the_number_of_blas_threads(tmp_path):
    """A 1-CPU scan worker and a 2-core dashboard must give the same report: librosa's dense float32 mel product
    sums in a BLAS-thread-dependent order (its MFCCs differed in the 7th digit), ours does not."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import json, numpy as np; from detector.synthetic import signals; "
            "from detector.features.spectral import spectral_frames; "
            "f = spectral_frames(signals.song(60, 22050, seed=3)); "
            "print(json.dumps({**f.summary(), 'mel': float(np.float64(f.mel_db).sum())}))")
    root = Path(__file__).resolve().parent.parent
    runs = [json.loads(subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                                      env={**os.environ, "OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n}).stdout)
            for n in ("1", "2")]
    assert runs[0] == runs[1]
