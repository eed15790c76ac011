"""How a track becomes CLAP's input: deterministic 10 s windows at 48 kHz, as laion-clap prepares them.

A track is cut into non-overlapping 10 s windows that cover all of it (the last one
repeat-padded as laion-clap does) and quantised through int16 as laion-clap does. Each
window gives an L2-normalised 512-dim vector; the track's vector is their re-normalised
mean (:func:`aggregate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 48000
WINDOW_SECONDS = 10.0
WINDOW_SAMPLES = 480000  # laion-clap's clip_samples: 10 s at 48 kHz
EMBED_DIM = 512  # CLAP's joint embedding size


def quantize(samples: np.ndarray) -> np.ndarray:
    """laion-clap's ``int16_to_float32(float32_to_int16(x))`` round trip (``training/data.py``).

    Replicated because importing ``laion_clap.training.data`` needs the network (see
    :func:`laion_model_module`); ``tests/test_clap.py`` checks it against that source.
    """
    x = np.clip(samples, a_min=-1.0, a_max=1.0)
    return ((x * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def repeat_pad(samples: np.ndarray, length: int = WINDOW_SAMPLES) -> np.ndarray:
    """laion-clap's ``data_filling="repeatpad"``: tile whole copies, then zero-pad to ``length``."""
    if len(samples) >= length:
        return samples[:length]
    n_repeat = int(length / len(samples))
    tiled = np.tile(samples, n_repeat)
    return np.pad(tiled, (0, length - len(tiled)), mode="constant", constant_values=0)


def window_bounds(n_samples: int, sample_rate: int = SAMPLE_RATE) -> tuple[tuple[float, float], ...]:
    """(start, end) seconds of the non-overlapping 10 s windows that cover ``n_samples``."""
    n = -(-n_samples // WINDOW_SAMPLES)
    return tuple((i * WINDOW_SAMPLES / sample_rate, min((i + 1) * WINDOW_SAMPLES, n_samples) / sample_rate)
                 for i in range(n))


def windows(samples: np.ndarray) -> np.ndarray:
    """The model input: quantised, windowed and (last window) repeat-padded, shape (n, 480000)."""
    x = quantize(np.asarray(samples, dtype=np.float32).ravel())
    if x.size == 0:
        raise ValueError("Cannot embed an empty signal.")
    n = -(-x.size // WINDOW_SAMPLES)
    out = np.empty((n, WINDOW_SAMPLES), np.float32)
    full = x.size // WINDOW_SAMPLES
    out[:full] = x[: full * WINDOW_SAMPLES].reshape(full, WINDOW_SAMPLES)
    if full < n:
        out[full] = repeat_pad(x[full * WINDOW_SAMPLES:])
    return out


@dataclass(frozen=True)
class ClapEmbedding:
    """Per-window embeddings (n, 512), their aggregate (512,), and the windows' bounds in seconds."""

    windows: np.ndarray
    aggregate: np.ndarray
    window_bounds: tuple[tuple[float, float], ...]


def aggregate(window_embeddings: np.ndarray) -> np.ndarray:
    """Mean of the L2-normalised window embeddings, re-normalised (float32)."""
    e = np.asarray(window_embeddings, np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    mean = e.mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


__all__ = ["EMBED_DIM", "SAMPLE_RATE", "WINDOW_SAMPLES", "WINDOW_SECONDS", "ClapEmbedding", "aggregate", "quantize",
           "repeat_pad", "window_bounds", "windows"]
