"""Synthetic signals with known properties, encoded in memory in every supported format."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

SR = 44100


def tone(freq=440.0, seconds=3.0, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds=3.0, sr=SR, amp=0.3, seed=0):
    return (amp * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def chirp(seconds=3.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.4 * np.sin(2 * np.pi * (100 * t + 1500 * t**2 / seconds))).astype(np.float32)


def clicks(seconds=3.0, sr=SR):
    y = np.zeros(int(seconds * sr), np.float32)
    y[:: sr // 8] = 0.9
    return y


def music(seconds: float, sr: int = 48000) -> np.ndarray:
    """Two tones and a little noise: something for CLAP to embed (48 kHz by default)."""
    return tone(330.0, seconds, sr, 0.3) + tone(495.0, seconds, sr, 0.2) + noise(seconds, sr, 0.05)


def encode(samples, sr=SR, fmt="WAV", subtype=None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


class _Counting:
    """Counts the bytes read through ``read`` and ``readinto`` (libsndfile uses the latter)."""

    bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        n = super().readinto(buffer)
        self.bytes_read += n or 0
        return n


class CountingFile(_Counting, io.FileIO):
    """A file on disk that counts the bytes read from it."""


class CountingBytes(_Counting, io.BytesIO):
    """Bytes in memory that count the bytes read from them."""


@pytest.fixture
def wav_bytes():
    return encode(tone(seconds=3.0) + noise(seconds=3.0, amp=0.05))


@pytest.fixture(autouse=True)
def data_dir(request, tmp_path, monkeypatch):
    """Every test gets its own data directory (history, profiles, models), never the project's.

    Tests that share a module-wide one (the ``data_env`` fixture) keep that one.
    """
    if "data_env" in request.fixturenames:
        return request.getfixturevalue("data_env")
    path = tmp_path / "data"
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory):
    """A random HTSAT-tiny checkpoint in LAION's file layout (no real weights exist here)."""
    from detector.layers.clap import write_random_checkpoint

    return write_random_checkpoint(tmp_path_factory.mktemp("clap") / "random-tiny.pt", "HTSAT-tiny", seed=0)


@pytest.fixture(scope="session")
def encoder(tiny_ckpt):
    """:func:`detector.layers.clap.load_encoder` on ``tiny_ckpt``, the way users load a checkpoint."""
    from detector.layers.clap import load_encoder

    return load_encoder(tiny_ckpt)


@pytest.fixture(scope="module")
def data_env(tmp_path_factory):
    """A module-wide DETECTOR_DATA_DIR (feature cache, active model)."""
    with pytest.MonkeyPatch.context() as mp:
        d = tmp_path_factory.mktemp("data_dir")
        mp.setenv("DETECTOR_DATA_DIR", str(d))
        mp.delenv("DETECTOR_MODEL", raising=False)
        yield d
