"""Spectral features from one STFT.

The original detector computed its four spectral numbers with four separate librosa
calls (``mfcc``, ``spectral_contrast``, ``spectral_flatness`` and an unused
``melspectrogram``), i.e. four STFTs. Here one magnitude STFT feeds all of them and
gives the same values (spectral contrast by a partial sort instead of librosa's full
sort); :func:`reference_spectral_summary` keeps the original way for tests and the
benchmark.

Defined values for degenerate input (never NaN):

* the Fisher kurtosis of a constant row (silence, DC) is 0.0.
"""

from __future__ import annotations

import functools
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import librosa
import numpy as np

from ..config import cpu_threads

if TYPE_CHECKING:  # pragma: no cover
    import scipy.sparse

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
N_MFCC = 20
N_MELS = 128
SUMMARY_NAMES = ("mfcc_variance", "mfcc_kurtosis", "contrast_std", "flatness_mean")
"""The original detector's four numbers, in the order :func:`summarize_frames` gives them."""


def _kurtosis_rows(matrix: np.ndarray) -> np.ndarray:
    """Fisher kurtosis of each row over time; 0.0 for constant rows."""
    import scipy.stats  # here, not at import: the dashboard's first page has no use for it (most of a second)

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "catastrophic cancellation" on near-constant rows
        k = scipy.stats.kurtosis(matrix, axis=-1)
    return np.nan_to_num(np.asarray(k, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def summarize_frames(mfcc: np.ndarray, contrast: np.ndarray, flatness: np.ndarray) -> dict[str, float]:
    """The original detector's four numbers from per-frame matrices.

    Parameters
    ----------
    mfcc : (20, T) array
    contrast : (7, T) array
    flatness : (T,) array
    """
    return {
        "mfcc_variance": float(np.var(mfcc)),
        "mfcc_kurtosis": float(np.mean(_kurtosis_rows(mfcc))),
        "contrast_std": float(np.std(contrast)),
        "flatness_mean": float(np.mean(flatness)),
    }


@dataclass(frozen=True)
class SpectralFrames:
    """Per-frame spectral features of a whole track, from one STFT.

    Attributes
    ----------
    mfcc : (20, T) float array
    contrast : (7, T) float array
    flatness : (T,) float array
    mel_db : (128, T) float32 array, the dB mel power spectrogram the MFCCs come from
    sample_rate, hop : int
    envelope : (2, ceil(N / hop)) float32 array or None
        The waveform's minimum and maximum in each block of ``hop`` samples, for drawing.
    """

    mfcc: np.ndarray
    contrast: np.ndarray
    flatness: np.ndarray
    mel_db: np.ndarray
    sample_rate: int = SAMPLE_RATE
    hop: int = HOP
    envelope: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return self.flatness.shape[0]

    @property
    def times(self) -> np.ndarray:
        """Centre time of each frame in seconds."""
        return librosa.frames_to_time(np.arange(self.n_frames), sr=self.sample_rate, hop_length=self.hop)

    def summary(self, start: float = 0.0, end: float | None = None) -> dict[str, float]:
        """The four statistics over the frames whose centres lie in ``[start, end)``."""
        sl = self.frame_slice(start, end)
        return summarize_frames(self.mfcc[:, sl], self.contrast[:, sl], self.flatness[sl])

    def frame_slice(self, start: float, end: float | None) -> slice:
        first = int(np.ceil(start * self.sample_rate / self.hop))
        last = self.n_frames if end is None else int(np.ceil(end * self.sample_rate / self.hop))
        return slice(max(first, 0), min(max(last, first + 1), self.n_frames))


def spectral_contrast(S: np.ndarray, sr: int = SAMPLE_RATE, n_bands: int = 6, fmin: float = 200.0,
                      quantile: float = 0.02) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=S, sr=sr)`` with a partial sort.

    librosa fully sorts every octave band of every frame only to average its lowest
    and highest 2 %; :func:`numpy.partition` finds those same bins in linear time.
    The bands, the quantile rule and the dB conversion are librosa's, and the tests
    compare the result with librosa's element by element. Half the spectral path's
    time went to that sort.
    """
    peak, valley = _contrast_bands(S, sr, n_bands, fmin, quantile)
    return librosa.power_to_db(peak) - librosa.power_to_db(valley)


def _contrast_bands(S: np.ndarray, sr: int = SAMPLE_RATE, n_bands: int = 6, fmin: float = 200.0,
                    quantile: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each octave band's highest and lowest ``quantile`` of bins, per frame: (peak, valley),
    each (n_bands + 1, T); spectral contrast is their ratio in dB."""
    freq = librosa.fft_frequencies(sr=sr, n_fft=2 * (S.shape[-2] - 1))
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    valley = np.zeros((n_bands + 1, S.shape[-1]))
    peak = np.zeros_like(valley)
    for k, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:])):
        idx = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        # librosa's band mask: one bin below the octave (bands after the first), and
        # everything above it for the last band; n comes from the mask's length.
        lo = idx[0] - 1 if k > 0 else idx[0]
        hi = freq.size if k == n_bands else idx[-1] + 1
        n = max(int(np.rint(quantile * (hi - lo))), 1)
        sub = S[lo : hi if k == n_bands else hi - 1]  # librosa drops the mask's top bin below the last band
        m = sub.shape[0]
        part = np.sort(sub, axis=0) if 2 * n >= m else np.partition(sub, (n - 1, m - n), axis=0)
        valley[k] = np.mean(part[:n], axis=0)
        peak[k] = np.mean(part[m - n :], axis=0)
    return peak, valley


def waveform_envelope(y: np.ndarray, hop: int = HOP) -> np.ndarray:
    """Minimum and maximum of each block of ``hop`` samples: a (2, ceil(N / hop)) array."""
    y = np.asarray(y, dtype=np.float32)
    whole = y.size // hop * hop  # the full blocks as a view; only the short tail is padded (with its last value)
    blocks = y[:whole].reshape(-1, hop)
    envelope = np.empty((2, -(-y.size // hop)), np.float32)
    np.min(blocks, axis=1, out=envelope[0, :blocks.shape[0]])
    np.max(blocks, axis=1, out=envelope[1, :blocks.shape[0]])
    if whole < y.size:
        envelope[:, -1] = y[whole:].min(), y[whole:].max()
    return envelope


BLOCK_FRAMES = 1024
"""STFT frames per block (about 24 s at 22.05 kHz): the largest array :func:`spectral_frames` holds is
one block's spectrogram, 1025 x 1024 complex64 (8 MiB), whatever the track's length."""


def _padded(y: np.ndarray, start: int, stop: int, pad: int) -> np.ndarray:
    """``np.pad(y, pad)[start:stop]`` (zeros, librosa's default ``pad_mode``), copying only at the edges."""
    lo, hi = start - pad, stop - pad
    if lo >= 0 and hi <= y.size:
        return y[lo:hi]
    out = np.zeros(stop - start, dtype=y.dtype)
    a, b = max(lo, 0), min(hi, y.size)
    if b > a:
        out[a - lo : b - lo] = y[a:b]
    return out


@functools.lru_cache(maxsize=4)
def _mel_basis(sr: int) -> "scipy.sparse.csr_array":
    """librosa's mel filter bank (``melspectrogram``'s defaults) as a sparse matrix.

    Each of the 128 filters spans a few dozen of the 1,025 bins, so the product is about 30 times less
    arithmetic than the dense one, and its sums run in one fixed order: a dense float32 product goes
    through BLAS, whose summation order, and so the last bits of the result, change with the number of
    threads and the matrix's width (a 2-core laptop and a 1-CPU scan worker would disagree in the 7th digit).
    """
    import scipy.sparse

    return scipy.sparse.csr_array(librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32))


def _block(y: np.ndarray, first: int, last: int, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frames ``first`` to ``last`` of :func:`spectral_frames`: mel power, flatness, contrast peak and valley.

    librosa's centred STFT of the whole track, cut to these frames, is the uncentred STFT of
    the zero-padded track cut to the samples they cover, column for column; every feature
    below is computed frame by frame, so the blocks join into exactly the whole-track arrays.
    """
    S = np.abs(librosa.stft(_padded(y, first * HOP, (last - 1) * HOP + N_FFT, N_FFT // 2),
                            n_fft=N_FFT, hop_length=HOP, center=False))
    peak, valley = _contrast_bands(S, sr)
    mel = (_mel_basis(sr) @ (S**2)).astype(np.float32, copy=False)
    flatness = librosa.feature.spectral_flatness(S=S, n_fft=N_FFT, hop_length=HOP)[0]
    return mel, flatness, peak, valley


def spectral_frames(y: np.ndarray, sr: int = SAMPLE_RATE) -> SpectralFrames:
    """Compute MFCC, spectral contrast and flatness per frame from one STFT.

    ``y`` is mono audio at ``sr`` (the original detector used 22,050 Hz). The STFT is
    computed in blocks of :data:`BLOCK_FRAMES` frames, two blocks at a time on two threads
    (numpy's FFT, partition and matrix products release the GIL), and only the small
    per-frame results are kept: memory stays flat in the track's length. The dB scalings,
    whose 80 dB floor is relative to the whole track's maximum, and the MFCCs' DCT run on
    the joined arrays, so every value equals the whole-track computation's bit for bit
    (``tests/test_features.py``).
    """
    y = np.asarray(y, dtype=np.float32)
    n_frames = 1 + y.size // HOP  # librosa's centred framing
    starts = range(0, n_frames, BLOCK_FRAMES)
    mel = np.empty((N_MELS, n_frames), np.float32)
    flatness = np.empty(n_frames, np.float32)
    peak, valley = np.empty((7, n_frames)), np.empty((7, n_frames))

    def fill(first: int) -> None:
        last = min(first + BLOCK_FRAMES, n_frames)
        mel[:, first:last], flatness[first:last], peak[:, first:last], valley[:, first:last] = _block(y, first, last, sr)

    if cpu_threads() >= 2:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(fill, starts))
    else:  # one thread (a scan worker: Ray runs one per core): the same blocks, in turn
        for first in starts:
            fill(first)
    mel_db = librosa.power_to_db(mel)
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
    contrast = librosa.power_to_db(peak) - librosa.power_to_db(valley)
    return SpectralFrames(mfcc, contrast, flatness, mel_db.astype(np.float32), sr, HOP, waveform_envelope(y))


def _spectral_frames_whole(y: np.ndarray, sr: int = SAMPLE_RATE) -> SpectralFrames:
    """:func:`spectral_frames` as it was before the blocks (one whole-track STFT): the tests' yardstick."""
    y = np.asarray(y, dtype=np.float32)
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    with ThreadPoolExecutor(1) as pool:
        contrast = pool.submit(spectral_contrast, S, sr)
        mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=S**2, sr=sr, n_mels=N_MELS))
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
        flatness = librosa.feature.spectral_flatness(S=S, n_fft=N_FFT, hop_length=HOP)[0]
        contrast = contrast.result()
    return SpectralFrames(mfcc, contrast, flatness, mel_db.astype(np.float32), sr, HOP, waveform_envelope(y))


def reference_spectral_summary(y: np.ndarray, sr: int = SAMPLE_RATE) -> dict[str, float]:
    """The original detector's computation: four separate librosa calls on ``y``.

    Kept as the yardstick for tests and for the benchmark, not used for analysis.
    """
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)
    contrast = librosa.feature.spectral_contrast(y=y, sr=sr)
    flatness = librosa.feature.spectral_flatness(y=y)
    librosa.feature.melspectrogram(y=y, sr=sr)  # computed and never used by the original
    return summarize_frames(mfcc, contrast, flatness[0])


__all__ = [
    "BLOCK_FRAMES", "HOP", "N_FFT", "N_MELS", "N_MFCC", "SAMPLE_RATE", "SUMMARY_NAMES", "SpectralFrames", "reference_spectral_summary",
    "spectral_contrast", "spectral_frames", "summarize_frames", "waveform_envelope",
]
