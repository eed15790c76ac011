"""Music-like test signals whose content is known: for tests, the benchmark and evaluations.

Every generator is deterministic for a given ``seed`` and returns mono float32 at
``sr`` (``song`` can return stereo). Nothing here is real music; the README says what
that leaves unmeasured.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

KINDS = ("harmonic", "chords", "drums", "noise", "speech", "song")
"""The kinds of material :func:`material` makes."""
NOISE_FLOOR_DB = -80.0
"""The white noise floor :func:`material` adds, in dB re full scale (a quiet 16-bit recording)."""


def _t(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr)) / sr


def harmonic_tone(f0: float, seconds: float, sr: int, *, partials: int = 12, vibrato: float = 0.004,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """A note with ``partials`` harmonics falling at -6 dB per octave, with vibrato (a relative depth)."""
    rng = rng or np.random.default_rng(0)
    t = _t(seconds, sr)
    phase = 2 * np.pi * f0 * (t + vibrato / (2 * np.pi * 5.5) * np.sin(2 * np.pi * 5.5 * t))
    out = np.zeros_like(t)
    for n in range(1, partials + 1):
        if n * f0 * (1 + vibrato) >= sr / 2:
            break
        out += np.sin(n * phase + rng.uniform(0, 2 * np.pi)) / n
    return (out / np.max(np.abs(out) + 1e-9)).astype(np.float32)


def drone(f0: float, seconds: float, sr: int, *, noise_db: float = -50.0, seed: int = 0) -> np.ndarray:
    """A steady band-limited sawtooth: harmonics evenly spaced up to Nyquist at 1/n, over a little noise.

    Band-limited, as a real instrument or a decent synthesiser is; a naive digital
    sawtooth aliases, and its folded partials form combs of their own.
    """
    rng = np.random.default_rng(seed)
    t = _t(seconds, sr)
    saw = np.zeros_like(t)
    for n in range(1, int((sr / 2 - 1) // f0) + 1):
        saw += np.sin(2 * np.pi * n * f0 * t) / n
    saw = 0.3 * saw / np.max(np.abs(saw))
    return (saw + 10 ** (noise_db / 20) * rng.standard_normal(t.size)).astype(np.float32)


def chords(seconds: float, sr: int, *, seed: int = 0, chord_seconds: float = 2.0) -> np.ndarray:
    """A progression of three-note chords with vibrato and a decaying envelope per chord."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    step = int(chord_seconds * sr)
    for start in range(0, out.size, step):
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        n = min(step, out.size - start)
        env = np.exp(-np.arange(n) / (0.8 * sr)).astype(np.float32)
        for interval in (0, 4 if rng.random() < 0.5 else 3, 7):
            f0 = root * 2 ** (interval / 12)
            out[start:start + n] += 0.25 * env * harmonic_tone(f0, n / sr + 1 / sr, sr, rng=rng)[:n]
    return out


def drums(seconds: float, sr: int, *, seed: int = 0, bpm: float = 120.0) -> np.ndarray:
    """Kick (a falling sine), snare (filtered noise) and hats (high noise) on a steady beat."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    beat = int(60.0 / bpm * sr)
    n = int(0.25 * sr)
    tk = np.arange(n) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-tk * 30)) * tk) * np.exp(-tk * 12)
    b, a = scipy.signal.butter(2, [1000, 5000], "bandpass", fs=sr)
    hb, ha = scipy.signal.butter(2, min(7000, 0.4 * sr), "highpass", fs=sr)
    for i, start in enumerate(range(0, out.size - n, beat // 2)):
        hit = np.zeros(n)
        if i % 4 == 0:
            hit += 0.8 * kick
        if i % 4 == 2:
            hit += 0.5 * scipy.signal.lfilter(b, a, rng.standard_normal(n)) * np.exp(-tk * 20)
        hit += 0.15 * scipy.signal.lfilter(hb, ha, rng.standard_normal(n)) * np.exp(-tk * 60)
        out[start:start + n] += hit.astype(np.float32)
    return out


def noise(seconds: float, sr: int, *, seed: int = 0, colour: float = 1.0) -> np.ndarray:
    """Noise with a 1/f^colour power spectrum (0 white, 1 pink, 2 brown)."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(int(seconds * sr)))
    f = np.fft.rfftfreq(int(seconds * sr), 1 / sr)
    spec /= np.maximum(f, 20.0) ** (colour / 2)
    out = np.fft.irfft(spec, int(seconds * sr))
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def speech(seconds: float, sr: int, *, seed: int = 0) -> np.ndarray:
    """Speech-like syllables: a gliding glottal pulse train through moving formant resonators."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr), np.float32)
    syllable = int(0.22 * sr)
    for start in range(0, out.size - syllable, int(0.27 * sr)):
        f0 = rng.uniform(90, 220)
        t = np.arange(syllable) / sr
        pulses = (scipy.signal.sawtooth(2 * np.pi * f0 * (1 + 0.1 * t) * t) > 0.95).astype(float)
        y = pulses + 0.02 * rng.standard_normal(syllable)
        for formant in (rng.uniform(300, 900), rng.uniform(900, 2500), rng.uniform(2500, 3500)):
            b, a = scipy.signal.iirpeak(formant, 8.0, fs=sr)
            y = y + scipy.signal.lfilter(b, a, y)
        out[start:start + syllable] += (0.3 * y / (np.max(np.abs(y)) + 1e-9) * np.hanning(syllable)).astype(np.float32)
    return out


def song(seconds: float, sr: int = 44100, *, seed: int = 0, stereo: bool = False) -> np.ndarray:
    """Chords, drums, a melody and a little hiss: the closest thing to a mix this module makes."""
    rng = np.random.default_rng(seed)
    mix = chords(seconds, sr, seed=seed) + drums(seconds, sr, seed=seed + 1)
    melody = np.zeros_like(mix)
    step = int(0.5 * sr)
    for start in range(0, mix.size, step):
        n = min(step, mix.size - start)
        f0 = 220.0 * 2 ** (rng.integers(0, 15) / 12)
        melody[start:start + n] = 0.15 * harmonic_tone(f0, n / sr + 1 / sr, sr, partials=8, rng=rng)[:n] * np.hanning(n)
    mix = mix + melody + noise(seconds, sr, seed=seed + 2, colour=1.0) * 0.05
    mix = (0.5 * mix / np.max(np.abs(mix))).astype(np.float32)
    if not stereo:
        return mix
    return np.stack([mix, np.roll(mix, int(0.002 * sr))], axis=1)


def material(kind: str, seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """One of :data:`KINDS`, mono at ``sr``, over a ``NOISE_FLOOR_DB`` noise floor."""
    makers = {
        "harmonic": lambda: harmonic_tone(110.0 * 2 ** (seed % 24 / 12), seconds, sr),
        "chords": lambda: chords(seconds, sr, seed=seed),
        "drums": lambda: drums(seconds, sr, seed=seed),
        "noise": lambda: noise(seconds, sr, seed=seed),
        "speech": lambda: speech(seconds, sr, seed=seed),
        "song": lambda: song(seconds, sr, seed=seed),
    }
    if kind not in makers:
        raise ValueError(f"Unknown kind {kind!r}; choose from {', '.join(KINDS)}.")
    out = makers[kind]()
    # Every recording has a noise floor; without one, float32 rounding of a periodic signal is itself
    # periodic and draws combs of its own 60-70 dB down, which no real track shows.
    floor = np.random.default_rng(seed + 7919).standard_normal(out.shape[0]) * 10 ** (NOISE_FLOOR_DB / 20)
    return (out + floor).astype(np.float32)


__all__ = ["KINDS", "chords", "drone", "drums", "harmonic_tone", "material", "noise", "song", "speech"]
