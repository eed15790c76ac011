"""A small, storable copy of what the "Where in the track" figure draws: waveform envelope and mel spectrogram.

The history keeps reports, not audio. To reopen an analysis with the same figure as
the Analyse page, :class:`Overview` keeps the track's :class:`~.spectral.SpectralFrames`
envelope and mel spectrogram pooled to at most ``max_columns`` time columns (min of
the envelope's lows, max of its highs, mean of the mel dB) at float16 precision:
about 150-250 KB per track once compressed, whatever its length.

It has the attributes :func:`detector.plots.track_overview` reads of a
``SpectralFrames`` (``envelope``, ``mel_db``, ``hop``, ``sample_rate``, ``n_frames``),
so the figure is drawn from either one by the same code.

The bytes are an ``.npz`` archive of plain arrays, read back with
``allow_pickle=False``; damaged or oversized data raises :class:`OverviewError`.
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import DetectorError
from .spectral import SpectralFrames

MAX_COLUMNS = 900
"""Time columns kept by default: what :func:`detector.plots.track_overview` draws of the mel spectrogram."""
MAX_BYTES = 1 << 20
"""The largest stored overview accepted (1 MiB); a default one takes a few hundred KB at most."""
_MAX_UNPACKED = 16 << 20  # what the archive may expand to when read back (a default one is under 0.3 MiB)
_FORMAT = 1
_NAMES = {"format", "mel_db", "envelope", "hop", "sample_rate"}
_F16_MAX = float(np.finfo(np.float16).max)


class OverviewError(DetectorError, ValueError):
    """Stored overview bytes cannot be read back. ``str(err)`` is written for the user."""


def _pool(values: np.ndarray, step: int, how) -> np.ndarray:
    """Reduce the last axis by ``how`` over blocks of ``step`` columns (the last block padded with its edge)."""
    if step <= 1:
        return values
    pad = -values.shape[-1] % step
    if pad:
        values = np.concatenate([values, np.repeat(values[..., -1:], pad, axis=-1)], axis=-1)
    return how(values.reshape(*values.shape[:-1], -1, step), axis=-1)


def _half(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to float16 precision (finite, within float16's range), as float32 for plotting."""
    clean = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), -_F16_MAX, _F16_MAX)
    return clean.astype(np.float16).astype(np.float32)


@dataclass(frozen=True, eq=False)
class Overview:
    """The waveform envelope and mel spectrogram of a track, pooled in time for drawing.

    Attributes
    ----------
    mel_db : np.ndarray [shape=(n_mels, n_frames), float32]
        Mean mel power in dB per pooled column (float16-exact values).
    envelope : np.ndarray [shape=(2, m), float32] or None
        The waveform's minimum (row 0) and maximum (row 1) per pooled column, where the
        frames had an envelope. ``m`` is ``n_frames`` or one more.
    hop : int
        Samples at ``sample_rate`` per pooled column (the frames' hop times the pooling step).
    sample_rate : int
        Hz.
    """

    mel_db: np.ndarray
    envelope: np.ndarray | None
    hop: int
    sample_rate: int

    @property
    def n_frames(self) -> int:
        """Time columns of :attr:`mel_db`."""
        return int(self.mel_db.shape[1])

    @property
    def duration(self) -> float:
        """Seconds the columns cover."""
        return self.n_frames * self.hop / self.sample_rate

    @classmethod
    def from_frames(cls, frames: SpectralFrames, *, max_columns: int = MAX_COLUMNS) -> "Overview":
        """Pool ``frames`` to at most ``max_columns`` columns.

        Parameters
        ----------
        frames : SpectralFrames
            A track's frames (``TrackFeatures.frames``), or another :class:`Overview`.
        max_columns : int
            At most this many time columns are kept (at least 1).
        """
        step = max(1, math.ceil(frames.n_frames / max(int(max_columns), 1)))
        envelope = None
        if frames.envelope is not None:
            low, high = _pool(frames.envelope[0], step, np.min), _pool(frames.envelope[1], step, np.max)
            envelope = _half(np.stack([low, high]))
        mel = _half(_pool(frames.mel_db, step, np.mean))
        return cls(mel, envelope, int(frames.hop) * step, int(frames.sample_rate))

    def to_bytes(self) -> bytes:
        """A compressed ``.npz`` archive of plain float16 and integer arrays (no pickled objects)."""
        arrays = {"format": np.array(_FORMAT), "mel_db": self.mel_db.astype(np.float16),
                  "hop": np.array(self.hop, dtype=np.int64), "sample_rate": np.array(self.sample_rate, dtype=np.int64)}
        if self.envelope is not None:
            arrays["envelope"] = self.envelope.astype(np.float16)
        out = io.BytesIO()
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Overview":
        """Read :meth:`to_bytes` output back.

        Raises
        ------
        OverviewError
            If ``data`` is too large, not such an archive, or its arrays don't fit together.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise OverviewError(f"A stored overview is bytes, not {type(data).__name__}.")
        if len(data) > MAX_BYTES:
            raise OverviewError(f"The stored overview is {len(data):,} bytes, more than the {MAX_BYTES:,} allowed.")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > _MAX_UNPACKED:
                raise OverviewError(f"The stored overview would unpack to {unpacked:,} bytes; it is not one of ours.")
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                names = set(npz.files)
                if not {"format", "mel_db", "hop", "sample_rate"} <= names <= _NAMES:
                    raise OverviewError(f"The stored overview has the wrong parts ({', '.join(sorted(names))}).")
                if int(npz["format"]) != _FORMAT:
                    raise OverviewError(f"The stored overview has format {int(npz['format'])}; this version reads "
                                        f"format {_FORMAT}. Analyse the track again to replace it.")
                mel = npz["mel_db"]
                envelope = npz["envelope"] if "envelope" in names else None
                hop, rate = int(npz["hop"]), int(npz["sample_rate"])
        except OverviewError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise OverviewError(f"The stored overview is damaged ({type(exc).__name__}: {exc}).") from None
        if mel.ndim != 2 or mel.shape[1] < 1 or mel.dtype.kind != "f":
            raise OverviewError(f"The stored overview's spectrogram has the wrong shape {mel.shape} "
                                f"or type {mel.dtype}.")
        if envelope is not None and (envelope.ndim != 2 or envelope.shape[0] != 2 or envelope.dtype.kind != "f"
                                     or abs(envelope.shape[1] - mel.shape[1]) > 1):
            raise OverviewError(f"The stored overview's waveform has the wrong shape {envelope.shape} "
                                f"for {mel.shape[1]} columns.")
        if hop < 1 or rate < 1:
            raise OverviewError(f"The stored overview's hop ({hop}) and sample rate ({rate}) must be positive.")
        return cls(mel.astype(np.float32), None if envelope is None else envelope.astype(np.float32), hop, rate)


__all__ = ["MAX_BYTES", "MAX_COLUMNS", "Overview", "OverviewError"]
