"""The stored track overview: what the "Where in the track" figure needs, small, and read back without pickle."""

import io
import json

import numpy as np
import pytest
from conftest import encode, noise, tone

from detector import Thresholds, extract, plots
from detector.features import SpectralFrames
from detector.features.overview import MAX_BYTES, MAX_COLUMNS, Overview, OverviewError


@pytest.fixture(scope="module")
def track():
    return extract(encode(tone(seconds=30.0) + noise(seconds=30.0, amp=0.05)), name="t.wav")


def test_round_trip_is_exact_and_plain_arrays(track):
    overview = Overview.from_frames(track.frames)
    data = overview.to_bytes()
    back = Overview.from_bytes(data)
    assert np.array_equal(back.mel_db, overview.mel_db) and np.array_equal(back.envelope, overview.envelope)
    assert (back.hop, back.sample_rate, back.n_frames) == (overview.hop, overview.sample_rate, overview.n_frames)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:  # nothing in it needs pickle
        assert {npz[name].dtype.kind for name in npz.files} <= {"f", "i"}
        assert npz["mel_db"].dtype == np.float16


def test_pooling_keeps_what_the_figure_draws(track):
    frames = track.frames
    overview = Overview.from_frames(frames, max_columns=100)
    step = -(-frames.n_frames // 100)
    assert overview.n_frames == -(-frames.n_frames // step) <= 100 and overview.hop == frames.hop * step
    assert overview.duration == pytest.approx(track.duration, abs=step * frames.hop / frames.sample_rate)
    assert overview.mel_db[:, 0] == pytest.approx(frames.mel_db[:, :step].mean(axis=1), abs=0.05)
    assert overview.envelope[0, 0] == pytest.approx(frames.envelope[0, :step].min(), abs=1e-3)
    assert overview.envelope[1, 0] == pytest.approx(frames.envelope[1, :step].max(), abs=1e-3)
    assert overview.envelope.min() == pytest.approx(frames.envelope.min(), abs=1e-3)  # peaks survive pooling
    short = Overview.from_frames(frames, max_columns=10 ** 6)  # nothing to pool
    assert short.n_frames == frames.n_frames and short.hop == frames.hop


def test_track_overview_draws_an_overview_like_the_frames(track):
    live = plots.track_overview(track.frames, [], Thresholds())
    kept = plots.track_overview(Overview.from_bytes(Overview.from_frames(track.frames).to_bytes()), [], Thresholds())
    (live_mel,) = [t for t in live.data if t.type == "heatmap"]
    (kept_mel,) = [t for t in kept.data if t.type == "heatmap"]
    assert np.asarray(kept_mel.z).shape == np.asarray(live_mel.z).shape
    assert np.allclose(kept_mel.x, live_mel.x)  # the same time axis
    assert np.allclose(kept_mel.z, live_mel.z, atol=0.05)  # float16 precision
    live_wave, kept_wave = live.data[0], kept.data[0]
    assert kept_wave.x[-1] == pytest.approx(live_wave.x[-1], abs=0.1)


def test_a_long_track_stays_small():
    n = 26_000  # ten minutes of 512-sample hops at 22,050 Hz
    rng = np.random.default_rng(0)
    mel = rng.normal(-40, 15, (128, n)).astype(np.float32)
    frames = SpectralFrames(np.zeros((20, n)), np.zeros((7, n)), np.zeros(n), mel,
                            envelope=np.sort(rng.uniform(-1, 1, (2, n)).astype(np.float32), axis=0))
    overview = Overview.from_frames(frames)
    assert overview.n_frames <= MAX_COLUMNS
    assert len(overview.to_bytes()) < 400_000  # random noise, the worst case for compression
    bare = SpectralFrames(frames.mfcc, frames.contrast, frames.flatness, frames.mel_db)  # no envelope
    assert Overview.from_frames(bare).envelope is None


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


def test_damaged_or_hostile_bytes_are_refused_clearly(track):
    good = Overview.from_frames(track.frames)
    parts = {"format": np.array(1), "mel_db": good.mel_db.astype(np.float16), "hop": np.array(good.hop),
             "sample_rate": np.array(good.sample_rate)}
    assert Overview.from_bytes(_npz(**parts)).envelope is None
    with pytest.raises(OverviewError, match="damaged"):
        Overview.from_bytes(b"not an archive")
    with pytest.raises(OverviewError, match="damaged"):
        Overview.from_bytes(good.to_bytes()[:-40])
    with pytest.raises(OverviewError, match="damaged"):  # pickled objects are never loaded
        Overview.from_bytes(_npz(**{**parts, "mel_db": np.array([{"evil": 1}], dtype=object)}))
    with pytest.raises(OverviewError, match="wrong parts"):
        Overview.from_bytes(_npz(**parts, extra=np.zeros(3)))
    with pytest.raises(OverviewError, match="format 2"):
        Overview.from_bytes(_npz(**{**parts, "format": np.array(2)}))
    with pytest.raises(OverviewError, match="wrong shape"):
        Overview.from_bytes(_npz(**{**parts, "mel_db": np.zeros(5, np.float16)}))
    with pytest.raises(OverviewError, match="waveform has the wrong shape"):
        Overview.from_bytes(_npz(**parts, envelope=np.zeros((2, 3), np.float16)))
    with pytest.raises(OverviewError, match="must be positive"):
        Overview.from_bytes(_npz(**{**parts, "hop": np.array(0)}))
    with pytest.raises(OverviewError, match="more than"):
        Overview.from_bytes(b"\0" * (MAX_BYTES + 1))
    with pytest.raises(OverviewError, match="unpack"):  # a small archive that would expand to 64 MiB
        Overview.from_bytes(_npz(**{**parts, "mel_db": np.zeros((128, 1 << 18), np.float16)}))
    with pytest.raises(OverviewError, match="bytes, not str"):
        Overview.from_bytes(json.dumps({}))
