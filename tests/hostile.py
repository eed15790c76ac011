"""The bad-input matrix: hostile and unusual uploads, and what the user must be told about each.

One table drives both the library tests (``detector.analyze``) and the dashboard tests
(an AppTest upload on the Analyse page) in ``test_hardening.py``. Every input is built in
memory in milliseconds; the 1-hour file is a valid WAV header over random 8-bit bytes
(28 MB, under the 200 MB upload limit, so the dashboard path is the real one).

``covered_by`` names the decode-level test in ``test_audio.py`` that already checks the same
input against :func:`detector.audio.decode`; the tests here go end to end instead.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
from conftest import SR, encode, noise, tone

HOUR = 3600


def song(seconds: float = 3.0, sr: int = SR) -> np.ndarray:
    """A tone plus hiss: something every layer has to work on."""
    return tone(440.0, seconds, sr) + noise(seconds, sr, amp=0.05)


def wav_header(sr: int, channels: int, bits: int, frames: int) -> bytes:
    """A canonical 44-byte PCM WAV header announcing ``frames`` frames."""
    block = channels * bits // 8
    data = frames * block
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * block, block, bits)
    return b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + fmt + b"data" + struct.pack("<I", data)


def png_bytes() -> bytes:
    """A real 4x4 RGB PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 52)) + chunk(b"IEND", b"")


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _header_claims_more() -> bytes:
    data = bytearray(encode(song(3.0), SR, "WAV", "PCM_16"))
    data[40:44] = struct.pack("<I", 30 * SR * 2)  # the data chunk says 30 s, 3 s follow
    return bytes(data)


def _one_hour() -> bytes:
    frames = HOUR * 8000
    body = np.random.default_rng(0).integers(0, 256, frames, dtype=np.uint8).tobytes()
    return wav_header(8000, 1, 8, frames) + body


def _with(value: float) -> bytes:
    y = song(3.0)
    y[SR] = value
    return encode(y, subtype="FLOAT")


@dataclass(frozen=True)
class Case:
    """One upload and its expected outcome.

    Exactly one of ``error`` (the file is refused with a message containing it) or
    ``duration`` (the file is analysed and lasts that many seconds, within ``tolerance``) is set;
    an accepted file may also carry a ``warning`` the user must see.
    """

    id: str
    filename: str
    build: Callable[[], bytes]
    error: str | None = None
    duration: float | None = None
    tolerance: float = 0.01
    warning: str | None = None
    covered_by: str | None = None

    @property
    def mime(self) -> str:
        return {"mp3": "audio/mpeg", "flac": "audio/flac"}.get(self.filename.rsplit(".", 1)[-1], "audio/wav")


NOT_AUDIO = "not a readable audio file. It may be corrupt, or in a format other than WAV, FLAC, OGG/Vorbis, Opus or MP3"

CASES = [
    Case("zero-bytes", "empty.wav", lambda: b"", error="The file is empty (0 bytes).",
         covered_by="test_empty_file"),
    Case("text-as-mp3", "shopping-list.mp3", lambda: b"This is a shopping list, not a song.\n" * 50,
         error=NOT_AUDIO, covered_by="test_text_renamed_mp3"),
    Case("png-as-mp3", "cover.mp3", png_bytes, error=NOT_AUDIO),
    Case("truncated-mp3", "half.mp3", lambda: _half(encode(song(5.0), fmt="MP3")), duration=2.43, tolerance=0.1,
         warning="header promises 5.00 s but it holds only", covered_by="test_truncated_mp3_warns_about_missing_audio"),
    Case("mp3-cut-in-first-frames", "stub.mp3", lambda: encode(song(5.0), fmt="MP3")[:200],
         error="no complete audio frame was found"),
    Case("truncated-flac", "half.flac", lambda: _half(encode(song(5.0), fmt="FLAC")), duration=1.49, tolerance=0.01,
         warning="The file is damaged after 1.49 s",  # and 1.49 s analysed: the resampler is flushed at the damage
         covered_by="test_truncated_flac_keeps_the_decodable_part_and_says_so"),
    Case("wav-header-claims-more", "claims-30s.wav", _header_claims_more, duration=3.0,
         warning="header claims more audio than the file holds",
         covered_by="test_header_claiming_more_data_than_present_warns_and_keeps_what_is_there"),
    Case("0.2-seconds", "blip.wav", lambda: encode(song(0.2)), error="too short: 0.20 s; at least 1.00 s is needed",
         covered_by="test_too_short"),
    Case("one-hour", "hour.wav", _one_hour, error="too long: 60 min 00.0 s; the limit is 20 min 00.0 s",
         covered_by="test_one_hour_file_is_refused_quickly_without_decoding"),
    Case("8-channels", "surround.wav", lambda: encode(np.stack([song(3.0)] * 8, axis=1)), duration=3.0),
    Case("8-khz", "phone.wav", lambda: encode(song(3.0, 8000), 8000), duration=3.0),
    Case("192-khz", "hires.wav", lambda: encode(song(3.0, 192000), 192000), duration=3.0),
    Case("pcm-u8", "eight-bit.wav", lambda: encode(song(3.0), subtype="PCM_U8"), duration=3.0),
    Case("float32", "float.wav", lambda: encode(song(3.0), subtype="FLOAT"), duration=3.0),
    Case("nan-samples", "nan.wav", lambda: _with(np.nan), error="NaN or infinite sample values",
         covered_by="test_nan_and_inf_samples"),
    Case("inf-samples", "inf.wav", lambda: _with(np.inf), error="NaN or infinite sample values",
         covered_by="test_nan_and_inf_samples"),
    # Found by the fuzz test: finite float samples far over full scale overflowed the spectra into NaN features,
    # or (near the float32 maximum) overflowed the resampler into a librosa ParameterError.
    Case("float-spike-1e30", "spike.wav", lambda: _with(1e30), error="over 1000 times full scale (+60 dBFS)"),
    Case("float-spike-float32-max", "max.wav", lambda: _with(3.4e38), error="over 1000 times full scale"),
    Case("digital-silence", "silence.wav", lambda: encode(np.zeros(3 * SR, np.float32)), error="The track is silent",
         covered_by="test_silence"),
    Case("dc-only", "dc.wav", lambda: encode(np.full(3 * SR, 0.5, np.float32)), duration=3.0),
    Case("full-scale-clipping", "clipped.wav", lambda: encode(np.clip(20 * song(3.0), -1.0, 1.0)), duration=3.0),
]
