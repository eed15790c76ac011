"""Encode audio in memory with libsndfile's own encoders (MP3, Ogg/Vorbis, Ogg/Opus, WAV)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

MP3_KBPS = (32, 320)
"""libsndfile's constant-bitrate MP3 maps compression level 0..1 linearly onto 320..32 kbps."""
_OGG_BLOCK = 1 << 20  # frames per write to libsndfile's Ogg encoders (about 24 s at 44.1 kHz)


def encode(samples: np.ndarray, sr: int, codec: str = "WAV", kbps: int | None = None) -> bytes:
    """``samples`` encoded as ``codec`` ("WAV", "FLAC", "MP3", "VORBIS" or "OPUS").

    ``kbps`` sets an MP3's constant bitrate (e.g. 128); for Vorbis and Opus it maps to
    libsndfile's compression level (lower bitrate, higher level), approximately.
    """
    buf = io.BytesIO()
    codec = codec.upper()
    if codec in ("WAV", "FLAC"):
        sf.write(buf, samples, sr, format=codec, subtype="FLOAT" if codec == "WAV" else None)
    elif codec == "MP3":
        lo, hi = MP3_KBPS
        level = 0.0 if kbps is None else (hi - min(max(kbps, lo), hi)) / (hi - lo)
        sf.write(buf, samples, sr, format="MP3", compression_level=level, bitrate_mode="CONSTANT")
    elif codec in ("VORBIS", "OPUS"):
        level = None if kbps is None else float(np.clip(1.0 - kbps / 256.0, 0.0, 1.0))
        samples = np.asarray(samples)
        channels = 1 if samples.ndim == 1 else samples.shape[1]
        with sf.SoundFile(buf, "w", sr, channels, format="OGG", subtype=codec, compression_level=level) as out:
            # libsndfile 1.2.2's Vorbis writer crashes (SIGSEGV) on one write of a minute of stereo audio, so
            # write at most _OGG_BLOCK frames at a time (a shorter input is still one write, as before)
            for start in range(0, max(samples.shape[0], 1), _OGG_BLOCK):
                out.write(samples[start:start + _OGG_BLOCK])
    else:
        raise ValueError(f"Unknown codec {codec!r}.")
    return buf.getvalue()


__all__ = ["encode"]
