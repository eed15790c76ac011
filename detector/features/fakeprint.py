"""The fakeprint: a track's long-term spectrum at its native rate, and its narrow peaks.

A decoder built from strided transposed convolutions (zero-insertion upsampling by k
followed by a convolution) images its input every ``R / k`` Hz, where ``R`` is the
rate that layer runs at, and leaves narrow spectral lines at those positions whatever
the music plays (Afchar et al., ISMIR 2025, arXiv 2506.19108). They show in a long,
fine-resolution average of the spectrum as small narrow peaks above a smooth floor.

This module computes that average and its residual above the floor; :mod:`.comb`
searches the residual for evenly spaced peaks. It is written from the textbook
multirate-DSP argument, not from Deezer's code (CC BY-NC, patents filed):

- one Hann-window STFT at the native rate with about 2.7 Hz bins (``n_fft`` 16384 at
  44.1/48 kHz, 8192 at 22.05 kHz), hop ``n_fft / 2``, frames kept per segment;
- the mean of the dB power over frames (whole track, and each segment);
- the floor: a running median over ``FLOOR_BINS`` bins; the residual is the spectrum
  minus the floor, in dB, and ``z`` is the residual over its running robust spread
  (1.4826 x the running median absolute residual), so a peak's size is comparable
  between tracks, codecs and levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

LOW_HZ = 1000.0
"""The fakeprint starts here: below, music's own partials crowd the spectrum."""
FLOOR_BINS = 31
"""Width of the running median that estimates the floor under the peaks (~80 Hz)."""
SPREAD_BINS = 301
"""Width of the running median of |residual| that scales it into ``z`` (~800 Hz)."""
BIN_SECONDS = 0.372
"""``n_fft`` is the power of two nearest to this many seconds: bins of ~2.7 Hz."""
DB_FLOOR = -150.0
"""Power below this (dB re full scale, per bin) counts as silence."""
LOUD_BINS = 751
"""The band's loud floor is the loudest running median of the floor over this many bins (~2 kHz)."""
DEAD_DB = 70.0
"""Bins whose floor lies this far below the band's loud floor carry no usable signal
(a codec's low-pass, a resampler's stop band) and are left out of the search."""
PRECISION_DB = 110.0
"""Bins this far below the loudest bin of the track are dead too: float32 FFTs round at about
-140 dB, and a noiseless signal (a DC offset, a synthetic tone) leaves only rounding there,
whose structure is periodic and would read as a comb."""
CHART_POINTS = 2400
"""The fakeprint chart's resolution: the residual is max-pooled to about this many points."""
VECTOR_HZ = (1000.0, 16000.0, 10.0)
"""The fixed grid of the ``fakeprint-v1`` feature vector: start, stop and step in Hz."""


def fft_size(sample_rate: int) -> int:
    """The power of two nearest to ``BIN_SECONDS`` of audio at ``sample_rate``."""
    return 2 ** max(8, round(math.log2(sample_rate * BIN_SECONDS)))


@dataclass(frozen=True)
class Residual:
    """A long-term spectrum, its floor and its normalised residual, on ``freqs``."""

    spectrum_db: np.ndarray
    floor_db: np.ndarray
    z: np.ndarray
    live: np.ndarray  # bool: bins with signal above the dead band

    @classmethod
    def of(cls, spectrum_db: np.ndarray, band: np.ndarray) -> "Residual":
        """The residual of ``spectrum_db``; ``band`` marks the bins the search may use."""
        from scipy import ndimage as ndi  # scipy's subpackages are imported where used (see docs/architecture.md)

        spectrum_db = np.asarray(spectrum_db, dtype=np.float64)
        floor = ndi.median_filter(spectrum_db, size=FLOOR_BINS, mode="nearest")
        residual = spectrum_db - floor
        spread = 1.4826 * ndi.median_filter(np.abs(residual), size=SPREAD_BINS, mode="nearest")
        z = residual / np.maximum(spread, 1e-3)
        # the loudest floor over any ~2 kHz stretch: a cluster of huge lines cannot set it, a quiet band can't hide it
        loudest = float(ndi.median_filter(floor[band], size=LOUD_BINS, mode="nearest").max()) if band.any() else DB_FLOOR
        live = band & (floor > max(loudest - DEAD_DB, float(spectrum_db.max()) - PRECISION_DB, DB_FLOOR + 10.0))
        return cls(spectrum_db.astype(np.float32), floor.astype(np.float32), z.astype(np.float32), live)

    @property
    def residual_db(self) -> np.ndarray:
        return self.spectrum_db - self.floor_db


@dataclass(frozen=True)
class Fakeprint:
    """The fakeprint of one track, whole and per segment, from 0 Hz to Nyquist.

    The comb search uses the live bins from ``LOW_HZ`` up; the bins below serve to
    recognise a note's harmonic series.

    Attributes
    ----------
    sample_rate, n_fft : int
        The native rate the spectrum was taken at, and the FFT size (bin width
        ``sample_rate / n_fft``).
    freqs : np.ndarray
        Centre frequency of each kept bin, in Hz.
    whole : Residual
        The mean over every frame of the track.
    segments : tuple of Residual or None
        The mean over each segment's frames (``None`` for a segment too short to hold a
        frame), in the order of the track's segments.
    """

    sample_rate: int
    n_fft: int
    freqs: np.ndarray
    whole: Residual
    segments: tuple[Residual | None, ...]

    @property
    def bin_hz(self) -> float:
        return self.sample_rate / self.n_fft

    @cached_property
    def chart(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(Hz, dB)``: the live whole-track residual (clipped at 0 dB) max-pooled to about
        ``CHART_POINTS`` points, so narrow peaks stay visible. Computed once per fakeprint."""
        live = np.flatnonzero(self.whole.live)
        if live.size == 0:
            return (), ()
        a, b = int(live[0]), int(live[-1]) + 1
        residual = np.clip(self.whole.residual_db[a:b], 0.0, None) * self.whole.live[a:b]
        step = max(1, (b - a) // CHART_POINTS)
        n = (b - a) // step * step
        pooled = residual[:n].reshape(-1, step)
        arg = pooled.argmax(axis=1) + np.arange(0, n, step)
        return (tuple(round(float(f), 1) for f in self.freqs[a:b][arg]),
                tuple(round(float(v), 2) for v in residual[arg]))

    def vector(self) -> np.ndarray:
        """The ``fakeprint-v1`` feature vector: the residual in dB clipped to [0, 5] dB,
        max-pooled onto the fixed ``VECTOR_HZ`` grid (zero where the track has no bins)."""
        lo, hi, step = VECTOR_HZ
        edges = np.arange(lo, hi + step / 2, step)
        clipped = np.clip(self.whole.residual_db, 0.0, 5.0) * self.whole.live
        cell = np.searchsorted(edges, self.freqs, side="right") - 1
        keep = (cell >= 0) & (cell < edges.size - 1)
        out = np.zeros(edges.size - 1, np.float32)
        np.maximum.at(out, cell[keep], clipped[keep])
        return out


def fakeprint(samples: np.ndarray, sample_rate: int, bounds: list[tuple[float, float]]) -> Fakeprint | None:
    """The fakeprint of mono ``samples`` at their native ``sample_rate``.

    ``bounds`` are the track's segments in seconds; frames are taken inside each
    segment, so memory stays one segment's frames however long the track. Returns
    ``None`` when the rate leaves nothing above ``LOW_HZ`` or no segment holds a frame.
    """
    import scipy.fft
    from scipy.signal import get_window

    n_fft = fft_size(sample_rate)
    hop = n_fft // 2
    freqs_all = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    band = freqs_all >= LOW_HZ
    if sample_rate / 2 <= LOW_HZ * 2:
        return None
    window = get_window("hann", n_fft).astype(np.float32)
    sums: list[np.ndarray | None] = []
    counts: list[int] = []
    for start, end in bounds:
        chunk = samples[int(start * sample_rate): int(end * sample_rate)]
        n_frames = 1 + (chunk.shape[0] - n_fft) // hop if chunk.shape[0] >= n_fft else 0
        if n_frames == 0:
            sums.append(None)
            counts.append(0)
            continue
        frames = np.lib.stride_tricks.sliding_window_view(chunk, n_fft)[::hop][:n_frames]
        # without each frame's mean: a DC offset would otherwise be the loudest bin by far and set the
        # precision floor (PRECISION_DB) for the whole band
        spectrum = scipy.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * window, axis=1, workers=-1)
        power = spectrum.real**2 + spectrum.imag**2
        db = 10.0 * np.log10(np.maximum(power, 10.0 ** (DB_FLOOR / 10.0)))
        sums.append(db.sum(axis=0))
        counts.append(n_frames)
    total = sum(counts)
    if total == 0:
        return None
    whole = Residual.of(sum(s for s in sums if s is not None) / total, band)
    segments = tuple(Residual.of(s / n, band) if s is not None else None for s, n in zip(sums, counts))
    return Fakeprint(sample_rate, n_fft, freqs_all.astype(np.float32), whole, segments)


__all__ = ["LOW_HZ", "VECTOR_HZ", "Fakeprint", "Residual", "fakeprint", "fft_size"]
