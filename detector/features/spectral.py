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

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import librosa
import numpy as np
import scipy.stats

SAMPLE_RATE = 22050
N_FFT = 2048
HOP = 512
N_MFCC = 20
N_MELS = 128
SUMMARY_NAMES = ("mfcc_variance", "mfcc_kurtosis", "contrast_std", "flatness_mean")
"""The original detector's four numbers, in the order :func:`summarize_frames` gives them."""


def _kurtosis_rows(matrix: np.ndarray) -> np.ndarray:
    """Fisher kurtosis of each row over time; 0.0 for constant rows."""
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
    return librosa.power_to_db(peak) - librosa.power_to_db(valley)


def waveform_envelope(y: np.ndarray, hop: int = HOP) -> np.ndarray:
    """Minimum and maximum of each block of ``hop`` samples: a (2, ceil(N / hop)) array."""
    y = np.asarray(y, dtype=np.float32)
    blocks = np.pad(y, (0, -y.size % hop), mode="edge").reshape(-1, hop)
    return np.stack([blocks.min(axis=1), blocks.max(axis=1)])


def spectral_frames(y: np.ndarray, sr: int = SAMPLE_RATE) -> SpectralFrames:
    """Compute MFCC, spectral contrast and flatness per frame from one STFT.

    ``y`` is mono audio at ``sr`` (the original detector used 22,050 Hz). Spectral
    contrast runs in a second thread beside the mel/MFCC/flatness work (numpy's
    partition and matrix products release the GIL).
    """
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
    "HOP", "N_FFT", "N_MELS", "N_MFCC", "SAMPLE_RATE", "SUMMARY_NAMES", "SpectralFrames", "reference_spectral_summary",
    "spectral_contrast", "spectral_frames", "summarize_frames", "waveform_envelope",
]
